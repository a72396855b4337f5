"""Hostile input (issue 13, items 2 and 3): a corpus of good files and 70+ hostile ones across every source
format -- deep nesting, compression bombs, truncated archives, broken Parquet/CSV/PDF/XML/HTML, entity
expansion, huge lines and documents, bad encodings, NUL bytes, FIFOs, symlink loops, dangling symlinks,
directories named like files, odd file names -- read the way ingest reads it (resolve_source_files, batch_files,
stream_source_files) in a fresh interpreter: nothing crashes, every hostile file is in the quarantine with a
reason that quotes none of its content (planted personal data never shows), every good row is kept, and peak
memory stays under 2 GB."""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import json
import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import CORPORA, REPO
from tests.ingest.test_extract import minimal_pdf

# planted in hostile files where a parser's message or a header could pick it up; must never reach a reason
EMAIL, SSN, PHONE, NAME = "quillfeather.zed@example.org", "078-05-1120", "+1 415 555 0199", "Quillfeather"
PII = f"{NAME} {EMAIL} {SSN} {PHONE}"
MAX_RSS_BYTES = 2 << 30
RUSSIAN = "Привет мир, это текст на русском языке. " * 5


class Corpus:
    """Files by source: good files with the marker every good row carries, hostile files that must be quarantined."""

    def __init__(self, root: Path):
        self.root = root
        self.sources: list[dict] = []
        self.good: dict[str, list[str]] = {}  # uri -> markers of the rows it must give
        self.hostile: list[str] = []
        self.kept: list[str] = []  # markers of good rows inside hostile files (kept beside what is quarantined)
        self.folder = root

    def source(self, name: str, fmt: str, uri: str | None = None, **kw) -> Path:
        self.folder = self.root / name
        self.folder.mkdir()
        self.sources.append({"name": name, "format": fmt, "uri": uri or str(self.folder), "license": "MIT", **kw})
        return self.folder

    def uri(self, name: str) -> str:
        return f"{self.folder}/{name}"

    def good_file(self, name: str, data: bytes | str, *markers: str) -> None:
        path = self.folder / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        self.good[self.uri(name)] = list(markers)

    def bad(self, name: str, data: bytes | str | None = None) -> Path:
        path = self.folder / name
        if data is not None:
            path.write_bytes(data.encode() if isinstance(data, str) else data)
        self.hostile.append(self.uri(name))
        return path

    def specials(self, ext: str) -> None:
        """A FIFO, a dangling symlink, a symlink loop and (for glob sources) a directory named like a file."""
        os.mkfifo(self.bad(f"fifo{ext}"))
        os.symlink(self.folder / "nowhere", self.bad(f"dangling{ext}"))
        os.symlink(self.folder / f"loop-b{ext}", self.bad(f"loop-a{ext}"))
        os.symlink(self.folder / f"loop-a{ext}", self.bad(f"loop-b{ext}"))


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)


def gzip_bomb(size: int = 400 << 20) -> bytes:
    """`size` zero bytes, gzipped chunk by chunk (about 400 KB for the default 400 MiB)."""
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    return b"".join(comp.compress(chunk) for _ in range(size >> 20)) + comp.flush()


def jsonl(*records) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records).encode()


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


def flate_pdf(content: bytes) -> bytes:
    """A one-page PDF whose content stream is `content`, Flate-compressed."""
    stream = zlib.compress(content, 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = io.BytesIO(b"%PDF-1.4\n")
    out.seek(0, 2)
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def wiki_dump(pages: str) -> str:
    return ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" xml:lang="en"><siteinfo>'
            "<base>https://en.wikipedia.org/wiki/Main_Page</base></siteinfo>" + pages + "</mediawiki>")


def wiki_page(title: str, text: str, redirect: bool = False) -> str:
    target = '<redirect title="X" />' if redirect else ""
    return (f"<page><title>{title}</title><ns>0</ns><id>1</id>{target}"
            f"<revision><id>2</id><text>{text}</text></revision></page>")


def build_corpus(root: Path) -> Corpus:
    c = Corpus(root)
    laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lollollollollollollollollollol">'
              + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
              + "]>")
    xxe = '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'

    # ---- text: one document per file (a glob source, so a directory named like a file is matched) ----
    c.source("text", "text", uri=f"{root}/text/*.txt*")
    c.good_file("plain.txt", "GOOD-text-1 An ordinary document.\n", "GOOD-text-1")
    c.good_file("latin1.txt", "GOOD-text-2 costs £5 at the café, naïve.\n".encode("latin-1"), "GOOD-text-2")
    c.good_file("cp1252.txt", "GOOD-text-3 \u201cquoted\u201d \u2014 \u20ac10 for the r\u00e9sum\u00e9\n"
                .encode("cp1252"), "GOOD-text-3")
    c.good_file("utf16.txt", "GOOD-text-4 UTF-16 with a BOM: \u00fcber \u65e5\u672c".encode("utf-16"), "GOOD-text-4")
    c.good_file("utf16be.txt", codecs.BOM_UTF16_BE + "GOOD-text-5 big endian \u00e9".encode("utf-16-be"),
                "GOOD-text-5")
    c.good_file("utf32.txt", "GOOD-text-6 UTF-32 \u00e9\u20ac".encode("utf-32"), "GOOD-text-6")
    c.good_file("bom8.txt", codecs.BOM_UTF8 + b"GOOD-text-7 UTF-8 with a BOM", "GOOD-text-7")
    c.good_file("zipped.txt.gz", gz(b"GOOD-text-8 compressed"), "GOOD-text-8")
    c.good_file("sp ace & \u00fcn\u00ef[c]o*de;$(x) 'q'.txt", "GOOD-text-9 an odd name", "GOOD-text-9")
    c.good_file("-leading-dash.txt", "GOOD-text-10 another odd name", "GOOD-text-10")
    c.bad("empty.txt", b"")
    c.bad("blank.txt", b"  \n\t\n")
    c.bad("nul.txt", f"{PII}\x00\x00 binary\n")
    c.bad("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(2048))
    c.bad("huge-document.txt", b"a" * (9 << 20))  # past 2,000,000 characters
    c.bad("bomb.txt.gz", gzip_bomb())
    c.bad("truncated.txt.gz", gz(f"{PII} ".encode() * 2000)[:300])
    c.bad("not-gzip.txt.gz", f"{PII} this is not gzip")
    c.bad("bomb.txt.bz2", bz2.compress(bytes(24 << 20)))
    c.bad("utf16-odd.txt", codecs.BOM_UTF16_LE + f"{PII}".encode("utf-16-le") + b"\x00")
    c.bad("ghost-\u202e\u0007-\n-name.txt", b"\x00\x01\x02" * 10)  # bidi override, BEL and a newline in the name
    (c.bad("dir.txt")).mkdir()
    c.specials(".txt")

    # ---- text-lines -----------------------------------------------------------------------------
    c.source("lines", "text-lines")
    c.good_file("good.txt", "GOOD-lines-1 first\n\nGOOD-lines-2 second\r\nGOOD-lines-3 third", "GOOD-lines-1",
                "GOOD-lines-2", "GOOD-lines-3")
    big_utf8 = ("plain line of ascii padding text\n" * 3000).encode()  # > 64 KiB: the head is valid UTF-8
    c.good_file("mostly-utf8.txt", big_utf8 + "GOOD-lines-4 one £ typed on Windows\n".encode("cp1252")
                + "GOOD-lines-5 caf\u00e9 in UTF-8\n".encode(), "GOOD-lines-4", "GOOD-lines-5")
    c.good_file("cyrillic.txt", f"GOOD-lines-6 {RUSSIAN}\n".encode("cp1251"), "GOOD-lines-6")
    c.bad("huge-line.txt", b"b" * (17 << 20) + b"\nGOOD-lines-7 after a huge line\n")
    c.kept.append("GOOD-lines-7")
    c.bad("long-document-line.txt", b"c" * 2_100_000 + b"\n")
    c.bad("nul-line.txt", f"fine line\n{PII}\x00\n".encode())
    c.bad("huge-line.txt.gz", gzip_bomb(200 << 20))  # one 200 MB line of NULs: stopped by the ratio
    c.bad("binary.txt", os.urandom(4096).replace(b"\n", b"\x00"))
    c.bad("empty.txt", b"")
    c.bad("only-blank-lines.txt", b"\n\n   \n")
    c.specials(".txt")

    # ---- jsonl documents ------------------------------------------------------------------------
    c.source("jsonl", "jsonl")
    c.good_file("docs.jsonl", jsonl({"text": "GOOD-jsonl-1 doc"}, {"text": "GOOD-jsonl-2 doc"}), "GOOD-jsonl-1",
                "GOOD-jsonl-2")
    c.good_file("array.json", json.dumps([{"text": "GOOD-jsonl-3 in an array"}]), "GOOD-jsonl-3")
    c.good_file("utf16.jsonl", jsonl({"text": "GOOD-jsonl-4 UTF-16 \u00e9"}).decode().encode("utf-16"), "GOOD-jsonl-4")
    c.bad("deep.jsonl", deep_json(100_000) + "\n")
    c.bad("deep-200.jsonl", json.dumps({"text": "x", "n": json.loads(deep_json(200))}) + "\n")
    c.bad("deep.json", "[" + deep_json(100_000) + "]")
    c.bad("deep-object.json", '[{"text": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}]")
    c.bad("broken.jsonl", f'{{"text": "{PII}", "broken": \n')
    c.bad("truncated-array.json", json.dumps([{"text": PII}] * 3)[:-20])
    c.bad("huge-element.json", '[{"text": "' + "d" * (17 << 20) + '"}]')
    c.bad("nul.jsonl", f'{{"text": "{PII}\x00"}}\n')
    c.bad("not-json.jsonl", f"{PII}\n")
    c.bad("bomb.jsonl.gz", gzip_bomb())
    c.bad("truncated.jsonl.gz", gz(jsonl(*[{"text": PII}] * 500))[:200])
    c.bad("empty.jsonl", b"")
    c.bad("empty-array.json", "[]")
    c.bad("wrong-type.jsonl", jsonl({"text": {"nested": PII}}, [PII], PII))
    c.specials(".jsonl")

    # ---- csv ------------------------------------------------------------------------------------
    c.source("csv", "csv", fields={"text": "body"})
    c.good_file("docs.csv", 'id,body\n1,"GOOD-csv-1 hello, world"\n2,"GOOD-csv-2 multi\nline"\n', "GOOD-csv-1",
                "GOOD-csv-2")
    c.good_file("cp1252.csv", "id,body\n1,GOOD-csv-3 \u20ac and \u201cquotes\u201d\n".encode("cp1252"), "GOOD-csv-3")
    c.bad("header-only.csv", "id,body\n")
    c.bad("empty.csv", b"")
    c.bad("headerless.csv", f"{EMAIL},{SSN},{PHONE}\n{NAME},x,y\n")  # its "columns" are data
    c.bad("unclosed-quote.csv", f'id,body\n1,"{PII}\n2,more {PII}\n')
    c.bad("ragged.csv", f"id,body\n1,{PII},extra,{SSN}\n")
    c.bad("nul.csv", f"id,body\n1,{PII}\x00\n")
    c.bad("bomb.csv.gz", gzip_bomb())
    c.bad("binary.csv", os.urandom(3000))
    c.bad("huge-record.csv", b'id,body\n1,"' + b"e" * (17 << 20) + b'"\n')
    c.specials(".csv")

    # ---- parquet --------------------------------------------------------------------------------
    c.source("parquet", "parquet")
    buf = io.BytesIO()
    pl.DataFrame({"text": ["GOOD-parquet-1 row", "GOOD-parquet-2 row"]}).write_parquet(buf)
    good_parquet = buf.getvalue()
    c.good_file("docs.parquet", good_parquet, "GOOD-parquet-1", "GOOD-parquet-2")
    buf = io.BytesIO()
    pl.DataFrame({"text": pl.Series([], dtype=pl.String)}).write_parquet(buf)
    c.bad("zero-rows.parquet", buf.getvalue())
    c.bad("truncated.parquet", good_parquet[: len(good_parquet) // 2])
    c.bad("garbage.parquet", f"PAR1 {PII} PAR1")
    buf = io.BytesIO()
    pl.DataFrame({EMAIL: [PII]}).write_parquet(buf)
    c.bad("wrong-columns.parquet", buf.getvalue())
    buf = io.BytesIO()
    pl.DataFrame({"text": ["z" * (40 << 20)]}).write_parquet(buf, compression="zstd", use_pyarrow=True,
                                                             pyarrow_options={"use_dictionary": False})
    c.bad("bomb.parquet", buf.getvalue())
    c.bad("empty.parquet", b"")
    c.specials(".parquet")

    # ---- html -----------------------------------------------------------------------------------
    c.source("html", "html")
    page = (CORPORA / "html" / "pages" / "cbsnews.com.carolina.html").read_bytes()
    c.good_file("page.html", page)
    c.bad("laughs.html", laughs + "<html><body><p>&lol9;</p></body></html>")
    c.bad("xxe.html", xxe + "<html><body><p>&xxe;</p></body></html>")
    c.bad("deep.html", "<html><body>" + "<div>" * 200_000 + "x" + "</div>" * 200_000 + "</body></html>")
    c.bad("huge.html", b"<html><body><p>" + b"f " * (11 << 20) + b"</p></body></html>")
    c.bad("binary.html", os.urandom(5000))
    c.bad("nul.html", f"<html><body>{PII}\x00\x00\x00</body></html>".encode("utf-16-le"))
    c.bad("empty.html", b"")
    c.bad("truncated.html.gz", gz(page)[:500])
    c.specials(".html")

    # ---- url-list (no network: every line fails before or at connecting) ------------------------
    c.source("urls", "url-list", fetch={"attempts": 1, "respect_robots": False, "timeout_s": 2})
    c.bad("urls.txt", f"ftp://{EMAIL}/x\nmailto:{EMAIL}\nhttp://127.0.0.1:9/{SSN}\n# {PII}\n")
    c.bad("binary.txt", os.urandom(2000))
    c.bad("empty.txt", b"")
    c.bad("only-comments.txt", f"# {PII}\n\n")

    # ---- wikipedia ------------------------------------------------------------------------------
    c.source("wiki", "wikipedia")
    c.good_file("enwiki.xml.bz2", (CORPORA / "text" / "enwiki-shortened.xml.bz2").read_bytes())
    c.good_file("small.xml", wiki_dump(wiki_page("Good", "GOOD-wiki-1 An article about good things.")),
                "GOOD-wiki-1")
    c.bad("laughs.xml", laughs + wiki_dump(wiki_page("Lol", "&lol9;")).split("?>", 1)[-1])
    c.bad("xxe.xml", xxe + wiki_dump(wiki_page("X", "&xxe;")))
    c.bad("broken.xml", wiki_dump(wiki_page("Broken", f"{PII} <unclosed")).replace("</mediawiki>", ""))
    c.bad("truncated.xml.bz2", bz2.compress(wiki_dump(wiki_page("T", f"{PII} " * 5000)).encode())[:400])
    c.bad("redirects-only.xml", wiki_dump(wiki_page("R", "#REDIRECT [[Good]]", redirect=True)))
    c.bad("deep.xml", "<a>" * 100_000 + "</a>" * 100_000)
    c.bad("page-bomb.xml.bz2", bz2.compress(wiki_dump(wiki_page("Big", "g" * (24 << 20))).encode(), 9))
    c.bad("binary.xml", os.urandom(3000))
    c.bad("empty.xml", b"")
    c.specials(".xml")

    # ---- pdf ------------------------------------------------------------------------------------
    c.source("pdf", "pdf")
    c.good_file("good.pdf", minimal_pdf(["GOOD-pdf-1 Readable text."]), "GOOD-pdf-1")
    good_pdf = minimal_pdf([f"{PII} text"])
    c.bad("truncated.pdf", good_pdf[:200])
    c.bad("garbage.pdf", f"%PDF-1.4\n{PII}\n%%EOF")
    c.bad("scanned.pdf", minimal_pdf([""]))
    c.bad("bomb.pdf", flate_pdf(b" " * (100 << 20)))
    c.bad("empty.pdf", b"")
    c.specials(".pdf")

    # ---- pair formats ---------------------------------------------------------------------------
    for fmt, good in [
        ("alpaca", {"instruction": "GOOD-alpaca-1 do", "input": "", "output": "done"}),
        ("dolly", {"instruction": "GOOD-dolly-1 do", "context": "", "response": "done", "category": "open_qa"}),
        ("sharegpt", {"conversations": [{"from": "human", "value": "GOOD-sharegpt-1 hi"},
                                        {"from": "gpt", "value": "hello"}]}),
        ("openai", {"messages": [{"role": "user", "content": "GOOD-openai-1 hi"},
                                 {"role": "assistant", "content": "hello"}]}),
        ("prompt-completion", {"prompt": "GOOD-prompt-completion-1 hi", "completion": "hello"}),
        ("self-instruct", {"instruction": "GOOD-self-instruct-1 do", "instances": [{"input": "", "output": "ok"}]}),
        ("preference", {"prompt": "GOOD-preference-1 hi", "chosen": "hello", "rejected": "go away"}),
    ]:
        c.source(fmt, fmt)
        c.good_file("good.jsonl", jsonl(good), f"GOOD-{fmt}-1")
        c.bad("deep.jsonl", json.dumps({**good, "extra": json.loads(deep_json(500))}) + "\n")
        c.bad("broken.jsonl", json.dumps(good)[:-5] + f' "{PII}\n')
        c.bad("bomb.jsonl.gz", gzip_bomb(100 << 20))
        c.bad("binary.jsonl", os.urandom(1000))
        c.bad("empty.jsonl", b"")
    c.folder = root / "sharegpt"
    c.bad("pii-roles.jsonl", jsonl({"conversations": [{"from": EMAIL, "value": "x"}, {"from": "gpt", "value": "y"}]},
                                   {"conversations": [{"from": SSN, "value": "x"}]}))
    c.folder = root / "openai"
    c.bad("pii-roles.jsonl", jsonl({"messages": [{"role": PHONE, "content": "x"}]}))
    c.folder = root / "preference"
    c.bad("pii-roles.jsonl", jsonl({"prompt": [{"role": EMAIL, "content": "x"}], "chosen": "a", "rejected": "b"},
                                   {"chosen": f"\n\nHuman: {PII}\n\nAssistant: a", "rejected": SSN}))
    return c


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    corpus = build_corpus(root)
    spec = root / "spec.json"
    out = root / "result.json"
    spec.write_text(json.dumps({"sources": corpus.sources, "out": str(out)}))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", READ_CORPUS, str(spec)], cwd=REPO, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    result["seconds"] = time.monotonic() - started
    return corpus, result


# Read every source like the ingest stage does, in a fresh interpreter (its peak RSS is this read alone).
READ_CORPUS = r"""
import json, resource, sys
from pairforge.tasks.core.recipe import Source
from pairforge.tasks.ingest.sources import batch_files, resolve_source_files, stream_source_files

spec = json.load(open(sys.argv[1]))
rows, quarantine = [], []

def sink(chunk):
    text = "text" if chunk.table == "documents" else "prompt"
    rows.extend(chunk.rows.select("uri", text, "source_encoding").rows())
    quarantine.extend(chunk.quarantine.select("source", "uri", "row", "reason").rows())

for s in spec["sources"]:
    source = Source(**s)
    files = resolve_source_files(source)
    for batch in batch_files(files, max_files=7):
        stream_source_files(source, batch, "en", 500, sink)
# VmHWM is this process's own high-water mark; ru_maxrss also counts the parent's memory at the fork (Linux)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
peak = int(status["VmHWM"].split()[0]) * 1024 if "VmHWM" in status else \
    resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
json.dump({"rows": rows, "quarantine": quarantine, "peak_rss": peak}, open(spec["out"], "w"))
"""


def test_corpus_is_big_and_covers_every_format(hostile):
    from pairforge.tasks.ingest.readers import SOURCE_FORMATS

    corpus, _ = hostile
    assert len(corpus.hostile) >= 60
    assert {s["format"] for s in corpus.sources} == set(SOURCE_FORMATS)


def test_every_hostile_file_is_quarantined_with_a_reason(hostile):
    corpus, result = hostile
    reasons: dict[str, list[str]] = {}
    for _, uri, _, reason in result["quarantine"]:
        reasons.setdefault(uri, []).append(reason)
    missing = [u for u in corpus.hostile if u not in reasons]
    assert not missing, missing
    assert all(r and r.strip() for rs in reasons.values() for r in rs)
    assert not [u for u in corpus.good if u in reasons], {u: reasons[u] for u in corpus.good if u in reasons}


def test_reasons_quote_no_file_content(hostile):
    _, result = hostile
    reasons = [r for *_, r in result["quarantine"]]
    for planted in (EMAIL, SSN, PHONE, NAME, "quillfeather", "415 555", "05-1120"):
        leaked = [r for r in reasons if planted.lower() in r.lower()]
        assert not leaked, (planted, leaked[:3])
    assert max(len(r) for r in reasons) < 300


def test_every_good_row_is_kept(hostile):
    corpus, result = hostile
    texts = [t for _, t, _ in result["rows"]]
    for marker in [m for markers in corpus.good.values() for m in markers] + corpus.kept:
        assert any(marker in t for t in texts if t), marker
    # the real corpora came through whole: the HTML page and all 106 articles of the shared dump
    by_uri = {}
    for uri, _, _ in result["rows"]:
        by_uri[uri] = by_uri.get(uri, 0) + 1
    assert by_uri[f"{corpus.root}/html/page.html"] == 1
    articles = sum(n for uri, n in by_uri.items() if uri.startswith("https://en.wikipedia.org/wiki/"))
    assert articles == 106 + 1  # rows of a dump name their article


def test_encodings_are_read_and_recorded(hostile):
    _, result = hostile
    got = {t.split(" ", 1)[0]: (t, enc) for _, t, enc in result["rows"] if t and t.startswith("GOOD-")}
    assert got["GOOD-text-2"] == ("GOOD-text-2 costs £5 at the café, naïve.\n", "cp1252")  # Latin-1 file
    assert got["GOOD-text-3"] == ("GOOD-text-3 \u201cquoted\u201d \u2014 \u20ac10 for the r\u00e9sum\u00e9\n", "cp1252")
    assert got["GOOD-text-4"] == ("GOOD-text-4 UTF-16 with a BOM: \u00fcber \u65e5\u672c", "utf-16")
    assert got["GOOD-text-5"] == ("GOOD-text-5 big endian \u00e9", "utf-16")
    assert got["GOOD-text-6"] == ("GOOD-text-6 UTF-32 \u00e9\u20ac", "utf-32")
    assert got["GOOD-text-7"] == ("GOOD-text-7 UTF-8 with a BOM", "utf-8")
    assert got["GOOD-lines-4"] == ("GOOD-lines-4 one £ typed on Windows", "cp1252")  # a stray line in a UTF-8 file
    assert got["GOOD-lines-5"] == ("GOOD-lines-5 caf\u00e9 in UTF-8", "utf-8")
    assert got["GOOD-lines-6"] == (f"GOOD-lines-6 {RUSSIAN}", "cp1251")
    assert got["GOOD-jsonl-4"] == ("GOOD-jsonl-4 UTF-16 \u00e9", "utf-16")
    assert got["GOOD-csv-3"] == ("GOOD-csv-3 \u20ac and \u201cquotes\u201d", "cp1252")
    assert got["GOOD-parquet-1"][1] is None  # Parquet strings are UTF-8 by definition: nothing decoded


def test_reading_the_corpus_is_fast_and_small(hostile):
    _, result = hostile
    print(f"hostile corpus: {len(result['rows'])} rows, {len(result['quarantine'])} quarantined, "
          f"peak RSS {result['peak_rss'] / (1 << 20):.0f} MiB, {result['seconds']:.1f} s")
    assert result["peak_rss"] < MAX_RSS_BYTES
    assert result["seconds"] < 60
