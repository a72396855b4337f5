"""summarization: a two-or-three-sentence summary of each document chunk (free text, no schema).

The chunk is both inside the prompt and the pairs' `context` (grounding checks read it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pairforge.tasks.pairs.chat import ChatRequest
from pairforge.tasks.pairs.generators.base import Chunk, DocumentGenerator, Job, pair_row

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import GeneratorSpec
    from pairforge.tasks.pairs.chat import ChatResult


def summarization_prompt(text: str) -> str:
    return f"Summarise the following text in two or three sentences.\n\nText:\n{text}"


class Summarization(DocumentGenerator):
    kind = "summarization"

    def request(self, spec: GeneratorSpec, chunk: Chunk) -> ChatRequest:
        return ChatRequest([{"role": "user", "content": summarization_prompt(chunk.text)}], None,
                           self.key(spec, chunk))

    def pairs(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict]:
        return [pair_row(summarization_prompt(job.chunk.text), result.text.strip(), task="summarization",
                         context=job.chunk.text, **job.chunk.inherited())]
