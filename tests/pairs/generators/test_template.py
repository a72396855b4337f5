"""template: no model, no input; every answer is computed and right."""

from __future__ import annotations

import re

from pairforge.tasks.core.recipe import GeneratorSpec
from pairforge.tasks.pairs.generators.template import TEMPLATE_LICENSE, Template

OPS = {"sum": lambda a, b: a + b, "difference": lambda a, b: a - b, "product": lambda a, b: a * b}


def test_answers_are_computed_and_the_text_is_ours():
    gen = Template()
    assert not gen.needs_model and gen.input_table is None
    rows = gen.compute(GeneratorSpec(kind="template", count=40, seed=9), None, lang="en")
    assert len(rows) == 40
    for r in rows:
        name, a, b = re.fullmatch(r"What is the (\w+) of (\d+) and (\d+)\?", r["prompt"]).groups()
        assert r["response"] == str(OPS[name](int(a), int(b)))
        assert (r["license"], r["source"], r["task"], r["origin"]) == (TEMPLATE_LICENSE, "template:arithmetic",
                                                                       "arithmetic", "generated")
    assert {re.match(r"What is the (\w+)", r["prompt"]).group(1) for r in rows} == set(OPS)
