"""Generation end to end in Prefect: the real local llama.cpp server, every export format, the request
cache on a rerun, and endpoints that throttle or are dead."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pytest
import yaml

from pairforge.flows.build import build_dataset
from pairforge.tasks.pairs.llm_server import free_port
from pairforge.tasks.publish.training_formats import check_openai_chat
from tests.conftest import CORPORA, completion
from tests.flows.test_flow import check_version, read_table

ALL_FORMATS = ["parquet", "openai", "alpaca", "sharegpt", "llama2", "tokenized"]


def news(tmp_path: Path, n: int) -> Path:
    lines = (CORPORA / "text" / "lee_background.cor").read_text().splitlines()[:n]
    path = tmp_path / "news.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def recipe(tmp_path: Path, generate: dict, **extra) -> Path:
    body = {
        "name": "gen-set",
        "sources": [{"name": "news", "uri": str(news(tmp_path, 3)), "format": "text-lines", "license": "CC-BY-4.0"}],
        "generate": generate,
        "split": {"train": 0.6, "validation": 0.2, "test": 0.2},
        "export": {"uri": str(tmp_path / "out") + "/", "formats": ALL_FORMATS},
        **extra,
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def add_seed_source(path: Path, seed: Path) -> None:
    """Add the self-instruct seed file `seed` to the recipe at `path` as the source `seed`."""
    body = yaml.safe_load(path.read_text())
    body["sources"].append({"name": "seed", "uri": str(seed), "format": "self-instruct", "license": "CC-BY-NC-4.0"})
    path.write_text(yaml.safe_dump(body, sort_keys=False))


def test_generate_with_the_local_model_and_export_every_format(prefect_server, llm_server, tmp_path):
    seed = tmp_path / "seed.jsonl"  # a few seed tasks (they also flow through as imported pairs)
    seed.write_text("".join((CORPORA / "instruct" / "alpaca_seed_tasks.jsonl").read_text().splitlines(True)[:8]))
    path = recipe(tmp_path, {
        "base_url": llm_server.base_url, "model": llm_server.model, "max_concurrency": 2, "max_tokens": 400,
        "temperature": 0.0,
        "generators": [
            {"kind": "qa", "sources": ["news"], "per_chunk": 2, "chunk_tokens": 256, "max_chunks": 3},
            {"kind": "summarization", "sources": ["news"], "max_chunks": 1},
            {"kind": "classification", "sources": ["news"], "labels": ["politics", "disaster", "sport"],
             "max_chunks": 2},
            {"kind": "self-instruct", "sources": ["seed"], "count": 2},
            {"kind": "template", "count": 12},
        ],
        "judge": {"enabled": True, "min_score": 1},
    })
    add_seed_source(path, seed)

    uri = build_dataset(str(path), version="v1")

    manifest = check_version(uri)
    pairs = read_table(uri, manifest, "pairs")
    docs = read_table(uri, manifest, "documents")
    generated = pairs.filter(pl.col("origin") == "generated")
    assert {"arithmetic", "classification"} <= set(generated["task"])
    assert len(generated.filter(pl.col("task") == "arithmetic")) == 12
    grounded = generated.filter(pl.col("task").is_in(["qa", "summarization", "classification"]))
    assert len(grounded) >= 1
    assert set(grounded["doc_id"]) <= set(docs["id"])  # every generated pair links to its document
    assert set(grounded["license"]) == {"CC-BY-4.0"}  # and inherits its licence
    labels = generated.filter(pl.col("task") == "classification")["response"]
    assert set(labels) <= {"politics", "disaster", "sport"}

    stats = manifest["stats"]
    assert stats["llm"]["requests"] >= 8 and stats["llm"]["tokens_out"] > 0
    assert stats["llm"]["cache_hits"] == 0 and stats["llm"]["failures"] == 0
    # every training format: one file per Parquet shard, same rows, listed with checksums
    parquet = {(f["split"], f["path"].rsplit("/", 1)[1].split(".")[0]): f["rows"]
               for f in manifest["files"] if f["table"] == "pairs"}
    for fmt in ALL_FORMATS[1:]:
        files = {(f["split"], f["path"].rsplit("/", 1)[1].split(".")[0]): f["rows"]
                 for f in manifest["files"] if f["table"] == fmt}
        assert files == parquet, fmt
    for f in (f for f in manifest["files"] if f["table"] == "openai"):
        lines = (Path(uri) / f["path"]).read_text().splitlines()
        assert len(lines) == f["rows"]
        assert check_openai_chat(lines) == {}
    assert manifest["tokenizer"]

    # the same recipe again: every model answer comes from the cache, no new request
    again = check_version(build_dataset(str(path), version="v2"))
    assert again["stats"]["llm"]["requests"] == 0
    # one hit per request that succeeded the first time (a malformed answer was asked again)
    assert again["stats"]["llm"]["cache_hits"] == stats["llm"]["requests"] - stats["llm"]["malformed"]
    assert sorted(read_table(str(Path(uri).parent / "v2"), again, "pairs")["id"]) == sorted(pairs["id"])


def test_embedded_server_is_started_and_stopped(prefect_server, tmp_path):
    def servers() -> int:
        # this process's own children only: other test sessions on the machine run servers of their own
        out = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", "llama_cpp.server"], capture_output=True,
                             text=True).stdout
        return len(out.split())

    before = servers()
    path = recipe(tmp_path, {"max_tokens": 300, "temperature": 0.0,
                             "generators": [{"kind": "summarization", "max_chunks": 1}]},
                  export={"uri": str(tmp_path / "out") + "/"})
    uri = build_dataset(str(path), version="v1")
    manifest = check_version(uri)
    assert manifest["stats"]["llm"]["requests"] >= 1
    assert read_table(uri, manifest, "pairs")["task"].to_list() == ["summarization"]
    assert servers() == before  # the flow's own server is gone


def summary_reply(n: int, body: dict) -> tuple[int, dict, dict]:
    text = body["messages"][-1]["content"].split("Text:\n", 1)[1]
    return 200, {}, completion(" ".join(text.split()[:15]) + ".")


def test_throttled_endpoint_is_retried_and_counted(prefect_server, fake_openai, tmp_path):
    fake = fake_openai(lambda n, body: (429, {"Retry-After": "1"}, {"error": {"message": "slow down"}}) if n == 0
                       else summary_reply(n, body))
    path = recipe(tmp_path, {"base_url": fake.base_url, "model": "fake",
                             "generators": [{"kind": "summarization", "max_chunks": 2}]},
                  export={"uri": str(tmp_path / "out") + "/"})

    uri = build_dataset(str(path), version="v1")

    manifest = check_version(uri)
    llm = manifest["stats"]["llm"]
    assert llm["retries"] >= 1 and llm["failures"] == 0
    assert len(fake.calls) == 3  # two chunks, one of them asked twice
    first, body = fake.calls[0]
    retried = next(t for t, b in fake.calls[1:] if b == body)
    assert retried - first >= 0.9  # Retry-After honoured
    assert len(read_table(uri, manifest, "pairs")) == 2


def test_dead_endpoint_fails_the_run_with_every_request_in_the_dead_letter(prefect_server, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    path = recipe(tmp_path, {"base_url": dead, "model": "fake", "max_retries": 1, "timeout_s": 5,
                             "generators": [{"kind": "qa", "max_chunks": 3}, {"kind": "template", "count": 5}]},
                  export={"uri": str(tmp_path / "out") + "/"})

    state = build_dataset(str(path), version="v1", return_state=True)

    assert state.is_failed()
    with pytest.raises(Exception, match=r"3 of 3 model requests failed"):
        state.result()
    dataset = tmp_path / "out" / "gen-set"
    assert not list(dataset.glob("v1/**/*.*")) and not (dataset / "LATEST").exists()  # nothing published
    dead_letter = pl.concat([pl.read_parquet(p) for p in dataset.glob("_work/v1/dead_letter/**/*.parquet")])
    assert len(dead_letter) == 3 and dead_letter["error"].str.len_chars().min() > 0
    assert not list(dataset.glob("_cache/**/*.json"))  # failures are never cached


def test_preference_pairs_through_the_build_flow(prefect_server, llm_server, tmp_path):
    """The preference generator on the local model in a build: preference rows carry chosen/rejected and scores
    through every later stage, rejected items are in the rejected table with the reason, and the trl-dpo / trl-kto
    files hold exactly the preference rows (the manifest counts their records)."""
    seed = tmp_path / "seed.jsonl"
    seed.write_text("".join((CORPORA / "instruct" / "alpaca_seed_tasks.jsonl").read_text().splitlines(True)[:4]))
    path = recipe(tmp_path, {
        "base_url": llm_server.base_url, "model": llm_server.model, "max_concurrency": 2, "max_tokens": 200,
        "generators": [{"kind": "preference", "sources": ["seed"], "count": 4, "temperatures": [0.0, 1.2],
                        "min_margin": 1}],
    }, export={"uri": str(tmp_path / "out") + "/", "formats": ["parquet", "trl-dpo", "trl-kto", "llama-factory-dpo"]})
    add_seed_source(path, seed)

    uri = build_dataset(str(path), version="v1")

    manifest = check_version(uri)
    pairs = read_table(uri, manifest, "pairs")
    preference = pairs.filter(pl.col("rejected").is_not_null())
    rejected = [f for f in manifest["files"] if f["path"] == "rejected/pairs.parquet"]
    judged = len(preference) + (pl.read_parquet(Path(uri) / rejected[0]["path"]).filter(
        pl.col("stage") == "generate").height if rejected else 0)
    assert judged >= 1  # 4 prompts, each either a preference row or a rejected item
    assert set(pairs.filter(pl.col("rejected").is_null())["origin"]) <= {"imported"}  # the seeds themselves
    for row in preference.iter_rows(named=True):
        assert row["margin"] >= 1 and row["chosen_score"] - row["rejected_score"] == row["margin"]
        assert row["response"] != row["rejected"] and row["messages"][-1]["content"] == row["response"]
        assert row["origin"] == "generated" and row["license"] == "CC-BY-NC-4.0"
    if rejected:
        reasons = pl.read_parquet(Path(uri) / rejected[0]["path"]).filter(pl.col("stage") == "generate")["reason"]
        assert all(r.startswith("preference: ") for r in reasons)
    for fmt, per_row in (("trl-dpo", 1), ("trl-kto", 2)):
        files = [f for f in manifest["files"] if f["table"] == fmt]
        lines = [line for f in files for line in (Path(uri) / f["path"]).read_text().splitlines()]
        assert len(lines) == sum(f["rows"] for f in files) == per_row * len(preference), fmt
    files = [f for f in manifest["files"] if f["table"] == "llama-factory-dpo"]
    data, info = [f for f in files if f["split"]], next(f for f in files if f["split"] is None)
    records = [r for f in data for r in json.loads((Path(uri) / f["path"]).read_text())]
    assert len(records) == sum(f["rows"] for f in data) == len(preference)
    assert sorted(r["chosen"]["value"] for r in records) == sorted(preference["response"])
    entries = json.loads((Path(uri) / info["path"]).read_text())
    assert {e["file_name"] for e in entries.values()} == {f["path"].rsplit("/", 1)[1] for f in data}
    assert all(e["ranking"] is True for e in entries.values())
