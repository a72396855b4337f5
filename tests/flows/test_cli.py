"""The `pairforge` CLI as users run it: a subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from tests.conftest import DEMO, REPO


def pairforge(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pairforge.flows.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def recipe_file(tmp_path: Path, **changes) -> Path:
    recipe = {
        "name": "cli-set",
        "sources": [{"name": "news", "uri": str(DEMO / "data" / "news.txt"), "format": "text-lines",
                     "license": "LGPL-2.1-only"}],
        "export": {"uri": str(tmp_path / "out") + "/"},
    }
    recipe.update(changes)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"colour": "blue"}, "colour: unknown key"),
        ({"pii": {"operatr": "mask"}}, "pii.operatr: unknown key"),
        ({"split": {"train": "most"}}, "split.train"),
        ({"sources": [{"name": "x", "uri": "nope.txt", "format": "text-lines", "license": "MIT"}]}, "nope.txt"),
        ({"sources": [{"name": "x", "uri": str(DEMO / "data" / "news.txt"), "format": "docx", "license": "MIT"}]},
         "unknown format 'docx'"),
        ({"name": "Bad Name"}, "name"),
    ],
)
def test_bad_recipe_exits_2_with_one_line(tmp_path, change, expected):
    result = pairforge("run", str(recipe_file(tmp_path, **change)))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_empty_source_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    recipe = recipe_file(tmp_path, sources=[{"name": "seed", "uri": str(empty), "format": "alpaca",
                                             "license": "MIT"}])
    result = pairforge("run", str(recipe))
    assert result.returncode == 2
    assert "sources.0 (seed)" in result.stderr and "empty" in result.stderr and str(empty) in result.stderr


def test_run_inspect_validate(prefect_server, tmp_path):
    from prefect.settings import PREFECT_API_URL

    env = {"PREFECT_API_URL": PREFECT_API_URL.value()}  # the run is recorded on the test server
    result = pairforge("run", str(recipe_file(tmp_path)), "--set", "split.seed=7", "--version", "cli1", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    uri = result.stdout.strip().splitlines()[-1]
    assert uri == str(tmp_path / "out" / "cli-set" / "cli1")
    assert "export" in result.stderr  # the summary table

    shown = pairforge("inspect", str(tmp_path / "out" / "cli-set"))  # dataset folder -> LATEST
    assert shown.returncode == 0, shown.stderr
    assert "cli-set" in shown.stdout and "cli1" in shown.stdout and "train" in shown.stdout

    checked = pairforge("validate", uri)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == uri

    # tampering with a shard is caught by the checksums
    shard = next((Path(uri) / "documents").glob("train-*.parquet"))
    shard.write_bytes(shard.read_bytes() + b"x")
    assert pairforge("validate", uri).returncode == 1

    missing = pairforge("inspect", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


ROWS = [
    {"n": 1, "text": "Contact John Smith at john.smith@example.com today.", "meta": {"k": [1, 2]}},
    {"n": 2, "text": "Nothing personal in this sentence about rivers.", "meta": None},
    {"n": 3, "text": "Card 4111 1111 1111 1111 was charged; call 212-555-0199.", "meta": {"k": []}},
]


def test_scrub_jsonl_round_trip(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    result = pairforge("scrub", str(src), str(dst), "--field", "text")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["n"] for r in out] == [1, 2, 3]
    assert [r["meta"] for r in out] == [r["meta"] for r in ROWS]
    assert out[1]["text"] == ROWS[1]["text"]
    joined = json.dumps(out)
    for value in ("john.smith@example.com", "4111 1111 1111 1111", "212-555-0199"):
        assert value not in joined


def test_scrub_parquet_round_trip(tmp_path):
    src, dst = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pl.DataFrame([{k: v for k, v in r.items() if k != "meta"} for r in ROWS]).write_parquet(src)
    result = pairforge("scrub", str(src), str(dst), "--field", "text", "--operator", "mask")
    assert result.returncode == 0, result.stderr
    out = pl.read_parquet(dst)
    assert out["n"].to_list() == [1, 2, 3]
    assert out["text"][1] == ROWS[1]["text"]
    assert "john.smith@example.com" not in out["text"][0] and "*" in out["text"][0]


def test_scrub_rejects_unknown_field(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n")
    result = pairforge("scrub", str(src), str(tmp_path / "o.jsonl"), "--field", "body")
    assert result.returncode == 2 and "body" in result.stderr


@pytest.mark.parametrize("command", ["inspect", "validate"])
def test_a_missing_or_broken_version_exits_2_with_one_line(tmp_path, command):
    missing = pairforge(command, str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "no manifest.json" in missing.stderr
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "manifest.json").write_text("{not json")
    broken = pairforge(command, str(tmp_path / "v1"))
    assert broken.returncode == 2 and "Traceback" not in broken.stderr
    assert "manifest.json is not valid JSON" in broken.stderr
