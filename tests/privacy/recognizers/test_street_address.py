from __future__ import annotations

from pairforge.tasks.privacy.recognizers.lexicon import get_lexicon
from pairforge.tasks.privacy.recognizers.street_address import StreetAddressRecognizer


def values(text, lexicon=None):
    found = StreetAddressRecognizer(lexicon).analyze(text, ["STREET_ADDRESS"])
    return {text[r.start : r.end] for r in found if r.score >= 0.5}


def test_street_lines_with_their_tails():
    assert "1420 Maple Ave, Springfield, IL 62704" in values("Ship it to 1420 Maple Ave, Springfield, IL 62704 please.")
    assert "Lindenstraße 38a, 80331 München" in values("Meine Adresse ist Lindenstraße 38a, 80331 München.")
    assert values("ZIP: 11164") == {"11164"}
    assert values("no digits here at all") == set()


def test_the_lexicon_trims_ordinary_words_before_a_street():
    text = "she lives on Nassaustraat 123"
    assert "Nassaustraat 123" in values(text, get_lexicon())
