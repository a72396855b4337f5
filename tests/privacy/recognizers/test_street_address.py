"""The street-address grammar (tasks/privacy/recognizers/street_address.py): postal formats of many countries as
their post offices and residents write them, in both number orders, with units, boxes, military lines, multi-line
blocks, lower case and ALL CAPS; ordinary prose that holds numbers and street-type words stays untouched; every
text, however hostile, is read in linear time."""

from __future__ import annotations

import random
import string
import time

import pytest

from pairforge.tasks.privacy.recognizers.lexicon import get_lexicon
from pairforge.tasks.privacy.recognizers.street_address import StreetAddressRecognizer


@pytest.fixture(scope="module")
def recognizer():
    return StreetAddressRecognizer(get_lexicon())


def values(text, recognizer=None):
    found = (recognizer or StreetAddressRecognizer()).analyze(text, ["STREET_ADDRESS"])
    return {text[r.start : r.end] for r in found if r.score >= 0.5}


# (text, the address as found): one line per country or format, written the way it is written there
ADDRESSES = [
    # number first, type after the name
    ("Ship it to 1420 Maple Ave, Springfield, IL 62704 please.", "1420 Maple Ave, Springfield, IL 62704"),
    (
        "The office is at 1600 Pennsylvania Avenue NW, Washington, DC 20500-0003.",
        "1600 Pennsylvania Avenue NW, Washington, DC 20500-0003",
    ),
    (
        "Write to Flat 3, 27 Kelso Place, London W8 5QG, United Kingdom.",
        "Flat 3, 27 Kelso Place, London W8 5QG, United Kingdom",
    ),
    ("24 Sussex Drive, Ottawa, ON K1M 1M4", "24 Sussex Drive, Ottawa, ON K1M 1M4"),
    ("Unit 5/42 Smith Street, Fitzroy VIC 3065", "Unit 5/42 Smith Street, Fitzroy VIC 3065"),
    ("12 Merrion Square, Dublin 2, D02 XY45", "12 Merrion Square, Dublin 2, D02 XY45"),
    ("12 Long Street, Cape Town, 8001", "12 Long Street, Cape Town, 8001"),
    ("Unit 4, 18 Smith Rotary, Kingsley WA 6026", "Unit 4, 18 Smith Rotary, Kingsley WA 6026"),
    ("12 Kauri Road\nRD 2\nWhangarei 0172", "12 Kauri Road\nRD 2\nWhangarei 0172"),
    ("H.No. 5-9-22, Adarsh Nagar, Hyderabad-500063", "H.No. 5-9-22, Adarsh Nagar, Hyderabad-500063"),
    ("Flat No. 12, MG Road, Bengaluru 560001", "Flat No. 12, MG Road, Bengaluru 560001"),
    # type in front of the name, number after (or before)
    ("55 rue du Faubourg Saint-Honoré, 75008 Paris", "55 rue du Faubourg Saint-Honoré, 75008 Paris"),
    ("Rue de la Loi 16, 1000 Bruxelles", "Rue de la Loi 16, 1000 Bruxelles"),
    ("Via del Corso 12, 00186 Roma RM", "Via del Corso 12, 00186 Roma RM"),
    ("Piazza San Marco, 1\n30124, Venezia (VE)", "Piazza San Marco, 1\n30124, Venezia (VE)"),
    (
        "Rua Oscar Freire, 379\nJardim Paulista\n01426-001 São Paulo / SP",
        "Rua Oscar Freire, 379\nJardim Paulista\n01426-001 São Paulo / SP",
    ),
    ("Calle de Alcalá 42, 3º izq., 28014 Madrid", "Calle de Alcalá 42, 3º izq., 28014 Madrid"),
    ("C/ Mayor 5, 1º B, 28013 Madrid", "C/ Mayor 5, 1º B, 28013 Madrid"),
    ("Rua Augusta 24, 1100-053 Lisboa", "Rua Augusta 24, 1100-053 Lisboa"),
    (
        "Avenida Paulista, 1578 - Bela Vista, São Paulo - SP, 01310-200",
        "Avenida Paulista, 1578 - Bela Vista, São Paulo - SP, 01310-200",
    ),
    (
        "Av. Paseo de la Reforma 505, Col. Cuauhtémoc, 06500 Ciudad de México, CDMX",
        "Av. Paseo de la Reforma 505, Col. Cuauhtémoc, 06500 Ciudad de México, CDMX",
    ),
    ("Calle 26 # 68-35, Bogotá", "Calle 26 # 68-35, Bogotá"),
    ("ul. Marszałkowska 10/12 m. 5, 00-590 Warszawa", "ul. Marszałkowska 10/12 m. 5, 00-590 Warszawa"),
    (
        "Str. Lipscani nr. 5, bl. A, sc. 2, ap. 10, Sector 3, 030031 București",
        "Str. Lipscani nr. 5, bl. A, sc. 2, ap. 10, Sector 3, 030031 București",
    ),
    ("ул. Тверская, д. 7, кв. 5, Москва, 125009", "ул. Тверская, д. 7, кв. 5, Москва, 125009"),
    ("г. Тверь, ул. Советская, д. 7, 170100", "г. Тверь, ул. Советская, д. 7, 170100"),
    (
        "Số 12 Ngõ 38 phố Lê Duẩn, phường Hàng Bài, Quận Hoàn Kiếm, Hà Nội",
        "Số 12 Ngõ 38 phố Lê Duẩn, phường Hàng Bài, Quận Hoàn Kiếm, Hà Nội",
    ),
    (
        "Jl. Jend. Sudirman No. 5\nJakarta Pusat, DKI Jakarta 10220",
        "Jl. Jend. Sudirman No. 5\nJakarta Pusat, DKI Jakarta 10220",
    ),
    ("Platz der Republik 1, 11011 Berlin", "Platz der Republik 1, 11011 Berlin"),
    ("Am Kupfergraben 6, 10117 Berlin", "Am Kupfergraben 6, 10117 Berlin"),
    # name then type word, number after
    ("Václavské náměstí 1, 110 00 Praha 1", "Václavské náměstí 1, 110 00 Praha 1"),
    ("Andrássy út 60, Budapest, 1062", "Andrássy út 60, Budapest, 1062"),
    ("Király u. 15., 1061 Budapest", "Király u. 15., 1061 Budapest"),
    ("Slovenska cesta 1, 1000 Ljubljana", "Slovenska cesta 1, 1000 Ljubljana"),
    ("Karl Johans gate 1, 0154 Oslo", "Karl Johans gate 1, 0154 Oslo"),
    ("Narva mnt 5, 10117 Tallinn", "Narva mnt 5, 10117 Tallinn"),
    ("Brīvības iela 1, Rīga, LV-1050", "Brīvības iela 1, Rīga, LV-1050"),
    ("Gedimino pr. 9, LT-01103 Vilnius", "Gedimino pr. 9, LT-01103 Vilnius"),
    ("Atatürk Cad. No: 5 D: 3, 34000 Fatih/İstanbul", "Atatürk Cad. No: 5 D: 3, 34000 Fatih/İstanbul"),
    # one-word streets
    ("Meine Adresse ist Lindenstraße 38a, 80331 München.", "Lindenstraße 38a, 80331 München"),
    ("Stephansplatz 1, 1010 Wien", "Stephansplatz 1, 1010 Wien"),
    ("Weimerstr. 3-5, 92037 Hainichen", "Weimerstr. 3-5, 92037 Hainichen"),
    ("Prinsengracht 263, 1016 GV Amsterdam", "Prinsengracht 263, 1016 GV Amsterdam"),
    ("Coolsingel 40\n3011 AD\nRotterdam", "Coolsingel 40\n3011 AD\nRotterdam"),
    ("Drottninggatan 1, 111 51 Stockholm", "Drottninggatan 1, 111 51 Stockholm"),
    ("Strøget 1, 2. tv, 1160 København K", "Strøget 1, 2. tv, 1160 København K"),
    ("Mannerheimintie 1 A 5, 00100 Helsinki", "Mannerheimintie 1 A 5, 00100 Helsinki"),
    ("Laugavegur 1, 101 Reykjavík", "Laugavegur 1, 101 Reykjavík"),
    # boxes and military mail
    ("GPO Box 1234, Sydney NSW 2001", "GPO Box 1234, Sydney NSW 2001"),
    (
        "Private Bag 39993, Wellington Mail Centre, Lower Hutt 5045",
        "Private Bag 39993, Wellington Mail Centre, Lower Hutt 5045",
    ),
    ("Postbus 20018, 2500 EA Den Haag", "Postbus 20018, 2500 EA Den Haag"),
    ("Case postale 123, 1211 Genève 1", "Case postale 123, 1211 Genève 1"),
    ("Box 1234, 111 22 Stockholm", "Box 1234, 111 22 Stockholm"),
    ("Postfach 12 34 56\n10115 Berlin", "Postfach 12 34 56\n10115 Berlin"),
    ("PSC 1234, Box 5678, APO AE 09012", "PSC 1234, Box 5678, APO AE 09012"),
    ("USS Nimitz (CVN 68)\nFPO AP 96620-2820", "USS Nimitz (CVN 68)\nFPO AP 96620-2820"),
    # units alone, and a bare street after an address cue
    ("Please leave it at Apt. 902, thanks", "Apt. 902"),
    ("My address: Hollého 648", "Hollého 648"),
    ("ZIP: 11164", "11164"),
    # streets named by a number, with the house number before them or after "N°"
    ("She lives at Calle 1 N° 72, Córdoba.", "Calle 1 N° 72, Córdoba"),
    ("Address: 6-8 Cl. 6ª", "6-8 Cl. 6ª"),
    ("Ship to 7, Jln 4Z, USJ 95, 75038 Bukit Jaya, Malacca.", "7, Jln 4Z, USJ 95, 75038 Bukit Jaya, Malacca"),
    ("the shop is at Strada Oliviu Georgescu, open daily", "Strada Oliviu Georgescu"),
    # a country after the city, in many languages and several words, then maybe a postcode
    ("Meet me at 97798 Campbell Valley, 60277 West Elaineville, Azerbaijan tomorrow",
     "97798 Campbell Valley, 60277 West Elaineville, Azerbaijan"),
    ("Address: Pasadizo de Celso Mariscal 58, 48909 Albacete, Emiratos Árabes Unidos",
     "Pasadizo de Celso Mariscal 58, 48909 Albacete, Emiratos Árabes Unidos"),
    ("Send it to 8 Anderson Crescent, 2403 Pooleborough, Trinidad and Tobago.",
     "8 Anderson Crescent, 2403 Pooleborough, Trinidad and Tobago"),
    # a city after the street, then the sentence goes on
    ("She lives at 53918 Elizabeth Crossing, South Patiencefort with her dog.",
     "53918 Elizabeth Crossing, South Patiencefort"),
]


@pytest.mark.parametrize(("text", "address"), ADDRESSES, ids=[a for _, a in ADDRESSES])
def test_postal_formats_of_many_countries(recognizer, text, address):
    assert address in values(text, recognizer)


def test_multi_line_blocks_take_their_postcode_city_and_country_lines(recognizer):
    text = "Send it to 221B Baker Street\nLondon NW1 6XE\nEngland\nThanks,\nAnna"
    assert values(text, recognizer) == {"221B Baker Street\nLondon NW1 6XE\nEngland"}
    text = "Adresse :\n55 rue du Faubourg Saint-Honoré\n75008 Paris\nMerci"
    assert values(text, recognizer) == {"55 rue du Faubourg Saint-Honoré\n75008 Paris"}
    # a city alone on its line belongs to the address when the postcode comes on the next one
    text = "Deliver to:\n4189 Oak Hollow Road\nSPRINGFIELD\n62704\n\nPhone: see below"
    assert values(text, recognizer) == {"4189 Oak Hollow Road\nSPRINGFIELD\n62704"}


def test_lower_case_and_all_caps(recognizer):
    assert values("ship to 12 main street, springfield, il 62704 pls", recognizer) == {
        "12 main street, springfield, il 62704"
    }
    assert values("DELIVER TO 81 KINGSLEY ST., FAIRVIEW, OR 88580 BEFORE NOON", recognizer) == {
        "81 KINGSLEY ST., FAIRVIEW, OR 88580"
    }
    assert "heiligengeistbrücke 77 and minik courts" in values(
        "meet me at the corner of heiligengeistbrücke 77 and minik courts", recognizer
    )


def test_ordinary_words_before_a_street_stay(recognizer):
    assert values("she lives on Nassaustraat 123", recognizer) == {"Nassaustraat 123"}
    assert values("Lost dog near Evelynelaan 27, call me", recognizer) == {"Evelynelaan 27"}
    assert values("Treffen bei Dirk, Birgitta-Allee 301, 75297 Oschatz, Klingel oben links.", recognizer) == {
        "Birgitta-Allee 301, 75297 Oschatz"
    }


@pytest.mark.parametrize(
    "text",
    [
        "In 1990 Soviet Union troops left the country.",
        "The 1989 Tiananmen Square protests were suppressed.",
        "He bought a 4 wheel drive and an iPad 2 last week.",
        "During 1863 it rained; Spring 1863 was cold.",
        "Unit 3 covers fractions; Room 101 is on the left.",
        "Apollo 11 Moon Landing, the 2012 Pew Research Center survey and ISO 6, ISO 2240.",
        "A sixth route, I-685, will be formed when I-85 is rerouted.",
        "The blaze forced the closure of the Hume Highway near 100 homes.",
        "Savas Beatie LLC, 2006. ISBN 1-932714-12-X.",
        "Jefferson Davis, 39, of Melbourne was charged.",
        "Call 555-1234 or IP 172.16.0.1 before 4:30 pm.",
        "Manchester United 2 Chelsea 1; Arsenal 3 Leeds 0 at Elland Road.",
        "Smith et al. 2005, Nature 435, 112-118. Jones, R. (1999) Park Lane Press, London.",
        "The train leaves from Platform 9 at Gate 12, Terminal 2, at 10:45.",
        "He scored 45 points in Game 7 of the 1998 NBA Finals at Madison Square Garden.",
        "Interstate 95 and Route 1 run along the coast; exit 42 leads to Main Street.",
        "1925 Along the Road\n1926 Essays New and Old\n1927 Proper Studies",
        "We took Route 66 to Chicago; Calle 5 is closed and Avenue 5 runs north.",
    ],
)
def test_prose_with_numbers_and_street_words_is_no_address(recognizer, text):
    assert values(text, recognizer) == set()


def test_texts_without_digits_or_corners_are_not_read():
    assert values("no digits here at all") == set()


def test_a_hostile_megabyte_is_read_in_linear_time(recognizer):
    rng = random.Random(0)
    alphabet = string.ascii_letters + string.digits
    line = " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(200_000))
    texts = [line[:1_000_000], "ab12" * 250_000, "市" * 1_000_000 + "1"]  # a megabyte each
    texts += ["1a " * 70_000, "1." * 100_000, "corner of " * 20_000 + "1", "区1-2-" * 40_000, "rue " * 50_000 + "1"]
    for text in texts:
        start = time.process_time()
        recognizer.analyze(text, ["STREET_ADDRESS"])
        assert time.process_time() - start < 10, text[:20]


def test_japanese_and_chinese_addresses(recognizer):
    assert values("〒100-0001 東京都千代田区千代田1-1-1", recognizer) == {"〒100-0001 東京都千代田区千代田1-1-1"}
    assert values("住所：兵庫県豊島区東大和町16丁目3番18号 コーポ丸の内760", recognizer) == {
        "兵庫県豊島区東大和町16丁目3番18号 コーポ丸の内760"
    }
    assert values("地址：北京市朝阳区建国路88号 100022", recognizer) == {"北京市朝阳区建国路88号 100022"}
    assert values("会议在2019年举行，共有300人参加。", recognizer) == set()


def test_streets_without_any_digit(recognizer):
    assert values("Le livreur a laissé le paquet chez le voisin, au rue de Neveu.", recognizer) == {"rue de Neveu"}
    assert values("Praça de Costa, S/N", recognizer) == {"Praça de Costa, S/N"}
    assert values("meet at the corner of harmica and jankstr.", recognizer) == {"harmica and jankstr."}
    assert values("the rue was empty and so was the calle", recognizer) == set()


def test_the_scrubber_reads_texts_without_digits_for_addresses():
    from pairforge.tasks.core.recipe import PIIOptions
    from pairforge.tasks.privacy.pii import get_scrubber

    out, counts = get_scrubber(PIIOptions()).scrub(["Le paquet est chez le voisin, au rue de Neveu."])
    assert "Neveu" not in out[0] and counts["STREET_ADDRESS"] == 1
