from __future__ import annotations

from pairforge.tasks.privacy.recognizers.lexicon import get_lexicon


def test_lexicon_names_and_words():
    lex = get_lexicon()
    assert lex is get_lexicon()  # built once
    assert lex.first_name("margaret") and not lex.first_name("will")  # "will" is an ordinary word too
    assert lex.common("houses") and lex.common("walked") and not lex.common("okonkwo")
    assert {"said", "irish"} <= lex.nonnoun  # verbs and adjectives: never a name on their own
