"""Flow state hooks: when a build run fails or crashes, tell people what only the client knows.

The server-side automation (`pairforge deploy`, flows/ops.py) reports every failed, crashed or
timed-out run with the server's view (run, state, message, link). These hooks run in the flow's own
process and add the client's view: dataset, version (the run key to resume with), work area kept for
inspection, the report artifact's key, and the failure message. They post one JSON document to
`PAIRFORGE_WEBHOOK_URL` if it is set, with a short timeout, and never raise.

Attach them to the flow: `@flow(..., on_failure=[on_failure], on_crashed=[on_crashed])`.
The flow may call `record_run(dataset, version, work_uri)` once it knows them; otherwise the hooks
work them out from the run's parameters and recipe.

What is sent: names, URIs without credentials or query strings, counts, and the failure message
(one line, at most 500 characters, with secret-looking environment values masked). Never row
contents, never the webhook URL, never credentials.

A crashed run (interrupted by SIGINT/SIGTERM, see flows/lifecycle.py) leaves task runs that will never finish:
`on_crashed` marks those Cancelled first, so the run's history shows no task still running.
The last report built in this process is kept in `last_report` (the CLI tells from it how to resume).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from pairforge.tasks.core.masking import mask_text

TIMEOUT_SECONDS = 5.0
MESSAGE_LIMIT = 500
_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_QUERY = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#]+)[?#][^\s'\"]*")

_runs: dict[str, dict[str, str]] = {}  # flow run id -> what the flow recorded about itself
last_report: dict[str, Any] | None = None  # the newest failure report built in this process


def record_run(dataset: str, version: str, work_uri: str | None = None) -> None:
    """Called by the flow once it knows its dataset, version and work area (optional, but exact)."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    if run_id:
        _runs[str(run_id)] = {"dataset": dataset, "version": version, "work_uri": work_uri or ""}
        while len(_runs) > 64:  # runs that succeeded are never popped by a hook; keep the newest few
            _runs.pop(next(iter(_runs)))


def sanitize(text: str | None, limit: int = MESSAGE_LIMIT) -> str:
    """One line, credentials and query strings out of URIs, secret-looking env values masked, truncated."""
    if not text:
        return ""
    text = mask_text(" ".join(str(text).split()))  # secret-looking env values, auth values, secret fields
    text = _USERINFO.sub(r"\1***@", text)
    text = _QUERY.sub(r"\1?***", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _recipe_facts(parameters: dict[str, Any]) -> dict[str, str]:
    """Dataset, version and work area worked out from the run's parameters (as the flow does)."""
    from pairforge.tasks.core.recipe import load_recipe

    recipe_path = parameters.get("recipe_path")
    facts: dict[str, str] = {}
    if not recipe_path:
        return facts
    overrides: list[str] = []
    options = parameters.get("options")
    if options:
        try:
            from pairforge.tasks.core.recipe import RunOptions

            overrides = RunOptions.model_validate(options if isinstance(options, dict) else dict(options)).overrides()
        except Exception:
            overrides = list(getattr(options, "set", None) or (options.get("set", []) if isinstance(options, dict)
                                                                 else []))
    recipe = load_recipe(recipe_path, overrides, check_sources=False)
    facts["dataset"] = recipe.name
    version = parameters.get("version") or recipe.export.version
    if version:
        facts["version"] = version
        facts["work_uri"] = recipe.work_uri(version)
    return facts


def failure_report(event: str, flow: Any, flow_run: Any, state: Any) -> dict[str, Any]:
    """The JSON document the hooks send (also handy to log or test)."""
    parameters = dict(getattr(flow_run, "parameters", None) or {})
    run_id = str(getattr(flow_run, "id", "") or "")
    facts: dict[str, str] = {}
    problem = None
    try:
        facts = _recipe_facts(parameters)
    except Exception as e:  # a broken recipe is often the failure itself
        problem = f"{type(e).__name__}: {e}"
    facts.update({k: v for k, v in _runs.pop(run_id, {}).items() if v})
    dataset = facts.get("dataset")
    message = sanitize(getattr(state, "message", None))
    url = None
    try:
        from prefect.utilities.urls import url_for

        url = url_for(flow_run)
    except Exception:
        pass
    report: dict[str, Any] = {
        "source": "pairforge-hook",
        "event": event,
        "flow": getattr(flow, "name", None),
        "flow_run": getattr(flow_run, "name", None),
        "flow_run_id": run_id or None,
        "deployment_id": str(flow_run.deployment_id) if getattr(flow_run, "deployment_id", None) else None,
        "state": getattr(state, "name", None),
        "message": message,
        "recipe_path": sanitize(str(parameters["recipe_path"])) if parameters.get("recipe_path") else None,
        "dataset": dataset,
        "version": facts.get("version"),
        "work_uri": sanitize(facts.get("work_uri")) or None,
        "report_artifact": f"{dataset}-run-report" if dataset else None,
        "stage_counts_artifact": f"{dataset}-stage-counts" if dataset else None,
        "recipe_problem": sanitize(problem) if problem else None,
        "url": url,
    }
    what = f"{dataset} version {facts['version']}" if dataset and facts.get("version") else (dataset or "a build")
    text = f"pairforge: {what} {event} ({report['state']}): {message}"
    if report["work_uri"]:
        text += f" | work area kept: {report['work_uri']}"
    if report["report_artifact"]:
        text += f" | report artifact: {report['report_artifact']}"
    if facts.get("version"):
        text += f" | resume: run again with version={facts['version']}"
    report["text"] = text
    return report


def notify(event: str, flow: Any, flow_run: Any, state: Any, url: str | None = None) -> dict[str, Any] | None:
    """Post the failure report to `url` (default: settings `PAIRFORGE_WEBHOOK_URL`); never raises.
    Returns the report sent, or None when nothing was sent."""
    logger = None
    try:
        from prefect.logging.loggers import flow_run_logger

        logger = flow_run_logger(flow_run, flow)
    except Exception:
        pass
    global last_report
    try:
        if url is None:
            from pairforge.tasks.core.settings import get_settings

            url = get_settings().webhook_url
        report = last_report = failure_report(event, flow, flow_run, state)
        if not url:
            return None
        response = httpx.post(url, json=report, timeout=TIMEOUT_SECONDS)
        if logger:
            logger.info("failure notification sent to the webhook (HTTP %s)", response.status_code)
        return report
    except Exception as e:  # a hook must never turn a failure report into another failure
        if logger:
            logger.warning("could not send the failure notification: %s", type(e).__name__)
        return None


def on_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow `on_failure` hook (Failed and TimedOut runs)."""
    notify("failed", flow, flow_run, state)


def cancel_unfinished_task_runs(flow_run: Any, message: str) -> int:
    """Mark the flow run's task runs that are not in a final state Cancelled (their threads are abandoned or their
    process is gone: they never will be); returns how many. Never raises."""
    try:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterId,
            TaskRunFilter,
            TaskRunFilterState,
            TaskRunFilterStateType,
        )
        from prefect.client.schemas.objects import StateType
        from prefect.states import Cancelled

        unfinished = [StateType.PENDING, StateType.SCHEDULED, StateType.RUNNING, StateType.PAUSED,
                      StateType.CANCELLING]
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id])),
                task_run_filter=TaskRunFilter(state=TaskRunFilterState(type=TaskRunFilterStateType(any_=unfinished))),
            )
            for run in runs:
                client.set_task_run_state(run.id, Cancelled(message=message), force=True)
        return len(runs)
    except Exception:
        return 0


def on_crashed(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow `on_crashed` hook (the run's process was interrupted or its infrastructure failed): its unfinished task
    runs are marked Cancelled, then the report goes out."""
    cancel_unfinished_task_runs(flow_run, f"stopped with its flow run ({sanitize(getattr(state, 'message', ''), 200)})")
    notify("crashed", flow, flow_run, state)


__all__ = ["on_failure", "on_crashed", "record_run", "failure_report", "notify", "sanitize",
           "cancel_unfinished_task_runs"]
