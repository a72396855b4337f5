"""Ingest: a source's files -> work-area shards of documents or pairs rows, plus quarantined rows.

The formats themselves are readers in `tasks/ingest/readers/` (one registry, one module per format
family); this module is what they share around them: which files a source reads, streaming files through
a reader into bounded chunks, and the `ingest` task that writes those chunks as shards.

One bad file never costs the others: a line that no encoding explains or that is not JSON, a row without the
mapped field, a file past one of the source's `limits`, a file that cannot be parsed at all or whose reader
fails in any way becomes a quarantine row with its reason (a position and the kind of error, never file
content), and the rest of the file and of the batch is kept. Entries that are not regular files (directories
matched by a glob, FIFOs, sockets, dangling symlinks, symlink loops) and files that yield no rows (empty,
blank, header only) are listed in the quarantine too. Only storage failures worth a retry raise.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.schema import QUARANTINE
from pairforge.tasks.core.shards import RETRYING, Shard, resumable, write_stage
from pairforge.tasks.ingest.readers import FORMATS
from pairforge.tasks.ingest.readers.base import BadFile, BadRow, Collector, Enough, FileRows, SinkFailed, error_kind
from pairforge.tasks.ingest.readers.streams import open_file, special_kind, strip_compression

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import Source

__all__ = ["BadRow", "FileRows", "SourceError", "batch_files", "ingest_files", "read_source_file",
           "resolve_source_files", "stream_source_files"]


class SourceError(ValueError):
    """A source that matches no usable file (raised before any work starts)."""


def resolve_source_files(source: Source) -> list[tuple[str, int]]:
    """The files a source reads, with sizes, sorted; local entries that are not regular files come with size 0
    (reading them quarantines them with what they are). Raises SourceError when there are none or all are empty."""
    try:
        special = special_entries(source.uri)
        found = sorted(storage.glob(source.uri) + [(u, 0) for u in special])
    except storage.StorageError as e:
        raise SourceError(f"cannot list {source.uri}: {e}") from None
    exts = FORMATS[source.format].extensions
    if exts and len(found) > 1:
        wanted = [(u, s) for u, s in found if strip_compression(u).endswith(exts)]
        found = wanted or found
    if not found:
        raise SourceError(f"no file matches {source.uri}")
    if all(size == 0 for _, size in found):
        shown = [f"{u} ({special_kind(storage.local_path(u))})" if u in special else u for u, _ in found[:3]]
        raise SourceError(f"source is empty: {', '.join(shown)}")
    return found


def special_entries(pattern: str) -> list[str]:
    """Local entries that a source's path, folder or glob matches but `storage.glob` leaves out because they are
    not regular files: FIFOs, sockets, devices, dangling symlinks, symlink loops, symlinks to folders (not
    followed), and directories matched by a glob or named as the source. Hidden entries are left out, as there."""
    if storage.is_s3(pattern):
        return []
    if not any(ch in pattern for ch in "*?["):
        path = storage.local_path(pattern)
        if path.is_dir() and not path.is_symlink():
            return _walk_special(pattern, with_dirs=False)
        return [pattern] if special_kind(path) not in (None, "directory") else []
    fixed = pattern[: min(pattern.index(ch) for ch in "*?[" if ch in pattern)]
    base = fixed.rsplit("/", 1)[0] if "/" in fixed else "."
    return [u for u in _walk_special(base, with_dirs=True) if fnmatch.fnmatch(u, pattern)]


def _walk_special(folder: str, with_dirs: bool) -> list[str]:
    root = storage.local_path(folder)
    out = []
    try:
        for p in root.rglob("*"):
            rel = p.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            kind = special_kind(p)
            if kind is not None and (with_dirs or kind != "directory" or p.is_symlink()):
                out.append(storage.join(folder, rel.as_posix()) if folder != "." else rel.as_posix())
    except OSError:  # an unreadable folder: what could be listed is enough (storage.glob lists the files)
        pass
    return out


def _quarantine_unread(c: Collector, uri: str) -> None:
    """A file that gave no rows and no quarantined rows is listed anyway: empty, blank or without records."""
    size = None
    if not storage.is_s3(uri):
        try:
            size = storage.local_path(uri).stat().st_size
        except OSError:
            pass
    c.quarantine(None, "empty file" if size == 0 else "no rows in the file")


def stream_source_files(
    source: Source, uris: list[str], default_lang: str, chunk_rows: int, sink: Callable[[FileRows], None],
    limit: int | None = None,
) -> None:
    """Read files of a source as streams, handing `sink` chunks of at most `chunk_rows` rows.

    Chunks span files, so a folder of many small files still makes few, full shards. Line formats
    (text-lines, jsonl and the pair formats) never hold more than one chunk in memory.
    With `limit`, stops after that many rows (a sample for trial runs).
    Raises storage.StorageError only for transient I/O failures; anything else is quarantined."""
    reader = FORMATS[source.format]
    c = Collector(source, "", source.lang or default_lang, chunk_rows, sink, limit)
    for uri in uris:
        c.start_file(uri)
        try:
            with open_file(uri, source.limits) as stream:
                reader.read(c, stream)
            if not c.file_rows and not c.file_bad:
                _quarantine_unread(c, uri)
        except Enough:
            break
        except SinkFailed as e:
            raise e.error from None
        except BadFile as e:
            c.quarantine(e.row, e.reason)
        except BadRow as e:  # a whole-file reader's one row
            c.quarantine(c.row, str(e))
        except storage.StorageError as e:
            if e.transient:
                raise
            c.quarantine(None, f"cannot read file: {str(e).removeprefix(uri + ': ')}")
        except OSError as e:
            c.quarantine(None, f"cannot read file: {e.strerror or error_kind(e)}")
        except Exception as e:  # a reader's or parser's bug on this input: this file only
            where = f" at row {c.row}" if c.row is not None else ""
            c.quarantine(c.row, f"cannot read file{where} ({error_kind(e)}); rest of the file skipped")
    try:
        c.flush()
    except SinkFailed as e:
        raise e.error from None


def read_source_file(source: Source, uri: str, default_lang: str) -> FileRows:
    """Read a whole file into one FileRows (for small files and tests)."""
    chunks: list[FileRows] = []
    stream_source_files(source, [uri], default_lang, 1 << 62, chunks.append)
    if not chunks:
        return Collector(source, uri, default_lang, 1, chunks.append).frames(source.table)
    return FileRows(source.table, pl.concat([c.rows for c in chunks]), pl.concat([c.quarantine for c in chunks]))


def batch_files(files: list[tuple[str, int]], max_bytes: int = 256 << 20, max_files: int = 1000) -> list[list[str]]:
    """Group a source's files into ingest batches: one task per big file, many small files per task."""
    batches: list[list[str]] = []
    size = 0
    for uri, n in files:
        if not batches or size + n > max_bytes or len(batches[-1]) >= max_files:
            batches.append([])
            size = 0
        batches[-1].append(uri)
        size += n
    return batches


@dataclass(frozen=True)
class IngestResult:
    """What one ingest task read: the shards of a batch of a source's files, and what it quarantined."""

    source: str
    files: int
    shards: list[Shard]
    rows: int
    quarantine: dict[str, int]  # reason -> rows
    quarantine_uri: str | None  # the quarantined rows with their reasons, for the version's quarantine table
    resumed: bool = False  # reused from an earlier attempt's completion marker


@task(name="ingest", cache_policy=NO_CACHE, task_run_name="ingest-{source.name}-{index}", **RETRYING)
@resumable("ingest", lambda a: f"{a['source'].name}-{a['index']:05d}")
def ingest_files(source: Source, uris: list[str], index: int, default_lang: str, work_uri: str,
                 chunk_rows: int, limit: int | None = None) -> IngestResult:
    """Stream a batch of files into work-area shards of at most `chunk_rows` rows; returns shards and counts."""
    base = f"{source.name}-{index:05d}"
    shards: list[Shard] = []
    bad: list[pl.DataFrame] = []

    def sink(chunk: FileRows) -> None:
        if len(chunk.rows):
            name = f"{base}-{len(shards):05d}"
            shards.append(write_stage(chunk.rows, work_uri, "ingest", Shard(chunk.table, name, "", 0)))
        if len(chunk.quarantine):
            bad.append(chunk.quarantine)

    stream_source_files(source, uris, default_lang, chunk_rows, sink, limit)
    quarantine = pl.concat(bad) if bad else pl.DataFrame(schema=QUARANTINE)
    quarantine_uri = None
    if len(quarantine):
        quarantine_uri = storage.join(work_uri, "quarantine", f"{base}.parquet")
        storage.write_parquet(quarantine, quarantine_uri)
    rows = sum(s.rows for s in shards)
    get_run_logger().info("%s: %d file(s) -> %d %s rows in %d shard(s), %d quarantined",
                          source.name, len(uris), rows, source.table, len(shards), len(quarantine))
    return IngestResult(source.name, len(uris), shards, rows, dict(Counter(quarantine.get_column("reason").to_list())),
                        quarantine_uri)
