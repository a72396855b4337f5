"""tasks.ingest.wikipedia through the real reader: the shared enwiki dump, small hand-written dumps, broken files,
flat memory while streaming, and the `pairforge bench memory` command."""

from __future__ import annotations

import bz2
import io
import itertools
import json
import os
import random
import re
import string
import subprocess
import sys
from urllib.parse import quote

import polars as pl
import pytest

from pairforge.tasks.core.recipe import Source
from pairforge.tasks.core.schema import DOCUMENTS
from pairforge.tasks.ingest.readers import base as reader_base
from pairforge.tasks.ingest.sources import read_source_file, stream_source_files
from pairforge.tasks.ingest.wikipedia import DumpStats, iter_pages, wikitext_to_text
from tests.conftest import CORPORA, REPO

DUMP = CORPORA / "text" / "enwiki-shortened.xml.bz2"


def wiki(uri) -> Source:
    return Source(name="wiki", uri=str(uri), format="wikipedia", license="CC-BY-SA-3.0")


def dump(pages: str, lang: str = "de", base: str = "https://de.wikipedia.org/wiki/Wikipedia:Hauptseite") -> str:
    return (f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" xml:lang="{lang}"><siteinfo>'
            f"<sitename>Wikipedia</sitename><base>{base}</base><namespaces>"
            '<namespace key="0" /><namespace key="1">Diskussion</namespace><namespace key="6">Datei</namespace>'
            f'<namespace key="14">Kategorie</namespace></namespaces></siteinfo>{pages}</mediawiki>')  # fmt: skip


def page(title: str, text: str, ns: int | None = 0, redirect: bool = False) -> str:
    namespace = f"<ns>{ns}</ns>" if ns is not None else ""
    target = '<redirect title="X" />' if redirect else ""
    return (f"<page><title>{title}</title>{namespace}<id>1</id>{target}<revision><id>2</id>"
            f'<text xml:space="preserve">{text}</text></revision></page>')


HELD_CHARS = 200_000


@pytest.fixture(scope="module")
def enwiki_chunks() -> list:
    """The shared dump read like ingest does, with a small text budget so articles are handed on in many chunks."""
    chunks = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reader_base, "MAX_CHUNK_CHARS", HELD_CHARS)
        stream_source_files(wiki(DUMP), [str(DUMP)], "en", 50_000, chunks.append)
    return chunks


@pytest.fixture(scope="module")
def enwiki(enwiki_chunks) -> pl.DataFrame:
    assert all(c.quarantine.is_empty() for c in enwiki_chunks)
    return pl.concat([c.rows for c in enwiki_chunks])


def test_enwiki_counts():
    stats = DumpStats()
    with bz2.open(DUMP) as f:
        pages = list(iter_pages(f, stats))
    assert len(pages) == stats.pages == 206
    assert (stats.articles, stats.redirects, stats.other_namespaces) == (106, 99, 1)
    assert sum(p.redirect for _, p in pages) == 100  # one redirect is outside namespace 0


def test_enwiki_articles_are_plain_text_with_titles_and_uris(enwiki):
    assert enwiki.schema == DOCUMENTS and len(enwiki) == 106
    assert enwiki["title"].n_unique() == 106 and enwiki["id"].n_unique() == 106
    for title, uri in enwiki.select("title", "uri").iter_rows():
        assert uri == "https://en.wikipedia.org/wiki/" + quote(title.replace(" ", "_"), safe=";@$!*(),/~:")
    assert "https://en.wikipedia.org/wiki/Anarchism" in enwiki["uri"].to_list()
    assert set(enwiki["lang"]) == {"en"} and set(enwiki["license"]) == {"CC-BY-SA-3.0"}
    for marker in ("[[", "]]", "{{", "}}", "'''", "''", "<ref", "{|", "|}", "thumb|", "Category:", "__TOC__"):
        assert not enwiki.filter(pl.col("text").str.contains(marker, literal=True)).height, marker
    anarchism = enwiki.filter(pl.col("title") == "Anarchism")["text"][0]
    assert anarchism.startswith("Anarchism is a political philosophy that advocates self-governed societies")
    assert "\nEtymology and terminology\n" in anarchism  # a heading, as a plain line
    assert enwiki["text"].str.len_chars().min() > 100


def test_wikitext_to_text_drops_markup_and_keeps_prose():
    text = wikitext_to_text(
        "{{Infobox city|name=Foo}}'''Foo''' ({{lang-de|Fuu}}) is a [[town|small town]] in [[Bar]]."
        "<ref>Some source</ref><ref name=x/>\n"
        "== History ==\n"
        "It was founded in [[1900]].<!-- hidden --> See [http://example.org the site].\n"
        "[[File:Foo.jpg|thumb|A caption with a [[link]]\nover two lines]]\n"
        "* first item\n# second item\n"
        '{| class="wikitable"\n| cell || other\n|-\n| {{x}}\n|}\n'
        "<math>x^2</math>&amp; more &nbsp;text.\n"
        "[[Category:Towns]] [[de:Foo]] [[:Category:Visible]] __NOTOC__"
    )
    assert text.splitlines() == [
        "Foo is a small town in Bar.", "", "History", "", "It was founded in 1900. See the site.", "", "first item",
        "second item", "& more text.", "Category:Visible",
    ]  # fmt: skip
    assert wikitext_to_text("{{Only a template}}\n[[Category:Empty]]") == ""


def test_small_dump_namespaces_redirects_empty_pages_and_uris(tmp_path):
    f = tmp_path / "dewiki.xml"
    f.write_text(dump(
        page("Köln (Stadt)", "'''Köln''' ist eine Stadt am [[Rhein]].")
        + page("Cologne", "#WEITERLEITUNG [[Köln (Stadt)]]", redirect=True)
        + page("Diskussion:Köln", "Talk text here.", ns=1)
        + page("Leer", "{{Begriffsklärung}}[[Kategorie:Leer]]")
        + page("Diskussion:Alt", "An old dump's talk page without ns.", ns=None)
        + page("Alter Artikel", "An old dump's article without ns.", ns=None)
    ), encoding="utf-8")  # fmt: skip
    got = read_source_file(wiki(f), str(f), "en")
    assert got.rows["title"].to_list() == ["Köln (Stadt)", "Alter Artikel"]
    assert got.rows["uri"].to_list() == ["https://de.wikipedia.org/wiki/K%C3%B6ln_(Stadt)",
                                         "https://de.wikipedia.org/wiki/Alter_Artikel"]
    assert got.rows["text"][0] == "Köln ist eine Stadt am Rhein."
    assert set(got.rows["lang"]) == {"de"}  # the dump's xml:lang, not the recipe's
    assert got.quarantine.select("row", "reason").rows() == [(4, "no text left after removing wiki markup")]


def test_broken_and_truncated_dumps_keep_the_pages_before(tmp_path):
    whole = dump("".join(page(f"Page {i}", f"Text of page {i}.") for i in range(1, 6)))
    broken = tmp_path / "broken.xml"
    broken.write_text(whole[: whole.index("<page><title>Page 4")] + "<page><title>Page 4</ti", encoding="utf-8")
    got = read_source_file(wiki(broken), str(broken), "en")
    assert got.rows["title"].to_list() == ["Page 1", "Page 2", "Page 3"]
    assert got.quarantine["row"].to_list() == [None]
    reason = got.quarantine["reason"][0]
    assert re.fullmatch(r"broken XML at line \d+ \(after page 3\); rest of the file skipped", reason)

    # bz2 compresses in blocks (100 kB at level 1): a cut in the last block keeps the pages of the ones before
    rng = random.Random(0)
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(60_000)]
    long_pages = dump("".join(page(f"Page {i}", " ".join(words[i * 12_000 : (i + 1) * 12_000])) for i in range(5)))
    truncated = tmp_path / "truncated.xml.bz2"
    truncated.write_bytes(bz2.compress(long_pages.encode(), compresslevel=1)[:-2000])
    got = read_source_file(wiki(truncated), str(truncated), "en")
    titles = got.rows["title"].to_list()
    assert 1 < len(titles) < 5 and titles == [f"Page {i}" for i in range(len(titles))]
    assert got.quarantine["reason"][0].startswith("cannot read file: bz2 data is truncated after")


def test_long_articles_are_handed_on_before_the_chunk_fills(enwiki_chunks):
    sizes = [c.rows["text"].str.len_chars().sum() for c in enwiki_chunks]
    longest = max(c.rows["text"].str.len_chars().max() for c in enwiki_chunks)
    assert sum(len(c.rows) for c in enwiki_chunks) == 106 and len(enwiki_chunks) > 5
    assert all(size < HELD_CHARS + longest for size in sizes)


class _Dump(io.RawIOBase):
    """A synthetic dump of `n` pages, generated while it is read (never held whole)."""

    def __init__(self, n: int):
        head = dump("", lang="en").removesuffix("</mediawiki>").encode()
        pages = (page(f"Page {i}", f"Words of page {i}. " * 50).encode() for i in range(n))
        self.parts = itertools.chain([head], pages, [b"</mediawiki>"])
        self.buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while len(self.buffer) < len(b):
            part = next(self.parts, None)
            if part is None:
                break
            self.buffer += part
        n = min(len(b), len(self.buffer))
        b[:n], self.buffer = self.buffer[:n], self.buffer[n:]
        return n


MEASURE_PEAKS = """
import io, json, tracemalloc
from pairforge.tasks.ingest.wikipedia import iter_pages
from tests.ingest.test_wikipedia import _Dump
peaks = {}
for n in (500, 5000):
    tracemalloc.start()
    pages = sum(1 for _ in iter_pages(io.BufferedReader(_Dump(n))))
    peaks[n] = {"pages": pages, "peak": tracemalloc.get_traced_memory()[1]}
    tracemalloc.stop()
print(json.dumps(peaks))
"""


def test_streaming_memory_stays_flat():
    """Peak traced memory while 500 and 5,000 pages stream through, measured in a fresh interpreter: tracemalloc
    counts every thread, and in the test process other tests' servers and clients allocate meanwhile."""
    out = subprocess.run([sys.executable, "-c", MEASURE_PEAKS], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    peaks = {int(n): v for n, v in json.loads(out.stdout.splitlines()[-1]).items()}
    assert peaks[500]["pages"] == 500 and peaks[5000]["pages"] == 5000
    assert peaks[5000]["peak"] < 1.5 * peaks[500]["peak"], peaks


def test_bench_memory_command_reports_both_sizes_and_the_ratio():
    result = subprocess.run(
        [sys.executable, "-m", "pairforge.flows.cli", "bench", "memory", "--base-mb", "0.1", "--factor", "3",
         "--format", "wikipedia", "--shard-rows", "100"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "200"}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    lines = [line for line in out.splitlines() if "wikipedia" in line]
    assert any(" base " in line for line in lines) and any(" 3x " in line for line in lines), out
    assert any(re.search(r"peak ratio.*\d+\.\d\dx.*< 2\.0x", line) for line in lines), out
    bad = subprocess.run([sys.executable, "-m", "pairforge.flows.cli", "bench", "memory", "--format", "csv"],
                         capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and "--format" in bad.stderr
