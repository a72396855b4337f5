"""Tool-calling conversations: how they are stored in the pairs table, and the checks every importer shares.

Representation (schema PAIRS), OpenAI's layout kept as JSON text so that nothing a tool call says is reshaped:
- `tools`: the record's OpenAI `tools` list, `[{"type": "function", "function": {name, description, parameters}}]`,
  as JSON text (null when the record has none);
- `messages[].tool_calls`: an assistant turn's OpenAI `tool_calls` list, `[{id, type, function: {name, arguments}}]`,
  as JSON text (`arguments` stays the JSON string OpenAI sends); null on other turns;
- `messages[].tool_call_id`: the call a `tool` turn answers; null on other turns;
- an assistant turn that only calls tools has `content` null (OpenAI's fine-tuning layout leaves `content` out).
JSON text keeps the key order and every field of the calls and the tool schemas (Parquet would need one struct
type for all of them), so an OpenAI record comes back out of the `openai` export as it went in.

`check_call` validates one call's arguments against its tool's JSON schema (`jsonschema`); the reason it raises
names the path of the bad field and the kind of error, never the value (it may be personal data).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
from jsonschema import exceptions as schema_errors
from jsonschema import validators

JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
              type(None): "null"}


class ToolError(ValueError):
    """A tool definition or call is not usable; the message is the quarantine reason (a path and a kind)."""


def _json_type(value: Any) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def parse_tools(raw: Any, where: str = "tools") -> tuple[list[dict], dict[str, dict]]:
    """(the tools list, {name: parameters schema}) from a record's `tools`: a list, or JSON text of one.

    Each item is OpenAI's `{"type": "function", "function": {...}}` or a bare function `{name, parameters}`
    (LLaMA-Factory's sharegpt files); a parameters schema that is not a valid JSON schema is an error."""
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ToolError(f"{where}: not valid JSON") from None
    if not isinstance(raw, list):
        raise ToolError(f"{where}: is {_json_type(raw)}, expected a list of tools")
    schemas: dict[str, dict] = {}
    for i, tool in enumerate(raw):
        fn = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else tool
        path = f"{where}[{i}]" + (".function" if fn is not tool else "")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise ToolError(f"{path}.name: missing, expected a string")
        params = fn.get("parameters", {})
        if not isinstance(params, dict):
            raise ToolError(f"{path}.parameters: is {_json_type(params)}, expected a JSON schema object")
        try:
            validators.validator_for(params).check_schema(params)
        except schema_errors.SchemaError as e:
            raise ToolError(f"{path}.parameters{_path(e.absolute_path)}: not a valid JSON schema "
                            f"('{e.validator}' rule)") from None
        schemas[fn["name"]] = params
    return raw, schemas


def as_openai_tools(tools: list[dict]) -> list[dict]:
    """Bare functions wrapped as OpenAI tools (`{"type": "function", "function": ...}`); OpenAI tools as they are."""
    return [t if t.get("type") == "function" and "function" in t else {"type": "function", "function": t}
            for t in tools]


def _path(parts) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _why(e: schema_errors.ValidationError) -> str:
    """What rule a value broke, without the value."""
    if e.validator == "type":
        return f"{_json_type(e.instance)} is not of type {e.validator_value!r}"
    if e.validator == "required":
        return e.message  # "'city' is a required property": the name comes from the schema
    if e.validator in ("enum", "const"):
        return "is not one of the allowed values"
    if e.validator == "additionalProperties":
        return "has properties the schema does not allow"
    return f"breaks the schema's '{e.validator}' rule"


def check_call(name: Any, arguments: Any, schemas: dict[str, dict], name_path: str, args_path: str) -> Any:
    """The parsed arguments of one call, after checking that `name` is a known tool and `arguments` (JSON text,
    or already an object) is valid JSON that its parameters schema accepts; else ToolError naming the field."""
    if not isinstance(name, str) or name not in schemas:
        known = ", ".join(sorted(schemas)) or "none"
        shown = repr(name) if isinstance(name, str) and name.isidentifier() and len(name) <= 64 else "a name"
        raise ToolError(f"{name_path}: {shown} is not one of the record's tools ({known})")
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            raise ToolError(f"{args_path}: not valid JSON") from None
    schema = schemas[name]
    error = schema_errors.best_match(validators.validator_for(schema)(schema).iter_errors(arguments))
    if error is not None:
        raise ToolError(f"{args_path}{_path(error.absolute_path)}: {_why(error)}")
    return arguments


def check_openai_calls(calls: Any, schemas: dict[str, dict], where: str) -> list[dict]:
    """An assistant turn's OpenAI `tool_calls` list, each call checked (`check_call`); `where` is its path."""
    if not isinstance(calls, list) or not calls:
        raise ToolError(f"{where}: expected a non-empty list of calls")
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            raise ToolError(f"{where}[{j}].function: missing, expected an object")
        if not isinstance(fn.get("arguments"), str):
            raise ToolError(f"{where}[{j}].function.arguments: expected a JSON string")
        check_call(fn.get("name"), fn["arguments"], schemas, f"{where}[{j}].function.name",
                   f"{where}[{j}].function.arguments")
    return calls


def function_calls(calls: list) -> list[dict]:
    """OpenAI tool calls as LLaMA-Factory's function_call objects `{"name", "arguments": {...}}` (its
    data/glaive_toolcall_en_demo.json): arguments parsed, as its FunctionFormatter json.dumps them again."""
    out = []
    for call in calls:
        fn = (call.get("function") if isinstance(call, dict) else None) or {}
        try:
            args = orjson.loads(fn.get("arguments") or "{}")
        except (orjson.JSONDecodeError, TypeError):
            args = fn.get("arguments")
        out.append({"name": fn.get("name"), "arguments": args})
    return out


def calls_text(calls: list) -> str:
    """A turn that only calls tools, as text (a pair's `response`, text-only exports): `[{"name", "arguments"}]`."""
    return orjson.dumps(function_calls(calls)).decode()


# ---- text inside calls (PII scrubbing) ------------------------------------------------------------------------


def _string_slots(value: Any, out: list) -> list:
    """(container, key) of every string value (not key) inside a parsed JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        if isinstance(v, str):
            out.append((value, k))
        else:
            _string_slots(v, out)
    return out


def argument_texts(calls: list) -> tuple[list[str], Callable[[list[str]], list]]:
    """The string values inside a `tool_calls` list's arguments (what a model learns to send), and a function
    that puts new strings back and returns the calls (arguments re-serialised only where a value changed;
    arguments that are not JSON count as one text)."""
    slots, owners = [], []  # owners: (function object, parsed arguments or None, first slot, slot count)
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("arguments"), str):
            continue
        try:
            parsed = orjson.loads(fn["arguments"])
        except orjson.JSONDecodeError:
            parsed = None
        found = [(fn, "arguments")] if parsed is None else _string_slots(parsed, [])
        owners.append((fn, parsed, len(slots), len(found)))
        slots += found
    texts = [obj[key] for obj, key in slots]

    def put_back(new: list[str]) -> list:
        for fn, parsed, start, n in owners:
            changed = False
            for (obj, key), text in zip(slots[start:start + n], new[start:start + n], strict=True):
                changed |= obj[key] != text
                obj[key] = text
            if changed and parsed is not None:
                # the layout OpenAI's API sends arguments in (Python's json.dumps defaults)
                fn["arguments"] = json.dumps(parsed, ensure_ascii=False)
        return calls

    return texts, put_back
