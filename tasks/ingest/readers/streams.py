"""Bytes in, text out, under limits: opening a source file (local or S3, `.gz`/`.bz2` decompressed on the fly within
`limits.max_decompressed_bytes` and `limits.max_compression_ratio`), refusing anything that is not a regular
file without opening it (a FIFO would block), reading whole files within `limits.max_file_bytes`, lines within
`limits.max_record_bytes`, and decoding text in whatever encoding it is in.

Encodings (`Source.encoding: auto`, the default): a byte order mark decides (UTF-8, UTF-16 and UTF-32; the last
two are transcoded to UTF-8 as they are read); else UTF-8 when the start of the file is valid UTF-8; else the
encoding charset-normalizer detects (Western single-byte text is read as Windows-1252, a superset of Latin-1
for text, as browsers do). Lines that are not valid UTF-8 in a UTF-8 file fall back to the file's detected
encoding or one detected for the line. Only what no encoding explains, and text with NUL bytes (binary data),
is quarantined. A named encoding (`encoding: latin-1`) is used as it is, with no detection.
"""

from __future__ import annotations

import bz2
import codecs
import errno
import gzip
import io
import os
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from pairforge.tasks.core import storage
from pairforge.tasks.ingest.readers.base import BadFile

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import ReadLimits
    from pairforge.tasks.ingest.readers.base import Collector

COMPRESSIONS = (".gz", ".bz2")
# The compression ratio is checked once this much has been decompressed: small, very repetitive files are fine.
RATIO_FLOOR = 16 << 20
HEAD_BYTES = 64 << 10  # bytes of a file that choose its encoding
READ_CHUNK = 1 << 16


def strip_compression(uri: str) -> str:
    for ext in COMPRESSIONS:
        if uri.endswith(ext):
            return uri[: -len(ext)]
    return uri


def size_text(n: int) -> str:
    """`16 MiB`, `2.5 GiB`, `1000 bytes`: limits as they read in a reason."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):g} {unit}"
    return f"{n} bytes"


# ---- opening -----------------------------------------------------------------------------------


def special_kind(path: str | os.PathLike) -> str | None:
    """What a local path is when it is not a regular file (following symlinks), without opening it; None for a
    regular file. Directories are "directory"; a missing path is None (opening it says so)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError as e:
            return "symlink loop" if e.errno == errno.ELOOP else "dangling symlink"
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _open_local(path: str) -> BinaryIO:
    """A regular local file; anything else raises BadFile without blocking (a FIFO is opened non-blocking and
    closed again, never read)."""
    if kind := special_kind(path):
        raise BadFile(f"not a regular file: {kind}")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced between the check and the open
            raise BadFile("not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=1 << 16)
    except BaseException:
        os.close(fd)
        raise


class _Counted(io.RawIOBase):
    """Counts the (compressed) bytes read from `raw`."""

    def __init__(self, raw: BinaryIO):
        self.raw, self.count = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        data = self.raw.read(len(b))
        b[: len(data)] = data
        self.count += len(data)
        return len(data)

    def close(self) -> None:
        self.raw.close()
        super().close()


class _Inflated(io.RawIOBase):
    """Decompressed bytes of `inner`, stopped (BadFile) past the limits on total size and ratio."""

    def __init__(self, inner: BinaryIO, compressed: _Counted, kind: str, limits: ReadLimits):
        self.inner, self.compressed, self.kind, self.limits = inner, compressed, kind, limits
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        try:
            data = self.inner.read(len(b))
        except EOFError:
            raise BadFile(f"cannot read file: {self.kind} data is truncated{self._where()}") from None
        except (OSError, zlib.error, ValueError) as e:
            raise BadFile(f"cannot read file: not valid {self.kind} data ({type(e).__name__}){self._where()}") from None
        self.count += len(data)
        lim = self.limits
        if self.count > lim.max_decompressed_bytes:
            raise BadFile(f"decompresses to more than {size_text(lim.max_decompressed_bytes)} "
                          "(limits.max_decompressed_bytes); rest of the file skipped")
        if self.count > RATIO_FLOOR and self.count > lim.max_compression_ratio * max(self.compressed.count, 1):
            raise BadFile(f"decompresses more than {lim.max_compression_ratio:g} times its size "
                          "(limits.max_compression_ratio; a compression bomb?); rest of the file skipped")
        b[: len(data)] = data
        return len(data)

    def _where(self) -> str:
        return f" after {size_text(self.count)} of data; rest of the file skipped" if self.count else ""

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_file(uri: str, limits: ReadLimits) -> BinaryIO:
    """A buffered binary stream over a source file, decompressed within the limits. Raises BadFile for what is not
    a regular file, storage.StorageError / OSError when it cannot be opened."""
    raw = storage.open_read(uri) if storage.is_s3(uri) else _open_local(str(storage.local_path(uri)))
    kind = "gzip" if uri.endswith(".gz") else "bz2" if uri.endswith(".bz2") else None
    if kind is None:
        return raw
    counted = _Counted(raw)
    inner = gzip.GzipFile(fileobj=counted) if kind == "gzip" else bz2.BZ2File(counted)
    return io.BufferedReader(_Inflated(inner, counted, kind, limits), buffer_size=1 << 16)


def read_whole(stream: BinaryIO, limit: int, what: str = "file", setting: str | None = "limits.max_file_bytes"
               ) -> bytes:
    """The whole stream; BadFile when it holds more than `limit` bytes (only limit + 1 bytes are ever read)."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BadFile(f"{what} larger than {size_text(limit)}" + (f" ({setting})" if setting else ""))
    return data


# ---- peeking -----------------------------------------------------------------------------------


class Prefixed(io.RawIOBase):
    """A stream that first returns bytes already read from `rest` (a peek), then the rest of it."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(b), len(self.head))
            b[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def peek(stream: BinaryIO, n: int) -> tuple[bytes, BinaryIO]:
    """The first `n` bytes of a stream (fewer at its end), and a stream still at the start."""
    head = b""
    while len(head) < n:
        chunk = stream.read(n - len(head))
        if not chunk:
            break
        head += chunk
    return head, io.BufferedReader(Prefixed(head, stream), buffer_size=READ_CHUNK)


def first_byte(stream: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first byte that is not whitespace or a UTF-8 BOM (b"" for none), and a stream still at the start."""
    head = b""
    while True:
        chunk = stream.read(READ_CHUNK)
        head += chunk
        first = head.lstrip(b" \t\r\n").removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1]
        if first or not chunk:
            return first, io.BufferedReader(Prefixed(head, stream), buffer_size=READ_CHUNK)


# ---- encodings ---------------------------------------------------------------------------------

BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))  # UTF-32 LE starts like UTF-16 LE
# Code pages of Latin-script languages: charset-normalizer often names a Central European or DOS one for Western
# text (cp1250 turns £ into Ł), see guess_encoding.
_LATIN = {"cp1250", "cp1252", "cp1254", "cp1257", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_9",
          "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "cp437", "cp775", "cp850", "cp852",
          "cp858", "cp860", "cp861", "cp862", "cp863", "cp865", "mac_roman", "mac_latin2", "mac_iceland",
          "mac_turkish", "ascii"}
_BINARY_CONTROLS = bytes(range(0, 9)) + bytes(range(14, 27)) + bytes(range(28, 32))  # not \t \n \v \f \r ESC


def codec_name(label: str) -> str:
    """Python's canonical name of an encoding label (`latin1` -> `iso8859-1`, `UTF8` -> `utf-8`)."""
    return codecs.lookup(label).name


def _ascii_compatible(codec: str) -> bool:
    """Whether lines of this encoding can be split at b"\\n" (not UTF-16/32, not EBCDIC)."""
    try:
        return "a\n".encode(codec) == b"a\n"
    except (UnicodeError, LookupError):
        return False


def guess_encoding(data: bytes) -> str | None:
    """The encoding `data` (not valid UTF-8) is most likely in, or None when no encoding explains it (binary).

    charset-normalizer decides, with two corrections for Western text, where it is weakest: a Latin-script code
    page is read as Windows-1252, unless Windows-1250 makes more letters inside words (Polish or Czech text
    does; a £ in English text read as cp1250 would be an Ł, not inside a word) -- Turkish or Baltic legacy files
    need their `encoding` named; and a non-Latin single-byte code page is believed only when a good share of the
    letters are not ASCII (in Cyrillic or Greek text nearly all are; a stray £ in English text is not Urdu)."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        return None
    name = best.encoding
    if name in _LATIN or (_single_byte(name) and _non_ascii_share(data) < 0.3):
        scores = {}
        for codec in ("cp1252", "cp1250"):
            try:
                scores[codec] = _letters_in_words(data.decode(codec))
            except UnicodeDecodeError:  # a byte the code page leaves undefined
                continue
        if scores:
            return codec_name(max(scores, key=scores.get))  # the first (cp1252) on a tie
    return codec_name(name)


def _letters_in_words(text: str) -> int:
    """Non-ASCII letters with a letter beside them."""
    return sum(1 for i, ch in enumerate(text) if ord(ch) > 127 and ch.isalpha()
               and ((i > 0 and text[i - 1].isalpha()) or (i + 1 < len(text) and text[i + 1].isalpha())))


def _single_byte(codec: str) -> bool:
    try:
        return len(bytes(range(256)).decode(codec, errors="replace")) == 256 and _ascii_compatible(codec)
    except LookupError:
        return False


def _non_ascii_share(data: bytes) -> float:
    """Bytes above 0x7F among them and the ASCII letters: how much of the text is not in ASCII's alphabet."""
    high = sum(1 for b in data if b >= 0x80)
    letters = sum(1 for b in data if 65 <= b <= 90 or 97 <= b <= 122)
    return high / max(1, high + letters)


class Undecodable(ValueError):
    """A line or file no encoding explains; the message is the quarantine reason, `position` the offset of the
    first byte that is not valid (in the line or file)."""

    def __init__(self, reason: str, position: int = 0):
        super().__init__(reason)
        self.position = position


def _utf8_prefix_valid(head: bytes, complete: bool) -> bool:
    """Whether `head` is valid UTF-8, allowing a character cut at its end unless it is the whole file."""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return True
    except UnicodeDecodeError:
        return False


@dataclass
class TextDecoder:
    """How one file's bytes become text. `codec`: the file's encoding as recorded in provenance; `stream_codec`:
    what the (maybe transcoded) stream holds; `strict`: a named encoding, no fallback."""

    codec: str
    strict: bool = False
    transcode: bool = False  # UTF-16/32: the stream is transcoded to UTF-8 as it is read
    guessed: bool = False  # the head was not UTF-8 and `codec` is what detection made of it (or utf-8 for nothing)
    used: set[str] = field(default_factory=set)  # encodings lines were decoded with since the last reset

    @property
    def stream_codec(self) -> str:
        return "utf-8" if self.transcode else self.codec

    @classmethod
    def for_head(cls, head: bytes, declared: str, complete: bool) -> TextDecoder:
        """Choose the decoding from the first bytes of a file (`complete`: they are the whole file)."""
        if declared.lower() != "auto":
            codec = codec_name(declared)
            if codec in ("utf-16", "utf-32") or not _ascii_compatible(codec):
                return cls(codec, strict=True, transcode=True)
            return cls(codec, strict=True)
        for bom, codec in BOMS:
            if head.startswith(bom):
                return cls(codec, transcode=codec != "utf-8")
        if _utf8_prefix_valid(head, complete):
            if b"\x00" in head and (guess := guess_encoding(head)) and not _ascii_compatible(guess):
                return cls(guess, transcode=True)  # UTF-16/32 without a BOM (ASCII text is "valid UTF-8" with NULs)
            return cls("utf-8")
        guess = guess_encoding(head)
        if guess and not _ascii_compatible(guess):
            return cls(guess, transcode=True, guessed=True)
        return cls(guess or "utf-8", guessed=True)

    def decode(self, raw: bytes) -> str:
        """Text of one line (or a whole file); raises Undecodable. Non-ASCII lines record their encoding in `used`."""
        if self.strict or self.transcode:
            try:
                text = raw.decode(self.stream_codec)
            except UnicodeDecodeError as e:
                raise Undecodable(f"not valid {self.codec}", e.start) from None
            self.used.add(self.codec)
        else:
            text = self._decode_auto(raw)
        if "\x00" in text:
            raise Undecodable("binary data: NUL bytes", raw.find(b"\x00"))
        return text

    def _decode_auto(self, raw: bytes) -> str:
        try:
            text = raw.decode("utf-8")
            self.used.add("utf-8" if self.codec == "utf-8" or not raw.isascii() else self.codec)
            return text
        except UnicodeDecodeError as e:
            first_bad = e.start
        if any(b in raw for b in _BINARY_CONTROLS):
            raise Undecodable("binary data: control bytes, not UTF-8", first_bad)
        # a file detected as X: its lines in X; a UTF-8 file: a stray line is most often Windows-1252/Latin-1
        # (a £ typed on Windows), else what detection makes of the line
        fallbacks = [self.codec] if self.guessed else ["cp1252", "guess"]
        for codec in fallbacks:
            if codec == "guess":
                codec = guess_encoding(raw)
                if codec is None or not _ascii_compatible(codec):
                    continue
            try:
                text = raw.decode(codec)
                self.used.add(codec)
                return text
            except UnicodeDecodeError:
                pass
        raise Undecodable("not valid utf-8, and no encoding explains it", first_bad)

    def label(self) -> str:
        """The encoding to record for what was decoded since the last `reset`: one that is not UTF-8 wins."""
        other = sorted(self.used - {"utf-8"})
        return other[0] if other else ("utf-8" if self.used else self.codec)

    def reset(self) -> None:
        self.used.clear()


class _Transcoded(io.RawIOBase):
    """UTF-8 bytes of a stream in another encoding (UTF-16/32); bytes that do not decode raise BadFile."""

    def __init__(self, raw: BinaryIO, codec: str):
        self.raw, self.codec = raw, codec
        self.decoder = codecs.getincrementaldecoder(codec)()
        self.pending, self.offset = b"", 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self.pending:
            chunk = self.raw.read(READ_CHUNK)
            try:
                self.pending = self.decoder.decode(chunk, final=not chunk).encode("utf-8")
            except UnicodeDecodeError:
                raise BadFile(f"not valid {self.codec} (after byte {self.offset}); rest of the file skipped") from None
            self.offset += len(chunk)
            if not chunk:
                break
        n = min(len(b), len(self.pending))
        b[:n], self.pending = self.pending[:n], self.pending[n:]
        return n


def text_stream(c: Collector, stream: BinaryIO) -> BinaryIO:
    """Choose the file's decoding from its first bytes (sets `c.decoder`); returns the stream to read, still at
    its start, transcoded to UTF-8 when the file is UTF-16/32."""
    head, stream = peek(stream, HEAD_BYTES)
    c.decoder = TextDecoder.for_head(head, c.source.encoding, complete=len(head) < HEAD_BYTES)
    if c.decoder.transcode:
        return io.BufferedReader(_Transcoded(stream, c.decoder.codec), buffer_size=READ_CHUNK)
    return stream


def raw_lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes with its line break) per line; None for a line longer than `limit` bytes, which is
    skipped without being held in memory."""
    n = 0
    while line := stream.readline(limit + 1):
        n += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := stream.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield n, None
        else:
            yield n, line


def decoded_lines(c: Collector, stream: BinaryIO, keep_blank: bool = False
                  ) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, error) per line of a text file, in its encoding (see the module docstring), read as a
    stream: a line longer than `limits.max_record_bytes`, or one no encoding explains, gets an error instead.
    Line breaks are kept with `keep_blank` (for CSV), else dropped with blank lines."""
    if c.decoder is None:
        stream = text_stream(c, stream)
    decoder = c.decoder
    limit = c.source.limits.max_record_bytes
    for n, raw in raw_lines(stream, limit):
        if raw is None:
            yield n, None, f"line longer than {size_text(limit)} (limits.max_record_bytes)"
            continue
        if not keep_blank:  # one line, one row: its own encoding (CSV records reset per record)
            raw = raw.rstrip(b"\r\n")
            decoder.reset()
        try:
            line = decoder.decode(raw)
        except Undecodable as e:
            yield n, None, str(e)
            continue
        if n == 1:
            line = line.removeprefix("\ufeff")  # a byte order mark is not part of the first record
        if keep_blank or line.strip():
            yield n, line, None


def decode_whole(c: Collector, data: bytes) -> str:
    """Text of a whole file in its encoding; raises BadFile when no encoding explains it."""
    c.decoder = TextDecoder.for_head(data, c.source.encoding, complete=True)
    if c.decoder.transcode:
        try:
            text = data.decode(c.decoder.codec)
        except UnicodeDecodeError as e:
            raise BadFile(f"not valid {c.decoder.codec} (byte {e.start})") from None
        c.decoder.used.add(c.decoder.codec)
    else:
        try:
            text = c.decoder.decode(data)
        except Undecodable as e:
            raise BadFile(f"{e} (byte {e.position})") from None
    if "\x00" in text:
        raise BadFile(f"binary data: NUL bytes (byte {data.find(bytes(1))})")
    return text.removeprefix("\ufeff")
