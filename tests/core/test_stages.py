"""tasks.core.stages: the one registry of stages, and what is derived from it (skip options, report order, the
stages before the PII scrub, the card's steps); a stage before the scrub cannot publish raw text."""

from __future__ import annotations

import re

import polars as pl
import pytest

from pairforge.flows import steps
from pairforge.tasks.core import stages
from pairforge.tasks.core.recipe import Recipe, RunOptions, load_recipe
from pairforge.tasks.core.shards import KEY_COLUMNS, Shard, apply_row_stage, finish_stage
from tests.conftest import DEMO, REPO

RAW = "Call Jane Doe on +44 20 7946 0958 or jane.doe@example.org"


def assert_registry_order(stage_stats: list[dict]) -> None:
    """A run's report lists stages in the order it ran them (dedup runs once per table): every stage the flow ran
    before the PII scrub is declared before it (so its rejected rows lose their text), none after it is, and
    stages first run in the registry's order."""
    ran = [s["stage"] for s in stage_stats]
    assert set(ran) <= set(stages.NAMES), f"stages missing from the registry: {set(ran) - set(stages.NAMES)}"
    if "pii" in ran:
        scrub = ran.index("pii")
        assert set(ran[:scrub]) <= set(stages.BEFORE_PII), f"ran before the scrub: {ran[:scrub]}"
        assert not set(ran[scrub:]) & set(stages.BEFORE_PII), f"ran after the scrub: {ran[scrub:]}"
    positions = [stages.NAMES.index(name) for name in dict.fromkeys(ran)]
    assert positions == sorted(positions), f"run order {ran} differs from the registry's {stages.NAMES}"


def raw_rows() -> pl.DataFrame:
    return pl.DataFrame({
        "id": ["a", "b"], "doc_id": ["d1", "d2"], "source": ["s", "s"], "license": ["MIT", "MIT"],
        "text": [RAW, RAW], "title": [RAW, RAW], "prompt": [RAW, RAW], "response": [RAW, RAW],
        "messages": [[{"role": "user", "content": RAW}]] * 2, "reason": ["too short", "too short"],
    })  # fmt: skip


@pytest.mark.parametrize("name", stages.NAMES)
def test_rejected_rows_keep_text_only_after_the_scrub(name, tmp_path):
    shard = Shard("pairs", "p-00000", str(tmp_path / "in.parquet"), 2)
    res = finish_stage(name, shard, str(tmp_path), raw_rows().head(0), raw_rows())
    assert res.rejected == {"too short": 2} and res.stage == name
    written = pl.read_parquet(tmp_path / "rejected" / "pairs" / f"{name}-p-00000.parquet")
    assert res.rejected_uri == str(tmp_path / "rejected" / "pairs" / f"{name}-p-00000.parquet")
    assert written["stage"].to_list() == [name, name]
    holds_raw = any(RAW in str(v) for col in written.columns for v in written.get_column(col).to_list())
    if name in stages.BEFORE_PII:
        assert set(written.columns) <= set(KEY_COLUMNS) and not holds_raw
    else:  # after the scrub the text is already scrubbed, and the rejected table keeps it for review
        assert "text" in written.columns and holds_raw


@pytest.mark.parametrize("name", [s.name for s in stages.STAGES if s.rows and s.name in stages.BEFORE_PII])
def test_a_row_stage_before_the_scrub_publishes_no_text_through_the_generic_task(name, tmp_path, monkeypatch):
    """Whatever a row stage before the scrub rejects, through the one task that runs row stages."""
    reject_all = stages.RowStage(apply=lambda df, shard, opts: (df.head(0), df.with_columns(reason=pl.lit("x"))),
                                 options=lambda recipe: True)
    monkeypatch.setitem(stages.row_stage.__wrapped__.__globals__, "_resolve", lambda path: reject_all)
    stages.row_stage.cache_clear()
    try:
        uri = str(tmp_path / "in.parquet")
        raw_rows().drop("reason").write_parquet(uri)
        res = apply_row_stage.fn(name, Shard("pairs", "p-00000", uri, 2), True, str(tmp_path / "work"))
    finally:
        stages.row_stage.cache_clear()
    written = pl.read_parquet(res.rejected_uri)
    assert len(written) == 2 and set(written.columns) <= set(KEY_COLUMNS)
    assert not any(RAW in str(v) for col in written.columns for v in written.get_column(col).to_list())


def test_an_undeclared_stage_cannot_write_rejected_rows(tmp_path):
    shard = Shard("pairs", "p-00000", str(tmp_path / "in.parquet"), 2)
    with pytest.raises(ValueError, match="'tidy' is not declared"):
        finish_stage("tidy", shard, str(tmp_path), raw_rows().head(0), raw_rows())
    assert not (tmp_path / "rejected").exists()
    with pytest.raises(ValueError, match="'tidy' is not a row stage"):
        stages.row_stage("tidy")


def test_every_stage_named_in_the_code_is_declared():
    """Stage names the tasks give their results and rejected rows are registry names (a literal check)."""
    named = set()
    for path in (REPO / "tasks").rglob("*.py"):
        text = path.read_text()
        named |= set(re.findall(r'(?:finish_stage|StageResult)\(\s*"([a-z_-]+)"', text))
    assert {"judge", "pii", "split", "augment", "generate"} <= named
    assert named <= set(stages.NAMES)


def test_only_the_generic_runner_writes_rejected_rows():
    """The stage tail (rejected rows, the stage's output, reason counts) exists once: `finish_stage`."""
    for path in [*(REPO / "tasks").rglob("*.py"), *(REPO / "flows").rglob("*.py")]:
        if path.name == "shards.py":
            continue
        text = path.read_text()
        assert "write_rejected(" not in text, path


def test_each_stage_has_a_way_to_run():
    """A row stage resolves to its RowStage; any other stage has a step in flows/steps.py; nothing else."""
    for stage in stages.STAGES:
        if stage.rows:
            assert isinstance(stages.row_stage(stage.name), stages.RowStage), stage.name
        else:
            assert stage.name in steps.STEPS, f"{stage.name}: neither a row stage nor a step"
    assert set(steps.STEPS) <= set(stages.NAMES)


def test_stage_options_are_recipe_sections():
    for key, model in stages.stage_options().items():
        assert Recipe.model_fields[key].annotation is model
        assert isinstance(load_recipe(DEMO / "recipe.yaml", check_sources=False).__getattribute__(key), model)


def test_pii_runs_after_every_row_filter_that_sees_raw_text():
    assert stages.BEFORE_PII == ("ingest", "erased", "normalize", "langid", "filters")


@pytest.mark.parametrize("name", stages.SKIPPABLE)
def test_each_skip_turns_its_stage_off_in_a_valid_recipe(name):
    recipe = load_recipe(DEMO / "recipe.yaml", RunOptions(skip=[name]).overrides())
    off = {
        "langid": not recipe.langid.enabled, "filters": not recipe.filters.enabled, "pii": not recipe.pii.enabled,
        "dedup": not (recipe.dedup.exact or recipe.dedup.near),
        "generate": not recipe.generate.generators and not recipe.generate.judge.enabled,
        "quality": not recipe.quality.enabled, "judge": not recipe.generate.judge.enabled,
        "decontaminate": not recipe.decontaminate.enabled, "augment": not recipe.augment.enabled,
        "validation": not recipe.validation.enabled, "annotate": not recipe.annotate.enabled,
    }  # fmt: skip
    if stages.BY_NAME[name].rows:  # a row stage is off when it picks no options from the recipe
        assert stages.row_stage(name).options(recipe) is None
    else:
        assert off[name]


def test_the_ui_form_and_the_cli_offer_the_registry_skips():
    schema = RunOptions.model_json_schema()["properties"]["skip"]["items"]["enum"]
    assert tuple(schema) == stages.SKIPPABLE
    with pytest.raises(ValueError):
        RunOptions(skip=["ingest"])


def test_card_steps_are_recipe_sections():
    assert {key for key, _ in stages.CARD_STEPS} <= set(Recipe.model_fields)
    assert len(stages.CARD_STEPS) == len({key for key, _ in stages.CARD_STEPS})
