"""flows.bench_pipeline: the corpus it builds (seeded, real sentences, a share with personal data), the fallback to the
corpora a plain checkout carries, the process-tree RSS sampler, and the ratios and targets it derives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pairforge.flows import bench, bench_pipeline
from pairforge.flows.bench_pipeline import (
    EMBEDDED,
    SHARED,
    BenchCorpus,
    bench_corpus,
    checks,
    make_documents,
    pii_records,
    sentences,
    summarise,
)


@pytest.fixture
def no_shared(monkeypatch, tmp_path):
    """A checkout without ../shared: the shared corpus's files do not exist."""
    gone = BenchCorpus("shared", tmp_path / "x.cor", tmp_path / "x.xml.bz2", tmp_path / "x.json")
    monkeypatch.setattr(bench_pipeline, "SHARED", gone)
    return gone


def test_embedded_corpus_is_in_the_checkout_and_used_without_shared(no_shared):
    assert EMBEDDED.available()
    assert bench_corpus() is EMBEDDED
    assert bench_corpus("embedded") is EMBEDDED
    with pytest.raises(FileNotFoundError, match="x.cor"):
        bench_corpus("shared")
    with pytest.raises(ValueError):
        bench_corpus("elsewhere")
    # only English records are planted; the own set also holds German and Spanish ones
    records = pii_records(EMBEDDED)
    assert len(records) >= 50 and all((r.get("metadata") or {}).get("lang", "en") == "en" for r in records)


def test_shared_corpus_preferred_when_present():
    assert bench_corpus() is SHARED


def test_documents_are_seeded_real_length_with_a_share_of_personal_data(no_shared):
    docs = make_documents(300, EMBEDDED, seed=3)
    assert docs == make_documents(300, EMBEDDED, seed=3)
    assert docs != make_documents(300, EMBEDDED, seed=4)
    planted = {r["full_text"].strip() for r in pii_records(EMBEDDED)}
    for d in docs:
        parts = [s for para in d["text"].split("\n") for s in sentences(para, min_words=1, max_words=10_000)]
        with_pii = [p for p in planted if p in d["text"]]
        assert bool(with_pii) == d["pii"]
        assert 10 <= len(parts) <= 40 + 3 * 4  # a planted sentence may split in several
    share = sum(d["pii"] for d in docs) / len(docs)
    assert 0.12 <= share <= 0.28
    assert len({d["text"] for d in docs}) == len(docs)


def test_memory_and_pii_benches_run_on_a_plain_checkout(no_shared, tmp_path):
    wiki = bench.write_memory_corpus("wikipedia", tmp_path, 200_000)
    lines = bench.write_memory_corpus("text-lines", tmp_path, 100_000)
    assert wiki.stat().st_size > 1000 and lines.stat().st_size >= 100_000
    texts = bench.pii_texts(5)
    assert len(texts) == 5 and len(set(texts)) == 5


def test_tree_rss_counts_children():
    child = subprocess.Popen([sys.executable, "-c", "b = bytearray(200 << 20); import time; time.sleep(30)"])
    try:
        alone, own = bench_pipeline._tree_rss_mb(child.pid)
        deadline = time.monotonic() + 20
        while alone < 150 and time.monotonic() < deadline:
            time.sleep(0.2)
            alone, own = bench_pipeline._tree_rss_mb(child.pid)
        assert alone >= 150 and own == alone  # a process without children: its tree is itself
        tree, mine = bench_pipeline._tree_rss_mb(os.getpid())
        assert tree > alone and tree > mine  # the child is in this process's tree, not in its own RSS
    finally:
        child.kill()
        child.wait()


def _run(stages: dict[str, float], run_s: float, flow_s: float, own_cpu: float, server_cpu: float = 0.0) -> dict:
    return {"stages": [{"stage": k, "seconds": v, "cpu": v / 2, "tree_cpu": v / 2, "rows": [["documents", 100, 90]]}
                       for k, v in stages.items()],
            "run_s": run_s, "flow_s": flow_s, "run_cpu": [own_cpu + 3, server_cpu + 5],
            "flow_cpu": [own_cpu, server_cpu], "before_flow_s": 5.0, "after_flow_s": 1.0, "tree_peak_mb": 1000.0,
            "self_peak_mb": 900.0}  # fmt: skip


def test_summary_ratios_and_targets():
    result = {"docs": 100, "runs": {
        "full": _run({"langid": 2.0, "pii": 50.0}, 70.0, 60.0, 30.0, 1.0),
        "nopii-prefect-0": _run({"langid": 1.0, "pii": 0.0}, 25.0, 21.0, 10.4, 1.0),
        "nopii-direct-0": _run({"langid": 1.0, "pii": 0.0}, 20.0, 20.0, 10.0),
        "nopii-direct-1": _run({"langid": 1.0, "pii": 0.0}, 20.0, 20.0, 10.0),
        "nopii-prefect-1": _run({"langid": 1.0, "pii": 0.0}, 15.0, 21.0, 10.4, 1.0),
        "full-one-process": _run({"langid": 2.0, "pii": 90.0}, 110.0, 100.0, 70.0, 1.0),
    }, "cores": 2, "baselines": {"docs": 100, "naive": 20.0, "pipe": 25.0, "naive_cpu": 10.0, "pipe_cpu": 10.0,
                  "tree_peak_mb": 800.0}}  # fmt: skip
    s = summarise(result)
    by = {r["name"].split(",")[0].split(" (")[0]: r for r in s["ratios"]}
    # the engine is compared in one process (the one-process run: pii 90 s wall, 45 s CPU)
    naive = by["PII stage in one process / naive Presidio analyze+anonymize loop"]
    assert naive["checked_on"] == "cpu" and naive["ratio"] == pytest.approx((100 / 45) / (100 / 10))
    assert naive["wall"] == pytest.approx((100 / 90) / (100 / 20)) and naive["met"] is False
    pipe = by["PII stage in one process / bare NER-only spaCy nlp.pipe"]
    assert pipe["ratio"] == pytest.approx((100 / 45) / (100 / 10))
    langid = by["language ID share of a no-PII run"]
    assert langid["checked_on"] == "wall" and langid["ratio"] == pytest.approx(1.0 / 20.0) and langid["met"]
    orchestration = by["Prefect flow / the same stage functions called directly"]
    assert orchestration["ratio"] == pytest.approx(1.04) and orchestration["met"]
    assert orchestration["wall"] == pytest.approx(21 / 20)
    with_server = by["  the same with the temporary server's CPU added"]
    assert with_server["cpu"] == pytest.approx(11.4 / 10) and with_server["met"] is None
    processes = by["PII stage in 2 worker processes / in the run's process"]
    assert processes["checked_on"] == "wall" and processes["ratio"] == pytest.approx(90 / 50) and processes["met"]
    missed = checks(s)
    assert len(missed) == 2 and all("PII stage" in m and "cpu seconds" in m for m in missed)
    assert s["stages"]["prefect"]["langid"] == 1.0 and s["pii_docs"] == 100
    json.dumps(s)  # printable as JSON too
    bench_pipeline.print_pipeline_bench({**result, "seed": 0, "pii_docs": 20, "chars": 300_000, "corpus": "x",
                                         "rounds": 2}, s)  # fmt: skip


def test_cli_refuses_bad_options():
    from typer.testing import CliRunner

    from pairforge.flows.cli import app

    out = CliRunner().invoke(app, ["bench", "pipeline", "--docs", "5"])
    assert out.exit_code == 2 and "--docs" in out.output


def test_heavy_libraries_load_only_when_their_stage_runs():
    """Importing the flow and the CLI loads neither Great Expectations (seconds) nor lingua (models): the
    validation and language ID stages import them on first use, once per process."""
    code = ("import sys, pairforge.flows.build, pairforge.flows.cli; "
            "print(sorted(m for m in ('great_expectations', 'lingua') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "[]"
