from __future__ import annotations

from pairforge.tasks.privacy.recognizers.lexicon import get_lexicon
from pairforge.tasks.privacy.recognizers.person import PersonRulesRecognizer


def values(text):
    return {text[r.start : r.end] for r in PersonRulesRecognizer(get_lexicon()).analyze(text, ["PERSON"])}


def test_honorifics_cues_and_lists():
    assert "John Smith" in values("Mr. John Smith will call.")
    assert "Ximena" in values("Ximena here, about the invoice.")
    assert "Okonkwo" in values("Please call Margaret Okonkwo tomorrow.") or "Margaret Okonkwo" in values(
        "Please call Margaret Okonkwo tomorrow.")
    assert values("Capitalized words like Wisdom and Discipline are often mistaken with names.") == set()
