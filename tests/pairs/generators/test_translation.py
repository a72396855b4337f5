"""translation: needs target_language; the source text is the prompt, so the pair has no context."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pairforge.tasks.core.recipe import GeneratorSpec
from pairforge.tasks.pairs.chat import ChatResult
from pairforge.tasks.pairs.generators.base import Chunk, Job
from pairforge.tasks.pairs.generators.translation import Translation
from tests.pairs.test_generate import news_docs


def test_target_language_is_required():
    with pytest.raises(ValidationError, match="translation needs target_language"):
        GeneratorSpec(kind="translation")


def test_the_prompt_names_the_language_and_the_pair_has_no_context():
    spec = GeneratorSpec(kind="translation", target_language="German")
    doc = news_docs(1).row(0, named=True)
    c = Chunk(doc, 2, doc["text"][:300].strip())
    req = Translation().request(spec, c)
    assert req.messages[0]["content"] == f"Translate the following text into German.\n\nText:\n{c.text}"
    assert req.json_schema is None and req.key == "translation:d0:2"
    [row] = Translation().pairs(spec, Job(req, c), ChatResult("k", " Feuer. ", None, "stop"), lang="en")
    assert (row["response"], row["context"], row["task"]) == ("Feuer.", None, "translation")
