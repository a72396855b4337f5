"""tasks.ingest.readers.text: `text` and `text-lines`, line numbers, encodings, ids, languages, a real corpus."""

from __future__ import annotations

from pairforge.tasks.core.schema import DOCUMENTS, QUARANTINE
from pairforge.tasks.ingest.sources import read_source_file
from tests.conftest import CORPORA
from tests.ingest.helpers import assert_provenance, src


def test_text_one_document_per_file(tmp_path):
    f = tmp_path / "one.txt"
    f.write_text("First line.\n\nSecond paragraph.\n")
    s = src(f, "text")
    got = read_source_file(s, str(f), "en")
    assert got.table == "documents"
    assert got.rows.schema == DOCUMENTS
    assert got.rows["text"].to_list() == ["First line.\n\nSecond paragraph.\n"]
    assert got.rows["uri"].to_list() == [str(f)]
    assert got.rows["id"].to_list() == got.rows["doc_id"].to_list()
    assert got.quarantine.is_empty() and got.quarantine.schema == QUARANTINE


def test_text_lines_skips_blank_lines(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("alpha\n\n   \nbeta\r\ngamma")
    got = read_source_file(src(f, "text-lines"), str(f), "en")
    assert got.rows["text"].to_list() == ["alpha", "beta", "gamma"]
    assert got.quarantine.is_empty()


def test_text_lines_non_utf8_line_is_quarantined_with_its_row(tmp_path):
    """With a named encoding a line that is not in it is quarantined; by default (auto) the file is detected as
    Windows-1252 (one stray byte in ASCII) and says so in its rows' provenance."""
    f = tmp_path / "lines.txt"
    f.write_bytes(b"good one\nbad \xff\xfe line\n\ngood two\n")
    got = read_source_file(src(f, "text-lines", encoding="utf-8"), str(f), "en")
    assert got.rows["text"].to_list() == ["good one", "good two"]
    assert got.quarantine.to_dicts() == [
        {"source": "src", "uri": str(f), "row": 2, "reason": "not valid utf-8", "stage": "ingest"}
    ]
    auto = read_source_file(src(f, "text-lines"), str(f), "en")
    assert auto.rows.select("text", "source_encoding").rows() == [
        ("good one", "cp1252"), ("bad ÿþ line", "cp1252"), ("good two", "cp1252")]
    assert auto.quarantine.is_empty()


def test_source_encoding_is_honoured(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("café\nnaïve\n".encode("latin-1"))
    got = read_source_file(src(f, "text-lines", encoding="latin-1"), str(f), "en")
    assert got.rows["text"].to_list() == ["café", "naïve"]


def test_ids_are_stable_and_depend_on_text_and_source(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("same text\nother text\nsame text\n")
    s = src(f, "text-lines")
    first = read_source_file(s, str(f), "en").rows["id"].to_list()
    second = read_source_file(s, str(f), "en").rows["id"].to_list()
    assert first == second
    assert first[0] == first[2]  # identical text -> identical id (exact duplicates)
    assert first[0] != first[1]
    renamed = read_source_file(src(f, "text-lines", name="other"), str(f), "en").rows["id"].to_list()
    assert set(renamed).isdisjoint(first)


def test_lang_comes_from_source_or_default(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("hallo welt\n")
    assert read_source_file(src(f, "text-lines"), str(f), "nl").rows["lang"].to_list() == ["nl"]
    assert read_source_file(src(f, "text-lines", lang="de"), str(f), "nl").rows["lang"].to_list() == ["de"]


def test_real_text_lines_corpus():
    path = CORPORA / "text" / "lee_background.cor"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    s = src(path, "text-lines", name="lee", license="LGPL-2.1-only")
    got = read_source_file(s, str(path), "en")
    assert len(lines) == 300
    assert len(got.rows) == 300 and got.quarantine.is_empty()
    assert got.rows["text"].to_list() == lines
    assert_provenance(got.rows, s)
    assert got.rows["id"].n_unique() == len(set(lines)) < 300  # the corpus repeats a few articles
