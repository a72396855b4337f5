"""tasks.ingest.readers.base: quarantine reasons that carry no content, the document size limit, provenance."""

from __future__ import annotations

import json

import orjson
import polars as pl
import pytest

from pairforge.tasks.core.recipe import ReadLimits
from pairforge.tasks.ingest.readers.base import error_kind, label, labels
from pairforge.tasks.ingest.sources import read_source_file
from tests.ingest.helpers import jsonl, src

EMAIL, SSN = "jane.roe@example.com", "123-45-6789"


@pytest.mark.parametrize("error", [
    ValueError(f"could not parse '{EMAIL}' as int"),
    ValueError(f"Failed to parse string: {EMAIL} {SSN}"),
    OSError(2, "No such file or directory", f"/data/{EMAIL}.txt"),
    RuntimeError(f"bad row [{SSN}] near {{\"email\": \"{EMAIL}\"}}"),
    KeyError(EMAIL),
    ValueError(f"invalid value <{EMAIL}> (row {SSN})\nsecond line {EMAIL}"),
])
def test_error_kind_keeps_no_content(error):
    kind = error_kind(error)
    assert kind.startswith(type(error).__name__)
    for part in (EMAIL, SSN, "jane", "roe", "example", "123", "6789"):
        assert part not in kind, kind


def test_error_kind_keeps_the_gist():
    assert error_kind(ValueError("Parquet magic bytes not found in footer: 123")) == \
        "ValueError: Parquet magic bytes not found in footer"
    assert error_kind(RecursionError()) == "RecursionError"
    # specifics come after the fixed phrase; a capitalised word inside it is a name, not part of the phrase
    assert error_kind(ValueError("invalid token Quillfeather at line 3")) == "ValueError: invalid token"
    assert error_kind(ValueError("unexpected end of data")) == "ValueError: unexpected end of data"
    assert error_kind(ValueError("bad JSON value near x")) == "ValueError: bad JSON value near x"


def test_labels_show_identifiers_only():
    assert label("narrator") == "'narrator'" and label(None) == "None"
    assert label(EMAIL) == "a str value" and label(42) == "a int value"
    assert labels(["question", "answer", EMAIL, SSN, "First Name"]) == "question, answer, 3 other(s)"


def test_documents_and_pairs_longer_than_the_limit_are_quarantined(tmp_path):
    f = jsonl(tmp_path / "docs.jsonl", [{"text": "short"}, {"text": "x" * 101}])
    got = read_source_file(src(f, "jsonl", limits={"max_document_chars": 100}), str(f), "en")
    assert got.rows["text"].to_list() == ["short"]
    assert got.quarantine.select("row", "reason").rows() == [
        (2, "text longer than 100 characters (limits.max_document_chars)")]
    p = jsonl(tmp_path / "pc.jsonl", [{"prompt": "p" * 60, "completion": "c" * 60}, {"prompt": "q", "completion": "a"}])
    got = read_source_file(src(p, "prompt-completion", limits={"max_document_chars": 100}), str(p), "en")
    assert got.rows["prompt"].to_list() == ["q"] and got.quarantine["row"].to_list() == [1]


def test_json_depth_limit(tmp_path):
    nested: dict = {"text": "deep"}
    for _ in range(12):
        nested = {"n": nested}
    f = jsonl(tmp_path / "d.jsonl", [{"text": "flat"}, {"text": "x", "n": nested}])
    arr = tmp_path / "d.json"
    arr.write_text(json.dumps([{"text": "flat"}, {"text": "x", "n": nested}, {"text": "after"}]))
    for path, kept in ((f, ["flat"]), (arr, ["flat", "after"])):
        got = read_source_file(src(path, "jsonl", limits={"max_depth": 10}), str(path), "en")
        assert got.rows["text"].to_list() == kept
        assert got.quarantine.select("row", "reason").rows() == [(2, "JSON nested deeper than 10 levels "
                                                                     "(limits.max_depth)")]
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(b"[" * 100_000 + b"]" * 100_000 + b'\n{"text": "next line"}\n')
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(deep.read_bytes().splitlines()[0])
    got = read_source_file(src(deep, "jsonl"), str(deep), "en")
    assert got.rows["text"].to_list() == ["next line"]
    assert got.quarantine["reason"].to_list() == ["JSON nested deeper than 100 levels (limits.max_depth)"]


def test_limits_are_strict_recipe_options():
    assert ReadLimits().max_document_chars == 2_000_000
    with pytest.raises(ValueError, match="extra"):
        src("x.txt", "text", limits={"max_lines": 3})
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        src("x.txt", "text", limits={"max_depth": 0})


def test_rows_record_their_encoding(tmp_path):
    f = jsonl(tmp_path / "a.jsonl", [{"text": "ascii"}, {"text": "é"}])
    assert read_source_file(src(f, "jsonl"), str(f), "en").rows["source_encoding"].to_list() == ["utf-8", "utf-8"]
    p = tmp_path / "a.parquet"
    pl.DataFrame({"text": ["from parquet"]}).write_parquet(p)
    assert read_source_file(src(p, "parquet"), str(p), "en").rows["source_encoding"].to_list() == [None]


def test_limits_in_a_recipe_file(tmp_path):
    from pairforge.tasks.core.recipe import RecipeError, load_recipe

    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: lim\nsources:\n  - {name: a, uri: a.jsonl, format: jsonl, license: MIT,\n"
                      "     encoding: latin-1, limits: {max_depth: 5, max_document_chars: 1000}}\n"
                      "export: {uri: out/}\n")
    source = load_recipe(recipe).sources[0]
    assert (source.limits.max_depth, source.limits.max_document_chars, source.encoding) == (5, 1000, "latin-1")
    assert source.limits.max_record_bytes == 16 << 20
    recipe.write_text(recipe.read_text().replace("max_depth: 5", "max_depth: 5000"))
    with pytest.raises(RecipeError) as err:
        load_recipe(recipe)
    assert "sources.0.limits.max_depth" in str(err.value) and "\n" not in str(err.value)
