"""tasks.sources: every reader on small files, bad rows quarantined, real corpora, and S3 sources."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import polars as pl
import pytest

from tasks.recipe import Source
from tasks.schema import DOCUMENTS, PAIRS, QUARANTINE
from tasks.sources import SourceError, read_source_file, resolve_source_files

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def src(uri, fmt, **kw) -> Source:
    return Source(name=kw.pop("name", "src"), uri=str(uri), format=fmt, license=kw.pop("license", "MIT"), **kw)


def read_all(source: Source, lang: str = "en"):
    """Read every file of a source like ingest does; returns (rows, quarantine) concatenated."""
    got = [read_source_file(source, uri, lang) for uri, _ in resolve_source_files(source)]
    return pl.concat([g.rows for g in got]), pl.concat([g.quarantine for g in got])


def jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def assert_provenance(rows: pl.DataFrame, source: Source, lang: str = "en") -> None:
    """Every row names its source, file, license and language; one id per distinct content."""
    assert len(rows)
    assert set(rows["source"]) == {source.name}
    assert set(rows["license"]) == {source.license}
    assert set(rows["lang"]) == {lang}
    assert rows["uri"].null_count() == 0 and all(rows["uri"].str.len_chars() > 0)
    content = ["text"] if "text" in rows.columns else ["messages"]
    assert rows["id"].null_count() == 0
    assert rows.select("id").n_unique() == rows.select(content).n_unique() == rows.select(["id", *content]).n_unique()


# ---- documents ---------------------------------------------------------------------------------


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


@pytest.mark.parametrize("pattern", ["folder", "glob"])
def test_text_over_folder_and_glob(tmp_path, pattern):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"d{i}.txt").write_text(f"document number {i}")
    (docs / "notes.md").write_text("not matched by the glob")
    uri = str(docs) if pattern == "folder" else str(docs / "*.txt")
    s = src(uri, "text")
    rows, bad = read_all(s)
    expected = [f"document number {i}" for i in range(3)]
    if pattern == "folder":
        expected.append("not matched by the glob")
    assert sorted(rows["text"].to_list()) == sorted(expected)
    assert sorted(rows["uri"].to_list()) == sorted(u for u, _ in resolve_source_files(s))
    assert bad.is_empty()
    assert_provenance(rows, s)


def test_text_lines_skips_blank_lines(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("alpha\n\n   \nbeta\r\ngamma")
    got = read_source_file(src(f, "text-lines"), str(f), "en")
    assert got.rows["text"].to_list() == ["alpha", "beta", "gamma"]
    assert got.quarantine.is_empty()


def test_text_lines_non_utf8_line_is_quarantined_with_its_row(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_bytes(b"good one\nbad \xff\xfe line\n\ngood two\n")
    s = src(f, "text-lines")
    got = read_source_file(s, str(f), "en")
    assert got.rows["text"].to_list() == ["good one", "good two"]
    assert got.quarantine.to_dicts() == [
        {"source": "src", "uri": str(f), "row": 2, "reason": "not valid utf-8", "stage": "ingest"}
    ]


def test_source_encoding_is_honoured(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("café\nnaïve\n".encode("latin-1"))
    got = read_source_file(src(f, "text-lines", encoding="latin-1"), str(f), "en")
    assert got.rows["text"].to_list() == ["café", "naïve"]


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
    got = read_source_file(src(f, "jsonl"), str(f), "en")
    assert got.rows["text"].to_list() == ["ok 1", "ok 2"]
    reasons = dict(got.quarantine.select("row", "reason").rows())
    assert sorted(reasons) == [2, 3, 4]
    assert reasons[2].startswith("broken JSON")
    assert "expected an object" in reasons[3]
    assert reasons[4] == "not valid utf-8"


def test_jsonl_with_byte_order_mark_keeps_first_record(tmp_path):
    f = tmp_path / "bom.jsonl"
    f.write_bytes('\ufeff{"text": "first"}\n{"text": "second"}\n'.encode())
    got = read_source_file(src(f, "jsonl"), str(f), "en")
    assert got.rows["text"].to_list() == ["first", "second"]
    assert got.quarantine.is_empty()


def test_gzip_jsonl(tmp_path):
    f = tmp_path / "docs.jsonl.gz"
    f.write_bytes(gzip.compress(b'{"text": "zipped one"}\n{"text": "zipped two"}\n'))
    s = src(f, "jsonl")
    assert resolve_source_files(s) == [(str(f), f.stat().st_size)]
    got = read_source_file(s, str(f), "en")
    assert got.rows["text"].to_list() == ["zipped one", "zipped two"]


def test_corrupt_gzip_is_quarantined_not_raised(tmp_path):
    f = tmp_path / "docs.jsonl.gz"
    f.write_bytes(b"this is not gzip")
    got = read_source_file(src(f, "jsonl"), str(f), "en")
    assert got.rows.is_empty()
    assert got.quarantine["row"].to_list() == [None]
    assert got.quarantine["reason"][0].startswith("cannot read file")


def test_csv_with_mapping(tmp_path):
    f = tmp_path / "docs.csv"
    f.write_text('id,content\n1,"hello, world"\n2,""\n3,"multi\nline"\n')
    got = read_source_file(src(f, "csv", fields={"text": "content"}), str(f), "en")
    assert got.rows["text"].to_list() == ["hello, world", "multi\nline"]
    assert got.quarantine.select("row", "reason").rows() == [(2, "empty 'content'")]


def test_parquet_with_mapping_and_wrong_columns(tmp_path):
    f = tmp_path / "docs.parquet"
    pl.DataFrame({"article": ["p one", "p two", None], "n": [1, 2, 3]}).write_parquet(f)
    got = read_source_file(src(f, "parquet", fields={"text": "article"}), str(f), "en")
    assert got.rows["text"].to_list() == ["p one", "p two"]
    assert got.quarantine.select("row", "reason").rows() == [(3, "empty 'article'")]

    wrong = read_source_file(src(f, "parquet"), str(f), "en")  # looks for column `text`
    assert wrong.rows.is_empty()
    assert len(wrong.quarantine) == 1
    assert wrong.quarantine["row"][0] is None
    assert "no column 'text'" in wrong.quarantine["reason"][0]
    assert "article" in wrong.quarantine["reason"][0]  # says what it has instead


def test_unparseable_parquet_is_quarantined(tmp_path):
    f = tmp_path / "broken.parquet"
    f.write_bytes(b"PAR1 definitely not parquet")
    got = read_source_file(src(f, "parquet"), str(f), "en")
    assert got.rows.is_empty()
    assert "cannot parse Parquet" in got.quarantine["reason"][0]


def test_missing_file_is_quarantined_not_raised(tmp_path):
    missing = tmp_path / "gone.jsonl"
    got = read_source_file(src(missing, "jsonl"), str(missing), "en")
    assert got.rows.is_empty()
    assert got.quarantine.select("uri", "row").rows() == [(str(missing), None)]
    assert "cannot read file" in got.quarantine["reason"][0]


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


def test_resolve_source_files_errors(tmp_path):
    with pytest.raises(SourceError, match="no file matches"):
        resolve_source_files(src(tmp_path / "nothing-*.txt", "text"))
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(SourceError, match="source is empty"):
        resolve_source_files(src(tmp_path / "empty.txt", "text"))


def test_folder_keeps_only_files_of_the_format(tmp_path):
    jsonl(tmp_path / "a.jsonl", [{"text": "a"}])
    jsonl(tmp_path / "b.json", [{"text": "b"}])
    (tmp_path / "README.md").write_text("readme")
    files = [Path(u).name for u, _ in resolve_source_files(src(tmp_path, "jsonl"))]
    assert files == ["a.jsonl", "b.json"]


# ---- pairs -------------------------------------------------------------------------------------


def test_alpaca_with_and_without_input(tmp_path):
    f = jsonl(tmp_path / "alpaca.jsonl", [
        {"instruction": "Translate to French", "input": "cat", "output": "chat"},
        {"instruction": "Name a colour", "input": "", "output": "blue"},
        {"instruction": "No input key", "output": "fine"},
        {"instruction": "No output"},
    ])
    s = src(f, "alpaca", license="Apache-2.0")
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert got.rows.select("prompt", "response").rows() == [
        ("Translate to French\n\ncat", "chat"),
        ("Name a colour", "blue"),
        ("No input key", "fine"),
    ]
    first = got.rows.row(0, named=True)
    assert first["messages"] == [{"role": "user", "content": "Translate to French\n\ncat"},
                                 {"role": "assistant", "content": "chat"}]
    assert first["system"] is None and first["origin"] == "imported"
    assert got.quarantine.select("row", "reason").rows() == [(4, "missing field 'output'")]
    assert_provenance(got.rows, s)


def test_openai_multi_turn(tmp_path):
    turns = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
    ]
    f = jsonl(tmp_path / "chat.jsonl", [
        {"messages": turns},
        {"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "no user"}]},
        {"messages": [{"role": "user", "content": "ends with user"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                      {"role": "user", "content": "follow-up, unanswered"}]},
        {"messages": [{"role": "wizard", "content": "?"}, {"role": "assistant", "content": "a"}]},
        {"messages": "not a list"},
    ])
    s = src(f, "openai")
    got = read_source_file(s, str(f), "en")
    assert len(got.rows) == 1
    row = got.rows.row(0, named=True)
    assert row["prompt"] == "What is 2+2?"  # the last user turn
    assert row["response"] == "4"  # the final assistant turn (content parts joined)
    assert row["system"] == "Be brief."
    assert [m["role"] for m in row["messages"]] == [t["role"] for t in turns]
    assert row["messages"][2] == {"role": "assistant", "content": "Hello."}
    reasons = dict(got.quarantine.select("row", "reason").rows())
    assert reasons[2] == "conversation has no user turn"
    assert reasons[3] == reasons[4] == "conversation does not end with an assistant turn"
    assert "role must be one of" in reasons[5]
    assert reasons[6] == "messages is not a list"


def test_prompt_completion_with_mapping(tmp_path):
    f = jsonl(tmp_path / "pc.jsonl", [
        {"question": "Capital of France?", "answer": "Paris"},
        {"question": "Empty answer", "answer": "   "},
    ])
    got = read_source_file(src(f, "prompt-completion", fields={"prompt": "question", "completion": "answer"}),
                           str(f), "en")
    assert got.rows.select("prompt", "response").rows() == [("Capital of France?", "Paris")]
    assert got.quarantine.select("row", "reason").rows() == [(2, "empty response")]


def test_pair_ids_stable_and_distinct(tmp_path):
    f = jsonl(tmp_path / "pc.jsonl", [{"prompt": "a", "completion": "b"}, {"prompt": "a", "completion": "c"}])
    s = src(f, "prompt-completion")
    ids = read_source_file(s, str(f), "en").rows["id"].to_list()
    assert ids == read_source_file(s, str(f), "en").rows["id"].to_list()
    assert ids[0] != ids[1]


# ---- the shared corpora ------------------------------------------------------------------------


def test_real_openai_chat_corpus():
    path = CORPORA / "chat" / "toy_chat_fine_tuning.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    s = src(path, "openai", name="toy-chat")
    got = read_source_file(s, str(path), "en")
    no_user = [i + 1 for i, r in enumerate(raw) if not any(m["role"] == "user" for m in r["messages"])]
    assert len(raw) == 5 and len(no_user) == 1
    assert got.quarantine.select("row", "reason").rows() == [(no_user[0], "conversation has no user turn")]
    assert len(got.rows) == 4
    assert_provenance(got.rows, s)
    # the multi-turn record keeps all its turns
    longest = max(raw, key=lambda r: len(r["messages"]))["messages"]
    kept = got.rows.filter(pl.col("messages").list.len() == len(longest))
    assert len(kept) == 1
    assert kept["messages"][0].to_list() == longest
    assert kept["prompt"][0] == [m for m in longest if m["role"] == "user"][-1]["content"]
    assert kept["response"][0] == longest[-1]["content"]


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


# ---- S3 ----------------------------------------------------------------------------------------


def test_s3_prefix_and_glob_sources(bucket):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="raw/part-1.jsonl", Body=b'{"text": "s3 one"}\n{"text": "s3 two"}\n')
    s3.put_object(Bucket=bucket, Key="raw/part-2.jsonl", Body=b'{"text": "s3 three"}\nnot json\n')
    s3.put_object(Bucket=bucket, Key="raw/part-3.jsonl.gz", Body=gzip.compress(b'{"text": "s3 zipped"}\n'))
    s3.put_object(Bucket=bucket, Key="raw/README.md", Body=b"ignored: not a jsonl file")
    s3.put_object(Bucket=bucket, Key="elsewhere/x.jsonl", Body=b'{"text": "outside the prefix"}\n')

    prefix = src(f"s3://{bucket}/raw/", "jsonl")
    files = resolve_source_files(prefix)
    assert [u for u, _ in files] == [f"s3://{bucket}/raw/part-{i}" for i in ("1.jsonl", "2.jsonl", "3.jsonl.gz")]
    rows, bad = read_all(prefix)
    assert sorted(rows["text"]) == ["s3 one", "s3 three", "s3 two", "s3 zipped"]
    assert bad.select("uri", "row").rows() == [(f"s3://{bucket}/raw/part-2.jsonl", 2)]
    assert_provenance(rows, prefix)

    glob = src(f"s3://{bucket}/raw/*.jsonl", "jsonl")
    assert [u for u, _ in resolve_source_files(glob)] == [f"s3://{bucket}/raw/part-1.jsonl",
                                                          f"s3://{bucket}/raw/part-2.jsonl"]
    rows, _ = read_all(glob)
    assert sorted(rows["text"]) == ["s3 one", "s3 three", "s3 two"]
    assert set(rows["uri"]) == {f"s3://{bucket}/raw/part-1.jsonl", f"s3://{bucket}/raw/part-2.jsonl"}


def test_s3_missing_key_is_quarantined(bucket):
    uri = f"s3://{bucket}/raw/gone.jsonl"
    got = read_source_file(src(uri, "jsonl"), uri, "en")
    assert got.rows.is_empty()
    assert "cannot read file" in got.quarantine["reason"][0]


def test_s3_source_matching_nothing(bucket):
    with pytest.raises(SourceError, match="no file matches"):
        resolve_source_files(src(f"s3://{bucket}/nothing/", "jsonl"))


def test_stream_source_file_hands_over_bounded_chunks():
    from tasks.sources import stream_source_files

    lee = CORPORA / "text" / "lee_background.cor"
    chunks = []
    stream_source_files(src(lee, "text-lines"), [str(lee)], "en", 64, chunks.append)
    assert [len(c.rows) for c in chunks] == [64, 64, 64, 64, 44]
    whole = read_source_file(src(lee, "text-lines"), str(lee), "en").rows
    assert pl.concat([c.rows for c in chunks])["id"].to_list() == whole["id"].to_list()


def test_chunks_span_files_and_batches_group_small_files(tmp_path):
    from tasks.sources import batch_files, stream_source_files

    for i in range(7):
        (tmp_path / f"{i}.txt").write_text(f"document number {i}")
    source = src(tmp_path, "text")
    files = resolve_source_files(source)
    chunks = []
    stream_source_files(source, [u for u, _ in files], "en", 3, chunks.append)
    assert [len(c.rows) for c in chunks] == [3, 3, 1]  # full shards, not one per file
    assert chunks[0].rows["uri"].to_list() == [u for u, _ in files[:3]]
    assert batch_files(files, max_files=3) == [[u for u, _ in files[i:i + 3]] for i in (0, 3, 6)]
    assert batch_files([("a", 10), ("b", 10), ("c", 5)], max_bytes=20) == [["a", "b"], ["c"]]
