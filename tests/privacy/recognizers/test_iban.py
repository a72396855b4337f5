"""iban.py: IBANs of the registry's countries cut at their length (the next word never joins them), in any letter
case, with or without groups; failing ones only next to an account word."""

from __future__ import annotations

import pytest

from pairforge.tasks.privacy.recognizers.iban import IBAN_LENGTHS, IbanCodeRecognizer, find_ibans, mod97


def values(text: str) -> list[str]:
    return [text[s:e] for s, e, _ in find_ibans(text)]


# examples from the IBAN registry (SWIFT) and the ECBS
EXAMPLES = [
    "BE68539007547034", "DE89370400440532013000", "FR1420041010050500013M02606", "GB29NWBK60161331926819",
    "ES9121000418450200051332", "IT60X0542811101000000123456", "NL91ABNA0417164300", "CH9300762011623852957",
    "AT611904300234573201", "PL61109010140000071219812874", "PT50000201231234567890154", "FI2112345600000785",
    "NO9386011117947", "SE4550000000058398257466", "DK5000400440116243", "IE29AIBK93115212345678",
]  # fmt: skip


def grouped(iban: str) -> str:
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


@pytest.mark.parametrize("iban", EXAMPLES)
def test_registry_examples_in_every_writing(iban):
    assert mod97(iban) and len(iban) == IBAN_LENGTHS[iban[:2]]
    for value in (iban, grouped(iban), grouped(iban).lower()):
        assert values(f"Please pay {value} before Monday") == [value]
        assert values(f"PAYMENT TO {value} FAILED") == [value]  # the next word never joins it
        assert values(f"virement sur le compte {value} avant le 5") == [value]


def test_a_failing_check_or_an_odd_length_only_next_to_an_account_word():
    bad = "DE89 3704 0044 0532 0130 01"
    assert values(f"Konto {bad} bitte") == [bad]
    assert values("Bank account (IBAN): GB70OMGF6889287010204") == ["GB70OMGF6889287010204"]  # 21, not 22
    assert values(f"Part {bad} in stock") == []
    assert values("What is your IBAN?\nUser: DE89 3704 0044 0532 0130 01") == [bad]
    assert values("model AB12 3456 7890 1234 5678 x") == [] and values("le 12 mai 2020 nous") == []


def test_it_stands_in_for_presidio():
    assert IbanCodeRecognizer.REPLACES == ("IbanRecognizer",)
    (r,) = IbanCodeRecognizer().analyze("IBAN DE89370400440532013000", ["IBAN_CODE"])
    assert r.entity_type == "IBAN_CODE" and r.score >= 0.9
