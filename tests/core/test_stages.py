"""tasks.core.stages: the one registry of stages, and what is derived from it (skip options, report order, the
stages before the PII scrub, the card's steps); a stage before the scrub cannot publish raw text."""

from __future__ import annotations

import re

import polars as pl
import pytest

from pairforge.tasks.core import stages
from pairforge.tasks.core.recipe import Recipe, RunOptions, load_recipe
from pairforge.tasks.core.shards import KEY_COLUMNS, Shard, finish_stage
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
    _, counts = finish_stage(name, shard, str(tmp_path), raw_rows().head(0), raw_rows())
    assert counts == {"too short": 2}
    written = pl.read_parquet(tmp_path / "rejected" / "pairs" / f"{name}-p-00000.parquet")
    assert written["stage"].to_list() == [name, name]
    holds_raw = any(RAW in str(v) for col in written.columns for v in written.get_column(col).to_list())
    if name in stages.BEFORE_PII:
        assert set(written.columns) <= set(KEY_COLUMNS) and not holds_raw
    else:  # after the scrub the text is already scrubbed, and the rejected table keeps it for review
        assert "text" in written.columns and holds_raw


def test_an_undeclared_stage_cannot_write_rejected_rows(tmp_path):
    shard = Shard("pairs", "p-00000", str(tmp_path / "in.parquet"), 2)
    with pytest.raises(ValueError, match="'tidy' is not declared"):
        finish_stage("tidy", shard, str(tmp_path), raw_rows().head(0), raw_rows())
    assert not (tmp_path / "rejected").exists()


def test_every_stage_named_in_the_code_is_declared():
    """Stage names the tasks pass to the rejected table are registry names (a literal check over the source)."""
    named = set()
    for path in (REPO / "tasks").rglob("*.py"):
        text = path.read_text()
        named |= set(re.findall(r'finish_stage\("([a-z_-]+)"', text))
        named |= set(re.findall(r'write_rejected\(.*"([a-z_-]+)", shard', text))
    assert {"normalize", "langid", "filters", "dedup", "quality", "judge", "decontaminate", "erased"} <= named
    assert named <= set(stages.NAMES)


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
        "validation": not recipe.validation.enabled,
    }  # fmt: skip
    assert off[name]


def test_the_ui_form_and_the_cli_offer_the_registry_skips():
    schema = RunOptions.model_json_schema()["properties"]["skip"]["items"]["enum"]
    assert tuple(schema) == stages.SKIPPABLE
    with pytest.raises(ValueError):
        RunOptions(skip=["ingest"])


def test_card_steps_are_recipe_sections():
    assert {key for key, _ in stages.CARD_STEPS} <= set(Recipe.model_fields)
    assert len(stages.CARD_STEPS) == len({key for key, _ in stages.CARD_STEPS})
