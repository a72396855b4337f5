"""How a `pairforge run` process starts and ends: the temporary Prefect server it may need, and what SIGINT
(Ctrl-C) and SIGTERM do.

    with run_process():
        state = build_dataset(..., return_state=True)

Without `PREFECT_API_URL`, Prefect would start its own temporary server as a plain child in the run's
process group: a signal to the group (Ctrl-C, `kill -TERM -PGID`) stopped it together with the run, before
the run could record its final state, and a SIGKILL left it behind. `run_process` starts the same server
(Prefect's `SubprocessASGIServer`, same command and database) through `tasks.core.procs.spawn` instead: in a
session of its own and killed by the kernel when the run's process dies.

On SIGINT or SIGTERM:
1. the flow's main thread gets `KeyboardInterrupt` or Prefect's `TerminationSignal` and unwinds: the embedded
   model server is killed on the way out, the task runner stops handing out tasks and does not wait for the
   running ones (`InterruptibleThreadPoolTaskRunner`), Prefect records the flow run as Crashed and runs the
   `on_crashed` hook (flows/hooks.py: the webhook report; unfinished task runs are marked Cancelled);
2. `run_process` sends the queued logs and events, stops the temporary Prefect server and any other child
   still running, says how to resume, and exits with 128 + the signal number without waiting for task threads
   still running: their shards have no completion marker, so the rerun with the same `--version` redoes them
   and reuses everything else;
3. a watchdog thread holds the bound: if the process is still there `deadline_s` seconds after the signal (a
   main thread stuck in native code, a server that does not answer), it kills the children and exits.
A second signal during the clean-up cuts it short the same way.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect.exceptions import TerminationSignal
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from pairforge.tasks.core import procs

DEADLINE_S = 8.0  # from the signal to the exit, whatever happens (the contract is 10 s)
DRAIN_S = 2.0  # for the queued logs and events, on an interrupt
SERVER_GRACE_S = 3.0
STARTUP_TIMEOUT_S = 90  # Prefect's default of 20 s is short for a first start (database migrations) on a busy machine


class InterruptibleThreadPoolTaskRunner(ThreadPoolTaskRunner):
    """Prefect's thread pool, except that a flow interrupted by a signal (KeyboardInterrupt, TerminationSignal:
    not an `Exception`) does not wait for its running tasks before Prefect records the run's state and runs its
    hooks. Threads cannot be stopped: the process that owns them exits (see `run_process`). A flow that fails
    with an exception still waits for them, as before."""

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if exc_type is None or issubclass(exc_type, Exception):
            return super().__exit__(exc_type, exc_value, traceback)
        for event in list(self._cancel_events.values()):  # tasks not started yet will not start
            event.set()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        TaskRunner.__exit__(self, exc_type, exc_value, traceback)


@functools.cache
def _server_class() -> type:
    """TemporaryPrefectServer, made on first use: importing Prefect's server module takes seconds."""
    from prefect.server.api.server import SubprocessASGIServer

    class TemporaryPrefectServer(SubprocessASGIServer):
        """Prefect's temporary API server (the one a run without PREFECT_API_URL gets), started through
        `procs.spawn`: its own session, and it dies with this process."""

        _instances: dict = {}  # apart from Prefect's own registry

        def _run_uvicorn_command(self) -> subprocess.Popen:
            import prefect
            from prefect.settings import get_current_settings

            # as SubprocessASGIServer._run_uvicorn_command (prefect 3.9): the API only, no UI
            return procs.spawn(
                [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent), "--factory",
                 "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                 "--log-level", "error", "--lifespan", "on"],
                env={**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
                     "PREFECT__SERVER_FINAL": "1",
                     **get_current_settings().to_environment_variables(exclude_unset=True)},
            )  # fmt: skip

        def stop(self, grace_s: float = SERVER_GRACE_S) -> None:
            if self.server_process is not None:
                procs.stop(self.server_process, grace_s)
                self.server_process = None
            super().stop()

    return TemporaryPrefectServer


def needs_temporary_server() -> bool:
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_ALLOW_EPHEMERAL_MODE

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_ALLOW_EPHEMERAL_MODE.value())


@contextmanager
def temporary_server() -> Iterator[Any]:
    """Start the temporary server and point this process's Prefect client at it (as `prefect_test_harness` does,
    with the usual database under PREFECT_HOME); on exit, send what is queued, then stop it (an interrupted run
    waits at most DRAIN_S seconds for that)."""
    import prefect.context
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    server = _server_class()()
    prior = SubprocessASGIServer._instances.get(None)
    try:
        server.start(timeout=max(STARTUP_TIMEOUT_S, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
        SubprocessASGIServer._instances[None] = server  # code asking Prefect for "the" temporary server gets ours
        with (temporary_settings(updates={PREFECT_API_URL: server.api_url}),
              prefect.context._temporary_global_settings_context(prefect.context.get_settings_context())):
            try:
                yield server
            except BaseException as e:
                if isinstance(e, Exception):
                    drain(30.0)
                else:  # interrupted: what the abandoned task threads log from now on has no server to go to
                    drain(DRAIN_S, then_mute=True)
                raise
            drain(30.0)
    finally:
        _restore_default_server(prior)
        server.stop()


def _restore_default_server(prior: Any) -> None:
    from prefect.server.api.server import SubprocessASGIServer

    if prior is not None:
        SubprocessASGIServer._instances[None] = prior
    else:
        SubprocessASGIServer._instances.pop(None, None)


def drain(timeout_s: float | None = None, then_mute: bool = False) -> None:
    """Send the logs and events this process still queues (before the server they go to stops); `then_mute`:
    drop the Prefect logs that come after (they still reach the console)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker, set_api_log_sink

    for service in (APILogWorker, EventsWorker):
        try:
            service.drain_all(timeout=timeout_s)
        except Exception:  # a worker that never started, or a server already gone
            pass
    if then_mute:
        set_api_log_sink(lambda log: None)


def _raise_termination(signum: int, frame: Any) -> None:
    """SIGTERM outside the flow engine's own handler (before the flow starts, after it ends): unwind like inside."""
    raise TerminationSignal(signal=signum)


class _Guard:
    """The signal handlers and the watchdog of one `run_process`."""

    def __init__(self, deadline_s: float):
        self.deadline_s = deadline_s
        self.signum: int | None = None  # the first SIGINT/SIGTERM
        self.since: float | None = None
        self._lock = threading.Lock()
        self._saved: dict[int, Any] = {}
        self._wakeup: tuple[int, int] | None = None
        self._saved_wakeup = -1

    def install(self) -> None:
        self._saved[signal.SIGTERM] = signal.signal(signal.SIGTERM, _raise_termination)
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        # every signal that has a Python handler also writes its number here, from the C-level handler: the
        # watchdog learns of it at once, even while the main thread is busy in native code
        self._saved_wakeup = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._wakeup = (read_fd, write_fd)
        threading.Thread(target=self._watch, args=(read_fd,), name="pairforge-signal-watchdog", daemon=True).start()

    def uninstall(self) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._saved_wakeup)
            os.close(self._wakeup[1])  # the watchdog reads EOF and ends; it closes its end
            self._wakeup = None

    def _noted(self, signum: int) -> None:
        """The first SIGINT/SIGTERM starts the deadline."""
        with self._lock:
            if self.signum is not None:
                return
            self.signum, self.since = signum, time.monotonic()
        threading.Thread(target=self._expire, name="pairforge-signal-deadline", daemon=True).start()

    def _watch(self, read_fd: int) -> None:
        try:
            while data := os.read(read_fd, 64):
                for signum in data:
                    if signum in (signal.SIGINT, signal.SIGTERM):
                        self._noted(signum)
        except OSError:
            pass
        finally:
            os.close(read_fd)

    def _expire(self) -> None:
        time.sleep(max(0.0, self.deadline_s - (time.monotonic() - (self.since or time.monotonic()))))
        self.force_exit(f"still running {self.deadline_s:.0f} s after the signal")

    def force_exit(self, why: str) -> None:
        procs.stop_all(0)
        _say(f"pairforge: {why}: children killed, exiting")
        os._exit(128 + (self.signum or signal.SIGTERM))

    def finish(self, signum: int, resume_hint: str | None, drained: bool) -> None:
        """The orderly end of an interrupted run (see the module docstring); never returns. `drained`: the queued
        logs and events were sent already (before the temporary server stopped)."""
        self._noted(signum)

        def again(sig: int, frame: Any) -> None:
            self.force_exit(f"second signal ({signal.Signals(sig).name})")

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, again)
        if not drained:
            drain(DRAIN_S, then_mute=True)
        stopped = procs.stop_all(SERVER_GRACE_S)
        name = signal.Signals(self.signum).name
        _say(f"interrupted by {name}: the flow run was recorded as crashed"
             + (f", {len(stopped)} child process(es) stopped" if stopped else "")
             + (f"; {resume_hint}" if resume_hint else ""))
        os._exit(128 + self.signum)


def _say(line: str) -> None:
    try:
        sys.stdout.flush()
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except Exception:
        pass


def _signum(exc: BaseException) -> int:
    return exc.signal if isinstance(exc, TerminationSignal) else signal.SIGINT


@contextmanager
def run_process(resume_hint=lambda: None, deadline_s: float = DEADLINE_S) -> Iterator[None]:
    """Around one `pairforge run` in this process: the temporary Prefect server if there is no PREFECT_API_URL,
    and the handling of SIGINT/SIGTERM described in the module docstring. `resume_hint()`: what to print after an
    interruption (e.g. "run again with --version X to resume")."""
    guard = _Guard(deadline_s)
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield
        return
    guard.install()
    own_server = needs_temporary_server()
    try:
        with temporary_server() if own_server else _nothing():
            yield
    except (KeyboardInterrupt, TerminationSignal) as e:
        hint = None
        try:
            hint = resume_hint()
        except BaseException:
            pass
        guard.finish(_signum(e), hint, drained=own_server)
    finally:
        guard.uninstall()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


__all__ = ["run_process", "InterruptibleThreadPoolTaskRunner", "temporary_server", "drain"]
