"""Secrets at rest (issue 13 item 6): credentials reach the endpoint they are for and nothing else.

Two real `pairforge run`s (subprocesses with the temporary Prefect server and a PREFECT_HOME of their own) go to an
OpenAI-style endpoint on 127.0.0.1 that answers some requests and fails the others with 400 or 500, echoing every
request header, the path and the query in its error body. One run has an API key (in the environment, sent as
`Authorization: Bearer`) and a `?key=` query in `generate.base_url`; the other has `user:password` in the URL (sent
as Basic auth). Then every byte the runs left is searched for each planted secret, as is, URL-encoded and in base64
(the Basic token too): the Prefect database (flow-run parameters, logs, artifacts, events), the runs' console
output, the work area, the request cache and every published file."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest
import yaml

from tests.conftest import DEMO, REPO, LoopbackHTTP, completion

DATA = DEMO / "data"
SKIP = ["langid", "filters", "pii", "judge", "augment", "decontaminate", "validation"]


class EchoingEndpoint(LoopbackHTTP):
    """Every third request is answered; the others fail (400, or 500 which is retried) with an error body that
    echoes the request's headers, path and query."""

    def __init__(self):
        self.seen: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                n = len(endpoint.seen)
                endpoint.seen.append({"path": self.path, "headers": dict(self.headers)})
                if n % 3 == 0:
                    status, payload = 200, completion("A short summary of the text.")
                else:
                    status = 400 if n % 3 == 1 else 500
                    # what a careless proxy says: the credentials first, then everything else it saw
                    payload = {"error": {"message": f"{self.headers.get('Authorization')} may not POST {self.path}; "
                                                    f"headers {dict(self.headers)}; body {json.dumps(body)[:200]}",
                                         "type": "invalid_request_error", "code": None}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-Echo-Authorization", self.headers.get("Authorization", ""))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.serve(Handler)


@pytest.fixture
def endpoint():
    server = EchoingEndpoint()
    yield server
    server.close()


def forms(secret: str) -> set[str]:
    """How a secret can show up in a file: as is, URL-encoded, base64 (standard, URL-safe, with or without '=')."""
    raw = secret.encode()
    b64 = base64.b64encode(raw).decode()
    return {secret, quote(secret, safe=""), b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def searchable(path: Path) -> bytes:
    """A file's bytes, and for Parquet (compressed) also its rows as JSON lines."""
    data = path.read_bytes()
    if path.suffix == ".parquet":
        data += pl.read_parquet(path).write_ndjson().encode()
    return data


def recipe_file(folder: Path, name: str, base_url: str, key_env: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "news.txt").write_text("\n".join((DATA / "news.txt").read_text().splitlines()[:6]) + "\n")
    (folder / "seed.jsonl").write_text("".join((DATA / "seed.jsonl").read_text().splitlines(True)[:5]))
    recipe = {
        "name": name,
        "sources": [{"name": "news", "uri": "news.txt", "format": "text-lines", "license": "CC-BY-4.0"},
                    {"name": "seed", "uri": "seed.jsonl", "format": "alpaca", "license": "Apache-2.0"}],
        "generate": {"base_url": base_url, "model": "echo", "api_key_env": key_env, "max_concurrency": 1,
                     "max_retries": 1, "timeout_s": 20, "max_failed_share": 1.0,
                     "generators": [{"kind": "summarization", "sources": ["news"], "max_chunks": 6}]},
        "export": {"uri": "../out/", "keep_work": True},  # the work area stays, to be searched too
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def pairforge_run(recipe: Path, home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAIRFORGE_"))}
    clean.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", **env)
    return subprocess.run([sys.executable, "-m", "pairforge.flows.cli", "run", str(recipe), *args], cwd=REPO,
                          env=clean, capture_output=True, text=True, timeout=600)


def test_no_planted_secret_is_stored_logged_or_published(endpoint, tmp_path):
    tag = uuid.uuid4().hex[:10]
    api_key = f"sk-plantedkey-{tag}"
    query_key = f"plantedquery{tag}"
    user, password = f"planteduser{tag}", f"plantedpass-{tag}"
    port = endpoint.url.rsplit(":", 1)[1]
    home = tmp_path / "prefect-home"
    home.mkdir()
    skip = [f"--skip={s}" for s in SKIP]

    # run 1: an API key from the environment (Bearer) and a key in the URL's query
    keyed = recipe_file(tmp_path / "keyed", "keyed-set", f"http://127.0.0.1:{port}/v1?key={query_key}",
                        "PF_TEST_LLM_ACCESS")  # a name nothing masks by itself: the configured key must be
    first = pairforge_run(keyed, home, {"PF_TEST_LLM_ACCESS": api_key}, "--version", "v1", *skip,
                          "--set", "generate.max_tokens=64")
    assert first.returncode == 0, first.stderr[-3000:]
    assert any(h["headers"].get("authorization") == f"Bearer {api_key}" for h in endpoint.seen)
    assert all(h["path"] == f"/v1/chat/completions?key={query_key}" for h in endpoint.seen)  # sent, and right
    sent_first = len(endpoint.seen)

    # run 2: user:password in the URL (Basic auth)
    basic = recipe_file(tmp_path / "basic", "basic-set", f"http://{user}:{password}@127.0.0.1:{port}/v1",
                        "PF_TEST_NO_KEY")
    second = pairforge_run(basic, home, {}, "--version", "v1", *skip)
    assert second.returncode == 0, second.stderr[-3000:]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert any(h["headers"].get("Authorization") == f"Basic {token}" for h in endpoint.seen[sent_first:])

    for name in ("keyed-set", "basic-set"):  # the failed requests are there, as status + kind + masked message
        version = tmp_path / "out" / name / "v1"
        dead = pl.read_parquet(version / "dead_letter" / "dead_letter.parquet")
        assert len(dead) >= 2 and dead["error"].str.contains(r"^HTTP (400|500) \w+").all(), dead["error"].to_list()
        assert dead["error"].str.contains("***", literal=True).all()
        assert dead["error"].str.len_chars().max() <= 300
        manifest = json.loads((version / "manifest.json").read_text())
        assert "***" in manifest["recipe"]["generate"]["base_url"]

    secrets = {"API key": api_key, "query key": query_key, "password": password, "user:password": f"{user}:{password}",
               "Basic token": token}
    needles = {form.encode(): what for what, secret in secrets.items() for form in forms(secret)}
    searched = [p for p in [*home.rglob("*"), *(tmp_path / "out").rglob("*")] if p.is_file()]
    assert any(p.name == "prefect.db" for p in searched) and any(p.name == "manifest.json" for p in searched)
    assert any(p.name == "README.md" for p in searched) and any("_work" in p.parts for p in searched)
    found = [f"{what} in {p.relative_to(tmp_path)}" for p in searched for content in [searchable(p)]
             for needle, what in needles.items() if needle in content]
    found += [f"{what} on the console of run {i}" for i, run in enumerate((first, second), start=1)
              for needle, what in needles.items() if needle.decode() in run.stdout + run.stderr]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("item", [
    "generate.base_url=http://someone:hunter2-xyz@127.0.0.1:9/v1",
    "generate.base_url=https://api.example/v1?key=abc123xyz",
    "generate.api_key=sk-abc123",
    "sources.0.uri=https://example.org/data.txt?X-Amz-Signature=abc123",
])
def test_credentials_in_set_are_refused_before_anything_starts(tmp_path, item):
    recipe = recipe_file(tmp_path / "set", "refused-set", "http://127.0.0.1:9/v1", "PF_TEST_NO_KEY")
    result = pairforge_run(recipe, tmp_path / "home", {}, "--set", item)
    assert result.returncode == 2
    assert "environment" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    value = item.partition("=")[2]
    assert value not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "home" / "prefect.db").exists() and not (tmp_path / "out").exists()
