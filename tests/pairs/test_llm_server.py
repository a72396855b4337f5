"""The embedded llama.cpp server dying under a run, with the real server and the SmolLM2 GGUF: killed under
requests, the run fails at once naming the signal and the kept log; killed between batches, it is restarted
once, and a second death fails the run."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from prefect import flow

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import GenerateOptions, GeneratorSpec
from pairforge.tasks.core.settings import get_settings
from pairforge.tasks.core.shards import Shard, is_transient
from pairforge.tasks.pairs.generate import client_for, ensure_llm_limit, generate_pairs, model_endpoint
from pairforge.tasks.pairs.llm import ChatRequest
from pairforge.tasks.pairs.llm_server import LLMServerDied, LocalLLMServer
from tests.conftest import CORPORA

ASKED = '"POST /v1/chat/completions'  # uvicorn's access log line, written when a response has been sent


def documents_shard(tmp_path: Path, n: int) -> Shard:
    lines = [t for t in (CORPORA / "text" / "lee_background.cor").read_text().splitlines() if t.strip()][:n]
    rows = [{"id": f"d{i}", "doc_id": f"d{i}", "text": t, "source": "news", "uri": "news.txt",
             "license": "CC-BY-4.0", "lang": "en"} for i, t in enumerate(lines)]
    frame = pl.DataFrame(rows)  # the columns generation reads
    uri = str(tmp_path / "in" / "news-00000-00000.parquet")
    storage.write_parquet(frame, uri)
    return Shard("documents", "news-00000-00000", uri, len(frame))


def wait_until(check, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def crash(server: LocalLLMServer) -> int:
    """SIGSEGV the server process (as llama.cpp's own crash would) and wait until it is gone; returns its pid."""
    pid = server.process.pid
    os.kill(pid, signal.SIGSEGV)
    server.process.wait(10)
    return pid


def test_a_server_killed_under_requests_fails_the_run_at_once(prefect_server, tmp_path):
    shard = documents_shard(tmp_path, 8)
    spec = GeneratorSpec(kind="summarization")
    # long waits on purpose: the death must not wait for a timeout or go through the retries
    opts = GenerateOptions(max_concurrency=4, max_tokens=256, timeout_s=120, max_retries=4, generators=[spec])
    ensure_llm_limit(get_settings().llm_concurrency_limit)
    servers: queue.Queue[LocalLLMServer] = queue.Queue()
    killed: dict = {}
    work = tmp_path / "work"

    @flow
    def generation() -> dict:
        with model_endpoint(opts) as endpoint:  # the embedded server, as a run with provider local starts it
            servers.put(endpoint.server)
            return generate_pairs(spec, 0, [shard], endpoint, opts, None, "en", str(work))

    def killer():
        server = servers.get(timeout=300)
        log_path = Path(server.log_path)
        # one answer sent, so the other requests of the batch are queued at or running in the server
        wait_until(lambda: ASKED in log_path.read_text(errors="replace"), 120, "the first answer")
        killed["log"] = str(log_path)
        killed["pid"] = crash(server)
        killed["at"] = time.monotonic()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    with pytest.raises(LLMServerDied) as err:
        generation()
    failed_at = time.monotonic()
    thread.join(30)
    assert "at" in killed, "the run ended before the server was killed"
    elapsed = failed_at - killed["at"]
    print(f"\nkill -> run failed: {elapsed:.2f} s")
    assert elapsed < 10
    message = str(err.value)
    assert message.startswith("local model server exited (signal SIGSEGV, code -11); log: ")
    assert f"log: {killed['log']};" in message and "last lines of its log:" in message
    assert Path(killed["log"]).is_file()  # kept after the server was stopped, so the message's path is real
    assert not (work / "dead_letter").exists()  # a failed run, not failed requests counted against a share
    # augment's task retries (RETRYING) only retry transient I/O errors; a dead server is not one
    assert not is_transient(err.value)


def test_a_server_dead_between_batches_is_restarted_once(tmp_path):
    opts = GenerateOptions(max_tokens=8, temperature=0.0, max_concurrency=2)
    batch = [ChatRequest([{"role": "user", "content": f"Say {word}."}], key=word) for word in ("yes", "no")]
    with model_endpoint(opts) as endpoint:
        server = endpoint.server
        client = client_for(endpoint, opts, None)
        results, stats = client.run(batch)
        assert all(r.ok for r in results) and stats.server_restarts == 0

        first_pid = crash(server)
        results, stats = client.run(batch)
        assert [r.error for r in results] == [None, None] and all(r.text for r in results)
        assert stats.server_restarts == 1 and stats.to_dict()["server_restarts"] == 1
        assert server.process.pid != first_pid and server.process.poll() is None
        assert server.base_url == endpoint.base_url == client.base_url  # restarted where the client looks

        crash(server)
        with pytest.raises(LLMServerDied, match=r"^local model server exited \(signal SIGSEGV, code -11\); log: "):
            client.run(batch)
        log_path = server.log_path
    assert log_path and Path(log_path).is_file()
    assert Path(log_path).read_text(errors="replace").count(ASKED) >= 4  # both lives wrote to the one log
