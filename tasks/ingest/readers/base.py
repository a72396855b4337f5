"""The reader interface and what every reader shares: the Collector a reader hands its rows to, and the helpers
that turn a record into a documents or pairs row.

A reader (one module per format family in this package) implements only reading one file: `read(c, stream)`
gets the file's bytes as a stream and calls `c.document(...)` / `c.pair(...)` for each row, or raises `BadRow`
(one row, quarantined with its reason) while the Collector keeps count, batches rows into chunks and
records provenance. Reading files, limits and quarantining whole files are the caller's job
(`tasks/ingest/sources.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Literal

import orjson
import polars as pl

from pairforge.tasks.core.schema import DOCUMENTS, PAIRS, QUARANTINE, pipeline_version, stable_id

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import Source

Table = Literal["documents", "pairs"]


class Reader:
    """One source format: its name in recipes, the table its rows go to, the file name endings a folder or
    prefix source keeps (before `.gz`/`.bz2`; empty: every file), and `read`, which reads one file."""

    name: ClassVar[str]
    table: ClassVar[Table] = "documents"
    extensions: ClassVar[tuple[str, ...]] = ()
    # csv/parquet: rows become pairs when `fields` maps prompt and response (TABLE_PAIR_FIELDS in the recipe)
    pairs_from_fields: ClassVar[bool] = False

    def table_for(self, fields: Mapping[str, str]) -> Table:
        """The table a source of this format fills, given its `fields` mapping."""
        if self.pairs_from_fields and "prompt" in fields and "response" in fields:
            return "pairs"
        return self.table

    def read(self, c: Collector, stream: BinaryIO) -> None:
        """Add the rows of one file to `c`; bad rows are quarantined (`c.quarantine`, or raise `BadRow`)."""
        raise NotImplementedError


class BadRow(ValueError):
    """One row cannot become a table row; its message is the quarantine reason."""


class Enough(Exception):
    """The sample limit is reached: stop reading."""


@dataclass
class FileRows:
    """What one source file yields."""

    table: str
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


# A chunk is handed on at `chunk_rows` rows or once it holds this much text, whichever comes first:
# 50,000 Wikipedia articles (~30 KB each) would otherwise be 1.5 GB in memory.
MAX_CHUNK_CHARS = 16 << 20

ROLES = {"system", "user", "assistant", "tool"}


class Collector:
    """Gathers rows and quarantined rows; hands a chunk to `sink` every `chunk_rows` rows (or MAX_CHUNK_CHARS)."""

    def __init__(self, source: Source, uri: str, lang: str, chunk_rows: int, sink: Callable[[FileRows], None],
                 limit: int | None = None):
        self.source, self.uri, self.lang = source, uri, lang
        self.chunk_rows, self.sink, self.limit = chunk_rows, sink, limit
        self.added = 0
        self.rows: list[dict] = []
        self.chars = 0  # text held in `rows`
        self.bad: list[dict] = []
        self.row: int | None = None  # the line/row being read, for readers that quarantine part of a record
        self.retrieved_at = datetime.now(UTC)  # provenance: when the current file was opened

    def add(self, row: dict) -> None:
        if self.limit is not None and self.added >= self.limit:
            raise Enough
        self.added += 1
        row.setdefault("retrieved_at", self.retrieved_at)
        row["pipeline_version"] = pipeline_version()
        self.rows.append(row)
        self.chars += sum(len(row.get(k) or "") for k in ("text", "prompt", "response", "context"))
        if len(self.rows) >= self.chunk_rows or self.chars >= MAX_CHUNK_CHARS:
            self.flush()

    def flush(self) -> None:
        if self.rows or self.bad:
            self.sink(self.frames(self.source.table))
            self.rows, self.bad, self.chars = [], [], 0

    def quarantine(self, row: int | None, reason: str) -> None:
        self.bad.append({"source": self.source.name, "uri": self.uri, "row": row, "reason": reason, "stage": "ingest"})

    def frames(self, table: str) -> FileRows:
        schema = DOCUMENTS if table == "documents" else PAIRS
        rows = pl.DataFrame(self.rows, schema=schema, orient="row") if self.rows else pl.DataFrame(schema=schema)
        bad = pl.DataFrame(self.bad, schema=QUARANTINE, orient="row") if self.bad else pl.DataFrame(schema=QUARANTINE)
        return FileRows(table, rows, bad)

    # ---- rows ----------------------------------------------------------------------------------

    def document(self, text: Any, *, title: str | None = None, lang: str | None = None,
                 uri: str | None = None, retrieved_at: datetime | None = None) -> None:
        """Add a document; `title`, `lang` (else the source's), `uri` (else the file's) and `retrieved_at` come
        from readers that know them (web pages, wiki articles)."""
        if not isinstance(text, str):
            raise BadRow(f"text is {type(text).__name__}, expected a string")
        doc_id = stable_id(self.source.name, text)
        row = {"id": doc_id, "doc_id": doc_id, "text": text, "source": self.source.name, "uri": uri or self.uri,
               "license": self.source.license, "lang": lang or self.lang, "title": title}
        if retrieved_at is not None:
            row["retrieved_at"] = retrieved_at
        self.add(row)

    def pair(self, messages: list[dict], context: str | None = None, task: str | None = None) -> None:
        """Add a pair from its turns; prompt/response are the last user turn and the final assistant turn.

        `context` is the passage the pair is grounded in (part of the id, as it is part of the pair);
        `task` its task label, if the source has one."""
        if not messages or messages[-1]["role"] != "assistant":
            raise BadRow("conversation does not end with an assistant turn")
        users = [m for m in messages if m["role"] == "user"]
        if not users:
            raise BadRow("conversation has no user turn")
        if not messages[-1]["content"].strip():
            raise BadRow("empty response")
        if not users[-1]["content"].strip():
            raise BadRow("empty prompt")
        systems = [m["content"] for m in messages if m["role"] == "system"]
        turns = orjson.dumps(messages).decode()
        # pairs without a context keep the ids they always had
        pair_id = stable_id(self.source.name, turns) if context is None else stable_id(self.source.name, turns, context)
        self.add(
            {"id": pair_id, "doc_id": pair_id, "prompt": users[-1]["content"], "response": messages[-1]["content"],
             "messages": messages, "system": systems[0] if systems else None, "context": context, "task": task,
             "source": self.source.name,
             "uri": self.uri, "license": self.source.license, "lang": self.lang, "origin": self.source.origin}
        )


def read_limited(c: Collector, stream: BinaryIO, limit: int, what: str) -> bytes | None:
    """The whole file, or None (quarantined) when it is larger than `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        c.quarantine(None, f"{what} larger than {limit >> 20} MB")
        return None
    return data



# ---- record fields -----------------------------------------------------------------------------


def mapped(source: Source, name: str) -> str:
    """The file's field/column for pairforge's field `name` (the source's `fields` mapping, else `name`)."""
    return source.fields.get(name, name)


def get(obj: dict, key: str, required: bool = True) -> Any:
    if key not in obj or obj[key] is None:
        if required:
            raise BadRow(f"missing field '{key}'")
        return None
    return obj[key]


def text(value: Any, what: str) -> str:
    """A message content: a string, or OpenAI's list of {type: text, text} parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        return "".join(p.get("text", "") for p in value if p.get("type", "text") == "text")
    raise BadRow(f"{what} is {type(value).__name__}, expected a string")


def optional_text(obj: dict, key: str) -> str | None:
    """An optional string field; None when missing, null or blank."""
    value = get(obj, key, required=False)
    if value is None:
        return None
    value = text(value, key)
    return value if value.strip() else None


def required_text(obj: dict, key: str) -> str:
    """A string field that must be there and not blank."""
    value = text(get(obj, key), key)
    if not value.strip():
        raise BadRow(f"empty '{key}'")
    return value


def with_input(instruction: str, extra: str | None) -> str:
    """Alpaca-style prompt: the instruction, then a blank line and the input when there is one."""
    return f"{instruction}\n\n{extra}" if extra else instruction
