"""tasks.ingest.readers.pairs: alpaca, dolly, sharegpt, openai, prompt-completion and self-instruct; real corpora."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pairforge.tasks.core.schema import PAIRS
from pairforge.tasks.ingest.sources import read_source_file
from tests.conftest import CORPORA
from tests.ingest.helpers import assert_provenance, jsonl, plain_turns, src


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
