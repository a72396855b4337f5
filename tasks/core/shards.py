"""Shard references passed between stages, the one result every stage task returns, the generic row-stage task,
resume markers, and the retry policy of the stage tasks.

Stages pass `Shard`s (a URI in the run's work area plus its row count), never big frames,
so each stage maps over shards, can run on several workers, and can resume: a finished stage task
leaves a completion marker in the work area (`_done/<stage>/<shard>-<key>.pkl`, written after its
output), and a rerun with the same work area (same version) returns the recorded result instead of
recomputing. The key covers every argument, including the input shards' lineage, so changed options
or recomputed inputs never reuse a stale result; a failure leaves no marker.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import logging
import pickle
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from pairforge.tasks.core import storage
from pairforge.tasks.core.stages import BEFORE_PII, NAMES, row_stage


@dataclass(frozen=True)
class Shard:
    table: str  # documents | pairs
    name: str  # stable across stages: <source>-<file>-<chunk>
    uri: str
    rows: int
    lineage: str = ""  # the resume key of the task that wrote it (changes when anything upstream changes)

    def read(self) -> pl.DataFrame:
        return storage.read_parquet(self.uri)


def stage_uri(work_uri: str, stage: str, table: str, name: str) -> str:
    return storage.join(work_uri, stage, table, f"{name}.parquet")


def write_stage(df: pl.DataFrame, work_uri: str, stage: str, shard: Shard) -> Shard:
    uri = stage_uri(work_uri, stage, shard.table, shard.name)
    storage.write_parquet(df, uri)
    return Shard(shard.table, shard.name, uri, len(df))


KEY_COLUMNS = ("id", "doc_id", "source", "uri", "license", "lang", "reason", "stage")


def keys_only(df: pl.DataFrame) -> pl.DataFrame:
    return df.select([c for c in KEY_COLUMNS if c in df.columns])


def rejected_uri(work_uri: str, stage: str, shard: Shard) -> str:
    return stage_uri(work_uri, "rejected", shard.table, f"{stage}-{shard.name}")


def write_rejected(df: pl.DataFrame, work_uri: str, stage: str, shard: Shard) -> str:
    """A stage's rejected rows of one shard (with `reason`), tagged with the stage, as the version's rejected table
    takes them: keys only for a stage before the PII scrub."""
    if stage not in NAMES:  # an undeclared stage could not be known to run before the PII scrub
        raise ValueError(f"stage {stage!r} is not declared in tasks.core.stages.STAGES")
    df = df.with_columns(pl.lit(stage).alias("stage"))
    uri = rejected_uri(work_uri, stage, shard)
    storage.write_parquet(keys_only(df) if stage in BEFORE_PII else df, uri)
    return uri


@dataclass(frozen=True)
class StageResult:
    """What one stage task did: the one shape every stage task returns, and what the run report is filled from."""

    stage: str
    shard: Shard  # the output shard
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> rows rejected
    rejected_uri: str | None = None  # those rows with their reasons, for the version's rejected table
    changed: dict[str, int] = field(default_factory=dict)  # what -> rows the stage kept but changed
    pii: dict[str, int] = field(default_factory=dict)  # entity type (or no_ner:<lang>) -> findings
    added: dict[str, int] = field(default_factory=dict)  # method -> rows added (augmentation)
    llm: dict[str, int] = field(default_factory=dict)  # model requests made (empty: the stage used no model)
    submitted: int = 0  # model requests submitted
    dead: int = 0  # model requests that failed for good
    dead_uri: str | None = None  # those requests, for the version's dead-letter table
    resumed: bool = False  # reused from an earlier attempt's completion marker: nothing was done now
    reused: int = 0  # rows of an unfinished earlier attempt the task reused (checkpointed stages)


def finish_stage(stage: str, shard: Shard, work_uri: str, kept: pl.DataFrame, rejected: pl.DataFrame,
                 count_as: Callable[[str], str] = str, **counts: Any) -> StageResult:
    """The end of every stage that rejects rows: the rejected rows (with `reason`) into the version's rejected
    table, the kept rows as the stage's output shard. The report counts rejected rows per `count_as(reason)`
    (e.g. without a per-row detail); `counts` fill the result's other fields."""
    uri = write_rejected(rejected, work_uri, stage, shard) if len(rejected) else None
    reasons = Counter(map(count_as, rejected.get_column("reason").to_list())) if len(rejected) else {}
    return StageResult(stage, write_stage(kept, work_uri, stage, shard), dict(reasons), uri, **counts)




def fingerprint(*values: Any) -> str:
    """A short stable hash of task arguments (pydantic models, Shards, plain values)."""

    def plain(v: Any) -> Any:
        if hasattr(v, "model_dump"):
            return v.model_dump(mode="json")
        if dataclasses.is_dataclass(v):
            return {k: plain(x) for k, x in dataclasses.asdict(v).items() if k != "api_key"}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        return v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)

    return hashlib.sha256(json.dumps(plain(list(values)), sort_keys=True).encode()).hexdigest()[:16]


def contents_key(locations: list[str]) -> str:
    """A fingerprint of the files at these paths, folders or globs (names and `storage.file_tag`s). Passed to a
    resumable task that reads them, it makes a changed, added or removed file a new key (nothing stale is reused)."""
    return fingerprint([(uri, storage.file_tag(uri)) for loc in locations for uri, _ in storage.glob(loc)])


def _stamp(result: Any, key: str) -> Any:
    """Give every Shard in a task's result the task's key as its lineage."""
    if isinstance(result, Shard):
        return dataclasses.replace(result, lineage=key)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):  # a typed result: its fields
        return dataclasses.replace(result, **{f.name: _stamp(getattr(result, f.name), key)
                                              for f in dataclasses.fields(result) if f.init})
    if isinstance(result, tuple):
        return tuple(_stamp(x, key) for x in result)
    if isinstance(result, list):
        return [_stamp(x, key) for x in result]
    if isinstance(result, dict):
        return {k: _stamp(v, key) for k, v in result.items()}
    return result


def resumable(stage: str | Callable[[dict], str], name: Callable[[dict], str], ignore: tuple[str, ...] = ()):
    """Decorate a stage function that takes `work_uri`: skip it when its completion marker exists.

    `stage` names the stage (or picks it from the arguments); `name(arguments)` names the marker (e.g. the
    shard's name); `ignore` lists arguments that do not change the result (such as an endpoint's address, which
    differs from run to run). A reused StageResult comes back marked `resumed`."""

    def wrap(fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def run(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            work_uri = arguments["work_uri"]
            label = stage(arguments) if callable(stage) else stage
            key = fingerprint(label, {k: v for k, v in arguments.items() if k != "work_uri" and k not in ignore})
            marker = storage.join(work_uri, "_done", label, f"{name(arguments)}-{key}.pkl")
            recorded = storage.read_if_exists(marker)
            if recorded is not None:
                log(f"{label} {name(arguments)}: finished in an earlier attempt, reusing its result")
                result = pickle.loads(recorded)
                if dataclasses.is_dataclass(result) and hasattr(result, "resumed"):
                    return dataclasses.replace(result, resumed=True)
                return result
            result = _stamp(fn(*args, **kwargs), key)
            storage.write_bytes(marker, pickle.dumps(result))
            return result

        return run

    return wrap


def log(message: str, level: int = logging.INFO) -> None:
    """To the Prefect run log inside a flow or task run, else to Python logging (tests, scripts)."""
    from prefect import get_run_logger
    from prefect.exceptions import MissingContextError

    try:
        get_run_logger().log(level, message)
    except MissingContextError:
        logging.getLogger("pairforge").log(level, message)


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


@task(name="rows", cache_policy=NO_CACHE, task_run_name="{stage}-{shard.name}", **RETRYING)
@resumable(lambda a: a["stage"], lambda a: a["shard"].name)
def apply_row_stage(stage: str, shard: Shard, options: Any, work_uri: str) -> StageResult:
    """Run the registered row stage `stage` over one shard (see `tasks.core.stages.RowStage`): its kept rows become
    the stage's output shard, its rejected rows go to the rejected table."""
    kept, rejected, *changed = row_stage(stage).apply(shard.read(), shard, options)
    return finish_stage(stage, shard, work_uri, kept, rejected, changed=changed[0] if changed else {})
