from __future__ import annotations

from pairforge.tasks.privacy.recognizers.age import AgeRecognizer


def values(text):
    return [text[r.start : r.end] for r in AgeRecognizer().analyze(text, ["AGE"])]


def test_ages_in_three_languages_up_to_125():
    assert values("The patient, aged 47, was discharged.") == ["47"]
    assert values("a 34-year-old man; Age: 61") == ["61", "34"] or values("a 34-year-old man; Age: 61") == ["34", "61"]
    assert values("Er ist 52 Jahre alt.") == ["52"]
    assert values("aged 300") == []
