"""What pairforge asks of a Label Studio server, through the official client, `label-studio-sdk`.

    ls = LabelStudio(url, token)                          # the admin's API token (see tasks.annotate.server)
    project = ls.ensure_project(title, label_config, instructions_html, overlap)
    ls.import_tasks(project, [{"pairforge_id": "p1", "prompt": ..., "response": ...}, ...])
    ls.tasks_with_annotations(project)   # [{"id", "data", "annotations": [{"id", "annotator", "result", ...}]}]
    ls.delete_tasks(project, ["p1"])     # erasure

The SDK is `label-studio-sdk` 2.0.19 in pairforge's own venv (the server runs from another one: see server.py).
It was checked to resolve against the existing locks without `--upgrade` and without changing any locked version;
2.1 would not (it pins opencv-python-headless<4.13, which takes numpy back to 2.2), hence `<2.1` in pyproject.toml.

Idempotence: a project is found again by its exact title (Label Studio's `title` filter is a substring match, so the
match is checked here); a task is known by the stable key `data["pairforge_id"]` that every task pairforge sends
carries, and `import_tasks` sends only the keys the project does not have yet. A rerun creates nothing twice.

Titles: Label Studio refuses a project title of more than 50 characters, so a longer one is stored as its first 41
characters, a space and 8 hex digits of its SHA-256 (`ls_title`): still one project per title, found again by the
same rule, with the full title at the head of the description.

Annotators. Label Studio OSS has one organization, and its user API (`POST /api/users/`) makes users without a
password whose API token nobody but they can read (`GET /api/current-user/token` answers for the caller only). So an
annotator joins the way a person does: through the organization's invite link (`GET /api/invite`, admin) and the
sign-up form (`/user/signup/?token=...`), then reads their own token with the session the sign-up opened; an account
that exists already logs in through `/user/login/` instead. `LabelStudio.add_annotator` does that over HTTP (httpx),
for tests and scripted set-ups; `LabelStudio(url, annotator.token).submit_annotation(task_id, result)` then
annotates as that person, and `tasks_with_annotations` reports their user id as `annotator`.
Tokens and passwords are never logged or put in an error message.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

KEY = "pairforge_id"  # the stable task key in every task's data
TITLE_MAX = 50  # Label Studio's limit on a project's title
IMPORT_CHUNK = 500
DELETE_CHUNK = 1000


class LabelStudioAPIError(RuntimeError):
    """Label Studio answered an API call with an error; `status_code` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


@contextmanager
def _api(what: str) -> Iterator[None]:
    """SDK and transport errors as `LabelStudioAPIError` naming the call (the response body cut short)."""
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except ApiError as e:
        body = e.body if isinstance(e.body, str) else repr(e.body)
        raise LabelStudioAPIError(f"Label Studio: {what}: HTTP {e.status_code}: {body[:300]}", e.status_code) from None
    except httpx.TransportError as e:
        raise LabelStudioAPIError(f"Label Studio: {what}: {type(e).__name__}: {e}") from None


def ls_title(title: str) -> str:
    """`title` as Label Studio stores it: unchanged up to 50 characters, else cut to 41 and a hash of the whole."""
    if len(title) <= TITLE_MAX:
        return title
    return f"{title[:TITLE_MAX - 9].rstrip()} {hashlib.sha256(title.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Annotator:
    """A Label Studio user who annotates: `id` is what `tasks_with_annotations` reports as `annotator`."""

    id: int
    email: str
    token: str = field(repr=False)


class LabelStudio:
    """One Label Studio server, as the user whose API token is given (the admin, or an annotator)."""

    def __init__(self, url: str, token: str, *, timeout_s: float = 60.0):
        from label_studio_sdk import LabelStudio as SDK

        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._token = token
        self.sdk = SDK(base_url=self.url, api_key=token, timeout=timeout_s)

    def __repr__(self) -> str:
        return f"LabelStudio({self.url!r})"

    # --- who am I -----------------------------------------------------------------------------------------------

    def whoami(self) -> dict:
        """`{"id", "email"}` of the user this client acts as."""
        with _api("who am I"):
            me = self.sdk.users.whoami()
        return {"id": me.id, "email": me.email}

    # --- projects -----------------------------------------------------------------------------------------------

    def find_project(self, title: str) -> int | None:
        """The id of the project titled exactly `title` (see `ls_title`; the oldest, should there be several), else
        None."""
        stored = ls_title(title)
        with _api(f"list projects titled {title!r}"):
            found = [p.id for p in self.sdk.projects.list(title=stored) if p.title == stored]
        return min(found) if found else None

    def ensure_project(self, title: str, label_config: str, instructions: str = "", overlap: int = 1, *,
                       description: str = "") -> int:
        """The project titled `title`, created with the labeling interface, the instructions (HTML, shown before
        labeling) and `overlap` annotators per task if there is none yet; an existing one is returned as it is."""
        if (found := self.find_project(title)) is not None:
            return found
        with _api(f"create project {title!r}"):
            if ls_title(title) != title:
                description = f"{title}\n\n{description}".strip()
            project = self.sdk.projects.create(
                title=ls_title(title), label_config=label_config, description=description,
                expert_instruction=instructions, show_instruction=bool(instructions),
                maximum_annotations=max(1, int(overlap)),
            )  # fmt: skip
        return project.id

    def projects_titled(self, prefix: str) -> list[int]:
        """Ids of the projects whose full title starts with `prefix` (a shortened title's full one heads its
        description; see `ls_title`)."""
        with _api(f"list projects titled {prefix!r}..."):
            return sorted(p.id for p in self.sdk.projects.list()
                          if (p.title or "").startswith(prefix) or (p.description or "").startswith(prefix))

    def delete_project(self, project: int) -> None:
        with _api(f"delete project {project}"):
            self.sdk.projects.delete(id=project)

    # --- tasks --------------------------------------------------------------------------------------------------

    def _tasks(self, project: int, fields: str) -> Iterator[Any]:
        with _api(f"list the tasks of project {project}"):
            yield from self.sdk.tasks.list(project=project, fields=fields, page_size=500)

    def task_ids(self, project: int) -> dict[str, int]:
        """`{pairforge_id: task id}` of the project's tasks that carry the key."""
        ids: dict[str, int] = {}
        for task in self._tasks(project, "task_only"):
            key = (task.data or {}).get(KEY)
            if isinstance(key, str):
                ids.setdefault(key, task.id)
        return ids

    def import_tasks(self, project: int, tasks: Iterable[dict], *, settle_s: float = 30.0) -> dict[str, int]:
        """Import tasks given as their data (each with a string `pairforge_id`), skipping keys the project already
        has; returns `{pairforge_id: task id}` of every given task. A key given twice is an error."""
        tasks = list(tasks)
        keys = [t.get(KEY) if isinstance(t, dict) else None for t in tasks]
        if bad := [i for i, k in enumerate(keys) if not isinstance(k, str) or not k]:
            raise ValueError(f"task {bad[0]}: every task needs a non-empty string {KEY!r} in its data")
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise ValueError(f"{KEY} {dup!r} is given twice")
        have = self.task_ids(project)
        new = [t for t in tasks if t[KEY] not in have]
        for start in range(0, len(new), IMPORT_CHUNK):
            with _api(f"import {len(new)} tasks into project {project}"):
                self.sdk.projects.import_tasks(id=project, request=new[start:start + IMPORT_CHUNK])
        if not new:
            return {k: have[k] for k in keys}
        deadline = time.monotonic() + settle_s  # imports may be processed in the background
        while True:
            have = self.task_ids(project)
            if not (missing := [k for k in keys if k not in have]):
                return {k: have[k] for k in keys}
            if time.monotonic() > deadline:
                raise LabelStudioAPIError(f"Label Studio: {len(missing)} imported tasks of project {project} did not "
                                          f"appear within {settle_s:.0f} s (first: {missing[0]!r})")
            time.sleep(0.5)

    def tasks_with_annotations(self, project: int) -> list[dict]:
        """Every task of the project: `{"id", "data", "annotations"}`, each submitted annotation (skipped ones left
        out) as `{"id", "annotator" (the user id), "result", "was_cancelled", "lead_time", "created_at",
        "updated_at"}`."""
        out = []
        for task in self._tasks(project, "all"):
            annotations = []
            for ann in task.annotations or []:
                ann = ann if isinstance(ann, dict) else ann.dict()
                if ann.get("was_cancelled"):
                    continue
                by = ann.get("completed_by")
                annotations.append({
                    "id": ann.get("id"),
                    "annotator": by.get("id") if isinstance(by, dict) else by,
                    "result": ann.get("result") or [],
                    "was_cancelled": False,
                    "lead_time": ann.get("lead_time"),
                    "created_at": ann.get("created_at"),
                    "updated_at": ann.get("updated_at"),
                })  # fmt: skip
            out.append({"id": task.id, "data": dict(task.data or {}), "annotations": annotations})
        return out

    def delete_tasks(self, project: int, pairforge_ids: Iterable[str]) -> int:
        """Delete the project's tasks with these keys, with their annotations (erasure); returns how many there
        were. Keys the project does not have are ignored."""
        from label_studio_sdk.actions import CreateActionsRequestSelectedItemsIncluded

        have = self.task_ids(project)
        ids = sorted({have[k] for k in pairforge_ids if k in have})
        for start in range(0, len(ids), DELETE_CHUNK):
            chunk = ids[start:start + DELETE_CHUNK]
            with _api(f"delete {len(chunk)} tasks of project {project}"):
                self.sdk.actions.create(id="delete_tasks", project=project,
                                        selected_items=CreateActionsRequestSelectedItemsIncluded(all_=False,
                                                                                                 included=chunk))
        return len(ids)

    # --- annotations and annotators -----------------------------------------------------------------------------

    def submit_annotation(self, task_id: int, result: list[dict], *, lead_time_s: float | None = None) -> int:
        """Submit an annotation of task `task_id` as this client's user; returns the annotation's id."""
        kwargs = {"lead_time": lead_time_s} if lead_time_s is not None else {}
        with _api(f"annotate task {task_id}"):
            return self.sdk.annotations.create(id=task_id, result=result, **kwargs).id

    def invite_token(self) -> str:
        """The organization's invite token (admin): what the sign-up link carries."""
        with _api("read the invite link"):
            return self.sdk.organizations.invites.get_invite_link().token

    def add_annotator(self, email: str, password: str) -> Annotator:
        """An annotator account (signed up through the invite link, or logged in if it exists) and its token."""
        token = user_token(self.url, email, password, invite_token=self.invite_token(), timeout_s=self.timeout_s)
        me = LabelStudio(self.url, token, timeout_s=self.timeout_s).whoami()
        return Annotator(me["id"], me["email"], token)


_FORM_ERROR = re.compile(r'class="[^"]*(?:error|field_errors)[^"]*"[^>]*>\s*([^<]{1,200})', re.I)


def user_token(url: str, email: str, password: str, *, invite_token: str | None = None,
               timeout_s: float = 60.0) -> str:
    """A user's API token, as a person gets it: sign up (through the invite link when `invite_token` is given) or,
    if the account exists, log in; then read the token with that session."""
    url = url.rstrip("/")
    with httpx.Client(base_url=url, timeout=timeout_s, follow_redirects=False) as http:
        def submit(path: str, params: dict, form: dict) -> httpx.Response:
            http.get(path, params=params)  # sets the csrftoken cookie
            csrf = http.cookies.get("csrftoken") or ""
            return http.post(path, params=params, data={**form, "csrfmiddlewaretoken": csrf},
                             headers={"Referer": f"{url}{path}", "X-CSRFToken": csrf})

        with _api(f"sign up {email}"):
            r = submit("/user/signup/", {"token": invite_token} if invite_token else {},
                       {"email": email, "password": password})
            if r.status_code != 302:  # the form again: the account exists (or the form was refused)
                r = submit("/user/login/", {}, {"email": email, "password": password})
            if r.status_code != 302:
                why = _FORM_ERROR.search(r.text)
                raise LabelStudioAPIError(f"Label Studio: neither sign-up nor log-in worked for {email} (HTTP "
                                          f"{r.status_code}{': ' + why.group(1).strip() if why else ''})",
                                          r.status_code)
            r = http.get("/api/current-user/token")
        if r.status_code != 200 or not r.json().get("token"):
            raise LabelStudioAPIError(f"Label Studio: no API token for {email} (HTTP {r.status_code})", r.status_code)
        return r.json()["token"]


__all__ = ["Annotator", "KEY", "LabelStudio", "LabelStudioAPIError", "ls_title", "user_token"]
