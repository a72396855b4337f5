"""Child processes that never outlive pairforge: the embedded model server, the temporary Prefect server.

    proc = spawn([sys.executable, "-m", "llama_cpp.server", ...], stdout=log)
    ...
    stop(proc)                       # SIGTERM, then SIGKILL after a grace period

`spawn` is `subprocess.Popen` with two differences:

- the child gets a session of its own, so a signal to the run's process group (Ctrl-C in a terminal,
  `kill -TERM -PGID`) does not reach it: pairforge stops it in order, after the run has recorded its state.
  A Prefect server that died together with the run could not record the run's final state.
- on Linux the child asks the kernel for `PR_SET_PDEATHSIG` = SIGKILL, so it dies when pairforge dies, even by
  SIGKILL, where no clean-up code runs. The kernel sends that signal when the *thread* that forked the child
  ends, not the process: every child is therefore forked by one daemon thread that lives as long as the
  process (a child started from a short-lived worker thread would die with that thread).

Every child spawned here is registered until it is reaped, so `stop_all()` can end whatever is still
running when the run is interrupted. Dask's worker processes (forked by Dask) arm the same signal themselves,
through this module as a Dask preload (`dask_setup`).
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import ctypes.util
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()  # looked up before any fork: the child only calls it


def _die_with_parent(parent_pid: int) -> Callable[[], None] | None:
    """The `preexec_fn` that arms PR_SET_PDEATHSIG in the child (None where there is no prctl)."""
    if _prctl is None:
        return None
    prctl, sigkill = _prctl, int(signal.SIGKILL)

    def arm() -> None:  # runs in the child between fork and exec: no imports, no locks
        prctl(PR_SET_PDEATHSIG, sigkill, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os._exit(1)

    return arm


class _Spawner:
    """One daemon thread that forks every child (see the module docstring: PDEATHSIG follows the forking thread)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._loop, name="pairforge-spawner", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            fn, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as e:  # handed to the caller
                future.set_exception(e)

    def run(self, fn: Callable[[], Any]) -> Any:
        if threading.current_thread() is self.thread:
            return fn()
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((fn, future))
        return future.result()


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def _get_spawner() -> _Spawner:
    global _spawner
    with _spawner_lock:
        if _spawner is None or not _spawner.thread.is_alive():
            _spawner = _Spawner()
        return _spawner


def run_on_spawner(fn: Callable[[], Any]) -> Any:
    """Call `fn` on the long-lived spawner thread and return its result: for code that starts processes itself
    (a process pool), so that their parent-death signal is tied to a thread that lives as long as the process."""
    return _get_spawner().run(fn)


def spawn(args: list[str], **popen_kwargs: Any) -> subprocess.Popen:
    """`subprocess.Popen(args, **popen_kwargs)` in a session of its own that dies with this process (Linux)."""
    if "preexec_fn" in popen_kwargs or "start_new_session" in popen_kwargs or "process_group" in popen_kwargs:
        raise TypeError("spawn sets the child's session and parent-death signal itself")
    arm = _die_with_parent(os.getpid())
    proc = _get_spawner().run(lambda: subprocess.Popen(args, start_new_session=True, preexec_fn=arm, **popen_kwargs))
    with _children_lock:
        _children.add(proc)
    return proc


def die_with_parent() -> bool:
    """Arm PR_SET_PDEATHSIG=SIGKILL in this process, for children pairforge does not fork itself (Dask's worker
    processes, through `dask_setup`); False where there is no prctl."""
    if _prctl is None:
        return False
    return _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0


def dask_setup(worker: Any = None) -> None:
    """Dask preload hook (`preload=["pairforge.tasks.core.procs"]`): the worker process dies with the process that
    started its cluster. (distributed forks a worker from a thread of its nanny that lives until the worker is
    closed, so the signal does not come early.)"""
    die_with_parent()


def stop(proc: subprocess.Popen, grace_s: float = 10.0) -> int:
    """SIGTERM the child, SIGKILL it if it is still there after `grace_s` seconds (0: at once); returns its exit
    code. A child that already exited is only reaped."""
    try:
        if proc.poll() is None:
            if grace_s > 0:
                proc.terminate()
                try:
                    proc.wait(grace_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
            else:
                proc.kill()
        return proc.wait()
    finally:
        with _children_lock:
            _children.discard(proc)


def running() -> list[subprocess.Popen]:
    """Children spawned here that have not been stopped or reaped yet."""
    with _children_lock:
        for proc in [p for p in _children if p.poll() is not None]:
            _children.discard(proc)
        return list(_children)


def stop_all(grace_s: float = 3.0) -> list[int]:
    """Stop every child still running (SIGTERM to all at once, SIGKILL to those left after `grace_s`); returns
    their pids."""
    procs = running()
    for proc in procs:
        try:
            proc.terminate() if grace_s > 0 else proc.kill()
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    for proc in procs:  # whatever is left when the grace period is over is killed
        stop(proc, max(0.0, deadline - time.monotonic()))
    return [p.pid for p in procs]


__all__ = ["spawn", "stop", "stop_all", "running", "die_with_parent", "dask_setup", "run_on_spawner"]
