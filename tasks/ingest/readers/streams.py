"""Bytes in: opening a source file (local or S3, `.gz`/`.bz2` decompressed on the fly), lines as a stream, and
peeking at the start of a stream without losing it."""

from __future__ import annotations

import bz2
import gzip
import io
from collections.abc import Iterator
from typing import BinaryIO

from pairforge.tasks.core import storage

COMPRESSIONS = (".gz", ".bz2")


def strip_compression(uri: str) -> str:
    for ext in COMPRESSIONS:
        if uri.endswith(ext):
            return uri[: -len(ext)]
    return uri


def open_file(uri: str) -> BinaryIO:
    stream = storage.open_read(uri)
    if uri.endswith(".gz"):
        return gzip.GzipFile(fileobj=stream)
    if uri.endswith(".bz2"):
        return bz2.BZ2File(stream)
    return stream


def lines(stream: BinaryIO, encoding: str) -> Iterator[tuple[int, str | None, str | None]]:
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


class Prefixed(io.RawIOBase):
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


def first_byte(stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first byte that is not whitespace or a UTF-8 BOM (b"" for none), and a stream still at the start."""
    head = b""
    while True:
        chunk = stream.read(1 << 16)
        head += chunk
        first = head.lstrip(b" \t\r\n").removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1]
        if first or not chunk:
            return first, io.BufferedReader(Prefixed(head, stream), buffer_size=1 << 16)
