"""Shard references passed between stages, and the retry policy shared by the stage tasks.

Stages pass `Shard`s (a URI in the run's work area plus its row count), never big frames,
so each stage maps over shards, can run on several workers, and can resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from prefect.tasks import exponential_backoff

from tasks import storage


@dataclass(frozen=True)
class Shard:
    table: str  # documents | pairs
    name: str  # stable across stages: <source>-<file>-<chunk>
    uri: str
    rows: int

    def read(self) -> pl.DataFrame:
        return storage.read_parquet(self.uri)


def stage_uri(work_uri: str, stage: str, table: str, name: str) -> str:
    return storage.join(work_uri, stage, table, f"{name}.parquet")


def write_stage(df: pl.DataFrame, work_uri: str, stage: str, shard: Shard) -> Shard:
    uri = stage_uri(work_uri, stage, shard.table, shard.name)
    storage.write_parquet(df, uri)
    return Shard(shard.table, shard.name, uri, len(df))


def is_transient(exc: BaseException) -> bool:
    """Retry I/O hiccups (5xx, throttling, timeouts, connection resets); never bad data or 4xx."""
    if isinstance(exc, storage.StorageError):
        return exc.transient
    return isinstance(exc, (ConnectionError, TimeoutError))


def retry_transient(task, task_run, state) -> bool:
    """A Prefect `retry_condition_fn`."""
    try:
        state.result()
    except Exception as exc:  # the failure we are deciding about
        return is_transient(exc)
    return False


# Shared @task options for stages that touch storage.
RETRYING = dict(
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient,
)
