"""Tables: `csv` and `parquet`. Rows are documents (column `text`, or `fields: {text: ...}`), or pairs when
`fields` maps `prompt` and `response` (optional `system` and `context` columns). Rows are numbered from 1 after
the header.

Both are read as streams of rows: CSV with Python's csv module over decoded lines (a record larger than
`limits.max_record_bytes`, e.g. behind an unclosed quote, ends the file there; a row with more or fewer fields
than the header is quarantined on its own), Parquet row group by row group, after checking that its declared
uncompressed size keeps to `limits.max_decompressed_bytes` and `limits.max_compression_ratio`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from pairforge.tasks.ingest.readers.base import BadFile, BadRow, Collector, Reader, error_kind, labels, mapped, text
from pairforge.tasks.ingest.readers.streams import RATIO_FLOOR, decoded_lines, read_whole, size_text

csv.field_size_limit(2**31 - 1)  # a record's size is limited by limits.max_record_bytes (the csv module's is 128 KiB)
PARQUET_BATCH_ROWS = 4096


def read_rows(c: Collector, columns: list[str], rows: Iterable[tuple[int, dict]]) -> None:
    """Documents or pairs from (row number, {column: value}) rows."""
    if c.source.table == "pairs":
        _pairs(c, columns, rows)
        return
    key = mapped(c.source, "text")
    if key not in columns:
        c.quarantine(None, f"wrong columns: no column '{key}' (has: {labels(columns)})")
        return
    for n, row in rows:
        value = row.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            c.quarantine(n, f"empty '{key}'")
            continue
        try:
            c.document(value)
        except BadRow as e:
            c.quarantine(n, str(e))


def _pairs(c: Collector, columns: list[str], rows: Iterable[tuple[int, dict]]) -> None:
    """Table rows -> pairs through `fields` (prompt, response; optional system, context)."""
    mapping = {k: c.source.fields[k] for k in ("prompt", "response", "system", "context") if k in c.source.fields}
    missing = [col for col in mapping.values() if col not in columns]
    if missing:
        c.quarantine(None, f"wrong columns: no column {', '.join(repr(m) for m in missing)} "
                           f"(has: {labels(columns)})")
        return
    for n, row in rows:
        try:
            values = {}
            for key, col in mapping.items():
                value = row.get(col)
                values[key] = None if value is None else text(value, f"'{col}'")
                if key in ("prompt", "response") and not (values[key] or "").strip():
                    raise BadRow(f"empty '{col}'")
            messages = [{"role": "user", "content": values["prompt"]},
                        {"role": "assistant", "content": values["response"]}]
            system, context = values.get("system"), values.get("context")
            if system and system.strip():
                messages.insert(0, {"role": "system", "content": system})
            c.pair(messages, context=context if context and context.strip() else None)
        except BadRow as e:
            c.quarantine(n, str(e))


class Csv(Reader):
    name = "csv"
    extensions = (".csv",)
    pairs_from_fields = True

    def read(self, c: Collector, stream: BinaryIO) -> None:
        limit = c.limits.max_record_bytes
        held = [0, 0]  # characters of the record being parsed, line number where it started

        def text_lines() -> Iterator[str]:
            for n, line, err in decoded_lines(c, stream, keep_blank=True):
                if err:
                    raise BadFile(f"line {n}: {err}; rest of the file skipped", row=records + 1)
                if not held[0]:
                    held[1] = n
                held[0] += len(line)
                if held[0] > limit:
                    raise BadFile(f"CSV record from line {held[1]} larger than {size_text(limit)} "
                                  "(limits.max_record_bytes; an unclosed quote?); rest of the file skipped",
                                  row=records + 1)
                yield line

        reader = csv.reader(text_lines(), strict=True)
        records = 0
        try:
            header = next(reader, None)
        except csv.Error as e:
            raise BadFile(f"broken CSV header ({error_kind(e)})") from None
        if header is None:
            return  # nothing but blank lines (the caller says so)

        def rows() -> Iterator[tuple[int, dict]]:
            nonlocal records
            while True:
                held[0] = 0
                c.decoder.reset()
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    raise BadFile(f"broken CSV at line {reader.line_num} ({error_kind(e)}); rest of the file skipped",
                                  row=records + 1) from None
                if not values:
                    continue  # a blank line
                records += 1
                if len(values) != len(header):
                    c.quarantine(records, f"row has {len(values)} fields, the header {len(header)}")
                    continue
                yield records, {k: v or None for k, v in zip(header, values, strict=True)}

        read_rows(c, header, rows())
        if not records and not c.file_bad:
            c.quarantine(None, "header only, no rows")


class Parquet(Reader):
    name = "parquet"
    extensions = (".parquet",)
    pairs_from_fields = True

    def read(self, c: Collector, stream: BinaryIO) -> None:
        import pyarrow.parquet as pq

        data = read_whole(stream, c.limits.max_file_bytes)
        if not data:
            return  # an empty file (the caller says so)
        try:
            pf = pq.ParquetFile(io.BytesIO(data))
            meta = pf.metadata
            columns = pf.schema_arrow.names
        except Exception as e:
            raise BadFile(f"cannot parse Parquet ({error_kind(e)})") from None
        inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        lim = c.limits
        if inflated > lim.max_decompressed_bytes:
            raise BadFile(f"Parquet data decompresses to more than {size_text(lim.max_decompressed_bytes)} "
                          "(limits.max_decompressed_bytes)")
        if inflated > RATIO_FLOOR and inflated > lim.max_compression_ratio * len(data):
            raise BadFile(f"Parquet data decompresses more than {lim.max_compression_ratio:g} times its size "
                          "(limits.max_compression_ratio)")
        if meta.num_rows == 0:
            c.quarantine(None, "Parquet file has no rows")
            return
        wanted = [col for col in dict.fromkeys(_wanted(c)) if col in columns]

        def rows() -> Iterator[tuple[int, dict]]:
            n = 0
            try:
                for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted, use_threads=False):
                    for row in batch.to_pylist():
                        n += 1
                        yield n, row
            except Exception as e:
                raise BadFile(f"cannot parse Parquet after row {n} ({error_kind(e)}); rest of the file skipped",
                              row=n + 1) from None

        read_rows(c, columns, rows())


def _wanted(c: Collector) -> list[str]:
    """The columns a table source reads."""
    if c.source.table == "pairs":
        return [c.source.fields[k] for k in ("prompt", "response", "system", "context") if k in c.source.fields]
    return [mapped(c.source, "text")]
