"""Retry policy of the stage tasks: I/O hiccups are retried, bad data and 4xx are not."""

from __future__ import annotations

import pytest
from prefect import flow, task

from pairforge.tasks.core.shards import RETRYING, is_transient
from pairforge.tasks.core.storage import StorageError


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (StorageError("s3://b/k: SlowDown", transient=True), True),
        (StorageError("s3://b/k: AccessDenied"), False),
        (ConnectionResetError("reset by peer"), True),
        (TimeoutError("read timed out"), True),
        (ValueError("broken JSON"), False),
        (KeyError("text"), False),
    ],
)
def test_is_transient(exc, retry):
    assert is_transient(exc) is retry


def test_stage_retries_only_transient_failures(prefect_server):
    calls = {"flaky": 0, "bad": 0}

    @task(**{**RETRYING, "retry_delay_seconds": 0})
    def flaky() -> str:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise StorageError("s3://b/k: 503", transient=True)
        return "ok"

    @task(**{**RETRYING, "retry_delay_seconds": 0})
    def bad_data() -> None:
        calls["bad"] += 1
        raise ValueError("not valid utf-8")

    @flow
    def run() -> tuple:
        return flaky(), bad_data(return_state=True)

    result, bad_state = run()
    assert result == "ok" and calls["flaky"] == 2
    assert bad_state.is_failed() and calls["bad"] == 1
