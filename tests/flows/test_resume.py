"""Resume, not redo: a run killed mid-way and run again with the same version reuses every finished
shard and every answered model request; and the same flow on a Dask cluster gives the same rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import yaml

from pairforge.flows.build import build_dataset, task_runner
from pairforge.tasks.pairs.generate import LLM_LIMIT
from tests.conftest import CORPORA, REPO, completion
from tests.flows.test_flow import DEMO_SOURCES, check_version, read_table


def _content(body: dict) -> str:
    return body["messages"][-1]["content"]


def release_model_slots() -> None:
    """A SIGKILLed run cannot give back its slots of the global model limit, and the test server never reclaims
    them: without this, every later test that talks to a model would wait for them forever."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(LLM_LIMIT, GlobalConcurrencyLimitUpdate(active_slots=0))
        assert client.read_global_concurrency_limit_by_name(LLM_LIMIT).active_slots == 0


def test_killed_run_resumes_without_recomputing(prefect_server, fake_openai, tmp_path):
    from prefect.settings import PREFECT_API_URL

    slow = {"on": True}  # during the first run, classification requests hang until the run is killed

    def reply(n, body):
        text = _content(body)
        if text.startswith("Classify"):
            return 200, {}, completion(json.dumps({"label": "news"}))
        return 200, {}, completion(" ".join(text.split("Text:\n", 1)[1].split()[:12]) + ".")

    fake = fake_openai(reply, delay=lambda n, body: 60 if slow["on"] and _content(body).startswith("Classify")
                       else 0)
    lines = (CORPORA / "text" / "lee_background.cor").read_text().splitlines()[:60]
    (tmp_path / "news.txt").write_text("\n".join(lines) + "\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "resume-set",
        "sources": [{"name": "news", "uri": "news.txt", "format": "text-lines", "license": "CC-BY-4.0"}],
        "work_shard_rows": 10,
        "generate": {"base_url": fake.base_url, "model": "fake", "max_concurrency": 2, "generators": [
            {"kind": "summarization", "max_chunks": 4},
            {"kind": "classification", "labels": ["news", "sport"], "max_chunks": 3},
        ]},
        "export": {"uri": "out/", "keep_work": True},  # keep the markers to look at them afterwards
    }))
    work = tmp_path / "out" / "resume-set" / "_work" / "k1"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    first = subprocess.Popen([sys.executable, "-m", "pairforge.flows.cli", "run", str(recipe), "--version", "k1"],
                             cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not list(work.glob("_done/generate/00-summarization-*.pkl")):
            assert first.poll() is None, "the first run ended before it could be killed"
            assert time.monotonic() < deadline, "the first run never finished its first generator"
            time.sleep(0.2)
        while not any(_content(b).startswith("Classify") for _, b in fake.calls):  # mid-way through generation
            time.sleep(0.1)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        release_model_slots()
    finished = {p: p.stat().st_mtime_ns for p in work.glob("_done/**/*.pkl")}
    answered = {json.dumps(b, sort_keys=True) for _, b in fake.calls if not _content(b).startswith("Classify")}
    stages = {p.parent.name for p in finished}
    per_shard = {"normalize", "langid", "pii", "dedup-signature", "dedup"}  # 60 lines in shards of 10
    assert stages == per_shard | {"ingest", "dedup-find", "generate"}
    assert len(finished) == 1 + 6 * len(per_shard) + 1 + 1
    asked_before = len(fake.calls)

    slow["on"] = False
    uri = build_dataset(str(recipe), version="k1")

    for marker, mtime in finished.items():  # reused as they were, not recomputed
        assert marker.stat().st_mtime_ns == mtime
    asked_again = [json.dumps(b, sort_keys=True) for _, b in fake.calls[asked_before:]]
    assert asked_again and not answered & set(asked_again)  # no answered request was paid twice
    assert all(_content(json.loads(b)).startswith("Classify") for b in asked_again)
    manifest = check_version(uri)
    docs = read_table(uri, manifest, "documents")
    assert len(docs) == len(set(lines)) and docs["id"].n_unique() == len(docs)  # nothing lost or doubled
    pairs = read_table(uri, manifest, "pairs")
    assert pairs["id"].n_unique() == len(pairs)
    assert set(pairs["task"]) == {"summarization", "classification"}
    llm = manifest["stats"]["llm"]
    assert llm["resumed_tasks"] == 1 and llm["requests"] == 3 and llm["cache_hits"] == 0  # summaries: marker
    reused = manifest["stats"]["reused"]  # the rerun says what it took over
    assert set(reused) == per_shard - {"dedup-signature"} | {"ingest", "generate"}, reused
    assert reused["pii"] == reused["normalize"] == len(set(lines)) and reused["generate"] == 4


def test_dask_cluster_gives_the_same_rows(prefect_server, tmp_path):
    def build(folder: Path, **options) -> dict[tuple[str, str], set[str]]:
        """Ids per (table, split) of a version built from the demo sources."""
        folder.mkdir()
        path = folder / "recipe.yaml"
        path.write_text(yaml.safe_dump({"name": "dask-set", "sources": DEMO_SOURCES, "work_shard_rows": 15,
                                        "export": {"uri": str(folder / "out") + "/"}}))
        uri = (build_dataset.with_options(**options) if options else build_dataset)(str(path), version="v1")
        out: dict[tuple[str, str], set[str]] = {}
        for f in check_version(uri)["files"]:
            if f["split"]:
                ids = pl.read_parquet(Path(uri) / f["path"], columns=["id"])["id"]
                out.setdefault((f["table"], f["split"]), set()).update(ids)
        return out

    threads = build(tmp_path / "threads")
    dask = build(tmp_path / "dask", task_runner=task_runner("dask", workers=2))
    assert dask == threads
    assert sum(len(ids) for (table, _), ids in threads.items() if table == "documents") == 40
    assert sum(len(ids) for (table, _), ids in threads.items() if table == "pairs") == 64
