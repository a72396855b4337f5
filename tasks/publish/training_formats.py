"""Training-file formats: a pairs frame (schema PAIRS) -> the bytes of one file, one record per row.

| format    | file (ext)                 | one record per pairs row                          |
|-----------|----------------------------|---------------------------------------------------|
| openai    | JSONL (.jsonl)             | `{"messages": [{"role", "content"}, ...]}`        |
| alpaca    | JSON array (.json)         | `{"instruction", "input", "output"}`              |
| sharegpt  | JSON array (.json)         | `{"conversations": [{"from", "value"}, ...]}`     |
| llama2    | JSONL (.jsonl)             | `{"text": "<s>[INST] ... [/INST] ... </s>..."}`   |
| tokenized | Parquet (.parquet)         | `id`, `input_ids`, `labels`, `length` (int32)     |

The conversation of a row is its `messages` (system first when present); a row without messages
falls back to `system`/`prompt`/`response`, and a `system` that `messages` lacks is put first.
`context` is provenance (the passage a pair was grounded in), not part of the conversation.
OpenAI records keep only `role` and `content` and leave out messages with empty content (OpenAI
rejects them). `tokenized` uses the local model's tokenizer and chat template (tasks.publish.tokenizer).

Alpaca has no turns, so a multi-turn conversation is folded: `instruction` is the last user turn,
`output` the final assistant turn, and every other message (system prompt and earlier turns, in
order) becomes `input`, one "System: …" / "User: …" / "Assistant: …" line per message, so nothing
the model was shown is lost. A single-turn pair without a system prompt has an empty `input`.

`check_openai_chat` repeats the format checks of OpenAI's chat fine-tuning data-preparation
notebook: an empty result means the file passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
import polars as pl

from pairforge.tasks.core import storage

TOKENIZED = pl.Schema(
    {"id": pl.String, "input_ids": pl.List(pl.Int32), "labels": pl.List(pl.Int32), "length": pl.Int32}
)

SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt", "tool": "tool"}
ALPACA_LABELS = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}

# Llama-2 chat layout (Meta's reference `chat_completion`)
B_INST, E_INST = "[INST]", "[/INST]"
B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"
BOS, EOS = "<s>", "</s>"


# ---- conversations ---------------------------------------------------------------------------


def conversation(row: dict) -> list[dict]:
    """The turns of a pairs row as [{role, content}], system first when present."""
    msgs = [{"role": m["role"], "content": m.get("content") or ""} for m in (row.get("messages") or []) if m]
    if not msgs:
        msgs = [{"role": "user", "content": row.get("prompt") or ""},
                {"role": "assistant", "content": row.get("response") or ""}]
    system = row.get("system")
    if system and not any(m["role"] == "system" for m in msgs):
        msgs.insert(0, {"role": "system", "content": system})
    return msgs


def _rows(df: pl.DataFrame) -> Iterator[dict]:
    cols = [c for c in ("id", "messages", "system", "prompt", "response") if c in df.columns]
    yield from df.select(cols).iter_rows(named=True)


def _jsonl(records: Iterator[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def _json_array(records: Iterator[dict]) -> bytes:
    """A JSON array with one record per line (valid JSON, and diffs and `head` stay readable)."""
    items = [orjson.dumps(r) for r in records]
    return b"[\n" + b",\n".join(items) + b"\n]\n" if items else b"[]\n"


# ---- record builders (one row's conversation -> one record) ------------------------------------


def openai_record(msgs: list[dict]) -> dict:
    """Only `role` and `content`; a message with empty content is left out (OpenAI rejects it)."""
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in msgs if m["content"]]}


def alpaca_record(msgs: list[dict]) -> dict:
    last = len(msgs) - 1
    out = last if msgs and msgs[last]["role"] == "assistant" else None
    user = next((i for i in range(last, -1, -1) if msgs[i]["role"] == "user"), None)
    rest = [m for i, m in enumerate(msgs) if i not in (out, user)]
    return {
        "instruction": msgs[user]["content"] if user is not None else "",
        "input": "\n".join(f"{ALPACA_LABELS.get(m['role'], m['role'].title())}: {m['content']}" for m in rest),
        "output": msgs[out]["content"] if out is not None else "",
    }


def sharegpt_record(msgs: list[dict]) -> dict:
    return {"conversations": [{"from": SHAREGPT_ROLES.get(m["role"], m["role"]), "value": m["content"]}
                              for m in msgs]}


def llama2_text(msgs: list[dict]) -> str:
    """Meta's Llama-2 chat layout: `<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST] {assistant} </s>`
    per exchange, the system block only in the first one and only when there is a system prompt.

    Contents are stripped as in Meta's `chat_completion`. Llama-2 needs strict user/assistant
    alternation: consecutive user-side turns (user, tool) or assistant turns are joined with a blank
    line, and an assistant turn with no user turn before it gets an empty instruction."""
    system = "\n\n".join(m["content"].strip() for m in msgs if m["role"] == "system")
    exchanges: list[list] = []  # [user, assistant | None]
    for m in msgs:
        if m["role"] == "system":
            continue
        content = m["content"].strip()
        if m["role"] == "assistant":
            if not exchanges:
                exchanges.append(["", content])
            elif exchanges[-1][1] is None:
                exchanges[-1][1] = content
            else:
                exchanges[-1][1] += "\n\n" + content
        elif exchanges and exchanges[-1][1] is None:
            exchanges[-1][0] += "\n\n" + content
        else:
            exchanges.append([content, None])
    if not exchanges and system:
        exchanges.append(["", None])
    text = ""
    for i, (user, assistant) in enumerate(exchanges):
        if i == 0 and system:
            user = f"{B_SYS}{system}{E_SYS}{user}"
        text += f"{BOS}{B_INST} {user} {E_INST}"
        text += f" {assistant} {EOS}" if assistant is not None else ""
    return text


# ---- whole files -----------------------------------------------------------------------------


def to_openai(df: pl.DataFrame) -> bytes:
    """OpenAI chat fine-tuning JSONL: `{"messages": [{"role", "content"}, ...]}` per line."""
    return _jsonl(openai_record(conversation(r)) for r in _rows(df))


def to_alpaca(df: pl.DataFrame) -> bytes:
    """A JSON array of `{"instruction", "input", "output"}` (multi-turn folding: see the module doc)."""
    return _json_array(alpaca_record(conversation(r)) for r in _rows(df))


def to_sharegpt(df: pl.DataFrame) -> bytes:
    """A JSON array of `{"conversations": [{"from": system|human|gpt, "value"}, ...]}`."""
    return _json_array(sharegpt_record(conversation(r)) for r in _rows(df))


def to_llama2(df: pl.DataFrame) -> bytes:
    """JSONL of `{"text": ...}` in the Llama-2 chat layout."""
    return _jsonl({"text": llama2_text(conversation(r))} for r in _rows(df))


def tokenize_frame(df: pl.DataFrame, tokenizer=None) -> pl.DataFrame:
    """`id`, `input_ids`, `labels` (-100 outside assistant turns), `length` per row (schema TOKENIZED)."""
    if tokenizer is None:
        from pairforge.tasks.publish.tokenizer import get_tokenizer

        tokenizer = get_tokenizer()
    ids, inputs, labels = [], [], []
    for r in _rows(df):
        x, y = tokenizer.apply_chat(conversation(r))
        ids.append(r.get("id"))
        inputs.append(x)
        labels.append(y)
    return pl.DataFrame({"id": ids, "input_ids": inputs, "labels": labels,
                         "length": [len(x) for x in inputs]}, schema=TOKENIZED)


def to_tokenized(df: pl.DataFrame, tokenizer=None) -> bytes:
    """Parquet (zstd) of `tokenize_frame`: ready for a causal-LM trainer, responses-only loss."""
    return storage.parquet_bytes(tokenize_frame(df, tokenizer))


@dataclass(frozen=True)
class Format:
    name: str
    ext: str
    render: Callable[[pl.DataFrame], bytes]


FORMATS: dict[str, Format] = {
    "openai": Format("openai", "jsonl", to_openai),
    "alpaca": Format("alpaca", "json", to_alpaca),
    "sharegpt": Format("sharegpt", "json", to_sharegpt),
    "llama2": Format("llama2", "jsonl", to_llama2),
    "tokenized": Format("tokenized", "parquet", to_tokenized),
}


def render(fmt: str, df: pl.DataFrame) -> bytes:
    """The file of format `fmt` for a pairs frame."""
    try:
        return FORMATS[fmt].render(df)
    except KeyError:
        raise ValueError(f"unknown export format '{fmt}'; expected one of: {', '.join(FORMATS)}") from None


# ---- OpenAI's format checks ------------------------------------------------------------------

OPENAI_MESSAGE_KEYS = ("role", "content", "name", "function_call", "weight")
OPENAI_ROLES = ("system", "user", "assistant", "function", "tool")


def check_openai_chat(lines: list[str]) -> dict[str, int]:
    """Format errors by kind, as OpenAI's chat fine-tuning data-prep notebook counts them; `{}` passes.

    Kinds: data_type (a line that is not a JSON object; `invalid_json` when it is not JSON at all),
    missing_messages_list, message_missing_key, message_unrecognized_key, unrecognized_role,
    missing_content, example_missing_assistant_message. Blank lines are skipped."""
    errors: dict[str, int] = {}

    def add(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    for line in lines:
        if not line.strip():  # e.g. the "" after a file's last newline when split on "\n"
            continue
        try:
            ex = orjson.loads(line)
        except orjson.JSONDecodeError:
            add("invalid_json")
            continue
        if not isinstance(ex, dict):
            add("data_type")
            continue
        messages = ex.get("messages")
        if not messages or not isinstance(messages, list):
            add("missing_messages_list")
            continue
        for message in messages:
            if not isinstance(message, dict):
                add("message_missing_key")
                continue
            if "role" not in message or "content" not in message:
                add("message_missing_key")
            if any(k not in OPENAI_MESSAGE_KEYS for k in message):
                add("message_unrecognized_key")
            if message.get("role") not in OPENAI_ROLES:
                add("unrecognized_role")
            content, function_call = message.get("content"), message.get("function_call")
            if (not content and not function_call) or not isinstance(content, str):
                add("missing_content")
        if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
            add("example_missing_assistant_message")
    return errors
