"""Validate a table's shard against its Great Expectations suite (expectations/<table>.json).

Plain Python, no Prefect. Great Expectations takes seconds to import, so it is imported only inside
functions, and one ephemeral context is built per process and shared by all threads.
Reports hold counts and percentages only, never row values: shards may contain personal data.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks import SOURCE_ROOT
from pairforge.tasks.core.shards import RETRYING, Shard

SUITES_DIR = SOURCE_ROOT / "expectations"
SEVERITIES = ("critical", "warning", "info")

# Result keys that are counts or percentages, never values from the rows.
_COUNT_KEYS = ("element_count", "missing_count", "unexpected_count", "unexpected_percent")
# observed_value is a count or a column list for table-level expectations, and a ratio or count for these
# column aggregates; for others (min, max, most common value, ...) it can be a row value, so it is dropped.
_SAFE_OBSERVED = {
    "expect_column_proportion_of_non_null_values_to_be_between",
    "expect_column_proportion_of_unique_values_to_be_between",
    "expect_column_unique_value_count_to_be_between",
}
_MISSING_COLUMN = re.compile(r'The column "([^"]*)" in BatchData does not exist')

_CONTEXT_LOCK = threading.Lock()
# GE does not document its context as thread-safe; registering, running and deleting the per-call
# objects happens under this lock (the pandas work holds the GIL anyway, so little is lost).
_RUN_LOCK = threading.Lock()
_context: Any = None
_classes: dict[str, type] | None = None


def _gx_context() -> Any:
    """The process's ephemeral GE context, built on first use."""
    global _context
    with _CONTEXT_LOCK:
        if _context is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm noise in logs
            _context = context
        return _context


def _expectation_classes() -> dict[str, type]:
    """snake_case expectation type -> GE 1.x expectation class."""
    global _classes
    with _CONTEXT_LOCK:
        if _classes is None:
            import great_expectations.expectations as gxe

            found = {}
            for name in dir(gxe):
                cls = getattr(gxe, name)
                etype = getattr(cls, "expectation_type", None)
                if isinstance(cls, type) and isinstance(etype, str) and etype:
                    found[etype] = cls
            _classes = found
        return _classes


def _build(entry: dict, where: str) -> Any:
    """One GE expectation object from a suite entry; ValueError naming `where` if it is invalid."""
    cls = _expectation_classes().get(entry["type"])
    if cls is None:
        raise ValueError(f"{where}: unknown expectation type {entry['type']!r}")
    try:
        return cls(**entry["kwargs"], severity=entry["severity"])
    except Exception as e:  # pydantic ValidationError, or TypeError for a duplicated keyword
        raise ValueError(f"{where}: bad kwargs for {entry['type']}: {e}") from None


def load_suite(table: str, suites_dir: str | None = None) -> dict:
    """Read and check `<suites_dir>/<table>.json` (default: the project's expectations/ folder).

    Returns `{"name", "path", "expectations": [{"type", "kwargs", "severity"}]}`, severity defaulting to critical.
    Raises ValueError naming the file (and the entry) when it is missing or malformed.
    """
    path = Path(suites_dir or SUITES_DIR) / f"{table}.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"expectation suite not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read expectation suite {path}: {e}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("expectations"), list):
        raise ValueError(f"{path}: expected an object with an 'expectations' list")
    unknown_keys = set(raw) - {"name", "expectations", "meta"}
    if unknown_keys:
        raise ValueError(f"{path}: unknown keys {sorted(unknown_keys)}")
    expectations = []
    for i, entry in enumerate(raw["expectations"]):
        where = f"{path}: expectations[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise ValueError(f"{where}: expected an object with a 'type' string")
        extra = set(entry) - {"type", "kwargs", "severity", "meta"}
        if extra:
            raise ValueError(f"{where}: unknown keys {sorted(extra)}")
        kwargs = entry.get("kwargs", {})
        severity = entry.get("severity", "critical")
        if not isinstance(kwargs, dict):
            raise ValueError(f"{where}: 'kwargs' must be an object")
        if severity not in SEVERITIES:
            raise ValueError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
        clean = {"type": entry["type"], "kwargs": kwargs, "severity": severity}
        _build(clean, where)  # fail here, naming the file, rather than mid-run
        expectations.append(clean)
    return {"name": str(raw.get("name") or table), "path": str(path), "expectations": expectations}


def _to_pandas(df: pl.DataFrame) -> Any:
    """df.to_pandas(), with nested columns (e.g. `messages`) as JSON strings so GE can hash and compare them."""
    nested = [name for name, dtype in df.schema.items() if dtype.is_nested()]
    if nested:
        df = df.with_columns(
            # Encode {"name": value} and cut the wrapper off: polars has no JSON encoder for lists.
            pl.when(pl.col(c).is_not_null())
            .then(pl.struct(c).struct.json_encode().str.slice(len(json.dumps(c)) + 2).str.strip_suffix("}"))
            .alias(c)
            for c in nested
        )
    return df.to_pandas()


def _observed(etype: str, result: dict, exception_info: dict) -> dict:
    """Counts, percentages, and for table-level checks column names or row counts; no row values."""
    out = {k: result[k] for k in _COUNT_KEYS if result.get(k) is not None}
    if "observed_value" in result and (etype.startswith("expect_table_") or etype in _SAFE_OBSERVED):
        out["observed_value"] = result["observed_value"]
    if etype.startswith("expect_table_") and "details" in result:
        out["details"] = result["details"]  # column names, e.g. {"mismatched": {"missing": [...]}}
    # exception_info is either the flat dict or {metric_id: dict} when a metric failed to resolve.
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            missing = _MISSING_COLUMN.search(info.get("exception_message") or "")
            # Other messages may quote row values (e.g. "could not convert string to float: '...'").
            out["error"] = f"column {missing.group(1)!r} does not exist" if missing else "expectation raised an error"
            break
    return json.loads(json.dumps(out, default=str))  # numpy scalars -> plain JSON types


def validate_frame(df: pl.DataFrame, table: str, suites_dir: str | None = None, shard: str = "") -> dict:
    """Validate one shard; returns a JSON-serialisable report without row values.

    `success`: every expectation passed; `critical_success`: no critical expectation failed.
    """
    import great_expectations as gx

    suite_def = load_suite(table, suites_dir)
    context = _gx_context()
    name = f"{table}-{uuid.uuid4().hex}"  # unique per call: threads and repeated calls must not clash
    with _RUN_LOCK:  # (the pandas copy made under it too: shards validated at once hold one copy, not one each)
        pdf = _to_pandas(df)
        try:
            batch = context.data_sources.add_pandas(name).add_dataframe_asset(name)
            batch_def = batch.add_batch_definition_whole_dataframe(name)
            suite = context.suites.add(
                gx.ExpectationSuite(
                    name=name, expectations=[_build(e, suite_def["path"]) for e in suite_def["expectations"]]
                )
            )
            ids = [e.id for e in suite.expectations]
            vd = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
            run = vd.run(batch_parameters={"dataframe": pdf}, result_format="BASIC")
            del pdf
        finally:
            # Drop the per-call objects so a long run does not grow the context; ignore ones never added.
            for store in (context.validation_definitions, context.suites, context.data_sources):
                try:
                    store.delete(name)
                except Exception:
                    pass
    by_id = {r.expectation_config.id: r for r in run.results}  # GE does not keep the suite's order
    results = []
    for exp_id, entry in zip(ids, suite_def["expectations"], strict=True):
        r = by_id[exp_id]
        results.append(
            {
                "type": entry["type"],
                "kwargs": entry["kwargs"],
                "severity": entry["severity"],
                "success": bool(r.success),
                "observed": _observed(entry["type"], r.result or {}, r.exception_info or {}),
            }
        )
    return {
        "table": table,
        "shard": shard,
        "suite": suite_def["name"],
        "rows": df.height,
        "success": all(r["success"] for r in results),
        "critical_success": all(r["success"] for r in results if r["severity"] == "critical"),
        "results": results,
    }


def summarise(reports: list[dict]) -> dict:
    """Merge per-shard reports into one summary per table.

    Returns `{"success", "critical_success", "tables": {table: {"suite", "shards", "rows", "success",
    "critical_success", "failed_shards", "results": [{"type", "kwargs", "severity", "success",
    "failed_shards", "unexpected_count"}]}}}`; `unexpected_count` sums the failing rows over all shards.
    """
    tables: dict[str, dict] = {}
    for rep in reports:
        t = tables.setdefault(
            rep["table"],
            {
                "suite": rep["suite"],
                "shards": 0,
                "rows": 0,
                "success": True,
                "critical_success": True,
                "failed_shards": [],
                "results": {},
            },
        )
        t["shards"] += 1
        t["rows"] += rep["rows"]
        t["success"] &= rep["success"]
        t["critical_success"] &= rep["critical_success"]
        if not rep["success"]:
            t["failed_shards"].append(rep["shard"])
        for r in rep["results"]:
            key = (r["type"], json.dumps(r["kwargs"], sort_keys=True), r["severity"])
            m = t["results"].setdefault(
                key,
                {
                    "type": r["type"],
                    "kwargs": r["kwargs"],
                    "severity": r["severity"],
                    "success": True,
                    "failed_shards": [],
                    "unexpected_count": 0,
                },
            )
            m["unexpected_count"] += r["observed"].get("unexpected_count", 0)
            if not r["success"]:
                m["success"] = False
                m["failed_shards"].append(rep["shard"])
    for t in tables.values():
        t["results"] = list(t["results"].values())
    return {
        "success": all(t["success"] for t in tables.values()),
        "critical_success": all(t["critical_success"] for t in tables.values()),
        "tables": tables,
    }


@task(name="validate", cache_policy=NO_CACHE, task_run_name="validate-{shard.table}-{shard.name}", **RETRYING)
def validate_shard(shard: Shard, suites_dir: str | None) -> dict:
    return validate_frame(shard.read(), shard.table, suites_dir, shard=shard.name)
