"""qa: reading-comprehension questions answered by a document chunk, each with a short answer from it.

One request per chunk asks for `per_chunk` question/answer pairs as JSON; the chunk is kept as the pairs'
`context`, so quality checks can test that the answer is grounded in it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pairforge.tasks.pairs.chat import ChatRequest
from pairforge.tasks.pairs.generators.base import Chunk, DocumentGenerator, Job, pair_row

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import GeneratorSpec
    from pairforge.tasks.pairs.chat import ChatResult

QA_SYSTEM = ("You write question and answer pairs for a reading-comprehension dataset. "
             "Use only facts stated in the text.")


def qa_schema(n: int) -> dict:
    """At most `n` {question, answer} objects."""
    item = {"type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
            "required": ["question", "answer"]}
    return {"type": "object", "properties": {"pairs": {"type": "array", "items": item, "minItems": 1,
                                                       "maxItems": n}}, "required": ["pairs"]}


class QA(DocumentGenerator):
    kind = "qa"

    def request(self, spec: GeneratorSpec, chunk: Chunk) -> ChatRequest:
        user = (f'Text:\n"""\n{chunk.text}\n"""\n\nWrite {spec.per_chunk} question(s) that the text answers, each '
                'with a short answer taken from the text. Reply with JSON: '
                '{"pairs": [{"question": "...", "answer": "..."}]}')
        return ChatRequest([{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": user}],
                           qa_schema(spec.per_chunk), self.key(spec, chunk))

    def pairs(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict]:
        return [pair_row(p["question"].strip(), p["answer"].strip(), task="qa", context=job.chunk.text,
                         **job.chunk.inherited())
                for p in result.parsed["pairs"][: spec.per_chunk]]
