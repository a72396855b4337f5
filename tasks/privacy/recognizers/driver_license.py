"""US_DRIVER_LICENSE: state formats, only next to a licence context word: right after it, as the first number a few
words later on its line ("driver's licence, number j3198380"), or as the answer on the next line of a dialogue
("...your driver's license number.\nJoy: sure, it's E185-849-65-521-2"). Stands in for Presidio's predefined
`UsLicenseRecognizer`, which scores below any useful threshold."""

from __future__ import annotations

import re

import pairforge.tasks.privacy.recognizers.cues as cues
from pairforge.tasks.privacy.recognizers.base import Recognizer

DL_CONTEXT = re.compile(
    r"(?i)(?:driver'?s?'?\s*(?:license|licence|lic\.?)|driving\s+licen[cs]e|\bDL\b|\bD\.L\.|\blicen[cs]e\b|"
    r"führerschein|licencia de conducir|permis de conduire)"
    r"(?:\s*(?:no\.?|nr\.?|number|num\.?|#|id))?(?:\s*(?:is|was|:|#|=|-))?\s*"
)
DL_VALUE = re.compile(
    r"(?<![\w-])(?:[A-Z]{1,2}\d{4,14}|[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d|[A-Z]\d{3}-\d{4}-\d{4}|\d{3} \d{3} \d{3}|"
    r"\d{6,12}|[A-Z]{1,3}-?\d{2,3}-?\d{2,4}-?\d{0,4}|\d{2}[A-Z]{3}\d{5})(?![\w-])"
)

DL_VALUE_ANY_CASE = re.compile(DL_VALUE.pattern, re.I)
_DIGIT = re.compile(r"\d")
_TOKEN_START = re.compile(r"[A-Za-z]{1,3}-?$")
REACH = 40  # characters from the licence word to the first number after it


class DriverLicenseRecognizer(Recognizer):
    """US driver's licence numbers in state formats, only within a few words after a licence context word."""

    ENTITY = "US_DRIVER_LICENSE"
    NAME = "PairforgeDriverLicenseRecognizer"
    REPLACES = ("UsLicenseRecognizer",)

    def analyze(self, text, entities, nlp_artifacts=None):
        out = []
        for c in DL_CONTEXT.finditer(text):
            m = DL_VALUE.match(text, c.end())
            if not (m and sum(ch.isdigit() for ch in m.group()) >= 4):
                m = self._first_value(text, c.end())
            if m is not None:
                out.append(self.result(m.start(), m.end(), 0.75))
        return out

    @staticmethod
    def _first_value(text: str, pos: int):
        """The first number after `pos` on its line (or, when the line asks for it, on the next line), within REACH
        characters, when it is written as a licence number (letters before it included)."""
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        spots = [(pos, min(line_end, pos + REACH))]
        if line_end < len(text) and cues.line_above(text, line_end + 1):
            nxt = text.find("\n", line_end + 1)
            spots.append((line_end + 1, min(len(text) if nxt < 0 else nxt, line_end + 1 + REACH)))
        for a, b in spots:
            d = _DIGIT.search(text, a, b)
            if d is None:
                continue
            lead = _TOKEN_START.search(text, a, d.start())
            m = DL_VALUE_ANY_CASE.match(text, lead.start() if lead else d.start())
            if m and sum(ch.isdigit() for ch in m.group()) >= 4:
                return m
            return None
        return None
