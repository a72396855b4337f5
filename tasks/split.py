"""Deterministic, leakage-free splits: a row's split depends only on (seed, its group key).

All rows sharing a group key (by default `doc_id`, so every pair derived from one document)
land in the same split, on any machine and any run, whatever the shard layout.
"""

from __future__ import annotations

import hashlib

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.recipe import SplitOptions
from tasks.schema import SPLITS
from tasks.shards import RETRYING, Shard, resumable, write_stage


def bucket(seed: int, key: str) -> float:
    """A uniform number in [0, 1) from a keyed hash (blake2b: stable across versions, unlike pl.hash)."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8, key=str(seed).encode()).digest()
    return int.from_bytes(digest, "big") / 2**64


def assign_splits(df: pl.DataFrame, opts: SplitOptions) -> pl.DataFrame:
    """Add a `split` column (train / validation / test)."""
    if opts.group_by not in df.columns:
        raise ValueError(f"split.group_by: no column '{opts.group_by}' (has: {', '.join(df.columns)})")
    keys = df.get_column(opts.group_by).cast(pl.String).fill_null("")
    # hash each distinct key once; many pairs usually share one document
    uniq = keys.unique()
    table = pl.DataFrame({"_key": uniq, "_u": [bucket(opts.seed, k) for k in uniq.to_list()]})
    u = pl.DataFrame({"_key": keys}).join(table, on="_key", how="left", maintain_order="left").get_column("_u")
    edges = (opts.train, opts.train + opts.validation)
    split = (
        pl.when(pl.col("_u") < edges[0]).then(pl.lit(SPLITS[0]))
        .when(pl.col("_u") < edges[1]).then(pl.lit(SPLITS[1]))
        .otherwise(pl.lit(SPLITS[2]))
    )
    return df.with_columns(u.alias("_u")).with_columns(split.alias("split")).drop("_u")


@task(name="split", cache_policy=NO_CACHE, task_run_name="split-{shard.name}", **RETRYING)
@resumable("split", lambda a: a["shard"].name)
def split_shard(shard: Shard, opts: SplitOptions, work_uri: str) -> Shard:
    return write_stage(assign_splits(shard.read(), opts), work_uri, "split", shard)
