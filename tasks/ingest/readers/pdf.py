"""`pdf`: one document per PDF (pypdf, through `tasks/ingest/extract.py`), `title` from its metadata."""

from __future__ import annotations

from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import BadFile, Collector, Reader
from pairforge.tasks.ingest.readers.streams import read_whole


class Pdf(Reader):
    name = "pdf"
    extensions = (".pdf",)

    def read(self, c: Collector, stream: BinaryIO) -> None:
        from pairforge.tasks.ingest.extract import MAX_PDF_BYTES, PdfError, pdf_text

        if c.limits.max_file_bytes < MAX_PDF_BYTES:
            data = read_whole(stream, c.limits.max_file_bytes, "PDF")
        else:
            data = read_whole(stream, MAX_PDF_BYTES, "PDF", setting=None)
        if not data:
            return  # an empty file (the caller says so)
        try:
            got = pdf_text(data)
        except PdfError as e:
            raise BadFile(str(e)) from None
        c.document(got.text, title=got.title, lang=got.lang)
