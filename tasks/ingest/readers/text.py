"""Plain text: `text` (one document per file) and `text-lines` (one document per non-blank line)."""

from __future__ import annotations

from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import BadFile, BadRow, Collector, Reader
from pairforge.tasks.ingest.readers.streams import decode_whole, decoded_lines, read_whole


class Text(Reader):
    name = "text"

    def read(self, c: Collector, stream: BinaryIO) -> None:
        # a document of max_document_chars characters takes at most 4 bytes a character (and a byte order mark)
        cap = 4 * c.limits.max_document_chars + 4
        if cap < c.limits.max_file_bytes:
            data = stream.read(cap + 1)
            if len(data) > cap:
                raise BadFile(f"text longer than {c.limits.max_document_chars:,} characters "
                              "(limits.max_document_chars)")
        else:
            data = read_whole(stream, c.limits.max_file_bytes)
        text = decode_whole(c, data)
        if text.strip():
            c.document(text)


class TextLines(Reader):
    name = "text-lines"

    def read(self, c: Collector, stream: BinaryIO) -> None:
        for n, line, err in decoded_lines(c, stream):
            if err:
                c.quarantine(n, err)
                continue
            try:
                c.document(line)
            except BadRow as e:
                c.quarantine(n, str(e))
