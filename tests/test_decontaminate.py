"""tasks.decontaminate: training rows sharing 13-grams with the held-out splits or a benchmark file are removed,
checked against a plain-Python n-gram oracle on real articles and instructions."""

from __future__ import annotations

import json
import unicodedata

import polars as pl
import pytest

from tasks import storage
from tasks.decontaminate import benchmark_hashes, build_ngram_index, decontaminate_shard
from tasks.recipe import Benchmark, DecontaminateOptions, Source, SplitOptions
from tasks.schema import conform, stable_id
from tasks.shards import Shard, write_stage
from tasks.sources import stream_source_files
from tasks.split import plan_splits, split_shard
from tests.conftest import CORPORA

LINES = list(dict.fromkeys((CORPORA / "text" / "lee_background.cor").read_text(encoding="utf-8").splitlines()))
SEED_TASKS = CORPORA / "instruct" / "alpaca_seed_tasks.jsonl"
USER_TASKS = CORPORA / "instruct" / "user_oriented_instructions.jsonl"
FIELDS = {"documents": ["text"], "pairs": ["prompt", "response"]}


def grams(text: str | None, n: int = 13) -> set[tuple[str, ...]]:
    """The oracle: a text's word n-grams (lowercased, punctuation and symbols removed); short texts whole."""
    if text is None:
        return set()
    words = "".join(c for c in text.lower() if not unicodedata.category(c).startswith(("P", "S"))).split()
    if len(words) >= n:
        return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
    return {tuple(words)} if len(words) >= 3 else set()


def row_grams(row: dict, table: str) -> set[tuple[str, ...]]:
    return set().union(*(grams(row[f]) for f in FIELDS[table]))


def documents(texts: list[str]) -> pl.DataFrame:
    ids = [stable_id("lee", t) for t in texts]
    return conform(pl.DataFrame({"id": ids, "doc_id": ids, "text": texts, "source": "lee", "license": "LGPL-2.1"}),
                   "documents")


def self_instruct(path) -> pl.DataFrame:
    chunks = []
    stream_source_files(Source(name=path.stem.replace("_", "-"), uri=str(path), format="self-instruct",
                               license="Apache-2.0"), [str(path)], "en", 10_000, chunks.append)
    return pl.concat([c.rows for c in chunks])


def shard(df: pl.DataFrame, work: str, table: str, name: str) -> Shard:
    return write_stage(df, work, "ingest", Shard(table, name, "", 0))


def split(shards: list[Shard], work: str, opts: SplitOptions) -> list[Shard]:
    plan = plan_splits.fn(shards, opts, work)
    return [split_shard.fn(s, plan, work) for s in shards]


def decontaminate(shards: list[Shard], opts: DecontaminateOptions, work: str):
    """Index + every shard, as the flow runs them; returns (kept rows per table, rejected rows per table, counts)."""
    index = build_ngram_index.fn(shards, opts, work)
    kept, rejected, counts = {}, {}, {}
    for s in shards:
        out, c = decontaminate_shard.fn(s, index, opts, work)
        kept.setdefault(s.table, []).append(out.read())
        if c:
            rejected.setdefault(s.table, []).append(
                storage.read_parquet(storage.join(work, "rejected", s.table, f"decontaminate-{s.name}.parquet")))
        for k, v in c.items():
            counts[k] = counts.get(k, 0) + v
    return ({t: pl.concat(f) for t, f in kept.items()}, {t: pl.concat(f) for t, f in rejected.items()}, counts)


def test_pair_copied_from_the_test_split_into_training_is_removed(tmp_path):
    work = str(tmp_path)
    docs, pairs = documents(LINES), self_instruct(USER_TASKS)
    opts = SplitOptions(train=0.6, validation=0.2, test=0.2, seed=1)
    first = split([shard(docs, work, "documents", "lee-0-0"), shard(pairs, work, "pairs", "user-0-0")], work, opts)
    split_pairs = first[1].read()
    test_pair = split_pairs.filter(pl.col("split") == "test", pl.col("prompt").str.split(" ").list.len() >= 20).row(
        0, named=True)
    train_doc = first[0].read().filter(pl.col("split") == "train")["id"][0]
    # the same pair, re-imported as derived from a training document: it lands in training
    copy = pairs.filter(pl.col("id") == test_pair["id"]).with_columns(pl.lit("copied-pair").alias("id"),
                                                                        pl.lit(train_doc).alias("doc_id"))
    shards = split([shard(docs, work, "documents", "lee-0-0"),
                    shard(pl.concat([pairs, copy]), work, "pairs", "user-0-0")], work, opts)
    tables = {s.table: s.read() for s in shards}
    assert tables["pairs"].filter(pl.col("id") == "copied-pair")["split"].item() == "train"

    kept, rejected, counts = decontaminate(shards, DecontaminateOptions(), work)
    copied = rejected["pairs"].filter(pl.col("id") == "copied-pair").row(0, named=True)
    assert copied["reason"] == "overlaps test split (13-gram)" and copied["overlaps"] >= 10
    # exactly the training rows the oracle finds sharing an n-gram with a validation or test row are removed
    held_out = set()
    for table, df in tables.items():
        for row in df.filter(pl.col("split") != "train").iter_rows(named=True):
            held_out |= row_grams(row, table)
    for table, df in tables.items():
        train = df.filter(pl.col("split") == "train")
        expected = {r["id"] for r in train.iter_rows(named=True) if row_grams(r, table) & held_out}
        assert set(rejected.get(table, pl.DataFrame({"id": []}))["id"]) == expected, table
        assert len(kept[table]) == len(df) - len(expected)
        # held-out rows are never removed
        assert kept[table].filter(pl.col("split") != "train").height == df.filter(pl.col("split") != "train").height
    assert sum(counts.values()) == sum(len(r) for r in rejected.values()) < 40


def test_benchmark_item_copied_into_training_is_removed(tmp_path):
    work = str(tmp_path)
    bench_lines = SEED_TASKS.read_text(encoding="utf-8").splitlines()[:20]
    bench = tmp_path / "seed-bench.jsonl"
    bench.write_text("\n".join(bench_lines) + "\nnot json\n", encoding="utf-8")
    pairs = self_instruct(SEED_TASKS)  # all 175 seed tasks as training pairs: 20 of them are the benchmark
    shards = [shard(pairs.with_columns(pl.lit("train").alias("split")), work, "pairs", "seed-0-0")]
    opts = DecontaminateOptions(against_splits=False, benchmarks=[Benchmark(name="seed20", uri=str(bench))])
    kept, rejected, counts = decontaminate(shards, opts, work)

    bench_grams = set()
    for line in bench_lines:
        record = json.loads(line)
        for text in [record["instruction"]] + [v for inst in record["instances"] for v in inst.values()]:
            bench_grams |= grams(text)
    expected = {r["id"] for r in pairs.iter_rows(named=True) if row_grams(r, "pairs") & bench_grams}
    benchmark_ids = set(pairs["id"].head(20))
    assert benchmark_ids <= expected  # every copied item is found ...
    assert set(rejected["pairs"]["id"]) == expected  # ... and only rows that really share text with the benchmark
    assert counts == {"overlaps benchmark seed20 (13-gram)": len(expected)}
    assert len(kept["pairs"]) == 175 - len(expected) and len(expected) < 30


def test_benchmark_formats_give_the_same_ngrams(tmp_path):
    records = [json.loads(line) for line in SEED_TASKS.read_text(encoding="utf-8").splitlines()[:30]]
    flat = [{"instruction": r["instruction"], "input": r["instances"][0]["input"],
             "output": r["instances"][0]["output"]} for r in records]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in flat), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"data": flat}), encoding="utf-8")
    pl.DataFrame(flat).write_csv(tmp_path / "b.csv")
    pl.DataFrame(flat).write_parquet(tmp_path / "b.parquet")
    # a text file is read by line: one field per line
    (tmp_path / "b.txt").write_text("\n".join(v.replace("\n", " ") for r in flat for v in r.values() if v.strip()),
                                    encoding="utf-8")
    hashes = {ext: set(benchmark_hashes(Benchmark(name="b", uri=str(tmp_path / f"b.{ext}")), 13)["h"])
              for ext in ("jsonl", "json", "csv", "parquet", "txt")}
    assert len(hashes["jsonl"]) > 500
    assert all(h == hashes["jsonl"] for h in hashes.values())
    with pytest.raises(ValueError, match="benchmarks: missing: no file"):
        benchmark_hashes(Benchmark(name="missing", uri=str(tmp_path / "nothing-*.jsonl")), 13)


def test_short_texts_match_whole_labels_never_and_min_overlaps_counts(tmp_path):
    work = str(tmp_path)
    article = LINES[0].split()
    span = " ".join(article[10:23])  # 13 words of a held-out article
    held_out = documents([LINES[0]]).with_columns(pl.lit("test").alias("split"))
    bench = tmp_path / "labels.jsonl"
    bench.write_text(json.dumps({"question": "Is the sky blue on a clear day?", "answer": "Yes"}), encoding="utf-8")
    train = conform(pl.DataFrame([
        {"id": "quotes-13", "doc_id": "a", "prompt": "Summarise this.", "response": f"Before {span} after."},
        {"id": "short-question", "doc_id": "b", "prompt": "Is the sky blue on a clear day?", "response": "No."},
        {"id": "label-only", "doc_id": "c", "prompt": "Is water wet in your opinion today?", "response": "Yes"},
        {"id": "twelve-words", "doc_id": "d", "prompt": "Summarise this.", "response": " ".join(article[10:22])},
    ]), "pairs").with_columns(pl.lit("train").alias("split"))
    shards = [shard(held_out, work, "documents", "lee-0-0"), shard(train, work, "pairs", "mix-0-0")]
    bench_opt = [Benchmark(name="labels", uri=str(bench))]
    _, rejected, counts = decontaminate(shards, DecontaminateOptions(benchmarks=bench_opt), work)
    reasons = dict(rejected["pairs"].select("id", "reason").rows())
    assert reasons == {"quotes-13": "overlaps test split (13-gram)",
                       "short-question": "overlaps benchmark labels (13-gram)"}  # a one-word label matches nothing
    _, rejected2, _ = decontaminate(shards, DecontaminateOptions(benchmarks=bench_opt, min_overlaps=2), work)
    assert "pairs" not in rejected2  # one shared n-gram is not enough at min_overlaps: 2
