from __future__ import annotations

from pairforge.tasks.privacy.recognizers.driver_license import DriverLicenseRecognizer


def values(text):
    return [text[r.start : r.end] for r in DriverLicenseRecognizer().analyze(text, ["US_DRIVER_LICENSE"])]


def test_licence_numbers_only_after_a_licence_word():
    assert values("Driver's license number: D1234567") == ["D1234567"]
    assert values("DL# A123-4567-8901") == ["A123-4567-8901"]
    assert values("Order D1234567 shipped") == []
    assert DriverLicenseRecognizer.REPLACES == ("UsLicenseRecognizer",)
