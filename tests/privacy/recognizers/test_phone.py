"""phone.py: real numbers (phonenumbers' example numbers of each region, in the forms phonenumbers writes them and
in other people's groupings), cues in several languages, and the numbers of ordinary prose that must stay."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from pairforge.tasks.privacy.recognizers.phone import REGIONS, MultiRegionPhoneRecognizer, find_phones

# the regions issue 14 names: the EU, the UK, India, Brazil, Australia, Japan, US/CA
NAMED = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE GB IN BR AU JP US CA"
).split()


def examples(regions=NAMED):
    for region in regions:
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            num = phonenumbers.example_number_for_type(region, kind)
            if num is not None:
                yield region, num


def found(text: str, value: str) -> bool:
    at = text.index(value)
    return any(s <= at and at + len(value) <= e for s, e, _ in find_phones(text))


def values(text: str) -> list[str]:
    return [text[s:e] for s, e, _ in find_phones(text)]


def test_the_named_regions_are_checked():
    assert set(NAMED) <= set(REGIONS)


@pytest.mark.parametrize("fmt", [PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164])
def test_international_forms_of_every_region_without_a_cue(fmt):
    missed = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            num = phonenumbers.example_number_for_type(region, kind)
            if num is not None:
                value = phonenumbers.format_number(num, fmt)
                if not found(f"See you there. {value} thanks", value):
                    missed.append(value)
    assert missed == []


def test_00_prefix_and_trunk_in_parentheses():
    for value in (
        "0049 30 123456",
        "0033 1 23 45 67 89",
        "+44 (0)20 7946 0958",
        "+43 (0)664 375734",
        "(+358) 742299180",
    ):
        assert found(f"write down {value} please", value), value


def test_national_formats_of_the_named_regions_without_a_cue():
    missed = []
    for region, num in examples():
        value = phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL)
        thousands = re.fullmatch(r"[1-9]\d{0,2}(?: \d{3})+", value)  # 612 345 678: an amount as often as a phone
        if not thousands and not found(f"Hello, {value} thanks", value):
            missed.append((region, value))
    assert missed == []


CUES = [
    "Phone: {}", "Tel. {}", "call me on {}", "Fax: {}", "mobile {}", "Cell: {}", "WhatsApp {}", "text me at {}",
    "you can reach me at {}", "M: {}", "Telefon: {}", "Sie erreichen mich unter {}", "Handy {}", "Tél. : {}",
    "appelez le {}", "mon portable : {}", "llámame al {}", "teléfono {}", "móvil: {}", "chiamami al {}",
    "cellulare {}", "bel me op {}", "telefoon: {}", "ligue para {}", "telemóvel {}", "{} (mobile)",
]  # fmt: skip


@pytest.mark.parametrize("cue", CUES)
def test_any_grouping_next_to_a_cue(cue):
    missed = []
    for region, num in examples():
        national = phonenumbers.format_number(num, PhoneNumberFormat.NATIONAL)
        digits = re.sub(r"\D", "", national)
        pairs = " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))  # other people's groupings
        for value in {national, digits, pairs}:
            if not found(cue.format(value) + " today", value):
                missed.append((region, value))
    assert missed == []


def test_other_peoples_writings_without_a_cue():
    for value in ("555-123-4567", "(555)123-4567", "555.123.4567 x123", "+1-555-123-4567", "001-555-123-4567",
                  "(351) 968 301 661", "8 (246) 281-9482", "030/1234567", "0612345678", "+54 9 3626 0181",
                  "+(371) 26018159"):  # fmt: skip
        assert found(f"Hello, {value} thanks", value), value


def test_issue_examples():
    assert values("stop receiving messages to 699 956 915") == ["699 956 915"]
    assert values("Phone: 467 3395") == ["467 3395"]
    assert values("Fax: 9498777106") == ["9498777106"]
    assert values("call me on 9472 7916") == ["9472 7916"]
    assert values("0688 872 49 99") == ["0688 872 49 99"]


def test_cues_from_tables_headings_and_neighbours():
    table = "name\tphone\temail\nAna Lima\t912 345 678\tana@example.org\nBo Li\t3123 4567\tbo@example.org"
    assert values(table) == ["912 345 678", "3123 4567"]
    assert values("Emergency contacts\n1. Ana Lima, 612 345 678\n2. Bo Li, 3123 4567") == ["612 345 678", "3123 4567"]
    assert values("+353 85 091 7030 / 63 743 553") == ["+353 85 091 7030", "63 743 553"]
    assert values("Ana Lima, 3123 4567, ana@example.org") == ["3123 4567"]  # a contact line
    assert values("What is the best number to reach you?\nUser: 31234567") == ["31234567"]  # the question above
    assert values("The number of visitors grew\nto 31234567 last year") == []  # a wrapped line is no question


def test_what_a_number_is_when_a_nearer_word_says_so():
    assert values("Order number 12345678 shipped") == []
    assert values("Phone 030 1234567, Kundennummer 0612345678") == ["030 1234567"]
    assert values("card number 4111 1111 1111") == []  # the card recognizer's
    assert values("numéro de commande 06 12 34 56 78") == []
    assert values("id\torder\n1\t0612345678") == []  # an order column


PROSE = [
    "The company reported revenue of 1 234 567 euros in 2019.", "ISBN 978-3-16-148410-0 and ISBN 0-19-852663-6",
    "The population was 3,456,789 at the 2010 census.", "Call of Duty sold 12345678 copies.",
    "Flight LH 4012 departs at 14:35 from gate 22.", "Between 1990 and 2000, 4 567 890 people moved.",
    "coordinates 48.8566, 2.3522", "version 10.0.19041.1237", "host 192.168.100.200", "Patent US 7,654,321",
    "postcode 75008 Paris, PLZ 10115", "the 1999-2003 season", "€ 1.234.567,89", "15 000 000 habitants",
    "2023-04-02 10:15:22 WARN", "ISO 8601:2004", "on 12.03.2020 and 1/2/2020", "In 2011 2012 2013 2014 the index rose",
    "a 3.14159265 ratio", "1.234.567 Einwohner", "$ 12 345 678", "the scores were 1-0, 2-1 and 3-2 in 2019-20",
    "born on 1984-11-23, died 2001-02-03", "UNIX time 1609459200000", "binary 1101010 and 010 0000",
    "doi:10.1007/s10803-004-1038-2", "https://example.org/item?id=0612345678", "lottery numbers 04 12 23 35 41 44",
    "pages 247-264 of vol. 12, 1998", "SSN 123-45-6789", "estimated at 85,458 (2014)", "Iliad 11.830-32",
    "Rua Augusta 39, 4571-591 Fátima", "Av. Paulista 1000, 01310-100 São Paulo", "San Francisco, CA 94105-1234",
]  # fmt: skip


@pytest.mark.parametrize("text", PROSE)
def test_numbers_of_ordinary_prose_stay(text):
    assert values(text) == []


def test_results_are_marked_context_enhanced():
    (r,) = MultiRegionPhoneRecognizer().analyze("phone: +49 30 12345678", ["PHONE_NUMBER"])
    assert r.recognition_metadata[r.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] is True
    assert r.recognition_metadata[r.RECOGNIZER_NAME_KEY] == "PairforgePhoneRecognizer"
    assert 0.5 <= r.score <= 1.0
    assert MultiRegionPhoneRecognizer.REPLACES == ("PhoneRecognizer",)
