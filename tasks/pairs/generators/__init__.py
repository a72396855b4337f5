"""Pair generators: one file per kind behind one interface (`base.Generator`), and the one registry below.

    qa.py              questions answered by a document chunk, with the chunk as context
    summarization.py   a short summary of each chunk
    translation.py     each chunk translated into `target_language`
    classification.py  each chunk labelled with one of `labels` (schema-constrained)
    self_instruct.py   new tasks in the style of seed pairs
    template.py        computed answers, no model (arithmetic)
    preference.py      chosen/rejected responses to seed prompts: candidates sampled, then judged
    conversation.py    multi-turn chats from a seed prompt or a document chunk, the user's turns simulated too

Everything else is derived from `GENERATORS`: the recipe's `kind` values and their order
(`tasks.core.recipe.GENERATOR_KINDS`), kind-specific recipe checks (`Generator.check`), which table a
generator reads (`GeneratorSpec.input_table`), whether a run needs the model (`needs_model`); and
`tasks.pairs.generate` runs any of them the same way (requests, retries, cache, dead letters, repeats).

Adding a generator is one new file here (a `Generator` subclass, or a `DocumentGenerator` one when it asks one
question per document chunk) plus its one line in `GENERATORS` (and its module's name on the import line),
with its test in tests/pairs/generators/. Nothing else changes: no other file switches on a kind.
"""

from __future__ import annotations

from pairforge.tasks.pairs.generators import (
    classification,
    conversation,
    preference,
    qa,
    self_instruct,
    summarization,
    template,
    translation,
)
from pairforge.tasks.pairs.generators.base import Generator

GENERATORS: dict[str, Generator] = {g.kind: g for g in (  # one line per generator; the order is the recipe's
    qa.QA(),
    self_instruct.SelfInstruct(),
    summarization.Summarization(),
    translation.Translation(),
    classification.Classification(),
    template.Template(),
    preference.Preference(),
    conversation.Conversation(),
)}
