"""Document text from web pages and PDFs: main-text extraction, page fetching, PDF text.

`extract_page` decodes a page (byte order mark, valid UTF-8, the HTTP or `<meta>` charset, then
detection), keeps its main text with trafilatura (offline) minus link-heavy blocks, and reads its
title and declared language. `fetch_pages` downloads URL lists with a few threads, in input order,
with retries on timeouts, connection errors, 429 and 5xx, and keeps to each site's robots.txt
(RFC 9309: its rules for pairforge's user agent, and its Crawl-delay). `pdf_text` reads a PDF with pypdf.
Bad input never raises anything else than PdfError: a page without main text is None, a failed fetch
carries an error string, an unusable PDF raises PdfError; each names what was wrong (the quarantine reason).
"""

from __future__ import annotations

import codecs
import functools
import io
import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pairforge.tasks.core.schema import pipeline_version

if TYPE_CHECKING:
    from protego import Protego

MAX_PAGE_BYTES = 20 << 20  # trafilatura's own default cap
MAX_PDF_BYTES = 200 << 20
MAX_ROBOTS_BYTES = 512 << 10  # RFC 9309 asks crawlers to read at least 500 KiB
# A paragraph, heading or list item whose text is mostly link text is navigation or a "related articles"
# teaser. On the shared gold pages 0.3-0.5 remove the same boilerplate; above 0.5 less (tests/test_extract.py).
MAX_LINK_DENSITY = 0.5
# trafilatura settings chosen by measuring on /work/shared/corpora/html (with / without snippets):
# favor_precision keeps fewer boilerplate lines at a small cost in recall; tables stay (data tables are content).
TRAFILATURA_OPTIONS = dict(include_comments=False, include_tables=True, favor_precision=True, include_links=True)
HTML_TYPES = ("text/html", "application/xhtml+xml")
_BLOCKS = ("p", "head", "item")  # not table cells: linked cells are data (measured: cells cost recall)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_WHITESPACE = re.compile(r"\s+")
_HTML_LANG = re.compile(r"""<html\b[^>]*?\blang\s*=\s*["']?\s*([A-Za-z_-]+)""", re.I)
_LANG_CODE = re.compile(r"[A-Za-z]{2,3}(?=$|[-_])")


@functools.cache
def _quiet_trafilatura() -> None:
    # its warnings quote page content (link targets, text fragments): keep page data out of the run log
    logging.getLogger("trafilatura").setLevel(logging.ERROR)


def user_agent() -> str:
    return f"pairforge/{pipeline_version()}"


# ---- HTML --------------------------------------------------------------------------------------


@dataclass
class Page:
    text: str
    title: str | None
    lang: str | None  # ISO 639-1 code the page declares, if any


def _codec(label: str | bytes | None) -> str | None:
    """A Python codec for a charset label; latin-1 and ASCII labels mean windows-1252, as browsers read them."""
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def decode_html(data: bytes, declared: str | None = None) -> str:
    """Text of a page: BOM, else UTF-8 when the bytes are valid UTF-8, else the declared (HTTP, then `<meta>`)
    charset, else detection; undecodable bytes become U+FFFD."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(data[:16384])
    for codec in (_codec(declared), _codec(meta.group(1) if meta else None)):
        if codec and not codec.startswith("utf"):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                continue
    from trafilatura.utils import decode_file

    return decode_file(data)  # charset detection, then UTF-8 with replacement characters


def normalize_lang(code: str | None) -> str | None:
    """`en-US`, `de_DE`, `EN` -> `en`; ISO 639-2/3 codes (`deu`) -> their 639-1 code; None when unknown."""
    if not code:
        return None
    m = _LANG_CODE.match(code.strip())
    if not m:
        return None
    primary = m.group().lower()
    if len(primary) == 2:
        return primary
    try:
        from lingua import IsoCode639_3, Language

        return Language.from_iso_code_639_3(IsoCode639_3.from_str(primary)).iso_code_639_1.name.lower()
    except (ImportError, ValueError):
        return None


def page_language(tree, html: str = "") -> str | None:
    """The language a page declares: `<html lang>`, else `<meta http-equiv=content-language>`, else og:locale."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    if not any(candidates) and (m := _HTML_LANG.search(html[:65536])):
        candidates.append(m.group(1))  # lxml drops <html>'s attributes when tags come before it
    candidates += tree.xpath("//meta[translate(@http-equiv, 'CONTENT-LANGUAGE', 'content-language')"
                             "='content-language']/@content")
    candidates += tree.xpath("//meta[@property='og:locale']/@content")
    for code in candidates:
        if lang := normalize_lang(code):
            return lang
    return None


def page_title(tree) -> str | None:
    """trafilatura's title (a single <h1>, title meta tags, <title>), else the <title> element."""
    try:
        from trafilatura.metadata import extract_title

        title = extract_title(tree)
    except Exception:  # an internal of trafilatura: fall back rather than lose the page
        title = None
    if not title:
        title = " ".join(tree.xpath("string(//title)").split())
    title = _WHITESPACE.sub(" ", title or "").strip()
    return title or None


def _text_of(elem) -> str:
    return _WHITESPACE.sub(" ", "".join(elem.itertext())).strip()


def _link_heavy(elem) -> bool:
    text = _text_of(elem)
    return bool(text) and sum(len(_text_of(ref)) for ref in elem.iter("ref")) / len(text) > MAX_LINK_DENSITY


def _drop_link_blocks(body) -> bool:
    """Remove paragraphs, headings and list items that are mostly link text; False when what is left is
    still mostly link text (a menu or an index page, not an article)."""
    for elem in list(body.iter(*_BLOCKS)):
        parent = elem.getparent()
        if parent is None:
            continue
        if _link_heavy(elem):
            if elem.tail and elem.tail.strip():  # keep text that follows the block
                previous = elem.getprevious()
                if previous is not None:
                    previous.tail = (previous.tail or "") + elem.tail
                else:
                    parent.text = (parent.text or "") + elem.tail
            parent.remove(elem)
    return not _link_heavy(body)


def extract_page(data: bytes | str, url: str | None = None, declared_charset: str | None = None) -> Page | None:
    """Main text, title and declared language of an HTML page; None when it has no main text."""
    import trafilatura
    from lxml import etree
    from trafilatura.utils import load_html
    from trafilatura.xml import xmltotxt

    _quiet_trafilatura()
    html = data if isinstance(data, str) else decode_html(data, declared_charset)
    if not html.strip():
        return None
    try:
        tree = load_html(html)
        if tree is None:
            return None
        title, lang = page_title(tree), page_language(tree, html)
        doc = trafilatura.bare_extraction(tree, url=url, **TRAFILATURA_OPTIONS)
    except (ValueError, etree.LxmlError):  # lxml refuses some inputs (e.g. control characters only)
        return None
    if doc is None or doc.body is None or not _drop_link_blocks(doc.body):
        return None
    etree.strip_tags(doc.body, "ref")  # link markup: keep the words, drop the targets
    text = (xmltotxt(doc.body, include_formatting=False) or "").strip()
    text = "\n".join(line.strip() for line in text.splitlines())
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return Page(text, title, lang) if text else None


# ---- fetching ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchOptions:
    timeout_s: float = 20.0  # per connect / read, and for the whole body
    max_bytes: int = MAX_PAGE_BYTES
    workers: int = 4
    attempts: int = 3
    backoff_s: float = 1.0  # first wait; doubles per attempt (with jitter), Retry-After is honoured
    max_backoff_s: float = 30.0
    respect_robots: bool = True


@dataclass
class Fetched:
    row: int  # line number in the URL list
    url: str
    fetched_at: datetime
    content: bytes | None = None
    charset: str | None = None  # from the Content-Type header
    error: str | None = None  # why the page is missing (the quarantine reason)


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.wait = reason, wait


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n} bytes"


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _download(client, url: str, o: FetchOptions, types: tuple[str, ...] | None = HTML_TYPES,
              max_bytes: int | None = None) -> tuple[bytes, str | None]:
    """(body, charset) of one GET; raises _Retry for what is worth another attempt, ValueError for the rest
    (a body whose media type is not in `types`, unless that is None)."""
    import httpx

    max_bytes = max_bytes or o.max_bytes
    deadline = time.monotonic() + o.timeout_s * 3  # a server that trickles bytes must still end
    try:
        with client.stream("GET", url) as r:
            if r.status_code == 429 or r.status_code >= 500:
                raise _Retry(f"HTTP {r.status_code}", _retry_after(r.headers.get("retry-after")))
            if r.status_code >= 400:
                raise ValueError(f"HTTP {r.status_code}")
            mime = r.headers.get("content-type", "").split(";")[0].strip().lower()
            if types and mime and mime not in types:
                raise ValueError(f"not HTML ({mime})")
            too_big = f"page larger than {_size(max_bytes)}"
            if int(r.headers.get("content-length") or 0) > max_bytes:
                raise ValueError(too_big)
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise ValueError(too_big)
                if time.monotonic() > deadline:
                    raise _Retry("timeout")
            return bytes(body), r.charset_encoding
    except httpx.TimeoutException:
        raise _Retry("timeout") from None
    except httpx.TooManyRedirects:
        raise ValueError("too many redirects") from None
    except httpx.UnsupportedProtocol:
        raise ValueError("redirected to a URL that is not http(s)") from None
    except (httpx.TransportError, httpx.DecodingError) as e:
        raise _Retry("connection failed" if isinstance(e, httpx.TransportError) else "broken response") from None


def _get(client, url: str, o: FetchOptions, **download) -> tuple[bytes, str | None]:
    """`_download` with retries and backoff; raises ValueError with the reason when it fails for good."""
    reason = ""
    for attempt in range(1, o.attempts + 1):
        try:
            return _download(client, url, o, **download)
        except _Retry as e:
            reason = e.reason
            if attempt < o.attempts:
                wait = min(o.max_backoff_s, o.backoff_s * 2 ** (attempt - 1)) * (1 + random.random() / 4)
                time.sleep(min(o.max_backoff_s, e.wait) if e.wait is not None else wait)
    raise ValueError(f"{reason} after {o.attempts} attempt{'s' if o.attempts > 1 else ''}")


class _Site:
    def __init__(self):
        self.lock = threading.Lock()  # held while robots.txt loads and while a Crawl-delay is waited out
        self.rules: Protego | str | None = None  # a string: why nothing on the site may be fetched
        self.next_request = 0.0


class _Robots:
    """Each site's robots.txt (RFC 9309), fetched once per scheme and host and shared by the fetch threads:
    a 4xx answer allows everything; a site whose robots.txt cannot be read (5xx, timeouts) is not crawled.
    A Crawl-delay spaces the requests to its site (capped at `max_backoff_s`)."""

    def __init__(self, client, o: FetchOptions):
        self.client, self.o, self.agent = client, o, user_agent()
        self.sites: dict[str, _Site] = {}
        self.lock = threading.Lock()

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be fetched now, or None after waiting out the site's Crawl-delay."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        with self.lock:
            site = self.sites.setdefault(origin, _Site())
        with site.lock:
            if site.rules is None:
                site.rules = self._load(origin)
            if isinstance(site.rules, str):
                return site.rules
            if not site.rules.can_fetch(url, self.agent):
                return "disallowed by robots.txt"
            delay = site.rules.crawl_delay(self.agent)
            if delay:
                time.sleep(max(0.0, site.next_request - time.monotonic()))
                site.next_request = time.monotonic() + min(float(delay), self.o.max_backoff_s)
        return None

    def _load(self, origin: str) -> Protego | str:
        from protego import Protego

        try:
            body, charset = _get(self.client, origin + "/robots.txt", self.o, types=None, max_bytes=MAX_ROBOTS_BYTES)
        except ValueError as e:
            if str(e).startswith("HTTP 4"):  # no robots.txt (or not for us to read): no rules
                return Protego.parse("")
            return f"robots.txt unavailable ({e})"
        return Protego.parse(body.decode(charset or "utf-8", errors="replace"))


class _Refused(Exception):
    """Raised by the request hook: robots.txt keeps the request's URL (maybe a redirect's target) out."""


def _fetch_one(client, row: int, url: str, o: FetchOptions) -> Fetched:
    if not re.match(r"https?://[^/\s]+", url, re.I):
        return Fetched(row, url, datetime.now(UTC), error="not an http(s) URL")
    try:
        content, charset = _get(client, url, o)
        return Fetched(row, url, datetime.now(UTC), content, charset)
    except (ValueError, _Refused) as e:
        return Fetched(row, url, datetime.now(UTC), error=str(e))


def fetch_pages(urls: Iterable[tuple[int, str]], options: FetchOptions | None = None) -> Iterator[Fetched]:
    """Fetch (row, url) pairs with `options.workers` threads; results come in input order, and at most
    2 x workers pages are held at once. A page that fails for good, or that the site's robots.txt
    disallows, comes back with `error` set."""
    import httpx

    o = options or FetchOptions()
    headers = {"User-Agent": user_agent(), "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"}
    window: deque[Future] = deque()
    with (
        httpx.Client(headers=headers, timeout=o.timeout_s, follow_redirects=True, max_redirects=5) as client,
        ThreadPoolExecutor(o.workers, thread_name_prefix="fetch") as pool,
    ):
        if o.respect_robots:
            robots = _Robots(client, o)

            def keep_to_robots(request) -> None:  # every request, the targets of redirects included
                if request.url.path != "/robots.txt" and (refusal := robots.refusal(str(request.url))):
                    raise _Refused(refusal)

            client.event_hooks = {"request": [keep_to_robots]}
        try:
            for row, url in urls:
                window.append(pool.submit(_fetch_one, client, row, url, o))
                if len(window) >= 2 * o.workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:  # the reader stopped early (a sample limit): do not start the rest
            for future in window:
                future.cancel()


# ---- PDF ---------------------------------------------------------------------------------------


class PdfError(ValueError):
    """A PDF without usable text; the message is the quarantine reason."""


@dataclass
class PdfText:
    text: str
    title: str | None
    lang: str | None


def pdf_text(data: bytes) -> PdfText:
    """Text of every page (pages separated by a blank line), the metadata title and the /Lang of a PDF."""
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise PdfError("encrypted PDF")
        pages = list(reader.pages)
    except PdfError:
        raise
    except Exception as e:  # pypdf raises many types for broken files
        raise PdfError(f"unreadable PDF ({type(e).__name__})") from None
    texts, failed = [], 0
    for page in pages:
        try:
            texts.append((page.extract_text() or "").strip())
        except Exception:  # one broken page (bad font, stream) should not lose the others
            failed += 1
    text = "\n\n".join(t for t in texts if t)
    if not text:
        raise PdfError(f"unreadable PDF ({failed} of {len(pages)} pages failed)" if failed
                       else "no text in PDF (scanned images?)")
    try:
        title = reader.metadata.title if reader.metadata else None
        lang = reader.trailer["/Root"].get("/Lang")
    except Exception:
        title, lang = None, None
    title = _WHITESPACE.sub(" ", str(title)).strip() if title else None
    return PdfText(text, title or None, normalize_lang(str(lang)) if lang else None)
