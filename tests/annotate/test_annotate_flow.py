"""The annotation stage end to end (issue 16): a build sends 30 pairs and 5 gold items to a real Label Studio with
overlap 3, waits (polling), three annotators work through the API (one careless: random answers), the flow imports
their work, computes agreement, leaves the careless annotator out by gold accuracy and exports the corrected
responses and scores; a rerun of the same version creates nothing twice; erasing a pair deletes its tasks."""

from __future__ import annotations

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import krippendorff
import numpy as np
import polars as pl
import yaml

from pairforge.flows.build import build_dataset
from pairforge.tasks.annotate.client import LabelStudio
from pairforge.tasks.annotate.stage import project_title
from tests.conftest import DEMO

GOLD = [{"prompt": f"Gold question {i}?", "response": f"Gold answer {i}.", "kind": "rate", "answer": 1 + i % 5}
        for i in range(5)]


def _recipe(tmp_path) -> str:
    (tmp_path / "gold.jsonl").write_text("".join(json.dumps(g) + "\n" for g in GOLD))
    (tmp_path / "guidelines.md").write_text("# How to rate\n\nRate 5 for a correct, complete answer.\n")
    recipe = {"name": "annotated", "sources": [{"name": "seed", "uri": str(DEMO / "data" / "seed.jsonl"),
                                                "format": "alpaca", "license": "Apache-2.0"}],
              "pii": {"enabled": False}, "langid": {"enabled": False}, "quality": {"enabled": False},
              "annotate": {"enabled": True, "kinds": ["rate", "correct"], "overlap": 3,
                           "select": {"sources": ["seed"], "max_items": 30},
                           "gold": {"uri": "gold.jsonl", "share": 0.15}, "guidelines": "guidelines.md",
                           "policy": {"min_gold_accuracy": 0.8, "min_gold_answers": 3, "min_agreement": 0.5},
                           "wait": "poll", "poll_s": 1, "timeout_s": 300},
              "export": {"uri": str(tmp_path / "out") + "/"}}  # fmt: skip
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return str(path)


def _variant(tmp_path, monkeypatch, server, name: str, **annotate) -> tuple[LabelStudio, str]:
    """The admin's client, with the environment pointing at `server`, and the path of `_recipe`'s recipe renamed to
    `name` with `annotate` options replaced."""
    monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", server.token)
    monkeypatch.setenv("PAIRFORGE_ANNOTATOR_SALT", "test-salt")
    recipe = yaml.safe_load(open(_recipe(tmp_path)))
    recipe["name"] = name
    recipe["annotate"].update(annotate)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return server.client(), str(path)


def _wait_for_projects(client: LabelStudio, titles: list[str], tasks: list[int], build, timeout_s: float = 300
                       ) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if build.done():
            build.result()  # the build ended before it sent anything: its error
            raise AssertionError("the build ended without waiting for the annotators")
        found = [client.find_project(t) for t in titles]
        if all(p is not None for p in found) and all(len(client.task_ids(p)) >= n for p, n in zip(found, tasks,
                                                                                                 strict=True)):
            return found
        time.sleep(1)
    raise AssertionError("the build never sent its tasks")


def _rate(data: dict, who: str, rnd: random.Random) -> int:
    gold = {g["prompt"]: g["answer"] for g in GOLD}
    if who == "careless":
        return rnd.randint(1, 5)
    if data["prompt"] in gold:
        return gold[data["prompt"]]
    return 1 + len(data["response"]) % 5  # a careful annotator's rule: the same for both careful ones


def test_a_build_waits_for_people_and_imports_their_work(prefect_server, label_studio_server, tmp_path, monkeypatch):
    admin = label_studio_server.client()
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio_server.token)
    monkeypatch.setenv("PAIRFORGE_ANNOTATOR_SALT", "test-salt")
    recipe = _recipe(tmp_path)
    people = {who: admin.add_annotator(f"{who}@example.com", "annotate-Pa55word") for who in
              ("careful-a", "careful-b", "careless")}
    titles = [project_title("annotated", "v1", kind) for kind in ("rate", "correct")]
    rnd = random.Random(0)
    ratings: dict[str, dict[str, int]] = {who: {} for who in people}
    with ThreadPoolExecutor(1) as pool:
        build = pool.submit(build_dataset, recipe, version="v1")
        rate_p, correct_p = _wait_for_projects(admin, titles, [35, 30], build)  # gold items are ratings only
        for who, person in people.items():
            me = LabelStudio(label_studio_server.url, person.token)
            for task in admin.tasks_with_annotations(rate_p):
                score = _rate(task["data"], who, rnd)
                ratings[who][task["data"]["pairforge_id"]] = score
                me.submit_annotation(task["id"], [{"from_name": "score", "to_name": "response", "type": "rating",
                                                   "value": {"rating": score}}])
            for task in admin.tasks_with_annotations(correct_p):
                text = (task["data"]["response"] + " (checked)" if who != "careless"
                        else f"noise {rnd.random()}")
                me.submit_annotation(task["id"], [{"from_name": "corrected", "to_name": "response",
                                                   "type": "textarea", "value": {"text": [text]}}])
        uri = build.result(timeout=600)

    manifest = json.loads((tmp_path / "out" / "annotated" / "v1" / "manifest.json").read_text())
    ann = manifest["stats"]["annotation"]
    rate = ann["kinds"]["rate"]
    assert ann["overlap"] == 3 and ann["gold_items"] == 5 and ann["selected"] == 30
    assert rate["items"] == 30 and rate["annotators"] == 3 and rate["excluded_annotators"] == 1
    # agreement of the annotators kept (the two careful ones), computed independently
    items = sorted(k for k in ratings["careful-a"] if not k.startswith("gold-"))
    matrix = np.array([[ratings[w][i] for i in items] for w in ("careful-a", "careful-b")], dtype=float)
    assert rate["alpha"] == pytest_approx(krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal"))
    assert rate["alpha_all"] < rate["alpha"]
    pairs = pl.concat([pl.read_parquet(p) for p in (tmp_path / "out" / "annotated" / "v1").glob("pairs/*.parquet")])
    annotated = pairs.filter(pl.col("human_score").is_not_null())
    assert len(annotated) == 30
    assert annotated["response"].str.ends_with(" (checked)").all()  # the careful majority's correction
    assert set(annotated["origin"]) == {"human-edited"}
    card = (tmp_path / "out" / "annotated" / "v1" / "README.md").read_text()
    assert "## Human annotation" in card and "Rate 5 for a correct, complete answer." in card
    assert "careful-a" not in json.dumps(manifest) and "example.com" not in card  # annotators hashed only
    assert uri.endswith("v1")

    # a rerun of the same version finds its projects and tasks: nothing is created twice
    build_dataset(recipe, version="v1")
    assert [admin.find_project(t) for t in titles] == [rate_p, correct_p]
    assert len(admin.task_ids(rate_p)) == 35

    # erasing a pair deletes its tasks (with their annotations) from both projects, and nothing else
    from pairforge.tasks.privacy.erase import Criteria, erase_version

    target = annotated["id"][0]
    dry = erase_version(str(tmp_path / "out" / "annotated"), Criteria(doc_ids=(target,)), dry_run=True)
    assert dry["annotation"] == {"server": label_studio_server.url, "projects": 2, "tasks": 2}
    assert target in admin.task_ids(rate_p)
    erased = erase_version(str(tmp_path / "out" / "annotated"), Criteria(doc_ids=(target,)))
    assert erased["annotation"] == {"server": label_studio_server.url, "projects": 2, "tasks": 2}
    assert target not in admin.task_ids(rate_p) and target not in admin.task_ids(correct_p)
    assert len(admin.task_ids(rate_p)) == 34 and len(admin.task_ids(correct_p)) == 29
    # a server that does not answer: the data is erased, the result says the tasks are not, and a later erasure
    # (nothing left to match) catches up from the register
    other = annotated["id"][1]
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    down = erase_version(str(tmp_path / "out" / "annotated"), Criteria(doc_ids=(other,)))
    assert down["version"] and "error" in down["annotation"] and other in admin.task_ids(rate_p)
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio_server.url)
    again = erase_version(str(tmp_path / "out" / "annotated"), Criteria(doc_ids=(other,)))
    assert again["version"] is None and again["annotation"]["tasks"] == 2
    assert other not in admin.task_ids(rate_p) and len(admin.task_ids(correct_p)) == 28


def pytest_approx(value):
    import pytest

    return pytest.approx(value, abs=1e-9)


def test_disagreements_go_to_an_adjudication_round_that_decides(prefect_server, label_studio_server, tmp_path,
                                                                monkeypatch):
    """Policy `adjudicate`: two annotators rate 8 pairs and disagree on half; those 4 go to a round-2 project with one
    answer each, the flow waits for it, and the adjudicator's rating is what the pairs carry."""
    admin, path = _variant(tmp_path, monkeypatch, label_studio_server, "adjudicated", kinds=["rate"], overlap=2,
                           select={"sources": ["seed"], "max_items": 8}, gold={"share": 0.0},
                           policy={"resolve": "adjudicate", "min_agreement": 0.0})
    people = [LabelStudio(label_studio_server.url, admin.add_annotator(f"{who}@example.com", "annotate-Pa55word").token)
              for who in ("adj-a", "adj-b")]
    with ThreadPoolExecutor(1) as pool:
        build = pool.submit(build_dataset, path, version="v1")
        [first] = _wait_for_projects(admin, [project_title("adjudicated", "v1", "rate")], [8], build)
        tasks = sorted(admin.tasks_with_annotations(first), key=lambda t: t["data"]["pairforge_id"])
        for n, task in enumerate(tasks):
            for who, person in enumerate(people):  # both give 3 on the first four; 2 and 4 on the others
                score = 3 if n < 4 else 2 + 2 * who
                person.submit_annotation(task["id"], [{"from_name": "score", "to_name": "response", "type": "rating",
                                                       "value": {"rating": score}}])
        [second] = _wait_for_projects(admin, [project_title("adjudicated", "v1", "rate", 2)], [4], build)
        disputed = {t["data"]["pairforge_id"] for t in tasks[4:]}
        assert set(admin.task_ids(second)) == disputed
        for task in admin.tasks_with_annotations(second):  # the adjudicator decides: 5
            admin.submit_annotation(task["id"], [{"from_name": "score", "to_name": "response", "type": "rating",
                                                  "value": {"rating": 5}}])
        build.result(timeout=600)
    version = tmp_path / "out" / "adjudicated" / "v1"
    pairs = pl.concat([pl.read_parquet(p) for p in version.glob("pairs/*.parquet")])
    scores = dict(pairs.filter(pl.col("human_score").is_not_null()).select("id", "human_score").iter_rows())
    assert {k for k, v in scores.items() if v == 5.0} == disputed
    assert {k: v for k, v in scores.items() if k not in disputed} == {t["data"]["pairforge_id"]: 3.0
                                                                     for t in tasks[:4]}
    rate = json.loads((version / "manifest.json").read_text())["stats"]["annotation"]["kinds"]["rate"]
    assert rate["adjudicated"] == 4 and rate["adjudicate"] == 0


def test_wait_pause_shows_a_form_and_imports_when_told(prefect_server, label_studio_server, tmp_path, monkeypatch):
    """`wait: pause`: the flow run pauses with an input form (what the Prefect UI shows); answering it with
    import_now=true resumes the run, which imports the partial round (one annotator of three, on half the pairs)."""
    from prefect import get_client
    from prefect.flow_runs import resume_flow_run
    from prefect.utilities.asyncutils import run_coro_as_sync

    admin, path = _variant(tmp_path, monkeypatch, label_studio_server, "paused", kinds=["rate"], overlap=3,
                           select={"sources": ["seed"], "max_items": 6}, gold={"share": 0.0}, wait="pause",
                           policy={"min_agreement": 0.0})

    async def paused_runs():
        async with get_client() as client:
            runs = await client.read_flow_runs()
            return [r for r in runs if r.state and r.state.is_paused() and r.parameters.get("version") == "p1"]

    with ThreadPoolExecutor(1) as pool:
        build = pool.submit(build_dataset, path, version="p1")
        [project] = _wait_for_projects(admin, [project_title("paused", "p1", "rate")], [6], build)
        tasks = admin.tasks_with_annotations(project)
        for task in tasks[:3]:
            admin.submit_annotation(task["id"], [{"from_name": "score", "to_name": "response", "type": "rating",
                                                  "value": {"rating": 4}}])
        deadline = time.monotonic() + 120
        while not (runs := run_coro_as_sync(paused_runs())) and time.monotonic() < deadline:
            assert not build.done(), build.result()
            time.sleep(1)
        [run] = runs
        assert not build.done()  # the run waits for the form ...
        resume_flow_run(run.id, run_input={"import_now": True})  # ... which the UI would post
        build.result(timeout=600)
    pairs = pl.concat([pl.read_parquet(p) for p in (tmp_path / "out" / "paused" / "p1").glob("pairs/*.parquet")])
    scored = pairs.filter(pl.col("human_score").is_not_null())
    assert set(scored["id"]) == {t["data"]["pairforge_id"] for t in tasks[:3]} and set(scored["human_score"]) == {4.0}


def test_the_next_build_goes_on_with_a_round_that_timed_out(prefect_server, label_studio_server, tmp_path,
                                                              monkeypatch):
    """A nightly build is a new version: when the round an earlier version sent was never imported (it timed out),
    the next build uses that round's projects (people's work so far counts, nothing is sent again), imports when it
    is complete, and closes it: the build after that starts a round of its own."""
    import pytest

    admin, path = _variant(tmp_path, monkeypatch, label_studio_server, "nightly", kinds=["rate"], overlap=1,
                           select={"sources": ["seed"], "max_items": 4}, gold={"share": 0.0}, timeout_s=3,
                           policy={"min_agreement": 0.0})
    with pytest.raises(Exception, match="0 of 4 tasks"):
        build_dataset(path, version="night-1")
    first = admin.find_project(project_title("nightly", "night-1", "rate"))
    for task in admin.tasks_with_annotations(first):  # people finish the round after the run gave up
        admin.submit_annotation(task["id"], [{"from_name": "score", "to_name": "response", "type": "rating",
                                              "value": {"rating": 2}}])
    build_dataset(path, version="night-2")
    assert admin.find_project(project_title("nightly", "night-2", "rate")) is None  # no second round was sent
    pairs = pl.concat([pl.read_parquet(p) for p in (tmp_path / "out" / "nightly" / "night-2").glob("pairs/*.parquet")])
    assert pairs.filter(pl.col("human_score") == 2.0).height == 4
    with pytest.raises(Exception, match="0 of 4 tasks"):  # the round was imported: the next build sends its own
        build_dataset(path, version="night-3")
    assert admin.find_project(project_title("nightly", "night-3", "rate")) is not None
