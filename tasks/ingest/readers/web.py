"""Web pages: `html` (one page per file) and `url-list` (a text file of URLs, fetched), both through
`tasks/ingest/extract.py` (main text without boilerplate, title, declared language)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import Collector, Reader, read_limited
from pairforge.tasks.ingest.readers.streams import lines


def add_page(c: Collector, row: int | None, page, uri: str | None = None,
             retrieved_at: datetime | None = None) -> None:
    if page is None:
        c.quarantine(row, "no main text found")
    else:
        c.document(page.text, title=page.title, lang=page.lang, uri=uri, retrieved_at=retrieved_at)


class Html(Reader):
    name = "html"
    extensions = (".html", ".htm", ".xhtml")

    def read(self, c: Collector, stream: BinaryIO) -> None:
        from pairforge.tasks.ingest.extract import MAX_PAGE_BYTES, extract_page

        data = read_limited(c, stream, MAX_PAGE_BYTES, "page")
        if data is not None:
            add_page(c, None, extract_page(data))


def url_lines(c: Collector, stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number, URL) per line that is not blank or a # comment."""
    for n, line, err in lines(stream, c.source.encoding):
        if err:
            c.quarantine(n, err)
        elif not line.lstrip().startswith("#"):
            yield n, line.strip()


class UrlList(Reader):
    name = "url-list"
    extensions = (".txt", ".urls", ".lst")

    def read(self, c: Collector, stream: BinaryIO) -> None:
        from pairforge.tasks.ingest.extract import FetchOptions, extract_page, fetch_pages

        for got in fetch_pages(url_lines(c, stream), FetchOptions(**c.source.fetch.model_dump())):
            if got.error:
                c.quarantine(got.row, got.error)
            else:
                add_page(c, got.row, extract_page(got.content, got.url, got.charset), got.url, got.fetched_at)
