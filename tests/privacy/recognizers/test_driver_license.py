from __future__ import annotations

from pairforge.tasks.privacy.recognizers.driver_license import DriverLicenseRecognizer


def values(text):
    return [text[r.start : r.end] for r in DriverLicenseRecognizer().analyze(text, ["US_DRIVER_LICENSE"])]


def test_licence_numbers_only_after_a_licence_word():
    assert values("Driver's license number: D1234567") == ["D1234567"]
    assert values("DL# A123-4567-8901") == ["A123-4567-8901"]
    assert values("Order D1234567 shipped") == []
    assert DriverLicenseRecognizer.REPLACES == ("UsLicenseRecognizer",)


def test_the_first_number_after_a_licence_word_or_on_the_answer_line():
    assert values("lost a driver's licence, number j3198380, name Jo") == ["j3198380"]
    assert values("driver's licence, number P182-692-16-916-0, name Ivo") == ["P182-692-16-916-0"]
    assert values("I need your driver's license number.\nJoy: sure, it's E185-849-65-521-2") == ["E185-849-65-521-2"]
    assert values("your driver's license number.\nKarina: sure, it's 105 788 434") == ["105 788 434"]
    assert values("a driver's license since 2019 and 123456789 fans") == []  # not the first number after it
