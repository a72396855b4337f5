"""tasks.publish.export: contract-named shards, manifest, LATEST, re-runs, verification; local and S3."""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from datetime import datetime

import boto3
import polars as pl
import pyarrow.parquet as pq
import pytest

from pairforge.tasks.core import storage
from pairforge.tasks.core.schema import DOCUMENTS, PAIRS
from pairforge.tasks.core.shards import Shard
from pairforge.tasks.publish.export import read_manifest, resolve_version_uri, verify_files, write_table, write_version

SPLIT_PAIRS = PAIRS | {"split": pl.String}
SPLIT_DOCS = DOCUMENTS | {"split": pl.String}
SHARD_NAME = re.compile(r"^(pairs|documents)/(train|validation|test)-(\d{5})-of-(\d{5})\.parquet$")


def pair_rows(n: int, split: str, start: int = 0) -> list[dict]:
    return [
        {"id": f"{split}-{i}", "doc_id": f"{split}-{i}", "prompt": f"question {i}", "response": f"answer {i}",
         "messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}],
         "system": None, "source": "src", "uri": "file.jsonl", "license": "MIT", "lang": "en",
         "origin": "imported", "split": split}
        for i in range(start, start + n)
    ]


def work_shard(work: str, name: str, rows: list[dict], table: str = "pairs") -> Shard:
    """A split-stage work shard: the table's columns plus `split`, written through storage."""
    df = pl.DataFrame(rows, schema=SPLIT_PAIRS if table == "pairs" else SPLIT_DOCS, orient="row")
    uri = storage.join(work, "split", table, f"{name}.parquet")
    storage.write_parquet(df, uri)
    return Shard(table, name, uri, len(df))


@pytest.fixture
def shards(tmp_path) -> list[Shard]:
    """23 train, 5 validation, 0 test pairs over two work shards, plus 2 exact duplicates."""
    work = str(tmp_path / "work")
    first = pair_rows(15, "train") + pair_rows(3, "validation")
    second = pair_rows(8, "train", start=15) + pair_rows(2, "validation", start=3) + pair_rows(2, "train")[:2]
    return [work_shard(work, "a", first), work_shard(work, "b", second)]


def export(shards, dataset_uri, version="v1", shard_rows=10, extra_files=None, sha="abc123"):
    return write_version({"pairs": shards}, dataset_uri, version, shard_rows=shard_rows,
                         extra_files=extra_files or {}, manifest_fields={"dataset": "demo", "recipe_sha256": sha})


def shard_files(manifest: dict) -> list[dict]:
    return [f for f in manifest["files"] if f["split"] is not None]


def test_shard_names_row_groups_and_compression(tmp_path, shards):
    out = str(tmp_path / "out" / "demo")
    m = export(shards, out, shard_rows=10)
    expected_rows = {"train": 23, "validation": 5, "test": 0}
    by_split: dict[str, list[dict]] = {}
    for f in shard_files(m):
        match = SHARD_NAME.match(f["path"])
        assert match, f["path"]
        assert (match[1], match[2]) == (f["table"], f["split"])
        by_split.setdefault(f["split"], []).append(f)
    for split, n in expected_rows.items():
        files = sorted(by_split[split], key=lambda f: f["path"])
        total = max(1, math.ceil(n / 10))
        assert [f["path"] for f in files] == [f"pairs/{split}-{i:05d}-of-{total:05d}.parquet" for i in range(total)]
        assert sum(f["rows"] for f in files) == n
        assert all(f["rows"] <= 10 for f in files)

    for f in shard_files(m):
        meta = pq.ParquetFile(tmp_path / "out" / "demo" / "v1" / f["path"]).metadata
        assert meta.num_rows == f["rows"]
        assert all(meta.row_group(i).num_rows <= 10 for i in range(meta.num_row_groups))
        if f["rows"]:
            assert {meta.row_group(0).column(c).compression for c in range(meta.num_columns)} == {"ZSTD"}


def test_large_split_is_cut_at_shard_rows(tmp_path):
    shard = work_shard(str(tmp_path / "work"), "big", pair_rows(250, "train"))
    m = export([shard], str(tmp_path / "out"), shard_rows=120)
    assert [(f["path"], f["rows"]) for f in shard_files(m) if f["split"] == "train"] == [
        ("pairs/train-00000-of-00003.parquet", 120),
        ("pairs/train-00001-of-00003.parquet", 120),
        ("pairs/train-00002-of-00003.parquet", 10),
    ]
    meta = pq.ParquetFile(tmp_path / "out" / "v1" / "pairs" / "train-00000-of-00003.parquet").metadata
    assert sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == 120
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 120


def test_exported_rows_keep_contract_columns_and_drop_duplicates(tmp_path, shards):
    m = export(shards, str(tmp_path / "out"))
    stats = m["tables"]["pairs"]
    assert {k: v for k, v in stats.items() if k != "tokens"} == {"rows": {"train": 23, "validation": 5, "test": 0},
                                                                  "exact_duplicates_dropped": 2}
    version = tmp_path / "out" / "v1"
    frames = [pl.read_parquet(version / f["path"]) for f in shard_files(m)]
    assert all(df.schema == PAIRS for df in frames)  # contract columns; the work-only `split` is gone
    rows = pl.concat(frames)
    assert len(rows) == 28 and rows["id"].n_unique() == 28
    # every row's length in the (default) GGUF tokenizer, and its distribution per split in the stats
    from pairforge.tasks.publish.tokenizer import get_tokenizer

    tok = get_tokenizer()
    assert rows["tokens"].to_list() == [len(tok.apply_chat([{"role": "user", "content": p},
                                                             {"role": "assistant", "content": r}])[0])
                                        for p, r in zip(rows["prompt"], rows["response"], strict=True)]
    assert stats["tokens"]["tokenizer"] == m["tokenizer"] == tok.name
    assert stats["tokens"]["splits"]["test"]["rows"] == 0
    assert stats["tokens"]["splits"]["train"]["rows"] == 23 and stats["tokens"]["splits"]["train"]["total"] == sum(
        rows.filter(pl.col("id").is_in(pl.concat([pl.read_parquet(version / f["path"]) for f in shard_files(m)
                                                  if f["split"] == "train"])["id"].implode()))["tokens"])
    # each row went to the split it was tagged with
    train = pl.concat([pl.read_parquet(version / f["path"]) for f in shard_files(m) if f["split"] == "train"])
    assert set(train["id"]) == {f"train-{i}" for i in range(23)}


def test_manifest_matches_files(tmp_path, shards):
    card = b"# demo\n"
    m = export(shards, str(tmp_path / "out" / "demo"), extra_files={"README.md": card}, sha="f00d")
    version = tmp_path / "out" / "demo" / "v1"
    on_disk = json.loads((version / "manifest.json").read_text())
    assert on_disk == m == read_manifest(str(version))
    assert m["dataset"] == "demo" and m["version"] == "v1" and m["recipe_sha256"] == "f00d"
    assert datetime.fromisoformat(m["created_at"]).tzinfo is not None
    for f in m["files"]:
        assert set(f) >= {"path", "table", "split", "rows", "bytes", "sha256"}
        data = (version / f["path"]).read_bytes()
        assert f["bytes"] == len(data)
        assert f["sha256"] == hashlib.sha256(data).hexdigest()
        if f["split"] is not None:
            assert f["rows"] == pl.read_parquet(io.BytesIO(data)).height
    readme = next(f for f in m["files"] if f["path"] == "README.md")
    assert readme["split"] is None and (version / "README.md").read_bytes() == card
    # the manifest lists every file of the version folder, nothing more, nothing less
    listed = {f["path"] for f in m["files"]} | {"manifest.json"}
    assert {p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file()} == listed
    assert verify_files(str(version), m) == []


def test_latest_points_at_newest_version(tmp_path, shards):
    out = str(tmp_path / "out" / "demo")
    export(shards, out, version="2024-01-01")
    assert (tmp_path / "out" / "demo" / "LATEST").read_text().strip() == "2024-01-01"
    export(shards, out, version="2024-01-02")
    assert (tmp_path / "out" / "demo" / "LATEST").read_text().strip() == "2024-01-02"
    assert resolve_version_uri(out) == storage.join(out, "2024-01-02")
    assert resolve_version_uri(out + "/") == storage.join(out, "2024-01-02")
    assert resolve_version_uri(storage.join(out, "2024-01-01")) == storage.join(out, "2024-01-01")
    assert read_manifest(resolve_version_uri(out))["version"] == "2024-01-02"


def test_resolve_version_uri_without_manifest_or_latest(tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "pairs").mkdir()
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        resolve_version_uri(str(tmp_path / "half"))


def test_empty_split_gets_one_empty_shard(tmp_path, shards):
    m = export(shards, str(tmp_path / "out"))
    test_files = [f for f in shard_files(m) if f["split"] == "test"]
    assert [(f["path"], f["rows"]) for f in test_files] == [("pairs/test-00000-of-00001.parquet", 0)]
    empty = pl.read_parquet(tmp_path / "out" / "v1" / test_files[0]["path"])
    assert empty.height == 0 and empty.schema == PAIRS


def test_no_shards_at_all_still_writes_every_split(tmp_path):
    files, stats = write_table("documents", [], str(tmp_path / "v"), shard_rows=5)
    assert sorted(f["path"] for f in files) == [f"documents/{s}-00000-of-00001.parquet"
                                                for s in ("test", "train", "validation")]
    assert stats == {"rows": {"train": 0, "validation": 0, "test": 0}, "exact_duplicates_dropped": 0}
    assert pl.read_parquet(tmp_path / "v" / "documents" / "train-00000-of-00001.parquet").schema == DOCUMENTS


def test_empty_work_shard_among_others(tmp_path):
    """A work shard whose rows were all rejected upstream is an empty file; export must not trip on it."""
    work = str(tmp_path / "work")
    shards = [work_shard(work, "a", pair_rows(3, "train")), work_shard(work, "empty", []),
              work_shard(work, "c", pair_rows(2, "test"))]
    files, stats = write_table("pairs", shards, str(tmp_path / "v"), shard_rows=10)
    assert stats["rows"] == {"train": 3, "validation": 0, "test": 2}
    assert sum(f["rows"] for f in files) == 5


def test_documents_table(tmp_path):
    rows = [{"id": f"d{i}", "doc_id": f"d{i}", "text": f"text {i}", "source": "s", "uri": "u", "license": "MIT",
             "lang": "en", "split": "validation" if i % 4 == 0 else "train"} for i in range(12)]
    shard = work_shard(str(tmp_path / "work"), "docs", rows, table="documents")
    files, stats = write_table("documents", [shard], str(tmp_path / "v"), shard_rows=4)
    assert stats["rows"] == {"train": 9, "validation": 3, "test": 0}
    assert sorted(f["path"] for f in files if f["split"] == "train") == [
        f"documents/train-{i:05d}-of-00003.parquet" for i in range(3)]
    assert pl.read_parquet(tmp_path / "v" / files[0]["path"]).schema == DOCUMENTS


def test_rerun_same_version_with_other_shard_rows_leaves_no_stale_files(tmp_path, shards):
    out = str(tmp_path / "out")
    version = tmp_path / "out" / "v1"
    first = export(shards, out, shard_rows=4, extra_files={"validation/old-report.json": b"{}"})
    assert "pairs/train-00005-of-00006.parquet" in {f["path"] for f in first["files"]}
    (version / "pairs" / "junk-from-a-crash.parquet").write_bytes(b"partial")

    second = export(shards, out, shard_rows=10)
    listed = {f["path"] for f in second["files"]}
    on_disk = {p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file()}
    assert on_disk == listed | {"manifest.json"}
    assert "pairs/train-00000-of-00003.parquet" in on_disk
    assert not any("-of-00006" in p for p in on_disk)
    assert "validation/old-report.json" not in on_disk
    assert verify_files(str(version), second) == []


def test_file_uri_export_keeps_its_shards(tmp_path, shards):
    out = f"file://{tmp_path}/out"
    m = export(shards, out)
    assert verify_files(storage.join(out, "v1"), m) == []
    assert (tmp_path / "out" / "v1" / "pairs" / "train-00000-of-00003.parquet").is_file()


def test_verify_files_detects_tampering_and_missing_files(tmp_path, shards):
    m = export(shards, str(tmp_path / "out"))
    version = tmp_path / "out" / "v1"
    target = version / shard_files(m)[0]["path"]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    target.write_bytes(bytes(data))
    problems = verify_files(str(version), m)
    assert problems == [f"{shard_files(m)[0]['path']}: size or sha256 differs from the manifest"]

    gone = shard_files(m)[1]["path"]
    (version / gone).unlink()
    problems = verify_files(str(version), m)
    assert len(problems) == 2 and problems[1].startswith(f"{gone}: cannot read")


def test_write_version_does_not_consume_callers_fields(tmp_path, shards):
    fields = {"dataset": "demo", "recipe_sha256": "abc"}
    for _ in range(2):  # a retry passes the same dict again
        m = write_version({"pairs": shards}, str(tmp_path / "out"), "v1", shard_rows=10, extra_files={},
                          manifest_fields=fields)
        assert m["dataset"] == "demo"
    assert fields == {"dataset": "demo", "recipe_sha256": "abc"}


def test_export_to_s3(bucket, tmp_path, shards):
    dataset = f"s3://{bucket}/datasets/demo"
    m = export(shards, dataset, version="v1", shard_rows=10, extra_files={"README.md": b"# card"})
    s3 = boto3.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="datasets/demo/")["Contents"]}
    assert keys == {f"datasets/demo/v1/{f['path']}" for f in m["files"]} | {
        "datasets/demo/v1/manifest.json", "datasets/demo/LATEST"}
    assert s3.get_object(Bucket=bucket, Key="datasets/demo/LATEST")["Body"].read().decode().strip() == "v1"

    version = resolve_version_uri(dataset)
    assert version == f"{dataset}/v1"
    assert read_manifest(version) == m
    assert verify_files(version, m) == []
    train = storage.read_parquet(f"{version}/pairs/train-00000-of-00003.parquet")
    assert train.height == 10 and train.schema == PAIRS

    # re-run with other shard sizes: stale objects go
    m2 = export(shards, dataset, version="v1", shard_rows=30)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="datasets/demo/v1/")["Contents"]}
    assert keys == {f"datasets/demo/v1/{f['path']}" for f in m2["files"]} | {"datasets/demo/v1/manifest.json"}
    assert "datasets/demo/v1/pairs/train-00000-of-00001.parquet" in keys


# ---- training formats beside the pairs shards ----------------------------------------------------

ALL_FORMATS = ["parquet", "openai", "alpaca", "sharegpt", "llama2", "tokenized", "trl-sft", "llama-factory", "axolotl"]
FORMAT_NAME = re.compile(r"^(openai|alpaca|sharegpt|llama2|tokenized|trl-sft|llama-factory|axolotl)/"
                         r"(train|validation|test)-(\d{5})-of-(\d{5})\.(jsonl|json|parquet)$")
EXT = {"openai": "jsonl", "alpaca": "json", "sharegpt": "json", "llama2": "jsonl", "tokenized": "parquet",
       "trl-sft": "jsonl", "llama-factory": "json", "axolotl": "jsonl"}


def records_of(fmt: str, data: bytes) -> list:
    if fmt == "tokenized":
        return pl.read_parquet(io.BytesIO(data)).to_dicts()
    if EXT[fmt] == "json":
        return json.loads(data)
    return [json.loads(line) for line in data.decode().splitlines()]


def test_export_with_every_format(tmp_path, shards):
    from pairforge.tasks.publish.tokenizer import IGNORE_INDEX, get_tokenizer
    from pairforge.tasks.publish.training_formats import check_openai_chat

    m = write_version({"pairs": shards}, str(tmp_path / "out"), "v1", shard_rows=10, extra_files={},
                      manifest_fields={"dataset": "demo"}, formats=ALL_FORMATS)
    version = tmp_path / "out" / "v1"
    assert m["formats"] == ALL_FORMATS and m["tokenizer"] == "SmolLM2-135M-Instruct (GGUF vocab)"
    parquet = {f["path"]: f for f in m["files"] if f["table"] == "pairs"}
    assert len(parquet) == 3 + 1 + 1  # train 23 rows / 10 -> 3 shards, validation 5 -> 1, test 0 -> 1
    for fmt, ext in EXT.items():
        entries = [f for f in m["files"] if f["table"] == fmt and f["split"]]  # not llama-factory's index
        # one file per Parquet shard, same split, index and row count
        assert sorted(f["path"] for f in entries) == sorted(
            f"{fmt}/{p.removeprefix('pairs/').removesuffix('.parquet')}.{ext}" for p in parquet)
        for f in entries:
            assert FORMAT_NAME.match(f["path"]) and f["split"] in f["path"]
            data = (version / f["path"]).read_bytes()
            assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
            twin = parquet[f"pairs/{f['path'].split('/', 1)[1].rsplit('.', 1)[0]}.parquet"]
            rows = pl.read_parquet(version / twin["path"])
            records = records_of(fmt, data)
            assert f["rows"] == twin["rows"] == len(records) == rows.height
            if fmt == "openai":  # same rows, same order
                assert [r["messages"][-1]["content"] for r in records] == rows["response"].to_list()
                assert check_openai_chat(data.decode().splitlines()) == {}
            if fmt == "alpaca":
                assert [r["instruction"] for r in records] == rows["prompt"].to_list()
            if fmt == "tokenized":
                tok = get_tokenizer()
                assert [r["id"] for r in records] == rows["id"].to_list()
                for r, response in zip(records, rows["response"], strict=True):
                    trained = [x for x, y in zip(r["input_ids"], r["labels"], strict=True) if y != IGNORE_INDEX]
                    assert tok.decode(trained) == response and r["length"] == len(r["input_ids"])
    first = (version / "llama2" / "train-00000-of-00003.jsonl").read_text().splitlines()[0]
    assert json.loads(first) == {"text": "<s>[INST] question 0 [/INST] answer 0 </s>"}
    assert json.loads((version / "alpaca" / "test-00000-of-00001.json").read_text()) == []
    # LLaMA-Factory's dataset_info.json names every data file beside it (one dataset per file), and is listed
    info = json.loads((version / "llama-factory" / "dataset_info.json").read_text())
    data_files = sorted(f["path"].split("/", 1)[1] for f in m["files"] if f["table"] == "llama-factory" and f["split"])
    assert sorted(e["file_name"] for e in info.values()) == data_files and len(data_files) == 5
    assert info["train-00000-of-00003"]["file_name"] == "train-00000-of-00003.json"
    assert {e["formatting"] for e in info.values()} == {"sharegpt"}
    index = [f for f in m["files"] if f["path"] == "llama-factory/dataset_info.json"]
    assert len(index) == 1 and index[0]["split"] is None and index[0]["table"] == "llama-factory"
    listed = {f["path"] for f in m["files"]} | {"manifest.json"}
    assert {p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file()} == listed
    assert verify_files(str(version), m) == []

    # a re-run with Parquet only removes the format files of the earlier attempt
    m2 = export(shards, str(tmp_path / "out"))
    assert m2["formats"] == ["parquet"] and m2["tokenizer"] == m["tokenizer"]  # it counted the pairs' tokens
    assert not any((version / fmt).exists() and any((version / fmt).iterdir()) for fmt in EXT)


def test_formats_follow_shard_rows_when_a_split_is_cut(tmp_path):
    shard = work_shard(str(tmp_path / "work"), "big", pair_rows(25, "train"))
    files, _ = write_table("pairs", [shard], str(tmp_path / "v"), shard_rows=10, formats=["parquet", "sharegpt"])
    assert [(f["path"], f["rows"]) for f in files if f["table"] == "sharegpt" and f["split"] == "train"] == [
        ("sharegpt/train-00000-of-00003.json", 10),
        ("sharegpt/train-00001-of-00003.json", 10),
        ("sharegpt/train-00002-of-00003.json", 5),
    ]
    last = json.loads((tmp_path / "v" / "sharegpt" / "train-00002-of-00003.json").read_text())
    assert last[-1]["conversations"] == [{"from": "human", "value": "question 24"},
                                         {"from": "gpt", "value": "answer 24"}]


def test_formats_are_for_pairs_only_and_must_be_known(tmp_path, shards):
    rows = [{"id": "d", "doc_id": "d", "text": "t", "source": "s", "uri": "u", "license": "MIT", "lang": "en",
             "split": "train"}]
    doc = work_shard(str(tmp_path / "work"), "docs", rows, table="documents")
    files, _ = write_table("documents", [doc], str(tmp_path / "v"), shard_rows=5, formats=["parquet", "openai"])
    assert {f["table"] for f in files} == {"documents"}
    with pytest.raises(ValueError, match="unknown export formats"):
        write_version({"pairs": shards}, str(tmp_path / "out"), "v1", shard_rows=10, extra_files={},
                      manifest_fields={"dataset": "demo"}, formats=["parquet", "csv"])
    assert not (tmp_path / "out").exists()  # refused before anything was written
    # parquet is written even when the list leaves it out
    m = write_version({"pairs": shards}, str(tmp_path / "out"), "v1", shard_rows=10, extra_files={},
                      manifest_fields={"dataset": "demo"}, formats=["openai"])
    assert m["formats"] == ["parquet", "openai"]
    assert {f["table"] for f in m["files"]} == {"pairs", "openai", "card"}


def test_export_formats_to_s3(bucket, shards):
    dataset = f"s3://{bucket}/datasets/demo"
    m = write_version({"pairs": shards}, dataset, "v1", shard_rows=30, extra_files={},
                      manifest_fields={"dataset": "demo"}, formats=["parquet", "openai", "llama2"])
    assert {f["path"] for f in m["files"] if f["table"] not in ("pairs", "card")} == {
        f"{fmt}/{s}-00000-of-00001.jsonl" for fmt in ("openai", "llama2") for s in ("train", "validation", "test")}
    assert verify_files(f"{dataset}/v1", m) == []
    lines = storage.read_bytes(f"{dataset}/v1/openai/train-00000-of-00001.jsonl").decode().splitlines()
    assert len(lines) == 23 and json.loads(lines[0])["messages"][0] == {"role": "user", "content": "question 0"}
