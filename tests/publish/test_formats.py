"""tasks.publish.training_formats (training-file formats, OpenAI's format checks) and tasks.publish.tokenizer (the
GGUF vocabulary)."""

from __future__ import annotations

import io
import json
import threading

import orjson
import polars as pl
import pytest

from pairforge.tasks.core.recipe import ExportOptions, Source
from pairforge.tasks.core.schema import PAIRS
from pairforge.tasks.ingest.sources import read_source_file
from pairforge.tasks.publish.tokenizer import (
    IGNORE_INDEX,
    GGUFTokenizer,
    TokenizerError,
    get_tokenizer,
    model_display_name,
)
from pairforge.tasks.publish.training_formats import (
    FORMATS,
    TOKENIZED,
    check_openai_chat,
    conversation,
    llama2_text,
    llama_factory_info,
    render,
    to_alpaca,
    to_llama2,
    to_openai,
    to_sharegpt,
    to_tokenized,
    tokenize_frame,
)
from tests.conftest import CORPORA
from tests.ingest.helpers import GLAIVE_SLICE, TIME_TOOL, TOOL_RECORDS, WEATHER_TOOL

CHAT_FILE = CORPORA / "chat" / "toy_chat_fine_tuning.jsonl"
LEE = CORPORA / "text" / "lee_background.cor"

SYSTEM = "You are a terse maths tutor."
MULTI = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4."},
    {"role": "user", "content": "And times 3?\nShow the step."},
    {"role": "assistant", "content": "(2+2)×3 = 12."},
]
SINGLE = [
    {"role": "user", "content": "Name a primary colour."},
    {"role": "assistant", "content": "Blue — or «red»."},
]


def pair_row(pid: str, messages: list[dict]) -> dict:
    users = [m["content"] for m in messages if m["role"] == "user"]
    systems = [m["content"] for m in messages if m["role"] == "system"]
    return {"id": pid, "doc_id": pid, "prompt": users[-1], "response": messages[-1]["content"], "messages": messages,
            "system": systems[0] if systems else None, "context": None, "task": "chat", "source": "t",
            "uri": "mem", "license": "MIT", "lang": "en", "origin": "human"}


@pytest.fixture
def pairs() -> pl.DataFrame:
    return pl.DataFrame([pair_row("multi", MULTI), pair_row("single", SINGLE)], schema=PAIRS, orient="row")


@pytest.fixture(scope="module")
def chat_pairs() -> pl.DataFrame:
    """The real OpenAI chat file through the project's own reader (4 pairs; 1 line has no user turn)."""
    source = Source(name="toy", uri=str(CHAT_FILE), format="openai", license="MIT")
    rows = read_source_file(source, str(CHAT_FILE), "en")
    assert rows.rows.height == 4 and rows.quarantine.height == 1
    return rows.rows


@pytest.fixture(scope="module")
def tok() -> GGUFTokenizer:
    return get_tokenizer()


def lines_of(data: bytes) -> list[str]:
    text = data.decode()
    assert text.endswith("\n")
    return text.splitlines()


# ---- conversation ----------------------------------------------------------------------------


def test_conversation_falls_back_to_columns_and_puts_system_first():
    assert conversation({"messages": MULTI, "system": SYSTEM}) == MULTI
    assert conversation({"messages": [], "system": "S", "prompt": "p", "response": "r"}) == [
        {"role": "system", "content": "S"}, {"role": "user", "content": "p"}, {"role": "assistant", "content": "r"}]
    # a system column the messages lack goes first
    assert conversation({"messages": SINGLE, "system": "S"})[0] == {"role": "system", "content": "S"}


# ---- openai ----------------------------------------------------------------------------------


def test_openai_records_keep_order_and_only_known_keys(pairs):
    lines = lines_of(to_openai(pairs))
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records[0] == {"messages": MULTI}
    assert records[1] == {"messages": SINGLE}
    assert records[0]["messages"][0]["role"] == "system"
    assert all(set(m) == {"role", "content"} for r in records for m in r["messages"])
    assert "«red»" in lines[1]  # UTF-8 as is, not \u escapes
    assert check_openai_chat(lines) == {}


def test_openai_from_the_real_chat_file_passes_openais_checks(chat_pairs):
    data = to_openai(chat_pairs)
    lines = lines_of(data)
    assert check_openai_chat(lines) == {}
    # same conversations as the source lines that were kept (the reader drops the one with no user turn)
    source = [json.loads(line) for line in CHAT_FILE.read_text().splitlines()]
    kept = [s for s in source if any(m["role"] == "user" for m in s["messages"])]
    assert [json.loads(line) for line in lines] == kept


def test_openai_leaves_out_empty_messages():
    df = pl.DataFrame([pair_row("e", [{"role": "user", "content": ""}, {"role": "assistant", "content": "Hi"},
                                      {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Ok"}])],
                      schema=PAIRS, orient="row")
    lines = lines_of(to_openai(df))
    assert json.loads(lines[0])["messages"][0] == {"role": "assistant", "content": "Hi"}
    assert check_openai_chat(lines) == {}


def test_check_openai_chat_counts_each_kind_of_error():
    good = json.dumps({"messages": SINGLE})
    broken = [
        good,
        "not json at all",
        "[1, 2]",                                                    # data_type
        json.dumps({"prompt": "x", "completion": "y"}),              # missing_messages_list
        json.dumps({"messages": []}),                                # missing_messages_list
        json.dumps({"messages": [{"role": "user", "content": "hi"},  # message_missing_key + missing_content
                                 {"role": "assistant"}]}),
        json.dumps({"messages": [{"role": "user", "content": "hi", "lang": "en"},  # message_unrecognized_key
                                 {"role": "assistant", "content": "yo"}]}),
        json.dumps({"messages": [{"role": "human", "content": "hi"},  # unrecognized_role + no assistant
                                 {"role": "gpt", "content": "yo"}]}),
        json.dumps({"messages": [{"role": "user", "content": ["a", "list"]},  # missing_content (not a string)
                                 {"role": "assistant", "content": "yo", "weight": 0}]}),
    ]
    assert check_openai_chat(broken) == {
        "invalid_json": 1,
        "data_type": 1,
        "missing_messages_list": 2,
        "message_missing_key": 1,
        "missing_content": 2,
        "message_unrecognized_key": 1,
        "unrecognized_role": 2,
        "example_missing_assistant_message": 1,
    }
    assert check_openai_chat([good]) == {}
    assert check_openai_chat(f"{good}\n{good}\n".split("\n")) == {}  # the empty string after the last newline
    # function calls need no content; tool and function roles are known
    call = {"role": "assistant", "content": "", "function_call": {"name": "f", "arguments": "{}"}}
    assert check_openai_chat([json.dumps({"messages": [SINGLE[0], call]})]) == {}
    assert check_openai_chat([json.dumps({"messages": [{"role": "tool", "content": "42"}, SINGLE[1]]})]) == {}


# ---- alpaca / sharegpt -----------------------------------------------------------------------


def test_alpaca_folds_earlier_turns_into_input(pairs):
    data = to_alpaca(pairs)
    records = json.loads(data)
    assert records == [
        {"instruction": "And times 3?\nShow the step.",
         "input": f"System: {SYSTEM}\nUser: What is 2+2?\nAssistant: 4.",
         "output": "(2+2)×3 = 12."},
        {"instruction": "Name a primary colour.", "input": "", "output": "Blue — or «red»."},
    ]
    assert data.count(b"\n") == 4  # "[", one line per record, "]"


def test_alpaca_and_sharegpt_of_the_real_chat_file(chat_pairs):
    alpaca = json.loads(to_alpaca(chat_pairs))
    assert [r["instruction"] for r in alpaca] == chat_pairs["prompt"].to_list()
    assert [r["output"] for r in alpaca] == chat_pairs["response"].to_list()
    assert alpaca[2]["input"] == ""  # single turn, no system prompt
    assert alpaca[1]["input"].count("\nUser: ") == 3 and alpaca[1]["input"].startswith("System: ")
    sharegpt = json.loads(to_sharegpt(chat_pairs))
    assert [len(r["conversations"]) for r in sharegpt] == chat_pairs["messages"].list.len().to_list()


def test_sharegpt_roles(pairs):
    records = json.loads(to_sharegpt(pairs))
    assert records[0] == {"conversations": [
        {"from": "system", "value": SYSTEM},
        {"from": "human", "value": "What is 2+2?"},
        {"from": "gpt", "value": "4."},
        {"from": "human", "value": "And times 3?\nShow the step."},
        {"from": "gpt", "value": "(2+2)×3 = 12."},
    ]}
    assert records[1] == {"conversations": [{"from": "human", "value": SINGLE[0]["content"]},
                                            {"from": "gpt", "value": SINGLE[1]["content"]}]}
    assert json.loads(to_sharegpt(pairs.clear())) == [] == json.loads(to_alpaca(pairs.clear()))


# ---- llama2 ----------------------------------------------------------------------------------


def test_llama2_layout_exactly(pairs):
    lines = lines_of(to_llama2(pairs))
    assert [set(json.loads(line)) for line in lines] == [{"text"}, {"text"}]
    assert json.loads(lines[0])["text"] == (
        "<s>[INST] <<SYS>>\nYou are a terse maths tutor.\n<</SYS>>\n\nWhat is 2+2? [/INST] 4. </s>"
        "<s>[INST] And times 3?\nShow the step. [/INST] (2+2)×3 = 12. </s>"
    )
    # no <<SYS>> block without a system prompt
    assert json.loads(lines[1])["text"] == "<s>[INST] Name a primary colour. [/INST] Blue — or «red». </s>"


def test_llama2_strips_and_merges_to_alternate():
    msgs = [{"role": "system", "content": " S \n"}, {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "a"}, {"role": "tool", "content": "b "},
            {"role": "assistant", "content": " c"}]
    assert llama2_text(msgs) == "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\n [/INST] Hello. </s><s>[INST] a\n\nb [/INST] c </s>"


# ---- tokenizer -------------------------------------------------------------------------------


def test_tokenizer_basics(tok):
    assert tok.name == "SmolLM2-135M-Instruct (GGUF vocab)"
    assert model_display_name("/x/SmolLM2-135M-Instruct.Q4_1.gguf") == "SmolLM2-135M-Instruct"
    assert tok.vocab_size == 49152 and tok.chat_template_source == "gguf"
    ids = tok.encode("Hello world")
    assert ids == [19556, 905] and tok.decode(ids) == "Hello world"
    assert tok.encode("<|im_end|>", special=True) == [tok.eos_id]
    assert len(tok.encode("<|im_end|>")) > 1  # plain text unless special
    assert tok.count(["Hello world", "", "Hello"]) == [2, 0, 1]
    text = "Ünïcödé — 日本語のテキスト 🎉\n\ttabs"
    assert tok.decode(tok.encode(text)) == text


def test_get_tokenizer_is_one_per_process_and_thread_safe(tok):
    seen: list[GGUFTokenizer] = []
    threads = [threading.Thread(target=lambda: seen.append(get_tokenizer())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and all(t is tok for t in seen)
    assert get_tokenizer(tok.path) is tok
    with pytest.raises(TokenizerError, match="GGUF file not found"):
        get_tokenizer("/nonexistent/model.gguf")


def test_chunk_round_trips_the_corpus(tok):
    text = LEE.read_text(encoding="utf-8")
    chunks = tok.chunk(text, max_tokens=200)
    assert len(chunks) > 10
    assert "".join(chunks) == text  # exact: cuts are on token boundaries of the original bytes
    counts = tok.count(chunks)
    assert max(counts) <= 200 and min(counts[:-1]) >= 150  # a cut moves back at most a quarter window
    assert sum(c[0].isspace() for c in chunks[1:]) >= 0.9 * (len(chunks) - 1)  # cuts before a space: whole words
    assert tok.chunk("short text", 200) == ["short text"] and tok.chunk("", 10) == []


def test_chunk_with_overlap(tok):
    text = LEE.read_text(encoding="utf-8")[:20_000]
    chunks = tok.chunk(text, max_tokens=100, overlap=20)
    assert max(tok.count(chunks)) <= 100
    for a, b in zip(chunks, chunks[1:], strict=False):
        shared = next(k for k in range(min(len(a), len(b)), 0, -1) if a.endswith(b[:k]))
        assert 40 <= shared <= 200  # ~20 tokens of text shared between neighbours
    assert chunks[0] == text[: len(chunks[0])] and text.endswith(chunks[-1])
    with pytest.raises(ValueError, match="overlap"):
        tok.chunk(text, 10, overlap=10)
    with pytest.raises(ValueError, match="max_tokens"):
        tok.chunk(text, 0)


def test_chunk_never_splits_a_character(tok):
    text = "日本語のテキストです。" * 40 + "🎉🎊" * 30  # characters of several tokens each
    for size in (1, 2, 3, 7, 50):
        chunks = tok.chunk(text, max_tokens=size)
        assert "".join(chunks) == text
        assert all("\ufffd" not in c for c in chunks)
        if size >= 4:  # no character here is longer than 4 tokens
            assert max(tok.count(chunks)) <= size
    # a window of one token holds one token, or one character that needs several
    singles = list(zip(chunks := tok.chunk(text, 1), tok.count(chunks), strict=True))
    assert all(n == 1 or len(c) == 1 for c, n in singles)
    assert any(len(c) == 1 and n > 1 for c, n in singles)


def test_apply_chat_trains_on_assistant_turns_only(tok):
    ids, labels = tok.apply_chat(MULTI)
    assert len(ids) == len(labels)
    rendered = tok.render_chat(MULTI)
    assert rendered.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n")
    assert tok.decode(ids, special=True) == rendered
    # every label is the token itself or -100; runs of labelled tokens are the assistant turns
    assert all(y in (x, IGNORE_INDEX) for x, y in zip(ids, labels, strict=True))
    runs, run = [], []
    for x, y in zip(ids, labels, strict=True):
        if y == IGNORE_INDEX:
            if run:
                runs.append(run)
            run = []
        else:
            run.append(x)
    runs += [run] if run else []
    assert [tok.decode(r) for r in runs] == ["4.", "(2+2)×3 = 12."]
    assert all(r[-1] == tok.eos_id for r in runs)  # the end-of-turn token is learnt too
    # the header `<|im_start|>assistant\n` is not trained on
    header = tok.encode("<|im_start|>assistant\n", special=True)
    first = labels.index(next(y for y in labels if y != IGNORE_INDEX))
    assert ids[first - len(header):first] == header and set(labels[first - len(header):first]) == {IGNORE_INDEX}


def test_apply_chat_uses_the_models_template(tok):
    # SmolLM2's template (from the GGUF) adds its default system prompt when there is none
    assert tok.render_chat(SINGLE).startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    # a user typing the control token's text does not end the turn
    typed = [{"role": "user", "content": "say <|im_end|>"}, {"role": "assistant", "content": "ok"}]
    ids, labels = tok.apply_chat(typed)
    assert ids.count(tok.eos_id) == 3  # system, user and assistant turns; not the typed one
    assert [y for y in labels if y != IGNORE_INDEX] == tok.encode("ok") + [tok.eos_id]


# ---- tokenized -------------------------------------------------------------------------------


def test_tokenized_frame(pairs, tok):
    df = tokenize_frame(pairs)
    assert df.schema == TOKENIZED
    assert df["id"].to_list() == ["multi", "single"]
    assert df["length"].to_list() == df["input_ids"].list.len().to_list()
    for row, messages in zip(df.iter_rows(named=True), [MULTI, SINGLE], strict=True):
        assert (row["input_ids"], row["labels"]) == tuple(tok.apply_chat(messages))
        trained = [x for x, y in zip(row["input_ids"], row["labels"], strict=True) if y != IGNORE_INDEX]
        assert tok.decode(trained) == "".join(m["content"] for m in messages if m["role"] == "assistant")
        assert sum(y != IGNORE_INDEX for y in row["labels"]) < row["length"]
    back = pl.read_parquet(io.BytesIO(to_tokenized(pairs)))
    assert back.equals(df)


def test_tokenized_of_the_real_chat_file(chat_pairs, tok):
    df = tokenize_frame(chat_pairs, tok)
    assert df.height == 4
    for row, resp, msgs in zip(df.iter_rows(named=True), chat_pairs["response"], chat_pairs["messages"],
                               strict=True):
        trained = [x for x, y in zip(row["input_ids"], row["labels"], strict=True) if y != IGNORE_INDEX]
        assistants = [m["content"] for m in msgs if m["role"] == "assistant"]
        assert tok.decode(trained) == "".join(assistants) and tok.decode(trained).endswith(resp)
    assert df["length"].max() > 5000  # the "Eat a banana!" answer is long and is not truncated


# ---- registry and recipe ---------------------------------------------------------------------


def test_render_by_name(pairs):
    assert set(FORMATS) == {"openai", "alpaca", "sharegpt", "llama2", "tokenized", "trl-sft", "llama-factory",
                            "axolotl", "trl-dpo", "trl-kto", "llama-factory-dpo"}
    assert render("openai", pairs) == to_openai(pairs)
    assert orjson.loads(render("alpaca", pairs))[1]["output"] == SINGLE[1]["content"]
    with pytest.raises(ValueError, match="unknown export format 'csv'"):
        render("csv", pairs)


def test_recipe_accepts_every_format_and_always_keeps_parquet():
    every = ["parquet", "openai", "alpaca", "sharegpt", "llama2", "tokenized"]
    assert ExportOptions(formats=every).formats == every
    assert ExportOptions(formats=["openai", "tokenized", "openai"]).formats == ["parquet", "openai", "tokenized"]
    assert ExportOptions().formats == ["parquet"]
    with pytest.raises(ValueError, match="unknown export format 'csv'"):
        ExportOptions(formats=["openai", "csv"])


# ---- tool calling and the training frameworks' formats (trl-sft, llama-factory, axolotl) --------------------------


@pytest.fixture(scope="module")
def tool_pairs(tmp_path_factory) -> pl.DataFrame:
    """TOOL_RECORDS (OpenAI layout: parallel calls, a call that ends the conversation, text + call, no tools)
    through the project's own reader."""
    f = tmp_path_factory.mktemp("tools") / "tools.jsonl"
    f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in TOOL_RECORDS))
    got = read_source_file(Source(name="tools", uri=str(f), format="openai", license="MIT"), str(f), "en")
    assert got.quarantine.is_empty() and got.rows.height == len(TOOL_RECORDS)
    return got.rows


def test_openai_tool_records_round_trip_byte_for_byte(tool_pairs):
    lines = to_openai(tool_pairs).splitlines()
    assert lines == [orjson.dumps(r) for r in TOOL_RECORDS]
    assert check_openai_chat([line.decode() for line in lines]) == {}
    # OpenAI's checks still catch a turn with neither content nor calls
    assert check_openai_chat([json.dumps({"messages": [{"role": "assistant"}]})]) == {
        "message_missing_key": 1, "missing_content": 1}


def is_conversational(example: dict) -> bool:
    """trl.data_utils.is_conversational (TRL 1.x, trl/data_utils.py), which SFTTrainer uses to pick the chat path."""
    keys = [k for k in example if k in ("prompt", "chosen", "rejected", "completion", "messages")]
    value = example[keys[0]] if keys else None
    return isinstance(value, list) and isinstance(value[0], dict) and "role" in value[0]


def test_trl_sft_loads_with_datasets_in_trls_documented_shape(tool_pairs, chat_pairs, tmp_path):
    import datasets

    both = pl.concat([tool_pairs, chat_pairs])
    path = tmp_path / "train.jsonl"
    path.write_bytes(render("trl-sft", both))
    ds = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == both.height
    for example, source in zip(ds, [*TOOL_RECORDS, *[None] * chat_pairs.height], strict=True):
        assert is_conversational(example)
        messages = [{k: v for k, v in m.items() if v is not None} for m in example["messages"]]
        assert all(m["role"] in ("system", "user", "assistant", "tool") for m in messages)
        assert all(isinstance(m.get("content"), str) or m.get("tool_calls") for m in messages)
        if source is None:  # a plain chat: role and content only, no tools column value
            assert all(set(m) == {"role", "content"} for m in messages) and example["tools"] is None
            continue
        # TRL's "Tool Calling" example: arguments as objects, a tool turn names its tool; tools as JSON text
        # (SFTTrainer json.loads a string `tools`)
        assert (json.loads(example["tools"]) if example["tools"] else None) == source.get("tools")
        for m, orig in zip(messages, source["messages"], strict=True):
            assert m.get("content") == orig.get("content") and m.get("tool_call_id") == orig.get("tool_call_id")
            if "tool_calls" in orig:
                assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in m["tool_calls"]] == [
                    (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
                    for c in orig["tool_calls"]]
            if orig["role"] == "tool":
                calls = {c["id"]: c["function"]["name"] for o in source["messages"] for c in o.get("tool_calls", [])}
                assert m["name"] == calls[orig["tool_call_id"]]


def sharegpt_converter_accepts(record: dict, info: dict) -> bool:
    """LLaMA-Factory's SharegptDatasetConverter (src/llamafactory/data/converter.py) on one example: the
    conversation's turns must alternate user side (user/observation tags) and model side (assistant/function tags),
    start with the user side and have an even count, else it skips the example."""
    tags, columns = info["tags"], info["columns"]
    turns = record[columns["messages"]]
    if turns and turns[0][tags["role_tag"]] == tags["system_tag"]:
        turns = turns[1:]
    sides = ((tags["user_tag"], tags["observation_tag"]), (tags["assistant_tag"], tags["function_tag"]))
    return all(t[tags["role_tag"]] in sides[i % 2] for i, t in enumerate(turns)) and len(turns) % 2 == 0


def function_formatter_reads(value: str) -> list[tuple[str, str]]:
    """LLaMA-Factory's FunctionFormatter (src/llamafactory/data/formatter.py): a function_call value is JSON, one
    call or a list, each with `name` and `arguments` (json.dumps'ed again for the template)."""
    calls = json.loads(value)
    return [(c["name"], json.dumps(c["arguments"], ensure_ascii=False)) for c in (calls if isinstance(calls, list)
                                                                                   else [calls])]


def test_llama_factory_records_pass_its_converter_and_keep_tool_use(tool_pairs, chat_pairs):
    info = json.loads(llama_factory_info(["train-00000-of-00001.json"])["dataset_info.json"])
    entry = info["train-00000-of-00001"]
    assert entry["file_name"] == "train-00000-of-00001.json" and entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}
    records = json.loads(render("llama-factory", pl.concat([tool_pairs, chat_pairs])))
    assert len(records) == tool_pairs.height + chat_pairs.height
    for r in records:
        assert set(r) == {"conversations", "system", "tools"} and sharegpt_converter_accepts(r, entry)
        assert all(set(t) == {"from", "value"} and isinstance(t["value"], str) for t in r["conversations"])
        for tool in json.loads(r["tools"]) if r["tools"] else []:  # what its tool formatters read
            fn = tool["function"] if tool.get("type") == "function" else tool
            assert isinstance(fn["name"], str) and isinstance(fn["parameters"]["properties"], dict)
    parallel, ends_with_call, text_and_call, plain = records[:4]
    assert parallel["system"] == "You are a travel helper." and json.loads(parallel["tools"]) == [WEATHER_TOOL,
                                                                                                   TIME_TOOL]
    assert [t["from"] for t in parallel["conversations"]] == ["human", "function_call", "observation", "gpt"]
    assert function_formatter_reads(parallel["conversations"][1]["value"]) == [
        ("get_weather", '{"city": "Paris", "notify": "jane.doe@example.com"}'), ("get_time", '{"tz": "Asia/Tokyo"}')]
    # the two results in one observation turn, joined as LLaMA-Factory's own OpenAI converter joins them
    assert parallel["conversations"][2]["value"] == (
        '{"temp_c": 18, "sky": "cloudy"}\n</tool_response>\n<tool_response>\n{"time": "21:04"}')
    assert [t["from"] for t in ends_with_call["conversations"]] == ["human", "function_call"]
    assert function_formatter_reads(text_and_call["conversations"][1]["value"]) == [("get_time",
                                                                                      '{"tz": "Europe/Paris"}')]
    assert plain == {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}],
                     "system": "", "tools": ""}


def test_real_glaive_records_come_back_out_of_the_llama_factory_export():
    raw = json.loads(GLAIVE_SLICE.read_text())
    got = read_source_file(Source(name="g", uri=str(GLAIVE_SLICE), format="sharegpt", license="Apache-2.0"),
                           str(GLAIVE_SLICE), "en")
    records = json.loads(render("llama-factory", got.rows))
    assert len(records) == len(raw) - 1  # the record whose call breaks its schema was quarantined
    for r, source in zip(records, raw, strict=False):
        assert len(r["conversations"]) == len(source["conversations"])
        for turn, orig in zip(r["conversations"], source["conversations"], strict=True):
            assert turn["from"] == orig["from"]
            if orig["from"] == "function_call":
                assert json.loads(turn["value"]) == json.loads(orig["value"])
            else:
                assert turn["value"] == orig["value"]
        tools = json.loads(r["tools"] or "[]")
        assert [t["function"] for t in tools] == json.loads(source["tools"])


def test_sharegpt_export_reads_back_with_the_same_tool_calls(tool_pairs, tmp_path):
    f = tmp_path / "share.json"
    f.write_bytes(to_sharegpt(tool_pairs))
    assert [t["from"] for t in json.loads(f.read_bytes())[0]["conversations"]] == [
        "system", "human", "function_call", "observation", "observation", "gpt"]
    back = read_source_file(Source(name="s", uri=str(f), format="sharegpt", license="MIT"), str(f), "en")
    assert back.quarantine.is_empty()

    def calls(df: pl.DataFrame) -> list:
        return [[(c["function"]["name"], json.loads(c["function"]["arguments"])) for m in msgs if m["tool_calls"]
                 for c in json.loads(m["tool_calls"])] for msgs in df["messages"].to_list()]

    assert calls(back.rows) == calls(tool_pairs) and back.rows["tools"].to_list() == tool_pairs["tools"].to_list()


def test_axolotl_chat_template_records(tool_pairs, tmp_path):
    import datasets

    data = render("axolotl", tool_pairs)
    records = [json.loads(line) for line in data.decode().splitlines()]
    for r, source in zip(records, TOOL_RECORDS, strict=True):
        # axolotl's defaults: field_messages `messages`, message_property_mappings role/content, field_tools `tools`
        assert all(list(m)[:2] == ["role", "content"] and isinstance(m["content"], str) for m in r["messages"])
        assert (json.loads(r["tools"]) if "tools" in r else None) == source.get("tools")
        for m, orig in zip(r["messages"], source["messages"], strict=True):
            if "tool_calls" in orig:  # arguments stay JSON text, as its docs advise (it json.loads them)
                assert m["tool_calls"] == orig["tool_calls"] and m["content"] == orig.get("content", "")
            if orig["role"] == "tool":
                assert m["tool_call_id"] == orig["tool_call_id"] and m["name"] in ("get_weather", "get_time")
    path = tmp_path / "axolotl.jsonl"
    path.write_bytes(data)
    ds = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == len(TOOL_RECORDS) and ds[0]["messages"][2]["tool_calls"][0]["function"]["arguments"] == (
        TOOL_RECORDS[0]["messages"][2]["tool_calls"][0]["function"]["arguments"])


def test_text_formats_show_a_call_as_function_call_text(tool_pairs, tok):
    call = '[{"name":"get_weather","arguments":{"city":"Rome"}}]'
    assert json.loads(to_alpaca(tool_pairs))[1]["output"] == call == tool_pairs["response"][1]
    assert json.loads(to_llama2(tool_pairs).splitlines()[1])["text"] == f"<s>[INST] What is the weather in Rome? " \
                                                                         f"[/INST] {call} </s>"
    row = tokenize_frame(tool_pairs[1:2], tok).row(0, named=True)
    trained = [x for x, y in zip(row["input_ids"], row["labels"], strict=True) if y != IGNORE_INDEX]
    assert tok.decode(trained) == call
