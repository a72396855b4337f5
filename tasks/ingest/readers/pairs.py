"""Pair dialects, one JSON record per pair (or per instance): `alpaca`, `dolly`, `sharegpt`, `openai`,
`prompt-completion` and `self-instruct`. Field names go through the source's `fields` mapping.

Tool use (stored as tasks.core.tools describes): `openai` records with `tools`, assistant `tool_calls` and `tool`
turns; `sharegpt` records with LLaMA-Factory's `function_call` / `observation` turns and `tools` column. Every call
is checked against its tool's JSON schema; a record with a bad call is quarantined with the field's path."""

from __future__ import annotations

import json

import orjson

from pairforge.tasks.core import tools as toolcalls
from pairforge.tasks.ingest.readers.base import (
    ROLES,
    BadRow,
    Collector,
    get,
    label,
    mapped,
    optional_text,
    required_text,
    text,
    with_input,
)
from pairforge.tasks.ingest.readers.records import RecordReader

# ShareGPT's `from` -> our role
SHAREGPT_ROLES = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant", "bard": "assistant", "model": "assistant",
    "system": "system",
}
# LLaMA-Factory's tool turns (its data/README.md, "Sharegpt Format"): a call the assistant makes, the tool's result
SHAREGPT_TOOL_TURNS = {"function_call": "assistant", "observation": "tool"}


def record_tools(obj: dict, key: str) -> tuple[list | None, dict[str, dict]]:
    """A record's tools (list or JSON text; absent, null or empty: none) and their parameter schemas."""
    raw = get(obj, key, required=False)
    if raw is None or raw == "" or raw == []:
        return None, {}
    try:
        return toolcalls.parse_tools(raw, key)
    except toolcalls.ToolError as e:
        raise BadRow(str(e)) from None


def tools_text(tools: list | None) -> str | None:
    return orjson.dumps(tools).decode() if tools else None


class Alpaca(RecordReader):
    """`instruction`, `input` (optional), `output`."""

    name = "alpaca"
    table = "pairs"

    def make(self, c: Collector, obj: dict) -> None:
        instruction = text(get(obj, mapped(c.source, "instruction")), "instruction")
        extra = get(obj, mapped(c.source, "input"), required=False)
        output = text(get(obj, mapped(c.source, "output")), "output")
        prompt = with_input(instruction, text(extra, "input") if extra else None)
        c.pair([{"role": "user", "content": prompt}, {"role": "assistant", "content": output}])


class Dolly(RecordReader):
    """databricks-dolly-15k: instruction, context (optional), response, category."""

    name = "dolly"
    table = "pairs"

    def make(self, c: Collector, obj: dict) -> None:
        instruction = required_text(obj, mapped(c.source, "instruction"))
        context = optional_text(obj, mapped(c.source, "context"))
        response = text(get(obj, mapped(c.source, "response")), "response")
        category = optional_text(obj, mapped(c.source, "category"))
        c.pair([{"role": "user", "content": with_input(instruction, context)},
                {"role": "assistant", "content": response}], context=context, task=category)


class ShareGPT(RecordReader):
    """ShareGPT: `conversations: [{from, value}]`, multi-turn; an optional top-level `system` string.

    LLaMA-Factory's tool turns: `function_call` (value: JSON `{"name", "arguments"}`, or a list of them for parallel
    calls) becomes an assistant turn with OpenAI `tool_calls` (ids `call_<n>` in order, as the file has none);
    `observation` becomes a `tool` turn answering the call before it (when that turn made one call); the `tools`
    column (JSON text or a list, bare functions or OpenAI tools) is stored as OpenAI tools."""

    name = "sharegpt"
    table = "pairs"
    extensions = (".json", ".jsonl")

    def make(self, c: Collector, obj: dict) -> None:
        raw = get(obj, mapped(c.source, "conversations"))
        if not isinstance(raw, list):
            raise BadRow("conversations is not a list")
        tools, schemas = record_tools(obj, mapped(c.source, "tools"))
        messages, last_calls, n_calls = [], [], 0
        for i, m in enumerate(raw):
            if not isinstance(m, dict):
                raise BadRow(f"conversations[{i}] is a {type(m).__name__}, expected an object")
            who = m.get("from")
            key = who.lower() if isinstance(who, str) else None
            role = SHAREGPT_ROLES.get(key) or SHAREGPT_TOOL_TURNS.get(key)
            if role is None:
                raise BadRow(f"conversations[{i}]: unknown from {label(who)}; expected one of "
                             f"{sorted([*SHAREGPT_ROLES, *SHAREGPT_TOOL_TURNS])}")
            value = text(m.get("value") or "", f"conversations[{i}].value")
            if key == "function_call":
                last_calls = self._calls(value, schemas, f"conversations[{i}].value", first_id=n_calls)
                n_calls += len(last_calls)
                messages.append({"role": "assistant", "content": None,
                                 "tool_calls": orjson.dumps(last_calls).decode()})
            elif key == "observation":
                answered = last_calls[0]["id"] if len(last_calls) == 1 else None
                messages.append({"role": "tool", "content": value, "tool_call_id": answered})
            else:
                messages.append({"role": role, "content": value})
        system = optional_text(obj, mapped(c.source, "system"))
        if system and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": system})
        c.pair(messages, tools=tools_text(toolcalls.as_openai_tools(tools) if tools else None))

    @staticmethod
    def _calls(value: str, schemas: dict[str, dict], where: str, first_id: int) -> list[dict]:
        """A function_call turn's value as OpenAI tool calls, each checked against its tool's schema."""
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise BadRow(f"{where}: not valid JSON") from None
        many = isinstance(parsed, list)
        calls = []
        for j, call in enumerate(parsed if many else [parsed]):
            at = f"{where}[{j}]" if many else where
            if not isinstance(call, dict):
                raise BadRow(f"{at}: is a {type(call).__name__}, expected an object with name and arguments")
            try:
                args = toolcalls.check_call(call.get("name"), call.get("arguments", {}), schemas, f"{at}.name",
                                            f"{at}.arguments")
            except toolcalls.ToolError as e:
                raise BadRow(str(e)) from None
            arguments = call["arguments"] if isinstance(call.get("arguments"), str) else json.dumps(
                args, ensure_ascii=False)  # OpenAI sends arguments as JSON text, in this layout
            calls.append({"id": f"call_{first_id + j}", "type": "function",
                          "function": {"name": call["name"], "arguments": arguments}})
        return calls


class OpenAI(RecordReader):
    """`messages: [{role, content}]`, multi-turn, optional system; tool use: a top-level `tools` list, assistant
    turns with `tool_calls` (content may then be null or absent), `tool` turns with `tool_call_id`."""

    name = "openai"
    table = "pairs"
    extensions = (".jsonl",)

    def make(self, c: Collector, obj: dict) -> None:
        raw = get(obj, mapped(c.source, "messages"))
        if not isinstance(raw, list):
            raise BadRow("messages is not a list")
        tools, schemas = record_tools(obj, mapped(c.source, "tools"))
        messages, call_ids = [], set()
        for i, m in enumerate(raw):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                raise BadRow(f"messages[{i}]: role must be one of {sorted(ROLES)}")
            calls = m.get("tool_calls")
            if calls not in (None, []) and m["role"] == "assistant":  # some clients write [] on plain turns
                try:
                    toolcalls.check_openai_calls(calls, schemas, f"messages[{i}].tool_calls")
                except toolcalls.ToolError as e:
                    raise BadRow(str(e)) from None
                call_ids |= {call.get("id") for call in calls}
                content = m.get("content")
                messages.append({"role": "assistant",
                                 "content": None if content is None else text(content, f"messages[{i}].content"),
                                 "tool_calls": orjson.dumps(calls).decode()})
            elif m["role"] == "tool":
                answered = m.get("tool_call_id")
                if answered not in call_ids:
                    raise BadRow(f"messages[{i}].tool_call_id: does not name a call made before it")
                messages.append({"role": "tool", "content": text(m.get("content") or "", f"messages[{i}].content"),
                                 "tool_call_id": answered})
            else:
                messages.append({"role": m["role"],
                                 "content": text(m.get("content") or "", f"messages[{i}].content")})
        c.pair(messages, tools=tools_text(tools))


class PromptCompletion(RecordReader):
    """`prompt`, `completion`."""

    name = "prompt-completion"
    table = "pairs"
    extensions = (".jsonl",)

    def make(self, c: Collector, obj: dict) -> None:
        prompt = text(get(obj, mapped(c.source, "prompt")), "prompt")
        completion = text(get(obj, mapped(c.source, "completion")), "completion")
        c.pair([{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}])


class SelfInstruct(RecordReader):
    """Self-Instruct seed tasks: an instruction and its instances [{input, output}]; one pair per instance.

    A bad instance is quarantined on its own (the record's row, its index in the reason); the
    record's other instances are kept."""

    name = "self-instruct"
    table = "pairs"

    def make(self, c: Collector, obj: dict) -> None:
        instruction = required_text(obj, mapped(c.source, "instruction"))
        instances = get(obj, mapped(c.source, "instances"), required=False)
        if not isinstance(instances, list) or not instances:
            raise BadRow("no instances" if not instances else "instances is not a list")
        task = "classification" if obj.get("is_classification") is True else None
        for i, inst in enumerate(instances):
            try:
                if not isinstance(inst, dict):
                    raise BadRow(f"is a {type(inst).__name__}, expected an object")
                extra = optional_text(inst, "input")
                output = text(get(inst, "output"), "output")
                if not output.strip():
                    raise BadRow("empty output")
                c.pair([{"role": "user", "content": with_input(instruction, extra)},
                        {"role": "assistant", "content": output}], task=task)
            except BadRow as e:
                c.quarantine(c.row, f"instances[{i}]: {e}")
