"""The preference exports (tasks/publish/training_formats.py: trl-dpo, trl-kto, llama-factory-dpo) against TRL's
documented dataset types (docs/source/dataset_formats.md: "Preference", "Unpaired preference", conversational form)
and LLaMA-Factory's sharegpt preference layout (data/README.md, converter.py), loaded with `datasets` as a trainer
would load them."""

from __future__ import annotations

import json

import polars as pl

from pairforge.tasks.core.schema import PAIRS, conform
from pairforge.tasks.publish.training_formats import FORMATS, llama_factory_ranking_info, render
from tests.publish.test_formats import is_conversational, sharegpt_converter_accepts

SYSTEM = "Answer in one sentence."
TURNS = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hi"},
         {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "What colour is the sky?"},
         {"role": "assistant", "content": "It is blue."}]


def frame() -> pl.DataFrame:
    rows = [
        {"id": "multi", "prompt": TURNS[3]["content"], "response": "It is blue.", "messages": TURNS,
         "system": SYSTEM, "rejected": "Green, obviously.", "chosen_score": 5.0, "rejected_score": 2.0, "margin": 3.0},
        {"id": "single", "prompt": "Name a prime.", "response": "7",
         "messages": [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7"}],
         "rejected": "8", "chosen_score": 1.0, "rejected_score": 0.0, "margin": 1.0},
        {"id": "plain", "prompt": "Say hi.", "response": "Hi.",  # no rejected response: not preference data
         "messages": [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi."}]},
    ]
    return conform(pl.DataFrame(rows, schema_overrides={"messages": PAIRS["messages"]}), "pairs")


def load(tmp_path, fmt: str):
    import datasets

    path = tmp_path / f"{fmt}.jsonl"
    path.write_bytes(render(fmt, frame()))
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))


def clean(messages: list[dict]) -> list[dict]:
    """Messages as `datasets` gives them back, without the keys it fills with None for other rows' fields."""
    return [{k: v for k, v in m.items() if v is not None} for m in messages]


def test_the_formats_are_registered_as_jsonl():
    assert [FORMATS[f].ext for f in ("trl-dpo", "trl-kto", "llama-factory-dpo")] == ["jsonl", "jsonl", "json"]


def test_trl_dpo_is_trls_conversational_preference_type(tmp_path):
    ds = load(tmp_path, "trl-dpo")
    assert ds.num_rows == 2 and set(ds.column_names) == {"prompt", "chosen", "rejected"}  # the plain row left out
    multi, single = ds
    assert is_conversational(multi) and is_conversational(single)
    # explicit prompt: every turn up to the last user turn, system first; one assistant turn each side
    assert clean(multi["prompt"]) == TURNS[:4]
    assert clean(multi["chosen"]) == [{"role": "assistant", "content": "It is blue."}]
    assert clean(multi["rejected"]) == [{"role": "assistant", "content": "Green, obviously."}]
    assert clean(single["prompt"]) == [{"role": "user", "content": "Name a prime."}]
    assert (single["chosen"][0]["content"], single["rejected"][0]["content"]) == ("7", "8")


def test_trl_kto_is_trls_conversational_unpaired_preference_type(tmp_path):
    ds = load(tmp_path, "trl-kto")
    assert ds.num_rows == 4 and set(ds.column_names) == {"prompt", "completion", "label"}
    assert ds.features["label"].dtype == "bool"
    assert [(r["completion"][0]["content"], r["label"]) for r in ds] == [
        ("It is blue.", True), ("Green, obviously.", False), ("7", True), ("8", False)]
    assert all(is_conversational(r) and r["prompt"][-1]["role"] == "user" for r in ds)
    assert clean(ds[0]["prompt"]) == clean(ds[1]["prompt"]) == TURNS[:4]


def test_a_run_without_preference_rows_writes_empty_preference_files():
    plain = frame().filter(pl.col("rejected").is_null())
    assert render("trl-dpo", plain) == b"" and render("trl-kto", plain) == b""


def test_tools_go_with_the_prompt_as_json_text():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    df = frame().head(1).with_columns(tools=pl.lit(json.dumps(tools)))
    [record] = [json.loads(line) for line in render("trl-dpo", df).splitlines()]
    assert json.loads(record["tools"]) == tools


def llama_factory_ranking_accepts(record: dict, info: dict) -> bool:
    """LLaMA-Factory's SharegptDatasetConverter with `ranking` (src/llamafactory/data/converter.py): the prompt's
    turns alternate from the user side and are odd in number; chosen and rejected are one model-side turn each."""
    tags, columns = info["tags"], info["columns"]
    model_side = (tags["assistant_tag"], tags["function_tag"])
    prompt = {**record, columns["messages"]: record[columns["messages"]] + [record[columns["chosen"]]]}
    return (sharegpt_converter_accepts(prompt, info)  # prompt + chosen alternates and is even: prompt is odd
            and all(record[columns[k]][tags["role_tag"]] in model_side for k in ("chosen", "rejected")))


def test_llama_factory_dpo_is_its_sharegpt_preference_layout(tmp_path):
    import datasets

    info = json.loads(llama_factory_ranking_info(["train-00000-of-00001.json"])["dataset_info.json"])
    entry = info["train-00000-of-00001"]
    assert entry["ranking"] is True and entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "conversations", "system": "system", "tools": "tools",
                                "chosen": "chosen", "rejected": "rejected"}
    path = tmp_path / "train-00000-of-00001.json"
    path.write_bytes(render("llama-factory-dpo", frame()))
    records = json.loads(path.read_bytes())
    assert len(records) == 2 and all(llama_factory_ranking_accepts(r, entry) for r in records)
    multi = records[0]
    assert multi["system"] == SYSTEM and [t["value"] for t in multi["conversations"]] == [
        "Hi", "Hello!", "What colour is the sky?"]
    assert (multi["chosen"], multi["rejected"]) == ({"from": "gpt", "value": "It is blue."},
                                                    {"from": "gpt", "value": "Green, obviously."})
    ds = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 2 and ds[1]["rejected"] == {"from": "gpt", "value": "8"}


def test_the_manifest_counts_records_not_rows():
    df = frame()
    assert [FORMATS[f].records(df) for f in ("trl-dpo", "trl-kto", "llama-factory-dpo", "trl-sft")] == [2, 4, 2, 3]
