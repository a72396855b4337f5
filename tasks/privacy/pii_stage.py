"""The PII stage: each shard scrubbed in checkpointed batches (tasks.privacy.pii does the scrubbing), in worker
processes when the stage is big enough (tasks.core.pool). Kept apart from pii.py so that the workers, which import
pii.py, do not import Prefect (~65 MB and ~1-3 s per worker)."""

from __future__ import annotations

import json
from collections import Counter

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import pool as cpu_pool
from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import PIIOptions
from pairforge.tasks.core.schema import TEXT_COLUMNS
from pairforge.tasks.core.shards import RETRYING, Shard, StageResult, fingerprint, resumable, write_stage
from pairforge.tasks.core.shards import log as run_log
from pairforge.tasks.privacy.pii import is_messages, scrub_frame


def batches(df: pl.DataFrame, columns: list[str], max_rows: int, max_chars: int) -> list[tuple[int, int]]:
    """(first row, rows) of consecutive batches of at most `max_rows` rows and `max_chars` characters of text (a
    longer row makes a batch of its own)."""
    sizes = [pl.col(c).list.eval(pl.element().struct.field("content").str.len_chars()).list.sum()
             if is_messages(df.schema[c]) else pl.col(c).str.len_chars() for c in columns]
    chars = df.select(pl.sum_horizontal([s.fill_null(0) for s in sizes]).alias("n")).get_column("n").to_list() \
        if columns else [0] * len(df)
    out, start, total = [], 0, 0
    for row, n in enumerate(chars):
        if row > start and (row - start >= max_rows or total + n > max_chars):
            out.append((start, row - start))
            start, total = row, 0
        total += n
    if start < len(df):
        out.append((start, len(df) - start))
    return out


def scrub_processes(options: PIIOptions, rows: int, runner: str) -> int:
    """Worker processes for a scrub of `rows` rows (see PIIOptions.processes); 1 = in the run's process."""
    if runner == "dask":
        return 1  # the tasks already run in Dask's worker processes
    if options.processes != "auto":
        return options.processes
    return cpu_pool.usable_cores() if rows >= options.processes_from_rows else 1


@task(name="scrub-pii", cache_policy=NO_CACHE, task_run_name="scrub-pii-{shard.table}-{shard.name}", **RETRYING)
@resumable("pii", lambda a: a["shard"].name)
def scrub_shard(shard: Shard, options: PIIOptions, work_uri: str) -> StageResult:
    """Scrub a shard in batches (at most `options.checkpoint_rows` rows and `options.checkpoint_chars` characters),
    each kept in the work area as it is done, so a run stopped in the middle resumes after the last finished batch
    (rows are scrubbed one document at a time, so batches give the same result as the whole shard at once); the
    character bound also bounds the memory of the NLP documents held at once."""
    df = shard.read()
    columns = [c for c in TEXT_COLUMNS[shard.table] if c in df.columns]
    # named after the input shard (its lineage) and the options: other inputs never reuse these batches
    parts = storage.join(work_uri, "pii-batches", shard.table, f"{shard.name}-{fingerprint(shard, options)}")
    done, counts, reused = [], Counter(), 0
    pool = cpu_pool.current()  # the stage's worker processes, if it has them: every batch is sent at once
    todo = {}
    for i, (start, length) in enumerate(batches(df, columns, options.checkpoint_rows, options.checkpoint_chars)):
        part, found = storage.join(parts, f"{i:05d}.parquet"), storage.join(parts, f"{i:05d}.json")
        if (recorded := storage.read_if_exists(found)) is not None:  # written after its batch: the batch is whole
            batch = storage.read_parquet(part)
            counts.update(json.loads(recorded))
            reused += len(batch)
            done.append(batch)
        else:
            todo[i] = (part, found, df.slice(start, length))
            done.append(None)
    futures = {i: pool.submit(scrub_frame, rows, columns, options) for i, (_, _, rows) in todo.items()} if pool else {}
    for i, (part, found, rows) in todo.items():
        batch, batch_counts = futures[i].result() if pool else scrub_frame(rows, columns, options)
        storage.write_parquet(batch, part)
        storage.write_bytes(found, json.dumps(dict(batch_counts)).encode())
        counts.update(batch_counts)
        done[i] = batch
    scrubbed = pl.concat(done) if done else df
    out = write_stage(scrubbed, work_uri, "pii", shard)
    storage.delete_tree(parts)
    run_log(f"{shard.table} {shard.name}: {len(df)} rows ({reused} reused from an earlier attempt), "
            f"findings {dict(counts) or 'none'}")
    return StageResult("pii", out, pii=dict(counts), reused=reused)
