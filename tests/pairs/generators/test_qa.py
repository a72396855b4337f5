"""qa: one JSON request per chunk, pairs grounded in the chunk (their context)."""

from __future__ import annotations

from pairforge.tasks.core.recipe import GeneratorSpec
from pairforge.tasks.pairs.chat import ChatResult
from pairforge.tasks.pairs.generators.base import Chunk, Job
from pairforge.tasks.pairs.generators.qa import QA, QA_SYSTEM
from tests.pairs.test_generate import news_docs


def chunk() -> Chunk:
    doc = news_docs(2).row(1, named=True)
    return Chunk(doc, 3, doc["text"][:600].strip())


def test_the_request_asks_for_per_chunk_questions_about_the_chunk():
    spec = GeneratorSpec(kind="qa", per_chunk=3)
    c = chunk()
    req = QA().request(spec, c)
    assert req.key == "qa:d1:3"
    assert req.messages[0] == {"role": "system", "content": QA_SYSTEM}
    assert f'"""\n{c.text}\n"""' in req.messages[1]["content"] and "Write 3 question(s)" in req.messages[1]["content"]
    assert req.json_schema["properties"]["pairs"]["maxItems"] == 3


def test_pairs_are_stripped_capped_and_keep_the_chunk_as_context():
    spec = GeneratorSpec(kind="qa", per_chunk=2)
    c = chunk()
    parsed = {"pairs": [{"question": " Who? ", "answer": " Them. "}, {"question": "When?", "answer": "1999"},
                        {"question": "One too many?", "answer": "yes"}]}
    rows = QA().pairs(spec, Job(QA().request(spec, c), c), ChatResult("k", "{}", parsed, "stop"), lang="xx")
    assert [(r["prompt"], r["response"]) for r in rows] == [("Who?", "Them."), ("When?", "1999")]
    assert {r["context"] for r in rows} == {c.text} and {r["task"] for r in rows} == {"qa"}
    assert {r["doc_id"] for r in rows} == {"d1"} and {r["lang"] for r in rows} == {"en"}  # the document's
