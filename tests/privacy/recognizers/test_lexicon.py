from __future__ import annotations

import json

from pairforge.tasks.data import DATA
from pairforge.tasks.privacy.recognizers.lexicon import fold, get_lexicon


def test_lexicon_names_and_words():
    lex = get_lexicon()
    assert lex is get_lexicon()  # built once
    assert lex.first_name("margaret") and not lex.first_name("will")  # "will" is an ordinary word too
    assert lex.common("houses") and lex.common("walked") and not lex.common("okonkwo")
    assert {"said", "irish"} <= lex.nonnoun  # verbs and adjectives: never a name on their own


def test_world_names_of_many_cultures_with_their_sources():
    data = json.loads((DATA / "world_names.json").read_text(encoding="utf-8"))
    assert "Wikidata" in data["source"] and "CC0" in data["license"] and "MIT" in data["license"]
    assert "Faker" in data["source"] and "Daniele Faraglia" in data["license"]
    # the stop words of other languages and identifier labels are no names, whatever a list says
    assert not {"und", "iban", "querida"} & (set(data["given"]) | set(data["family"]))
    assert len(data["given"]) > 10_000 and len(data["family"]) > 4_000 and len(data["other"]) > 50_000
    lex = get_lexicon()
    # given names the US census lists lack, looked up without their accents
    for name in ("søren", "zoë", "siobhán", "kwame", "oluwaseun", "björk"):
        assert lex.given_name(name) or lex.any_name(name), name
    assert lex.given_name("peter-michael") == (lex.given_name("peter") and lex.given_name("michael"))
    assert not lex.given_name("table") and not lex.given_name("will")  # ordinary English words


def test_fold_removes_accents_and_case():
    assert fold("Vávra") == "vavra" and fold("Łukasz") == "lukasz" and fold("Søren") == "soren"
    assert fold("Straße") == "strasse" and fold("ABC") == "abc"


def test_ordinary_words_of_other_languages():
    lex = get_lexicon()
    assert lex.common_in("de", "und") and lex.common_in("fr", "avec")  # spaCy's stop words of the language
    assert not lex.common_in("de", "samson")  # an English dictionary word is no evidence in a German row
    assert lex.common_in("en", "samson")
