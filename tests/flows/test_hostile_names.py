"""Names are names, not paths (issue 13 item 1): `..`, `../x`, `/abs`, `a/../../b` or `.` given as a version, a
name or a key, through the CLI, the recipe, `--set`, or the UI form (the flow's parameters), writes or deletes
nothing anywhere under the export root (listed whole before and after), and a rebuild afterwards still keeps
every erased row out. Also: a LATEST file that holds a path instead of a name is never followed."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import polars as pl
import pytest
import yaml
from prefect.exceptions import ParameterTypeError

from pairforge.flows.build import build_dataset
from pairforge.tasks.core.recipe import RecipeError
from pairforge.tasks.privacy.erase import Criteria, erase_version
from tests.flows.test_cli import pairforge

TRAVERSAL = ["..", "../x", "/abs", "a/../../b", "."]
EMAIL = "jane.doe@example.org"


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under `root`, with a digest of each file's bytes."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def all_text(version: Path) -> str:
    out = []
    for path in sorted(p for p in version.rglob("*") if p.is_file()):
        data = path.read_bytes()
        out.append(pl.read_parquet(io.BytesIO(data)).write_ndjson() if path.suffix == ".parquet" else data.decode())
    return "\n".join(out).lower()


@pytest.fixture(scope="module")
def dataset(prefect_server, tmp_path_factory):
    """A built, then erased, dataset beside another dataset's precious file: (tmp, recipe, export root)."""
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "news.txt").write_text(
        f"Readers can write to Jane Doe at {EMAIL} for the details of the fire report.\n"
        "The Hume Highway was closed near Goulburn on Tuesday after a new blaze.\n"
        "Firefighters expect the weather to ease over the weekend in the Southern Highlands.\n")
    (tmp / "seed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [
        {"instruction": f"Write a short note to {EMAIL}.", "input": "", "output": "Dear Jane, all is well."},
        {"instruction": "Name a town in the Southern Highlands.", "input": "", "output": "Mittagong."},
        {"instruction": "What closed the Hume Highway?", "input": "", "output": "A new blaze near Goulburn."}]))
    out = tmp / "out"
    recipe = {
        "name": "hostile-set", "task": "qa",
        "sources": [{"name": "news", "uri": str(tmp / "news.txt"), "format": "text-lines", "license": "CC-BY-4.0"},
                    {"name": "seed", "uri": str(tmp / "seed.jsonl"), "format": "alpaca", "license": "MIT"}],
        "pii": {"enabled": False},  # the address must reach the output, as a missed finding would
        "split": {"train": 0.5, "validation": 0.25, "test": 0.25},
        "export": {"uri": str(out) + "/"},
    }
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    v1 = Path(build_dataset(str(path), version="v1"))
    assert EMAIL in all_text(v1)
    erased = erase_version(str(v1.parent), Criteria(contains=(EMAIL,)))
    assert EMAIL not in all_text(Path(erased["version_uri"]))
    (out / "other-dataset").mkdir()
    (out / "other-dataset" / "precious.txt").write_text("not yours")
    (out / "other-dataset" / "LATEST").write_text("v7\n")
    assert {"hostile-set/_erasure/erased_ids.parquet", "hostile-set/LATEST", "hostile-set/v1/manifest.json"} <= set(
        snapshot(out)) and any(k.startswith("hostile-set/_index/") for k in snapshot(out))
    return tmp, path, out


def test_hostile_names_through_every_entry_point_touch_nothing(dataset, tmp_path):
    tmp, recipe, out = dataset
    before = snapshot(tmp)  # the whole tree: export root, and what lies beside and above it
    spec = yaml.safe_load(recipe.read_text())
    for value in TRAVERSAL:
        # the CLI: --version, --set on the version and on a name, and the recipe file's keys
        run = ("run", str(recipe))
        calls = [(*run, "--version", value), (*run, "--set", f"export.version={value}"),
                 (*run, "--set", f"sources.0.name={value}"), (*run, "--set", f"name={value}")]
        for key, change in (("export.version", lambda d, v: d["export"].update(version=v)),
                            ("sources.1.name", lambda d, v: d["sources"][1].update(name=v))):
            bad = yaml.safe_load(yaml.safe_dump(spec))
            change(bad, value)
            path = tmp_path / f"bad-{key}.yaml"  # same export root, written outside the snapshot
            path.write_text(yaml.safe_dump(bad, sort_keys=False))
            calls.append(("run", str(path)))
        for args in calls:
            result = pairforge(*args)
            assert result.returncode == 2, (args, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
            assert ("version" in result.stderr or "name" in result.stderr) and result.stdout == "", result.stderr
        # the UI form: the flow's parameters as the server sends them (version, and the options object as JSON)
        for params in ({"version": value}, {"options": {"set": [f"export.version={value}"]}},
                       {"options": {"export_uri": str(out) + "/", "set": [f"sources.0.name={value}"]}}):
            # Prefect refuses a bad `version` parameter before the flow starts; recipe keys fail in load_recipe
            with pytest.raises((RecipeError, ParameterTypeError), match="version|name"):
                build_dataset(recipe_path=str(recipe), **params)
        assert snapshot(tmp) == before, value


def test_retention_and_erasure_refuse_what_is_not_a_version(dataset):
    tmp, _, out = dataset
    before = snapshot(tmp)
    ds = out / "hostile-set"
    for args in (("gc", f"{ds}/..", "--keep", "1"), ("gc", str(out), "--keep", "1"),
                 ("erase", str(out), "--source", "news"), ("erase", f"{ds}/v1/../..", "--source", "news")):
        result = pairforge(*args)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
    assert snapshot(tmp) == before


@pytest.mark.parametrize("latest", ["..", "../other-dataset", "/abs", "."])
def test_a_latest_that_names_a_path_is_never_followed(dataset, latest, tmp_path):
    tmp, recipe, out = dataset
    ds = out / "hostile-set"
    good = (ds / "LATEST").read_text()
    (ds / "LATEST").write_text(latest + "\n")
    try:
        before = snapshot(tmp)
        for args in (("inspect", str(ds)), ("gc", str(ds), "--keep", "1"), ("erase", str(ds), "--source", "seed")):
            result = pairforge(*args)
            assert result.returncode == 2 and "not a version name" in result.stderr, (args, result.stderr)
            assert len(result.stderr.strip().splitlines()) == 1
        assert snapshot(tmp) == before
    finally:
        (ds / "LATEST").write_text(good)


def test_erasure_survives_the_attempts_and_a_rebuild_keeps_erased_rows_out(dataset):
    tmp, recipe, out = dataset
    rebuilt = Path(build_dataset(str(recipe), version="v2"))
    assert EMAIL not in all_text(rebuilt)  # in no table, rejected ones included
    manifest = json.loads((rebuilt / "manifest.json").read_text())
    assert manifest["stats"]["rejected"]["erased: erased on request"] == 2  # the document and the seed pair
    assert (out / "hostile-set" / "LATEST").read_text().strip() == "v2"
    assert (out / "other-dataset" / "precious.txt").read_text() == "not yours"
    assert (out / "other-dataset" / "LATEST").read_text() == "v7\n"


@pytest.mark.parametrize("version", ["..", ".", "../x", "/abs", "a/../../b"])
def test_the_ui_form_refuses_a_path_as_version_before_a_run_starts(version):
    """The deployment's parameter schema carries the name rule, and Prefect validates parameters before a run."""
    from prefect.exceptions import ParameterTypeError
    from prefect.utilities.callables import parameter_schema

    from pairforge.flows.build import build_dataset

    schema = parameter_schema(build_dataset).model_dump()["properties"]["version"]["anyOf"][0]
    assert schema["pattern"] == "^[A-Za-z0-9._-]+$" and schema["maxLength"] == 100
    with pytest.raises(ParameterTypeError, match="version"):
        build_dataset.validate_parameters({"recipe_path": "recipe.yaml", "version": version})
