"""tasks.curate.decontaminate: training rows sharing 13-grams with the held-out splits or a benchmark file are removed,
checked against a plain-Python n-gram oracle on real articles and instructions; shared templates are not content."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import unicodedata
from collections import Counter

import polars as pl
import pytest

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import Benchmark, DecontaminateOptions, GeneratorSpec, Source, SplitOptions
from pairforge.tasks.core.schema import conform, stable_id
from pairforge.tasks.core.shards import Shard, apply_row_stage, contents_key, write_stage
from pairforge.tasks.curate.decontaminate import benchmark_hashes, build_ngram_index, top_ngrams
from pairforge.tasks.ingest.sources import stream_source_files
from pairforge.tasks.pairs.generators.classification import classification_prompt
from pairforge.tasks.publish.split import plan_splits, split_shard
from tests.conftest import CORPORA

LINES = list(dict.fromkeys((CORPORA / "text" / "lee_background.cor").read_text(encoding="utf-8").splitlines()))
SEED_TASKS = CORPORA / "instruct" / "alpaca_seed_tasks.jsonl"
USER_TASKS = CORPORA / "instruct" / "user_oriented_instructions.jsonl"
FIELDS = {"documents": ["text"], "pairs": ["prompt", "response"]}


def gram_list(text: str | None, n: int = 13) -> list[tuple[str, ...]]:
    """The oracle: a text's word n-grams in order (lowercased, punctuation and symbols removed); short texts whole."""
    if text is None:
        return []
    words = "".join(c for c in text.lower() if not unicodedata.category(c).startswith(("P", "S"))).split()
    if len(words) >= n:
        return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return [tuple(words)] if len(words) >= 3 else []


def grams(text: str | None, n: int = 13) -> set[tuple[str, ...]]:
    return set(gram_list(text, n))


def row_grams(row: dict, table: str) -> set[tuple[str, ...]]:
    return set().union(*(grams(row[f]) for f in FIELDS[table]))


def content_grams(texts: list[tuple[str, str | None]], n: int = 13) -> set[tuple[str, ...]]:
    """The oracle's index of (unit, text) pairs (held-out rows by document, or a benchmark's distinct strings): their
    n-grams but boilerplate (in more than max(2, 1%) of the units) and any n-gram sharing a word with it."""
    units: dict[str, set] = {}
    for unit, text in texts:
        units.setdefault(unit, set()).update(gram_list(text, n))
    counts = Counter(g for found in units.values() for g in found)
    common = {g for g, c in counts.items() if c > max(2, 0.01 * len(units))}
    out = set()
    for _, text in texts:
        seq = gram_list(text, n)
        out |= {g for p, g in enumerate(seq) if not common & set(seq[max(0, p - n + 1):p + n])}
    return out


def held_out_texts(tables: dict[str, pl.DataFrame]) -> list[tuple[str, str | None]]:
    """(document, text) of each text field of each validation and test row."""
    return [(row["doc_id"] or row["id"], row[f]) for table, df in tables.items()
            for row in df.filter(pl.col("split") != "train").iter_rows(named=True) for f in FIELDS[table]]


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
    return [split_shard.fn(s, plan, work).shard for s in shards]


def decontaminate(shards: list[Shard], opts: DecontaminateOptions, work: str):
    """Index + every shard, as the flow runs them; returns (kept rows per table, rejected rows per table, counts)."""
    index = build_ngram_index.fn(shards, opts, work, contents_key([b.uri for b in opts.benchmarks]))
    kept, rejected, counts = {}, {}, {}
    for s in shards:
        if s.table not in opts.tables:  # the build passes them through
            kept.setdefault(s.table, []).append(s.read())
            continue
        res = apply_row_stage.fn("decontaminate", s, (index, opts), work)
        kept.setdefault(s.table, []).append(res.shard.read())
        if res.rejected_uri:
            rejected.setdefault(s.table, []).append(storage.read_parquet(res.rejected_uri))
        for k, v in res.rejected.items():
            counts[k] = counts.get(k, 0) + v
    return ({t: pl.concat(f) for t, f in kept.items()}, {t: pl.concat(f) for t, f in rejected.items()}, counts)


def with_a_test_pair_copied_into_training(docs: pl.DataFrame, pairs: pl.DataFrame, name: str, work: str,
                                          opts: SplitOptions, min_words: int = 0):
    """Split, then split again with one test pair (of at least `min_words` prompt words) re-imported as
    `copied-pair`, derived from a training document. Returns (shards, frames by table)."""
    first = split([shard(docs, work, "documents", "lee-0-0"), shard(pairs, work, "pairs", name)], work, opts)
    test_pair = first[1].read().filter(
        pl.col("split") == "test", pl.col("prompt").str.split(" ").list.len() >= min_words).row(0, named=True)
    train_doc = first[0].read().filter(pl.col("split") == "train")["id"][0]
    copy = pairs.filter(pl.col("id") == test_pair["id"]).with_columns(pl.lit("copied-pair").alias("id"),
                                                                        pl.lit(train_doc).alias("doc_id"))
    shards = split([shard(docs, work, "documents", "lee-0-0"),
                    shard(pl.concat([pairs, copy]), work, "pairs", name)], work, opts)
    return shards, {s.table: s.read() for s in shards}


def test_pair_copied_from_the_test_split_into_training_is_removed(tmp_path):
    work = str(tmp_path)
    docs, pairs = documents(LINES), self_instruct(USER_TASKS)
    opts = SplitOptions(train=0.6, validation=0.2, test=0.2, seed=1)
    shards, tables = with_a_test_pair_copied_into_training(docs, pairs, "user-0-0", work, opts, min_words=20)
    # the same pair, re-imported as derived from a training document: it lands in training
    assert tables["pairs"].filter(pl.col("id") == "copied-pair")["split"].item() == "train"

    kept, rejected, counts = decontaminate(shards, DecontaminateOptions(), work)
    copied = rejected["pairs"].filter(pl.col("id") == "copied-pair").row(0, named=True)
    assert copied["reason"] == "overlaps test split (13-gram)" and copied["overlaps"] >= 10
    # exactly the training rows the oracle finds sharing an n-gram with a validation or test row are removed
    held_out = content_grams(held_out_texts(tables))
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

    strings = {text for line in bench_lines for record in [json.loads(line)]
               for text in [record["instruction"]] + [v for inst in record["instances"] for v in inst.values()]}
    bench_grams = content_grams([(text, text) for text in strings])
    expected = {r["id"] for r in pairs.iter_rows(named=True) if row_grams(r, "pairs") & bench_grams}
    benchmark_ids = set(pairs["id"].head(20))
    assert benchmark_ids <= expected  # every copied item is found ...
    assert set(rejected["pairs"]["id"]) == expected  # ... and only rows that really share text with the benchmark
    assert counts == {"overlaps benchmark seed20 (13-gram)": len(expected)}
    assert len(kept["pairs"]) == 175 - len(expected) and len(expected) < 30
    # each removed row names an n-gram it shares: one the benchmark holds (the oracle's index) and one of its own
    grams = rejected["pairs"]["overlap_ngram"].to_list()
    assert all(g and len(g.split()) <= 13 for g in grams)  # (a text shorter than 13 words: whole)
    for row, gram in zip(rejected["pairs"].iter_rows(named=True), grams, strict=True):
        assert tuple(gram.split()) in bench_grams and tuple(gram.split()) in row_grams(row, "pairs")
    assert top_ngrams([]) == []


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


def test_a_resumed_run_does_not_reuse_an_index_of_an_older_benchmark_file(tmp_path):
    """Same work area (a resumed run), the benchmark file edited in between: the index is built again."""
    work = str(tmp_path)
    train = conform(pl.DataFrame([{"id": "p1", "doc_id": "a", "prompt": "Summarise this.", "response": LINES[1]}]),
                    "pairs").with_columns(pl.lit("train").alias("split"))
    shards = [shard(train, work, "pairs", "p-0-0")]
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"text": LINES[2]}), encoding="utf-8")
    opts = DecontaminateOptions(against_splits=False, benchmarks=[Benchmark(name="b", uri=str(bench))])
    assert decontaminate(shards, opts, work)[1] == {}
    bench.write_text(json.dumps({"text": LINES[1]}), encoding="utf-8")  # now it holds the training text
    _, rejected, _ = decontaminate(shards, opts, work)
    assert rejected["pairs"]["id"].to_list() == ["p1"]


LABELS = ["world", "sports", "business", "science"]
CLASSIFY = GeneratorSpec(kind="classification", labels=LABELS)


def classification_pairs(docs: pl.DataFrame) -> pl.DataFrame:
    """One pair per document as the classification generator makes it: its prompt template around the text."""
    return conform(docs.select(
        pl.col("id").map_elements(lambda i: stable_id("classify", i), return_dtype=pl.String).alias("id"),
        pl.col("id").alias("doc_id"),
        pl.col("text").map_elements(lambda t: classification_prompt(CLASSIFY, t).strip(),
                                    return_dtype=pl.String).alias("prompt"),
        pl.Series("response", [LABELS[i % 4] for i in range(len(docs))]),
        "source", "license", pl.lit("classification").alias("task")), "pairs")


def test_shared_prompt_template_is_not_contamination_but_a_copied_test_pair_is(tmp_path):
    work = str(tmp_path)
    docs = documents(LINES[:160])
    pairs = classification_pairs(docs)
    opts = SplitOptions(train=0.6, validation=0.2, test=0.2, seed=3)
    shards, tables = with_a_test_pair_copied_into_training(docs, pairs, "cls-0-0", work, opts)
    train_pairs = tables["pairs"].filter(pl.col("split") == "train")
    held_out_pairs = tables["pairs"].filter(pl.col("split") != "train")
    # the template alone is a 13-gram ("classify the text into one of these labels world sports business science
    # text"): indexed as is, it would match every training pair
    template = grams(classification_prompt(CLASSIFY, "").strip())
    assert len(template) == 1 and all(template <= row_grams(r, "pairs") for r in train_pairs.iter_rows(named=True))
    assert all(template <= row_grams(r, "pairs") for r in held_out_pairs.iter_rows(named=True))
    assert held_out_pairs["doc_id"].n_unique() > 40

    kept, rejected, counts = decontaminate(shards, DecontaminateOptions(), work)
    copied = rejected["pairs"].filter(pl.col("id") == "copied-pair").row(0, named=True)
    assert copied["reason"] == "overlaps test split (13-gram)" and copied["overlaps"] >= 10
    held_out = content_grams(held_out_texts(tables))
    assert not template & held_out
    for table, df in tables.items():
        expected = {r["id"] for r in df.filter(pl.col("split") == "train").iter_rows(named=True)
                    if row_grams(r, table) & held_out}
        assert set(rejected.get(table, pl.DataFrame({"id": []}))["id"]) == expected, table
    # the copy and at most a few real overlaps (the corpus holds one article twice, typos fixed) among ~95 pairs
    assert len(train_pairs) > 90 and len(rejected["pairs"]) <= 3
    assert len(kept["pairs"]) == len(tables["pairs"]) - len(rejected["pairs"])


def test_benchmark_template_is_not_contamination_but_a_copied_item_is(tmp_path):
    work = str(tmp_path)
    bench_docs, train_docs = documents(LINES[160:220]), documents(LINES[220:280])
    items = [{"prompt": classification_prompt(CLASSIFY, t), "label": LABELS[i % 4]}
             for i, t in enumerate(bench_docs["text"])]
    bench = tmp_path / "news-cls.jsonl.gz"
    bench.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in items).encode()))
    copied = classification_pairs(bench_docs.slice(7, 1)).with_columns(pl.lit("copied-item").alias("id"))
    train = pl.concat([classification_pairs(train_docs), copied]).with_columns(pl.lit("train").alias("split"))
    opts = DecontaminateOptions(against_splits=False, benchmarks=[Benchmark(name="news-cls", uri=str(bench))])
    kept, rejected, counts = decontaminate([shard(train, work, "pairs", "cls-0-0")], opts, work)

    template = grams(classification_prompt(CLASSIFY, "").strip())
    bench_grams = content_grams([(s, s) for s in {v for r in items for v in r.values()}])
    expected = {r["id"] for r in train.iter_rows(named=True) if row_grams(r, "pairs") & bench_grams}
    assert not template & bench_grams and "copied-item" in expected and len(expected) <= 3
    assert set(rejected["pairs"]["id"]) == expected
    assert counts == {"overlaps benchmark news-cls (13-gram)": len(expected)}
    assert len(kept["pairs"]) == len(train) - len(expected) > 55


def test_compressed_benchmarks_are_decompressed_by_suffix(tmp_path):
    lines = SEED_TASKS.read_text(encoding="utf-8").splitlines()[:30]
    data = "\n".join(lines).encode()
    (tmp_path / "b.jsonl").write_bytes(data)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(data))
    (tmp_path / "B.JSONL.BZ2").write_bytes(bz2.compress(data))
    (tmp_path / "b.json.xz").write_bytes(lzma.compress(data))  # JSON Lines under a .json name
    hashes = {name: set(benchmark_hashes(Benchmark(name="b", uri=str(tmp_path / name)), 13)["h"])
              for name in ("b.jsonl", "b.jsonl.gz", "B.JSONL.BZ2", "b.json.xz")}
    assert len(hashes["b.jsonl"]) > 500
    assert all(h == hashes["b.jsonl"] for h in hashes.values())
    # read as text lines, the gzip file would have given other n-grams: it really was decompressed
    (tmp_path / "raw.txt").write_bytes(gzip.compress(data).replace(b"\0", b" "))
    assert not set(benchmark_hashes(Benchmark(name="raw", uri=str(tmp_path / "raw.txt")), 13)["h"]) & hashes["b.jsonl"]

    (tmp_path / "b.jsonl.zst").write_bytes(data)
    (tmp_path / "plain.jsonl.gz").write_bytes(data)  # named .gz, not compressed
    (tmp_path / "table.dat").write_bytes(gzip.compress(data))  # a binary file of no known kind
    for name, message in (("b.jsonl.zst", r"b\.jsonl\.zst: cannot read a \.zst file"),
                          ("plain.jsonl.gz", r"plain\.jsonl\.gz: not a valid \.gz file"),
                          ("table.dat", r"table\.dat: cannot read a \.dat file")):
        with pytest.raises(ValueError, match=message):
            benchmark_hashes(Benchmark(name="bad", uri=str(tmp_path / name)), 13)
