"""Training-file formats: a pairs frame (schema PAIRS) -> the bytes of one file, one record per row.

| format        | file (ext)                 | one record per pairs row                               |
|---------------|----------------------------|--------------------------------------------------------|
| openai        | JSONL (.jsonl)             | `{"messages": [{"role", "content"}, ...], "tools"?}`   |
| alpaca        | JSON array (.json)         | `{"instruction", "input", "output"}`                   |
| sharegpt      | JSON array (.json)         | `{"conversations": [{"from", "value"}, ...], "tools"?}`|
| llama2        | JSONL (.jsonl)             | `{"text": "<s>[INST] ... [/INST] ... </s>..."}`        |
| tokenized     | Parquet (.parquet)         | `id`, `input_ids`, `labels`, `length`, `chosen_*`/`rejected_*` |
| trl-sft       | JSONL (.jsonl)             | `{"messages": [...], "tools"?: "<JSON>"}` (TRL)        |
| llama-factory | JSON array (.json)         | `{"conversations", "system", "tools"}` + an index file |
| axolotl       | JSONL (.jsonl)             | `{"messages": [{"role", "content", ...}], "tools"?}`   |
| trl-dpo       | JSONL (.jsonl)             | `{"prompt": [...], "chosen": [..], "rejected": [..]}`  |
| trl-kto       | JSONL (.jsonl)             | `{"prompt", "completion", "label"}`, 2 per row         |
| llama-factory-dpo | JSON array (.json)     | `{"conversations", "chosen", "rejected", ...}` + index |

The conversation of a row is its `messages` (system first when present); a row without messages
falls back to `system`/`prompt`/`response`, and a `system` that `messages` lacks is put first.
`context` is provenance (the passage a pair was grounded in), not part of the conversation.
OpenAI records keep only `role` and `content` (and the tool-use keys) and leave out messages with empty
content and no calls (OpenAI rejects them). `tokenized` uses the recipe's tokenizer and chat template (the
recipe's `tokenizer` section; default the local model's GGUF: tasks.publish.tokenizer.tokenizer_for); a preference
row is tokenized twice more, its chosen and its rejected conversation each on its own (`chosen_input_ids`,
`chosen_labels`, `rejected_input_ids`, `rejected_labels`; null on other rows).

Tool use (stored as tasks.core.tools describes) goes out unchanged in the `openai` export: the record's `tools`
after `messages`, an assistant turn's `tool_calls` after its `content` (left out when it only calls tools), a
`tool` turn's `tool_call_id` after its `content`. An OpenAI record in that key order comes back byte for byte.
`trl-sft` and `axolotl` carry the same turns in their frameworks' documented shapes; `llama-factory` and
`sharegpt` map them to LLaMA-Factory's `function_call` / `observation` turns. Text-only formats (alpaca,
llama2, tokenized) show a call as LLaMA-Factory's function_call text, `[{"name", "arguments"}]`.

Preference exports (trl-dpo, trl-kto, llama-factory-dpo) hold only preference rows (`rejected` set; the chosen
response is the row's last assistant turn, see tasks.core.schema); TRL's in its conversational form (the row's turns
up to the last user turn are `prompt`). Other rows are left out, so a run without preference pairs writes empty
files; the manifest counts a file's records (`Format.count`). A format that needs a file beside its shards
(LLaMA-Factory's dataset_info.json) gives `Format.index`.

Alpaca has no turns, so a multi-turn conversation is folded: `instruction` is the last user turn,
`output` the final assistant turn, and every other message (system prompt and earlier turns, in
order) becomes `input`, one "System: …" / "User: …" / "Assistant: …" line per message, so nothing
the model was shown is lost. A single-turn pair without a system prompt has an empty `input`.

`check_openai_chat` repeats the format checks of OpenAI's chat fine-tuning data-preparation
notebook: an empty result means the file passes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
import polars as pl

from pairforge.tasks.core import storage
from pairforge.tasks.core.tools import calls_text, function_calls

IDS = pl.List(pl.Int32)
TOKENIZED = pl.Schema(
    {"id": pl.String, "input_ids": IDS, "labels": IDS, "length": pl.Int32,
     # preference rows (`rejected` set): each side's conversation tokenized on its own; null on other rows
     "chosen_input_ids": IDS, "chosen_labels": IDS, "rejected_input_ids": IDS, "rejected_labels": IDS}
)

SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}
ALPACA_LABELS = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}

# Llama-2 chat layout (Meta's reference `chat_completion`)
B_INST, E_INST = "[INST]", "[/INST]"
B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"
BOS, EOS = "<s>", "</s>"


# ---- conversations ---------------------------------------------------------------------------


def conversation(row: dict) -> list[dict]:
    """The turns of a pairs row as [{role, content}], system first when present; a tool-use turn adds
    `tool_calls` (the parsed OpenAI list; `content` None when it only calls tools) or `tool_call_id`."""
    msgs = []
    for m in row.get("messages") or []:
        if not m:
            continue
        turn = {"role": m["role"], "content": m.get("content")}
        if m.get("tool_calls"):
            turn["tool_calls"] = orjson.loads(m["tool_calls"])
        elif turn["content"] is None:
            turn["content"] = ""
        if m.get("tool_call_id") is not None:
            turn["tool_call_id"] = m["tool_call_id"]
        msgs.append(turn)
    if not msgs:
        msgs = [{"role": "user", "content": row.get("prompt") or ""},
                {"role": "assistant", "content": row.get("response") or ""}]
    system = row.get("system")
    if system and not any(m["role"] == "system" for m in msgs):
        msgs.insert(0, {"role": "system", "content": system})
    return msgs


def row_tools(row: dict) -> list | None:
    """The row's OpenAI tools list (None when it has none)."""
    return orjson.loads(row["tools"]) if row.get("tools") else None


def turn_text(m: dict) -> str:
    """A turn as plain text: its content, or for a turn that only calls tools the calls as function_call JSON."""
    if m.get("content") or "tool_calls" not in m:
        return m.get("content") or ""
    return calls_text(m["tool_calls"])


def as_text(msgs: list[dict]) -> list[dict]:
    """Turns as plain {role, content} (for formats and templates without tool fields)."""
    return [{"role": m["role"], "content": turn_text(m)} for m in msgs]


def conversations(df: pl.DataFrame) -> list[list[dict]]:
    """Each row's conversation as plain turns (`as_text`): what a chat template renders and the tokenizer counts."""
    return [as_text(conversation(r)) for r in _rows(df)]


def _tool_names(msgs: list[dict]) -> dict[str, str]:
    """{call id: tool name} of the calls in a conversation (a tool turn's `name` in TRL's and axolotl's layouts)."""
    return {c.get("id"): (c.get("function") or {}).get("name") for m in msgs for c in m.get("tool_calls") or []}


def _rows(df: pl.DataFrame, extra: tuple[str, ...] = ()) -> Iterator[dict]:
    """The columns a record builder reads, row by row (`extra`: more, e.g. a preference format's chosen/rejected)."""
    cols = [c for c in ("id", "messages", "tools", "system", "prompt", "response", *extra) if c in df.columns]
    yield from df.select(cols).iter_rows(named=True)


def _jsonl(records: Iterator[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def _json_array(records: Iterator[dict]) -> bytes:
    """A JSON array with one record per line (valid JSON, and diffs and `head` stay readable)."""
    items = [orjson.dumps(r) for r in records]
    return b"[\n" + b",\n".join(items) + b"\n]\n" if items else b"[]\n"


# ---- record builders (one row's conversation -> one record) ------------------------------------


def openai_message(m: dict) -> dict:
    """role, content (left out on a turn that only calls tools), then tool_calls or tool_call_id."""
    out = {"role": m["role"]}
    if m["content"] is not None:
        out["content"] = m["content"]
    for key in ("tool_calls", "tool_call_id"):
        if key in m:
            out[key] = m[key]
    return out


def openai_record(msgs: list[dict], tools: list | None = None) -> dict:
    """A message with empty content and no tool calls is left out (OpenAI rejects it); `tools` when there are any
    (OpenAI's fine-tuning guide, "Fine-tuning examples: tool calling")."""
    record = {"messages": [openai_message(m) for m in msgs if m["content"] or "tool_calls" in m]}
    return {**record, "tools": tools} if tools else record


def alpaca_record(msgs: list[dict]) -> dict:
    msgs = as_text(msgs)
    last = len(msgs) - 1
    out = last if msgs and msgs[last]["role"] == "assistant" else None
    user = next((i for i in range(last, -1, -1) if msgs[i]["role"] == "user"), None)
    rest = [m for i, m in enumerate(msgs) if i not in (out, user)]
    return {
        "instruction": msgs[user]["content"] if user is not None else "",
        "input": "\n".join(f"{ALPACA_LABELS.get(m['role'], m['role'].title())}: {m['content']}" for m in rest),
        "output": msgs[out]["content"] if out is not None else "",
    }


def sharegpt_turn(m: dict) -> dict:
    """One turn in ShareGPT's layout; tool use as LLaMA-Factory's `function_call` (one call: an object, parallel
    calls: a list, as its FunctionFormatter reads them) and `observation` turns (its data/README.md).
    A turn that both says something and calls tools keeps only the calls, as LLaMA-Factory's own OpenAI
    converter does (src/llamafactory/data/converter.py): its sharegpt layout has no turn for both."""
    if "tool_calls" in m:
        calls = function_calls(m["tool_calls"])
        return {"from": "function_call", "value": orjson.dumps(calls[0] if len(calls) == 1 else calls).decode()}
    return {"from": SHAREGPT_ROLES.get(m["role"], m["role"]), "value": m["content"] or ""}


def sharegpt_record(msgs: list[dict], tools: list | None = None) -> dict:
    record = {"conversations": [sharegpt_turn(m) for m in msgs]}
    return {**record, "tools": orjson.dumps(tools).decode()} if tools else record


# LLaMA-Factory joins the results of parallel calls into one observation turn with this (converter.py)
OBSERVATION_JOIN = "\n</tool_response>\n<tool_response>\n"
USER_SIDE = ("human", "observation")  # LLaMA-Factory's odd positions; gpt and function_call take the even ones


def llama_factory_record(msgs: list[dict], tools: list | None = None) -> dict:
    """LLaMA-Factory's sharegpt layout (data/README.md, "Sharegpt Format"): `conversations` alternating user side
    (human, observation) and model side (gpt, function_call), starting with the user side and ending with the
    model side, as its SharegptDatasetConverter requires (else it drops the example); `system` and `tools` (JSON
    text, OpenAI tools, which every LLaMA-Factory tool format reads) as columns, "" when none.

    To alternate: consecutive turns of one side are joined (text with a blank line, tool results with
    LLaMA-Factory's own separator, function_call turns into one list of calls, human and observation into the
    later kind); on the model side calls win over text next to them (the text is dropped, as LLaMA-Factory's
    converter does); a conversation that starts with the model gets an empty human turn first."""
    system = "\n\n".join(m["content"] or "" for m in msgs if m["role"] == "system")
    turns: list[dict] = []
    for m in msgs:
        if m["role"] == "system":
            continue
        turn = sharegpt_turn(m)
        side = turn["from"] in USER_SIDE
        if not turns and not side:
            turns.append({"from": "human", "value": ""})
        prev = turns[-1] if turns else None
        if prev is None or (prev["from"] in USER_SIDE) != side:
            turns.append(turn)
        elif prev["from"] == turn["from"] == "observation":
            prev["value"] += OBSERVATION_JOIN + turn["value"]
        elif prev["from"] == turn["from"] == "function_call":
            calls = [orjson.loads(t["value"]) for t in (prev, turn)]
            prev["value"] = orjson.dumps([c for x in calls for c in (x if isinstance(x, list) else [x])]).decode()
        elif prev["from"] == turn["from"]:
            prev["value"] += "\n\n" + turn["value"]
        elif side:  # human and observation in a row: one turn of the later kind, texts joined
            prev.update({"from": turn["from"], "value": prev["value"] + "\n\n" + turn["value"]})
        elif turn["from"] == "function_call":  # text then calls: the calls win, as in LLaMA-Factory's converter
            prev.update(turn)
    return {"conversations": turns, "system": system, "tools": orjson.dumps(tools).decode() if tools else ""}


def _chat_messages(msgs: list[dict], arguments_as_text: bool) -> list[dict]:
    """Turns as the Hugging Face chat-template layout (transformers' chat_extras, "Tools"): OpenAI's keys, and a
    tool turn also names its tool (`name`), which TRL's example and axolotl's docs show."""
    names = _tool_names(msgs)
    out = []
    for m in msgs:
        turn = openai_message(m)
        if "tool_calls" in m and not arguments_as_text:
            turn["tool_calls"] = [
                {**c, "function": {**c["function"], "arguments": args["arguments"]}} if isinstance(c.get("function"),
                                                                                                   dict) else c
                for c, args in zip(m["tool_calls"], function_calls(m["tool_calls"]), strict=True)]
        if m["role"] == "tool" and names.get(m.get("tool_call_id")):
            turn["name"] = names[m["tool_call_id"]]
        out.append(turn)
    return out


def trl_sft_record(msgs: list[dict], tools: list | None = None) -> dict:
    """TRL's conversational language-modeling layout (docs/source/dataset_formats.md, "Tool Calling"): `messages`,
    call arguments as objects as in its example (chat templates render them with `tojson`); `tools` as JSON text,
    which SFTTrainer json.loads (sft_trainer.py), so that `datasets` does not merge all tools' schemas into one
    struct type."""
    record = {"messages": _chat_messages(msgs, arguments_as_text=False)}
    return {**record, "tools": orjson.dumps(tools).decode()} if tools else record


def axolotl_record(msgs: list[dict], tools: list | None = None) -> dict:
    """axolotl's `type: chat_template` dataset (docs/dataset-formats/conversation.qmd): `messages` of `role` and
    `content` (its default field_messages and message_property_mappings), `tools` (its default field_tools); call
    arguments and tools as JSON text, as its docs advise against `datasets` casting errors (it json.loads both)."""
    turns = _chat_messages(msgs, arguments_as_text=True)
    for t in turns:
        t.setdefault("content", "")  # every turn has the role/content pair the property mappings read
    record = {"messages": [{"role": t.pop("role"), "content": t.pop("content"), **t} for t in turns]}
    return {**record, "tools": orjson.dumps(tools).decode()} if tools else record


def preference_turns(row: dict) -> tuple[list[dict], dict, dict] | None:
    """A preference row (`rejected` set, tasks.core.schema) as (prompt turns, chosen turn, rejected turn) in the chat
    layout of `trl_sft_record`; None for other rows. The chosen turn is the conversation's last assistant turn."""
    if row.get("rejected") is None:
        return None
    msgs = _chat_messages(conversation(row), arguments_as_text=False)
    last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
    if last is None:
        return None
    return msgs[:last], msgs[last], {"role": "assistant", "content": row["rejected"]}


def trl_dpo_record(row: dict) -> dict | None:
    """TRL's conversational preference type (docs/source/dataset_formats.md, "Preference": `prompt`, `chosen`,
    `rejected` as message lists, explicit prompt), read by DPOTrainer, ORPOTrainer, CPOTrainer and RewardTrainer."""
    if (turns := preference_turns(row)) is None:
        return None
    prompt, chosen, rejected = turns
    record = {"prompt": prompt, "chosen": [chosen], "rejected": [rejected]}
    return {**record, "tools": orjson.dumps(tools).decode()} if (tools := row_tools(row)) else record


def trl_kto_records(row: dict) -> list[dict]:
    """TRL's conversational unpaired preference type (dataset_formats.md, "Unpaired preference": `prompt`,
    `completion`, `label`), read by KTOTrainer: a preference row gives its chosen response (label true) and its
    rejected one (label false)."""
    if (record := trl_dpo_record(row)) is None:
        return []
    extra = {"tools": record["tools"]} if "tools" in record else {}
    return [{"prompt": record["prompt"], "completion": record[side], "label": side == "chosen", **extra}
            for side in ("chosen", "rejected")]


def llama2_text(msgs: list[dict]) -> str:
    """Meta's Llama-2 chat layout: `<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST] {assistant} </s>`
    per exchange, the system block only in the first one and only when there is a system prompt.

    Contents are stripped as in Meta's `chat_completion`. Llama-2 needs strict user/assistant
    alternation: consecutive user-side turns (user, tool) or assistant turns are joined with a blank
    line, and an assistant turn with no user turn before it gets an empty instruction."""
    msgs = as_text(msgs)
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
    """OpenAI chat fine-tuning JSONL: `{"messages": [{"role", "content"}, ...]}` per line (+ `tools`)."""
    return _jsonl(openai_record(conversation(r), row_tools(r)) for r in _rows(df))


def to_alpaca(df: pl.DataFrame) -> bytes:
    """A JSON array of `{"instruction", "input", "output"}` (multi-turn folding: see the module doc)."""
    return _json_array(alpaca_record(conversation(r)) for r in _rows(df))


def to_sharegpt(df: pl.DataFrame) -> bytes:
    """A JSON array of `{"conversations": [{"from": system|human|gpt|function_call|observation, "value"}, ...]}`."""
    return _json_array(sharegpt_record(conversation(r), row_tools(r)) for r in _rows(df))


def to_llama2(df: pl.DataFrame) -> bytes:
    """JSONL of `{"text": ...}` in the Llama-2 chat layout."""
    return _jsonl({"text": llama2_text(conversation(r))} for r in _rows(df))


def to_trl_sft(df: pl.DataFrame) -> bytes:
    """TRL SFT JSONL: `{"messages": [...], "tools": "<JSON>"}` (tools only on rows that have them)."""
    return _jsonl(trl_sft_record(conversation(r), row_tools(r)) for r in _rows(df))


def to_llama_factory(df: pl.DataFrame) -> bytes:
    """A JSON array in LLaMA-Factory's sharegpt layout; `dataset_info.json` beside it (`llama_factory_info`)."""
    return _json_array(llama_factory_record(conversation(r), row_tools(r)) for r in _rows(df))


def to_axolotl(df: pl.DataFrame) -> bytes:
    """axolotl chat_template JSONL: `{"messages": [{"role", "content", ...}], "tools": "<JSON>"}`."""
    return _jsonl(axolotl_record(conversation(r), row_tools(r)) for r in _rows(df))


def to_trl_dpo(df: pl.DataFrame) -> bytes:
    """TRL preference JSONL: `{"prompt": [...], "chosen": [...], "rejected": [...]}` per preference row; rows
    without `rejected` are not preference data and are left out."""
    return _jsonl(r for r in map(trl_dpo_record, _rows(df, extra=("rejected",))) if r is not None)


def to_trl_kto(df: pl.DataFrame) -> bytes:
    """TRL unpaired preference JSONL: `{"prompt": [...], "completion": [...], "label": bool}`, two per preference
    row."""
    return _jsonl(rec for r in _rows(df, extra=("rejected",)) for rec in trl_kto_records(r))


# LLaMA-Factory's dataset description for the files above (data/README.md, "Sharegpt Format": `formatting`,
# `columns`, `tags`; the tags are its defaults, spelled out so the file says what it holds)
LLAMA_FACTORY_DESCRIPTION = {
    "formatting": "sharegpt",
    "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
    "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
             "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"},
}


def llama_factory_ranking_record(row: dict) -> dict | None:
    """A preference row in LLaMA-Factory's sharegpt preference layout (data/README.md, "Preference Dataset"):
    `conversations` up to the last user turn (odd length, as its converter requires with `ranking`), `chosen` and
    `rejected` one gpt turn each; None for other rows."""
    msgs = conversation(row)
    last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
    if row.get("rejected") is None or last is None:
        return None
    record = llama_factory_record(msgs[:last], row_tools(row))
    return {**record, "chosen": sharegpt_turn(msgs[last]), "rejected": {"from": "gpt", "value": row["rejected"]}}


def to_llama_factory_dpo(df: pl.DataFrame) -> bytes:
    """A JSON array of LLaMA-Factory preference records (preference rows only); `dataset_info.json` beside it
    marks every file `ranking: true` (`llama_factory_ranking_info`), for its dpo, orpo, kto-paired and rm stages."""
    return _json_array(r for r in map(llama_factory_ranking_record, _rows(df, extra=("rejected",))) if r is not None)


def llama_factory_info(files: list[str]) -> dict[str, bytes]:
    """`dataset_info.json` for the data files beside it (names relative to its folder): one dataset per file,
    named after it (`train-00000-of-00001`), as LLaMA-Factory's `file_name` is one file or one folder. Train with
    `dataset_dir: <that folder>` and `dataset: train-00000-of-00001[,train-00001-of-00002...]`."""
    info = {name.rsplit(".", 1)[0]: {"file_name": name, **LLAMA_FACTORY_DESCRIPTION} for name in files}
    return {"dataset_info.json": json.dumps(info, indent=2).encode() + b"\n"}


def llama_factory_ranking_info(files: list[str]) -> dict[str, bytes]:
    """`dataset_info.json` for `llama-factory-dpo` files: as `llama_factory_info`, plus `ranking: true` and the
    chosen/rejected columns (data/README.md, "Preference Dataset" in the sharegpt format)."""
    columns = {**LLAMA_FACTORY_DESCRIPTION["columns"], "chosen": "chosen", "rejected": "rejected"}
    info = {name.rsplit(".", 1)[0]: {"file_name": name, "ranking": True, **LLAMA_FACTORY_DESCRIPTION,
                                     "columns": columns} for name in files}
    return {"dataset_info.json": json.dumps(info, indent=2).encode() + b"\n"}


def tokenize_frame(df: pl.DataFrame, tokenizer=None) -> pl.DataFrame:
    """`id`, `input_ids`, `labels` (-100 outside assistant turns), `length` per row (schema TOKENIZED), in the
    tokenizer's chat template (default: `tokenizer_for(None)`, the local model's GGUF). A preference row's
    conversation (its chosen response last) is also `chosen_input_ids` / `chosen_labels`, and the same turns with
    the rejected response last are `rejected_input_ids` / `rejected_labels`, tokenized on their own."""
    if tokenizer is None:
        from pairforge.tasks.publish.tokenizer import tokenizer_for

        tokenizer = tokenizer_for(None)
    rows = list(_rows(df, extra=("rejected",)))
    chats = [as_text(conversation(r)) for r in rows]
    encoded = tokenizer.apply_chats(chats)
    preference = [i for i, r in enumerate(rows) if r.get("rejected") is not None and chats[i]
                  and chats[i][-1]["role"] == "assistant"]
    worse = dict(zip(preference, tokenizer.apply_chats(
        [[*chats[i][:-1], {"role": "assistant", "content": rows[i]["rejected"]}] for i in preference]), strict=True))
    side = {i: (encoded[i], worse[i]) for i in preference}
    return pl.DataFrame({
        "id": [r.get("id") for r in rows], "input_ids": [x for x, _ in encoded], "labels": [y for _, y in encoded],
        "length": [len(x) for x, _ in encoded],
        "chosen_input_ids": [side[i][0][0] if i in side else None for i in range(len(rows))],
        "chosen_labels": [side[i][0][1] if i in side else None for i in range(len(rows))],
        "rejected_input_ids": [side[i][1][0] if i in side else None for i in range(len(rows))],
        "rejected_labels": [side[i][1][1] if i in side else None for i in range(len(rows))],
    }, schema=TOKENIZED)


def to_tokenized(df: pl.DataFrame, tokenizer=None) -> bytes:
    """Parquet (zstd) of `tokenize_frame`: ready for a causal-LM trainer, responses-only loss."""
    return storage.parquet_bytes(tokenize_frame(df, tokenizer))


@dataclass(frozen=True)
class Format:
    name: str
    ext: str
    render: Callable[[pl.DataFrame], bytes]
    # files written once beside the format's shards, from the shards' file names: {name: bytes}
    index: Callable[[list[str]], dict[str, bytes]] | None = None
    # records in the file of a pairs frame (the manifest's `rows`); default one per row
    count: Callable[[pl.DataFrame], int] = len
    # render takes `tokenizer=` (the recipe's target tokenizer, tasks.publish.tokenizer.tokenizer_for)
    tokenizer: bool = False

    def records(self, df: pl.DataFrame) -> int:
        return self.count(df)


def _preference_rows(df: pl.DataFrame) -> int:
    return int(df.get_column("rejected").is_not_null().sum()) if "rejected" in df.columns else 0


FORMATS: dict[str, Format] = {
    "openai": Format("openai", "jsonl", to_openai),
    "alpaca": Format("alpaca", "json", to_alpaca),
    "sharegpt": Format("sharegpt", "json", to_sharegpt),
    "llama2": Format("llama2", "jsonl", to_llama2),
    "tokenized": Format("tokenized", "parquet", to_tokenized, tokenizer=True),
    "trl-sft": Format("trl-sft", "jsonl", to_trl_sft),
    "llama-factory": Format("llama-factory", "json", to_llama_factory, llama_factory_info),
    "axolotl": Format("axolotl", "jsonl", to_axolotl),
    "trl-dpo": Format("trl-dpo", "jsonl", to_trl_dpo, count=_preference_rows),
    "trl-kto": Format("trl-kto", "jsonl", to_trl_kto, count=lambda df: 2 * _preference_rows(df)),
    "llama-factory-dpo": Format("llama-factory-dpo", "json", to_llama_factory_dpo, llama_factory_ranking_info,
                                count=_preference_rows),
}


def render(fmt: str, df: pl.DataFrame, tokenizer=None) -> bytes:
    """The file of format `fmt` for a pairs frame (`tokenizer`: for formats that tokenize; default the GGUF's)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format '{fmt}'; expected one of: {', '.join(FORMATS)}")
    spec = FORMATS[fmt]
    return spec.render(df, tokenizer=tokenizer) if spec.tokenizer else spec.render(df)


# ---- OpenAI's format checks ------------------------------------------------------------------

# the notebook's keys, plus the tool-use keys of OpenAI's fine-tuning guide (the notebook predates `tools`)
OPENAI_MESSAGE_KEYS = ("role", "content", "name", "function_call", "weight", "tool_calls", "tool_call_id")
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
            calls = message.get("function_call") or message.get("tool_calls")
            if "role" not in message or ("content" not in message and not calls):
                add("message_missing_key")
            if any(k not in OPENAI_MESSAGE_KEYS for k in message):
                add("message_unrecognized_key")
            if message.get("role") not in OPENAI_ROLES:
                add("unrecognized_role")
            content = message.get("content")
            if (not content and not calls) or not isinstance(content, str | None) or (content is None and not calls):
                add("missing_content")
        if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
            add("example_missing_assistant_message")
    return errors
