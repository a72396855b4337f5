"""Rule checks on pairs and the template generator (pure functions, no model)."""

from __future__ import annotations

import polars as pl
import pytest

from pairforge.tasks.core.recipe import GeneratorSpec, QualityOptions
from pairforge.tasks.core.schema import PAIRS
from pairforge.tasks.pairs.generators.template import arithmetic_pairs
from pairforge.tasks.pairs.quality import check_pairs, grounding

CONTEXT = "Strong winds pushed a huge bushfire towards the town of Hill Top on Tuesday afternoon."


def frame(rows: list[dict]) -> pl.DataFrame:
    base = {"id": "x", "doc_id": "x", "messages": [], "system": None, "context": None, "task": None,
            "source": "s", "uri": "u", "license": "MIT", "lang": "en", "origin": "generated"}
    return pl.DataFrame([{**base, "id": str(i), **r} for i, r in enumerate(rows)], schema=PAIRS, orient="row")


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"prompt": "What is the capital of France?", "response": ""}, "response shorter than 1 characters"),
        ({"prompt": "Hi", "response": "Hello!"}, "prompt shorter than 3 characters"),
        ({"prompt": "Tell me a secret.", "response": "As an AI language model, I cannot share that."}, "refusal"),
        ({"prompt": "Tell me a secret.", "response": "I'm sorry, but I can't help with that."}, "refusal"),
        ({"prompt": "What is the capital of France?", "response": "What is the capital of France? Paris, I think."},
         "response echoes the prompt"),
        ({"prompt": "Say it again.", "response": "say it again."}, "response echoes the prompt"),
        ({"prompt": "Where did the fire go?", "response": "The moon landing happened in 1969 in July.",
          "context": CONTEXT, "task": "qa"}, "answer not supported by its context (< 50% of words)"),
        ({"prompt": "Explain.", "response": "x" * 40_000}, "response longer than 32000 characters"),
        ({"prompt": "What is the text about?", "response": "A bushfire near the town of Hill Top.",
          "context": CONTEXT, "task": "qa"}, "question refers to a text it does not include"),
        ({"prompt": "How many homes burned?", "response": "13.8", "context": CONTEXT, "task": "qa"},
         "answer not supported by its context (< 50% of words)"),
    ],
)
def test_rule_rejects_with_its_reason(row, reason):
    kept, rejected = check_pairs(frame([row]), QualityOptions())
    assert len(kept) == 0
    assert rejected["reason"].to_list() == [reason]


def test_good_pairs_pass_and_nothing_disappears():
    rows = [
        {"prompt": "Where did the winds push the bushfire?", "response": "Towards the town of Hill Top.",
         "context": CONTEXT, "task": "qa"},
        {"prompt": "What is the sum of 5 and 3?", "response": "8"},
        {"prompt": "Extract the first sentence: The sky is blue. Grass is green.", "response": "The sky is blue."},
        {"prompt": "Say something kind.", "response": ""},
    ]
    kept, rejected = check_pairs(frame(rows), QualityOptions())
    assert kept["prompt"].to_list() == [r["prompt"] for r in rows[:3]]
    assert len(kept) + len(rejected) == len(rows)
    assert set(rejected.columns) == set(PAIRS.names()) | {"reason"}


def test_rules_follow_the_options():
    row = {"prompt": "Tell me a secret.", "response": "As an AI language model, I cannot share that."}
    kept, _ = check_pairs(frame([row]), QualityOptions(refusal_phrases=[]))
    assert len(kept) == 1
    _, rejected = check_pairs(frame([{"prompt": "Summarise.", "response": "Short."}]),
                              QualityOptions(min_response_chars=10))
    assert rejected["reason"].to_list() == ["response shorter than 10 characters"]


def test_grounding_share():
    df = pl.DataFrame({"response": ["huge bushfire town", "nothing matches here", "x", "On Tuesday, 12.5"],
                       "context": [CONTEXT, CONTEXT, None, CONTEXT + " It burned 12.5 hectares."]})
    assert df.select(grounding())["response"].to_list() == [1.0, 0.0, None, 1.0]


def test_arithmetic_template_computes_answers():
    pairs = arithmetic_pairs(GeneratorSpec(kind="template", count=50, seed=3), "en")
    assert len(pairs) == 50
    for p in pairs:
        words = p["prompt"].removesuffix("?").split()
        op, a, b = words[3], int(words[5]), int(words[7])
        assert int(p["response"]) == {"sum": a + b, "difference": a - b, "product": a * b}[op]
        assert p["origin"] == "generated" and p["messages"][-1]["content"] == p["response"]
    assert pairs == arithmetic_pairs(GeneratorSpec(kind="template", count=50, seed=3), "en")  # deterministic
    assert pairs != arithmetic_pairs(GeneratorSpec(kind="template", count=50, seed=4), "en")
