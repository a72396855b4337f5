"""tasks.ingest.sources: which files a source reads, compressed and missing files, streaming in bounded chunks,
batches, and S3 sources."""

from __future__ import annotations

import gzip
from pathlib import Path

import boto3
import polars as pl
import pytest

from pairforge.tasks.ingest.sources import SourceError, read_source_file, resolve_source_files
from tests.conftest import CORPORA
from tests.ingest.helpers import assert_provenance, jsonl, read_all, src


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


def test_missing_file_is_quarantined_not_raised(tmp_path):
    missing = tmp_path / "gone.jsonl"
    got = read_source_file(src(missing, "jsonl"), str(missing), "en")
    assert got.rows.is_empty()
    assert got.quarantine.select("uri", "row").rows() == [(str(missing), None)]
    assert "cannot read file" in got.quarantine["reason"][0]


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


# ---- one bad file never costs the others (issue 13) ----------------------------------------------


def test_a_reader_failing_on_one_file_quarantines_that_file_only(tmp_path, monkeypatch):
    from pairforge.tasks.ingest import readers
    from pairforge.tasks.ingest.readers.text import TextLines

    class Fragile(TextLines):
        def read(self, c, stream):
            if c.uri.endswith("b.txt"):
                c.document("kept before the failure")
                c.row = 2
                raise RuntimeError(f"parser broke on {c.uri}: 'jane.roe@example.com'")
            super().read(c, stream)

    monkeypatch.setitem(readers.FORMATS, "text-lines", Fragile())
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"line of {name}\n")
    rows, bad = read_all(src(tmp_path, "text-lines"))
    assert sorted(rows["text"]) == ["kept before the failure", "line of a.txt", "line of c.txt"]
    assert bad.select("uri", "row", "reason").rows() == [
        (str(tmp_path / "b.txt"), 2, "cannot read file at row 2 (RuntimeError: parser broke on); "
                                     "rest of the file skipped")]  # no path, no quoted value


def test_storage_failures_while_handing_on_rows_are_not_quarantined(tmp_path):
    from pairforge.tasks.core.storage import StorageError
    from pairforge.tasks.ingest.sources import stream_source_files

    (tmp_path / "a.txt").write_text("one\ntwo\n")

    def sink(chunk):
        raise StorageError("disk full")

    with pytest.raises(StorageError, match="disk full"):
        stream_source_files(src(tmp_path / "a.txt", "text-lines"), [str(tmp_path / "a.txt")], "en", 1, sink)


@pytest.mark.parametrize("pattern", ["folder", "glob"])
def test_entries_that_are_not_files_are_listed_with_what_they_are(tmp_path, pattern):
    import os

    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "good.txt").write_text("a good line\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.txt").write_text("\n  \n")
    (folder / "named-like-a-file.txt").mkdir()
    os.mkfifo(folder / "pipe.txt")
    os.symlink(folder / "nowhere", folder / "dangling.txt")
    os.symlink(folder / "loop2.txt", folder / "loop1.txt")
    os.symlink(folder / "loop1.txt", folder / "loop2.txt")
    os.symlink(folder / "named-like-a-file.txt", folder / "dir-link.txt")
    uri = str(folder) if pattern == "folder" else str(folder / "*.txt")
    source = src(uri, "text-lines")
    rows, bad = read_all(source)
    assert rows["text"].to_list() == ["a good line"]
    reasons = {Path(u).name: r for u, r in bad.select("uri", "reason").rows()}
    expected = {"empty.txt": "empty file", "blank.txt": "no rows in the file",
                "pipe.txt": "not a regular file: FIFO (named pipe)",
                "dangling.txt": "not a regular file: dangling symlink",
                "loop1.txt": "not a regular file: symlink loop", "loop2.txt": "not a regular file: symlink loop",
                "dir-link.txt": "not a regular file: directory"}
    if pattern == "glob":  # a folder is walked into; a glob matches the directory itself
        expected["named-like-a-file.txt"] = "not a regular file: directory"
    assert reasons == expected


def test_a_source_of_only_special_entries_is_a_recipe_error(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.txt")
    with pytest.raises(SourceError, match=r"source is empty: .*pipe.txt \(FIFO \(named pipe\)\)"):
        resolve_source_files(src(tmp_path / "pipe.txt", "text"))
