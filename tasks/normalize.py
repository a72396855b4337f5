"""Text normalisation as Polars expressions: Unicode form, control characters, whitespace.

Rows left with less than `min_chars` characters of text are rejected with a reason.
"""

from __future__ import annotations

from collections import Counter

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import storage
from tasks.recipe import CleanOptions
from tasks.shards import RETRYING, Shard, resumable, stage_uri, write_stage

# C0/C1 control characters except tab and newline, plus zero-width and BOM characters.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff]"


def normalize_expr(e: pl.Expr, opts: CleanOptions) -> pl.Expr:
    e = e.str.normalize(opts.unicode_form)
    e = e.str.replace_all("\r\n?", "\n")
    if opts.strip_control_chars:
        e = e.str.replace_all(_CONTROL, "")
    if opts.collapse_whitespace:
        e = (
            e.str.replace_all(r"[^\S\n]+", " ")  # runs of spaces/tabs/NBSP -> one space
            .str.replace_all(r" ?\n ?", "\n")  # no spaces around line breaks
            .str.replace_all(r"\n{3,}", "\n\n")  # at most one blank line
        )
    return e.str.strip_chars()


def normalize_frame(df: pl.DataFrame, table: str, opts: CleanOptions) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Normalise the text columns; returns (kept rows, rejected rows with `reason`)."""
    if table == "documents":
        out = df.with_columns(normalize_expr(pl.col("text"), opts))
        too_short = pl.col("text").str.len_chars().fill_null(0) < opts.min_chars
    else:
        content = normalize_expr(pl.element().struct.field("content"), opts)
        out = df.with_columns(
            normalize_expr(pl.col("prompt"), opts),
            normalize_expr(pl.col("response"), opts),
            normalize_expr(pl.col("system"), opts),
            pl.col("messages").list.eval(pl.element().struct.with_fields(content)),
        )
        too_short = (pl.col("prompt").str.len_chars().fill_null(0) < opts.min_chars) | (
            pl.col("response").str.len_chars().fill_null(0) < opts.min_chars
        )
    rejected = out.filter(too_short).with_columns(
        pl.lit(f"shorter than {opts.min_chars} characters after normalisation").alias("reason")
    )
    return out.filter(~too_short), rejected


@task(name="normalize", cache_policy=NO_CACHE, task_run_name="normalize-{shard.name}", **RETRYING)
@resumable("normalize", lambda a: a["shard"].name)
def normalize_shard(shard: Shard, opts: CleanOptions, work_uri: str) -> tuple[Shard, dict[str, int]]:
    kept, rejected = normalize_frame(shard.read(), shard.table, opts)
    if len(rejected):
        storage.write_parquet(rejected, stage_uri(work_uri, "rejected", shard.table, f"normalize-{shard.name}"))
    return write_stage(kept, work_uri, "normalize", shard), dict(Counter(rejected.get_column("reason").to_list()))
