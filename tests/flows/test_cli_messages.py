"""Errors print as text (issue 13 item 7): no message goes through rich markup, so `[...]` in a path, a pattern or
a library's message prints as written and cannot crash the printer; malformed recipes that used to end in a
traceback (a 20,000-deep YAML value, an unknown encoding, a symlink-loop source) exit 2 with one line before
any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import DEMO
from tests.flows.test_cli import pairforge


def recipe(tmp_path: Path, **changes) -> Path:
    data = {"name": "msg-set",
            "sources": [{"name": "news", "uri": str(DEMO / "data" / "news.txt"), "format": "text-lines",
                         "license": "LGPL-2.1-only"}],
            "export": {"uri": str(tmp_path / "out") + "/"}}  # fmt: skip
    data.update(changes)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def one_error_line(result, code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_brackets_in_paths_and_patterns_print_as_written(tmp_path):
    folder = tmp_path / "a[x]" / "[/b]"
    line = one_error_line(pairforge("run", str(folder / "recipe.yaml")))
    assert f"{folder}/recipe.yaml: recipe file not found" in line
    line = one_error_line(pairforge("run", str(recipe(tmp_path, name="Bad_Name"))))
    assert "name: String should match pattern '^[a-z0-9-]+$'" in line  # the pattern, not '^+$'
    line = one_error_line(pairforge("run", str(recipe(tmp_path)), "--version", "../x"))
    assert line == "error: --version: must match [A-Za-z0-9._-]+ (no '/')"
    line = one_error_line(pairforge("inspect", str(folder)))
    assert str(folder) in line


def test_a_bad_bucket_name_is_one_line_not_a_markup_crash(tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # never reached: botocore refuses the name first
    line = one_error_line(pairforge("inspect", "s3://Bad_Bucket!/x", env=env))
    assert "Invalid bucket name" in line and "accesspoint[/:]" in line  # botocore's regex, brackets and all
    src = [{"name": "news", "uri": "s3://Bad_Bucket!/news/*.txt", "format": "text-lines", "license": "MIT"}]
    line = one_error_line(pairforge("run", str(recipe(tmp_path, sources=src)), env=env))
    assert "sources.0 (news)" in line and "Invalid bucket name" in line


@pytest.mark.parametrize("case", ["deep-yaml", "deep-set", "encoding", "symlink-loop"])
def test_malformed_recipes_exit_2_before_any_work(tmp_path, case):
    args = []
    if case == "deep-yaml":
        path = recipe(tmp_path)
        path.write_text(path.read_text() + "description: " + "[" * 20000 + "]" * 20000 + "\n")
        expect = "not valid YAML: nested too deeply"
    elif case == "deep-set":
        path = recipe(tmp_path)
        args = ["--set", "description=" + "[" * 20000 + "]" * 20000]
        expect = "--set description: the value is nested too deeply"
    elif case == "encoding":
        path = recipe(tmp_path, sources=[{"name": "news", "uri": str(DEMO / "data" / "news.txt"),
                                          "format": "text-lines", "license": "MIT", "encoding": "klingon-8"}])
        expect = "sources.0.encoding: unknown encoding 'klingon-8'"
    else:
        (tmp_path / "loop").symlink_to(tmp_path / "loop")
        path = recipe(tmp_path, sources=[{"name": "news", "uri": "loop", "format": "text-lines", "license": "MIT"}])
        expect = "sources.0 (news).uri: cannot resolve loop"
    line = one_error_line(pairforge("run", str(path), *args))
    assert expect in line
    assert not (tmp_path / "out").exists()  # nothing started
