"""PHONE_NUMBER in the written forms of many regions (+CC, 00CC, trunk-0 national numbers, NANP, extensions), with
context words in several languages; plain digit groups need context."""

from __future__ import annotations

import re

from pairforge.tasks.privacy.recognizers.base import Recognizer, line_around

PHONE_CONTEXT = re.compile(
    r"(?<![a-z])(?:phone|telephone|tel|tlf|tfno|mobile|mob|cell|cellphone|call|calls|called|calling|ring|rang|"
    r"fax|office|desk|direct|dial|whatsapp|sms|text me|contact|number|no\.|hotline|landline|reach|"
    r"telefon|telefonnummer|handy|mobil|rufnummer|anrufen|rufen|erreichbar|"
    r"tel[ée]fono|m[óo]vil|celular|llame|llama|llamas|ll[aá]mame|ll[aá]manos|llamar|contacto|ruf|rufe|ruft|"
    r"t[ée]l[ée]phone|portable|appelez|appeler|telefone|telemovel|telefonino|cellulare)(?![a-z])"
)
_SEP = r"[ \t.\-/]"
PHONE_PATTERNS = [
    # +CC or 00CC, optional (0) or (area), 2-5 groups: +44 20 7946 0958, 0049 (0)30 1234567, +1-944-435-4352x047
    ("intl", re.compile(
        r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}" + _SEP + r"?(?:\(0?\d{0,4}\)" + _SEP + r"?)?\d{1,5}"
        r"(?:" + _SEP + r"?\d{1,5}){1,5}(?:\s*(?:x|ext\.?|extension|ext)\s*\d{1,6})?(?![\w])"), 0.65),
    # NANP: (415) 555-0123, 415-555-0123, 415.555.0123 x12, 1-800-555-0199
    ("nanp", re.compile(
        r"(?<![\w+])(?:1" + _SEP + r")?(?:\(\d{3}\)\s?|\d{3}" + _SEP + r")\d{3}" + _SEP + r"\d{4}"
        r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?(?![\w])"), 0.6),
    # trunk-0 national and parenthesised area codes: 030 1234 567, (07) 5331 0577, 027 896 92 86, 07700 900123
    ("national", re.compile(
        r"(?<![\w+])(?:\(0?\d{1,4}\)\s?|0\d{1,4}" + _SEP + r")\d{2,5}(?:" + _SEP + r"?\d{2,5}){0,3}"
        r"(?:\s*(?:x|ext\.?)\s*\d{1,6})?(?![\w])"), 0.45),
    # plain digit groups (21 212 133 2727, 69 987 88 37, 041-412-293): a phone only next to a context word
    ("groups", re.compile(r"(?<![\w+])\d{2,5}(?:" + _SEP + r"\d{2,5}){2,4}(?![\w])"), 0.2),
]  # fmt: skip
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")
_SSN_LIKE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_IP_LIKE = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")


class MultiRegionPhoneRecognizer(Recognizer):
    """Phone numbers as written in many regions; 7 to 15 digits; dates, IPs, SSNs and card-like runs excluded."""

    ENTITY = "PHONE_NUMBER"
    NAME = "PairforgePhoneRecognizer"

    def analyze(self, text, entities, nlp_artifacts=None):
        found: dict[tuple[int, int], float] = {}
        for _, pattern, base in PHONE_PATTERNS:
            for m in pattern.finditer(text):
                value = m.group().rstrip(".-/ ")
                start, end = m.start(), m.start() + len(value)
                core = re.split(r"\s*(?:x|ext\.?|extension)\s*\d", value)[0]
                digits = sum(c.isdigit() for c in core)
                if not 7 <= digits <= 15 or _DATE_LIKE.match(core) or _SSN_LIKE.match(core) or _IP_LIKE.match(core):
                    continue
                if re.fullmatch(r"\d{4}(?: \d{4}){3}|\d{4}(?:-\d{4}){3}", core):  # a card number's layout
                    continue
                before, after = line_around(text, start, end)
                score = base + (0.35 if PHONE_CONTEXT.search(before[-40:]) or PHONE_CONTEXT.search(after[:15]) else 0)
                if re.search(r"(?:card|iban|account|konto|cuenta|ssn|social security|license|licence|zip|"
                             r"postcode|order|invoice|ref|id)\W{0,12}$", before):  # fmt: skip
                    score -= 0.3
                if score >= 0.5 and found.get((start, end), 0) < score:
                    found[(start, end)] = min(score, 1.0)
        return [self.result(s, e, sc) for (s, e), sc in found.items()]

