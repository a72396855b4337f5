"""classification: each document chunk labelled with one of the recipe's `labels`.

The answer is constrained to the label set by a JSON schema (enum); the pair's prompt is the question
without the JSON instruction, its response the bare label."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pairforge.tasks.pairs.chat import ChatRequest
from pairforge.tasks.pairs.generators.base import Chunk, DocumentGenerator, Job, pair_row

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import GeneratorSpec
    from pairforge.tasks.pairs.chat import ChatResult


def classification_prompt(spec: GeneratorSpec, text: str) -> str:
    return f"Classify the text into one of these labels: {', '.join(spec.labels)}.\n\nText:\n{text}\n"


class Classification(DocumentGenerator):
    kind = "classification"

    def check(self, spec: GeneratorSpec) -> None:
        if len(set(spec.labels)) < 2:
            raise ValueError("classification needs at least two distinct labels")

    def request(self, spec: GeneratorSpec, chunk: Chunk) -> ChatRequest:
        schema = {"type": "object", "properties": {"label": {"type": "string", "enum": spec.labels}},
                  "required": ["label"]}
        return ChatRequest([{"role": "user", "content": classification_prompt(spec, chunk.text)
                             + '\nReply with JSON: {"label": "..."}'}], schema, self.key(spec, chunk))

    def pairs(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict]:
        return [pair_row(classification_prompt(spec, job.chunk.text).strip(), result.parsed["label"],
                         task="classification", **job.chunk.inherited())]
