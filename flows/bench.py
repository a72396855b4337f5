"""Benchmarks. `bench_pii` times the PII stage against bare spaCy and a naive Presidio loop, same texts, one process.

python -m flows.bench        # prints the table
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path

from tasks.pii import MODEL_NAME, get_scrubber, nlp_configuration
from tasks.recipe import PIIOptions

PII_CORPUS = Path(__file__).resolve().parents[2] / "shared/corpora/pii/generated_small.json"
WARMUP_DOCS = 50
TARGET_VS_PIPE = 0.6  # PII stage >= 0.6x bare nlp.pipe
TARGET_VS_NAIVE = 2.0  # PII stage >= 2x the naive per-document loop


def _counter_word(i: int) -> str:
    # letters, not digits: digits would make every text a phone-number candidate
    return "".join("bcdfghjklm"[int(c)] for c in str(i))


def pii_texts(n: int, texts_path: str | Path | None = None) -> list[str]:
    """n distinct texts cycled from the corpus's `full_text` records (a counter word makes each one unique)."""
    records = json.loads(Path(texts_path or PII_CORPUS).read_text(encoding="utf-8"))
    base = [r["full_text"] for r in records if r.get("full_text")]
    return [f"{t} Ref {_counter_word(i)}." for i, t in zip(range(n), itertools.cycle(base))]


def _timed(name: str, fn, texts: list[str]) -> dict:
    fn(texts[:WARMUP_DOCS])  # warm-up: lazy loading, first-call caches
    start = time.perf_counter()
    fn(texts)
    seconds = time.perf_counter() - start
    return {
        "name": name,
        "docs": len(texts),
        "seconds": round(seconds, 3),
        "docs_per_s": round(len(texts) / seconds, 1),
    }


def bench_pii(n: int = 1500, texts_path: str | None = None) -> list[dict]:
    """Time (a) bare nlp.pipe, (b) naive analyze+anonymize per document, (c) Scrubber.scrub. Build cost excluded.

    Rows: {name, docs, seconds, docs_per_s} per run, then {name, ratio, target, met} per ratio."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    texts = pii_texts(n, texts_path)
    options = PIIOptions()

    nlp = spacy.load(MODEL_NAME)  # full pipeline, as loaded

    def bare(batch):
        for _ in nlp.pipe(batch, batch_size=options.batch_size):
            pass

    scrubber = get_scrubber(options)  # also patches tldextract, so (b) makes no network attempt either
    # the out-of-the-box way: all predefined recognizers, one analyze + anonymize call per text
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # one warning per non-English recognizer
    analyzer = AnalyzerEngine(
        nlp_engine=NlpEngineProvider(nlp_configuration=nlp_configuration(options)).create_engine()
    )
    anonymizer = AnonymizerEngine()

    def naive(batch, **kw):
        for text in batch:
            anonymizer.anonymize(text=text, analyzer_results=analyzer.analyze(text, language="en", **kw))

    def naive_same(batch):  # for information: shows the gain is not just from looking for fewer entities
        naive(batch, entities=options.entities, score_threshold=options.threshold)

    rows = [
        _timed("nlp.pipe, bare full pipeline", bare, texts),
        _timed("naive analyze+anonymize loop", naive, texts),
        _timed("  naive, stage's entities+threshold (info)", naive_same, texts),
        _timed("PII stage (Scrubber.scrub)", scrubber.scrub, texts),
    ]
    pipe, loop, stage = rows[0]["docs_per_s"], rows[1]["docs_per_s"], rows[3]["docs_per_s"]
    for name, ratio, target in (
        ("pii stage / nlp.pipe", stage / pipe, TARGET_VS_PIPE),
        ("pii stage / naive loop", stage / loop, TARGET_VS_NAIVE),
    ):
        rows.append({"name": name, "ratio": round(ratio, 2), "target": target, "met": ratio >= target})
    return rows


def print_pii_bench(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = [r for r in rows if "docs_per_s" in r]
    table = Table(
        title=f"PII stage benchmark ({runs[0]['docs']} texts, one process; engines built and warmed up on "
        f"{WARMUP_DOCS} texts before timing)"
    )
    for col in ("stage", "docs", "seconds", "docs/s", "ratio", "target", "met"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for r in runs:
        table.add_row(r["name"], str(r["docs"]), f"{r['seconds']:.2f}", f"{r['docs_per_s']:.0f}", "", "", "")
    for r in rows:
        if "ratio" in r:
            ok = "[green]yes[/]" if r["met"] else "[red]no[/]"
            table.add_row(r["name"], "", "", "", f"{r['ratio']:.2f}x", f">= {r['target']}x", ok)
    Console(width=max(Console().width, 100)).print(table)


if __name__ == "__main__":
    print_pii_bench(bench_pii())
