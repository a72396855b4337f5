"""Label Studio for the annotation round, against a real server over HTTP (tasks/annotate/server.py, client.py):
start-up, projects and tasks made once however often they are asked for, three annotators' work read back, erasure,
and the start-up failures. The session's server comes from conftest.py."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from pairforge.tasks.annotate.client import LabelStudio, LabelStudioAPIError, ls_title
from pairforge.tasks.annotate.server import (
    ADMIN_USERNAME,
    LabelStudioError,
    admin_credentials,
    credentials_path,
    free_port,
    label_studio,
    start,
)
from pairforge.tasks.core import procs

CONFIG = """<View>
  <Text name="prompt" value="$prompt"/>
  <Text name="response" value="$response"/>
  <Rating name="score" toName="response" maxRating="5" required="true"/>
</View>"""


def rating(n: int) -> list[dict]:
    return [{"from_name": "score", "to_name": "response", "type": "rating", "value": {"rating": n}}]


def pairs(*keys: str) -> list[dict]:
    return [{"pairforge_id": k, "prompt": f"What is {k}?", "response": f"{k} is a test."} for k in keys]


@pytest.fixture
def title(request) -> str:
    return f"t {request.node.name[5:30]} {uuid.uuid4().hex[:6]}"


def test_the_server_answers_on_loopback_and_knows_the_admin_token(label_studio_server, label_studio_client):
    s = label_studio_server
    assert s.url == f"http://127.0.0.1:{s.port}"
    assert httpx.get(f"{s.url}/health").json() == {"status": "UP"}
    assert httpx.get(f"{s.url}/api/version").json()["release"] == "1.23.2"
    assert httpx.get(f"{s.url}/api/projects").status_code == 401  # nothing without a token
    assert label_studio_client.whoami()["email"] == ADMIN_USERNAME
    print(f"Label Studio started in {s.started_in_s:.1f} s")
    assert s.started_in_s < 180
    # the credentials are kept for the owner only, and never written to the log or shown in a repr
    creds = admin_credentials(s.data_dir)
    assert stat.S_IMODE(os.stat(credentials_path(s.data_dir)).st_mode) == 0o600
    assert creds.token == s.token
    log = s.log_path.read_text()
    for secret in (creds.token, creds.password):
        assert secret not in log and secret not in repr(s) and secret not in repr(creds)
        assert secret not in repr(label_studio_client)
    # no telemetry: no version check against the package index, no Sentry
    assert "pypi.org" not in log and "sentry" not in log.lower()


def test_a_project_is_created_once(label_studio_client, title):
    ls = label_studio_client
    first = ls.ensure_project(title, CONFIG, "<p>Rate the response.</p>", 3)
    assert ls.ensure_project(title, CONFIG, "<p>Rate the response.</p>", 3) == first
    # Label Studio's title filter matches substrings: a longer title is another project, and does not hide this one
    longer = ls.ensure_project(title + " (2)", CONFIG)
    assert longer != first
    assert ls.find_project(title) == first and ls.find_project(title + " (2)") == longer
    assert ls.find_project(title + " (3)") is None
    project = ls.sdk.projects.get(id=first)
    assert project.maximum_annotations == 3
    assert "Rate the response." in project.expert_instruction and project.show_instruction
    assert sum(1 for p in ls.sdk.projects.list() if p.title == title) == 1


def test_a_long_title_is_one_project_too(label_studio_client, title):
    """Label Studio refuses titles over 50 characters: a longer one is stored cut, with a hash of the whole."""
    ls = label_studio_client
    long = f"pairforge demo-pairs 2026-12-05T08-00-00Z round 1 correct {title}"
    other = long.replace("correct", "rate   ")  # same first 41 characters, another title
    assert len(long) > 50 and long[:41] == other[:41]
    first = ls.ensure_project(long, CONFIG, "", 3)
    assert ls.ensure_project(long, CONFIG, "", 3) == first and ls.find_project(long) == first
    assert ls.ensure_project(other, CONFIG) != first
    project = ls.sdk.projects.get(id=first)
    assert project.title == ls_title(long) and len(project.title) <= 50
    assert project.description.startswith(long)


def test_tasks_are_imported_once(label_studio_client, title):
    ls = label_studio_client
    project = ls.ensure_project(title, CONFIG)
    ids = ls.import_tasks(project, pairs("a", "b", "c"))
    assert sorted(ids) == ["a", "b", "c"] and len(set(ids.values())) == 3
    assert ls.import_tasks(project, pairs("a", "b", "c")) == ids  # nothing new
    more = ls.import_tasks(project, pairs("c", "d"))  # one known, one new
    assert more["c"] == ids["c"] and more["d"] not in ids.values()
    tasks = ls.tasks_with_annotations(project)
    assert sorted(t["data"]["pairforge_id"] for t in tasks) == ["a", "b", "c", "d"]
    assert next(t for t in tasks if t["data"]["pairforge_id"] == "b")["data"]["prompt"] == "What is b?"
    assert all(t["annotations"] == [] for t in tasks)
    with pytest.raises(ValueError, match="given twice"):
        ls.import_tasks(project, pairs("e", "e"))
    with pytest.raises(ValueError, match="pairforge_id"):
        ls.import_tasks(project, [{"prompt": "no key"}])
    assert len(ls.task_ids(project)) == 4


def test_three_annotators_submit_and_their_work_is_read_back(label_studio_server, label_studio_client, title):
    ls = label_studio_client
    project = ls.ensure_project(title, CONFIG, "", 3)
    ids = ls.import_tasks(project, pairs("x", "y"))
    tag = uuid.uuid4().hex[:8]
    annotators = [ls.add_annotator(f"{name}-{tag}@example.com", f"pw-{name}-{tag}-long")
                  for name in ("ann", "bob", "cat")]  # fmt: skip
    assert len({a.id for a in annotators}) == 3 and ls.whoami()["email"] == ADMIN_USERNAME
    # an account that exists logs in again and gets the same token
    again = ls.add_annotator(f"ann-{tag}@example.com", f"pw-ann-{tag}-long")
    assert (again.id, again.token) == (annotators[0].id, annotators[0].token)
    with pytest.raises(LabelStudioAPIError, match="neither sign-up nor log-in"):
        ls.add_annotator(f"ann-{tag}@example.com", "a wrong password")

    given = {}
    for n, a in enumerate(annotators):
        as_them = LabelStudio(label_studio_server.url, a.token)
        assert as_them.whoami()["id"] == a.id
        for key in ("x", "y"):
            given[(key, a.id)] = (n + len(key)) % 5 + 1
            as_them.submit_annotation(ids[key], rating(given[(key, a.id)]), lead_time_s=2.5)
    # a skipped task is no annotation
    skipper = ls.add_annotator(f"dan-{tag}@example.com", f"pw-dan-{tag}-long")
    LabelStudio(label_studio_server.url, skipper.token).sdk.annotations.create(id=ids["x"], result=[],
                                                                               was_cancelled=True)

    tasks = {t["data"]["pairforge_id"]: t for t in ls.tasks_with_annotations(project)}
    assert sorted(tasks) == ["x", "y"]
    for key, task in tasks.items():
        assert task["id"] == ids[key]
        anns = task["annotations"]
        assert sorted(a["annotator"] for a in anns) == sorted(a.id for a in annotators)  # three distinct people
        for ann in anns:
            assert ann["result"][0]["value"]["rating"] == given[(key, ann["annotator"])]
            assert ann["was_cancelled"] is False and ann["lead_time"] == 2.5


def test_delete_tasks_removes_them_with_their_annotations(label_studio_server, label_studio_client, title):
    ls = label_studio_client
    project = ls.ensure_project(title, CONFIG)
    ids = ls.import_tasks(project, pairs("keep", "erase-1", "erase-2"))
    tag = uuid.uuid4().hex[:8]
    annotator = ls.add_annotator(f"eve-{tag}@example.com", f"pw-eve-{tag}-long")
    annotation = LabelStudio(label_studio_server.url, annotator.token).submit_annotation(ids["erase-1"], rating(2))
    assert ls.delete_tasks(project, ["erase-1", "erase-2", "never-sent"]) == 2
    assert [t["data"]["pairforge_id"] for t in ls.tasks_with_annotations(project)] == ["keep"]
    r = httpx.get(f"{label_studio_server.url}/api/annotations/{annotation}",
                  headers={"Authorization": f"Token {label_studio_server.token}"})
    assert r.status_code == 404
    assert ls.delete_tasks(project, ["erase-1"]) == 0  # erasing again is a no-op
    # and a task that was erased can be sent again: a new task, without the erased one's annotation (SQLite may give
    # it the same id)
    ls.import_tasks(project, pairs("erase-1"))
    tasks = {t["data"]["pairforge_id"]: t for t in ls.tasks_with_annotations(project)}
    assert sorted(tasks) == ["erase-1", "keep"] and tasks["erase-1"]["annotations"] == []


def test_start_fails_clearly(tmp_path, monkeypatch):
    # a port that is taken: Label Studio would quietly move to the next one, so start refuses it
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(LabelStudioError, match=f"port {taken.getsockname()[1]} .* in use"):
            start(tmp_path / "taken", taken.getsockname()[1])
    # a server that is not up in time: the error names the log, and the process is gone
    before = set(p.pid for p in procs.running())
    with pytest.raises(LabelStudioError, match=r"did not answer .* within 1 s; log: .*label-studio\.log") as e:
        start(tmp_path / "slow", startup_timeout_s=1)
    assert str(tmp_path / "slow" / "label-studio.log") in str(e.value)
    assert set(p.pid for p in procs.running()) == before
    # not installed
    monkeypatch.setenv("PAIRFORGE_LABEL_STUDIO", str(tmp_path / "nowhere" / "label-studio"))
    with pytest.raises(LabelStudioError, match="not an executable"):
        start(tmp_path / "none")


def test_serve_restarts_on_its_data_dir_with_the_same_account(tmp_path):
    """`pairforge annotate serve` on a data dir that a server used before: the same token works and the project is
    still there; the URL is printed, the secrets are not; Ctrl-C stops it and its server."""
    data = tmp_path / "ls"
    with label_studio(data) as first:
        project = first.client().ensure_project("kept across restarts", CONFIG)
    port = free_port()
    began = time.monotonic()
    cli = procs.spawn([sys.executable, "-m", "pairforge.flows.cli", "annotate", "serve", "--port", str(port),
                       "--data-dir", str(data)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            assert cli.poll() is None, cli.communicate()
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() - began < 180
            time.sleep(0.5)
        print(f"restart on an existing data dir: healthy after {time.monotonic() - began:.1f} s")
        token = json.loads((data / "pairforge-credentials.json").read_text())["token"]
        assert LabelStudio(url, token).find_project("kept across restarts") == project
    finally:
        cli.send_signal(signal.SIGINT)
        out, err = cli.communicate(timeout=30)
        procs.stop(cli, 0)
    assert cli.returncode == 0, err
    assert out.strip() == url
    assert "pairforge-credentials.json" in err and "Ctrl-C" in err
    creds = admin_credentials(data)
    assert creds.token not in out + err and creds.password not in out + err
    with pytest.raises(httpx.TransportError):  # its server stopped with it
        httpx.get(f"{url}/health")
