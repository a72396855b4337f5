"""`pdf`: one document per PDF (pypdf, through `tasks/ingest/extract.py`), `title` from its metadata."""

from __future__ import annotations

from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import Collector, Reader, read_limited


class Pdf(Reader):
    name = "pdf"
    extensions = (".pdf",)

    def read(self, c: Collector, stream: BinaryIO) -> None:
        from pairforge.tasks.ingest.extract import MAX_PDF_BYTES, PdfError, pdf_text

        data = read_limited(c, stream, MAX_PDF_BYTES, "PDF")
        if data is not None:
            try:
                got = pdf_text(data)
            except PdfError as e:
                c.quarantine(None, str(e))
            else:
                c.document(got.text, title=got.title, lang=got.lang)
