"""Children spawned through tasks.core.procs: their own session, and dead when their parent dies (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pairforge.tasks.core import procs


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_child_has_its_own_session_and_outlives_the_thread_that_started_it():
    started: list[subprocess.Popen] = []
    thread = threading.Thread(target=lambda: started.append(procs.spawn(["sleep", "60"])))
    thread.start()
    thread.join()  # PR_SET_PDEATHSIG follows the forking thread: this one is gone, the child must not be
    child = started[0]
    try:
        time.sleep(0.3)
        assert child.poll() is None
        assert os.getsid(child.pid) == child.pid != os.getsid(0)
        assert child in procs.running()
    finally:
        assert procs.stop(child, 2) == -signal.SIGTERM
    assert child not in procs.running()


def test_stop_all():
    """In a process of its own: stop_all stops every child of its process, and the test session's own (a shared
    llama.cpp server started by an earlier test) must not be among them."""
    script = ("from pairforge.tasks.core import procs\n"
              "children = [procs.spawn(['sleep', '60']) for _ in range(2)]\n"
              "stopped = procs.stop_all(1.0)\n"
              "print(sorted(stopped) == sorted(c.pid for c in children),\n"
              "      all(c.poll() is not None for c in children))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True"], out.stderr[-2000:]


def test_children_die_with_a_sigkilled_parent(tmp_path):
    script = ("import sys, time\n"
              "from pairforge.tasks.core import procs\n"
              "print(procs.spawn(['sleep', '300']).pid, flush=True)\n"
              "time.sleep(300)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        parent.kill()  # no clean-up code runs: only the kernel can end the child
        parent.wait()
        deadline = time.monotonic() + 3
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child)
    finally:
        parent.kill()


def test_spawn_sets_the_session_itself():
    with pytest.raises(TypeError):
        procs.spawn(["true"], start_new_session=False)
