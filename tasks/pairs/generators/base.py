"""The generator interface, and what every generator shares (pair rows, document chunks).

A generator is one way of making pairs, named by the recipe's `generate.generators[].kind`. It declares

- `kind`: its name in the recipe;
- `input_table`: what it reads: `"documents"` (chunks of document text), `"pairs"` (seed pairs), or `None`
  (nothing); the build flow hands it the shards of that table, the recipe checks its `sources` against it
  (`table(spec)`: a generator that reads either, by an option of its own);
- `needs_model`: whether it calls the model (the run starts or reaches an endpoint only if one does);
- `check(spec)`: its own recipe checks (e.g. translation needs `target_language`), run when the recipe loads;
  `check_judge(spec, judge)` checks them against `generate.judge`;

and does its work in one of two ways:

- a model generator builds `jobs(spec, data, lang, limit)`: one `Job` (a `ChatRequest` plus what the answer is
  read against) per model call, then turns one answer into pair rows with `pairs(spec, job, result, lang)`;
  a generator that talks in turns (conversation) returns `Job`s among them too: follow-up requests, sent in the
  next round and answered into `pairs` again, and rows with a `reason`, which go to the rejected table;
  `truncated(spec, job, result, lang)` may do the same with an answer cut at max_tokens;
  sending, retries, the cache, dead letters and truncated answers are the caller's
  (`tasks.pairs.generate.run_generator`), the same for every generator; `finish(spec, rows, judge)`
  may then make a second pass over all the rows with the run's judges (the preference generator judges its candidates)
  and reject rows with a reason (they go to the rejected table);
- a generator that needs no model returns its rows from `compute(spec, data, lang)`.

`DocumentGenerator` does the chunking for generators that read documents: they write only `request(spec, chunk)`
and `pairs`. Every pair row is made by `pair_row`, so ids and columns are the same for every kind.

Nothing here imports the recipe at run time (the recipe imports the registry to know the kinds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import polars as pl

from pairforge.tasks.core.schema import stable_id

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import GeneratorSpec, JudgeOptions
    from pairforge.tasks.pairs.chat import ChatRequest, ChatResult
    from pairforge.tasks.pairs.judging import Judge

InputTable = Literal["documents", "pairs"]


def pair_row(prompt: str, response: str, *, task: str, source: str, license: str, lang: str, uri: str | None,
             doc_id: str | None, context: str | None = None, system: str | None = None) -> dict:
    """One generated pair in the pairs table's shape; its id depends on task, document, prompt and response."""
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    pair_id = stable_id("generated", task, doc_id or "", prompt, response)
    return {"id": pair_id, "doc_id": doc_id or pair_id, "prompt": prompt, "response": response,
            "messages": messages, "system": system, "context": context, "task": task, "source": source,
            "uri": uri, "license": license, "lang": lang, "origin": "generated"}


@dataclass
class Chunk:
    doc: dict  # the document row (id, source, uri, license, lang)
    index: int
    text: str

    def inherited(self) -> dict:
        """What a pair made from this chunk inherits from its document (`pair_row`'s keywords)."""
        d = self.doc
        return dict(source=d["source"], license=d["license"], lang=d["lang"], uri=d["uri"], doc_id=d["id"])


def chunk_documents(docs: pl.DataFrame | None, chunk_tokens: int, limit: int | None) -> list[Chunk]:
    """Split documents into chunks of at most `chunk_tokens` model tokens, in document order."""
    from pairforge.tasks.publish.tokenizer import get_tokenizer

    if docs is None:  # no document shards reached this generator
        return []
    tok = get_tokenizer()
    chunks: list[Chunk] = []
    for doc in docs.select("id", "text", "source", "uri", "license", "lang").iter_rows(named=True):
        for i, text in enumerate(tok.chunk(doc["text"], chunk_tokens)):
            if limit is not None and len(chunks) >= limit:
                return chunks
            if text.strip():
                chunks.append(Chunk(doc, i, text.strip()))
    return chunks


@dataclass(frozen=True)
class Job:
    """One model call of a generator and what its answer is read against."""

    request: ChatRequest
    chunk: Chunk | None = None  # the document chunk asked about (generators that read documents)
    extra: Any = None  # anything else the generator needs to turn the answer into pairs

    @property
    def doc(self) -> dict:
        """The document the request came from ({} when none): the dead letter names its source and id."""
        return self.chunk.doc if self.chunk else {}


class Generator:
    """One kind of generator; instances are stateless and shared (see the registry in this package)."""

    kind: ClassVar[str]
    input_table: ClassVar[InputTable | None] = "documents"
    needs_model: ClassVar[bool] = True

    def table(self, spec: GeneratorSpec) -> InputTable | None:
        """The table this spec reads (default: the kind's `input_table`)."""
        return self.input_table

    def check(self, spec: GeneratorSpec) -> None:
        """Kind-specific recipe checks: raise ValueError with a one-line message. Default: nothing to check."""

    def check_judge(self, spec: GeneratorSpec, judge: JudgeOptions) -> None:
        """Checks of this generator's options against the run's judge (`generate.judge`); raise ValueError naming
        the key (`candidates ...`). Default: nothing to check."""

    def finish(self, spec: GeneratorSpec, rows: list[dict], judge: Judge) -> tuple[list[dict], list[dict]]:
        """A second pass over the rows made from the answers with the run's judges (tasks.pairs.judging.Judge; e.g.
        choosing between candidates): (kept rows, rejected rows each with its `reason`). Default: all kept."""
        return rows, []

    def jobs(self, spec: GeneratorSpec, data: pl.DataFrame | None, *, lang: str, limit: int | None) -> list[Job]:
        """The model calls to make over `data` (rows of `input_table`; None when no shard reached it)."""
        raise NotImplementedError(f"{self.kind} makes no model requests")

    def pairs(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict | Job]:
        """Pair rows from one successful, complete answer (errors and truncated answers never get here); a `Job`
        among them is a follow-up request (next round), a row with a `reason` a rejected row."""
        raise NotImplementedError(f"{self.kind} reads no model answers")

    def truncated(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict | Job] | None:
        """What an answer cut at max_tokens gives, as `pairs`; None (default): nothing, counted as truncated."""
        return None

    def compute(self, spec: GeneratorSpec, data: pl.DataFrame | None, *, lang: str) -> list[dict]:
        """The pair rows of a generator that needs no model."""
        raise NotImplementedError(f"{self.kind} needs the model")


class DocumentGenerator(Generator):
    """A generator that asks one question per document chunk (`spec.chunk_tokens`, at most `spec.max_chunks`)."""

    input_table: ClassVar[InputTable | None] = "documents"

    def jobs(self, spec: GeneratorSpec, data: pl.DataFrame | None, *, lang: str, limit: int | None) -> list[Job]:
        return [Job(self.request(spec, c), c) for c in chunk_documents(data, spec.chunk_tokens, limit)]

    def request(self, spec: GeneratorSpec, chunk: Chunk) -> ChatRequest:
        raise NotImplementedError

    @staticmethod
    def key(spec: GeneratorSpec, chunk: Chunk) -> str:
        """The request's key (also in the dead letter): kind, document id and chunk number."""
        return f"{spec.kind}:{chunk.doc['id']}:{chunk.index}"
