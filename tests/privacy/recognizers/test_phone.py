from __future__ import annotations

from pairforge.tasks.privacy.recognizers.phone import MultiRegionPhoneRecognizer


def spans(text):
    return [(text[r.start : r.end], r.score) for r in MultiRegionPhoneRecognizer().analyze(text, ["PHONE_NUMBER"])]


def test_phone_forms_and_context():
    assert "+44 20 7946 0958" in [v for v, _ in spans("call +44 20 7946 0958 now")]  # (and its national part)
    assert [v for v, _ in spans("Tel: 69 987 88 37")] == ["69 987 88 37"]  # plain groups: only with context
    assert spans("we shipped 69 987 88 37 units") == []
    assert spans("on 2023-04-17, SSN 123-45-6789, host 10.0.0.1") == []  # dates, SSNs, IPs are not phones


def test_results_are_marked_context_enhanced():
    (r,) = MultiRegionPhoneRecognizer().analyze("phone: +49 30 12345678", ["PHONE_NUMBER"])
    assert r.recognition_metadata[r.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] is True
    assert r.recognition_metadata[r.RECOGNIZER_NAME_KEY] == "PairforgePhoneRecognizer"
