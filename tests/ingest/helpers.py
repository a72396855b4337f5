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


# ---- tool-calling records (OpenAI layout, the key order the openai export writes) ------------------------------

REPO = Path(__file__).resolve().parents[2]
# real ShareGPT tool-calling data (LLaMA-Factory's glaive demo, Apache-2.0): 11 records, the last breaks its schema
GLAIVE_SLICE = REPO / "tests" / "data" / "tool_calls" / "glaive_toolcall_en_slice.json"

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "notify": {"type": "string"}},
                   "required": ["city"]}}}
TIME_TOOL = {"type": "function", "function": {
    "name": "get_time", "description": "Local time", "parameters": {"type": "object", "properties": {
        "tz": {"type": "string", "enum": ["Europe/Paris", "Asia/Tokyo"]}}, "required": ["tz"]}}}
TOOL_RECORDS = [
    {"messages": [  # parallel calls, two results, a final answer
        {"role": "system", "content": "You are a travel helper."},
        {"role": "user", "content": "Weather in Paris and the time in Tokyo? Text Jane Doe at jane.doe@example.com."},
        {"role": "assistant", "tool_calls": [
            {"id": "call_a1", "type": "function",
             "function": {"name": "get_weather",
                          "arguments": "{\"city\": \"Paris\", \"notify\": \"jane.doe@example.com\"}"}},
            {"id": "call_a2", "type": "function",
             "function": {"name": "get_time", "arguments": "{\"tz\": \"Asia/Tokyo\"}"}},
        ]},
        {"role": "tool", "content": "{\"temp_c\": 18, \"sky\": \"cloudy\"}", "tool_call_id": "call_a1"},
        {"role": "tool", "content": "{\"time\": \"21:04\"}", "tool_call_id": "call_a2"},
        {"role": "assistant", "content": "Paris: 18 °C and cloudy. Tokyo: 21:04."},
    ], "tools": [WEATHER_TOOL, TIME_TOOL]},
    {"messages": [  # OpenAI's fine-tuning example shape: the conversation ends with the call
        {"role": "user", "content": "What is the weather in Rome?"},
        {"role": "assistant", "tool_calls": [
            {"id": "call_b1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\"}"}}]},
    ], "tools": [WEATHER_TOOL]},
    {"messages": [  # text and a call in one turn
        {"role": "user", "content": "Time in Paris?"},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_c1", "type": "function",
             "function": {"name": "get_time", "arguments": "{\"tz\": \"Europe/Paris\"}"}}]},
        {"role": "tool", "content": "{\"time\": \"14:04\"}", "tool_call_id": "call_c1"},
        {"role": "assistant", "content": "It is 14:04 in Paris."},
    ], "tools": [TIME_TOOL]},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},  # no tools
]
