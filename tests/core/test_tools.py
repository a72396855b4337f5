"""tasks.core.tools: tool definitions, each call's arguments against its tool's JSON schema, text inside calls."""

from __future__ import annotations

import json

import pytest

from pairforge.tasks.core.tools import (
    ToolError,
    argument_texts,
    as_openai_tools,
    calls_text,
    check_call,
    check_openai_calls,
    parse_tools,
)

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather now",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer", "minimum": 1},
        "units": {"type": "string", "enum": ["c", "f"]},
        "stops": {"type": "array", "items": {"type": "object", "properties": {"at": {"type": "string"}}}},
    }, "required": ["city"], "additionalProperties": False}}}
BARE = {"name": "ping", "parameters": {"type": "object", "properties": {}}}


def schemas():
    return parse_tools([WEATHER, BARE])[1]


def test_parse_tools_reads_openai_tools_bare_functions_and_json_text():
    tools, found = parse_tools(json.dumps([WEATHER, BARE]))
    assert tools == [WEATHER, BARE] and set(found) == {"get_weather", "ping"}
    assert found["get_weather"] is tools[0]["function"]["parameters"]
    assert as_openai_tools([WEATHER, BARE]) == [WEATHER, {"type": "function", "function": BARE}]


@pytest.mark.parametrize("raw, reason", [
    ("[{", "tools: not valid JSON"),
    ({"name": "x"}, "tools: is object, expected a list of tools"),
    ([{"type": "function", "function": {"description": "no name"}}], "tools[0].function.name: missing"),
    ([BARE, {"name": "y", "parameters": "object"}], "tools[1].parameters: is string, expected a JSON schema"),
    ([{"name": "z", "parameters": {"type": "object", "properties": {"a": {"type": 12}}}}],
     "tools[0].parameters.properties.a.type: not a valid JSON schema"),
])
def test_bad_tool_definitions_name_their_field(raw, reason):
    with pytest.raises(ToolError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_tools(raw)


@pytest.mark.parametrize("name, args, reason", [
    ("get_weather", '{"city": 12}', "A.city: integer is not of type 'string'"),
    ("get_weather", '{"days": 2}', "A: 'city' is a required property"),
    ("get_weather", '{"city": "Oslo", "days": 0}', "A.days: breaks the schema's 'minimum' rule"),
    ("get_weather", '{"city": "Oslo", "units": "kelvin"}', "A.units: is not one of the allowed values"),
    ("get_weather", '{"city": "Oslo", "stops": [{"at": "x"}, {"at": 5}]}',
     "A.stops[1].at: integer is not of type 'string'"),
    ("get_weather", '{"city": "Oslo", "owner": "x"}', "A: has properties the schema does not allow"),
    ("get_weather", '{"city": "Oslo"', "A: not valid JSON"),
    ("get_wether", '{"city": "Oslo"}', "N: 'get_wether' is not one of the record's tools (get_weather, ping)"),
    (None, "{}", "N: a name is not one of the record's tools"),
])
def test_a_call_that_breaks_its_schema_names_the_path_and_never_the_value(name, args, reason):
    with pytest.raises(ToolError) as e:
        check_call(name, args, schemas(), "N", "A")
    assert str(e.value).startswith(reason)
    assert "Oslo" not in str(e.value) and "kelvin" not in str(e.value)  # values may be personal data


def test_valid_calls_pass_and_give_the_parsed_arguments():
    assert check_call("get_weather", '{"city": "Oslo", "stops": []}', schemas(), "N", "A") == {
        "city": "Oslo", "stops": []}
    assert check_call("ping", {}, schemas(), "N", "A") == {}  # LLaMA-Factory files have arguments as objects
    calls = [{"id": "c1", "type": "function", "function": {"name": "ping", "arguments": "{}"}}]
    assert check_openai_calls(calls, schemas(), "m[1].tool_calls") is calls
    with pytest.raises(ToolError, match=r"m\[1\]\.tool_calls\[0\]\.function\.arguments: expected a JSON string"):
        check_openai_calls([{"function": {"name": "ping", "arguments": {}}}], schemas(), "m[1].tool_calls")
    with pytest.raises(ToolError, match="expected a non-empty list"):
        check_openai_calls([], schemas(), "m[1].tool_calls")


def test_argument_texts_put_back_only_what_changed():
    original = '{"city":  "Oslo",  "stops": [{"at": "Jane Doe"}], "days": 2}'  # odd spacing: kept when unchanged
    calls = [{"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": original}},
             {"id": "b", "type": "function", "function": {"name": "ping", "arguments": "not json"}}]
    texts, put_back = argument_texts(calls)
    assert texts == ["Oslo", "Jane Doe", "not json"]  # values, never keys; broken arguments count as one text
    assert put_back(texts) is calls and calls[0]["function"]["arguments"] == original
    put_back(["Oslo", "<PERSON>", "not json"])
    assert calls[0]["function"]["arguments"] == '{"city": "Oslo", "stops": [{"at": "<PERSON>"}], "days": 2}'
    assert calls_text(calls[:1]) == '[{"name":"get_weather","arguments":{"city":"Oslo","stops":[{"at":"<PERSON>"}],' \
                                    '"days":2}}]'
