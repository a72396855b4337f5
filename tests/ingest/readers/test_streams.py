"""tasks.ingest.readers.streams: opening files under limits (special files, compression bombs, truncated archives),
bounded lines, and encodings (byte order marks, detection, per-line fallback, strict named codecs)."""

from __future__ import annotations

import codecs
import gzip
import io
import os
import threading
import zlib

import pytest

from pairforge.tasks.core.recipe import ReadLimits
from pairforge.tasks.ingest.readers.base import BadFile
from pairforge.tasks.ingest.readers.streams import (
    TextDecoder,
    Undecodable,
    guess_encoding,
    open_file,
    raw_lines,
    special_kind,
)
from pairforge.tasks.ingest.sources import read_source_file
from tests.ingest.helpers import src

LATIN1 = "Tea £2, café crème, naïve señor, Zürich, Æsir, Øre.\n"
CP1252 = "He said \u201chello\u201d \u2014 it costs \u20ac5\u2026 the r\u00e9sum\u00e9\u2019s fine.\n"


# ---- opening -----------------------------------------------------------------------------------


def test_special_files_are_named_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    os.symlink(tmp_path / "file", tmp_path / "link-to-file")
    assert {p: special_kind(tmp_path / p) for p in ("pipe", "dangling", "a", "dir", "file", "link-to-file")} == {
        "pipe": "FIFO (named pipe)", "dangling": "dangling symlink", "a": "symlink loop", "dir": "directory",
        "file": None, "link-to-file": None}


def test_a_fifo_never_blocks(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    done = threading.Event()
    got = {}

    def read():
        got["rows"] = read_source_file(src(fifo, "text"), str(fifo), "en")
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(10), "reading a FIFO blocked"
    assert got["rows"].quarantine["reason"].to_list() == ["not a regular file: FIFO (named pipe)"]


def bomb(size: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(comp.compress(bytes(1 << 20)) for _ in range(size >> 20)) + comp.flush()


def test_decompression_stops_at_the_ratio_and_the_total(tmp_path):
    f = tmp_path / "bomb.gz"
    f.write_bytes(bomb(64 << 20))
    with open_file(str(f), ReadLimits()) as stream, pytest.raises(BadFile, match="max_compression_ratio"):
        while stream.read(1 << 20):
            pass
    with open_file(str(f), ReadLimits(max_decompressed_bytes=4 << 20)) as stream, \
            pytest.raises(BadFile, match=r"more than 4 MiB \(limits.max_decompressed_bytes\)"):
        while stream.read(1 << 20):
            pass
    # a small, very repetitive file is fine: the ratio counts only past 16 MiB
    small = tmp_path / "small.gz"
    small.write_bytes(gzip.compress(b"same line\n" * 100_000))
    with open_file(str(small), ReadLimits()) as stream:
        assert len(stream.read()) == 1_000_000


def test_truncated_and_fake_archives(tmp_path):
    data = gzip.compress(os.urandom(200_000))
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "fake.gz").write_bytes(b"plain text, not gzip")
    with open_file(str(tmp_path / "cut.gz"), ReadLimits()) as stream, \
            pytest.raises(BadFile, match="gzip data is truncated after .* rest of the file skipped"):
        stream.read()
    with open_file(str(tmp_path / "fake.gz"), ReadLimits()) as stream, \
            pytest.raises(BadFile, match=r"^cannot read file: not valid gzip data \(BadGzipFile\)$"):
        stream.read()


def test_raw_lines_skip_a_huge_line_without_holding_it():
    stream = io.BufferedReader(io.BytesIO(b"short\n" + b"x" * 5_000_000 + b"\nafter\nlast"))
    assert list(raw_lines(stream, 1000)) == [(1, b"short\n"), (2, None), (3, b"after\n"), (4, b"last")]


# ---- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, codec", [
    (LATIN1 * 3, "latin-1"),
    (CP1252 * 3, "cp1252"),
    (LATIN1, "latin-1"),
    ("Zażółć gęślą jaźń, powiedział król. " * 5, "cp1250"),
    ("Příliš žluťoučký kůň úpěl ďábelské ódy. " * 5, "cp1250"),
    ("Привет мир, это текст на русском языке. " * 5, "cp1251"),
    ("Καλημέρα κόσμε, αυτό είναι ένα κείμενο. " * 5, "cp1253"),
    ("日本語のテキストです。これはテストです。" * 3, "shift_jis"),
])
def test_guess_encoding_reads_the_right_characters(text, codec):
    data = text.encode(codec)
    guess = guess_encoding(data)
    assert data.decode(guess) == text, guess


def test_binary_data_has_no_encoding():
    assert guess_encoding(bytes(range(256)) * 8) is None


@pytest.mark.parametrize("bom_text, codec", [
    (codecs.BOM_UTF8 + "é".encode(), "utf-8"),
    ("é".encode("utf-16"), "utf-16"),
    (codecs.BOM_UTF16_BE + "é".encode("utf-16-be"), "utf-16"),
    ("é".encode("utf-32"), "utf-32"),
    (codecs.BOM_UTF32_BE + "é".encode("utf-32-be"), "utf-32"),
])
def test_byte_order_marks_decide(bom_text, codec):
    d = TextDecoder.for_head(bom_text, "auto", complete=True)
    assert d.codec == codec and d.transcode == (codec != "utf-8")


def test_utf16_without_a_bom_is_detected():
    d = TextDecoder.for_head("plain ASCII words in UTF-16, little endian\n".encode("utf-16-le") * 20, "auto",
                             complete=True)
    assert d.transcode and d.codec.startswith("utf-16")


def test_named_encoding_is_strict_and_utf8_falls_back_per_line():
    strict = TextDecoder.for_head(b"abc", "utf-8", complete=True)
    with pytest.raises(Undecodable, match="not valid utf-8"):
        strict.decode(b"caf\xe9")
    auto = TextDecoder.for_head(b"abc \xc3\xa9", "auto", complete=False)  # a UTF-8 head
    assert auto.decode("£5".encode("cp1252")) == "£5" and auto.label() == "cp1252"
    auto.reset()
    assert auto.decode("é".encode()) == "é" and auto.label() == "utf-8"
    with pytest.raises(Undecodable, match="binary data: control bytes"):
        auto.decode(b"\x01\x02\xff\xfe")
    with pytest.raises(Undecodable, match="NUL"):
        auto.decode(b"text\x00more")


def test_latin1_and_windows_1252_files_import_with_the_right_characters(tmp_path):
    for name, text, codec in (("latin1.txt", LATIN1, "latin-1"), ("cp1252.txt", CP1252, "cp1252")):
        f = tmp_path / name
        f.write_bytes((text * 4).encode(codec))
        whole = read_source_file(src(f, "text"), str(f), "en")
        assert whole.rows.select("text", "source_encoding").rows() == [(text * 4, "cp1252")]
        lines = read_source_file(src(f, "text-lines"), str(f), "en")
        assert lines.rows["text"].to_list() == [text.strip()] * 4 and lines.quarantine.is_empty()
        assert set(lines.rows["source_encoding"]) == {"cp1252"}


def test_utf16_and_utf32_files_with_a_bom(tmp_path):
    text = "Grüße, 日本, €\nsecond line\n"
    for codec in ("utf-16", "utf-16-be", "utf-32", "utf-32-be"):
        f = tmp_path / f"{codec}.jsonl"
        bom = {"utf-16-be": codecs.BOM_UTF16_BE, "utf-32-be": codecs.BOM_UTF32_BE}.get(codec, b"")
        f.write_bytes(bom + "".join(f'{{"text": "{line}"}}\n' for line in text.splitlines()).encode(codec))
        got = read_source_file(src(f, "jsonl"), str(f), "en")
        assert got.rows["text"].to_list() == text.splitlines(), codec
        assert set(got.rows["source_encoding"]) == {codec[:6]}
