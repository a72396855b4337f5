"""Column schemas of the two tables every stage passes along (the output contract)."""

from __future__ import annotations

import hashlib

import polars as pl

MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})

DOCUMENTS = pl.Schema(
    {
        "id": pl.String,  # stable: hash of the source name and the raw text
        "doc_id": pl.String,  # group key for splits; a document is its own group
        "text": pl.String,
        "source": pl.String,
        "uri": pl.String,
        "license": pl.String,
        "lang": pl.String,
    }
)

PAIRS = pl.Schema(
    {
        "id": pl.String,  # stable: hash of the source name and the raw conversation
        "doc_id": pl.String,  # the document a pair was derived from; imported pairs are their own
        "prompt": pl.String,  # last user turn
        "response": pl.String,  # last assistant turn
        "messages": pl.List(MESSAGE),  # every turn, system first when present
        "system": pl.String,
        "context": pl.String,  # the passage a pair is grounded in (generated QA, Dolly's context), if any
        "task": pl.String,  # qa | instruction | summarization | translation | classification | chat | ...
        "source": pl.String,
        "uri": pl.String,
        "license": pl.String,
        "lang": pl.String,
        "origin": pl.String,  # imported | generated | human | augmented
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
TEXT_COLUMNS = {"documents": ["text"], "pairs": ["prompt", "response", "system", "context", "messages"]}
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
