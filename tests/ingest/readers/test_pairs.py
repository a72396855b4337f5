"""tasks.ingest.readers.pairs: alpaca, dolly, sharegpt, openai, prompt-completion and self-instruct; real corpora."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import polars as pl
import pytest

from pairforge.tasks.core.schema import PAIRS
from pairforge.tasks.ingest.sources import read_source_file
from tests.conftest import CORPORA
from tests.ingest.helpers import (
    GLAIVE_SLICE,
    TIME_TOOL,
    TOOL_RECORDS,
    WEATHER_TOOL,
    assert_provenance,
    jsonl,
    plain_turns,
    src,
)


def test_alpaca_with_and_without_input(tmp_path):
    f = jsonl(tmp_path / "alpaca.jsonl", [
        {"instruction": "Translate to French", "input": "cat", "output": "chat"},
        {"instruction": "Name a colour", "input": "", "output": "blue"},
        {"instruction": "No input key", "output": "fine"},
        {"instruction": "No output"},
    ])
    s = src(f, "alpaca", license="Apache-2.0")
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert got.rows.select("prompt", "response").rows() == [
        ("Translate to French\n\ncat", "chat"),
        ("Name a colour", "blue"),
        ("No input key", "fine"),
    ]
    first = got.rows.row(0, named=True)
    assert plain_turns(first["messages"]) == [{"role": "user", "content": "Translate to French\n\ncat"},
                                 {"role": "assistant", "content": "chat"}]
    assert first["system"] is None and first["origin"] == "imported"
    assert got.quarantine.select("row", "reason").rows() == [(4, "missing field 'output'")]
    assert_provenance(got.rows, s)


def test_openai_multi_turn(tmp_path):
    turns = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
    ]
    f = jsonl(tmp_path / "chat.jsonl", [
        {"messages": turns},
        {"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "no user"}]},
        {"messages": [{"role": "user", "content": "ends with user"}]},
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"},
                      {"role": "user", "content": "follow-up, unanswered"}]},
        {"messages": [{"role": "wizard", "content": "?"}, {"role": "assistant", "content": "a"}]},
        {"messages": "not a list"},
    ])
    s = src(f, "openai")
    got = read_source_file(s, str(f), "en")
    assert len(got.rows) == 1
    row = got.rows.row(0, named=True)
    assert row["prompt"] == "What is 2+2?"  # the last user turn
    assert row["response"] == "4"  # the final assistant turn (content parts joined)
    assert row["system"] == "Be brief."
    assert [m["role"] for m in row["messages"]] == [t["role"] for t in turns]
    assert plain_turns(row["messages"])[2] == {"role": "assistant", "content": "Hello."}
    reasons = dict(got.quarantine.select("row", "reason").rows())
    assert reasons[2] == "conversation has no user turn"
    assert reasons[3] == reasons[4] == "conversation does not end with an assistant turn"
    assert "role must be one of" in reasons[5]
    assert reasons[6] == "messages is not a list"


def test_prompt_completion_with_mapping(tmp_path):
    f = jsonl(tmp_path / "pc.jsonl", [
        {"question": "Capital of France?", "answer": "Paris"},
        {"question": "Empty answer", "answer": "   "},
    ])
    got = read_source_file(src(f, "prompt-completion", fields={"prompt": "question", "completion": "answer"}),
                           str(f), "en")
    assert got.rows.select("prompt", "response").rows() == [("Capital of France?", "Paris")]
    assert got.quarantine.select("row", "reason").rows() == [(2, "empty response")]


def test_pair_ids_stable_and_distinct(tmp_path):
    f = jsonl(tmp_path / "pc.jsonl", [{"prompt": "a", "completion": "b"}, {"prompt": "a", "completion": "c"}])
    s = src(f, "prompt-completion")
    ids = read_source_file(s, str(f), "en").rows["id"].to_list()
    assert ids == read_source_file(s, str(f), "en").rows["id"].to_list()
    assert ids[0] != ids[1]


def test_real_openai_chat_corpus():
    path = CORPORA / "chat" / "toy_chat_fine_tuning.jsonl"
    raw = [json.loads(line) for line in path.read_text().splitlines()]
    s = src(path, "openai", name="toy-chat")
    got = read_source_file(s, str(path), "en")
    no_user = [i + 1 for i, r in enumerate(raw) if not any(m["role"] == "user" for m in r["messages"])]
    assert len(raw) == 5 and len(no_user) == 1
    assert got.quarantine.select("row", "reason").rows() == [(no_user[0], "conversation has no user turn")]
    assert len(got.rows) == 4
    assert_provenance(got.rows, s)
    # the multi-turn record keeps all its turns
    longest = max(raw, key=lambda r: len(r["messages"]))["messages"]
    kept = got.rows.filter(pl.col("messages").list.len() == len(longest))
    assert len(kept) == 1
    assert plain_turns(kept["messages"][0].to_list()) == longest
    assert kept["prompt"][0] == [m for m in longest if m["role"] == "user"][-1]["content"]
    assert kept["response"][0] == longest[-1]["content"]


def test_dolly_with_and_without_context(tmp_path):
    f = jsonl(tmp_path / "dolly.jsonl", [
        {"instruction": "When was the tower built?", "context": "The tower was built in 1889 for the fair.",
         "response": "In 1889.", "category": "closed_qa"},
        {"instruction": "Name three primary colours.", "context": "", "response": "Red, yellow and blue.",
         "category": "brainstorming"},
        {"instruction": "Say hi.", "response": "Hi!"},  # no context, no category keys
        {"instruction": "No response", "context": "", "category": "open_qa"},
        {"instruction": "  ", "context": "", "response": "r", "category": "open_qa"},
    ])
    s = src(f, "dolly", license="CC-BY-SA-3.0")
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert got.rows.select("prompt", "response", "context", "task").rows() == [
        ("When was the tower built?\n\nThe tower was built in 1889 for the fair.", "In 1889.",
         "The tower was built in 1889 for the fair.", "closed_qa"),
        ("Name three primary colours.", "Red, yellow and blue.", None, "brainstorming"),
        ("Say hi.", "Hi!", None, None),
    ]
    assert plain_turns(got.rows["messages"][0].to_list()) == [
        {"role": "user", "content": "When was the tower built?\n\nThe tower was built in 1889 for the fair."},
        {"role": "assistant", "content": "In 1889."},
    ]
    assert set(got.rows["origin"]) == {"imported"} and got.rows["system"].null_count() == 3
    assert got.quarantine.select("row", "reason").rows() == [(4, "missing field 'response'"),
                                                            (5, "empty 'instruction'")]
    assert_provenance(got.rows, s)
    again = read_source_file(s, str(f), "en").rows["id"].to_list()
    assert again == got.rows["id"].to_list() and len(set(again)) == 3


SHAREGPT = [
    {"id": "a", "conversations": [
        {"from": "system", "value": "You are terse."},
        {"from": "human", "value": "Hi"},
        {"from": "gpt", "value": "Hello."},
        {"from": "user", "value": "Capital of Italy?"},
        {"from": "chatgpt", "value": "Rome."},
    ]},
    {"id": "b", "system": "Answer in French.",  # LLaMA-Factory's variant: the system prompt beside the turns
     "conversations": [{"from": "human", "value": "Thank you"}, {"from": "model", "value": "Merci — de rien."}]},
    {"id": "c", "conversations": [{"from": "human", "value": "q"}, {"from": "narrator", "value": "?"},
                                  {"from": "gpt", "value": "a"}]},
    {"id": "d", "conversations": [{"from": "human", "value": "unanswered"}]},
    {"id": "e", "conversations": [{"from": "Human", "value": "Case?"}, {"from": "bard", "value": "Ignored."}]},
    {"id": "f", "conversations": "not a list"},
    {"id": "g", "conversations": [{"from": "human", "value": "q"}, {"value": "no from"}]},
]


def _write_sharegpt(path: Path, layout: str) -> Path:
    if layout == "jsonl":
        return jsonl(path.with_suffix(".jsonl"), SHAREGPT)
    path = path.with_suffix(".json")
    path.write_text(json.dumps(SHAREGPT, indent=2, ensure_ascii=False))  # one pretty-printed array
    return path


@pytest.mark.parametrize("layout", ["jsonl", "array"])
def test_sharegpt_multi_turn_jsonl_and_json_array(tmp_path, layout):
    f = _write_sharegpt(tmp_path / "share", layout)
    s = src(f, "sharegpt", license="Apache-2.0")
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert len(got.rows) == 3
    first = got.rows.row(0, named=True)
    assert plain_turns(first["messages"]) == [
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Capital of Italy?"},
        {"role": "assistant", "content": "Rome."},
    ]
    assert (first["prompt"], first["response"], first["system"]) == ("Capital of Italy?", "Rome.", "You are terse.")
    second = got.rows.row(1, named=True)
    assert second["system"] == "Answer in French."
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant"]
    assert second["response"] == "Merci — de rien."
    assert got.rows.row(2, named=True)["prompt"] == "Case?"  # `from` is matched case-insensitively
    reasons = dict(got.quarantine.select("row", "reason").rows())  # array index + 1 == line number here
    assert sorted(reasons) == [3, 4, 6, 7]
    assert reasons[3].startswith("conversations[1]: unknown from 'narrator'")
    assert reasons[4] == "conversation does not end with an assistant turn"
    assert reasons[6] == "conversations is not a list"
    assert reasons[7].startswith("conversations[1]: unknown from None")
    assert_provenance(got.rows, s)


def test_sharegpt_ids_do_not_depend_on_the_file_layout(tmp_path):
    a = _write_sharegpt(tmp_path / "share", "jsonl")
    b = _write_sharegpt(tmp_path / "share", "array")
    ids_a = read_source_file(src(a, "sharegpt"), str(a), "en").rows["id"].to_list()
    ids_b = read_source_file(src(b, "sharegpt"), str(b), "en").rows["id"].to_list()
    assert ids_a == ids_b and len(set(ids_a)) == 3


def test_self_instruct_one_pair_per_instance(tmp_path):
    f = jsonl(tmp_path / "seed.jsonl", [
        {"id": "seed_task_0", "name": "sentiment", "instruction": "Classify the sentiment.", "is_classification": True,
         "instances": [{"input": "I love it", "output": "positive"}, {"input": "Meh", "output": ""},
                       {"input": "I hate it", "output": "negative"}, "not an object", {"input": "x"}]},
        {"id": "seed_task_1", "name": "joke", "instruction": "Tell a joke.",
         "instances": [{"input": "", "output": "Why did the chicken cross the road?"}], "is_classification": False},
        {"id": "seed_task_2", "name": "nothing", "instruction": "No instances."},
        {"id": "seed_task_3", "name": "empty", "instruction": "Empty instances.", "instances": []},
        {"id": "seed_task_4", "name": "no-instruction", "instances": [{"input": "", "output": "x"}]},
    ])
    s = src(f, "self-instruct", license="Apache-2.0")
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert got.rows.select("prompt", "response", "task").rows() == [
        ("Classify the sentiment.\n\nI love it", "positive", "classification"),
        ("Classify the sentiment.\n\nI hate it", "negative", "classification"),
        ("Tell a joke.", "Why did the chicken cross the road?", None),
    ]
    assert got.quarantine.select("row", "reason").rows() == [
        (1, "instances[1]: empty output"),
        (1, "instances[3]: is a str, expected an object"),
        (1, "instances[4]: missing field 'output'"),
        (3, "no instances"),
        (4, "no instances"),
        (5, "missing field 'instruction'"),
    ]
    assert_provenance(got.rows, s)


@pytest.mark.parametrize("name, records", [("alpaca_seed_tasks.jsonl", 175), ("user_oriented_instructions.jsonl", 252)])
def test_real_self_instruct_corpora(name, records):
    path = CORPORA / "instruct" / name
    raw = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(raw) == records
    expected = [
        (r["instruction"] + (f"\n\n{inst['input']}" if inst["input"].strip() else ""), inst["output"])
        for r in raw for inst in r["instances"] if inst["output"].strip()
    ]
    empty_outputs = sum(1 for r in raw for inst in r["instances"] if not inst["output"].strip())
    assert len(expected) + empty_outputs == sum(len(r["instances"]) for r in raw)
    s = src(path, "self-instruct", name=name.split(".")[0].replace("_", "-"), license="Apache-2.0")
    got = read_source_file(s, str(path), "en")
    assert len(got.rows) == len(expected)  # one pair per instance with an output
    assert len(got.quarantine) == empty_outputs
    assert got.rows.select("prompt", "response").rows() == expected
    assert all(len(m) == 2 for m in got.rows["messages"].to_list())
    assert got.rows["task"].to_list().count("classification") == sum(
        len(r["instances"]) for r in raw if r.get("is_classification"))
    assert_provenance(got.rows, s)
    assert got.rows["id"].n_unique() == len(got.rows)
    assert read_source_file(s, str(path), "en").rows["id"].to_list() == got.rows["id"].to_list()


# ---- tool calling -----------------------------------------------------------------------------------------------


def test_openai_tool_calls_are_kept_as_openai_json(tmp_path):
    f = tmp_path / "tools.jsonl"
    f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in TOOL_RECORDS))
    got = read_source_file(src(f, "openai"), str(f), "en")
    assert got.quarantine.is_empty() and got.rows.schema == PAIRS and len(got.rows) == 4
    rows = got.rows.to_dicts()
    first = rows[0]
    assert json.loads(first["tools"]) == [WEATHER_TOOL, TIME_TOOL]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "tool", "tool", "assistant"]
    call = first["messages"][2]
    assert call["content"] is None and json.loads(call["tool_calls"]) == TOOL_RECORDS[0]["messages"][2]["tool_calls"]
    assert [m["tool_call_id"] for m in first["messages"][3:5]] == ["call_a1", "call_a2"]
    assert first["response"] == "Paris: 18 °C and cloudy. Tokyo: 21:04." and first["prompt"].startswith("Weather")
    # a conversation that ends with a call: the response is the call, as text
    assert json.loads(rows[1]["response"]) == [{"name": "get_weather", "arguments": {"city": "Rome"}}]
    assert rows[2]["messages"][1]["content"] == "Let me check."
    assert rows[3]["tools"] is None and rows[3]["messages"][1]["tool_calls"] is None
    # the tools are part of the id; plain pairs keep the ids they had before tool use was stored
    assert len(set(got.rows["id"])) == 4
    plain = jsonl(tmp_path / "plain.jsonl", [TOOL_RECORDS[3]])
    assert read_source_file(src(plain, "openai"), str(plain), "en").rows["id"][0] == rows[3]["id"]


def test_an_empty_tool_calls_list_is_a_plain_turn(tmp_path):
    f = jsonl(tmp_path / "empty.jsonl", [{"messages": [{"role": "user", "content": "Hi"},
                                                       {"role": "assistant", "content": "Hello", "tool_calls": []}]}])
    got = read_source_file(src(f, "openai"), str(f), "en")
    assert got.quarantine.is_empty() and got.rows["messages"][0][1]["tool_calls"] is None
    assert got.rows["response"].to_list() == ["Hello"]


def test_a_tool_call_that_breaks_its_schema_is_quarantined_with_the_fields_path(tmp_path):
    def record(args: str = '{"city": "Paris"}', name: str = "get_weather", **extra) -> dict:
        msgs = [{"role": "user", "content": "Weather?"},
                {"role": "assistant", "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": name, "arguments": args}}]},
                {"role": "tool", "content": "sunny", "tool_call_id": extra.pop("answers", "c1")},
                {"role": "assistant", "content": "Sunny."}]
        return {"messages": msgs, "tools": extra.pop("tools", [WEATHER_TOOL])}

    f = jsonl(tmp_path / "calls.jsonl", [
        record(),
        record('{"city": 12}'),
        record('{"notify": "jane.doe@example.com"}'),
        record("{'city': 'Paris'}"),
        record(name="get_forecast"),
        record(answers="c9"),
        record(tools={"get_weather": {}}),
        record(tools=None),
        record('{"city": "Lyon"}'),
    ])
    got = read_source_file(src(f, "openai"), str(f), "en")
    assert got.rows["response"].to_list() == ["Sunny.", "Sunny."]  # the rest of the file goes on
    assert got.quarantine.select("row", "reason").rows() == [
        (2, "messages[1].tool_calls[0].function.arguments.city: integer is not of type 'string'"),
        (3, "messages[1].tool_calls[0].function.arguments: 'city' is a required property"),
        (4, "messages[1].tool_calls[0].function.arguments: not valid JSON"),
        (5, "messages[1].tool_calls[0].function.name: 'get_forecast' is not one of the record's tools (get_weather)"),
        (6, "messages[2].tool_call_id: does not name a call made before it"),
        (7, "tools: is object, expected a list of tools"),
        (8, "messages[1].tool_calls[0].function.name: 'get_weather' is not one of the record's tools (none)"),
    ]
    assert "jane" not in " ".join(got.quarantine["reason"])  # reasons never carry values


def test_real_sharegpt_tool_calls_from_llama_factory():
    raw = json.loads(GLAIVE_SLICE.read_text())
    s = src(GLAIVE_SLICE, "sharegpt", name="glaive", license="Apache-2.0")
    got = read_source_file(s, str(GLAIVE_SLICE), "en")
    # the last record is real data whose call sends a list where its tool declares a number
    assert got.quarantine.select("row", "reason").rows() == [
        (11, "conversations[3].value.arguments.calories_per_item: array is not of type 'number'")]
    assert len(got.rows) == 10
    assert_provenance(got.rows, s)
    calls = observations = 0
    for r, row in zip(raw, got.rows.to_dicts(), strict=False):
        tools = json.loads(row["tools"] or "[]")  # "[]" in the file: no tools
        assert [t["function"] for t in tools] == json.loads(r["tools"])  # bare functions, stored as OpenAI tools
        assert len(row["messages"]) == len(r["conversations"])
        for turn, m in zip(r["conversations"], row["messages"], strict=True):
            if turn["from"] == "function_call":
                calls += 1
                value = json.loads(turn["value"])
                (call,) = json.loads(m["tool_calls"])
                assert m["role"] == "assistant" and m["content"] is None and call["type"] == "function"
                assert call["function"]["name"] == value["name"]
                assert json.loads(call["function"]["arguments"]) == value["arguments"]  # JSON text, as OpenAI sends
                answered = call["id"]
            elif turn["from"] == "observation":
                observations += 1
                assert m == {"role": "tool", "content": turn["value"], "tool_calls": None, "tool_call_id": answered}
            else:
                assert m["content"] == turn["value"] and m["tool_calls"] is None
    assert calls >= 8 and observations >= 7


def test_sharegpt_parallel_calls_and_bad_function_call_turns(tmp_path):
    tools = json.dumps([WEATHER_TOOL["function"], TIME_TOOL["function"]])
    both = json.dumps([{"name": "get_weather", "arguments": {"city": "Oslo"}},
                       {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}])

    def rec(value: str) -> dict:
        return {"conversations": [{"from": "human", "value": "Oslo weather and Paris time?"},
                                  {"from": "function_call", "value": value},
                                  {"from": "observation", "value": "ok"}, {"from": "gpt", "value": "Done."}],
                "tools": tools}

    f = tmp_path / "s.json"
    f.write_text(json.dumps([rec(both), rec("{not json"), rec('[{"name": "get_time", "arguments": {"tz": 1}}]'),
                             rec('["get_time"]')]))
    got = read_source_file(src(f, "sharegpt"), str(f), "en")
    assert got.quarantine.select("row", "reason").rows() == [
        (2, "conversations[1].value: not valid JSON"),
        (3, "conversations[1].value[0].arguments.tz: integer is not of type 'string'"),
        (4, "conversations[1].value[0]: is a str, expected an object with name and arguments"),
    ]
    (row,) = got.rows.to_dicts()
    calls = json.loads(row["messages"][1]["tool_calls"])
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("call_0", "get_weather", '{"city": "Oslo"}'), ("call_1", "get_time", '{"tz": "Europe/Paris"}')]
    assert row["messages"][2]["tool_call_id"] is None  # one result for two calls: which one it answers is unknown
