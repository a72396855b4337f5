"""AGE (a quasi-identifier, off by default): "aged 34", "34 years old", "Age: 34"."""

from __future__ import annotations

import re

from pairforge.tasks.privacy.recognizers.base import Recognizer

AGE_PATTERNS = [
    re.compile(r"(?i)\b(?:aged?|age:|alter:?|edad:?|âge:?)\s*(\d{1,3})\b"),
    re.compile(r"(?i)\b(\d{1,3})[- ](?:years?|yrs?)[- ]old\b"),
    re.compile(r"(?i)\b(\d{1,3})\s*(?:jahre alt|años|ans)\b"),
]


class AgeRecognizer(Recognizer):
    """An age next to "aged", "Age:", "years old" (and their German, Spanish and French forms), up to 125."""

    ENTITY = "AGE"
    NAME = "PairforgeAgeRecognizer"

    def analyze(self, text, entities, nlp_artifacts=None):
        return [self.result(m.start(1), m.end(1), 0.9)
                for p in AGE_PATTERNS for m in p.finditer(text) if int(m.group(1)) <= 125]  # fmt: skip

