"""`wikipedia`: MediaWiki XML dumps (`.xml`, `.xml.bz2`) through `tasks/ingest/wikipedia.py`, streamed."""

from __future__ import annotations

from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import Collector, Reader


class Wikipedia(Reader):
    """Articles of a MediaWiki dump; redirects and other namespaces are skipped and counted in the log."""

    name = "wikipedia"
    extensions = (".xml",)

    def read(self, c: Collector, stream: BinaryIO) -> None:
        from xml.etree.ElementTree import ParseError

        from pairforge.tasks.ingest.extract import normalize_lang
        from pairforge.tasks.ingest.wikipedia import DumpStats, articles, log_stats, wikitext_to_text

        stats = DumpStats()
        try:
            for site, page in articles(stream, stats):
                try:
                    text = wikitext_to_text(page.text, site)
                except Exception as e:  # the parser's own errors on pathological wikitext
                    c.quarantine(stats.pages, f"cannot parse wikitext ({type(e).__name__})")
                    continue
                if not text:
                    stats.empty += 1
                    c.quarantine(stats.pages, "no text left after removing wiki markup")
                    continue
                c.document(text, title=page.title, lang=normalize_lang(site.lang), uri=page.uri)
        except ParseError as e:
            c.quarantine(None, f"broken XML at line {e.position[0]} (after page {stats.pages}); "
                               "rest of the file skipped")
        log_stats(c.uri, stats)
