"""self-instruct: new tasks in the style of seed pairs (Self-Instruct, Wang et al. 2023), each with its answer.

Reads the seed pairs (imported pairs of the generator's `sources`); request i shows three seed prompts drawn
with `spec.seed` and asks for one new {instruction, input, output}. The pairs take the first seed row's
source and licence and the run's language; they have no document."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, ClassVar

from pairforge.tasks.pairs.chat import ChatRequest
from pairforge.tasks.pairs.generators.base import Generator, InputTable, Job, pair_row

if TYPE_CHECKING:
    import polars as pl

    from pairforge.tasks.core.recipe import GeneratorSpec
    from pairforge.tasks.pairs.chat import ChatResult

SELF_INSTRUCT_SCHEMA = {"type": "object", "properties": {
    "instruction": {"type": "string"}, "input": {"type": "string"}, "output": {"type": "string"}},
    "required": ["instruction", "input", "output"]}


class SelfInstruct(Generator):
    kind = "self-instruct"
    input_table: ClassVar[InputTable | None] = "pairs"

    def jobs(self, spec: GeneratorSpec, data: pl.DataFrame | None, *, lang: str, limit: int | None) -> list[Job]:
        """`spec.count` requests, each showing three random seed tasks (`limit` does not apply: no chunks)."""
        if data is None or not len(data):
            raise ValueError("self-instruct: the seed sources have no pairs")
        rng = random.Random(spec.seed)
        prompts = data.get_column("prompt").to_list()
        seed = data.row(0, named=True)
        out = []
        for i in range(spec.count):
            shown = rng.sample(prompts, k=min(3, len(prompts)))
            examples = "\n".join(f"{n}. {p[:500]}" for n, p in enumerate(shown, start=1))
            user = (f"Here are example tasks:\n{examples}\n\nCome up with one new task that is different from these, "
                    'and answer it. Reply with JSON: {"instruction": "...", "input": "...", "output": "..."} '
                    '(input may be "").')
            out.append(Job(ChatRequest([{"role": "user", "content": user}], SELF_INSTRUCT_SCHEMA, f"self-instruct:{i}"),
                           extra=seed))
        return out

    def pairs(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict]:
        p = result.parsed
        prompt = p["instruction"].strip() + (f"\n\n{p['input'].strip()}" if p["input"].strip() else "")
        return [pair_row(prompt, p["output"].strip(), task="instruction", source=job.extra["source"],
                         license=job.extra["license"], lang=lang, uri="pairforge:self-instruct", doc_id=None)]
