"""Decontamination: drop training rows that share word n-grams with held-out splits or benchmarks.

Every text is lowercased, stripped of punctuation and cut into words; its n-grams (`ngram` words) are
hashed. A text shorter than n words counts as one n-gram of all its words (matched whole), unless it
has fewer than MIN_WHOLE_WORDS words: labels and one-word answers ("yes", "B", "positive") would
otherwise match every training row that has the same short answer. The texts of a row are its fields
(documents: text; pairs: prompt and response, and each earlier turn of a multi-turn conversation); of a benchmark,
every string field of every record (text files: every line). Benchmark files may be compressed (`.gz`, `.bz2`,
`.xz`): the suffix before tells the format.

Boilerplate is not content: an n-gram found in more than max(2, 1%) of the held-out documents (a
shared prompt template such as the classification generator's "Classify the text into one of these
labels: ...", or an imported set's instruction preamble) would make every training row with the same
template "overlap" the held-out splits. Such n-grams are left out of the index, and so is every n-gram
that shares a word with one of them in the same text (those straddling the template's end and the
first words of the content would still match any training text that starts alike). Documents, not
rows, are counted (`doc_id`, else `id`): a document and the pairs made from it repeat its text and are
one. Each benchmark gets the same cut over its distinct strings (not records): a passage repeated in
several question records (RACE, DROP) is one string and stays indexed, while a preamble written into
every prompt is cut.

`build_ngram_index` (global) writes the hashes of the validation and test rows and of each benchmark
with their origin ("test split", "validation split", "benchmark <name>"); `decontaminate_shard`
(mapped) rejects training rows with at least `min_overlaps` distinct n-grams from one origin.
"""

from __future__ import annotations

import bisect
import bz2
import functools
import gzip
import io
import json
import lzma
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import Benchmark, DecontaminateOptions
from pairforge.tasks.core.schema import earlier_turns
from pairforge.tasks.core.shards import RETRYING, Shard, fingerprint, log, resumable
from pairforge.tasks.core.stages import RowStage

MIN_WHOLE_WORDS = 3
TEXT_FIELDS = {"documents": ["text"], "pairs": ["prompt", "response"]}
MAX_WORDS_PER_BATCH = 1_000_000  # words turned into n-gram strings at once (~100 MB)
# pl.Expr.hash is stable within a Polars version only: the index records the version and users check it
HASHER = f"polars-{pl.__version__}"
INDEX_SCHEMA = pl.Schema({"h": pl.UInt64, "origin": pl.String})
BOILERPLATE_MIN_UNITS, BOILERPLATE_SHARE = 2, 0.01
DECOMPRESS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}
UNREADABLE = {".zst", ".zstd", ".zip", ".7z", ".lz4", ".tar", ".tgz", ".br", ".snappy", ".arrow", ".feather"}


def _words(text: pl.Expr) -> pl.Expr:
    return text.str.to_lowercase().str.replace_all(r"[\p{P}\p{S}]+", "").str.extract_all(r"\S+")


def ngram_positions(texts: pl.DataFrame, n: int) -> pl.DataFrame:
    """(t, pos, row, h): every n-gram hash of each text of `texts` (columns row, text), by text (`t`: its row
    number in `texts`) and first word (`pos`), in order."""
    words = texts.with_row_index("t").select("t", "row", _words(pl.col("text")).alias("w")).with_columns(
        pl.col("w").list.len().fill_null(0).alias("len"))
    out = [pl.DataFrame(schema={"t": pl.UInt32, "pos": pl.Int64, "row": words.schema["row"], "h": pl.UInt64})]
    whole = words.filter(pl.col("len").is_between(MIN_WHOLE_WORDS, n - 1))
    if len(whole):
        out.append(whole.select("t", pl.lit(0, pl.Int64).alias("pos"), "row",
                                pl.col("w").list.join(" ").hash(seed=n).alias("h")))
    long = words.filter(pl.col("len") >= n)
    start, cum = 0, long.get_column("len").cum_sum().to_list()
    while start < len(long):  # batches of texts with a bounded number of words
        base = cum[start - 1] if start else 0
        end = max(start + 1, bisect.bisect_right(cum, base + MAX_WORDS_PER_BATCH))
        # one row per word, in order; an n-gram starts at each word with n - 1 words of its text after it
        flat = long.slice(start, end - start).select("t", "row", "len", "w").explode("w").with_columns(
            pl.int_range(pl.len()).over("t").alias("pos"))
        gram = pl.concat_str([pl.col("w").shift(-j) for j in range(n)], separator=" ")
        out.append(flat.with_columns(gram.alias("gram")).filter(pl.col("pos") <= pl.col("len") - n)
                   .select("t", "pos", "row", pl.col("gram").hash(seed=n).alias("h")))
        start = end
    return pl.concat(out)


def ngram_hashes(texts: pl.DataFrame, n: int) -> pl.DataFrame:
    """(row, h): the distinct n-gram hashes of each text of `texts` (columns row, text)."""
    return ngram_positions(texts, n).select("row", "h").unique()


def without_boilerplate(grams: pl.DataFrame, boilerplate: pl.Series, n: int) -> pl.DataFrame:
    """(row, h), distinct, of the n-grams of `ngram_positions` that share no word with a boilerplate n-gram of
    their text (one starting fewer than n words before or after them)."""
    if not len(boilerplate):
        return grams.select("row", "h").unique()
    is_boilerplate = pl.col("h").is_in(boilerplate.implode())
    near = pl.lit(False)
    # the nearest boilerplate n-gram before and after each one (`grams` is in text and position order)
    for fill in ("forward", "backward"):
        t = pl.when(is_boilerplate).then(pl.col("t")).fill_null(strategy=fill)
        pos = pl.when(is_boilerplate).then(pl.col("pos")).fill_null(strategy=fill)
        near = near | ((t == pl.col("t")) & ((pos - pl.col("pos")).abs() < n)).fill_null(False)
    return grams.filter(~near).select("row", "h").unique()


def _row_texts(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """(row, text) for each text field of each row (`row`: the frame's own column, else the row number); a multi-turn
    conversation's earlier turns are texts of their own too."""
    fields = [f for f in TEXT_FIELDS[table] if f in df.columns]
    indexed = df if "row" in df.columns else df.with_row_index("row")
    texts = [indexed.select("row", pl.col(f).cast(pl.String).alias("text")) for f in fields]
    if table == "pairs" and "messages" in df.columns:
        texts.append(indexed.select("row", earlier_turns().alias("text")).explode("text"))
    return pl.concat(texts).filter(pl.col("text").is_not_null())


def boilerplate(unit_grams: pl.DataFrame, units: int) -> pl.Series:
    """The n-grams (h) found in more than max(2, 1%) of `units` units (`unit_grams`: distinct (unit, h))."""
    cut = max(BOILERPLATE_MIN_UNITS, BOILERPLATE_SHARE * units)
    return unit_grams.group_by("h").agg(pl.len().alias("units")).filter(pl.col("units") > cut).get_column("h")


# ---- benchmark files -------------------------------------------------------------------------------


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _decoded(uri: str) -> tuple[bytes, str]:
    """The file's bytes, decompressed by suffix, and the suffix that tells its format ("" for none)."""
    data = storage.read_bytes(uri)
    suffixes = PurePosixPath(uri.lower()).suffixes
    kind = suffixes[-1] if suffixes else ""
    if kind in DECOMPRESS:
        try:
            data = DECOMPRESS[kind](data)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as e:
            raise ValueError(f"decontaminate.benchmarks: {uri}: not a valid {kind} file ({e})") from e
        kind = suffixes[-2] if len(suffixes) > 1 else ""
    if kind in UNREADABLE or (kind != ".parquet" and b"\0" in data[:8192]):
        raise ValueError(f"decontaminate.benchmarks: {uri}: cannot read a {kind or 'binary'} file; use JSONL, "
                         "JSON, CSV, Parquet or text, optionally compressed as .gz, .bz2 or .xz")
    return data, kind


def benchmark_texts(uri: str) -> tuple[list[str], int]:
    """Every string of a benchmark file (JSONL, JSON, CSV, Parquet; any other text file: its lines; each maybe
    compressed), and the number of lines that could not be read (broken JSON). A binary or archive file is an
    error naming it."""
    data, kind = _decoded(uri)
    if kind == ".parquet":
        return list(_strings(pl.read_parquet(io.BytesIO(data)).to_dicts())), 0
    if kind == ".csv":
        return list(_strings(pl.read_csv(io.BytesIO(data), infer_schema=False).to_dicts())), 0
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if kind == ".json":
        try:
            return list(_strings(json.loads(text))), 0
        except json.JSONDecodeError:
            pass  # JSON Lines under a .json name
    if kind in (".json", ".jsonl", ".ndjson"):
        out, bad = [], 0
        for line in text.splitlines():
            if line.strip():
                try:
                    out += _strings(json.loads(line))
                except json.JSONDecodeError:
                    bad += 1
        return out, bad
    return [line for line in text.splitlines() if line.strip()], 0


def benchmark_hashes(bench: Benchmark, n: int) -> pl.DataFrame:
    """(h, origin) of a benchmark's n-grams but its boilerplate (see `boilerplate`; units: its distinct strings);
    a benchmark without files is an error naming it."""
    files = storage.glob(bench.uri)
    if not files:
        raise ValueError(f"decontaminate.benchmarks: {bench.name}: no file at {bench.uri}")
    texts, bad = [], 0
    for uri, _ in files:
        found, broken = benchmark_texts(uri)
        texts += found
        bad += broken
    if bad:
        log(f"benchmark {bench.name}: {bad} line(s) that are not JSON skipped")
    texts = list(dict.fromkeys(texts))  # a passage repeated across question records counts once
    grams = ngram_positions(pl.DataFrame({"row": range(len(texts)), "text": texts},
                                         schema={"row": pl.Int64, "text": pl.String}), n)
    common = boilerplate(grams.select(pl.col("row").alias("unit"), "h").unique(), len(texts))
    if len(common):
        log(f"benchmark {bench.name}: {len(common)} boilerplate n-gram(s) left out of the index")
    return without_boilerplate(grams, common, n).select("h").unique().with_columns(
        pl.lit(f"benchmark {bench.name}").alias("origin"))


# ---- the stage -------------------------------------------------------------------------------------


def _held_out(shards: list[Shard], opts: DecontaminateOptions) -> Iterator[tuple[str, pl.DataFrame]]:
    """(table, validation and test rows) of each shard of the checked tables that has any."""
    for shard in shards:
        if shard.table not in opts.tables or not shard.rows:
            continue
        df = shard.read()
        if "split" in df.columns:
            held_out = df.filter(pl.col("split").is_in(["validation", "test"]))
            if len(held_out):
                yield shard.table, held_out


@task(name="decontaminate-index", cache_policy=NO_CACHE, **RETRYING)
@resumable("decontaminate-index", lambda a: "all")
def build_ngram_index(shards: list[Shard], opts: DecontaminateOptions, work_uri: str, inputs: str = "") -> str:
    """Write the n-gram hashes of the held-out rows (with `against_splits`) and of the benchmarks with their
    origin, boilerplate left out; returns the index's URI. `inputs`: `contents_key` of the benchmark files."""
    parts = [pl.DataFrame(schema=INDEX_SCHEMA)]
    if opts.against_splits:
        # two passes over the held-out rows: count each n-gram's documents, then index all but boilerplate
        unit_grams, units = [pl.DataFrame(schema={"unit": pl.UInt64, "h": pl.UInt64})], []
        for table, held_out in _held_out(shards, opts):
            unit = held_out.select(pl.coalesce(*[c for c in ("doc_id", "id") if c in held_out.columns])
                                   .cast(pl.String).hash().alias("unit")).with_row_index("row")
            hashes = ngram_hashes(_row_texts(held_out, table), opts.ngram)
            unit_grams.append(hashes.join(unit, on="row").select("unit", "h").unique())
            units.append(unit.get_column("unit"))
        if units:
            common = boilerplate(pl.concat(unit_grams).unique(), pl.concat(units).n_unique())
            if len(common):
                log(f"{len(common)} boilerplate n-gram(s) of the held-out splits left out of the index")
            del unit_grams
            for table, held_out in _held_out(shards, opts):
                content = without_boilerplate(ngram_positions(_row_texts(held_out, table), opts.ngram), common,
                                              opts.ngram)
                split = held_out.select(pl.col("split") + pl.lit(" split")).with_row_index("row")
                parts.append(content.join(split, on="row").select("h", pl.col("split").alias("origin")).unique())
    for bench in opts.benchmarks:
        parts.append(benchmark_hashes(bench, opts.ngram))
    index = pl.concat(parts).unique().sort("h", "origin").with_columns(pl.lit(HASHER).alias("hasher"))
    uri = storage.join(work_uri, "decontaminate", f"ngrams-{fingerprint(shards, opts, inputs)}.parquet")
    storage.write_parquet(index, uri)
    return uri


@functools.lru_cache(maxsize=2)
def _load_index(uri: str) -> pl.DataFrame:
    """The index (each URI is written once per content: its name carries a fingerprint of the inputs)."""
    index = storage.read_parquet(uri)
    hashers = index.get_column("hasher").unique().to_list()
    if any(h != HASHER for h in hashers):
        raise RuntimeError(f"n-gram index {uri} was hashed by {hashers[0]}, this worker has {HASHER}: "
                           "rebuild it with the same Polars version")
    return index.drop("hasher")


def contaminated(df: pl.DataFrame, table: str, index: pl.DataFrame, opts: DecontaminateOptions) -> pl.DataFrame:
    """(row, reason, overlaps) of the training rows that share at least `min_overlaps` n-grams with one origin;
    the origin with the most shared n-grams names the reason."""
    train = df.with_row_index("row")
    if "split" in df.columns:
        train = train.filter(pl.col("split") == "train")
    out_schema = {"row": pl.UInt32, "reason": pl.String, "overlaps": pl.UInt32}
    if not len(train) or not len(index):
        return pl.DataFrame(schema=out_schema)
    hashes = ngram_hashes(_row_texts(train, table), opts.ngram)
    return (
        hashes.join(index, on="h")
        .group_by("row", "origin").agg(pl.col("h").n_unique().alias("overlaps"))
        .filter(pl.col("overlaps") >= opts.min_overlaps)
        .sort(["row", "overlaps", "origin"], descending=[False, True, False])
        .group_by("row", maintain_order=True).first()
        .select("row", (pl.lit("overlaps ") + pl.col("origin") + pl.lit(f" ({opts.ngram}-gram)")).alias("reason"),
                "overlaps")
        .cast(out_schema)
    )


def shared_ngrams(df: pl.DataFrame, table: str, rows: pl.Series, index: pl.DataFrame, n: int) -> pl.DataFrame:
    """(row, overlap_ngram): for each of `rows`, the words of one n-gram it shares with the index, the one that the
    most of these rows share (what a report of the removals shows: a boilerplate sentence, a copied passage)."""
    texts = _row_texts(df.with_row_index("row").filter(pl.col("row").is_in(rows.implode())), table)
    out_schema = {"row": pl.UInt32, "overlap_ngram": pl.String}
    if not len(texts):
        return pl.DataFrame(schema=out_schema)
    words = texts.with_row_index("t").select("t", _words(pl.col("text")).alias("w"))
    shared = ngram_positions(texts, n).join(index.select("h").unique(), on="h")
    by_rows = shared.group_by("h").agg(pl.col("row").n_unique().alias("rows"))
    return (
        shared.join(by_rows, on="h").sort(["row", "rows", "h"], descending=[False, True, False])
        .group_by("row", maintain_order=True).first()
        .join(words, on="t")
        .select("row", pl.col("w").list.slice(pl.col("pos"), n).list.join(" ").alias("overlap_ngram"))
        .cast(out_schema)
    )


def decontaminate_frame(df: pl.DataFrame, table: str, index_uri: str, opts: DecontaminateOptions
                        ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept rows, contaminated training rows with `reason`, `overlaps` and one shared n-gram, `overlap_ngram`)
    against the index `build_ngram_index` wrote."""
    index = _load_index(index_uri)
    hits = contaminated(df, table, index, opts)
    if len(hits):
        hits = hits.join(shared_ngrams(df, table, hits.get_column("row"), index, opts.ngram), on="row", how="left")
    tagged = df.with_row_index("_row").join(hits.rename({"row": "_row"}), on="_row", how="left",
                                            maintain_order="left").drop("_row")
    kept = tagged.filter(pl.col("reason").is_null()).drop("reason", "overlaps", "overlap_ngram", strict=False)
    return kept, tagged.filter(pl.col("reason").is_not_null())


def top_ngrams(rejected_uris: list[str], n: int = 10) -> list[tuple[str, int]]:
    """The shared n-grams behind the most removals (rows per n-gram) over the stage's rejected files."""
    counts: dict[str, int] = {}
    for uri in rejected_uris:
        grams = storage.read_parquet(uri, columns=["overlap_ngram"]).get_column("overlap_ngram").drop_nulls()
        for gram, rows in grams.value_counts().iter_rows():
            counts[gram] = counts.get(gram, 0) + rows
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


# the build's step (flows/steps.py) passes the index it built, with the options
ROWS = RowStage(apply=lambda df, shard, options: decontaminate_frame(df, shard.table, *options),
                options=lambda recipe: None, tables=lambda recipe: recipe.decontaminate.tables)
