"""cues.py: the nearest cue before a value wins, compound phrases are one cue, sentence and line limits, table
headers and headings."""

from __future__ import annotations

import pytest

from pairforge.tasks.privacy.recognizers import cues


def kind(text: str, value: str = "<V>") -> str:
    return cues.cue_before(text, text.index(value)).kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Phone: <V>", "phone"), ("call me on <V>", "phone"), ("Telefonnummer <V>", "phone"),
        ("Tél. : <V>", "phone"), ("llámame al <V>", "phone"), ("chiamami al <V>", "phone"), ("bel me op <V>", "phone"),
        ("ligue para <V>", "phone"), ("M: <V>", "label"), ("the number is <V>", "phone_weak"),
        ("Sie erreichen mich unter <V>", "phone"), ("card number <V>", "card"), ("carte bancaire, numéro <V>", "card"),
        ("Karte Nr. <V>", "card"), ("número de tarjeta: <V>", "card"), ("paid with <V>", "payment"),
        ("Order number <V>", "other"), ("numéro de commande <V>", "other"), ("Kundennummer <V>", "other"),
        ("Phone 030 123, order no. <V>", "other"), ("Order 12, phone <V>", "phone"), ("Caller ID: <V>", "phone"),
        ("the weather was nice <V>", ""),
    ],
)  # fmt: skip
def test_nearest_cue(text, expected):
    assert kind(text) == expected


def test_window_stops_at_a_sentence_end_but_not_at_an_abbreviation():
    assert kind("Call us. Our revenue was <V>") == ""
    assert kind("Tel. <V>") == "phone" and kind("Dr. Frode Berg, tel. <V>") == "phone"
    assert kind("Phone:\n<V>") == "phone"  # a label on the line above
    assert kind("Phone: 1\nrevenue <V>") == ""  # another line


def test_distance_and_weak_words_after_a_phone_word():
    text = "the number you need is <V>"
    assert cues.cue_before(text, text.index("<V>")) == cues.Cue("phone_weak", 13)
    text = "call me when you like, the number is <V>"  # a weak word after a phone word: a phone cue
    assert cues.cue_before(text, text.index("<V>")) == cues.Cue("phone", 4)


def test_cue_after():
    text = "0412 345 678 (mobile) and 0412 345 679 later"
    assert cues.cue_after(text, 12) and not cues.cue_after(text, len("0412 345 678 (mobile) and 0412 345 679"))


def test_table_cell():
    table = "name\tphone\temail\nAna Lima\t912 345 678\tana@example.org"
    at = table.index("912")
    assert cues.table_cell(table, at, at + 11) == ("phone", at)
    assert cues.table_cell("name\tphone\n", 0, 4) == ("", -1)  # the header row itself
    csv = "id,card,amount\n1,4111 1111,12\n2,4222 2222,13"
    at = csv.index("4222")
    assert cues.table_cell(csv, at, at + 9, {}) == ("card", at)
    assert cues.table_cell("Ana Lima, 912 345 678", 10, 21) == ("", -1)  # one comma: prose


def test_block_heading():
    text = "Emergency contacts\n1. Ana, 612\n2. Bo, 613"
    assert cues.block_heading(text, text.index("613")) == "emergency contacts"
    assert cues.block_heading("Intro\n\n1. Ana, 612", 14) == ""
    assert cues.classify("Mobile phone") == "phone" and cues.classify("Order ID") == "other"
