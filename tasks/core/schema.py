"""Column schemas of the two tables every stage passes along (the output contract)."""

from __future__ import annotations

import functools
import hashlib
from importlib.metadata import PackageNotFoundError, version

import polars as pl

RETRIEVED_AT = pl.Datetime("us", "UTC")
# One chat turn. Tool use (OpenAI's layout, see tasks.core.tools): an assistant turn's `tool_calls` list as JSON text,
# the call id a `tool` turn answers; both null on plain turns. `content` is null only on a turn that just calls tools.
MESSAGE = pl.Struct({"role": pl.String, "content": pl.String, "tool_calls": pl.String, "tool_call_id": pl.String})

DOCUMENTS = pl.Schema(
    {
        "id": pl.String,  # stable: hash of the source name and the raw text
        "doc_id": pl.String,  # group key for splits; a document is its own group
        "text": pl.String,
        "source": pl.String,
        "uri": pl.String,
        "license": pl.String,
        "lang": pl.String,
        "lang_score": pl.Float64,  # confidence of the language identification (null when not identified)
        "title": pl.String,  # web page or article title, when the source has one
        "retrieved_at": RETRIEVED_AT,  # when the source was read (provenance)
        "pipeline_version": pl.String,  # pairforge version that read it (provenance)
        "source_encoding": pl.String,  # text encoding its file was read in (provenance); null: Parquet, PDF, web, dumps
        "dup_cluster": pl.String,  # id of the near-duplicate cluster's kept row; null for rows without duplicates
    }
)

PAIRS = pl.Schema(
    {
        "id": pl.String,  # stable: hash of the source name and the raw conversation
        "doc_id": pl.String,  # the document a pair was derived from; imported pairs are their own
        "prompt": pl.String,  # last user turn
        "response": pl.String,  # last assistant turn
        "messages": pl.List(MESSAGE),  # every turn, system first when present
        "tools": pl.String,  # the OpenAI `tools` list the conversation may call, as JSON text; null when none
        "system": pl.String,
        "context": pl.String,  # the passage a pair is grounded in (generated QA, Dolly's context), if any
        "task": pl.String,  # qa | instruction | summarization | translation | classification | chat | ...
        "source": pl.String,
        "uri": pl.String,
        "license": pl.String,
        "lang": pl.String,
        "origin": pl.String,  # imported | generated | human | human-edited (corrected by an annotator) | augmented
        "lang_score": pl.Float64,
        "generator": pl.String,  # the model that wrote the pair (generated / augmented by a model), else null
        "augmented_from": pl.String,  # id of the pair an augmented pair was made from
        "retrieved_at": RETRIEVED_AT,
        "pipeline_version": pl.String,
        "source_encoding": pl.String,
        "dup_cluster": pl.String,
        # human annotation (tasks/annotate): the round's resolved rating, flags and choice; null when not annotated
        "human_score": pl.Float64,
        "human_flags": pl.String,
        "human_choice": pl.String,
        # preference pairs (tasks/pairs/generators/preference.py): the chosen response is `response` (and the last
        # assistant turn of `messages`), so every stage reads a preference row as any pair (dedup and decontamination
        # on prompt + chosen); `rejected` is the worse response to the same turns. All null on other pairs.
        # People can overrule the judge: the annotation kind `choose` shows response (A) and rejected (B), and a
        # B swaps them (tasks.annotate.round._people_chose).
        "rejected": pl.String,
        "chosen_score": pl.Float64,  # the judges' mean score of each (pairwise: share of verdicts won)
        "rejected_score": pl.Float64,
        "margin": pl.Float64,  # chosen_score - rejected_score
        "judge_reason": pl.String,  # the judges' reasons, " | " between judges
        # the row's length in the target tokenizer's tokens (the recipe's `tokenizer`, else the local GGUF): its
        # conversation in the chat template, as the `tokenized` export has it (preference rows: with the chosen
        # response). Counted at export (tasks.publish.export), null before
        "tokens": pl.Int32,
    }
)

QUARANTINE = pl.Schema(
    {
        "source": pl.String,
        "uri": pl.String,
        "row": pl.Int64,  # 1-based line/row number in the file; null when the whole file failed
        "reason": pl.String,
        "stage": pl.String,
    }
)

SCHEMAS = {"documents": DOCUMENTS, "pairs": PAIRS}
# text that PII scrubbing and control-token escaping read: a preference row's rejected response is training text
# too, and a judge's reason may quote the pair
TEXT_COLUMNS = {"documents": ["text", "title"],
                "pairs": ["prompt", "response", "system", "context", "messages", "rejected", "judge_reason"]}
SPLITS = ("train", "validation", "test")


def stable_id(*parts: str) -> str:
    """A 16-byte hex id that stays the same across runs, machines and library versions."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMAS[table])


@functools.cache
def pipeline_version() -> str:
    """The installed pairforge version, recorded on every row and in the manifest."""
    try:
        return version("pairforge")
    except PackageNotFoundError:
        return "0+unknown"


def earlier_turns() -> pl.Expr:
    """A pairs row's turns before its last exchange (list of contents, system left out): what a multi-turn
    conversation (two user turns or more) holds beyond `prompt` and `response`; empty for a single-turn pair."""
    turns = pl.col("messages").list.eval(pl.element().filter(pl.element().struct.field("role") != "system"))
    users = pl.col("messages").list.eval(pl.element().struct.field("role") == "user").list.sum().fill_null(0)
    earlier = turns.list.slice(0, turns.list.len() - 2).list.eval(pl.element().struct.field("content").fill_null(""))
    return pl.when(users >= 2).then(earlier).otherwise(pl.lit([], pl.List(pl.String)))


def conversation_prompt() -> pl.Expr:
    """What a pairs row's response answers: its prompt, after the earlier turns of a multi-turn conversation (one
    per line), so conversations that end alike but differ before are different text."""
    earlier = earlier_turns()
    return pl.when(earlier.list.len() > 0).then(
        pl.concat_str(earlier.list.join("\n"), pl.col("prompt").fill_null(""), separator="\n")
    ).otherwise(pl.col("prompt"))


def row_text(table: str) -> pl.Expr:
    """The text a row is judged on (language, quality rules, duplicates): documents' text; pairs' prompt and
    response, after the earlier turns of a multi-turn conversation (`conversation_prompt`)."""
    if table == "pairs":
        return pl.concat_str(conversation_prompt().fill_null(""), pl.col("response").fill_null(""), separator="\n")
    return pl.col("text").fill_null("")


def conform(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """`df` with the table's columns in contract order and types; missing (nullable) columns become null.

    Columns outside the schema (e.g. a stage's `split`) are kept after them."""
    schema = SCHEMAS[table]
    cols = [pl.col(c).cast(t) if c in df.columns else pl.lit(None, t).alias(c) for c, t in schema.items()]
    return df.select(*cols, *[c for c in df.columns if c not in schema])
