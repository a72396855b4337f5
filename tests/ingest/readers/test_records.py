"""tasks.ingest.readers.records: `jsonl` documents, JSON Lines and streamed JSON arrays, broken records."""

from __future__ import annotations

import gzip
import json

import pytest

from pairforge.tasks.ingest.sources import read_source_file
from tests.ingest.helpers import jsonl, src


def test_jsonl_with_field_mapping(tmp_path):
    f = jsonl(tmp_path / "docs.jsonl", [{"body": "first body", "title": "t1"}, {"body": "second body"},
                                        {"title": "no body here"}, {"body": 42}])
    s = src(f, "jsonl", fields={"text": "body"})
    got = read_source_file(s, str(f), "en")
    assert got.rows["text"].to_list() == ["first body", "second body"]
    assert got.quarantine.select("row", "reason").rows() == [
        (3, "missing field 'body'"),
        (4, "text is int, expected a string"),
    ]


def test_jsonl_broken_json_and_non_utf8_lines_are_quarantined(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_bytes(b'{"text": "ok 1"}\n{"text": "unterminated\n[1, 2]\n{"text": "bad \xff byte"}\n{"text": "ok 2"}\n')
    got = read_source_file(src(f, "jsonl", encoding="utf-8"), str(f), "en")
    assert got.rows["text"].to_list() == ["ok 1", "ok 2"]
    reasons = dict(got.quarantine.select("row", "reason").rows())
    assert sorted(reasons) == [2, 3, 4]
    assert reasons[2].startswith("broken JSON")
    assert "expected an object" in reasons[3]
    assert reasons[4] == "not valid utf-8"
    auto = read_source_file(src(f, "jsonl"), str(f), "en")  # the stray byte is read as Windows-1252
    assert auto.rows["text"].to_list() == ["ok 1", "bad ÿ byte", "ok 2"]
    assert sorted(dict(auto.quarantine.select("row", "reason").rows())) == [2, 3]


def test_jsonl_with_byte_order_mark_keeps_first_record(tmp_path):
    f = tmp_path / "bom.jsonl"
    f.write_bytes('\ufeff{"text": "first"}\n{"text": "second"}\n'.encode())
    got = read_source_file(src(f, "jsonl"), str(f), "en")
    assert got.rows["text"].to_list() == ["first", "second"]
    assert got.quarantine.is_empty()


def test_json_array_is_streamed_across_small_chunks(tmp_path, monkeypatch):
    from pairforge.tasks.ingest.readers import records as record_readers

    records = [{"instruction": f"Übersetze Nummer {i} ✓", "input": "", "output": "é" * (i % 5 + 1)}
               for i in range(40)]
    records[7] = 1234567  # a number split over chunk boundaries must stay one element
    f = tmp_path / "alpaca.json"
    f.write_text("\ufeff  " + json.dumps(records, indent=3, ensure_ascii=False), encoding="utf-8")
    s = src(f, "alpaca")
    whole = read_source_file(s, str(f), "en")
    monkeypatch.setattr(record_readers, "ARRAY_CHUNK", 3)  # splits elements and multi-byte characters
    chunked = read_source_file(s, str(f), "en")
    for got in (whole, chunked):
        assert len(got.rows) == 39
        assert got.quarantine.select("row", "reason").rows() == [
            (8, "JSON array element is a int, expected an object")]
    assert chunked.rows.drop("retrieved_at").equals(whole.rows.drop("retrieved_at"))
    assert whole.rows["prompt"][0] == "Übersetze Nummer 0 ✓" and whole.rows["response"][-1] == "ééééé"


@pytest.mark.parametrize(
    "text, rows, quarantined",
    [
        ('[{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": }, {"prompt": "e", "completion": "f"}]',
         [("a", "b")], (2, "broken JSON: Expecting value; rest of the file skipped")),
        ('[{"prompt": "a", "completion": "b"}, {"prompt": "c", "completion": "d"}',
         [("a", "b"), ("c", "d")], (None, "JSON array is not closed after 2 element(s) (truncated file?)")),
        ('[{"prompt": "a", "completion": "b"}] trailing', [("a", "b")], (None, "data after the end of the JSON array")),
        ('[{"prompt": "a", "completion": "b"} {"prompt": "c", "completion": "d"}]',
         [("a", "b")], (2, "broken JSON: expecting ',' or ']' after element 1; rest of the file skipped")),
        ('[]', [], (None, "no rows in the file")),
    ],
    ids=["broken-element", "truncated", "trailing-data", "missing-comma", "empty"],
)
def test_broken_json_arrays_keep_what_parsed(tmp_path, text, rows, quarantined):
    f = tmp_path / "pc.json"
    f.write_text(text)
    got = read_source_file(src(f, "prompt-completion"), str(f), "en")
    assert got.rows.select("prompt", "response").rows() == rows
    assert got.quarantine.select("row", "reason").rows() == ([quarantined] if quarantined else [])


def test_json_array_not_valid_utf8_keeps_what_came_before(tmp_path):
    f = tmp_path / "pc.json"
    f.write_bytes(b'[{"prompt": "a", "completion": "b"},\n {"prompt": "\xff", "completion": "d"}]')
    got = read_source_file(src(f, "prompt-completion", encoding="utf-8"), str(f), "en")
    assert got.rows.select("prompt", "response").rows() == [("a", "b")]
    assert got.quarantine.select("row", "reason").rows() == [(2, "not valid utf-8; rest of the file skipped")]
    auto = read_source_file(src(f, "prompt-completion"), str(f), "en")  # detected: the file is Windows-1252
    assert auto.rows.select("prompt", "response", "source_encoding").rows() == [("a", "b", "cp1252"),
                                                                               ("ÿ", "d", "cp1252")]


def test_array_only_for_json_files_starting_with_a_bracket(tmp_path):
    """`.jsonl` files stay line-based even when a line is an array; `.json` JSONL files still work."""
    lines = jsonl(tmp_path / "x.jsonl", ['[{"prompt": "a", "completion": "b"}]', {"prompt": "c", "completion": "d"}])
    got = read_source_file(src(lines, "prompt-completion"), str(lines), "en")
    assert got.rows["prompt"].to_list() == ["c"]
    assert got.quarantine.select("row", "reason").rows() == [(1, "JSON line is a list, expected an object")]
    gz = tmp_path / "y.json.gz"
    gz.write_bytes(gzip.compress(b'\n [{"prompt": "a", "completion": "b"}]'))
    assert read_source_file(src(gz, "prompt-completion"), str(gz), "en").rows["prompt"].to_list() == ["a"]


def test_json_array_parse_does_not_depend_on_read_boundaries():
    """Every read size, down to one byte (inside multi-byte characters, numbers and strings), gives the same."""
    import io

    from pairforge.tasks.ingest.readers.records import array_records

    records = [{"a": "é" * i} for i in range(4)] + [12345, {"b": [1, 2, {"c": "✓ \"quoted\""}]}]
    data = ("\ufeff [" + ",\n ".join(json.dumps(r, ensure_ascii=False) for r in records) + "]  \n").encode()
    expected = [(i + 1, r, None) for i, r in enumerate(records[:4])] + [
        (5, None, "JSON array element is a int, expected an object"), (6, records[5], None)]
    bad = '[{"a": "x"}, {"a": "é'.encode() + b"\xff" + b'"}]'
    for size in range(1, len(data) + 1):
        assert list(array_records(io.BytesIO(data), "utf-8", size)) == expected, size
        assert list(array_records(io.BytesIO(bad), "utf-8", size)) == [
            (1, {"a": "x"}, None), (2, None, "not valid utf-8; rest of the file skipped")], size
