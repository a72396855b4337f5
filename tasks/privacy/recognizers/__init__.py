"""pairforge's own Presidio recognizers: one recognizer per file, and ONE registry (`RECOGNIZERS`) from which the
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
implement `analyze`), and append the class to `RECOGNIZERS`. The scrubber builds each one whose `ENTITY` is in
`pii.entities` or `pii.quasi_identifiers`, as `cls(lexicon, language)`, in this order; its test goes to
`tests/privacy/recognizers/test_<file>.py`.
"""

from __future__ import annotations

from pairforge.tasks.privacy.recognizers.age import AgeRecognizer
from pairforge.tasks.privacy.recognizers.base import Recognizer
from pairforge.tasks.privacy.recognizers.card import CardRecognizer
from pairforge.tasks.privacy.recognizers.driver_license import DriverLicenseRecognizer
from pairforge.tasks.privacy.recognizers.iban import IbanCodeRecognizer
from pairforge.tasks.privacy.recognizers.person import PersonRulesRecognizer
from pairforge.tasks.privacy.recognizers.phone import MultiRegionPhoneRecognizer
from pairforge.tasks.privacy.recognizers.secrets import SecretRecognizer
from pairforge.tasks.privacy.recognizers.ssn import SsnRecognizer
from pairforge.tasks.privacy.recognizers.street_address import StreetAddressRecognizer
from pairforge.tasks.privacy.recognizers.username import UsernameRecognizer

RECOGNIZERS: list[type[Recognizer]] = [
    MultiRegionPhoneRecognizer,
    CardRecognizer,
    IbanCodeRecognizer,
    SsnRecognizer,
    SecretRecognizer,
    StreetAddressRecognizer,
    DriverLicenseRecognizer,
    AgeRecognizer,
    PersonRulesRecognizer,
    UsernameRecognizer,
]


def build(entities: set[str], lexicon, language: str) -> list[Recognizer]:
    """The registered recognizers for these entity types, in registry order."""
    return [cls(lexicon, language) for cls in RECOGNIZERS if cls.ENTITY in entities]


def replaced() -> set[str]:
    """Class names of Presidio predefined recognizers that a registered recognizer stands in for."""
    return {name for cls in RECOGNIZERS for name in cls.REPLACES}
