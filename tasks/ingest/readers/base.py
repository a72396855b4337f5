"""The reader interface and what every reader shares: the Collector a reader hands its rows to, and the helpers
that turn a record into a documents or pairs row.

A reader (one module per format family in this package) implements only reading one file: `read(c, stream)`
gets the file's bytes as a stream and calls `c.document(...)` / `c.pair(...)` for each row, or raises `BadRow`
(one row, quarantined with its reason) while the Collector keeps count, batches rows into chunks and
records provenance. A reader that cannot go on with a file raises `BadFile`; any other exception is caught
by the caller (`tasks/ingest/sources.py`) too, which quarantines the file and goes on with the next.

Quarantine reasons name a position and a kind of error, never file content (it may be personal data):
`error_kind` reduces a library's exception to that, and `label` shows a column or role name only when it
looks like an identifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Literal

import orjson
import polars as pl

from pairforge.tasks.core.schema import DOCUMENTS, PAIRS, QUARANTINE, pipeline_version, stable_id
from pairforge.tasks.core.tools import calls_text

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import Source
    from pairforge.tasks.ingest.readers.streams import TextDecoder

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


class BadFile(Exception):
    """The rest of a file cannot be read (broken, or past a limit); `reason` is the quarantine reason, `row` the
    line/row where reading stopped, if known."""

    def __init__(self, reason: str, row: int | None = None):
        super().__init__(reason)
        self.reason, self.row = reason, row


class Enough(Exception):
    """The sample limit is reached: stop reading."""


class SinkFailed(BaseException):
    """Handing a chunk on failed (a storage error): not the file's fault, so never quarantined. A BaseException so
    that no reader's broad `except Exception` can swallow it."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


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
        self.decoder: TextDecoder | None = None  # how the current file's text is decoded (text formats)
        self.file_rows = self.file_bad = 0  # rows and quarantined rows of the current file

    @property
    def limits(self):
        return self.source.limits

    def start_file(self, uri: str) -> None:
        self.uri, self.retrieved_at, self.decoder, self.row = uri, datetime.now(UTC), None, None
        self.file_rows = self.file_bad = 0

    def add(self, row: dict) -> None:
        if self.limit is not None and self.added >= self.limit:
            raise Enough
        self.added += 1
        self.file_rows += 1
        row.setdefault("retrieved_at", self.retrieved_at)
        row["pipeline_version"] = pipeline_version()
        row["source_encoding"] = self.decoder.label() if self.decoder else None
        self.rows.append(row)
        self.chars += sum(len(row.get(k) or "") for k in ("text", "prompt", "response", "context"))
        if len(self.rows) >= self.chunk_rows or self.chars >= MAX_CHUNK_CHARS:
            self.flush()

    def flush(self) -> None:
        if self.rows or self.bad:
            try:
                self.sink(self.frames(self.source.table))
            except Exception as e:
                raise SinkFailed(e) from e
            self.rows, self.bad, self.chars = [], [], 0

    def quarantine(self, row: int | None, reason: str) -> None:
        self.file_bad += 1
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
        self._check_size(len(text) + len(title or ""))
        doc_id = stable_id(self.source.name, text)
        row = {"id": doc_id, "doc_id": doc_id, "text": text, "source": self.source.name, "uri": uri or self.uri,
               "license": self.source.license, "lang": lang or self.lang, "title": title}
        if retrieved_at is not None:
            row["retrieved_at"] = retrieved_at
        self.add(row)

    def pair(self, messages: list[dict], context: str | None = None, task: str | None = None,
             tools: str | None = None, preference: dict | None = None) -> None:
        """Add a pair from its turns; prompt/response are the last user turn and the final assistant turn.

        `context` is the passage the pair is grounded in (part of the id, as it is part of the pair);
        `task` its task label, if the source has one. Tool use (tasks.core.tools): `tools` is the record's
        checked tools list as JSON text, a turn may carry `tool_calls` / `tool_call_id`; a final turn that only
        calls tools gives the calls as the response (`[{"name", "arguments"}]`, tasks.core.tools.calls_text).
        `preference`: a preference row's `rejected` response (part of the id) and its scores, when it has them."""
        if not messages or messages[-1]["role"] != "assistant":
            raise BadRow("conversation does not end with an assistant turn")
        users = [m for m in messages if m["role"] == "user"]
        if not users:
            raise BadRow("conversation has no user turn")
        last = messages[-1]
        response = last["content"] if last["content"] or not last.get("tool_calls") else calls_text(
            orjson.loads(last["tool_calls"]))
        if not response.strip():
            raise BadRow("empty response")
        if not users[-1]["content"].strip():
            raise BadRow("empty prompt")
        self._check_size(sum(len(m["content"] or "") + len(m.get("tool_calls") or "") for m in messages)
                         + len(context or "") + len(tools or ""))
        systems = [m["content"] for m in messages if m["role"] == "system"]
        turns = orjson.dumps(messages).decode()
        # pairs without a context or tools keep the ids they always had (plain turns are {role, content} only)
        if preference is not None:
            self._check_size(len(preference["rejected"]))
            pair_id = stable_id(self.source.name, turns, context or "", tools or "", preference["rejected"])
        elif tools is not None:
            pair_id = stable_id(self.source.name, turns, context or "", tools)
        elif context is None:
            pair_id = stable_id(self.source.name, turns)
        else:
            pair_id = stable_id(self.source.name, turns, context)
        self.add(
            {"id": pair_id, "doc_id": pair_id, "prompt": users[-1]["content"], "response": response,
             "messages": messages, "tools": tools, "system": systems[0] if systems else None, "context": context,
             "task": task, "source": self.source.name,
             "uri": self.uri, "license": self.source.license, "lang": self.lang, "origin": self.source.origin,
             **(preference or {})}
        )

    def _check_size(self, chars: int) -> None:
        cap = self.limits.max_document_chars
        if chars > cap:
            raise BadRow(f"text longer than {cap:,} characters (limits.max_document_chars)")


# ---- quarantine reasons ------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_PLAIN_WORD = re.compile(r"[a-z]+|[A-Z][a-z]*|[A-Z]{2,5}")  # "found", "Expecting", "JSON": not "x1", "Smith"


def error_kind(e: BaseException) -> str:
    """What went wrong, for a quarantine reason: the exception's type and the fixed phrase its message starts with.

    Libraries put the specifics (a value, a path, a quoted row) after that phrase, so the phrase ends at the first
    word that is not a plain lower-case word (or an acronym), at a colon or at a line break; a capitalised word
    ends it too unless it is the first (a name is content). At most ten words."""
    message = str(e).split("\n", 1)[0].split(":", 1)[0]
    words = []
    for i, token in enumerate(message.split()):
        token = token.rstrip(",.;")
        if not _PLAIN_WORD.fullmatch(token) or (i and token[0].isupper() and not token.isupper()):
            break
        words.append(token)
    return f"{type(e).__name__}: {' '.join(words[:10])}" if words else type(e).__name__


def label(name: object) -> str:
    """A column or role name as a reason may show it: quoted when it looks like an identifier, else only its type
    (a headerless CSV's "column names" are its first row: data)."""
    if isinstance(name, str) and _IDENTIFIER.fullmatch(name):
        return repr(name)
    return "None" if name is None else f"a {type(name).__name__} value"


def labels(names: list, limit: int = 10) -> str:
    """`'a', 'b', 'c'` for the identifier-like names among `names`, and how many others there are."""
    shown = [n for n in names if isinstance(n, str) and _IDENTIFIER.fullmatch(n)][:limit]
    rest = len(names) - len(shown)
    return ", ".join([*shown, *([f"{rest} other(s)"] if rest else [])]) or "none"


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
