"""US_DRIVER_LICENSE: state formats, only next to a licence context word. Stands in for Presidio's predefined
`UsLicenseRecognizer`, which scores below any useful threshold."""

from __future__ import annotations

import re

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


class DriverLicenseRecognizer(Recognizer):
    """US driver's licence numbers in state formats, only within a few words after a licence context word."""

    ENTITY = "US_DRIVER_LICENSE"
    NAME = "PairforgeDriverLicenseRecognizer"
    REPLACES = ("UsLicenseRecognizer",)

    def analyze(self, text, entities, nlp_artifacts=None):
        out = []
        for c in DL_CONTEXT.finditer(text):
            m = DL_VALUE.match(text, c.end())
            if m and sum(ch.isdigit() for ch in m.group()) >= 4:
                out.append(self.result(m.start(), m.end(), 0.75))
        return out

