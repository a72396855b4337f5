"""Hostile input in one real build (issue 13 acceptance): the hostile corpus of tests/ingest/test_hostile.py as the
sources of a `pairforge run` in its own process: no crash, every hostile file in the published quarantine table
with a reason, every good row published, no planted personal data in the manifest, the card or the quarantine
table, and the run's process tree stays under 2 GB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import polars as pl
import psutil
import yaml

from tests.conftest import REPO
from tests.ingest.test_hostile import EMAIL, MAX_RSS_BYTES, NAME, PHONE, SSN, build_corpus


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def test_one_build_over_the_hostile_corpus(prefect_server, tmp_path):
    from prefect.settings import PREFECT_API_URL

    (tmp_path / "corpus").mkdir()
    corpus = build_corpus(tmp_path / "corpus")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "hostile", "sources": corpus.sources, "work_shard_rows": 500,
        "langid": {"enabled": False}, "filters": {"enabled": False},
        "decontaminate": {"enabled": False}, "bounds": {"max_removed_share": 1.0},
        "export": {"uri": str(tmp_path / "out"), "keep_documents": True},
    }))
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    run = subprocess.Popen([sys.executable, "-m", "pairforge.flows.cli", "run", str(recipe), "--version", "v1"],
                           cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched, peak, deadline = psutil.Process(run.pid), 0, time.monotonic() + 900
    while run.poll() is None:
        peak = max(peak, tree_rss(watched))
        assert time.monotonic() < deadline, "the build did not finish in 15 minutes"
        time.sleep(0.5)
    output = run.stdout.read()
    assert run.returncode == 0, output[-3000:]
    print(f"\nhostile build: peak RSS of the run's process tree {peak / (1 << 20):.0f} MiB")
    assert peak < MAX_RSS_BYTES

    version = tmp_path / "out" / "hostile" / "v1"
    quarantine = pl.read_parquet(version / "quarantine" / "quarantine.parquet")
    reasons = dict(zip(quarantine["uri"], quarantine["reason"], strict=False))
    assert not [u for u in corpus.hostile if u not in reasons], "hostile files missing from the quarantine"
    texts = []
    for table, column in (("documents", "text"), ("pairs", "prompt")):
        for f in (version / table).glob("*.parquet"):
            texts += [t for t in pl.read_parquet(f, columns=[column])[column].to_list() if t]
    for marker in [m for markers in corpus.good.values() for m in markers] + corpus.kept:
        assert any(marker in t for t in texts), f"good row {marker} not published"
    # what describes the input (manifest, card, quarantine table) quotes none of it; rows that good parts of a
    # hostile file gave (a truncated JSON array's first records) are data, scrubbed like any row
    described = [version / "manifest.json", version / "README.md"]
    for path in described:
        for planted in (EMAIL, SSN, PHONE, NAME):
            assert planted not in path.read_text(), (planted, path.name)
    listed = quarantine.select("source", "uri", "row", "reason").write_ndjson()
    for planted in (EMAIL, SSN, PHONE, NAME):
        assert planted not in listed, planted
    manifest = json.loads((version / "manifest.json").read_text())
    assert sum(manifest["stats"]["quarantine"].values()) >= len(corpus.hostile)
