"""tasks.ingest.sources: every reader on small files, bad rows quarantined, real corpora, and S3 sources."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import boto3
import polars as pl
import pytest

from pairforge.tasks.core.recipe import Source
from pairforge.tasks.core.schema import DOCUMENTS, PAIRS, QUARANTINE
from pairforge.tasks.ingest.sources import SourceError, read_source_file, resolve_source_files

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"


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
    from pairforge.tasks.ingest.sources import stream_source_files

    lee = CORPORA / "text" / "lee_background.cor"
    chunks = []
    stream_source_files(src(lee, "text-lines"), [str(lee)], "en", 64, chunks.append)
    assert [len(c.rows) for c in chunks] == [64, 64, 64, 64, 44]
    whole = read_source_file(src(lee, "text-lines"), str(lee), "en").rows
    assert pl.concat([c.rows for c in chunks])["id"].to_list() == whole["id"].to_list()


def test_chunks_span_files_and_batches_group_small_files(tmp_path):
    from pairforge.tasks.ingest.sources import batch_files, stream_source_files

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


# ---- dolly, sharegpt, self-instruct, annotator tables (issue 3) --------------------------------


def test_dolly_with_and_without_context(tmp_path):
    f = jsonl(tmp_path / "dolly.jsonl", [
        {"instruction": "When was the tower built?", "context": "The tower was built in 1889 for the fair.",
         "response": "In 1889.", "category": "closed_qa"},
        {"instruction": "Name three primary colours.", "context": "", "response": "Red, yellow and blue.",
         "category": "brainstorming"},
        {"instruction": "Say hi.", "response": "Hi!"},  # no context, no category keys
        {"instruction": "No response", "context": "", "category": "open_qa"},
        {"instruction": "  ", "context": "", "response": "r", "category": "open_qa"},
    ])
    s = src(f, "dolly", license="CC-BY-SA-3.0")
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert got.rows.select("prompt", "response", "context", "task").rows() == [
        ("When was the tower built?\n\nThe tower was built in 1889 for the fair.", "In 1889.",
         "The tower was built in 1889 for the fair.", "closed_qa"),
        ("Name three primary colours.", "Red, yellow and blue.", None, "brainstorming"),
        ("Say hi.", "Hi!", None, None),
    ]
    assert got.rows["messages"][0].to_list() == [
        {"role": "user", "content": "When was the tower built?\n\nThe tower was built in 1889 for the fair."},
        {"role": "assistant", "content": "In 1889."},
    ]
    assert set(got.rows["origin"]) == {"imported"} and got.rows["system"].null_count() == 3
    assert got.quarantine.select("row", "reason").rows() == [(4, "missing field 'response'"),
                                                            (5, "empty 'instruction'")]
    assert_provenance(got.rows, s)
    again = read_source_file(s, str(f), "en").rows["id"].to_list()
    assert again == got.rows["id"].to_list() and len(set(again)) == 3


SHAREGPT = [
    {"id": "a", "conversations": [
        {"from": "system", "value": "You are terse."},
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello."},
        {"from": "user", "value": "Capital of Italy?"},
        {"from": "chatgpt", "value": "Rome."},
    ]},
    {"id": "b", "system": "Answer in French.",  # LLaMA-Factory's variant: the system prompt beside the turns
     "conversations": [{"from": "human", "value": "Thank you"}, {"from": "model", "value": "Merci — de rien."}]},
    {"id": "c", "conversations": [{"from": "human", "value": "q"}, {"from": "narrator", "value": "?"},
                                  {"from": "gpt", "value": "a"}]},
    {"id": "d", "conversations": [{"from": "human", "value": "unanswered"}]},
    {"id": "e", "conversations": [{"from": "Human", "value": "Case?"}, {"from": "bard", "value": "Ignored."}]},
    {"id": "f", "conversations": "not a list"},
    {"id": "g", "conversations": [{"from": "human", "value": "q"}, {"value": "no from"}]},
]


def _write_sharegpt(path: Path, layout: str) -> Path:
    if layout == "jsonl":
        return jsonl(path.with_suffix(".jsonl"), SHAREGPT)
    path = path.with_suffix(".json")
    path.write_text(json.dumps(SHAREGPT, indent=2, ensure_ascii=False))  # one pretty-printed array
    return path


@pytest.mark.parametrize("layout", ["jsonl", "array"])
def test_sharegpt_multi_turn_jsonl_and_json_array(tmp_path, layout):
    f = _write_sharegpt(tmp_path / "share", layout)
    s = src(f, "sharegpt", license="Apache-2.0")
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert len(got.rows) == 3
    first = got.rows.row(0, named=True)
    assert first["messages"] == [
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Capital of Italy?"},
        {"role": "assistant", "content": "Rome."},
    ]
    assert (first["prompt"], first["response"], first["system"]) == ("Capital of Italy?", "Rome.", "You are terse.")
    second = got.rows.row(1, named=True)
    assert second["system"] == "Answer in French."
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant"]
    assert second["response"] == "Merci — de rien."
    assert got.rows.row(2, named=True)["prompt"] == "Case?"  # `from` is matched case-insensitively
    reasons = dict(got.quarantine.select("row", "reason").rows())  # array index + 1 == line number here
    assert sorted(reasons) == [3, 4, 6, 7]
    assert reasons[3].startswith("conversations[1]: unknown from 'narrator'")
    assert reasons[4] == "conversation does not end with an assistant turn"
    assert reasons[6] == "conversations is not a list"
    assert reasons[7].startswith("conversations[1]: unknown from None")
    assert_provenance(got.rows, s)


def test_sharegpt_ids_do_not_depend_on_the_file_layout(tmp_path):
    a = _write_sharegpt(tmp_path / "share", "jsonl")
    b = _write_sharegpt(tmp_path / "share", "array")
    ids_a = read_source_file(src(a, "sharegpt"), str(a), "en").rows["id"].to_list()
    ids_b = read_source_file(src(b, "sharegpt"), str(b), "en").rows["id"].to_list()
    assert ids_a == ids_b and len(set(ids_a)) == 3


def test_json_array_is_streamed_across_small_chunks(tmp_path, monkeypatch):
    import pairforge.tasks.ingest.sources as sources

    records = [{"instruction": f"Übersetze Nummer {i} ✓", "input": "", "output": "é" * (i % 5 + 1)}
               for i in range(40)]
    records[7] = 1234567  # a number split over chunk boundaries must stay one element
    f = tmp_path / "alpaca.json"
    f.write_text("\ufeff  " + json.dumps(records, indent=3, ensure_ascii=False), encoding="utf-8")
    s = src(f, "alpaca")
    whole = read_source_file(s, str(f), "en")
    monkeypatch.setattr(sources, "ARRAY_CHUNK", 3)  # splits elements and multi-byte characters
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
        ('[]', [], None),
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
    got = read_source_file(src(f, "prompt-completion"), str(f), "en")
    assert got.rows.select("prompt", "response").rows() == [("a", "b")]
    assert got.quarantine.select("row", "reason").rows() == [(2, "not valid utf-8; rest of the file skipped")]


def test_array_only_for_json_files_starting_with_a_bracket(tmp_path):
    """`.jsonl` files stay line-based even when a line is an array; `.json` JSONL files still work."""
    lines = jsonl(tmp_path / "x.jsonl", ['[{"prompt": "a", "completion": "b"}]', {"prompt": "c", "completion": "d"}])
    got = read_source_file(src(lines, "prompt-completion"), str(lines), "en")
    assert got.rows["prompt"].to_list() == ["c"]
    assert got.quarantine.select("row", "reason").rows() == [(1, "JSON line is a list, expected an object")]
    gz = tmp_path / "y.json.gz"
    gz.write_bytes(gzip.compress(b'\n [{"prompt": "a", "completion": "b"}]'))
    assert read_source_file(src(gz, "prompt-completion"), str(gz), "en").rows["prompt"].to_list() == ["a"]


def test_self_instruct_one_pair_per_instance(tmp_path):
    f = jsonl(tmp_path / "seed.jsonl", [
        {"id": "seed_task_0", "name": "sentiment", "instruction": "Classify the sentiment.", "is_classification": True,
         "instances": [{"input": "I love it", "output": "positive"}, {"input": "Meh", "output": ""},
                       {"input": "I hate it", "output": "negative"}, "not an object", {"input": "x"}]},
        {"id": "seed_task_1", "name": "joke", "instruction": "Tell a joke.",
         "instances": [{"input": "", "output": "Why did the chicken cross the road?"}], "is_classification": False},
        {"id": "seed_task_2", "name": "nothing", "instruction": "No instances."},
        {"id": "seed_task_3", "name": "empty", "instruction": "Empty instances.", "instances": []},
        {"id": "seed_task_4", "name": "no-instruction", "instances": [{"input": "", "output": "x"}]},
    ])
    s = src(f, "self-instruct", license="Apache-2.0")
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert got.rows.select("prompt", "response", "task").rows() == [
        ("Classify the sentiment.\n\nI love it", "positive", "classification"),
        ("Classify the sentiment.\n\nI hate it", "negative", "classification"),
        ("Tell a joke.", "Why did the chicken cross the road?", None),
    ]
    assert got.quarantine.select("row", "reason").rows() == [
        (1, "instances[1]: empty output"),
        (1, "instances[3]: is a str, expected an object"),
        (1, "instances[4]: missing field 'output'"),
        (3, "no instances"),
        (4, "no instances"),
        (5, "missing field 'instruction'"),
    ]
    assert_provenance(got.rows, s)


@pytest.mark.parametrize("name, records", [("alpaca_seed_tasks.jsonl", 175), ("user_oriented_instructions.jsonl", 252)])
def test_real_self_instruct_corpora(name, records):
    path = CORPORA / "instruct" / name
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(raw) == records
    expected = [
        (r["instruction"] + (f"\n\n{inst['input']}" if inst["input"].strip() else ""), inst["output"])
        for r in raw for inst in r["instances"] if inst["output"].strip()
    ]
    empty_outputs = sum(1 for r in raw for inst in r["instances"] if not inst["output"].strip())
    assert len(expected) + empty_outputs == sum(len(r["instances"]) for r in raw)
    s = src(path, "self-instruct", name=name.split(".")[0].replace("_", "-"), license="Apache-2.0")
    got = read_source_file(s, str(path), "en")
    assert len(got.rows) == len(expected)  # one pair per instance with an output
    assert len(got.quarantine) == empty_outputs
    assert got.rows.select("prompt", "response").rows() == expected
    assert all(len(m) == 2 for m in got.rows["messages"].to_list())
    assert got.rows["task"].to_list().count("classification") == sum(
        len(r["instances"]) for r in raw if r.get("is_classification"))
    assert_provenance(got.rows, s)
    assert got.rows["id"].n_unique() == len(got.rows)
    assert read_source_file(s, str(path), "en").rows["id"].to_list() == got.rows["id"].to_list()


ANNOTATED = [
    {"question": "What is the boiling point of water at sea level?", "answer": "100 °C.", "persona": "Be exact.",
     "passage": "At sea level water boils at 100 °C.", "annotator": "ann-1"},
    {"question": "Summarise:\n\"Two lines,\nwith a comma\"", "answer": "A short quoted text.", "persona": "",
     "passage": "", "annotator": "ann-2"},
    {"question": "Left blank", "answer": "  ", "persona": "", "passage": "", "annotator": "ann-1"},
    {"question": "", "answer": "No question", "persona": "", "passage": "", "annotator": "ann-3"},
    {"question": "What is the boiling point of water at sea level?", "answer": "100 °C.", "persona": "Be exact.",
     "passage": "On Everest water boils at about 70 °C; at sea level at 100 °C.", "annotator": "ann-2"},
]
MAPPING = {"prompt": "question", "response": "answer", "system": "persona", "context": "passage"}


def _annotator_file(tmp_path: Path, kind: str, frame: pl.DataFrame | None = None) -> Path:
    frame = pl.DataFrame(ANNOTATED) if frame is None else frame
    f = tmp_path / f"annotated.{kind}"
    if kind == "csv":
        frame.write_csv(f)
    else:
        frame.write_parquet(f)
    return f


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_annotator_table_becomes_pairs(tmp_path, kind):
    f = _annotator_file(tmp_path, kind)
    s = src(f, kind, fields=MAPPING, origin="human", license="CC-BY-4.0")
    assert s.table == "pairs"
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert got.rows.select("prompt", "response", "system", "context").rows() == [
        ("What is the boiling point of water at sea level?", "100 °C.", "Be exact.",
         "At sea level water boils at 100 °C."),
        ("Summarise:\n\"Two lines,\nwith a comma\"", "A short quoted text.", None, None),
        ("What is the boiling point of water at sea level?", "100 °C.", "Be exact.",
         "On Everest water boils at about 70 °C; at sea level at 100 °C."),
    ]
    assert got.rows["messages"][0].to_list() == [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "What is the boiling point of water at sea level?"},
        {"role": "assistant", "content": "100 °C."},
    ]
    assert [m["role"] for m in got.rows["messages"][1].to_list()] == ["user", "assistant"]
    assert set(got.rows["origin"]) == {"human"}
    assert got.rows["task"].null_count() == 3
    assert got.quarantine.select("row", "reason").rows() == [(3, "empty 'answer'"), (4, "empty 'question'")]
    ids = got.rows["id"].to_list()
    assert len(set(ids)) == 3  # same turns grounded in a different passage is a different pair
    assert read_source_file(s, str(f), "en").rows["id"].to_list() == ids
    assert set(got.rows["source"]) == {"src"} and set(got.rows["license"]) == {"CC-BY-4.0"}


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_annotator_table_missing_mapped_column(tmp_path, kind):
    f = _annotator_file(tmp_path, kind, pl.DataFrame(ANNOTATED).drop("passage", "answer"))
    got = read_source_file(src(f, kind, fields=MAPPING, origin="human"), str(f), "en")
    assert got.table == "pairs" and got.rows.is_empty() and got.rows.schema == PAIRS
    assert len(got.quarantine) == 1 and got.quarantine["row"][0] is None
    reason = got.quarantine["reason"][0]
    assert "no column 'answer', 'passage'" in reason and "question" in reason


def test_annotator_table_minimal_mapping_and_imported_default(tmp_path):
    f = _annotator_file(tmp_path, "csv")
    s = src(f, "csv", fields={"prompt": "question", "response": "answer"})
    got = read_source_file(s, str(f), "en")
    assert len(got.rows) == 3 and set(got.rows["origin"]) == {"imported"}
    assert got.rows["system"].null_count() == got.rows["context"].null_count() == 3
    assert got.rows["id"].n_unique() == 2  # without the passage, rows 1 and 5 are the same pair
    # pairs without a context keep the id scheme of the other pair formats
    pc = jsonl(tmp_path / "pc.jsonl", [{"prompt": ANNOTATED[0]["question"], "completion": ANNOTATED[0]["answer"]}])
    assert read_source_file(src(pc, "prompt-completion"), str(pc), "en").rows["id"][0] == got.rows["id"][0]


def test_source_table_and_origin_rules():
    from pydantic import ValidationError

    assert src("x.csv", "csv").table == "documents"
    assert src("x.csv", "csv", fields={"text": "body"}).table == "documents"
    assert src("x.parquet", "parquet", fields={"prompt": "q", "response": "a"}).table == "pairs"
    for fmt in ("dolly", "sharegpt", "self-instruct"):
        assert src("x.jsonl", fmt).table == "pairs" and src("x.jsonl", fmt, origin="human").origin == "human"
    assert src("x.jsonl", "alpaca").origin == "imported"
    with pytest.raises(ValidationError, match="need both prompt and response mapped"):
        src("x.csv", "csv", fields={"prompt": "q", "context": "c"})
    with pytest.raises(ValidationError, match="not both"):
        src("x.csv", "csv", fields={"text": "t", "prompt": "q", "response": "a"})
    with pytest.raises(ValidationError, match="origin: applies to pair sources only"):
        src("x.txt", "text-lines", origin="human")
    with pytest.raises(ValidationError, match="origin"):
        src("x.jsonl", "alpaca", origin="generated")  # generated pairs come from the generate stage


def test_recipe_accepts_the_new_pair_sources(tmp_path):
    from pairforge.tasks.core.recipe import load_recipe

    _annotator_file(tmp_path, "csv")
    _write_sharegpt(tmp_path / "share", "array")
    (tmp_path / "recipe.yaml").write_text(
        "name: pairs\n"
        "sources:\n"
        "  - {name: ann, uri: annotated.csv, format: csv, license: CC-BY-4.0, origin: human,\n"
        "     fields: {prompt: question, response: answer}}\n"
        "  - {name: chat, uri: share.json, format: sharegpt, license: Apache-2.0}\n"
        "generate: {generators: [{kind: self-instruct, sources: [ann]}]}\n"
        "export: {uri: out/}\n"
    )
    r = load_recipe(tmp_path / "recipe.yaml")
    assert [(s.name, s.table, s.origin) for s in r.sources] == [("ann", "pairs", "human"),
                                                                ("chat", "pairs", "imported")]


def test_json_array_parse_does_not_depend_on_read_boundaries():
    """Every read size, down to one byte (inside multi-byte characters, numbers and strings), gives the same."""
    import io

    from pairforge.tasks.ingest.sources import _array_records

    records = [{"a": "é" * i} for i in range(4)] + [12345, {"b": [1, 2, {"c": "✓ \"quoted\""}]}]
    data = ("\ufeff [" + ",\n ".join(json.dumps(r, ensure_ascii=False) for r in records) + "]  \n").encode()
    expected = [(i + 1, r, None) for i, r in enumerate(records[:4])] + [
        (5, None, "JSON array element is a int, expected an object"), (6, records[5], None)]
    bad = '[{"a": "x"}, {"a": "é'.encode() + b"\xff" + b'"}]'
    for size in range(1, len(data) + 1):
        assert list(_array_records(io.BytesIO(data), "utf-8", size)) == expected, size
        assert list(_array_records(io.BytesIO(bad), "utf-8", size)) == [
            (1, {"a": "x"}, None), (2, None, "not valid utf-8; rest of the file skipped")], size
