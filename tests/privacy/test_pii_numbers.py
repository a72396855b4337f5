"""The numbers of real prose survive the number recognizers (phone, card, IBAN, SSN, driver's licence): ABC news
articles (lee_background.cor: 300 articles, ~870 tokens with digits: dates, times, scores, money, counts, years) and
Wikipedia paragraphs with their references (page ranges, DOIs, PMIDs, ISBNs, coordinates, tables)."""

from __future__ import annotations

import bz2
import re

from pairforge.tasks.privacy.recognizers.card import CardRecognizer
from pairforge.tasks.privacy.recognizers.driver_license import DriverLicenseRecognizer
from pairforge.tasks.privacy.recognizers.iban import IbanCodeRecognizer
from pairforge.tasks.privacy.recognizers.phone import MultiRegionPhoneRecognizer
from pairforge.tasks.privacy.recognizers.ssn import SsnRecognizer
from tests.conftest import CORPORA

NEWS = CORPORA / "text" / "lee_background.cor"
WIKI = CORPORA / "text" / "enwiki-shortened.xml.bz2"
NUMBER_RECOGNIZERS = [MultiRegionPhoneRecognizer(), CardRecognizer(), IbanCodeRecognizer(), SsnRecognizer(),
                      DriverLicenseRecognizer()]  # fmt: skip
NUMERIC_TOKEN = re.compile(r"\S*\d\S*")


def numeric_tokens_removed(texts: list[str]) -> tuple[int, list[str]]:
    """(numeric tokens, the ones a number recognizer touches)."""
    total, touched = 0, []
    for text in texts:
        spans = [(r.start, r.end) for rec in NUMBER_RECOGNIZERS for r in rec.analyze(text, [rec.ENTITY])]
        for m in NUMERIC_TOKEN.finditer(text):
            total += 1
            if any(a < m.end() and m.start() < b for a, b in spans):
                touched.append(m.group())
    return total, touched


def test_news_numbers_survive():
    texts = [line for line in NEWS.read_text(encoding="utf-8").splitlines() if line.strip()]
    total, touched = numeric_tokens_removed(texts)
    assert total > 800 and touched == []


def test_wikipedia_numbers_survive():
    raw = bz2.open(WIKI, "rt", encoding="utf-8").read(3_000_000)
    paragraphs = [p for body in re.findall(r"<text[^>]*>(.*?)</text>", raw, re.S) for p in body.split("\n")
                  if len(p) > 80 and re.search(r"\d", p)]  # fmt: skip
    total, touched = numeric_tokens_removed(paragraphs)
    assert total > 5000 and len(touched) <= total // 1000, touched[:20]
