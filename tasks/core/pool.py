"""Worker processes for CPU-bound stage work (the PII scrub): spaCy and Presidio hold the GIL, so threads scrub one
shard at a time; processes use every core.

    with cpu_pool(workers, warm=(build_scrubber, options)):   # in the flow's main thread, around a stage
        ... current().submit(fn, *args) ...                     # in the stage's tasks (threads of this process)

One pool per stage run, `workers` processes started with "spawn" (a fork of a process with Prefect's threads
could inherit a held lock). Each worker builds what `warm` names once, at start, so the workers load their models
side by side while the first tasks read their shards. Workers die with pairforge even by SIGKILL (PR_SET_PDEATHSIG,
armed in the worker; the processes are started from `tasks.core.procs`' long-lived spawner thread, since the
kernel sends the signal when the forking *thread* ends), ignore Ctrl-C (the run's process stops them) and are
terminated when the stage ends or fails. Under Dask the tasks already run in worker processes: no pool there.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from pairforge.tasks.core import procs

_current: Executor | None = None
_lock = threading.Lock()


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and `taskset` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _start_worker(warm: tuple[Callable[..., Any], tuple] | None) -> None:
    procs.die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if warm is not None:
        fn, args = warm
        fn(*args)


def _ready() -> int:
    return os.getpid()


@contextmanager
def _without_main() -> Iterator[None]:
    """Spawned workers that do not import the caller's main module: multiprocessing runs a script's top level again
    in every spawned child (its `__main__` guard decides what runs), and a user's script that calls the flow
    without the guard would start the build again in each worker. The workers need only pairforge's modules."""
    from multiprocessing import spawn

    prepare = spawn.get_preparation_data

    def without_main(name: str) -> dict:
        data = prepare(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    spawn.get_preparation_data = without_main
    try:
        yield
    finally:
        spawn.get_preparation_data = prepare


@contextmanager
def cpu_pool(workers: int, warm: tuple[Callable[..., Any], tuple] | None = None) -> Iterator[Executor | None]:
    """A process pool of `workers` processes for the tasks of one stage (None, and no pool, for fewer than 2)."""
    global _current
    if workers < 2:
        yield None
        return

    def start() -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(warm,))
        with _without_main():
            for _ in range(workers):  # each submit to a pool without an idle worker starts one, from this thread
                pool.submit(_ready)
        return pool

    pool = procs.run_on_spawner(start)
    with _lock:
        _current = pool
    try:
        yield pool
    finally:
        with _lock:
            _current = None
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:  # a worker in the middle of a batch of a failed or interrupted stage
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join(5)


def current() -> Executor | None:
    """The pool of the stage running now in this process, or None (run the work in the calling thread)."""
    with _lock:
        return _current


__all__ = ["cpu_pool", "current", "usable_cores"]
