"""Helpers shared by the ingest tests: a Source in one call, reading a source like ingest does, JSONL files,
and the provenance every row must carry."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pairforge.tasks.core.recipe import Source
from pairforge.tasks.ingest.sources import read_source_file, resolve_source_files


def src(uri, fmt, **kw) -> Source:
    return Source(name=kw.pop("name", "src"), uri=str(uri), format=fmt, license=kw.pop("license", "MIT"), **kw)


def read_all(source: Source, lang: str = "en"):
    """Read every file of a source like ingest does; returns (rows, quarantine) concatenated."""
    got = [read_source_file(source, uri, lang) for uri, _ in resolve_source_files(source)]
    return pl.concat([g.rows for g in got]), pl.concat([g.quarantine for g in got])


def jsonl(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def assert_provenance(rows: pl.DataFrame, source: Source, lang: str = "en") -> None:
    """Every row names its source, file, license and language; one id per distinct content."""
    assert len(rows)
    assert set(rows["source"]) == {source.name}
    assert set(rows["license"]) == {source.license}
    assert set(rows["lang"]) == {lang}
    assert rows["uri"].null_count() == 0 and all(rows["uri"].str.len_chars() > 0)
    content = ["text"] if "text" in rows.columns else ["messages"]
    assert rows["id"].null_count() == 0
    assert rows.select("id").n_unique() == rows.select(content).n_unique() == rows.select(["id", *content]).n_unique()


def plain_turns(messages: list[dict] | None) -> list[dict] | None:
    """Turns as {role, content}: the tool-use fields of the messages struct (null on plain turns) left out."""
    return None if messages is None else [{k: v for k, v in m.items() if v is not None} for m in messages]
