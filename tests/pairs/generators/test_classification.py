"""classification: the answer is constrained to the labels; the pair's prompt has no JSON instruction."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pairforge.tasks.core.recipe import GeneratorSpec
from pairforge.tasks.pairs.chat import ChatResult
from pairforge.tasks.pairs.generators.base import Chunk, Job
from pairforge.tasks.pairs.generators.classification import Classification, classification_prompt
from tests.pairs.test_generate import news_docs

LABELS = ["politics", "disaster", "sport"]


def test_two_distinct_labels_are_required():
    with pytest.raises(ValidationError, match="at least two distinct labels"):
        GeneratorSpec(kind="classification", labels=["sport", "sport"])


def test_the_request_is_constrained_to_the_labels_and_the_pair_is_the_bare_question():
    spec = GeneratorSpec(kind="classification", labels=LABELS)
    doc = news_docs(1).row(0, named=True)
    c = Chunk(doc, 0, doc["text"][:400].strip())
    req = Classification().request(spec, c)
    assert req.json_schema["properties"]["label"]["enum"] == LABELS
    assert req.messages[0]["content"] == classification_prompt(spec, c.text) + '\nReply with JSON: {"label": "..."}'
    assert "politics, disaster, sport" in req.messages[0]["content"]
    [row] = Classification().pairs(spec, Job(req, c), ChatResult("k", "", {"label": "disaster"}, "stop"), lang="en")
    assert row["prompt"] == classification_prompt(spec, c.text).strip() and "JSON" not in row["prompt"]
    assert (row["response"], row["task"], row["context"]) == ("disaster", "classification", None)
