"""ssn.py: nine-digit SSNs after a social security word, written in one run or with spaces, on the same line or as
the answer on the next line; other numbers after the word, or numbers far from it, stay."""

from __future__ import annotations

from pairforge.tasks.privacy.recognizers.ssn import SsnRecognizer


def values(text: str) -> list[str]:
    return [text[r.start : r.end] for r in SsnRecognizer().analyze(text, ["US_SSN"])]


def test_nine_digits_after_a_social_security_word():
    assert values("SSN: 667364288") == ["667364288"]
    assert values("The social security number you gave us, 572155855, does not match") == ["572155855"]
    assert values("SSN on the application (069409495) is wrong") == ["069409495"]
    assert values("soc. sec. no. 123 45 6789") == ["123 45 6789"]
    assert values("Please confirm your SSN.\nAna: sure, 123456789") == ["123456789"]


def test_other_numbers_stay():
    assert values("SSN 1234567890") == []  # ten digits
    assert values("social security benefits rose 3% to 123456789 people") == []  # not the first number
    assert values("SSN rules changed in 2019; call 123456789 or write to the office about it") == []
    assert values("the number 123456789 has no cue") == []
