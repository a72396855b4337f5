"""The annotation stage: send the selected pairs to people in Label Studio, wait for their work, import it with
quality control (recipe section `annotate:`; the step in `flows/steps.py` calls `run_round`).

A round is one Label Studio project per dataset version, round and task kind, titled
`pairforge <dataset> <version> round <n> <kind>`: a rerun of the same version finds its projects and tasks again
(nothing is created twice) and goes on waiting where the last attempt stopped; so does the next build of a new
version (a scheduled run) while a round is open (sent, never imported: `_round_version`). While the round is
incomplete the flow run either pauses (`wait: pause`: the Prefect UI shows a form, "import now, complete or not?")
or polls Label Studio every `poll_s` seconds; after `timeout_s` the run fails with a message that says how to
resume. With the policy `adjudicate`, the items the annotators disagreed on then go to round 2 (one answer each,
the adjudicator's), which is waited for the same way and decides them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pairforge.tasks.annotate.quality import QualityReport, adjudicate, assess
from pairforge.tasks.annotate.round import (
    annotation_rows,
    apply_results,
    complete,
    gold_items,
    report_summary,
    task_payloads,
)
from pairforge.tasks.annotate.tasks import (
    RATING_KINDS,
    Options,
    answer_of,
    guidelines_html,
    label_config,
    select_pairs,
)
from pairforge.tasks.core import storage
from pairforge.tasks.core.names import name_problem
from pairforge.tasks.core.shards import Shard, StageResult, finish_stage

log = logging.getLogger(__name__)
ROUND = 1  # the annotators' round; the adjudication round (policy `adjudicate`) is ROUND + 1


class RoundIncomplete(RuntimeError):
    """People have not finished the round before its timeout; rerunning the same version resumes the wait."""


@dataclass
class RoundResult:
    results: list[StageResult]
    shards: list[Shard]
    summary: dict = field(default_factory=dict)


def round_waiter(opts: Options) -> Callable[[str, float], bool]:
    """How a flow run waits for people: `pause` pauses it until someone answers the form in the Prefect UI
    (import now, complete or not? or keep waiting), `poll` sleeps `poll_s` seconds between checks."""
    if opts.wait == "poll":
        def sleep(message: str, left: float) -> bool:
            log.info("%s; next check in %.0f s", message, min(opts.poll_s, left))
            time.sleep(min(opts.poll_s, left))
            return False

        return sleep

    def pause(message: str, left: float) -> bool:
        from prefect import pause_flow_run
        from prefect.input import RunInput

        class RoundInput(RunInput):
            import_now: bool = False  # import the annotations there are, even if the round is not complete

        answer = pause_flow_run(wait_for_input=RoundInput.with_initial_data(description=message),
                                timeout=max(1, int(left)))
        return bool(answer.import_now)

    return pause


def annotation_client(opts: Options):
    """The Label Studio client for the round: `annotate.url` (else LABEL_STUDIO_URL) with the token from the
    environment variable `annotate.token_env` (never stored in the recipe, the report or a log)."""
    from pairforge.tasks.annotate.client import LabelStudio

    url = opts.url or os.environ.get("LABEL_STUDIO_URL")
    token = os.environ.get(opts.token_env)
    if not url or not token:
        raise RuntimeError(f"annotate: no Label Studio server: set annotate.url (or LABEL_STUDIO_URL) and the token "
                           f"in ${opts.token_env}; `pairforge annotate serve` starts a local one")
    return LabelStudio(url, token)


def _open_round_uri(dataset_uri: str) -> str:
    """Where a dataset keeps the version whose round was sent and not imported yet (`{"version": ...}`)."""
    return storage.join(dataset_uri, "_annotate", "open-round.json")


def _round_version(dataset_uri: str, version: str) -> str:
    """The version whose projects this build's round uses: its own, or that of a round an earlier version sent and
    never imported (it timed out, or its run failed), so that the next scheduled build, which is a new version,
    goes on with the same projects and the work people did instead of sending everything again. The pairs' ids
    are stable, so the same pairs are the same tasks; pairs new in this version are added to those projects."""
    data = storage.read_if_exists(_open_round_uri(dataset_uri))
    try:
        earlier = json.loads(data)["version"] if data is not None else None
    except (ValueError, KeyError, TypeError):
        earlier = None
    if not earlier or earlier == version or name_problem(earlier):
        return version
    log.info("annotation round: going on with the round version %s sent and never imported", earlier)
    return earlier


def project_title(dataset: str, version: str, kind: str, round_no: int = ROUND) -> str:
    return f"pairforge {dataset} {version} round {round_no} {kind}"


def erase_tasks(recipe: dict, dataset: str, ids: set[str], *, dry_run: bool = False) -> dict | None:
    """Delete the Label Studio tasks of erased rows, with their annotations, from every project of the dataset (all
    versions and rounds); `dry_run` counts them. None when the recipe sends nothing to people, else `{"server",
    "projects", "tasks"}`, or `{"server", "error"}` when the server cannot be reached or refuses (the erased ids stay
    in the erasure register: erasing again deletes them then)."""
    section = recipe.get("annotate") or {}
    if not section.get("enabled"):
        return None
    from pairforge.tasks.core.masking import mask_url

    url = mask_url(section.get("url") or os.environ.get("LABEL_STUDIO_URL") or "(no server set)")
    try:
        client = annotation_client(Options.model_validate(section))
        projects = client.projects_titled(f"pairforge {dataset} ")
        if dry_run:
            tasks = sum(len(ids & set(client.task_ids(p))) for p in projects)
        else:
            tasks = sum(client.delete_tasks(p, ids) for p in projects) if ids else 0
    except Exception as e:  # (LabelStudioAPIError, no token, a recipe this version cannot read): said, not raised
        return {"server": url, "error": str(e).splitlines()[0] if str(e) else type(e).__name__}
    return {"server": url, "projects": len(projects), "tasks": tasks}


def annotator_salt(dataset_uri: str) -> str:
    """The secret that annotator ids are hashed with: PAIRFORGE_ANNOTATOR_SALT, else one made for the dataset and
    kept in its folder (`_annotate/salt`, never published), so that an annotator keeps one id across versions."""
    if salt := os.environ.get("PAIRFORGE_ANNOTATOR_SALT"):
        return salt
    uri = storage.join(dataset_uri, "_annotate", "salt")
    if (kept := storage.read_if_exists(uri)) is not None:
        return kept.decode()
    salt = secrets.token_hex(16)
    storage.write_bytes(uri, salt.encode())
    return salt


def _selected(shards: list[Shard], opts: Options) -> pl.DataFrame:
    parts = []
    for n, shard in enumerate(sorted(shards, key=lambda s: s.name)):
        df = shard.read()  # (once: the columns a round sends)
        cols = [c for c in ("id", "prompt", "response", "source", "judge_score", "rejected", "response_b")
                if c in df.columns]
        parts.append(select_pairs(df.select(cols), opts.select.model_copy(update={"max_items": None}),
                                  opts.seed + n))
    selected = pl.concat(parts, how="diagonal") if parts else pl.DataFrame()
    if opts.select.max_items is not None and len(selected) > opts.select.max_items:
        selected = selected.sample(opts.select.max_items, seed=opts.seed).sort("id")
    return selected


def _wait_for_people(client, projects: dict[str, int], overlap: int, opts: Options,
                     wait: Callable[[str, float], bool], what: str) -> dict[str, list[dict]]:
    """The projects' tasks with their annotations once every task has `overlap` of them (or someone said to import
    now); RoundIncomplete after `timeout_s`."""
    def read() -> dict[str, list[dict]]:
        return {kind: client.tasks_with_annotations(p) for kind, p in projects.items()}

    deadline = time.monotonic() + opts.timeout_s
    while True:
        tasks = read()
        counts = [complete(t, overlap) for t in tasks.values()]
        done, total = sum(d for d, _ in counts), sum(t for _, t in counts)
        if done == total:
            return tasks
        left = deadline - time.monotonic()
        message = f"{what}: {done} of {total} tasks have {overlap} annotation(s)"
        if left <= 0:
            raise RoundIncomplete(f"{message} after {opts.timeout_s:.0f} s; run the same version (or the next "
                                  "build) again to resume the wait (nothing is sent twice)")
        if wait(message, left):  # (people may have worked while the run waited: read the tasks again)
            log.info("%s: imported as it is", message)
            return read()


def _adjudication_round(client, reports: dict[str, QualityReport], sent: dict[str, list[dict]], opts: Options,
                        wait: Callable[[str, float], bool], guidelines: str, dataset: str, version: str
                        ) -> dict[str, QualityReport]:
    """Send the items the annotators disagreed on to a project of round 2 (one answer per task: the adjudicator's,
    who sees the same interface), wait for it, and let those answers decide (`quality.adjudicate`)."""
    projects, pending = {}, {}
    for kind, report in reports.items():
        items = {r.item for r in report.resolutions if r.status == "adjudicate"}
        if items:
            pending[kind] = [t for t in sent[kind] if t["pairforge_id"] in items]
            projects[kind] = client.ensure_project(project_title(dataset, version, kind, ROUND + 1),
                                                   label_config(kind), guidelines, 1)
            client.import_tasks(projects[kind], pending[kind])
    if not projects:
        return reports
    log.info("adjudication round: %d item(s) the annotators disagreed on sent to %d project(s)",
             sum(map(len, pending.values())), len(projects))
    tasks = _wait_for_people(client, projects, 1, opts, wait, "adjudication round")
    out = dict(reports)
    for kind, kind_tasks in tasks.items():
        answers = {}
        for task in kind_tasks:
            latest = sorted(task["annotations"], key=lambda a: str(a.get("updated_at") or a.get("created_at")))
            if latest and (value := answer_of(kind, latest[-1]["result"])):
                answers[task["data"].get("pairforge_id")] = value
        out[kind] = adjudicate(reports[kind], answers)
    return out


def _gold(opts: Options, kind: str, base: Path, items: int) -> dict[str, dict]:
    every = gold_items(base / opts.gold.uri if opts.gold.uri else None, kind)
    want = min(len(every), math.ceil(opts.gold.share * items / max(1e-9, 1 - opts.gold.share)))
    return dict(sorted(every.items())[:want])


def run_round(client, shards: list[Shard], opts: Options, *, dataset: str, version: str, dataset_uri: str,
              work_uri: str, wait: Callable[[str, float], bool]) -> RoundResult:
    """Send, wait, import (see the module docstring). `client`: tasks.annotate.client's functions bound to a server;
    `wait(message, timeout_s)` pauses the flow run (True: import now) or sleeps a poll interval (False)."""
    selected = _selected(shards, opts)
    version = _round_version(dataset_uri, version)
    storage.write_bytes(_open_round_uri(dataset_uri), json.dumps({"version": version}).encode())
    projects, golds, sent = {}, {}, {}
    guidelines = guidelines_html(opts.guidelines, Path())  # (load_recipe made the paths absolute)
    for kind in opts.kinds:
        golds[kind] = _gold(opts, kind, Path(), len(selected))
        projects[kind] = client.ensure_project(project_title(dataset, version, kind), label_config(kind),
                                               guidelines, opts.overlap)
        sent[kind] = task_payloads(selected, golds[kind], kind)
        client.import_tasks(projects[kind], sent[kind])
    log.info("annotation round: %d pairs and %d gold items sent to %d project(s), %d annotators each",
             len(selected), sum(map(len, golds.values())), len(projects), opts.overlap)
    tasks = _wait_for_people(client, projects, opts.overlap, opts, wait, "annotation round")
    salt = annotator_salt(dataset_uri)
    reports: dict[str, QualityReport] = {}
    for kind, kind_tasks in tasks.items():
        rows = annotation_rows(kind_tasks, kind, golds[kind], salt)
        known = {t["pairforge_id"] for t in sent[kind]}
        p = opts.policy
        reports[kind] = assess(rows, kind, rating=kind in RATING_KINDS, policy=p.resolve,
                               min_agreement=p.min_agreement, min_gold=p.min_gold_answers,
                               min_accuracy=p.min_gold_accuracy, tolerance=p.rating_tolerance, known_items=known)
    if opts.policy.resolve == "adjudicate":
        reports = _adjudication_round(client, reports, sent, opts, wait, guidelines, dataset, version)
    results, out = [], []
    for shard in shards:
        kept, rejected = apply_results(shard.read(), reports)
        res = finish_stage("annotate", shard, work_uri, kept, rejected,
                           count_as=lambda reason: reason.split(":")[0])
        results.append(res)
        out.append(res.shard)
    storage.delete(_open_round_uri(dataset_uri))  # imported: the next version starts a round of its own
    summary = report_summary(reports, opts.overlap, sum(map(len, golds.values())))
    summary["guidelines"] = Path(opts.guidelines).read_text(encoding="utf-8") if opts.guidelines else None
    summary["selected"] = len(selected)
    return RoundResult(results, out, summary)
