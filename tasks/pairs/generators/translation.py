"""translation: each document chunk translated into `target_language` (free text, no schema).

The pairs have no `context`: the source text is the prompt itself. Their `lang` is the document's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pairforge.tasks.pairs.chat import ChatRequest
from pairforge.tasks.pairs.generators.base import Chunk, DocumentGenerator, Job, pair_row

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import GeneratorSpec
    from pairforge.tasks.pairs.chat import ChatResult


def translation_prompt(spec: GeneratorSpec, text: str) -> str:
    return f"Translate the following text into {spec.target_language}.\n\nText:\n{text}"


class Translation(DocumentGenerator):
    kind = "translation"

    def check(self, spec: GeneratorSpec) -> None:
        if not spec.target_language:
            raise ValueError("translation needs target_language")

    def request(self, spec: GeneratorSpec, chunk: Chunk) -> ChatRequest:
        return ChatRequest([{"role": "user", "content": translation_prompt(spec, chunk.text)}], None,
                           self.key(spec, chunk))

    def pairs(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict]:
        return [pair_row(translation_prompt(spec, job.chunk.text), result.text.strip(), task="translation",
                         context=None, **job.chunk.inherited())]
