"""Pair dialects, one JSON record per pair (or per instance): `alpaca`, `dolly`, `sharegpt`, `openai`,
`prompt-completion` and `self-instruct`. Field names go through the source's `fields` mapping."""

from __future__ import annotations

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
    """ShareGPT: `conversations: [{from, value}]`, multi-turn; an optional top-level `system` string."""

    name = "sharegpt"
    table = "pairs"
    extensions = (".json", ".jsonl")

    def make(self, c: Collector, obj: dict) -> None:
        raw = get(obj, mapped(c.source, "conversations"))
        if not isinstance(raw, list):
            raise BadRow("conversations is not a list")
        messages = []
        for i, m in enumerate(raw):
            if not isinstance(m, dict):
                raise BadRow(f"conversations[{i}] is a {type(m).__name__}, expected an object")
            who = m.get("from")
            role = SHAREGPT_ROLES.get(who.lower()) if isinstance(who, str) else None
            if role is None:
                raise BadRow(f"conversations[{i}]: unknown from {label(who)}; expected one of {sorted(SHAREGPT_ROLES)}")
            messages.append({"role": role, "content": text(m.get("value") or "", f"conversations[{i}].value")})
        system = optional_text(obj, mapped(c.source, "system"))
        if system and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": system})
        c.pair(messages)


class OpenAI(RecordReader):
    """`messages: [{role, content}]`, multi-turn, optional system."""

    name = "openai"
    table = "pairs"
    extensions = (".jsonl",)

    def make(self, c: Collector, obj: dict) -> None:
        raw = get(obj, mapped(c.source, "messages"))
        if not isinstance(raw, list):
            raise BadRow("messages is not a list")
        messages = []
        for i, m in enumerate(raw):
            if not isinstance(m, dict) or m.get("role") not in ROLES:
                raise BadRow(f"messages[{i}]: role must be one of {sorted(ROLES)}")
            messages.append({"role": m["role"], "content": text(m.get("content") or "", f"messages[{i}].content")})
        c.pair(messages)


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
