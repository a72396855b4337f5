"""Plain text: `text` (one document per file) and `text-lines` (one document per non-blank line)."""

from __future__ import annotations

from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import Collector, Reader
from pairforge.tasks.ingest.readers.streams import lines


class Text(Reader):
    name = "text"

    def read(self, c: Collector, stream: BinaryIO) -> None:
        try:
            text = stream.read().decode(c.source.encoding)
        except UnicodeDecodeError as e:
            c.quarantine(None, f"not valid {c.source.encoding} (byte {e.start})")
            return
        if text.strip():
            c.document(text)


class TextLines(Reader):
    name = "text-lines"

    def read(self, c: Collector, stream: BinaryIO) -> None:
        for n, line, err in lines(stream, c.source.encoding):
            if err:
                c.quarantine(n, err)
            else:
                c.document(line)
