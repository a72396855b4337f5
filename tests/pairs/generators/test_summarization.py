"""summarization: a free-text request per chunk; the summary's pair keeps the chunk as context."""

from __future__ import annotations

from pairforge.tasks.core.recipe import GeneratorSpec
from pairforge.tasks.pairs.chat import ChatResult
from pairforge.tasks.pairs.generators.base import Chunk, Job
from pairforge.tasks.pairs.generators.summarization import Summarization
from tests.pairs.test_generate import news_docs


def test_one_free_text_request_and_one_grounded_pair_per_chunk():
    spec = GeneratorSpec(kind="summarization")
    doc = news_docs(1).row(0, named=True)
    c = Chunk(doc, 0, doc["text"][:500].strip())
    req = Summarization().request(spec, c)
    assert req.json_schema is None and req.key == "summarization:d0:0"
    assert req.messages == [{"role": "user", "content": "Summarise the following text in two or three sentences."
                                                        f"\n\nText:\n{c.text}"}]
    [row] = Summarization().pairs(spec, Job(req, c), ChatResult("k", "  Fires burn.\n", None, "stop"), lang="en")
    assert (row["prompt"], row["response"], row["context"]) == (req.messages[0]["content"], "Fires burn.", c.text)
    assert row["task"] == "summarization" and row["license"] == "CC-BY-4.0"
