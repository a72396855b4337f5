"""The `build_dataset` flow: one version of a dataset, stage by stage in the registry's order
(`tasks.core.stages.STAGES`): ingest -> drop erased rows -> normalise -> identify language -> quality filters ->
scrub PII -> dedup documents -> generate pairs -> pair rules -> control tokens -> judge -> dedup pairs -> split ->
decontaminate -> augment -> validate -> composition report -> export (+ dedup index).

The flow only runs the steps (`flows/steps.py`) and fills the run report from what each returns; each step maps
its tasks over the Parquet shards of the run's work area (`<work>/<stage>/<table>/<shard>.parquet`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.runtime import flow_run

from pairforge.flows.hooks import on_crashed, on_failure, record_run
from pairforge.flows.lifecycle import InterruptibleThreadPoolTaskRunner
from pairforge.flows.steps import GenerationFailed, NothingToExport, Run, ValidationFailed, step
from pairforge.tasks.core.names import Name
from pairforge.tasks.core.recipe import RunOptions, load_recipe
from pairforge.tasks.core.report import RunReport
from pairforge.tasks.core.settings import get_settings
from pairforge.tasks.core.stages import STAGES

__all__ = ["GenerationFailed", "NothingToExport", "ValidationFailed", "build_dataset"]


def default_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _publish(report: RunReport) -> None:
    key = report.dataset  # artifact keys: lowercase letters, digits and dashes, like recipe names
    create_markdown_artifact(key=f"{key}-run-report", markdown=report.markdown(), description="pairforge run report")
    if report.stages:
        create_table_artifact(key=f"{key}-stage-counts", table=report.stages, description="rows in/out per stage")
    if report.sources:
        create_table_artifact(key=f"{key}-source-counts", table=report.source_rows(),
                              description="files, rows and quarantined rows per source")


def _progress(key: str, every_s: float = 5.0):
    """A progress artifact the UI shows while the run goes on; returns the callback that moves it (at most once
    every `every_s` seconds, and at 100 %: each update is an API call, and a run of quick stages made ~20)."""
    artifact_id = create_progress_artifact(0.0, key=f"{key}-progress", description="share of the stages done")
    last = [time.monotonic()]

    def move(percent: float) -> None:
        now = time.monotonic()
        if percent >= 100.0 or now - last[0] >= every_s:
            last[0] = now
            update_progress_artifact(artifact_id, percent)

    return move


def task_runner(runner: str, address: str | None = None, workers: int = 2):
    """Threads in this process (default; an interrupted run does not wait for its running tasks, see
    flows/lifecycle.py), or a Dask cluster: an existing scheduler, else a local one."""
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        # workers die with this process, even by SIGKILL (tasks.core.procs.dask_setup)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                              "preload": ["pairforge.tasks.core.procs"]})
    return InterruptibleThreadPoolTaskRunner()


def _settings_runner():
    s = get_settings()
    return task_runner(s.runner, s.dask_address, s.dask_workers)


def _run_name() -> str:
    params = flow_run.parameters
    return f"{Path(params['recipe_path']).stem}-{params.get('version') or 'new'}"


@flow(name="build-dataset", task_runner=_settings_runner(), flow_run_name=_run_name,
      on_failure=[on_failure], on_crashed=[on_crashed])
def build_dataset(recipe_path: str, version: Name | None = None, options: RunOptions | None = None) -> str:
    """Build one version of the dataset a recipe describes; returns the version's URI.

    Args:
        recipe_path: the recipe YAML (relative paths in it are relative to its folder)
        version: the version folder to write; also the run key: running again with the same version
            resumes a failed or crashed run, reusing every shard it finished. Default: a new UTC timestamp.
        options: overrides for this run (trial sample, export location, stages to skip, recipe keys)
    """
    logger = get_run_logger()
    recipe = load_recipe(recipe_path, (options or RunOptions()).overrides())
    version = version or recipe.export.version or default_version()
    work_uri = recipe.work_uri(version)
    record_run(recipe.name, version, work_uri)  # for the failure hooks
    report = RunReport(recipe.name, version, work_uri=work_uri, on_progress=_progress(recipe.name))
    logger.info("building %s version %s; work area %s", recipe.name, version, work_uri)
    run = Run(recipe, version, work_uri, report)
    try:
        with run.resources:  # the model endpoint, if a stage started one
            shards = []
            for stage in STAGES:
                done = step(stage)(run, stage, shards)
                shards = report.add(done)
                if done.failure:
                    raise done.failure
        logger.info("published %s", report.output_uri)
        return report.output_uri
    except Exception:
        report.status = "failed"
        raise
    finally:
        _publish(report)
