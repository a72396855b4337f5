"""Operations: register the deployments of `deployments/prefect.yaml`, serve them, and alert on failures.

- `deploy()` registers every deployment of the YAML file against `PREFECT_API_URL` (through
  Prefect's `flow.from_source(...).to_deployment(...).apply()`), creates the process work pool if it
  is missing, and creates or updates (by name) the automation that reports failed, crashed and
  timed-out runs of the flow to a webhook (`PAIRFORGE_WEBHOOK_URL`) and/or notification blocks.
- `serve()` serves the same deployments from this process (Prefect's `serve`), for people without a worker.

The YAML is read here rather than by `prefect deploy` so that it works offline, without a project
`prefect.yaml` at the repository root, and with the recipe and work pool given on the command line.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOYMENTS_FILE = REPO / "deployments" / "prefect.yaml"
AUTOMATION_NAME = "pairforge-build-failed"
WEBHOOK_BLOCK_NAME = "pairforge-failure-webhook"
ALERT_STATES = ("Failed", "Crashed", "TimedOut")

# The automation's webhook body: a JSON document rendered by the server (Jinja, `tojson` escapes text).
# It holds what the server knows; the flow's on_failure hook (flows/hooks.py) sends the client's side.
WEBHOOK_PAYLOAD = """{
  "source": "prefect-automation",
  "automation": {{ automation.name | tojson }},
  "flow": {{ flow.name | tojson }},
  "flow_run": {{ flow_run.name | tojson }},
  "flow_run_id": "{{ flow_run.id }}",
  "deployment": "{{ deployment.name }}",
  "state": {{ flow_run.state.name | tojson }},
  "message": {{ flow_run.state.message | tojson }},
  "url": {{ (flow_run | ui_url) | tojson }},
  "text": {{ ("pairforge: run " ~ flow_run.name ~ " of " ~ flow.name ~ " ended " ~ flow_run.state.name
              ~ ": " ~ flow_run.state.message) | tojson }}
}"""

NOTIFICATION_SUBJECT = "pairforge: {{ flow.name }} run {{ flow_run.name }} {{ flow_run.state.name }}"
NOTIFICATION_BODY = """Flow run {{ flow_run.name }} of {{ flow.name }} entered {{ flow_run.state.name }}.
Deployment: {{ deployment.name }}
Message: {{ flow_run.state.message }}
Run: {{ flow_run | ui_url }}"""


class OpsError(Exception):
    """A user error (bad deployments file, bad recipe, no API): reported in one line, exit 2."""


@dataclass
class DeploymentSpec:
    name: str
    entrypoint: str
    directory: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    work_pool: str | None = None

    def describe_schedules(self) -> str:
        if not self.schedules:
            return "on demand"
        return "; ".join(f"cron {s['cron']} {s.get('timezone') or 'UTC'}" + ("" if s.get("active", True)
                         else " (paused)") for s in self.schedules)


_ENV_TEMPLATE = re.compile(r"\{\{\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _expand_env(value: Any, defaults: dict[str, str]) -> Any:
    """Resolve Prefect's `{{ $VAR }}` templates from the environment (with defaults)."""
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            name = m.group(1)
            if name in os.environ:
                return os.environ[name]
            if name in defaults:
                return defaults[name]
            raise OpsError(f"environment variable {name} is not set (used in the deployments file)")
        return _ENV_TEMPLATE.sub(sub, value)
    if isinstance(value, list):
        return [_expand_env(v, defaults) for v in value]
    if isinstance(value, dict):
        return {k: _expand_env(v, defaults) for k, v in value.items()}
    return value


def _working_directory(pull: list | None) -> str | None:
    for step in pull or []:
        if isinstance(step, dict):
            for name, args in step.items():
                if name.endswith("set_working_directory") and isinstance(args, dict):
                    return args.get("directory")
    return None


def _resolve_recipe(recipe: str | Path) -> str:
    """An absolute path to a recipe that exists and validates (sources are checked on the worker)."""
    from pairforge.tasks.core.recipe import RecipeError, load_recipe

    path = Path(recipe).expanduser().resolve()
    try:
        load_recipe(path, check_sources=False)
    except RecipeError as e:
        raise OpsError(str(e)) from None
    return str(path)


def load_specs(
    path: str | Path = DEPLOYMENTS_FILE, recipe: str | Path | None = None, work_pool: str | None = None
) -> list[DeploymentSpec]:
    """Read the deployments file. `recipe` replaces every deployment's `recipe_path` parameter;
    `work_pool` (default: settings `PAIRFORGE_WORK_POOL`) replaces every deployment's work pool."""
    from pairforge.tasks.core.settings import get_settings

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise OpsError(f"{path}: cannot read deployments file: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("deployments"), list) or not doc["deployments"]:
        raise OpsError(f"{path}: expected a `deployments:` list")
    doc = _expand_env(doc, {"PAIRFORGE_REPO": str(path.resolve().parents[1])})
    pool = work_pool or get_settings().work_pool
    recipe_path = _resolve_recipe(recipe) if recipe is not None else None
    specs = []
    for i, d in enumerate(doc["deployments"]):
        if not isinstance(d, dict) or not d.get("name") or not d.get("entrypoint"):
            raise OpsError(f"{path}: deployments[{i}] needs a name and an entrypoint")
        directory = Path(_working_directory(d.get("pull", doc.get("pull"))) or path.resolve().parents[1])
        if not directory.is_absolute():
            directory = (path.resolve().parent / directory).resolve()
        params = dict(d.get("parameters") or {})
        if recipe_path is not None:
            params["recipe_path"] = recipe_path
        elif isinstance(params.get("recipe_path"), str) and "://" not in params["recipe_path"]:
            _resolve_recipe(directory / params["recipe_path"])  # fail now, not at 02:00
        schedules = []
        for s in d.get("schedules") or []:
            if not isinstance(s, dict) or not s.get("cron"):
                raise OpsError(f"{path}: deployment {d['name']}: each schedule needs a `cron`")
            schedules.append(s)
        specs.append(DeploymentSpec(
            name=d["name"], entrypoint=d["entrypoint"], directory=directory, parameters=params,
            schedules=schedules, description=d.get("description"), tags=list(d.get("tags") or []),
            work_pool=pool,
        ))
    return specs


def _to_runner_deployments(specs: list[DeploymentSpec], with_work_pool: bool) -> list:
    from prefect import Flow
    from prefect.schedules import Cron

    flows: dict[tuple[Path, str], Flow] = {}
    out = []
    for spec in specs:
        key = (spec.directory, spec.entrypoint)
        if key not in flows:
            # local source: the deployment's pull step sets the working directory to the checkout
            flows[key] = Flow.from_source(source=str(spec.directory), entrypoint=spec.entrypoint)
        flow = flows[key]
        known = set(flow.parameters.properties)
        unknown = sorted(set(spec.parameters) - known)
        if unknown:
            raise OpsError(f"deployment {spec.name}: the flow {flow.name} has no parameter(s) "
                           f"{', '.join(unknown)} (it takes {', '.join(sorted(known))})")
        schedules = [Cron(s["cron"], timezone=s.get("timezone"), active=s.get("active", True),
                          parameters=s.get("parameters") or {}) for s in spec.schedules]
        kwargs: dict[str, Any] = dict(name=spec.name, parameters=spec.parameters, description=spec.description,
                                      tags=spec.tags, schedules=schedules,
                                      paused=False)  # un-pause what a stopped `serve` paused
        if with_work_pool:
            kwargs["work_pool_name"] = spec.work_pool
        out.append(flow.to_deployment(**kwargs))
    return out


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def require_api() -> str:
    """The configured PREFECT_API_URL, checked to answer; OpsError otherwise."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise OpsError("PREFECT_API_URL is not set: start a server (`make ui` or `prefect server start`) and "
                       "export PREFECT_API_URL=http://127.0.0.1:4200/api")
    with _client() as client:
        problem = client.api_healthcheck()
    if problem:
        raise OpsError(f"cannot reach the Prefect API at {url}: {problem}")
    return url


def ensure_work_pool(name: str) -> str:
    """Create a `process` work pool of that name if missing; returns 'created' or 'exists (<type>)'."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with _client() as client:
        try:
            pool = client.read_work_pool(name)
            return f"exists ({pool.type})"
        except ObjectNotFound:
            pass
        try:
            client.create_work_pool(WorkPoolCreate(
                name=name, type=ProcessWorker.type,
                description="pairforge builds, run by `prefect worker start --pool " + name + "`",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            ))
        except ObjectAlreadyExists:  # created meanwhile by someone else
            return "exists"
    return "created"


def _webhook_block_id(url: str):
    from prefect.blocks.webhook import Webhook

    block = Webhook(method="POST", url=url, headers={"Content-Type": "application/json"})
    return block.save(WEBHOOK_BLOCK_NAME, overwrite=True)


def _notification_block_id(ref: str):
    """`<block-type-slug>/<block-name>`, e.g. `slack-webhook/data-alerts`, of a block saved on the server."""
    from prefect.exceptions import ObjectNotFound

    slug, _, name = ref.partition("/")
    if not slug or not name:
        raise OpsError(f"--notify-block {ref!r}: expected <block-type-slug>/<block-name>, e.g. slack-webhook/alerts")
    with _client() as client:
        try:
            return client.read_block_document_by_name(name=name, block_type_slug=slug).id
        except ObjectNotFound:
            raise OpsError(f"--notify-block {ref}: no such block on the server (create it in the UI under "
                           f"Blocks, or with its Python class's .save({name!r}))") from None


def ensure_automation(flow_name: str, webhook_url: str | None, notify_blocks: list[str] | None = None) -> dict:
    """Create or update (by name) the automation that fires when a run of `flow_name` enters Failed,
    Crashed or TimedOut, calling the webhook and/or sending through notification blocks.
    Returns {"status": "created" | "updated" | "skipped", ...}."""
    from prefect.events.actions import CallWebhook, SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    notify_blocks = notify_blocks or []
    if not webhook_url and not notify_blocks:
        return {"status": "skipped", "reason": "PAIRFORGE_WEBHOOK_URL is not set and no --notify-block given"}
    actions: list = []
    targets: list[str] = []
    if webhook_url:
        actions.append(CallWebhook(block_document_id=_webhook_block_id(webhook_url), payload=WEBHOOK_PAYLOAD))
        targets.append(f"webhook block {WEBHOOK_BLOCK_NAME} (PAIRFORGE_WEBHOOK_URL)")
    for ref in notify_blocks:
        actions.append(SendNotification(block_document_id=_notification_block_id(ref),
                                        subject=NOTIFICATION_SUBJECT, body=NOTIFICATION_BODY))
        targets.append(f"notification block {ref}")

    with _client() as client:
        flow_id = client.create_flow_from_name(flow_name)  # idempotent: returns the existing flow's id
        automation = AutomationCore(
            name=AUTOMATION_NAME,
            description=f"Report runs of the {flow_name} flow that end Failed, Crashed or TimedOut "
                        "(created by `pairforge deploy`).",
            enabled=True,
            trigger=EventTrigger(
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.role": "flow", "prefect.resource.id": f"prefect.flow.{flow_id}"},
                expect={f"prefect.flow-run.{s}" for s in ALERT_STATES},
                posture=Posture.Reactive,
                threshold=1,
                within=timedelta(0),
            ),
            actions=actions,
        )
        existing = client.read_automations_by_name(AUTOMATION_NAME)
        if existing:
            client.update_automation(existing[0].id, automation)
            for extra in existing[1:]:  # keep exactly one
                client.delete_automation(extra.id)
            return {"status": "updated", "id": existing[0].id, "targets": targets}
        return {"status": "created", "id": client.create_automation(automation), "targets": targets}


def deploy(recipe: str | Path | None = None, path: str | Path = DEPLOYMENTS_FILE, work_pool: str | None = None,
           notify_blocks: list[str] | None = None) -> dict:
    """Register the deployments, the work pool and the failure automation; returns what was registered."""
    from pairforge.tasks.core.settings import get_settings

    specs = load_specs(path, recipe, work_pool)
    api_url = require_api()
    pools = {pool: ensure_work_pool(pool) for pool in dict.fromkeys(s.work_pool for s in specs if s.work_pool)}
    deployments = []
    flow_names = set()
    for spec, dep in zip(specs, _to_runner_deployments(specs, with_work_pool=True), strict=True):
        dep_id = dep.apply()
        flow_names.add(dep.flow_name)
        deployments.append({"name": f"{dep.flow_name}/{spec.name}", "id": dep_id, "work_pool": spec.work_pool,
                            "schedule": spec.describe_schedules(), "parameters": spec.parameters})
    webhook = get_settings().webhook_url
    automations = {name: ensure_automation(name, webhook, notify_blocks) for name in sorted(flow_names)}
    return {"api_url": api_url, "work_pools": pools, "deployments": deployments, "automations": automations}


def serve(recipe: str | Path | None = None, path: str | Path = DEPLOYMENTS_FILE, limit: int | None = None,
          notify_blocks: list[str] | None = None) -> None:
    """Serve the deployments from this process until interrupted (no work pool, no worker)."""
    from prefect import serve as prefect_serve

    from pairforge.tasks.core.settings import get_settings

    specs = load_specs(path, recipe)
    require_api()
    deployments = _to_runner_deployments(specs, with_work_pool=False)
    for name in sorted({d.flow_name for d in deployments}):
        result = ensure_automation(name, get_settings().webhook_url, notify_blocks)
        if result["status"] == "skipped":
            print(f"no failure automation for {name}: {result['reason']}", file=sys.stderr)
    prefect_serve(*deployments, limit=limit)
