"""JSON records: JSON Lines, or a `.json` file whose first non-space byte is `[` read as one JSON array of
records (streamed element by element, rows numbered by array index + 1). `RecordReader` is the base of every
record format (the pair dialects in `pairs.py`); `jsonl` reads documents from a text field.

A record nested deeper than `limits.max_depth`, or larger than `limits.max_record_bytes`, is quarantined (in an
array, with the rest of the file: an array cannot be resynchronised)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import orjson

from pairforge.tasks.ingest.readers.base import BadRow, Collector, Reader, get, mapped
from pairforge.tasks.ingest.readers.streams import decoded_lines, first_byte, size_text, strip_compression, text_stream

ARRAY_CHUNK = 1 << 20  # characters decoded per read of a JSON array file


def too_deep(obj: object, limit: int) -> bool:
    """Whether a parsed JSON value nests more than `limit` objects/arrays deep (without recursion)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in children if isinstance(v, dict | list))
    return False


def deep_reason(limit: int) -> str:
    return f"JSON nested deeper than {limit} levels (limits.max_depth)"


def json_lines(c: Collector, stream: BinaryIO) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, record, error) per non-blank JSON line."""
    depth = c.limits.max_depth
    for n, line, err in decoded_lines(c, stream):
        if err:
            yield n, None, err
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            kind = str(e).split(":")[0]  # orjson's messages: a fixed phrase, then the position
            too_deep_for_orjson = "depth" in kind or "recursion" in kind  # it stops at 1024 levels
            yield n, None, deep_reason(depth) if too_deep_for_orjson else f"broken JSON: {kind}"
            continue
        if not isinstance(obj, dict):
            yield n, None, f"JSON line is a {type(obj).__name__}, expected an object"
            continue
        # a line with no more brackets than the limit cannot nest deeper (the common case: no walk)
        if line.count("{") + line.count("[") > depth and too_deep(obj, depth):
            yield n, None, deep_reason(depth)
            continue
        yield n, obj, None


def array_records(stream: BinaryIO, encoding: str, chunk: int | None = None, *, max_depth: int = 100,
                  max_chars: int = 16 << 20) -> Iterator[tuple[int | None, dict | None, str | None]]:
    """(array index + 1, record, error) per element of a file holding one JSON array, read as a stream.

    Memory holds one read chunk plus the element being parsed (at most `max_chars` characters). An element
    that is not an object, or nests deeper than `max_depth`, is quarantined on its own; broken JSON,
    undecodable bytes or an element too large end the file there (an array cannot be resynchronised),
    keeping every element before it."""
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
                if len(buf) - pos > max_chars:
                    yield broken(n + 1, f"JSON array element larger than {size_text(max_chars)} "
                                        "(limits.max_record_bytes); rest of the file skipped")
                    return
                if more():
                    continue  # the element runs past the buffer
                yield broken(n + 1, f"broken JSON: {e.msg}; rest of the file skipped")
                return
            except RecursionError:  # deeper than the interpreter's recursion limit (max_depth is at most 1000)
                yield broken(n + 1, f"{deep_reason(max_depth)}; rest of the file skipped")
                return
            if end == len(buf) and more():
                continue  # a number at the buffer's end may go on: parse again with the next chunk
            break
        pos = end
        n += 1
        expect_item = False
        if not isinstance(obj, dict):
            yield n, None, f"JSON array element is a {type(obj).__name__}, expected an object"
        elif too_deep(obj, max_depth):
            yield n, None, deep_reason(max_depth)
        else:
            yield n, obj, None


def each_record(c: Collector, stream: BinaryIO) -> Iterator[tuple[int | None, dict]]:
    """(row, record) per JSON record of the file; records that are not JSON objects are quarantined."""
    if strip_compression(c.uri).lower().endswith(".json"):
        stream = text_stream(c, stream)
        first, stream = first_byte(stream)
        if first == b"[":
            lim = c.limits
            records = array_records(stream, c.decoder.stream_codec, max_depth=lim.max_depth,
                                    max_chars=lim.max_record_bytes)
        else:
            records = json_lines(c, stream)
    else:
        records = json_lines(c, stream)
    for n, obj, err in records:
        if err:
            c.quarantine(n, err)
        else:
            yield n, obj


class RecordReader(Reader):
    """A format of JSON records: `make` turns one record into rows (or raises BadRow)."""

    extensions: ClassVar[tuple[str, ...]] = (".jsonl", ".json")

    def make(self, c: Collector, obj: dict) -> None:
        raise NotImplementedError

    def read(self, c: Collector, stream: BinaryIO) -> None:
        for n, obj in each_record(c, stream):
            c.row = n
            try:
                self.make(c, obj)
            except BadRow as e:
                c.quarantine(n, str(e))


class Jsonl(RecordReader):
    """Documents from JSON records: field `text` (or `fields: {text: ...}`)."""

    name = "jsonl"
    extensions = (".jsonl", ".json", ".ndjson")

    def make(self, c: Collector, obj: dict) -> None:
        c.document(get(obj, mapped(c.source, "text")))
