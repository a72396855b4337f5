"""pairforge's own Presidio recognizers: one recognizer per file, and ONE registry (`REGISTRY`) from which the
scrubber (`tasks/privacy/pii.py`) builds its analyzer.

Presidio's predefined recognizers, with the small English spaCy model, miss about a third of direct identifiers.
These fill the gaps:

- `phone.py`           PHONE_NUMBER by form (phonenumbers metadata of ~70 regions) and context words in several
                       languages; stands in for Presidio's PhoneRecognizer
- `card.py`            CREDIT_CARD by Luhn check and issuer prefix, or any 12-19 digits next to a card word; stands in
                       for Presidio's CreditCardRecognizer
- `iban.py`            IBAN_CODE cut at its country's length, mod-97 check, or next to an account word; stands in
                       for Presidio's IbanRecognizer
- `ssn.py`             US_SSN: nine digits after a social security word (Presidio's UsSsnRecognizer stays)
- `secrets.py`         SECRET: private keys, API key/token formats, bearer tokens, URL credentials, `password=...`
- `driver_license.py`  US_DRIVER_LICENSE in state formats after a licence word, on its line or the answer line
                       (replaces Presidio's own)
- `age.py`             AGE (a quasi-identifier, off by default)
- `street_address.py`  STREET_ADDRESS: a grammar of postal lines and their city / postcode / country tails
- `person.py`          PERSON from honorifics, cue phrases and census name lists, in any letter case
- `username.py`        PERSON from login names (`user=robert`)

Helpers, not recognizers: `base.py` (the `Recognizer` base class), `cues.py` (context words for numbers in several
languages: phone, card, payment and identifier words, table headers, headings), `lexicon.py` (word lists, census
names, the English dictionary), `casing.py` (`case_mode`, `truecase` for ALL-CAPS and lower-case text).

Adding a recognizer is one new file plus one line here: subclass `base.Recognizer` (declare `ENTITY` and `NAME`,
implement `analyze`), and append (its file, its class) to `REGISTRY`. The scrubber builds each one whose `ENTITY` is in
`pii.entities` or `pii.quasi_identifiers`, as `cls(lexicon, language)`, in this order; its test goes to
`tests/privacy/recognizers/test_<file>.py`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pairforge.tasks.privacy.recognizers.base import Recognizer

# The registry, in the order the scrubber builds: (file, class). Imported on first use (`RECOGNIZERS`), so that a
# process that imports only the helpers (casing, lexicon) or the scrubber's module does not import Presidio and
# spaCy: the run's process, whose PII stage scrubs in worker processes (~80 MB and ~0.9 s less).
REGISTRY: list[tuple[str, str]] = [
    ("phone", "MultiRegionPhoneRecognizer"),
    ("card", "CardRecognizer"),
    ("iban", "IbanCodeRecognizer"),
    ("ssn", "SsnRecognizer"),
    ("secrets", "SecretRecognizer"),
    ("street_address", "StreetAddressRecognizer"),
    ("driver_license", "DriverLicenseRecognizer"),
    ("age", "AgeRecognizer"),
    ("person", "PersonRulesRecognizer"),
    ("username", "UsernameRecognizer"),
]


def __getattr__(name: str):
    if name == "RECOGNIZERS":  # the registry's classes, imported once
        classes = [getattr(importlib.import_module(f"{__name__}.{module}"), cls) for module, cls in REGISTRY]
        globals()["RECOGNIZERS"] = classes
        return classes
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _classes() -> list[type[Recognizer]]:
    return globals().get("RECOGNIZERS") or __getattr__("RECOGNIZERS")


def build(entities: set[str], lexicon, language: str) -> list[Recognizer]:
    """The registered recognizers for these entity types, in registry order."""
    return [cls(lexicon, language) for cls in _classes() if cls.ENTITY in entities]


def replaced() -> set[str]:
    """Class names of Presidio predefined recognizers that a registered recognizer stands in for."""
    return {name for cls in _classes() for name in cls.REPLACES}
