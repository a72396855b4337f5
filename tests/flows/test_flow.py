"""Integration tests: the build flow runs in Prefect (a real test server) end to end, to a local
folder and to a real S3-compatible server over HTTP, and the output is read back and checked."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from pathlib import Path

import boto3
import polars as pl
import pytest
import yaml

from pairforge.flows.build import build_dataset
from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import RunOptions
from pairforge.tasks.core.schema import DOCUMENTS, PAIRS, SPLITS
from tests.conftest import DEMO
from tests.core.test_stages import assert_registry_order

DATA = DEMO / "data"


def write_recipe(folder: Path, sources: list[dict], export_uri: str, **extra) -> Path:
    recipe = {"name": "test-set", "sources": sources, "export": {"uri": export_uri, "shard_rows": 25}, **extra}
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


DEMO_SOURCES = [
    {"name": "news", "uri": str(DATA / "news.txt"), "format": "text-lines", "license": "LGPL-2.1-only"},
    {"name": "seed", "uri": str(DATA / "seed.jsonl"), "format": "alpaca", "license": "Apache-2.0"},
    {"name": "chat", "uri": str(DATA / "chat.jsonl"), "format": "openai", "license": "MIT"},
]


def expected_counts() -> dict[str, int]:
    """Rows the demo inputs should yield, counted from the files themselves."""
    docs = len({line.strip() for line in (DATA / "news.txt").read_text().splitlines() if line.strip()})
    seed = sum(1 for line in (DATA / "seed.jsonl").read_text().splitlines() if line.strip())
    chats = [json.loads(line) for line in (DATA / "chat.jsonl").read_text().splitlines()]
    with_user = sum(1 for c in chats if any(m["role"] == "user" for m in c["messages"]))
    return {"documents": docs, "pairs": seed + with_user}


def check_version(version_uri: str) -> dict:
    """Read a version back: the manifest's row counts, sizes and checksums must match the files."""
    manifest = json.loads(storage.read_bytes(storage.join(version_uri, "manifest.json")))
    for key in ("dataset", "version", "created_at", "recipe_sha256", "files"):
        assert key in manifest
    listed = {f["path"] for f in manifest["files"]}
    on_disk = {u.removeprefix(version_uri + "/") for u, _ in storage.list_files(version_uri)} - {"manifest.json"}
    assert on_disk == listed, "files on storage and in the manifest differ"
    for f in manifest["files"]:
        data = storage.read_bytes(storage.join(version_uri, f["path"]))
        assert len(data) == f["bytes"]
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        if f["path"].endswith(".parquet"):
            frame = pl.read_parquet(io.BytesIO(data))
            assert len(frame) == f["rows"]
        if f["split"]:
            assert f["path"].split("/")[1].startswith(f["split"] + "-")
    return manifest


def read_table(version_uri: str, manifest: dict, table: str) -> pl.DataFrame:
    """A table's rows from every split, with a `split` column from the manifest."""
    frames = [storage.read_parquet(storage.join(version_uri, f["path"])).with_columns(split=pl.lit(f["split"]))
              for f in manifest["files"] if f["table"] == table and f["split"]]
    return pl.concat(frames)


def test_build_to_local_folder(prefect_server, tmp_path):
    recipe = write_recipe(tmp_path, DEMO_SOURCES, str(tmp_path / "out") + "/")
    uri = build_dataset(str(recipe), version="v1")

    assert uri == str(tmp_path / "out" / "test-set" / "v1")
    manifest = check_version(uri)
    assert (tmp_path / "out" / "test-set" / "LATEST").read_text().strip() == "v1"
    want = expected_counts()
    for table, schema in (("documents", DOCUMENTS), ("pairs", PAIRS)):
        frame = read_table(uri, manifest, table)
        assert len(frame) == want[table]
        assert frame["id"].n_unique() == len(frame)
        for name, dtype in schema.items():
            assert frame.schema[name] == dtype, name
        # one shard file per 25 rows at most, named <split>-0000i-of-000NN
        for split in SPLITS:
            files = [f for f in manifest["files"] if f["table"] == table and f["split"] == split]
            assert all(f["rows"] <= 25 for f in files)
            assert all(f["path"].endswith(f"-of-{len(files):05d}.parquet") for f in files)
    pairs = read_table(uri, manifest, "pairs")
    multi = pairs.filter(pl.col("messages").list.len() > 3)
    assert len(multi) == 1 and multi["system"][0] is not None  # the multi-turn chat kept every turn
    assert set(pairs["origin"]) == {"imported"}
    # the chat record without a user turn was quarantined, with its reason, and counted
    assert manifest["stats"]["quarantine"] == {"conversation has no user turn": 1}
    assert not (tmp_path / "out" / "test-set" / "_work" / "v1").exists()  # pre-scrub text is gone
    assert_registry_order(manifest["stats"]["stages"])


def test_build_to_s3(prefect_server, bucket, tmp_path):
    s3 = boto3.client("s3")
    for src in DEMO_SOURCES:
        s3.upload_file(src["uri"], bucket, f"raw/{src['name']}/{Path(src['uri']).name}")
    sources = [dict(src, uri=f"s3://{bucket}/raw/{src['name']}/") for src in DEMO_SOURCES]
    recipe = write_recipe(tmp_path, sources, f"s3://{bucket}/datasets/")

    uri = build_dataset(str(recipe), version="2026-11-25")

    assert uri == f"s3://{bucket}/datasets/test-set/2026-11-25"
    manifest = check_version(uri)
    latest = s3.get_object(Bucket=bucket, Key="datasets/test-set/LATEST")["Body"].read().decode().strip()
    assert latest == "2026-11-25"
    want = expected_counts()
    assert sum(sum(t["rows"].values()) for t in manifest["tables"].values()) == sum(want.values())
    assert read_table(uri, manifest, "pairs")["uri"].str.starts_with(f"s3://{bucket}/raw/").all()


def test_rerun_same_version_replaces_shards(prefect_server, tmp_path):
    recipe = write_recipe(tmp_path, DEMO_SOURCES[:1], str(tmp_path / "out") + "/")
    first = check_version(build_dataset(str(recipe), version="v1"))
    uri = build_dataset(str(recipe), version="v1", options=RunOptions(set=["export.shard_rows=7"]))
    second = check_version(uri)  # also asserts no file outside the manifest is left
    assert len(second["files"]) > len(first["files"])
    assert sum(f["rows"] or 0 for f in second["files"]) == sum(f["rows"] or 0 for f in first["files"])


PLANTED = {
    "PERSON": ["John Smith", "Maria Garcia"],
    "EMAIL_ADDRESS": ["john.smith@example.com", "m.garcia@mail.example.org"],
    "PHONE_NUMBER": ["212-555-0199", "(415) 555-0123"],
    "CREDIT_CARD": ["4111 1111 1111 1111", "5500-0000-0000-0004"],
}


def test_planted_pii_never_exported(prefect_server, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text(
        "My name is John Smith and my email is john.smith@example.com, call me at 212-555-0199.\n"
        "Maria Garcia paid with card 4111 1111 1111 1111 yesterday.\n"
        "Please send the invoice to m.garcia@mail.example.org or phone (415) 555-0123.\n"
        "The weather in the valley was mild for most of the week.\n"
    )
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps(r) for r in [
        {"instruction": "Write to John Smith at john.smith@example.com.", "input": "",
         "output": "Dear John Smith, your card 5500-0000-0000-0004 was charged."},
        {"instruction": "Who should I call?", "input": "Maria Garcia, (415) 555-0123",
         "output": "Call Maria Garcia on (415) 555-0123 or 212-555-0199."},
    ]) + "\n")
    recipe = write_recipe(tmp_path, [
        {"name": "docs", "uri": str(docs), "format": "text-lines", "license": "CC0-1.0"},
        {"name": "pairs", "uri": str(pairs), "format": "alpaca", "license": "CC0-1.0"},
    ], str(tmp_path / "out") + "/", split={"train": 0.5, "validation": 0.25, "test": 0.25})

    uri = build_dataset(str(recipe), version="v1")

    manifest = check_version(uri)
    exported = ""
    for f in manifest["files"]:
        data = (Path(uri) / f["path"]).read_bytes()
        is_parquet = f["path"].endswith(".parquet")
        exported += pl.read_parquet(io.BytesIO(data)).write_ndjson() if is_parquet else data.decode()
    exported += json.dumps(manifest)
    assert len(exported) > 500  # the rows are there ...
    for entity, values in PLANTED.items():
        for value in values:  # ... but none of the planted values
            assert value not in exported, f"{entity} leaked"
    assert "The weather in the valley was mild" in exported
    assert set(manifest["stats"]["pii_by_source"]) == {"docs", "pairs"}  # audit: counts per source, no values
    found = manifest["stats"]["pii"]
    assert found.get("EMAIL_ADDRESS", 0) >= 3 and found.get("CREDIT_CARD", 0) >= 2


def test_critical_expectation_failure_publishes_nothing(prefect_server, tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    for table in ("documents", "pairs"):
        (suites / f"{table}.json").write_text((Path(DEMO).parents[1] / "expectations" / f"{table}.json").read_text())
    strict = json.loads((suites / "documents.json").read_text())
    strict["expectations"].append({"type": "expect_column_value_lengths_to_be_between",
                                   "kwargs": {"column": "text", "max_value": 20}, "severity": "critical"})
    (suites / "documents.json").write_text(json.dumps(strict))
    recipe = write_recipe(tmp_path, DEMO_SOURCES[:2], str(tmp_path / "out") + "/",
                          validation={"suites_dir": str(suites)})

    state = build_dataset(str(recipe), version="v1", return_state=True)

    assert state.is_failed()
    with pytest.raises(Exception, match="critical expectations failed for documents"):
        state.result()
    dataset = tmp_path / "out" / "test-set"
    assert not (dataset / "v1").exists() or not any((dataset / "v1").rglob("*"))
    assert not (dataset / "LATEST").exists()
    kept = json.loads((dataset / "_work" / "v1" / "validation" / "documents.json").read_text())
    failed = [r for r in kept["summary"]["results"] if not r["success"]]
    assert [r["type"] for r in failed] == ["expect_column_value_lengths_to_be_between"]


def test_bad_input_is_quarantined_and_run_completes(prefect_server, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(
        b'{"text": "A perfectly fine first document about rivers."}\n'
        b'{"text": "broken json line\n'
        b'{"text": "caf\xe9 latin-1 bytes are not UTF-8"}\n'
        b'{"body": "wrong field name"}\n'
        b'{"text": "A fine last document about mountains."}\n'
    )
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "ok.txt").write_text("A whole file is one document here.")
    (tmp_path / "texts" / "bad.txt").write_bytes(b"\xff\xfe not utf-8 at all \x80")
    recipe = write_recipe(tmp_path, [
        {"name": "lines", "uri": str(good), "format": "jsonl", "license": "CC0-1.0"},
        {"name": "files", "uri": str(tmp_path / "texts" / "*.txt"), "format": "text", "license": "CC0-1.0"},
    ], str(tmp_path / "out") + "/")

    uri = build_dataset(str(recipe), version="v1")

    manifest = check_version(uri)
    # the Latin-1 line is decoded (encoding: auto), not quarantined; the file that is neither UTF-8 nor the
    # UTF-16 its byte order mark claims is
    assert sum(manifest["tables"]["documents"]["rows"].values()) == 4
    reasons = manifest["stats"]["quarantine"]
    assert sum(reasons.values()) == 3
    assert any(r.startswith("broken JSON") for r in reasons)
    assert reasons.get("missing field 'text'") == 1
    assert any(r.startswith("not valid utf-16 (byte") for r in reasons)
    assert manifest["stats"]["sources"]["lines"] == {"files": 1, "rows": 3, "quarantined": 2}
    # where each bad row was, for the user to fix (never its content)
    listed = pl.read_parquet(Path(uri) / "quarantine" / "quarantine.parquet")
    assert sorted(listed.filter(pl.col("source") == "lines")["row"].to_list()) == [2, 4]
    assert "wrong field name" not in listed.write_ndjson()
    docs = read_table(uri, manifest, "documents")
    decoded = docs.filter(pl.col("text").str.ends_with(" latin-1 bytes are not UTF-8"))
    assert decoded["source_encoding"].to_list() == ["cp1252"]


def test_run_is_recorded_in_prefect_with_artifacts(prefect_server, tmp_path):
    from prefect.client.orchestration import get_client

    recipe = write_recipe(tmp_path, DEMO_SOURCES[2:], str(tmp_path / "out") + "/")
    state = build_dataset(str(recipe), version="v1", return_state=True)
    assert state.is_completed()

    async def read() -> tuple:
        async with get_client() as client:
            run = await client.read_flow_run(state.state_details.flow_run_id)
            artifacts = await client.read_artifacts()
            return run, artifacts

    run, artifacts = asyncio.run(read())
    assert run.state.is_completed()
    report = [a for a in artifacts if a.key == "test-set-run-report" and a.flow_run_id == run.id]
    assert report and "conversation has no user turn" in report[0].data
    mine = {a.key: a for a in artifacts if a.flow_run_id == run.id}
    assert {"test-set-stage-counts", "test-set-source-counts", "test-set-progress"} <= set(mine)
    assert mine["test-set-progress"].data == 100.0  # moved along with the stages, finished at the end
    assert "chat" in str(mine["test-set-source-counts"].data)


def test_pii_worker_processes_give_the_same_dataset(prefect_server, tmp_path):
    """The PII stage in two worker processes (pii.processes=2) publishes the rows the in-process stage does."""
    recipe = write_recipe(tmp_path, DEMO_SOURCES, str(tmp_path / "out") + "/")
    built = {}
    for n in (1, 2):
        uri = build_dataset(str(recipe), version=f"p{n}", options=RunOptions(set=[f"pii.processes={n}"]))
        manifest = check_version(uri)
        # (not compared: the ingest time, and lingua's confidences, whose last bits vary from run to run)
        built[n] = {t: read_table(uri, manifest, t).drop("split", "retrieved_at", "lang_score", strict=False)
                    .sort("id") for t in ("documents", "pairs")}
        assert manifest["stats"]["pii"]  # something was found and replaced
    for table in ("documents", "pairs"):
        assert built[2][table].equals(built[1][table]), table


def test_tool_calling_records_through_the_build(prefect_server, tmp_path):
    """OpenAI tool records and real ShareGPT tool data through every stage: a call that breaks its schema is
    quarantined with its path, personal data in call arguments is scrubbed, records without any come out of the
    openai export byte for byte, and the framework exports sit beside the Parquet shards."""
    import orjson

    from tests.ingest.helpers import GLAIVE_SLICE, TOOL_RECORDS

    tools_file = tmp_path / "tools.jsonl"
    tools_file.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in TOOL_RECORDS))
    sources = [{"name": "tools", "uri": str(tools_file), "format": "openai", "license": "MIT"},
               {"name": "glaive", "uri": str(GLAIVE_SLICE), "format": "sharegpt", "license": "Apache-2.0"}]
    formats = ["parquet", "openai", "trl-sft", "llama-factory", "axolotl"]
    recipe = write_recipe(tmp_path, sources, str(tmp_path / "out") + "/",
                          export={"uri": str(tmp_path / "out") + "/", "shard_rows": 25, "formats": formats})
    version_uri = build_dataset(str(recipe), version="v1")
    manifest = check_version(version_uri)
    quarantine = storage.read_parquet(storage.join(version_uri, "quarantine", "quarantine.parquet"))
    assert quarantine.filter(pl.col("source") == "glaive").select("row", "reason").rows() == [
        (11, "conversations[3].value.arguments.calories_per_item: array is not of type 'number'")]
    pairs = read_table(version_uri, manifest, "pairs")
    assert pairs.filter(pl.col("source") == "glaive").height >= 8 and pairs["tools"].null_count() < pairs.height

    lines = [line for f in manifest["files"] if f["table"] == "openai" and f["split"]
             for line in storage.read_bytes(storage.join(version_uri, f["path"])).splitlines()]
    text = b"\n".join(lines).decode()
    assert "jane.doe@example.com" not in text and "Jane Doe" not in text
    for record in TOOL_RECORDS[1:3]:  # no personal data in these two: unchanged, byte for byte
        assert orjson.dumps(record) in lines
    scrubbed = next(json.loads(line) for line in lines if b"get_time" in line and b"Asia/Tokyo" in line)
    assert json.loads(scrubbed["messages"][2]["tool_calls"][0]["function"]["arguments"])["notify"] != (
        "jane.doe@example.com")

    info = json.loads(storage.read_bytes(storage.join(version_uri, "llama-factory", "dataset_info.json")))
    data_files = {f["path"].split("/", 1)[1] for f in manifest["files"] if f["table"] == "llama-factory" and f["split"]}
    assert {e["file_name"] for e in info.values()} == data_files
    for fmt in ("trl-sft", "axolotl"):
        rows = sum(len(storage.read_bytes(storage.join(version_uri, f["path"])).splitlines())
                   for f in manifest["files"] if f["table"] == fmt)
        assert rows == pairs.height
