"""`wikipedia`: MediaWiki XML dumps (`.xml`, `.xml.bz2`) through `tasks/ingest/wikipedia.py`, streamed. A page
larger than `limits.max_record_bytes` of XML ends the file there (the parser holds a page whole)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import BadFile, BadRow, Collector, Reader
from pairforge.tasks.ingest.readers.streams import first_byte, size_text


class _PageBudget(io.RawIOBase):
    """The dump's bytes, stopped (BadFile) when more than `limit` bytes pass without a new page being read."""

    def __init__(self, raw: BinaryIO, limit: int, pages: Callable[[], int]):
        self.raw, self.limit, self.pages = raw, limit, pages
        self.since, self.seen = 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self.pages() != self.seen:
            self.seen, self.since = self.pages(), 0
        data = self.raw.read(min(len(b), 1 << 16))
        self.since += len(data)
        if self.since > self.limit:
            raise BadFile(f"wiki page larger than {size_text(self.limit)} of XML (limits.max_record_bytes); "
                          "rest of the file skipped", row=self.seen + 1)
        b[: len(data)] = data
        return len(data)


class Wikipedia(Reader):
    """Articles of a MediaWiki dump; redirects and other namespaces are skipped and counted in the log."""

    name = "wikipedia"
    extensions = (".xml",)

    def read(self, c: Collector, stream: BinaryIO) -> None:
        from xml.etree.ElementTree import ParseError

        from pairforge.tasks.ingest.extract import normalize_lang
        from pairforge.tasks.ingest.wikipedia import DumpStats, articles, log_stats, wikitext_to_text

        first, stream = first_byte(stream)
        if not first:
            return  # an empty or blank file (the caller says so)
        stats = DumpStats()
        # the budget covers a page plus what comes before the next one (siteinfo, the next page's start)
        budget = io.BufferedReader(_PageBudget(stream, 2 * c.limits.max_record_bytes, lambda: stats.pages))
        try:
            for site, page in articles(budget, stats):
                c.row = stats.pages
                try:
                    text = wikitext_to_text(page.text, site)
                except Exception as e:  # the parser's own errors on pathological wikitext
                    c.quarantine(stats.pages, f"cannot parse wikitext ({type(e).__name__})")
                    continue
                if not text:
                    stats.empty += 1
                    c.quarantine(stats.pages, "no text left after removing wiki markup")
                    continue
                try:
                    c.document(text, title=page.title, lang=normalize_lang(site.lang), uri=page.uri)
                except BadRow as e:
                    c.quarantine(stats.pages, str(e))
        except ParseError as e:
            c.quarantine(None, f"broken XML at line {e.position[0]} (after page {stats.pages}); "
                               "rest of the file skipped")
        finally:
            log_stats(c.uri, stats)
