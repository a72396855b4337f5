"""template: pairs with computed answers, no model ("What is the sum of 5 and 3?" -> "8").

`spec.count` arithmetic questions (sum, difference or product of two numbers 0-999) drawn with `spec.seed`;
the text is pairforge's own, so the licence is CC0-1.0. Reads no table."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, ClassVar

from pairforge.tasks.pairs.generators.base import Generator, InputTable, pair_row

if TYPE_CHECKING:
    import polars as pl

    from pairforge.tasks.core.recipe import GeneratorSpec

TEMPLATE_LICENSE = "CC0-1.0"  # computed by pairforge, no third-party text


def arithmetic_pairs(spec: GeneratorSpec, lang: str) -> list[dict]:
    """Template pairs with computed answers ("What is the sum of 5 and 3?" -> "8"); no model involved."""
    rng = random.Random(spec.seed)
    ops = [("sum", lambda a, b: a + b), ("difference", lambda a, b: a - b), ("product", lambda a, b: a * b)]
    out = []
    for _ in range(spec.count):
        name, fn = rng.choice(ops)
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        out.append(pair_row(f"What is the {name} of {a} and {b}?", str(fn(a, b)), task="arithmetic",
                            source="template:arithmetic", license=TEMPLATE_LICENSE, lang=lang, uri="pairforge:template",
                            doc_id=None))
    return out


class Template(Generator):
    kind = "template"
    input_table: ClassVar[InputTable | None] = None
    needs_model: ClassVar[bool] = False

    def compute(self, spec: GeneratorSpec, data: pl.DataFrame | None, *, lang: str) -> list[dict]:
        return arithmetic_pairs(spec, lang)  # spec.template has one value, "arithmetic"
