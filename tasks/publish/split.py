"""Deterministic, leakage-free splits over both tables.

Rows are grouped into connected components of their group key (`split.group_by`, by default `doc_id`,
which a document shares with every pair derived from it), their near-duplicate cluster
(`dup_cluster`) and, for pairs, their conversation's opening (its first user turn, `_opening`), across
documents and pairs: a document, its pairs, every member of its duplicate cluster and every chat that
opens alike share one group, and a group lands in one split. A conversation is one row, so its turns
are never split; conversations generated from one seed prompt carry the seed's `doc_id`. A group's split depends only on
(seed, its key): the smallest group key in the component, hashed with keyed blake2b, so it is the same
on any machine, in any run, whatever the shard layout.

Across versions a group keeps its split while its component keeps its key. New rows can change the
key only through duplicate clusters, so only with `dedup.keep: all` (keep: one drops duplicates, and a
component is a document with its pairs): a new near-duplicate joins its group to an existing cluster's
component, and if its group key is smaller than the component's key, or it links two components, the
whole component takes the new smallest key and may move to another split (a merge must move one side).
No choice of key avoids this without remembering earlier versions. With `stratify_by`, groups are ranked
by that hash within each value of the column and cut at the shares, so every stratum gets its shares;
then any change of the data may move groups between splits.

`plan_splits` (global) reads only key columns of every shard (of pairs also `messages`, one shard at a time, for
their openings) and writes one small plan per shard;
`split_shard` (mapped) adds the plan's `split` column to its shard.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import SplitOptions
from pairforge.tasks.core.schema import SPLITS
from pairforge.tasks.core.shards import RETRYING, Shard, StageResult, fingerprint, resumable, write_stage
from pairforge.tasks.curate.dedup import connected_components


def keyed_hash(seed: int, key: str) -> int:
    """A 64-bit keyed hash (blake2b: stable across versions and machines, unlike pl.hash)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8, key=str(seed).encode()).digest()
    return int.from_bytes(digest, "big")


def bucket(seed: int, key: str) -> float:
    """A uniform number in [0, 1) from the keyed hash."""
    return keyed_hash(seed, key) / 2**64


def _cut(position: pl.Expr, opts: SplitOptions) -> pl.Expr:
    edges = (opts.train, opts.train + opts.validation)
    return (
        pl.when(position < edges[0]).then(pl.lit(SPLITS[0]))
        .when(position < edges[1]).then(pl.lit(SPLITS[1]))
        .otherwise(pl.lit(SPLITS[2]))
    )


def group_keys(keys: pl.DataFrame) -> pl.Series:
    """Per row, the key of its group: the smallest group value in the connected component of group values, duplicate
    clusters and conversation openings. `keys` has `group` (null: the row's own `id`), `cluster` (nullable) and
    may have `opening` (nullable, `_opening`) with `multi` (the row is a multi-turn conversation)."""
    g = pl.coalesce(pl.col("group").cast(pl.String), pl.col("id").cast(pl.String)).alias("g")
    rows = keys.select(g)
    linked = [keys.select(g, pl.col("cluster").cast(pl.String).alias("c"))]
    if "opening" in keys.columns:  # an opening links rows only when a multi-turn conversation has it
        chats = keys.filter(pl.col("multi")).get_column("opening").drop_nulls().unique()
        linked.append(keys.filter(pl.col("opening").is_in(chats.implode())).select(g, pl.col("opening").alias("c")))
    links = pl.concat(linked).filter(pl.col("c").is_not_null()).unique(maintain_order=True)
    if not len(links):
        return rows.get_column("g").alias("key")
    nodes = pl.concat([links.get_column("g"), links.get_column("c")]).unique(maintain_order=True)
    index = pl.DataFrame({"node": nodes, "i": np.arange(len(nodes), dtype=np.int64)})
    pairs = links.join(index.rename({"node": "g", "i": "a"}), on="g").join(index.rename({"node": "c", "i": "b"}),
                                                                            on="c")
    root = connected_components(pairs.get_column("a").to_numpy(), pairs.get_column("b").to_numpy(), len(nodes))
    # a component's key is its smallest group value (cluster ids and openings only link groups)
    group_nodes = index.with_columns(pl.Series("root", root)).filter(
        pl.col("node").is_in(links.get_column("g").implode()))
    key_of = group_nodes.with_columns(pl.col("node").min().over("root").alias("key")).select(
        pl.col("node").alias("g"), "key")
    return rows.join(key_of, on="g", how="left", maintain_order="left").select(
        pl.coalesce("key", "g")).to_series().alias("key")


def plan_frame(keys: pl.DataFrame, opts: SplitOptions) -> pl.Series:
    """The `split` of each row of `keys` (columns id, group, cluster and, with stratification, stratum)."""
    key = group_keys(keys)
    uniq = key.unique()
    position = pl.DataFrame({"key": uniq, "u": [bucket(opts.seed, k) for k in uniq.to_list()]})
    if opts.stratify_by is None:
        table = position.with_columns(_cut(pl.col("u"), opts).alias("split"))
    else:
        groups = (
            pl.DataFrame({"key": key, "stratum": keys.get_column("stratum").cast(pl.String)})
            .group_by("key").agg(pl.len().alias("rows"),
                                 pl.col("stratum").drop_nulls().mode().sort().first().alias("stratum"))
            .join(position, on="key")
            .sort("stratum", "u", "key", nulls_last=True)
        )
        # a group's place in its stratum: the middle of its rows on the stratum's line of rows ranked by hash
        cum = pl.col("rows").cum_sum().over("stratum")
        middle = (cum - pl.col("rows") / 2) / pl.col("rows").sum().over("stratum")
        table = groups.with_columns(_cut(middle, opts).alias("split"))
    return pl.DataFrame({"key": key}).join(table.select("key", "split"), on="key", how="left",
                                           maintain_order="left").get_column("split")


OPENING_MIN_WORDS = 4  # a shorter first user turn ("Hi", "Hello there") opens too many unrelated chats to link them


def _opening() -> pl.Expr:
    """A pairs row's first user turn (lower case, spaces collapsed) as a link: a multi-turn conversation and every
    row that opens alike (the single-turn pair it goes on from, conversations branching after their first turns)
    share a split; single-turn pairs alone are not linked by their prompts (their splits stay as they were).
    Null for openers under OPENING_MIN_WORDS words."""
    first = pl.col("messages").list.eval(
        pl.element().filter(pl.element().struct.field("role") == "user").struct.field("content")).list.first()
    text = first.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    # hashed: a plan holds one short key per row, not the text (a key only links rows within one plan, never names a
    # group, so the hash need not be stable across Polars versions)
    return pl.when(text.str.count_matches(r"\S+") >= OPENING_MIN_WORDS).then(
        pl.lit("opening:") + text.hash().cast(pl.String))


def _keys(df: pl.DataFrame, opts: SplitOptions, group_col: str | None, stratum_col: str | None) -> pl.DataFrame:
    def column(name: str | None, alias: str) -> pl.Expr:
        return pl.col(name).cast(pl.String).alias(alias) if name else pl.lit(None, pl.String).alias(alias)

    cluster = "dup_cluster" if "dup_cluster" in df.columns else None
    if "messages" in df.columns:
        multi = pl.col("messages").list.eval(pl.element().struct.field("role") == "user").list.sum().fill_null(0) >= 2
        opening = [_opening().alias("opening"), multi.alias("multi")]
    else:
        opening = [pl.lit(None, pl.String).alias("opening"), pl.lit(False).alias("multi")]
    return df.select(pl.col("id").cast(pl.String), column(group_col, "group"), column(cluster, "cluster"),
                     column(stratum_col, "stratum"), *opening)


def _missing(option: str, column: str, have: list[str]) -> ValueError:
    return ValueError(f"split.{option}: no column '{column}' (has: {', '.join(have)})")


def assign_splits(df: pl.DataFrame, opts: SplitOptions) -> pl.DataFrame:
    """Add a `split` column (train / validation / test) to one frame (the plan of `plan_splits` for one frame)."""
    if opts.group_by not in df.columns:
        raise _missing("group_by", opts.group_by, df.columns)
    if opts.stratify_by and opts.stratify_by not in df.columns:
        raise _missing("stratify_by", opts.stratify_by, df.columns)
    return df.with_columns(plan_frame(_keys(df, opts, opts.group_by, opts.stratify_by), opts).alias("split"))


def plan_uri_of(plan_uri: str, shard: Shard) -> str:
    return storage.join(plan_uri, shard.table, f"{shard.name}.parquet")


@task(name="split-plan", cache_policy=NO_CACHE, **RETRYING)
@resumable("split-plan", lambda a: "all")
def plan_splits(shards: list[Shard], opts: SplitOptions, work_uri: str) -> str:
    """Plan the splits of all shards of both tables from their key columns; returns the plan's folder."""
    frames, seen = [], set()
    for shard in shards:
        data = storage.read_bytes(shard.uri)
        have = list(pl.read_parquet_schema(io.BytesIO(data)))
        seen.update(have)
        group = opts.group_by if opts.group_by in have else None
        stratum = opts.stratify_by if opts.stratify_by in have else None
        wanted = [c for c in ("id", group, "dup_cluster", stratum, "messages") if c and c in have]
        df = pl.read_parquet(io.BytesIO(data), columns=wanted)
        frames.append(_keys(df, opts, group, stratum))
    if shards and opts.group_by not in seen:
        raise _missing("group_by", opts.group_by, sorted(seen))
    if shards and opts.stratify_by and opts.stratify_by not in seen:
        raise _missing("stratify_by", opts.stratify_by, sorted(seen))
    # named after the inputs, so split_shard's resume markers never pair a shard with a stale plan
    plan_uri = storage.join(work_uri, "split-plan", fingerprint(shards, opts))
    if not shards:
        return plan_uri
    keys = pl.concat(frames)
    split = plan_frame(keys, opts)
    start = 0
    for shard, frame in zip(shards, frames, strict=True):
        plan = pl.DataFrame({"id": frame.get_column("id"), "split": split.slice(start, len(frame))})
        storage.write_parquet(plan, plan_uri_of(plan_uri, shard))
        start += len(frame)
    return plan_uri


@task(name="split", cache_policy=NO_CACHE, task_run_name="split-{shard.name}", **RETRYING)
@resumable("split", lambda a: a["shard"].name)
def split_shard(shard: Shard, plan_uri: str, work_uri: str) -> StageResult:
    """The shard with its planned `split` column."""
    df = shard.read()
    plan = storage.read_parquet(plan_uri_of(plan_uri, shard))
    if len(plan) != len(df) or not plan.get_column("id").equals(df.get_column("id").cast(pl.String)):
        raise ValueError(f"split plan of shard {shard.name} does not match its rows (the shard changed after "
                         "plan_splits)")
    return StageResult("split", write_stage(df.with_columns(plan.get_column("split")), work_uri, "split", shard))
