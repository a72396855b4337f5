"""US_SSN next to a social security word, in any of its writings: "SSN: 667364288", "social security number you gave
us, 572155855", "SSN on the application (069409495)", "SSN 123 45 6789".

Presidio's `UsSsnRecognizer` stays for the dashed and dotted forms anywhere; its unbroken nine digits score below any
useful threshold even with a context word, so numbers written without separators survived. Here: the first number
after an SSN word on its line (or on the question line above it, in a dialogue), within a few words, when it is
nine digits in one run or as 3-2-4.
"""

from __future__ import annotations

import re

import pairforge.tasks.privacy.recognizers.cues as cues
from pairforge.tasks.privacy.recognizers.base import Recognizer

SSN_CUE = re.compile(
    r"(?i)(?<![^\W_])(?:ssn|ss#|ssns|social\s+security|soc\.?\s*sec\.?|ssa\s+number|taxpayer\s+id|itin)(?![^\W_])"
)
SSN_VALUE = re.compile(r"(?<![\w\-.])(\d{3})([- .]?)(\d{2})\2(\d{4})(?![\w]|[\-.]\d)")
_DIGIT = re.compile(r"\d")
REACH = 45  # characters from the cue's end to the value


class SsnRecognizer(Recognizer):
    """Nine-digit SSNs after a social security word (see the module docstring)."""

    ENTITY = "US_SSN"
    NAME = "PairforgeSsnRecognizer"

    def analyze(self, text, entities, nlp_artifacts=None):
        out = []
        for cue in SSN_CUE.finditer(text):
            line_end = text.find("\n", cue.end())
            line_end = len(text) if line_end < 0 else line_end
            m = self._first_value(text, cue.end(), min(line_end, cue.end() + REACH))
            if m is None and line_end < len(text) and cues.line_above(text, line_end + 1):
                nxt = text.find("\n", line_end + 1)  # the answer on the next line of a dialogue
                m = self._first_value(text, line_end + 1, min(len(text) if nxt < 0 else nxt, line_end + 1 + REACH))
            if m is not None:
                out.append(self.result(m.start(), m.end(), 0.85))
        return out

    @staticmethod
    def _first_value(text: str, pos: int, endpos: int):
        """The first number in text[pos:endpos], when it is written as an SSN."""
        d = _DIGIT.search(text, pos, endpos)
        return SSN_VALUE.match(text, d.start()) if d is not None else None
