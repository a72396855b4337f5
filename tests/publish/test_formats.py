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
from pairforge.tasks.publish.tokenizer import IGNORE_INDEX, Tokenizer, TokenizerError, get_tokenizer, model_display_name
from pairforge.tasks.publish.training_formats import (
    FORMATS,
    TOKENIZED,
    check_openai_chat,
    conversation,
    llama2_text,
    render,
    to_alpaca,
    to_llama2,
    to_openai,
    to_sharegpt,
    to_tokenized,
    tokenize_frame,
)
from tests.conftest import CORPORA

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
def tok() -> Tokenizer:
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
    seen: list[Tokenizer] = []
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
                            "axolotl"}
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
