"""Shared fixtures: a throw-away Prefect server, a real S3-compatible server (moto, over HTTP on
127.0.0.1), the real local LLM server, OpenAI-style endpoints that misbehave on purpose, and paths
to the shared corpora."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
DEMO = REPO / "examples" / "demo"


def read_corpus(name: str, path: str, fmt: str, license: str) -> pl.DataFrame:
    """Rows of a shared corpus file (a path under ../shared/corpora) read through the real source reader."""
    from pairforge.tasks.core.recipe import Source
    from pairforge.tasks.ingest.sources import read_source_file

    src = Source(name=name, uri=str(CORPORA / path), format=fmt, license=license)
    return read_source_file(src, src.uri, "en").rows


USER_ORIENTED = ("user-oriented-instructions", "instruct/user_oriented_instructions.jsonl", "self-instruct",
                 "Apache-2.0")
ALPACA_SEED = ("alpaca-seed-tasks", "instruct/alpaca_seed_tasks.jsonl", "self-instruct", "CC-BY-NC-4.0")

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def prefect_server():
    """A real Prefect API server (SQLite in a temp dir) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's standalone S3 server on a free loopback port; the standard AWS env points at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                            "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1")
    yield endpoint
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def bucket(s3_endpoint, request):
    """A fresh bucket per test; returns its name."""
    import boto3

    name = "pf-" + re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    boto3.client("s3").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def llm_server():
    """The real llama.cpp OpenAI-compatible server over the SmolLM2 GGUF, started once for the session."""
    from pairforge.tasks.pairs.llm_server import LocalLLMServer

    with LocalLLMServer() as server:
        yield server


def completion(content: str, prompt_tokens: int = 7, completion_tokens: int = 3) -> dict:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }  # fmt: skip


def error_body(message: str) -> dict:
    return {"error": {"message": message, "type": "test_error", "code": None, "param": None}}


class LoopbackHTTP:
    """An HTTP server on a free 127.0.0.1 port, served from a daemon thread."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeOpenAI(LoopbackHTTP):
    """An OpenAI-style endpoint on a free loopback port. `reply(n, body)` -> (status, headers, json) answers
    the n-th call (0-based); every call's arrival time and JSON body are recorded."""

    def __init__(self, reply, delay=None):
        self.reply, self.delay = reply, delay
        self.calls: list[tuple[float, dict]] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with fake._lock:
                    n = len(fake.calls)
                    fake.calls.append((time.monotonic(), body))
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    if fake.delay:
                        time.sleep(fake.delay(n, body))
                    status, headers, payload = fake.reply(n, body)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.serve(Handler)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


@pytest.fixture
def fake_openai():
    servers = []

    def start(reply, delay=None) -> FakeOpenAI:
        servers.append(FakeOpenAI(reply, delay))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


# --- operations (tests/test_ops.py): a real `prefect server start`, a loopback webhook receiver ---------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectAPI:
    """A `prefect server start` subprocess: API at `url`, UI at `ui_url`, SQLite under `home`."""

    def __init__(self, home: Path, port: int):
        self.home, self.port = home, port
        self.ui_url = f"http://127.0.0.1:{port}"
        self.url = f"{self.ui_url}/api"
        self.log = home / "server.log"
        self.proc = None  # the server's subprocess.Popen

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a client process (CLI, worker, serve) of this server, with its own PREFECT_HOME."""
        client_home = self.home / "client"
        client_home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAIRFORGE_"))}
        env.update(PREFECT_API_URL=self.url, PREFECT_HOME=str(client_home), PREFECT_UI_URL=self.ui_url,
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", **extra)
        return env

    def start(self, timeout: float = 120) -> None:
        import subprocess
        import sys
        import urllib.request

        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PAIRFORGE_"))}
        env.update(
            PREFECT_HOME=str(self.home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
            PREFECT_SERVER_UI_API_URL=self.url,  # the UI's browser code calls this API (default: port 4200)
            PREFECT_UI_URL=self.ui_url,  # links in automation payloads
            PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED="true",  # automations are evaluated by these services
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="true",
            # as `make ui`: SQLite waits 60 s for a lock; the default 10 s answered the UI's Run button with 503
            # on a loaded CI machine while a worker's run was writing
            PREFECT_SERVER_DATABASE_TIMEOUT="60",
            PREFECT_SERVER_LOG_RETRYABLE_ERRORS="true",  # a 503 names its cause in server.log
        )
        prefect = Path(sys.executable).with_name("prefect")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.home, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"prefect server did not answer within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.drain()
            stop_process(self.proc)

    @staticmethod
    def drain(timeout: float = 30) -> None:
        """Send the logs and events that flows run in this process still queue, while the server is up
        (else the interpreter's exit retries them against a closed port for a minute)."""
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for service in (APILogWorker, EventsWorker):
            service.drain_all(timeout=timeout)

    def settings(self):
        """Context manager: this process's Prefect client talks to this server."""
        from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

        return temporary_settings({PREFECT_API_URL: self.url, PREFECT_UI_URL: self.ui_url})


def stop_process(proc, timeout: float = 15) -> None:
    """SIGTERM a subprocess.Popen (and its session, if it leads one), then SIGKILL it if it is still there
    after `timeout` seconds."""
    import signal
    import subprocess

    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig) if _own_session(proc) else proc.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _own_session(proc) -> bool:
    try:
        return os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        return False


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """A real `prefect server start` (SQLite in a temporary PREFECT_HOME, 127.0.0.1, a free port, with its UI
    and the services that run schedules and automations) for the session; yields a PrefectAPI."""
    server = PrefectAPI(tmp_path_factory.mktemp("prefect-server"), free_port())
    server.start()
    yield server
    server.stop()


class WebhookReceiver(LoopbackHTTP):
    """A loopback HTTP server that records every request: (path, headers, body as JSON or text)."""

    def __init__(self):
        self.requests: list[tuple[str, dict, object]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body: object = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with receiver._lock:
                    receiver.requests.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.serve(Handler)


    def wait_for(self, match, timeout: float = 30) -> list[tuple[str, dict, object]]:
        """Requests for which match(path, body) is true, waiting up to `timeout` seconds for at least one."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [r for r in self.requests if match(r[0], r[2])]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.2)



@pytest.fixture(scope="module")
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
