"""Operations against a real `prefect server start` (SQLite, loopback, free port): `pairforge deploy`
registers the YAML's deployments, work pool and failure automation; runs created from a deployment the
way the UI's "Run" button does are executed by a real process worker, by `pairforge serve`, and from the
UI itself in headless Chromium; a failed run reaches a loopback webhook through the server's automation;
the flow's failure hooks add the client's facts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from pairforge.flows import hooks, ops
from tests.conftest import DEMO, REPO, stop_process

DATA = DEMO / "data"
DATASET = "ops-set"
NOTIFY_BLOCK = "custom-webhook/pairforge-test-notify"  # a notification block the automation also sends through
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# the flags the closed network needs (see the env notes), plus a fresh profile from launch_persistent_context
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def tiny_recipe(folder: Path, name: str = DATASET, sources: list[dict] | None = None) -> Path:
    """A recipe that builds in seconds: demo news and seed pairs, no model, no PII stage."""
    recipe = {
        "name": name,
        "sources": sources or [
            {"name": "news", "uri": str(DATA / "news.txt"), "format": "text-lines", "license": "LGPL-2.1-only"},
            {"name": "seed", "uri": str(DATA / "seed.jsonl"), "format": "alpaca", "license": "Apache-2.0"},
        ],
        "pii": {"enabled": False},
        "export": {"uri": str(folder / "out") + "/", "formats": ["parquet"]},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def pairforge(*args: str, env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pairforge.flows.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def wait_final(client, run_id, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while True:
        run = client.read_flow_run(run_id)
        if run.state and run.state.is_final():
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"flow run {run.name} still {run.state.name if run.state else None} after {timeout}s")
        time.sleep(0.5)


def artifacts_of(client, run_id) -> dict:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
    return {a.key: a for a in found}


class Ops:
    def __init__(self, api, folder: Path, receiver):
        self.api, self.folder, self.receiver = api, folder, receiver
        self.recipe = tiny_recipe(folder)
        self.broken = tiny_recipe(folder, "ops-broken", [
            {"name": "gone", "uri": str(folder / "missing" / "news.txt"), "format": "text-lines", "license": "MIT"}])
        self.env = api.env(PAIRFORGE_WEBHOOK_URL=receiver.url + "/hook", PREFECT_WORKER_QUERY_SECONDS="1",
                           PREFECT_RUNNER_POLL_FREQUENCY="1")
        self.deploy_output = ""

    def deploy(self) -> subprocess.CompletedProcess:
        out = pairforge("deploy", "--recipe", str(self.recipe), "--notify-block", NOTIFY_BLOCK, env=self.env)
        assert out.returncode == 0, out.stderr
        return out

    @contextmanager
    def client(self):
        """A Prefect client of the test server (settings for this process restored afterwards)."""
        from prefect.client.orchestration import get_client

        with self.api.settings(), get_client(sync_client=True) as client:
            yield client

    def runs_of(self, client, deployment_id) -> list:
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))

    def deployment(self, client, name: str):
        return client.read_deployment_by_name(f"build-dataset/{name}")


@pytest.fixture(scope="module")
def deployed(prefect_api, webhook_receiver, tmp_path_factory):
    """`pairforge deploy` run once against the test server, with a notification block saved beforehand."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    o = Ops(prefect_api, tmp_path_factory.mktemp("ops"), webhook_receiver)
    with prefect_api.settings():
        CustomWebhookNotificationBlock(
            name="pairforge-test", url=webhook_receiver.url + "/notify",
            json_data={"subject": "{{subject}}", "body": "{{body}}"},
        ).save(NOTIFY_BLOCK.split("/")[1], overwrite=True)
    o.deploy_output = o.deploy().stdout
    return o


def test_deploy_registers_schedules_pool_and_automation(deployed):
    o = deployed
    spec = yaml.safe_load(ops.DEPLOYMENTS_FILE.read_text())
    nightly_spec = next(d for d in spec["deployments"] if d["name"] == "build-dataset-nightly")
    assert "build-dataset/build-dataset-nightly" in o.deploy_output and "automation" in o.deploy_output

    with o.client() as client:
        nightly = o.deployment(client, "build-dataset-nightly")
        on_demand = o.deployment(client, "build-dataset")
        assert len(nightly.schedules) == 1
        schedule = nightly.schedules[0]
        assert schedule.schedule.cron == "0 2 * * *" == nightly_spec["schedules"][0]["cron"]
        assert schedule.schedule.timezone == nightly_spec["schedules"][0]["timezone"] == "Europe/Berlin"
        assert schedule.active and not nightly.paused
        assert nightly.parameters == {"recipe_path": str(o.recipe)} == on_demand.parameters
        assert "recipe_path" in nightly.parameter_openapi_schema["properties"]
        assert on_demand.schedules == []
        for d in (nightly, on_demand):
            assert d.entrypoint == "flows/build.py:build_dataset"
            assert d.work_pool_name == "pairforge"
            assert d.pull_steps == [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]
        assert client.read_work_pool("pairforge").type == "process"

        [automation] = client.read_automations_by_name(ops.AUTOMATION_NAME)
        assert automation.enabled
        assert automation.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed",
                                             "prefect.flow-run.TimedOut"}
        flow_id = client.read_flow_by_name("build-dataset").id
        assert automation.trigger.match_related.get("prefect.resource.id") == [f"prefect.flow.{flow_id}"]
        kinds = [a.type for a in automation.actions]
        assert kinds == ["call-webhook", "send-notification"]
        block = client.read_block_document(automation.actions[0].block_document_id, include_secrets=True)
        assert block.name == ops.WEBHOOK_BLOCK_NAME and block.data["url"] == o.receiver.url + "/hook"

    # deploying again updates in place: same deployments, one schedule, one automation
    again = o.deploy()
    assert "(updated)" in again.stdout
    with o.client() as client:
        assert o.deployment(client, "build-dataset-nightly").id == nightly.id
        assert len(o.deployment(client, "build-dataset-nightly").schedules) == 1
        assert [a.id for a in client.read_automations_by_name(ops.AUTOMATION_NAME)] == [automation.id]


def test_deploy_user_errors_exit_2(deployed, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Not A Name\nsources: []\n")
    out = pairforge("deploy", "--recipe", str(bad), env=deployed.env)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "bad.yaml" in out.stderr
    no_api = {k: v for k, v in deployed.env.items() if k != "PREFECT_API_URL"}
    out = pairforge("deploy", env=no_api)
    assert out.returncode == 2 and "PREFECT_API_URL" in out.stderr


class TestWithWorker:
    """Runs executed by a real process worker: `prefect worker start --pool pairforge`."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def worker(cls, deployed):
        prefect = Path(sys.executable).with_name("prefect")
        log = deployed.folder / "worker.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([str(prefect), "worker", "start", "--pool", "pairforge", "--type", "process"],
                                    cwd=deployed.folder, env=deployed.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        yield proc
        stop_process(proc)

    def test_run_from_deployment_completes_with_artifacts(self, deployed):
        with deployed.client() as client:
            nightly = deployed.deployment(client, "build-dataset-nightly")
            run = client.create_flow_run_from_deployment(nightly.id)  # what the UI's "Run" button posts
            run = wait_final(client, run.id)
            assert run.state.is_completed(), run.state.message
            assert run.parameters == {"recipe_path": str(deployed.recipe)}
            arts = artifacts_of(client, run.id)
            assert {f"{DATASET}-run-report", f"{DATASET}-stage-counts"} <= set(arts)
            report = arts[f"{DATASET}-run-report"].data
            assert "**Status:** completed" in report
        latest = (deployed.folder / "out" / DATASET / "LATEST").read_text().strip()
        manifest = json.loads((deployed.folder / "out" / DATASET / latest / "manifest.json").read_text())
        assert manifest["dataset"] == DATASET and latest in report

    def test_failed_run_notifies_webhook(self, deployed):
        with deployed.client() as client:
            on_demand = deployed.deployment(client, "build-dataset")
            run = client.create_flow_run_from_deployment(on_demand.id, parameters={"recipe_path": str(deployed.broken)})
            run = wait_final(client, run.id)
        assert run.state.is_failed() and "no file matches" in run.state.message

        def from_automation(path, body):
            return path == "/hook" and isinstance(body, dict) and body.get("source") == "prefect-automation" \
                and body.get("flow_run_id") == str(run.id)

        [(_, headers, body)] = deployed.receiver.wait_for(from_automation, timeout=90)
        assert headers.get("Content-Type") == "application/json"
        assert body["state"] == "Failed" and body["flow"] == "build-dataset" and body["deployment"] == "build-dataset"
        assert "no file matches" in body["message"] and body["flow_run"] == run.name
        assert str(run.id) in body["url"]
        # the same automation also sent through the notification block (how Slack or email blocks are used)
        notes = deployed.receiver.wait_for(lambda p, b: p == "/notify" and run.name in json.dumps(b), timeout=60)
        assert notes and "Failed" in notes[0][2]["subject"]

    def test_ui_run_button_starts_a_run(self, deployed):
        from playwright.sync_api import sync_playwright

        with deployed.client() as client:
            dep = deployed.deployment(client, "build-dataset")
            before = {r.id for r in deployed.runs_of(client, dep.id)}
        shot = deployed.folder / "ui.png"
        with sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(deployed.folder / "chromium-profile"), executable_path=CHROMIUM, headless=True,
                args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 900})
            try:
                page = browser.new_page()
                page.set_default_timeout(30_000)
                page.goto(f"{deployed.api.ui_url}/deployments")
                # the on-demand deployment's link (its flow, also called build-dataset, links elsewhere)
                page.get_by_role("link", name="build-dataset", exact=True).and_(
                    page.locator(f'[href*="{dep.id}"]')).first.click()
                page.wait_for_url(f"**/deployment/{dep.id}**")
                # what the page posted and logged, to explain a run that never appears
                seen, requested, created = [], [], []  # create_flow_run: the requests, the statuses answered
                page.on("request", lambda r: requested.append(r.url) if r.url.endswith("/create_flow_run") else None)
                page.on("response", lambda r: seen.append(f"{r.request.method} {r.url} -> {r.status}")
                        if r.request.method == "POST" else None)
                page.on("response", lambda r: created.append(r.status) if r.url.endswith("/create_flow_run") else None)
                page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}"))
                dialog = page.get_by_role("dialog")  # this UI asks to confirm the parameters first
                run_button = dialog.get_by_role("button", name="Run", exact=True)
                for attempt in range(3):
                    if not run_button.is_visible():
                        page.get_by_role("button", name="Run", exact=True).first.click()
                        page.get_by_text("Quick run", exact=True).click()
                        run_button.wait_for()
                        assert str(deployed.recipe) in dialog.get_by_role("textbox").first.input_value()
                    asked = len(requested)
                    run_button.click()
                    for _ in range(2):  # a click lost on a loaded machine posts nothing: click again (never after one)
                        deadline = time.monotonic() + 20
                        while len(requested) == asked and time.monotonic() < deadline:
                            page.wait_for_timeout(250)
                        if len(requested) > asked or not run_button.is_visible():
                            break
                        print("the dialog's Run click posted nothing in 20 s: clicking again")
                        run_button.click()
                    deadline = time.monotonic() + 90  # the server's answer
                    while len(created) < len(requested) and time.monotonic() < deadline:
                        page.wait_for_timeout(250)
                    # 503 is the server's "busy, retry" (SQLite answers BUSY at once when a read transaction cannot
                    # become a write one): the dialog stays open, a user clicks Run again, so does the test
                    if not created[asked:] or created[-1] != 503:
                        break
                    print(f"create_flow_run answered 503 (attempt {attempt + 1}): clicking Run again")
                    page.wait_for_timeout(2000)
                try:  # the UI validates the parameters, creates the run, then confirms with a toast
                    page.get_by_text("scheduled to start").first.wait_for(timeout=120_000)
                except Exception as e:
                    page.screenshot(path=str(shot))
                    raise AssertionError("the Run button created no flow run\n" + "\n".join(seen[-30:])
                                         + "\n--- page:\n" + page.inner_text("body")[-2000:]) from e

                with deployed.client() as client:  # the API sees the run the button created ...
                    [run] = [r for r in deployed.runs_of(client, dep.id) if r.id not in before]
                    assert run.deployment_id == dep.id
                    run = wait_final(client, run.id)  # ... and the worker runs it
                    assert run.state.is_completed(), run.state.message

                page.goto(f"{deployed.api.ui_url}/deployments/deployment/{dep.id}?tab=Runs")
                page.get_by_text(run.name, exact=True).first.wait_for()  # ... and the page lists it
                body = page.inner_text("body")
                page.screenshot(path=str(shot))
            finally:
                browser.close()
        assert run.name in body and "Completed" in body


def test_serve_runs_deployments_without_worker(deployed):
    """`pairforge serve` executes runs of the same deployments from one process (no worker is running here)."""
    log = deployed.folder / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pairforge.flows.cli", "serve", "--recipe",
                                 str(deployed.recipe)], cwd=deployed.folder, env=deployed.env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "being served" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
        with deployed.client() as client:
            dep = deployed.deployment(client, "build-dataset")
            run = client.create_flow_run_from_deployment(dep.id)
            run = wait_final(client, run.id)
            assert run.state.is_completed(), run.state.message
            assert f"{DATASET}-run-report" in artifacts_of(client, run.id)
        served = log.read_text()
        assert f"Flow run '{run.name}'" in served and "published" in served  # this process ran it
    finally:
        stop_process(proc)
    # a stopped `serve` pauses its deployments (Prefect's default); `pairforge deploy` makes them active again
    with deployed.client() as client:
        assert deployed.deployment(client, "build-dataset-nightly").paused
    deployed.deploy()
    with deployed.client() as client:
        assert not deployed.deployment(client, "build-dataset-nightly").paused


def test_failure_hook_posts_client_facts(deployed, monkeypatch, tmp_path):
    """The flow's on_failure hook, in the run's own process, adds dataset, version, work area and the report key,
    never row contents."""
    from pairforge.flows.build import build_dataset
    from pairforge.tasks.core.settings import get_settings

    chats = tmp_path / "chats.jsonl"  # every record lacks a user turn: all quarantined, nothing to export
    chats.write_text("\n".join(json.dumps({"messages": [{"role": "assistant", "content": f"ROWSECRET-{i} text"}]})
                               for i in range(3)) + "\n")
    recipe = tiny_recipe(tmp_path, "hook-set", [{"name": "chat", "uri": str(chats), "format": "openai",
                                                 "license": "MIT"}])
    monkeypatch.setenv("PAIRFORGE_WEBHOOK_URL", deployed.receiver.url + "/client")
    get_settings.cache_clear()
    try:
        with deployed.api.settings():
            state = build_dataset.with_options(on_failure=[hooks.on_failure], on_crashed=[hooks.on_crashed])(
                str(recipe), version="v-hook", return_state=True)
    finally:
        get_settings.cache_clear()
    assert state.is_failed()

    [(_, _, body)] = deployed.receiver.wait_for(lambda p, b: p == "/client" and b.get("dataset") == "hook-set", 10)
    assert body["source"] == "pairforge-hook" and body["event"] == "failed" and body["state"] == "Failed"
    assert body["version"] == "v-hook"
    assert body["work_uri"] == str(tmp_path / "out" / "hook-set" / "_work" / "v-hook")
    assert body["report_artifact"] == "hook-set-run-report" and body["stage_counts_artifact"] == "hook-set-stage-counts"
    assert "NothingToExport" in body["message"] and "quarantined" in body["message"]
    assert "version=v-hook" in body["text"] and body["recipe_path"] == str(recipe)
    assert "ROWSECRET" not in json.dumps(body)
    with deployed.client() as client:  # the artifact the hook points at exists for that run
        assert "hook-set-run-report" in artifacts_of(client, body["flow_run_id"])


def test_hook_never_raises_and_keeps_secrets_out(monkeypatch):
    from prefect.settings import PREFECT_LOGGING_TO_API_ENABLED, temporary_settings

    class Run:
        id, name, deployment_id = "00000000-0000-0000-0000-000000000001", "quiet-run", None
        parameters = {"recipe_path": "/nowhere/recipe.yaml"}

    class State:
        name = "Failed"
        message = ("RuntimeError: cannot read s3://user:pa55word@bucket/key?X-Amz-Signature=abc123 "
                   "with key sk-test-9f8e7d6c5b\n" + "x" * 2000)

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-9f8e7d6c5b")
    report = hooks.failure_report("failed", None, Run(), State())
    text = json.dumps(report)
    assert "pa55word" not in text and "abc123" not in text and "sk-test-9f8e7d6c5b" not in text
    assert len(report["message"]) <= hooks.MESSAGE_LIMIT and "\n" not in report["message"]
    assert report["dataset"] is None and "recipe file not found" in report["recipe_problem"]

    import socket  # a listener that never answers: the hook gives up after its timeout, without raising
    with socket.socket() as silent, temporary_settings({PREFECT_LOGGING_TO_API_ENABLED: False}):
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setattr(hooks, "TIMEOUT_SECONDS", 0.5)
        start = time.monotonic()
        assert hooks.notify("failed", None, Run(), State(), url=f"http://127.0.0.1:{silent.getsockname()[1]}/") is None
        assert time.monotonic() - start < 5
        assert hooks.notify("failed", None, Run(), State(), url="http://127.0.0.1:9/") is None  # refused


def test_recorded_run_facts_reach_the_hook(deployed, monkeypatch, tmp_path):
    """A flow that calls record_run() gets its own dataset, version and work area into the hook's report."""
    from prefect import flow

    from pairforge.tasks.core.settings import get_settings

    recipe = tiny_recipe(tmp_path, "probe-set")

    @flow(name="hook-probe", on_failure=[hooks.on_failure])
    def probe(recipe_path: str) -> None:
        hooks.record_run("probe-set", "v-recorded", str(tmp_path / "work" / "v-recorded"))
        raise RuntimeError("stage failed")

    monkeypatch.setenv("PAIRFORGE_WEBHOOK_URL", deployed.receiver.url + "/probe")
    get_settings.cache_clear()
    try:
        with deployed.api.settings():
            state = probe(str(recipe), return_state=True)
    finally:
        get_settings.cache_clear()
    assert state.is_failed()
    [(_, _, body)] = deployed.receiver.wait_for(lambda p, b: p == "/probe", 10)
    assert body["flow"] == "hook-probe" and body["dataset"] == "probe-set" and body["version"] == "v-recorded"
    assert body["work_uri"] == str(tmp_path / "work" / "v-recorded") and "stage failed" in body["message"]
    assert body["report_artifact"] == "probe-set-run-report"
