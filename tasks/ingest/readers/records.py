"""JSON records: JSON Lines, or a `.json` file whose first non-space byte is `[` read as one JSON array of
records (streamed element by element, rows numbered by array index + 1). `RecordReader` is the base of every
record format (the pair dialects in `pairs.py`); `jsonl` reads documents from a text field."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import BinaryIO, ClassVar

import orjson

from pairforge.tasks.ingest.readers.base import BadRow, Collector, Reader, get, mapped
from pairforge.tasks.ingest.readers.streams import first_byte, lines, strip_compression

ARRAY_CHUNK = 1 << 20  # characters decoded per read of a JSON array file


def json_lines(stream: BinaryIO, encoding: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, record, error) per non-blank JSON line."""
    for n, line, err in lines(stream, encoding):
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


def array_records(stream: BinaryIO, encoding: str, chunk: int | None = None
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


def each_record(c: Collector, stream: BinaryIO) -> Iterator[tuple[int | None, dict]]:
    """(row, record) per JSON record of the file; records that are not JSON objects are quarantined."""
    records = json_lines
    if strip_compression(c.uri).lower().endswith(".json"):
        first, stream = first_byte(stream)
        if first == b"[":
            records = array_records
    for n, obj, err in records(stream, c.source.encoding):
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
