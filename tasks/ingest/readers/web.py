"""Web pages: `html` (one page per file) and `url-list` (a text file of URLs, fetched), both through
`tasks/ingest/extract.py` (main text without boilerplate, title, declared language)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import BadFile, BadRow, Collector, Reader
from pairforge.tasks.ingest.readers.streams import BOMS, decoded_lines, read_whole

UNICODE_BOMS = tuple(bom for bom, _ in BOMS)  # pages in UTF-16/32 have NUL bytes in every other character


def add_page(c: Collector, row: int | None, page, uri: str | None = None,
             retrieved_at: datetime | None = None) -> None:
    if page is None:
        c.quarantine(row, "no main text found")
        return
    try:
        c.document(page.text, title=page.title, lang=page.lang, uri=uri, retrieved_at=retrieved_at)
    except BadRow as e:
        c.quarantine(row, str(e))


class Html(Reader):
    name = "html"
    extensions = (".html", ".htm", ".xhtml")

    def read(self, c: Collector, stream: BinaryIO) -> None:
        from pairforge.tasks.ingest.extract import MAX_PAGE_BYTES, extract_page

        if c.limits.max_file_bytes < MAX_PAGE_BYTES:
            data = read_whole(stream, c.limits.max_file_bytes, "page")
        else:
            data = read_whole(stream, MAX_PAGE_BYTES, "page", setting=None)
        if not data.strip():
            return  # an empty or blank file (the caller says so)
        if b"\x00" in data and not data.startswith(UNICODE_BOMS):
            raise BadFile("binary data: NUL bytes")
        add_page(c, None, extract_page(data))


def url_lines(c: Collector, stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number, URL) per line that is not blank or a # comment."""
    for n, line, err in decoded_lines(c, stream):
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
            c.decoder = None  # the page's text comes from the page, in its own encoding (not recorded)
            if got.error:
                c.quarantine(got.row, got.error)
            else:
                add_page(c, got.row, extract_page(got.content, got.url, got.charset), got.url, got.fetched_at)
