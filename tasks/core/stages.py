"""The stage registry: every step of the build, in the order the flow runs them.

The build flow (`flows/build.py`) is a loop over `STAGES`; everything else that enumerates stages is derived
from it too: the stages a run may skip (`--skip`, the Prefect UI form), the report's order and progress, the
stages before the PII scrub (whose rejected rows keep keys only), the dataset card's processing steps, and the
recipe sections of stages that bring their own options.

Two kinds of stage:
- a *row stage* keeps some rows of each shard and rejects the others with a reason. It is one module holding a
  `RowStage` (its `apply` function, the recipe options it reads, the tables it applies to), named here by
  `rows="module:attribute"`; the generic task `tasks.core.shards.apply_row_stage` runs it over every shard
  (resume markers, retries, rejected rows, counts) and returns one typed `StageResult`.
- any other stage (ingest, the PII scrub, generation, split, ...) has a step in `flows/steps.py`. A row stage
  whose options are computed over the whole table first (dedup's decisions, decontamination's index) has a step
  too, which passes them to the generic task.

Adding a row stage is one new module plus one entry here, at its place in the order: a stage placed before
`pii` is treated as seeing raw text. If it reads options of its own, its module defines them (a pydantic model
on `tasks.core.options.Strict`) and the entry names them with `options=`; the recipe gains that section.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from pairforge.tasks.core.shards import Shard

TABLES = ("documents", "pairs")


@dataclass(frozen=True)
class Stage:
    name: str  # in the report, the rejected table's `stage` column, resume markers and `--skip`
    title: str  # the dataset card's name for the step
    recipe_key: str | None = None  # the recipe section holding its options, listed on the card (None: none)
    skip: tuple[str, ...] = ()  # the recipe overrides that leave it out of a run; empty: it cannot be skipped
    rows: str | None = None  # a row stage: "module:attribute" of its RowStage
    options: str | None = None  # "module:attribute" of the options model a stage brings (recipe section recipe_key)
    table: str | None = None  # a stage that runs once per table, at different places (dedup): this entry's table


@dataclass(frozen=True)
class RowStage:
    """A stage that keeps some rows of each shard and rejects the others, with a `reason` column.

    `apply(frame, shard, options)` returns (kept, rejected) or (kept, rejected, {what: rows changed});
    `options(recipe)` picks what it reads from the recipe (it is part of the resume key; None turns the stage
    off for the run); `tables(recipe)` names the tables it applies to (the others pass through)."""

    apply: Callable[[pl.DataFrame, Shard, Any], tuple]
    options: Callable[[Any], Any]
    tables: Callable[[Any], Collection[str]] = lambda recipe: TABLES


S = Stage
STAGES: tuple[Stage, ...] = (
    S("ingest", "Licence policy", "license_policy"),  # the policy decides at ingest which sources may be read
    S("erased", "Erasure requests", rows="pairforge.tasks.privacy.erase:ROWS"),
    S("normalize", "Normalisation and cleaning", "clean", rows="pairforge.tasks.curate.normalize:ROWS"),
    S("langid", "Language identification", "langid", ("langid.enabled=false",),
      rows="pairforge.tasks.curate.langid:ROWS"),
    S("filters", "Quality filters", "filters", ("filters.enabled=false",), rows="pairforge.tasks.curate.filters:ROWS"),
    S("pii", "PII scrubbing", "pii", ("pii.enabled=false",)),
    S("dedup", "Deduplication", "dedup", ("dedup.exact=false", "dedup.near=false"), table="documents",
      rows="pairforge.tasks.curate.dedup:ROWS"),
    S("generate", "Pair generation and judging", "generate",
      ("generate.generators=[]", "generate.judge.enabled=false")),
    S("quality", "Pair quality rules", "quality", ("quality.enabled=false",),
      rows="pairforge.tasks.pairs.quality:ROWS"),
    S("control_tokens", "Chat control tokens", "control_tokens", ("control_tokens.action=keep",),
      rows="pairforge.tasks.pairs.control_tokens:ROWS", options="pairforge.tasks.pairs.control_tokens:Options"),
    S("sequence_length", "Sequence length", "sequence_length", ("sequence_length.enabled=false",),
      rows="pairforge.tasks.pairs.sequence_length:ROWS", options="pairforge.tasks.pairs.sequence_length:Options"),
    S("judge", "Judging", None, ("generate.judge.enabled=false",)),  # its options live under generate
    S("annotate", "Human annotation", "annotate", ("annotate.enabled=false",),
      options="pairforge.tasks.annotate.tasks:Options"),
    S("dedup", "Deduplication", "dedup", ("dedup.exact=false", "dedup.near=false"), table="pairs",
      rows="pairforge.tasks.curate.dedup:ROWS"),
    S("split", "Splits", "split"),
    S("decontaminate", "Decontamination", "decontaminate", ("decontaminate.enabled=false",),
      rows="pairforge.tasks.curate.decontaminate:ROWS"),
    S("augment", "Augmentation", "augment", ("augment.enabled=false",)),
    S("validation", "Validation", "validation", ("validation.enabled=false",)),
    S("composition", "Composition report", "composition"),
    S("export", "Export", "export"),
)
del S

BY_NAME = {s.name: s for s in STAGES}
NAMES = tuple(BY_NAME)  # each name once, in the order the stages first run
SKIPPABLE = tuple(name for name, s in BY_NAME.items() if s.skip)
# Stages that run before the PII scrub: the rows they reject still hold raw text, so only keys and reasons are kept.
BEFORE_PII = NAMES[: NAMES.index("pii")]
# the dataset card's processing steps: (recipe key, title)
CARD_STEPS = tuple((s.recipe_key, s.title) for s in BY_NAME.values() if s.recipe_key)


def skip_overrides(names: list[str]) -> list[str]:
    """The recipe overrides (dotted.key=value) that leave the named stages out of a run."""
    return [override for name in names for override in BY_NAME[name].skip]


def _resolve(path: str) -> Any:
    module, attribute = path.split(":")
    return getattr(importlib.import_module(module), attribute)


@cache
def row_stage(name: str) -> RowStage:
    """The RowStage registered under `name` (imported on first use, so this module imports no stage code)."""
    stage = BY_NAME.get(name)
    if stage is None or not stage.rows:
        raise ValueError(f"{name!r} is not a row stage declared in tasks.core.stages.STAGES")
    return _resolve(stage.rows)


def stage_options() -> dict[str, type]:
    """Recipe sections brought by stages: {recipe key: options model}."""
    return {s.recipe_key: _resolve(s.options) for s in BY_NAME.values() if s.options and s.recipe_key}
