"""tasks.core.recipe: loading, validation messages, --set overrides, path resolution, sha256."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pairforge.tasks.core.recipe import Recipe, RecipeError, apply_overrides, load_recipe, parse_override

SMALLEST = """\
name: demo-pairs
sources:
  - name: news
    uri: data/news.txt
    format: text-lines
    license: CC-BY-4.0
  - name: seed
    uri: data/seed.jsonl
    format: alpaca
    license: Apache-2.0
export:
  uri: out/
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A recipe folder with the smallest valid recipe and its two (non-empty) source files."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "news.txt").write_text("One article.\nAnother article.\n")
    (tmp_path / "data" / "seed.jsonl").write_text('{"instruction": "Say hi", "input": "", "output": "hi"}\n')
    (tmp_path / "recipe.yaml").write_text(SMALLEST)
    return tmp_path


def _edit(project: Path, change) -> Path:
    """Rewrite recipe.yaml after `change(data)` mutates its parsed YAML."""
    path = project / "recipe.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _error(path: Path, overrides: list[str] | None = None) -> str:
    with pytest.raises(RecipeError) as err:
        load_recipe(path, overrides=overrides)
    return str(err.value)


def test_smallest_recipe_loads_with_defaults(project):
    r = load_recipe(project / "recipe.yaml")
    assert isinstance(r, Recipe)
    assert r.name == "demo-pairs"
    assert [s.name for s in r.sources] == ["news", "seed"]
    assert [s.table for s in r.sources] == ["documents", "pairs"]
    # defaults of the contract keys
    assert r.task == "qa"
    assert r.languages == ["en"]
    assert r.pii.operator == "replace" and r.pii.threshold == 0.5 and "EMAIL_ADDRESS" in r.pii.entities
    assert r.pii.allow_list == [] and r.pii.deny_list == []
    assert r.generate.provider == "local" and r.generate.api_key_env == "OPENAI_API_KEY"
    assert r.generate.max_concurrency == 4 and r.generate.base_url is None
    assert (r.split.train, r.split.validation, r.split.test) == (0.9, 0.05, 0.05)
    assert r.split.seed == 42 and r.split.group_by == "doc_id"
    assert r.license_policy.allow_unknown is False and r.license_policy.commercial_use is False
    assert r.export.shard_rows == 100_000 and r.export.formats == ["parquet"]
    assert len(r.sha256) == 64


def test_relative_paths_resolve_against_recipe_folder(project, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # the working directory must not matter
    r = load_recipe(project / "recipe.yaml")
    assert r.source("news").uri == str((project / "data" / "news.txt").resolve())
    assert r.source("seed").uri == str((project / "data" / "seed.jsonl").resolve())
    assert r.export.uri == str(project.resolve() / "out") + "/"  # trailing slash kept: a folder


def test_absolute_and_s3_uris_are_left_alone(project):
    absolute = str((project / "data" / "news.txt").resolve())
    path = _edit(project, lambda d: (d["sources"][0].update(uri=absolute), d["export"].update(uri="s3://bkt/out")))
    r = load_recipe(path)
    assert r.source("news").uri == absolute
    assert r.export.uri == "s3://bkt/out"


def test_glob_source_uri_resolves(project):
    path = _edit(project, lambda d: d["sources"][0].update(uri="data/*.txt"))
    r = load_recipe(path)
    assert r.source("news").uri == str(project.resolve() / "data" / "*.txt")


@pytest.mark.parametrize(
    "change, key",
    [
        (lambda d: d.update(colour="blue"), "colour"),
        (lambda d: d.update(pii={"operatr": "mask"}), "pii.operatr"),
        (lambda d: d["sources"][1].update(formt="alpaca"), "sources.1.formt"),
        (lambda d: d.update(split={"train": 0.8, "validation": 0.1, "test": 0.1, "sed": 1}), "split.sed"),
    ],
    ids=["top-level", "pii.operatr", "in-a-source", "split.sed"],
)
def test_unknown_key_is_an_error_naming_its_path(project, change, key):
    msg = _error(_edit(project, change))
    assert f"{key}: unknown key" in msg
    assert "recipe.yaml" in msg


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: d.update(split={"seed": "forty-two"}), "split.seed: Input should be a valid integer"),
        (lambda d: d["export"].update(shard_rows=[1, 2]), "export.shard_rows: Input should be a valid integer"),
        (lambda d: d.update(languages="en"), "languages: Input should be a valid list"),
        (lambda d: d.update(pii={"threshold": 1.5}), "pii.threshold: Input should be less than or equal to 1"),
        (lambda d: d.update(pii={"operator": "shred"}), "pii.operator: Input should be"),
        (lambda d: d.update(task="poetry"), "task: Input should be"),
        (lambda d: d.update(split={"stratify_by": "topic"}), "split.stratify_by: no column 'topic'"),
        (lambda d: d.update(split={"group_by": "docid"}), "split.group_by: no column 'docid'"),
        (lambda d: d.update(decontaminate={"benchmarks": [{"name": "mmlu", "uri": "bench/*.jsonl"}]}),
         "decontaminate.benchmarks.0 (mmlu): no file matches"),
    ],
)
def test_wrong_type_or_value_names_the_key(project, change, expected):
    assert expected in _error(_edit(project, change))


def test_missing_required_key(project):
    msg = _error(_edit(project, lambda d: d["sources"][0].pop("license")))
    assert "sources.0.license: required key is missing" in msg


def test_missing_source_file_names_the_file(project):
    (project / "data" / "news.txt").unlink()
    msg = _error(project / "recipe.yaml")
    assert "sources.0 (news)" in msg
    assert str(project.resolve() / "data" / "news.txt") in msg


def test_missing_source_file_is_not_checked_when_asked_not_to(project):
    (project / "data" / "news.txt").unlink()
    r = load_recipe(project / "recipe.yaml", check_sources=False)
    assert r.source("news").uri.endswith("data/news.txt")


def test_empty_source_file_says_it_is_empty(project):
    (project / "data" / "seed.jsonl").write_bytes(b"")
    msg = _error(project / "recipe.yaml")
    assert "sources.1 (seed)" in msg and "empty" in msg and "seed.jsonl" in msg


def test_unknown_format(project):
    msg = _error(_edit(project, lambda d: d["sources"][0].update(format="docx")))
    assert "sources.0.format" in msg and "unknown format 'docx'" in msg


@pytest.mark.parametrize("name", ["Demo-Pairs", "demo_pairs", "demo pairs", ""])
def test_bad_dataset_name(project, name):
    msg = _error(_edit(project, lambda d: d.update(name=name)))
    assert "name: String should match pattern" in msg


def test_duplicate_source_names(project):
    msg = _error(_edit(project, lambda d: d["sources"][1].update(name="news")))
    assert "source names must be unique" in msg and "news" in msg


def test_split_ratios_must_sum_to_one(project):
    msg = _error(_edit(project, lambda d: d.update(split={"train": 0.8, "validation": 0.1, "test": 0.2})))
    assert "split:" in msg and "must be 1.0" in msg and "1.1" in msg


def test_unknown_export_format(project):
    msg = _error(_edit(project, lambda d: d["export"].update(formats=["parquet", "csv"])))
    assert "export.formats" in msg and "csv" in msg


def test_not_a_mapping_and_bad_yaml(tmp_path):
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert "top level must be a mapping" in _error(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    assert "not valid YAML" in _error(tmp_path / "bad.yaml")
    assert "recipe file not found" in _error(tmp_path / "missing.yaml")


# ---- --set overrides ---------------------------------------------------------------------------


def test_overrides_set_nested_keys_and_list_items(project):
    r = load_recipe(
        project / "recipe.yaml",
        overrides=["sources.0.license=MIT", "split.seed=7", "pii.operator=mask", "languages=[en, de]",
                   "export.shard_rows=500", "description=a b c"],
    )
    assert r.source("news").license == "MIT"
    assert r.source("seed").license == "Apache-2.0"
    assert r.split.seed == 7
    assert r.pii.operator == "mask"
    assert r.languages == ["en", "de"]
    assert r.export.shard_rows == 500
    assert r.description == "a b c"


def test_overrides_are_validated_like_the_file(project):
    msg = _error(project / "recipe.yaml", overrides=["pii.operatr=mask"])
    assert "pii.operatr: unknown key" in msg
    msg = _error(project / "recipe.yaml", overrides=["split.train=0.5"])
    assert "must be 1.0" in msg


def test_apply_overrides_on_plain_data():
    data = {"a": {"b": 1}, "items": [{"x": 1}, {"x": 2}]}
    out = apply_overrides(data, ["a.b=2", "a.c.d=true", "items.1.x=3", "items.0=null"])
    assert out == {"a": {"b": 2, "c": {"d": True}}, "items": [None, {"x": 3}]}


@pytest.mark.parametrize(
    "item, fragment",
    [
        ("split.seed", "expected dotted.key=value"),
        ("=5", "bad key"),
        ("split..seed=5", "bad key"),
        ("sources.9.license=MIT", "not a valid list index"),
        ("sources.x.license=MIT", "not a valid list index"),
        ("name.part=x", "name is not a mapping"),
    ],
)
def test_bad_override_syntax(project, item, fragment):
    msg = _error(project / "recipe.yaml", overrides=[item])
    assert fragment in msg and "--set" in msg


def test_parse_override_reads_yaml_values():
    assert parse_override("a.b=3") == (["a", "b"], 3)
    assert parse_override("a=[1, 2]") == (["a"], [1, 2])
    assert parse_override("a=x=y") == (["a"], "x=y")
    assert parse_override("a=") == (["a"], "")


# ---- sha256 ------------------------------------------------------------------------------------


def test_sha256_tracks_file_and_overrides_only(project, tmp_path_factory):
    path = project / "recipe.yaml"
    base = load_recipe(path).sha256
    assert load_recipe(path).sha256 == base  # stable
    assert load_recipe(path, overrides=[]).sha256 == base

    with_set = load_recipe(path, overrides=["split.seed=7"]).sha256
    assert with_set != base
    assert load_recipe(path, overrides=["split.seed=7"]).sha256 == with_set
    assert load_recipe(path, overrides=["split.seed=8"]).sha256 not in (base, with_set)

    # the same file in another folder (other resolved paths) hashes the same: machine-independent
    other = tmp_path_factory.mktemp("copy")
    (other / "data").mkdir()
    for f in ("news.txt", "seed.jsonl"):
        (other / "data" / f).write_bytes((project / "data" / f).read_bytes())
    (other / "recipe.yaml").write_bytes(path.read_bytes())
    assert load_recipe(other / "recipe.yaml").sha256 == base

    # source data is not part of the recipe hash
    (project / "data" / "news.txt").write_text("Different text.\n")
    assert load_recipe(path).sha256 == base

    path.write_text(SMALLEST + "description: changed\n")
    assert load_recipe(path).sha256 != base


# --- names are names, not paths (issue 13): every recipe key that becomes part of a storage key ----------------

TRAVERSAL = ["..", ".", "../x", "/abs", "a/../../b"]


@pytest.mark.parametrize("value", TRAVERSAL)
@pytest.mark.parametrize(("key", "change"), [
    ("export.version", lambda d, v: d["export"].update(version=v)),
    ("sources.0.name", lambda d, v: d["sources"][0].update(name=v)),
    ("decontaminate.benchmarks.0.name",
     lambda d, v: d.update(decontaminate={"benchmarks": [{"name": v, "uri": "data/news.txt"}]})),
])  # fmt: skip
def test_names_in_the_recipe_are_not_paths(project, key, change, value):
    msg = _error(_edit(project, lambda d: change(d, value)))
    assert f"recipe.yaml: {key}: " in msg and ("path, not a name" in msg or "[A-Za-z0-9._-]+" in msg), msg
    assert len(msg.splitlines()) == 1


@pytest.mark.parametrize("value", TRAVERSAL)
def test_names_set_by_overrides_and_run_options_are_not_paths(project, value):
    from pairforge.tasks.core.recipe import RunOptions

    for overrides in ([f"export.version={value}"], RunOptions(set=[f"export.version={value}"]).overrides(),
                      [f"sources.1.name={value}"], [f"name={value}"]):
        msg = _error(project / "recipe.yaml", overrides)
        assert "recipe.yaml: " in msg and ("version" in msg or "name" in msg), msg


def test_the_run_version_is_checked_where_the_work_area_is_named(project):
    r = load_recipe(project / "recipe.yaml")
    assert r.work_uri("v1").endswith("/out/demo-pairs/_work/v1")
    for value in TRAVERSAL:
        with pytest.raises(RecipeError, match="^version: "):
            r.work_uri(value)


def test_dataset_names_have_a_length_cap(project):
    assert "name: String should have at most 100 characters" in _error(_edit(project, lambda d: d.update(
        name="x" * 101)))


def test_a_work_area_that_would_delete_versions_is_refused(project):
    for work, ok in [("out/demo-pairs", False), ("out", False), (".", False), ("out/demo-pairs/v1", False),
                     ("out/demo-pairs/_scratch", True), ("elsewhere/work", True)]:
        path = _edit(project, lambda d, w=work: d["export"].update(work_uri=w))
        if ok:
            load_recipe(path)
        else:
            assert "export.work_uri: " in _error(path), work


def test_unknown_encoding_is_a_bad_recipe(project):
    msg = _error(_edit(project, lambda d: d["sources"][0].update(encoding="klingon-8")))
    assert "sources.0.encoding: unknown encoding 'klingon-8'" in msg
    assert load_recipe(_edit(project, lambda d: d["sources"][0].update(encoding="latin-1"))).sources[0].encoding


def test_deeply_nested_yaml_is_a_bad_recipe_not_a_crash(project):
    path = project / "recipe.yaml"
    path.write_text(SMALLEST + "description: " + "[" * 20000 + "]" * 20000 + "\n")
    assert _error(path) == f"{path}: not valid YAML: nested too deeply"
    path.write_text(SMALLEST)
    msg = _error(path, ["description=" + "[" * 20000 + "]" * 20000])
    assert msg == "--set description: the value is nested too deeply"


def test_a_symlink_loop_source_is_a_bad_recipe(project):
    (project / "data" / "loop").symlink_to(project / "data" / "loop")
    msg = _error(_edit(project, lambda d: d["sources"][0].update(uri="data/loop")))
    assert "sources.0 (news).uri: cannot resolve data/loop" in msg and len(msg.splitlines()) == 1
