"""card.py: card numbers of the real schemes (their published test numbers) without a cue, any 12-19 digits after
a card word in several languages (Luhn or not), and the identifiers that are not cards."""

from __future__ import annotations

import pytest

from pairforge.tasks.privacy.recognizers.card import CardRecognizer, card_layout, luhn


def values(text: str) -> list[str]:
    return [text[r.start : r.end] for r in CardRecognizer().analyze(text, ["CREDIT_CARD"])]


# the schemes' published test numbers (Luhn-valid), in the layouts cards are printed in
TEST_NUMBERS = [
    "4111 1111 1111 1111", "4012888888881881", "4222222222222",  # Visa, 16 and 13 digits
    "5555 5555 5555 4444", "5105-1051-0510-5100", "2223 0031 2200 3222",  # Mastercard, incl. the 2-series
    "3782 822463 10005", "371449635398431",  # American Express 4-6-5
    "6011 1111 1111 1117", "6011000990139424",  # Discover
    "3056 930902 5904", "36227206271667",  # Diners Club 4-6-4
    "3530 1113 3330 0000", "3566002020360505",  # JCB
    "6200 0000 0000 0005", "6250941006528599",  # UnionPay
    "6759 6498 2643 8453", "5018 0000 0009",  # Maestro, 16 and 12 digits
    "2200 0000 0000 0004",  # Mir
    "4000 0000 0000 0000 006",  # Visa, 19 digits
    "180001452103583", "213100000000001",  # JCB's old 15-digit ranges
]  # fmt: skip


@pytest.mark.parametrize("number", TEST_NUMBERS)
def test_scheme_numbers(number):
    digits = number.replace(" ", "").replace("-", "")
    assert luhn(digits)
    assert values(f"The number {number} was used.") == [number]
    assert values(f"Card number: {number}") == [number]


CUES = [
    "my card {} was charged twice", "Card no. {}", "Visa {}", "credit card: {}", "paid by card {}",
    "carte bancaire n° {}", "payé par carte, numéro {}", "Kreditkarte {}", "mit der Karte Nr. {}",
    "tarjeta {}", "número de tarjeta: {}", "carta di credito {}", "creditcard {}", "cartão {}",
]  # fmt: skip


@pytest.mark.parametrize("cue", CUES)
def test_any_12_to_19_digits_after_a_card_word_even_failing_luhn(cue):
    for number in ("4111 1111 1111 1112", "4042 3208 2636 7785 291", "4607-6792-7319-1", "501849338567",
                   "4931964336728827258", "2131 3856 2082 710"):  # fmt: skip
        assert values(cue.format(number) + " today") == [number], number


def test_compound_card_words_and_cues_after_or_on_the_question_line():
    for text in ("Kreditkartennummer: {}", "EC-Karte {}", "per Visa-Karte {}", "bankkaart {}", "kortnummer {}",
                 "cardholder number {}", "{} is my card", "{} (Visa)", "What is your card number?\nUser: {}",
                 "Please send the digits of your card.\nUser: here it is {}"):  # fmt: skip
        assert values(text.format("4111 1111 1111 1112")) == ["4111 1111 1111 1112"], text
    assert values("card 4111.1111.1111.1112") == ["4111.1111.1111.1112"]
    assert values("What is your order number?\nUser: 4111 1111 1111 1112") == []


def test_a_card_column_in_a_table():
    table = "id\tcustomer\tcard\n1041\tEve Muru\t501849338567\n1042\tAna Lima\t4458 4095 9236 3"
    assert values(table) == ["501849338567", "4458 4095 9236 3"]


def test_payment_words_take_card_like_numbers():
    assert values("Paid with 4111 1111 1111 1112 yesterday") == ["4111 1111 1111 1112"]  # issuer prefix, bad Luhn
    assert values("Zahlung über 4111111111111112") == ["4111111111111112"]


def test_not_cards():
    assert values("Order 4111 1111 1111 1111 shipped") == []  # an identifier word is nearer
    assert values("IMEI 490154203237518") == []
    assert values("ISBN 9780306406157") == []
    assert values("tracking number 4111111111111111") == []
    assert values("The number 4111 1111 1111 1112 was used.") == []  # no cue, Luhn fails
    assert values("UNIX time 1609459200000") == []  # no issuer prefix
    assert values("reference 400000000002") == []  # 12 digits: only Maestro prefixes without a cue
    assert values("invoice 4111 11 1111 1111 11") == []
    assert values("Card: 12345678901234567890123") == []  # longer than any card
    assert values("Phone: +1 4111 111 1111") == []


def test_layouts():
    assert card_layout("4111111111111111") and card_layout("4111 1111 1111 1111") and card_layout("3782 822463 10005")
    assert card_layout("4607-6792-7319-1")
    assert not card_layout("41 11 11 11 11 11 11 11") and not card_layout("4111 1111-1111 1111")


def test_it_stands_in_for_presidio():
    assert CardRecognizer.REPLACES == ("CreditCardRecognizer",)
    (r,) = CardRecognizer().analyze("card 4111 1111 1111 1111", ["CREDIT_CARD"])
    assert r.entity_type == "CREDIT_CARD" and r.recognition_metadata[r.RECOGNIZER_NAME_KEY] == "PairforgeCardRecognizer"
