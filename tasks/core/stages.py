"""The stage registry: every step of the build, in the order the flow runs them.

Everything that enumerates stages is derived from `STAGES`: the stages a run may skip (`--skip`, the
Prefect UI form), the report's order and progress, the stages before the PII scrub (whose rejected rows
keep keys only), and the dataset card's processing steps. A new stage is declared here once, at its place
in the flow's order; a stage placed before `pii` is treated as seeing raw text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    name: str  # in the report, the rejected table's `stage` column, resume markers and `--skip`
    title: str  # the dataset card's name for the step
    recipe_key: str | None = None  # the recipe section holding its options, listed on the card (None: none)
    skip: tuple[str, ...] = ()  # the recipe overrides that leave it out of a run; empty: it cannot be skipped


STAGES: tuple[Stage, ...] = (
    Stage("ingest", "Licence policy", "license_policy"),  # the policy decides at ingest which sources may be read
    Stage("erased", "Erasure requests"),
    Stage("normalize", "Normalisation and cleaning", "clean"),
    Stage("langid", "Language identification", "langid", ("langid.enabled=false",)),
    Stage("filters", "Quality filters", "filters", ("filters.enabled=false",)),
    Stage("pii", "PII scrubbing", "pii", ("pii.enabled=false",)),
    Stage("dedup", "Deduplication", "dedup", ("dedup.exact=false", "dedup.near=false")),
    Stage("generate", "Pair generation and judging", "generate",
          ("generate.generators=[]", "generate.judge.enabled=false")),
    Stage("quality", "Pair quality rules", "quality", ("quality.enabled=false",)),
    Stage("judge", "Judging", None, ("generate.judge.enabled=false",)),  # its options live under generate
    Stage("split", "Splits", "split"),
    Stage("decontaminate", "Decontamination", "decontaminate", ("decontaminate.enabled=false",)),
    Stage("augment", "Augmentation", "augment", ("augment.enabled=false",)),
    Stage("validation", "Validation", "validation", ("validation.enabled=false",)),
    Stage("composition", "Composition report", "composition"),
    Stage("export", "Export", "export"),
)

BY_NAME = {s.name: s for s in STAGES}
NAMES = tuple(BY_NAME)
SKIPPABLE = tuple(s.name for s in STAGES if s.skip)
# Stages that run before the PII scrub: the rows they reject still hold raw text, so only keys and reasons are kept.
BEFORE_PII = NAMES[: NAMES.index("pii")]
# the dataset card's processing steps: (recipe key, title)
CARD_STEPS = tuple((s.recipe_key, s.title) for s in STAGES if s.recipe_key)


def skip_overrides(names: list[str]) -> list[str]:
    """The recipe overrides (dotted.key=value) that leave the named stages out of a run."""
    return [override for name in names for override in BY_NAME[name].skip]
