"""tasks.ingest.extract through the real readers: HTML pages (gold snippets of trafilatura's test set), URL lists
fetched from a loopback server, and PDFs built here."""

from __future__ import annotations

import gzip
import io
import json
import re
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler

import polars as pl
import pytest

from pairforge.tasks.core.recipe import Source
from pairforge.tasks.core.schema import DOCUMENTS
from pairforge.tasks.ingest.extract import (
    FetchOptions,
    decode_html,
    extract_page,
    fetch_pages,
    normalize_lang,
    pdf_text,
)
from pairforge.tasks.ingest.sources import read_source_file, resolve_source_files, stream_source_files
from tests.conftest import CORPORA, LoopbackHTTP

HTML = CORPORA / "html"
PAGES = HTML / "pages"


def src(uri, fmt, **kw) -> Source:
    return Source(name=kw.pop("name", "web"), uri=str(uri), format=fmt, license=kw.pop("license", "CC-BY-4.0"), **kw)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---- html: acceptance figures on the gold pages -------------------------------------------------


@pytest.fixture(scope="module")
def html_rows() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every shared page read like ingest does: the folder resolved, all files streamed in chunks."""
    source = src(PAGES, "html")
    uris = [u for u, _ in resolve_source_files(source)]
    chunks = []
    stream_source_files(source, uris, "en", 20, chunks.append)
    return pl.concat([c.rows for c in chunks]), pl.concat([c.quarantine for c in chunks])


def test_html_gold_snippets(html_rows):
    rows, bad = html_rows
    gold = json.loads((HTML / "evaldata.json").read_text(encoding="utf-8"))
    texts = {uri.rsplit("/", 1)[-1]: squash(text) for uri, text in rows.select("uri", "text").iter_rows()}
    assert len(texts) == len(gold) == 50 and bad.is_empty()
    with_found = with_total = without_found = without_total = 0
    for page in gold.values():
        text = texts[page["file"]]
        with_found += sum(squash(s) in text for s in page["with"])
        with_total += len(page["with"])
        without_found += sum(squash(s) in text for s in page["without"])
        without_total += len(page["without"])
    print(f"\nmain-text snippets kept: {with_found}/{with_total} = {with_found / with_total:.3f}; "
          f"boilerplate snippets left: {without_found}/{without_total} = {without_found / without_total:.3f}")
    assert with_found / with_total >= 0.90
    assert without_found / without_total <= 0.10


def test_html_rows_have_titles_declared_languages_and_provenance(html_rows):
    rows, _ = html_rows
    assert rows.schema == DOCUMENTS
    manifest = {m["file"].rsplit("/", 1)[-1]: m for m in json.loads((HTML / "manifest.json").read_text())}
    files = rows["uri"].str.split("/").list.last()
    assert rows["title"].is_not_null().sum() >= 45
    gold = json.loads((HTML / "evaldata.json").read_text(encoding="utf-8"))
    gold_titles = {p["file"]: p["title"] for p in gold.values() if p.get("title")}
    same_title = sum(gold_titles.get(f) == t for f, t in zip(files, rows["title"], strict=True))
    print(f"\ntitles set: {rows['title'].is_not_null().sum()}/50; "
          f"equal to the gold title: {same_title}/{len(gold_titles)}")
    assert same_title >= len(gold_titles) // 2
    # the manifest's lang is the first <html lang> in the file; two pages declare another one that applies
    same_lang = sum(manifest[f]["lang"] == lang for f, lang in zip(files, rows["lang"], strict=True))
    assert same_lang >= 47
    assert set(rows["lang"]) == {"en", "de", "fr", "es"}
    assert all(u.startswith(str(PAGES)) for u in rows["uri"])
    assert rows["retrieved_at"].null_count() == 0 and rows["pipeline_version"].null_count() == 0
    assert rows["id"].n_unique() == 50


def test_html_gz_page_and_page_without_main_text(tmp_path):
    page = (PAGES / "thebalance.com.coinbase.html").read_bytes()
    (tmp_path / "a.html.gz").write_bytes(gzip.compress(page))
    (tmp_path / "b.htm").write_text("<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a>"
                                    "</nav></body></html>")
    (tmp_path / "c.html").write_bytes(b"")
    source = src(tmp_path, "html")
    got = [read_source_file(source, u, "en") for u, _ in resolve_source_files(source)]
    rows = pl.concat([g.rows for g in got])
    bad = pl.concat([g.quarantine for g in got])
    plain = read_source_file(source, str(PAGES / "thebalance.com.coinbase.html"), "en").rows
    assert rows["text"].to_list() == plain["text"].to_list()
    assert rows["title"].to_list() == ["Coinbase vs. Coinbase Pro"]
    assert sorted(bad["reason"].to_list()) == ["empty file", "no main text found"]
    assert sorted(u.rsplit("/", 1)[-1] for u in bad["uri"]) == ["b.htm", "c.html"]


def test_encoding_from_meta_charset_and_http_header():
    body = "<p>Le café de la rue du Faubourg a rouvert ses portes ce matin après des travaux.</p>" * 3
    latin = f"<html><head><meta charset='windows-1252'><title>Café</title></head><body>{body}</body></html>"
    assert "café" in extract_page(latin.encode("cp1252")).text
    no_meta = f"<html><head><title>Café</title></head><body>{body}</body></html>".encode("cp1252")
    assert decode_html(no_meta, "iso-8859-1") == no_meta.decode("cp1252")  # latin-1 labels read as windows-1252
    assert "€" in decode_html("<p>5 €</p>".encode("cp1252"), "latin-1")
    assert decode_html("<p>déjà</p>".encode(), "windows-1252") == "<p>déjà</p>"  # valid UTF-8 wins over a label
    assert decode_html(b"\xef\xbb\xbf<p>x</p>") == "<p>x</p>"


@pytest.mark.parametrize("code, expected", [("en-US", "en"), ("de_DE", "de"), ("FR", "fr"), ("deu", "de"),
                                            ("spa", "es"), ("x-klingon", None), ("", None), (None, None)])
def test_normalize_lang(code, expected):
    assert normalize_lang(code) == expected


# ---- url-list ----------------------------------------------------------------------------------


class PageServer(LoopbackHTTP):
    """Serves the shared pages under /pages/, plus routes that fail in the ways the web does."""

    def __init__(self):
        self.calls: dict[str, int] = {}
        self.agents: set[str] = set()
        self.in_flight = self.max_in_flight = 0
        self.robots: tuple[int, str] | None = None  # (status, body) of /robots.txt; None: 404 like the rest
        self.started: dict[str, float] = {}  # path -> when its last request came in
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with server.lock:
                    n = server.calls.get(self.path, 0)
                    server.calls[self.path] = n + 1
                    server.started[self.path] = time.monotonic()
                    server.agents.add(self.headers.get("User-Agent", ""))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self.answer(n)
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def answer(self, n: int) -> None:
                path = self.path
                if path == "/robots.txt" and server.robots:
                    return self.send(server.robots[0], server.robots[1].encode(), "text/plain")
                if path.startswith("/pages/"):
                    return self.send(200, (PAGES / path.removeprefix("/pages/")).read_bytes())
                if path.startswith("/slow/"):
                    time.sleep(0.15)
                    return self.send(200, f"<html><body><p>Slow page {path}.</p></body></html>".encode())
                if path == "/flaky" and n == 0 or path == "/always-500":
                    return self.send(500, b"oops")
                if path == "/flaky":
                    return self.send(200, (PAGES / "lemire.me.json.html").read_bytes())
                if path == "/limited" and n == 0:
                    return self.send(429, b"slow down", headers={"Retry-After": "0"})
                if path == "/limited":
                    return self.send(200, b"<html><body><p>Allowed now.</p></body></html>")
                if path == "/moved":
                    return self.send(302, b"", headers={"Location": "/private/moved-here"})
                if path == "/paper.pdf":
                    return self.send(200, b"%PDF-1.4", "application/pdf")
                if path == "/menu":
                    return self.send(200, b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
                if path == "/latin1":
                    page = ("<html><head><title>Caf\u00e9</title></head><body>"
                            + "<p>Le caf\u00e9 a rouvert ses portes ce matin apr\u00e8s des travaux.</p>" * 3
                            + "</body></html>")
                    return self.send(200, page.encode("cp1252"), "text/html; charset=windows-1252")
                if path == "/big":
                    return self.send(200, b"<p>" + b"x" * 5000 + b"</p>")
                if path == "/hang":
                    time.sleep(1.0)
                    return self.send(200, b"<p>late</p>")
                return self.send(404, b"not found")

            def send(self, status, body, ctype="text/html; charset=utf-8", headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, size cap)
                    pass

            def log_message(self, *args):
                pass

        self.serve(Handler)


@pytest.fixture
def pages():
    server = PageServer()
    yield server
    server.close()


def test_url_list_fetches_extracts_and_quarantines(tmp_path, pages):
    u = pages.url
    lines = [
        "# pages to fetch", f"{u}/pages/thebalance.com.coinbase.html", "", f"{u}/missing", f"{u}/flaky",
        f"{u}/paper.pdf", f"  {u}/pages/gala.fr.surnom.html  ", "ftp://example.org/file", f"{u}/menu", f"{u}/latin1",
    ]  # fmt: skip
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(lines) + "\n")
    started = datetime.now(UTC)
    got = read_source_file(src(listing, "url-list"), str(listing), "en")
    ended = datetime.now(UTC)
    rows, bad = got.rows, got.quarantine
    assert rows.schema == DOCUMENTS
    assert rows["uri"].to_list() == [f"{u}/pages/thebalance.com.coinbase.html", f"{u}/flaky",
                                     f"{u}/pages/gala.fr.surnom.html", f"{u}/latin1"]  # input order
    assert rows["title"][0] == "Coinbase vs. Coinbase Pro" and rows["title"][3] == "Café"
    assert rows["lang"].to_list() == ["en", "en", "fr", "en"]  # the last two declare none: the source's
    assert "café" in rows["text"][3] and "JSON" in rows["text"][1]
    assert all(started <= t <= ended for t in rows["retrieved_at"])
    assert dict(zip(bad["row"], bad["reason"], strict=True)) == {
        4: "HTTP 404", 6: "not HTML (application/pdf)", 8: "not an http(s) URL", 9: "no main text found"}
    assert set(bad["uri"]) == {str(listing)}
    assert pages.calls["/flaky"] == 2 and pages.calls["/missing"] == 1  # 5xx retried, 4xx not
    assert pages.agents == {f"pairforge/{rows['pipeline_version'][0]}"}


def test_fetch_retries_give_up_with_a_reason(pages):
    fast = FetchOptions(timeout_s=0.3, attempts=3, backoff_s=0.01, max_bytes=1000, workers=2)
    urls = ["/always-500", "/limited", "/hang", "/big", "/pages/lemire.me.json.html"]
    got = list(fetch_pages(enumerate((pages.url + p for p in urls), start=1), fast))
    assert [g.row for g in got] == [1, 2, 3, 4, 5]
    assert [g.error for g in got] == ["HTTP 500 after 3 attempts", None, "timeout after 3 attempts",
                                      "page larger than 1000 bytes", "page larger than 1000 bytes"]
    assert pages.calls["/always-500"] == 3 and pages.calls["/limited"] == 2 and pages.calls["/big"] == 1
    assert got[1].content == b"<html><body><p>Allowed now.</p></body></html>" and got[1].charset == "utf-8"


def test_url_list_fetch_settings_come_from_the_recipe(tmp_path, pages):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{pages.url}/always-500\n{pages.url}/big\n")
    source = src(listing, "url-list", fetch={"attempts": 1, "max_bytes": 1024, "workers": 1})
    bad = read_source_file(source, str(listing), "en").quarantine
    assert bad["reason"].to_list() == ["HTTP 500 after 1 attempt", "page larger than 1024 bytes"]
    assert pages.calls["/always-500"] == 1


def test_fetch_keeps_input_order_with_bounded_concurrency(pages):
    urls = [f"{pages.url}/slow/{i}" for i in range(12)]
    started = time.perf_counter()
    got = list(fetch_pages(enumerate(urls, start=1), FetchOptions(workers=3)))
    took = time.perf_counter() - started
    assert [g.url for g in got] == urls and all(g.error is None for g in got)
    assert pages.max_in_flight == 3
    assert took < 12 * 0.15  # requests overlapped


def test_url_list_sample_limit_stops_fetching(tmp_path, pages):
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(f"{pages.url}/slow/{i}\n" for i in range(40)))
    chunks = []
    stream_source_files(src(listing, "url-list"), [str(listing)], "en", 100, chunks.append, limit=2)
    assert sum(len(c.rows) for c in chunks) == 2
    pages_asked = sum(n for path, n in pages.calls.items() if path != "/robots.txt")
    assert pages_asked <= 2 + 2 * 4  # at most the window of the 4 default workers in flight


ROBOTS = """# a site that keeps crawlers out of /private/ and keeps pairforge out of /slow/ too
User-agent: *
Disallow: /private/

User-agent: pairforge
Disallow: /private/
Disallow: /slow/
Allow: /slow/open
"""


def test_fetch_keeps_to_robots_txt(pages):
    pages.robots = (200, ROBOTS)
    paths = ["/pages/lemire.me.json.html", "/private/a", "/slow/1", "/slow/open", "/private/b", "/latin1", "/moved"]
    got = list(fetch_pages(enumerate((pages.url + p for p in paths), start=1), FetchOptions(workers=4)))
    assert [g.error for g in got] == [None, "disallowed by robots.txt", "disallowed by robots.txt", None,
                                      "disallowed by robots.txt", None, "disallowed by robots.txt"]
    assert pages.calls["/robots.txt"] == 1  # once per site, shared by the threads
    assert pages.calls["/moved"] == 1  # allowed, but it redirects into /private/
    assert not {"/private/a", "/private/b", "/slow/1", "/private/moved-here"} & set(pages.calls)  # never requested


def test_unreadable_robots_txt_keeps_the_site_out_unless_turned_off(tmp_path, pages):
    pages.robots = (503, "down")
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{pages.url}/latin1\n{pages.url}/pages/lemire.me.json.html\n")
    source = src(listing, "url-list", fetch={"attempts": 2})
    got = read_source_file(source, str(listing), "en")
    assert got.rows.is_empty()
    assert got.quarantine["reason"].to_list() == ["robots.txt unavailable (HTTP 503 after 2 attempts)"] * 2
    assert pages.calls == {"/robots.txt": 2}  # retried, then no page of the site was asked for

    pages.calls.clear()
    ignoring = src(listing, "url-list", fetch={"respect_robots": False})
    assert len(read_source_file(ignoring, str(listing), "en").rows) == 2
    assert "/robots.txt" not in pages.calls


def test_fetch_spaces_requests_by_crawl_delay(pages):
    pages.robots = (200, "User-agent: *\nCrawl-delay: 0.4\n")  # fractional, as some sites write it
    paths = [f"/slow/{i}" for i in range(4)]
    got = list(fetch_pages(enumerate((pages.url + p for p in paths), start=1), FetchOptions(workers=4)))
    assert all(g.error is None for g in got)
    starts = [pages.started[p] for p in paths]
    # 3 delays of 0.4 s between 4 requests, although 4 threads were free
    assert max(starts) - min(starts) >= 1.0, starts


# ---- pdf ---------------------------------------------------------------------------------------


def minimal_pdf(pages: list[str], title: str | None = None, lang: str | None = None) -> bytes:
    """A PDF with one Helvetica text object per page (lines separated by \\n), written by hand."""
    n_pages = len(pages)
    font = 3 + 2 * n_pages
    info = font + 1
    objects = {1: f"<< /Type /Catalog /Pages 2 0 R{f' /Lang ({lang})' if lang else ''} >>",
               2: f"<< /Type /Pages /Kids [{' '.join(f'{3 + 2 * i} 0 R' for i in range(n_pages))}] /Count {n_pages} >>",
               font: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               info: f"<< /Title ({title or ''}) >>"}  # fmt: skip
    for i, text in enumerate(pages):
        shows = "".join(f"({line}) Tj 0 -16 Td " for line in text.split("\n"))
        stream = f"BT /F1 12 Tf 72 720 Td {shows}ET"
        objects[3 + 2 * i] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
                              f"/Resources << /Font << /F1 {font} 0 R >> >> >>")
        objects[4 + 2 * i] = f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream"
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = out.tell()
        out.write(f"{num} 0 obj\n{objects[num]}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for num in sorted(objects):
        out.write(f"{offsets[num]:010d} 00000 n \n".encode())
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{f' /Info {info} 0 R' if title else ''} >>\n"
    out.write(f"{trailer}startxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def test_pdf_text_title_and_lang(tmp_path):
    f = tmp_path / "report.pdf"
    f.write_bytes(minimal_pdf(["Quarterly report.\nRevenue grew in spring.", "Second page here."],
                              title="Quarterly Report", lang="en-GB"))
    got = read_source_file(src(f, "pdf"), str(f), "de")
    assert got.quarantine.is_empty()
    assert got.rows["title"].to_list() == ["Quarterly Report"] and got.rows["lang"].to_list() == ["en"]
    text = got.rows["text"][0]
    assert "Quarterly report." in text and "Revenue grew in spring." in text and "Second page here." in text
    assert text.index("Revenue") < text.index("Second page")
    assert got.rows["uri"].to_list() == [str(f)]


def test_bad_pdfs_are_quarantined(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf(["Secret text."]))))
    writer.encrypt("password")
    buf = io.BytesIO()
    writer.write(buf)
    (tmp_path / "a-locked.pdf").write_bytes(buf.getvalue())
    (tmp_path / "b-broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a PDF body")
    (tmp_path / "c-scanned.pdf").write_bytes(minimal_pdf([""]))
    (tmp_path / "d-good.pdf").write_bytes(minimal_pdf(["Readable text."]))
    source = src(tmp_path, "pdf")
    got = [read_source_file(source, u, "en") for u, _ in resolve_source_files(source)]
    rows, bad = pl.concat([g.rows for g in got]), pl.concat([g.quarantine for g in got])
    assert rows["text"].to_list() == ["Readable text."] and rows["title"].to_list() == [None]
    reasons = dict(zip((u.rsplit("/", 1)[-1] for u in bad["uri"]), bad["reason"], strict=True))
    assert reasons["a-locked.pdf"] == "encrypted PDF"
    assert reasons["b-broken.pdf"].startswith("unreadable PDF")
    assert reasons["c-scanned.pdf"] == "no text in PDF (scanned images?)"
    with pytest.raises(ValueError, match="encrypted"):
        pdf_text(buf.getvalue())
