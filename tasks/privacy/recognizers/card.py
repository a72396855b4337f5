"""CREDIT_CARD: payment card numbers, by checksum and issuer prefix, or by a card word next to them.

- With a card word before the number ("card", "card number", "Visa", "carte bancaire", "Karte Nr.", "tarjeta",
  "cartão", compounds such as "Kreditkartennummer"; `cues.py`), right after it ("… is my card") or on the line of the
  question it answers ("…your card number?\nUser: 4111 …"), or a card column header in a table: any run of 12-19
  digits, with or without spaces, dashes or dots, whether or not its Luhn check passes (a leak costs more than a
  masked product code).
- After a payment word ("paid with", "charged", "Zahlung", "paiement"): 12-19 digits that pass the Luhn check or
  start with an issuer prefix.
- Without a cue: 13-19 digits (12 for Maestro prefixes) that pass the Luhn check, start with an issuer prefix
  (Visa, Mastercard incl. 2-series, Amex, Discover, Diners, JCB incl. 1800/2131, UnionPay, Maestro, Mir, RuPay,
  Verve, Troy, ...) and are written as cards are (one run, groups of four, or Amex/Diners 4-6-5/4-6-4).
- Never when an identifier word is nearer (order, invoice, ISBN, IMEI, tracking, account, IBAN...).

Stands in for Presidio's `CreditCardRecognizer` (Luhn only, 4 leading-digit groups, 12-17 digits; no cue rule).
"""

from __future__ import annotations

import re

import pairforge.tasks.privacy.recognizers.cues as cues
from pairforge.tasks.privacy.recognizers.base import Recognizer

MIN_DIGITS_CUED, MIN_DIGITS, MAX_DIGITS = 12, 13, 19

CANDIDATE = re.compile(r"(?<![\w+\-./,])(?=\d[\d \-.]{10})\d(?:[ \-.]?\d){11,18}(?![\w\-]|[.,]\d|[ \-]\d)")
# issuer identification number prefixes of the card schemes in use (first digits 2-6 cover Visa, Mastercard incl.
# the 2-series, Amex, Diners, JCB, Discover, UnionPay, Maestro, Mir, Verve, RuPay 6x; then old JCB 1800/2131, RuPay
# 81/82, Troy 9792); timestamps and tweet ids (1...), zero-padded ids (0...) and most other runs are not cards
ISSUER = re.compile(r"[3-6]|2[2-7]|1800|2131|8[12]|9792")
# Maestro numbers may have 12 digits; without a cue only with a Maestro prefix
MAESTRO_12 = re.compile(r"50(?:18|20|38)|5[6-8]|5893|6304|6390|6759|676[1-3]|0604")
_GROUPS = re.compile(r"\d+")


def luhn(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def card_layout(value: str) -> bool:
    """Written as cards are: one run, groups of four (the last one shorter), Amex 4-6-5 or Diners 4-6-4, with one
    kind of separator."""
    groups = [len(g) for g in _GROUPS.findall(value)]
    if len(groups) == 1:
        return True
    if len({c for c in value if not c.isdigit()}) != 1:
        return False
    if groups in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4


def card_score(text: str, start: int, end: int, header_cache: dict | None = None) -> float:
    """Score of the digit run text[start:end] as a card number (0: not one)."""
    value = text[start:end]
    digits = "".join(_GROUPS.findall(value))
    if len(digits) > MAX_DIGITS or len(digits) < MIN_DIGITS_CUED:
        return 0.0
    header, cell = cues.table_cell(text, start, end, header_cache)
    cue = cues.cue_before(text, start, floor=cell)
    kind = cue.kind if cue.distance <= 40 else ""
    if header and (hk := cues.classify(header)):
        kind = hk
    if not kind:  # "4111 … is my card", or the turn before: "the digits of your card?\nUser: 4111 …"
        kind = "card" if "card" in (cues.kind_after(text, end), cues.kind_above(text, start, "?:.")) else ""
    if kind == "other":
        return 0.0
    if kind == "card":
        return 0.85
    valid = luhn(digits)
    issuer = ISSUER.match(digits) is not None if len(digits) >= MIN_DIGITS else MAESTRO_12.match(digits) is not None
    if kind == "payment" and (valid or issuer):
        return 0.75
    if valid and issuer and card_layout(value) and kind not in ("phone", "label"):
        return 0.9
    return 0.0


class CardRecognizer(Recognizer):
    """Payment card numbers (see the module docstring)."""

    ENTITY = "CREDIT_CARD"
    NAME = "PairforgeCardRecognizer"
    REPLACES = ("CreditCardRecognizer",)

    def analyze(self, text, entities, nlp_artifacts=None):
        out, cache = [], {}
        for m in CANDIDATE.finditer(text):
            score = card_score(text, m.start(), m.end(), cache)
            if score:
                out.append(self.result(m.start(), m.end(), score))
        return out
