"""Tables: `csv` and `parquet`. Rows are documents (column `text`, or `fields: {text: ...}`), or pairs when
`fields` maps `prompt` and `response` (optional `system` and `context` columns)."""

from __future__ import annotations

import io
from typing import BinaryIO

import polars as pl

from pairforge.tasks.ingest.readers.base import BadRow, Collector, Reader, mapped, text


def read_table(c: Collector, frame: pl.DataFrame) -> None:
    if c.source.table == "pairs":
        read_table_pairs(c, frame)
        return
    key = mapped(c.source, "text")
    if key not in frame.columns:
        c.quarantine(None, f"wrong columns: no column '{key}' (has: {', '.join(frame.columns[:10])})")
        return
    for n, value in enumerate(frame.get_column(key).to_list(), start=1):
        if value is None or (isinstance(value, str) and not value.strip()):
            c.quarantine(n, f"empty '{key}'")
            continue
        try:
            c.document(value)
        except BadRow as e:
            c.quarantine(n, str(e))


def read_table_pairs(c: Collector, frame: pl.DataFrame) -> None:
    """CSV/Parquet rows -> pairs through `fields` (prompt, response; optional system, context)."""
    mapping = {k: c.source.fields[k] for k in ("prompt", "response", "system", "context") if k in c.source.fields}
    missing = [col for col in mapping.values() if col not in frame.columns]
    if missing:
        c.quarantine(None, f"wrong columns: no column {', '.join(repr(m) for m in missing)} "
                           f"(has: {', '.join(frame.columns[:10])})")
        return
    for n, row in enumerate(frame.select(list(dict.fromkeys(mapping.values()))).iter_rows(named=True), start=1):
        try:
            values = {}
            for key, col in mapping.items():
                value = row[col]
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
        try:
            frame = pl.read_csv(io.BytesIO(stream.read()), infer_schema=False, encoding="utf8")
        except Exception as e:  # polars raises ComputeError/NoDataError with a message worth keeping
            c.quarantine(None, f"cannot parse CSV: {str(e).splitlines()[0][:200]}")
            return
        read_table(c, frame)


class Parquet(Reader):
    name = "parquet"
    extensions = (".parquet",)
    pairs_from_fields = True

    def read(self, c: Collector, stream: BinaryIO) -> None:
        try:
            frame = pl.read_parquet(io.BytesIO(stream.read()))
        except Exception as e:
            c.quarantine(None, f"cannot parse Parquet: {str(e).splitlines()[0][:200]}")
            return
        read_table(c, frame)
