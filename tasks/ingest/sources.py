"""Readers: one source file -> rows of the documents or pairs table, plus quarantined rows.

A reader never raises for bad data: a line that is not valid UTF-8 or JSON, a row without the
mapped field, or a file that cannot be parsed at all becomes a quarantine row with its reason,
and everything else in the file is kept. Only storage failures (worth a retry) raise.

Record formats read JSON Lines; a `.json` file whose first non-space byte is `[` is read as one
JSON array of records instead (streamed element by element), its rows numbered by array index + 1.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson
import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.schema import DOCUMENTS, PAIRS, QUARANTINE, pipeline_version, stable_id
from pairforge.tasks.core.shards import RETRYING, Shard, resumable, write_stage

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import Source

EXTENSIONS = {
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "csv": (".csv",),
    "parquet": (".parquet",),
    "alpaca": (".jsonl", ".json"),
    "dolly": (".jsonl", ".json"),
    "sharegpt": (".json", ".jsonl"),
    "openai": (".jsonl",),
    "prompt-completion": (".jsonl",),
    "self-instruct": (".jsonl", ".json"),
    "html": (".html", ".htm", ".xhtml"),
    "url-list": (".txt", ".urls", ".lst"),
    "wikipedia": (".xml",),
    "pdf": (".pdf",),
}
ROLES = {"system", "user", "assistant", "tool"}
# ShareGPT's `from` -> our role
SHAREGPT_ROLES = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bard": "assistant", "model": "assistant",
    "system": "system",
}


class SourceError(ValueError):
    """A source that matches no usable file (raised before any work starts)."""


class BadRow(ValueError):
    """One row cannot become a table row; its message is the quarantine reason."""


def resolve_source_files(source: Source) -> list[tuple[str, int]]:
    """The files a source reads, with sizes. Raises SourceError when there are none or all are empty."""
    try:
        found = storage.glob(source.uri)
    except storage.StorageError as e:
        raise SourceError(f"cannot list {source.uri}: {e}") from None
    exts = EXTENSIONS.get(source.format)
    if exts and len(found) > 1:
        wanted = [(u, s) for u, s in found if _strip_compression(u).endswith(exts)]
        found = wanted or found
    if not found:
        raise SourceError(f"no file matches {source.uri}")
    if all(size == 0 for _, size in found):
        raise SourceError(f"source is empty: {', '.join(u for u, _ in found[:3])}")
    return found


def _strip_compression(uri: str) -> str:
    for ext in (".gz", ".bz2"):
        if uri.endswith(ext):
            return uri[: -len(ext)]
    return uri


@dataclass
class FileRows:
    """What one source file yields."""

    table: str
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)


class _Enough(Exception):
    """The sample limit is reached: stop reading."""


# A chunk is handed on at `chunk_rows` rows or once it holds this much text, whichever comes first:
# 50,000 Wikipedia articles (~30 KB each) would otherwise be 1.5 GB in memory.
MAX_CHUNK_CHARS = 16 << 20


class _Collector:
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
            raise _Enough
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


# ---- documents ---------------------------------------------------------------------------------


def _document(c: _Collector, text: Any, *, title: str | None = None, lang: str | None = None,
              uri: str | None = None, retrieved_at: datetime | None = None) -> None:
    """Add a document; `title`, `lang` (else the source's), `uri` (else the file's) and `retrieved_at` come
    from readers that know them (web pages, wiki articles)."""
    if not isinstance(text, str):
        raise BadRow(f"text is {type(text).__name__}, expected a string")
    doc_id = stable_id(c.source.name, text)
    row = {"id": doc_id, "doc_id": doc_id, "text": text, "source": c.source.name, "uri": uri or c.uri,
           "license": c.source.license, "lang": lang or c.lang, "title": title}
    if retrieved_at is not None:
        row["retrieved_at"] = retrieved_at
    c.add(row)


def _lines(stream: BinaryIO, encoding: str) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, error) per non-blank line, read as a stream; a line that does not decode gets an error."""
    for n, raw in enumerate(stream, start=1):
        try:
            line = raw.rstrip(b"\r\n").decode(encoding)
        except UnicodeDecodeError:
            yield n, None, f"not valid {encoding}"
            continue
        if n == 1:
            line = line.removeprefix("\ufeff")  # a UTF-8 byte order mark is not part of the first record
        if line.strip():
            yield n, line, None


def _records(stream: BinaryIO, encoding: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, record, error) per non-blank JSON line."""
    for n, line, err in _lines(stream, encoding):
        if err:
            yield n, None, err
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            yield n, None, f"broken JSON: {str(e).split(':')[0]}"
            continue
        if not isinstance(obj, dict):
            yield n, None, f"JSON line is a {type(obj).__name__}, expected an object"
            continue
        yield n, obj, None


class _Prefixed(io.RawIOBase):
    """A stream that first returns bytes already read from `rest` (a peek), then the rest of it."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(b), len(self.head))
            b[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _first_byte(stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first byte that is not whitespace or a UTF-8 BOM (b"" for none), and a stream still at the start."""
    head = b""
    while True:
        chunk = stream.read(1 << 16)
        head += chunk
        first = head.lstrip(b" \t\r\n").removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1]
        if first or not chunk:
            return first, io.BufferedReader(_Prefixed(head, stream), buffer_size=1 << 16)


ARRAY_CHUNK = 1 << 20  # characters decoded per read of a JSON array file


def _array_records(stream: BinaryIO, encoding: str, chunk: int | None = None
                   ) -> Iterator[tuple[int | None, dict | None, str | None]]:
    """(array index + 1, record, error) per element of a file holding one JSON array, read as a stream.

    Memory holds one read chunk plus the element being parsed. An element that is not an object is
    quarantined on its own; broken JSON or undecodable bytes end the file there (an array cannot
    be resynchronised), keeping every element before it."""
    chunk = chunk or ARRAY_CHUNK
    decoder = codecs.getincrementaldecoder(encoding)()
    scanner = json.JSONDecoder()
    buf, pos, eof, undecodable = "", 0, False, False

    def more() -> bool:
        """Read the next chunk into the buffer (dropping what is parsed); False once nothing more came."""
        nonlocal buf, pos, eof, undecodable
        text = ""
        while not text and not eof:  # a chunk can end inside a multi-byte character and decode to nothing
            raw = stream.read(chunk)
            eof = not raw
            try:
                text = decoder.decode(raw, final=eof)
            except UnicodeDecodeError as e:  # keep the text before the bad bytes, then stop reading
                # e.start counts from the bytes the decoder still held from the last chunk (not consumed on error)
                text = (decoder.getstate()[0] + raw)[: e.start].decode(encoding, errors="ignore")
                eof = undecodable = True
        buf = buf[pos:] + text
        pos = 0
        return bool(text)

    def skip_space() -> str:
        """The next non-space character (not consumed), or "" at end of file."""
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n\ufeff":
                pos += 1
            if pos < len(buf):
                return buf[pos]
            if not more():
                return ""

    def broken(n: int, why: str) -> tuple[int | None, None, str]:
        if undecodable:  # the text stopped at bytes that do not decode: say so, not what it looks like
            return n, None, f"not valid {encoding}; rest of the file skipped"
        return (None if why.startswith("JSON array is not closed") else n), None, why

    n = 0
    if skip_space() != "[":
        yield broken(1, "not a JSON array")
        return
    pos += 1
    expect_item = True
    while True:
        ch = skip_space()
        if ch == "":
            yield broken(n + 1, f"JSON array is not closed after {n} element(s) (truncated file?)")
            return
        if ch == "]":
            pos += 1
            if skip_space() or undecodable:
                yield None, None, "data after the end of the JSON array"
            return
        if not expect_item:
            if ch != ",":
                yield broken(n + 1, f"broken JSON: expecting ',' or ']' after element {n}; rest of the file skipped")
                return
            pos += 1
            expect_item = True
            continue
        while True:
            try:
                obj, end = scanner.raw_decode(buf, pos)
            except json.JSONDecodeError as e:
                if more():
                    continue  # the element runs past the buffer
                yield broken(n + 1, f"broken JSON: {e.msg}; rest of the file skipped")
                return
            if end == len(buf) and more():
                continue  # a number at the buffer's end may go on: parse again with the next chunk
            break
        pos = end
        n += 1
        expect_item = False
        if isinstance(obj, dict):
            yield n, obj, None
        else:
            yield n, None, f"JSON array element is a {type(obj).__name__}, expected an object"


def _field(source: Source, name: str) -> str:
    return source.fields.get(name, name)


def _get(obj: dict, key: str, required: bool = True) -> Any:
    if key not in obj or obj[key] is None:
        if required:
            raise BadRow(f"missing field '{key}'")
        return None
    return obj[key]


def _read_text(c: _Collector, stream: BinaryIO) -> str:
    try:
        text = stream.read().decode(c.source.encoding)
    except UnicodeDecodeError as e:
        c.quarantine(None, f"not valid {c.source.encoding} (byte {e.start})")
        return "documents"
    if text.strip():
        _document(c, text)
    return "documents"


def _read_text_lines(c: _Collector, stream: BinaryIO) -> str:
    for n, line, err in _lines(stream, c.source.encoding):
        if err:
            c.quarantine(n, err)
        else:
            _document(c, line)
    return "documents"


def _each_record(c: _Collector, stream: BinaryIO, make: Callable[[_Collector, dict], None]) -> None:
    records = _records
    if _strip_compression(c.uri).lower().endswith(".json"):
        first, stream = _first_byte(stream)
        if first == b"[":
            records = _array_records
    for n, obj, err in records(stream, c.source.encoding):
        if err:
            c.quarantine(n, err)
            continue
        c.row = n
        try:
            make(c, obj)
        except BadRow as e:
            c.quarantine(n, str(e))


def _read_jsonl(c: _Collector, stream: BinaryIO) -> str:
    key = _field(c.source, "text")
    _each_record(c, stream, lambda c, obj: _document(c, _get(obj, key)))
    return "documents"


def _read_table(c: _Collector, frame: pl.DataFrame) -> str:
    if c.source.table == "pairs":
        return _read_table_pairs(c, frame)
    key = _field(c.source, "text")
    if key not in frame.columns:
        c.quarantine(None, f"wrong columns: no column '{key}' (has: {', '.join(frame.columns[:10])})")
        return "documents"
    for n, value in enumerate(frame.get_column(key).to_list(), start=1):
        if value is None or (isinstance(value, str) and not value.strip()):
            c.quarantine(n, f"empty '{key}'")
            continue
        try:
            _document(c, value)
        except BadRow as e:
            c.quarantine(n, str(e))
    return "documents"


def _read_csv(c: _Collector, stream: BinaryIO) -> str:
    try:
        frame = pl.read_csv(io.BytesIO(stream.read()), infer_schema=False, encoding="utf8")
    except Exception as e:  # polars raises ComputeError/NoDataError with a message worth keeping
        c.quarantine(None, f"cannot parse CSV: {str(e).splitlines()[0][:200]}")
        return c.source.table
    return _read_table(c, frame)


def _read_parquet(c: _Collector, stream: BinaryIO) -> str:
    try:
        frame = pl.read_parquet(io.BytesIO(stream.read()))
    except Exception as e:
        c.quarantine(None, f"cannot parse Parquet: {str(e).splitlines()[0][:200]}")
        return c.source.table
    return _read_table(c, frame)


# ---- pairs -------------------------------------------------------------------------------------


def _text(value: Any, what: str) -> str:
    """A message content: a string, or OpenAI's list of {type: text, text} parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        return "".join(p.get("text", "") for p in value if p.get("type", "text") == "text")
    raise BadRow(f"{what} is {type(value).__name__}, expected a string")


def _pair(c: _Collector, messages: list[dict], context: str | None = None, task: str | None = None) -> None:
    """Append a pair from its turns; prompt/response are the last user turn and the final assistant turn.

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
    pair_id = stable_id(c.source.name, turns) if context is None else stable_id(c.source.name, turns, context)
    c.add(
        {"id": pair_id, "doc_id": pair_id, "prompt": users[-1]["content"], "response": messages[-1]["content"],
         "messages": messages, "system": systems[0] if systems else None, "context": context, "task": task,
         "source": c.source.name,
         "uri": c.uri, "license": c.source.license, "lang": c.lang, "origin": c.source.origin}
    )


def _optional_text(obj: dict, key: str) -> str | None:
    """An optional string field; None when missing, null or blank."""
    value = _get(obj, key, required=False)
    if value is None:
        return None
    value = _text(value, key)
    return value if value.strip() else None


def _instruction(obj: dict, key: str) -> str:
    value = _text(_get(obj, key), key)
    if not value.strip():
        raise BadRow(f"empty '{key}'")
    return value


def _with_input(instruction: str, extra: str | None) -> str:
    """Alpaca-style prompt: the instruction, then a blank line and the input when there is one."""
    return f"{instruction}\n\n{extra}" if extra else instruction


def _alpaca(c: _Collector, obj: dict) -> None:
    instruction = _text(_get(obj, _field(c.source, "instruction")), "instruction")
    extra = _get(obj, _field(c.source, "input"), required=False)
    output = _text(_get(obj, _field(c.source, "output")), "output")
    prompt = _with_input(instruction, _text(extra, "input") if extra else None)
    _pair(c, [{"role": "user", "content": prompt}, {"role": "assistant", "content": output}])


def _openai(c: _Collector, obj: dict) -> None:
    raw = _get(obj, _field(c.source, "messages"))
    if not isinstance(raw, list):
        raise BadRow("messages is not a list")
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise BadRow(f"messages[{i}]: role must be one of {sorted(ROLES)}")
        messages.append({"role": m["role"], "content": _text(m.get("content") or "", f"messages[{i}].content")})
    _pair(c, messages)


def _dolly(c: _Collector, obj: dict) -> None:
    """databricks-dolly-15k: instruction, context (optional), response, category."""
    instruction = _instruction(obj, _field(c.source, "instruction"))
    context = _optional_text(obj, _field(c.source, "context"))
    response = _text(_get(obj, _field(c.source, "response")), "response")
    category = _optional_text(obj, _field(c.source, "category"))
    _pair(c, [{"role": "user", "content": _with_input(instruction, context)},
              {"role": "assistant", "content": response}], context=context, task=category)


def _sharegpt(c: _Collector, obj: dict) -> None:
    """ShareGPT: `conversations: [{from, value}]`, multi-turn; an optional top-level `system` string."""
    raw = _get(obj, _field(c.source, "conversations"))
    if not isinstance(raw, list):
        raise BadRow("conversations is not a list")
    messages = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise BadRow(f"conversations[{i}] is a {type(m).__name__}, expected an object")
        who = m.get("from")
        role = SHAREGPT_ROLES.get(who.lower()) if isinstance(who, str) else None
        if role is None:
            raise BadRow(f"conversations[{i}]: unknown from {who!r}; expected one of {sorted(SHAREGPT_ROLES)}")
        messages.append({"role": role, "content": _text(m.get("value") or "", f"conversations[{i}].value")})
    system = _optional_text(obj, _field(c.source, "system"))
    if system and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system})
    _pair(c, messages)


def _self_instruct(c: _Collector, obj: dict) -> None:
    """Self-Instruct seed tasks: an instruction and its instances [{input, output}]; one pair per instance.

    A bad instance is quarantined on its own (the record's row, its index in the reason); the
    record's other instances are kept."""
    instruction = _instruction(obj, _field(c.source, "instruction"))
    instances = _get(obj, _field(c.source, "instances"), required=False)
    if not isinstance(instances, list) or not instances:
        raise BadRow("no instances" if not instances else "instances is not a list")
    task = "classification" if obj.get("is_classification") is True else None
    for i, inst in enumerate(instances):
        try:
            if not isinstance(inst, dict):
                raise BadRow(f"is a {type(inst).__name__}, expected an object")
            extra = _optional_text(inst, "input")
            output = _text(_get(inst, "output"), "output")
            if not output.strip():
                raise BadRow("empty output")
            _pair(c, [{"role": "user", "content": _with_input(instruction, extra)},
                      {"role": "assistant", "content": output}], task=task)
        except BadRow as e:
            c.quarantine(c.row, f"instances[{i}]: {e}")


def _read_table_pairs(c: _Collector, frame: pl.DataFrame) -> str:
    """CSV/Parquet rows -> pairs through `fields` (prompt, response; optional system, context)."""
    mapping = {k: c.source.fields[k] for k in ("prompt", "response", "system", "context") if k in c.source.fields}
    missing = [col for col in mapping.values() if col not in frame.columns]
    if missing:
        c.quarantine(None, f"wrong columns: no column {', '.join(repr(m) for m in missing)} "
                           f"(has: {', '.join(frame.columns[:10])})")
        return "pairs"
    for n, row in enumerate(frame.select(list(dict.fromkeys(mapping.values()))).iter_rows(named=True), start=1):
        try:
            values = {}
            for key, col in mapping.items():
                value = row[col]
                values[key] = None if value is None else _text(value, f"'{col}'")
                if key in ("prompt", "response") and not (values[key] or "").strip():
                    raise BadRow(f"empty '{col}'")
            messages = [{"role": "user", "content": values["prompt"]},
                        {"role": "assistant", "content": values["response"]}]
            system, context = values.get("system"), values.get("context")
            if system and system.strip():
                messages.insert(0, {"role": "system", "content": system})
            _pair(c, messages, context=context if context and context.strip() else None)
        except BadRow as e:
            c.quarantine(n, str(e))
    return "pairs"


def _prompt_completion(c: _Collector, obj: dict) -> None:
    prompt = _text(_get(obj, _field(c.source, "prompt")), "prompt")
    completion = _text(_get(obj, _field(c.source, "completion")), "completion")
    _pair(c, [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}])


def _pairs_reader(make: Callable[[_Collector, dict], None]) -> Callable[[_Collector, BinaryIO], str]:
    def read(c: _Collector, stream: BinaryIO) -> str:
        _each_record(c, stream, make)
        return "pairs"

    return read


# ---- web pages, wiki dumps, PDFs (tasks/ingest/extract.py, tasks/ingest/wikipedia.py) ---------------------------


def _read_limited(c: _Collector, stream: BinaryIO, limit: int, what: str) -> bytes | None:
    """The whole file, or None (quarantined) when it is larger than `limit` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        c.quarantine(None, f"{what} larger than {limit >> 20} MB")
        return None
    return data


def _add_page(c: _Collector, row: int | None, page, uri: str | None = None,
              retrieved_at: datetime | None = None) -> None:
    if page is None:
        c.quarantine(row, "no main text found")
    else:
        _document(c, page.text, title=page.title, lang=page.lang, uri=uri, retrieved_at=retrieved_at)


def _read_html(c: _Collector, stream: BinaryIO) -> str:
    from pairforge.tasks.ingest.extract import MAX_PAGE_BYTES, extract_page

    data = _read_limited(c, stream, MAX_PAGE_BYTES, "page")
    if data is not None:
        _add_page(c, None, extract_page(data))
    return "documents"


def _url_lines(c: _Collector, stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number, URL) per line that is not blank or a # comment."""
    for n, line, err in _lines(stream, c.source.encoding):
        if err:
            c.quarantine(n, err)
        elif not line.lstrip().startswith("#"):
            yield n, line.strip()


def _read_url_list(c: _Collector, stream: BinaryIO) -> str:
    from pairforge.tasks.ingest.extract import FetchOptions, extract_page, fetch_pages

    for got in fetch_pages(_url_lines(c, stream), FetchOptions(**c.source.fetch.model_dump())):
        if got.error:
            c.quarantine(got.row, got.error)
        else:
            _add_page(c, got.row, extract_page(got.content, got.url, got.charset), got.url, got.fetched_at)
    return "documents"


def _read_wikipedia(c: _Collector, stream: BinaryIO) -> str:
    """Articles of a MediaWiki dump; redirects and other namespaces are skipped and counted in the log."""
    from xml.etree.ElementTree import ParseError

    from pairforge.tasks.ingest.extract import normalize_lang
    from pairforge.tasks.ingest.wikipedia import DumpStats, articles, log_stats, wikitext_to_text

    stats = DumpStats()
    try:
        for site, page in articles(stream, stats):
            try:
                text = wikitext_to_text(page.text, site)
            except Exception as e:  # the parser's own errors on pathological wikitext
                c.quarantine(stats.pages, f"cannot parse wikitext ({type(e).__name__})")
                continue
            if not text:
                stats.empty += 1
                c.quarantine(stats.pages, "no text left after removing wiki markup")
                continue
            _document(c, text, title=page.title, lang=normalize_lang(site.lang), uri=page.uri)
    except ParseError as e:
        c.quarantine(None, f"broken XML at line {e.position[0]} (after page {stats.pages}); rest of the file skipped")
    log_stats(c.uri, stats)
    return "documents"


def _read_pdf(c: _Collector, stream: BinaryIO) -> str:
    from pairforge.tasks.ingest.extract import MAX_PDF_BYTES, PdfError, pdf_text

    data = _read_limited(c, stream, MAX_PDF_BYTES, "PDF")
    if data is not None:
        try:
            got = pdf_text(data)
        except PdfError as e:
            c.quarantine(None, str(e))
        else:
            _document(c, got.text, title=got.title, lang=got.lang)
    return "documents"


READERS: dict[str, Callable[[_Collector, BinaryIO], str]] = {
    "text": _read_text,
    "text-lines": _read_text_lines,
    "jsonl": _read_jsonl,
    "csv": _read_csv,
    "parquet": _read_parquet,
    "alpaca": _pairs_reader(_alpaca),
    "dolly": _pairs_reader(_dolly),
    "sharegpt": _pairs_reader(_sharegpt),
    "openai": _pairs_reader(_openai),
    "prompt-completion": _pairs_reader(_prompt_completion),
    "self-instruct": _pairs_reader(_self_instruct),
    "html": _read_html,
    "url-list": _read_url_list,
    "wikipedia": _read_wikipedia,
    "pdf": _read_pdf,
}


def _open(uri: str) -> BinaryIO:
    stream = storage.open_read(uri)
    if uri.endswith(".gz"):
        return gzip.GzipFile(fileobj=stream)
    if uri.endswith(".bz2"):
        return bz2.BZ2File(stream)
    return stream


def stream_source_files(
    source: Source, uris: list[str], default_lang: str, chunk_rows: int, sink: Callable[[FileRows], None],
    limit: int | None = None,
) -> None:
    """Read files of a source as streams, handing `sink` chunks of at most `chunk_rows` rows.

    Chunks span files, so a folder of many small files still makes few, full shards. Line formats
    (text-lines, jsonl and the pair formats) never hold more than one chunk in memory.
    With `limit`, stops after that many rows (a sample for trial runs).
    Raises storage.StorageError only for transient I/O failures; anything else is quarantined."""
    c = _Collector(source, "", source.lang or default_lang, chunk_rows, sink, limit)
    for uri in uris:
        c.uri, c.retrieved_at = uri, datetime.now(UTC)
        try:
            with _open(uri) as stream:
                READERS[source.format](c, stream)
        except _Enough:
            break
        except (OSError, EOFError, zlib.error) as e:
            if isinstance(e, storage.StorageError) and e.transient:
                raise
            c.quarantine(None, f"cannot read file: {e}")
    c.flush()


def read_source_file(source: Source, uri: str, default_lang: str) -> FileRows:
    """Read a whole file into one FileRows (for small files and tests)."""
    chunks: list[FileRows] = []
    stream_source_files(source, [uri], default_lang, 1 << 62, chunks.append)
    if not chunks:
        return _Collector(source, uri, default_lang, 1, chunks.append).frames(source.table)
    return FileRows(source.table, pl.concat([c.rows for c in chunks]), pl.concat([c.quarantine for c in chunks]))


def batch_files(files: list[tuple[str, int]], max_bytes: int = 256 << 20, max_files: int = 1000) -> list[list[str]]:
    """Group a source's files into ingest batches: one task per big file, many small files per task."""
    batches: list[list[str]] = []
    size = 0
    for uri, n in files:
        if not batches or size + n > max_bytes or len(batches[-1]) >= max_files:
            batches.append([])
            size = 0
        batches[-1].append(uri)
        size += n
    return batches


@task(name="ingest", cache_policy=NO_CACHE, task_run_name="ingest-{source.name}-{index}", **RETRYING)
@resumable("ingest", lambda a: f"{a['source'].name}-{a['index']:05d}")
def ingest_files(source: Source, uris: list[str], index: int, default_lang: str, work_uri: str,
                 chunk_rows: int, limit: int | None = None) -> dict:
    """Stream a batch of files into work-area shards of at most `chunk_rows` rows; returns shards and counts."""
    base = f"{source.name}-{index:05d}"
    shards: list[Shard] = []
    bad: list[pl.DataFrame] = []

    def sink(chunk: FileRows) -> None:
        if len(chunk.rows):
            name = f"{base}-{len(shards):05d}"
            shards.append(write_stage(chunk.rows, work_uri, "ingest", Shard(chunk.table, name, "", 0)))
        if len(chunk.quarantine):
            bad.append(chunk.quarantine)

    stream_source_files(source, uris, default_lang, chunk_rows, sink, limit)
    quarantine = pl.concat(bad) if bad else pl.DataFrame(schema=QUARANTINE)
    quarantine_uri = None
    if len(quarantine):
        quarantine_uri = storage.join(work_uri, "quarantine", f"{base}.parquet")
        storage.write_parquet(quarantine, quarantine_uri)
    rows = sum(s.rows for s in shards)
    get_run_logger().info("%s: %d file(s) -> %d %s rows in %d shard(s), %d quarantined",
                          source.name, len(uris), rows, source.table, len(shards), len(quarantine))
    return {"source": source.name, "files": len(uris), "shards": shards, "rows": rows,
            "quarantine": dict(Counter(quarantine.get_column("reason").to_list())), "quarantine_uri": quarantine_uri}
