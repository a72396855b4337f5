from __future__ import annotations

from pairforge.tasks.privacy.recognizers.casing import case_mode, truecase
from pairforge.tasks.privacy.recognizers.lexicon import get_lexicon


def test_truecase_keeps_length_and_capitalises_names():
    lex = get_lexicon()
    for text in ("my name is sarah connor", "CALL MARGARET OKONKWO NOW", "straße und ÉCOLE İstanbul"):
        assert len(truecase(text, lex)) == len(text)
    assert truecase("my name is sarah connor", lex) == "My name is Sarah Connor"
    assert case_mode("ALL OF THIS IS LOUD") == "upper" and case_mode("all quiet here") == "lower"
    assert case_mode("A Normal Sentence, mostly.") == "normal"
