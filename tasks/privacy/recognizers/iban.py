"""IBAN_CODE: international bank account numbers, cut at their country's length, in any letter case.

An IBAN is two letters (the country), two check digits and the national account number, written in one run or in
groups of four. The value is read up to the length the IBAN registry gives its country (so the word after it never
becomes part of it: "BE66 1494 4394 6743 avant", "ES83… FAILED"), then:
- the mod-97 check passes: an IBAN, whatever is around it;
- the check fails, or the country or length is not one the registry knows: an IBAN only next to an account word
  ("IBAN", "account", "compte", "Konto", "cuenta", "conto", "rekening", "conta", "bank transfer", ...), since a leak
  costs more than a masked code.

Stands in for Presidio's `IbanRecognizer`, whose pattern runs on into the next word (case-insensitively, as the
analyzer loads it) and then fails its own checksum.
"""

from __future__ import annotations

import re

import pairforge.tasks.privacy.recognizers.cues as cues
from pairforge.tasks.privacy.recognizers.base import Recognizer

# SWIFT IBAN registry: country -> IBAN length
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
}  # fmt: skip
MIN_LENGTH, MAX_LENGTH = 15, 34

CANDIDATE = re.compile(r"(?<![^\W_])[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){10,32}")
ACCOUNT_CUE = re.compile(
    r"(?i)(?<![^\W_])(?:iban|account|acct|a/c|bank|banking|transfer|wire|remittance|payee|beneficiary|"
    r"compte|rib|virement|b[ée]n[ée]ficiaire|konto|kontonummer|bankverbindung|[üu]berweisung|[üu]berweisen|"
    r"empf[äa]nger|cuenta|transferencia|conto|bonifico|rekening|rekeningnummer|overschrijving|conta|"
    r"transfer[êe]ncia)(?![^\W_])"
)
_ALNUM = re.compile(r"[A-Za-z0-9]")


def mod97(iban: str) -> bool:
    """The IBAN check (ISO 13616): the number with its first four characters moved to the end is 1 modulo 97."""
    s = iban[4:] + iban[:4]
    try:
        return int("".join(str(int(c, 36)) for c in s)) % 97 == 1
    except ValueError:
        return False


def _cue_near(text: str, start: int) -> bool:
    window = cues.window_before(text, start, 50)
    return ACCOUNT_CUE.search(window) is not None or ACCOUNT_CUE.search(cues.line_above(text, start)) is not None


def find_ibans(text: str) -> list[tuple[int, int, float]]:
    out = []
    for m in CANDIDATE.finditer(text):
        chars = [(c.start(), c.group()) for c in _ALNUM.finditer(m.group())]
        country = m.group()[:2].upper()
        length = IBAN_LENGTHS.get(country)
        cue = None
        if length and len(chars) >= length:
            end = m.start() + chars[length - 1][0] + 1
            if end >= len(text) or not text[end].isalnum():  # the IBAN ends where its country says
                iban = "".join(c for _, c in chars[:length]).upper()
                if mod97(iban):
                    out.append((m.start(), end, 0.95))
                    continue
                cue = _cue_near(text, m.start())
                if cue:
                    out.append((m.start(), end, 0.8))
                    continue
        # unknown country, other length, failed check: an IBAN only after an account word; drop trailing words
        value = re.sub(r"(?:[ \-][A-Za-z]+)+$", "", m.group())
        n = len(_ALNUM.findall(value))
        if MIN_LENGTH <= n <= MAX_LENGTH and (cue if cue is not None else _cue_near(text, m.start())):
            out.append((m.start(), m.start() + len(value), 0.6))
    return out


class IbanCodeRecognizer(Recognizer):
    """IBANs by country length and mod-97 check, or next to an account word (see the module docstring)."""

    ENTITY = "IBAN_CODE"
    NAME = "PairforgeIbanRecognizer"
    REPLACES = ("IbanRecognizer",)

    def analyze(self, text, entities, nlp_artifacts=None):
        return [self.result(s, e, score) for s, e, score in find_ibans(text)]
