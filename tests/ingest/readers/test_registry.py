"""tasks.ingest.readers: one registry of formats, from which the recipe's formats and tables derive."""

from __future__ import annotations

import pytest

from tests.ingest.helpers import src
from tests.ingest.readers.test_pairs import _write_sharegpt
from tests.ingest.readers.test_tables import _annotator_file


def test_source_table_and_origin_rules():
    from pydantic import ValidationError

    assert src("x.csv", "csv").table == "documents"
    assert src("x.csv", "csv", fields={"text": "body"}).table == "documents"
    assert src("x.parquet", "parquet", fields={"prompt": "q", "response": "a"}).table == "pairs"
    for fmt in ("dolly", "sharegpt", "self-instruct"):
        assert src("x.jsonl", fmt).table == "pairs" and src("x.jsonl", fmt, origin="human").origin == "human"
    assert src("x.jsonl", "alpaca").origin == "imported"
    with pytest.raises(ValidationError, match="need both prompt and response mapped"):
        src("x.csv", "csv", fields={"prompt": "q", "context": "c"})
    with pytest.raises(ValidationError, match="not both"):
        src("x.csv", "csv", fields={"text": "t", "prompt": "q", "response": "a"})
    with pytest.raises(ValidationError, match="origin: applies to pair sources only"):
        src("x.txt", "text-lines", origin="human")
    with pytest.raises(ValidationError, match="origin"):
        src("x.jsonl", "alpaca", origin="generated")  # generated pairs come from the generate stage


def test_recipe_accepts_the_new_pair_sources(tmp_path):
    from pairforge.tasks.core.recipe import load_recipe

    _annotator_file(tmp_path, "csv")
    _write_sharegpt(tmp_path / "share", "array")
    (tmp_path / "recipe.yaml").write_text(
        "name: pairs\n"
        "sources:\n"
        "  - {name: ann, uri: annotated.csv, format: csv, license: CC-BY-4.0, origin: human,\n"
        "     fields: {prompt: question, response: answer}}\n"
        "  - {name: chat, uri: share.json, format: sharegpt, license: Apache-2.0}\n"
        "generate: {generators: [{kind: self-instruct, sources: [ann]}]}\n"
        "export: {uri: out/}\n"
    )
    r = load_recipe(tmp_path / "recipe.yaml")
    assert [(s.name, s.table, s.origin) for s in r.sources] == [("ann", "pairs", "human"),
                                                                ("chat", "pairs", "imported")]


def test_formats_come_from_one_registry():
    from pairforge.tasks.core import recipe
    from pairforge.tasks.ingest.readers import DOCUMENT_FORMATS, FORMATS, PAIR_FORMATS, SOURCE_FORMATS, TABLE_FORMATS
    from pairforge.tasks.ingest.readers.base import Reader

    assert DOCUMENT_FORMATS == ("text", "text-lines", "jsonl", "csv", "parquet", "html", "url-list", "wikipedia", "pdf")
    assert PAIR_FORMATS == ("alpaca", "dolly", "sharegpt", "openai", "prompt-completion", "self-instruct",
                            "preference")
    assert SOURCE_FORMATS == DOCUMENT_FORMATS + PAIR_FORMATS and TABLE_FORMATS == ("csv", "parquet")
    for name, reader in FORMATS.items():
        assert isinstance(reader, Reader) and reader.name == name and reader.table in ("documents", "pairs")
        assert all(e.startswith(".") and e == e.lower() for e in reader.extensions)
        assert type(reader).read is not Reader.read, name  # every reader reads
        assert src("x", name).table == reader.table  # the recipe asks the registry
    assert recipe.SOURCE_FORMATS is SOURCE_FORMATS
    with pytest.raises(ValueError, match="expected one of: " + ", ".join(SOURCE_FORMATS)):
        src("x", "docx")


def test_a_new_reader_is_one_class_and_one_registry_entry(tmp_path, monkeypatch):
    """What the registry's docstring promises: a Reader subclass registered under its name is a format ingest reads."""
    from pairforge.tasks.ingest import readers
    from pairforge.tasks.ingest.readers.base import Reader
    from pairforge.tasks.ingest.sources import read_source_file

    class Shouting(Reader):
        name = "text"  # a new name would also be a new line in FORMATS (SOURCE_FORMATS is derived at import)
        extensions = (".txt",)

        def read(self, c, stream) -> None:
            c.document(stream.read().decode().upper())

    monkeypatch.setitem(readers.FORMATS, "text", Shouting())
    f = tmp_path / "a.txt"
    f.write_text("quiet")
    assert read_source_file(src(f, "text"), str(f), "en").rows["text"].to_list() == ["QUIET"]
