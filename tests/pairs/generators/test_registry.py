"""The generator registry and interface (tasks/pairs/generators/__init__.py, base.py): every kind is declared
once, the recipe derives its kinds and per-kind rules from it, and nothing outside the generator files
switches on a kind."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from pairforge.tasks.core.recipe import GENERATOR_KINDS, GeneratorSpec, RecipeError, load_recipe
from pairforge.tasks.pairs.generators import GENERATORS
from pairforge.tasks.pairs.generators.base import Chunk, DocumentGenerator, Generator, chunk_documents, pair_row
from tests.conftest import REPO
from tests.pairs.test_generate import news_docs


def test_the_recipe_kinds_are_the_registry():
    assert GENERATOR_KINDS == tuple(GENERATORS) == (
        "qa", "self-instruct", "summarization", "translation", "classification", "template", "preference",
        "conversation")
    for kind, gen in GENERATORS.items():
        assert gen.kind == kind and isinstance(gen, Generator)
        assert gen.input_table in ("documents", "pairs", None)
        overrides = {name for name in ("jobs", "pairs", "compute")
                     if getattr(type(gen), name) is not getattr(Generator, name)}
        assert overrides == ({"jobs", "pairs"} if gen.needs_model else {"compute"}), kind
        if isinstance(gen, DocumentGenerator):
            assert type(gen).request is not DocumentGenerator.request


def test_the_spec_exposes_its_generator():
    assert GeneratorSpec(kind="self-instruct").input_table == "pairs"
    assert GeneratorSpec(kind="qa").input_table == "documents"
    assert GeneratorSpec(kind="template").input_table is None
    assert not GeneratorSpec(kind="template").needs_model and GeneratorSpec(kind="qa").needs_model


KIND_SWITCH = re.compile(r"""\.kind\s*(?:==|!=|in)\s*[("']""")


def test_no_kind_is_switched_on_outside_the_generators():
    generators = REPO / "tasks" / "pairs" / "generators"
    found = []
    for path in [*(REPO / "tasks").rglob("*.py"), *(REPO / "flows").rglob("*.py")]:
        if generators in path.parents:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if KIND_SWITCH.search(line) and any(f'"{k}"' in line for k in GENERATORS):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert found == []


def recipe(tmp_path: Path, generators: str) -> Path:
    (tmp_path / "docs.txt").write_text("One short document.\n")
    (tmp_path / "seed.jsonl").write_text('{"instruction": "Say hi.", "input": "", "output": "Hi."}\n')
    path = tmp_path / "recipe.yaml"
    path.write_text(f"""name: gen-test
sources:
  - {{name: docs, uri: docs.txt, format: text-lines, license: CC0-1.0}}
  - {{name: seed, uri: seed.jsonl, format: alpaca, license: CC0-1.0}}
export: {{uri: out/}}
generate:
  generators: {generators}
""")
    return path


@pytest.mark.parametrize(("generators", "error"), [
    ("[{kind: self-instruct, sources: [docs]}]", "'docs' is a documents source, self-instruct needs pairs"),
    ("[{kind: qa, sources: [seed]}]", "'seed' is a pairs source, qa needs documents"),
    ("[{kind: summarization, sources: [nowhere]}]", "no source named 'nowhere'"),
    ("[{kind: translation}]", "translation needs target_language"),
    ("[{kind: classification, labels: [a, a]}]", "classification needs at least two distinct labels"),
    ("[{kind: poetry}]", "generate.generators.0.kind"),
])
def test_the_recipe_checks_sources_and_options_per_generator(tmp_path, generators, error):
    with pytest.raises(RecipeError, match=re.escape(error)):
        load_recipe(recipe(tmp_path, generators), check_sources=False)


def test_what_a_recipe_needs_follows_the_generators(tmp_path):
    ok = load_recipe(recipe(tmp_path, "[{kind: self-instruct, sources: [seed]}, {kind: qa}, {kind: template}]"),
                     check_sources=False)
    assert [g.input_table for g in ok.generate.generators] == ["pairs", "documents", None]
    assert ok.generate.needs_model
    assert not load_recipe(recipe(tmp_path, "[{kind: template}]"), check_sources=False).generate.needs_model


def test_chunks_are_stripped_in_document_order_and_capped():
    docs = news_docs(3)
    chunks = chunk_documents(docs, 64, None)
    assert [c.doc["id"] for c in chunks] == sorted(c.doc["id"] for c in chunks)
    assert all(c.text == c.text.strip() and c.text for c in chunks)
    assert chunk_documents(docs, 64, 4) == chunks[:4]
    assert chunk_documents(None, 64, None) == []
    assert len(chunk_documents(docs, 4096, None)) == 3  # one chunk per short article


def test_pair_rows_inherit_their_document_and_have_stable_ids():
    doc = news_docs(1).row(0, named=True)
    chunk = Chunk(doc, 0, doc["text"])
    row = pair_row("Q?", "A.", task="qa", context=chunk.text, **chunk.inherited())
    assert row == pair_row("Q?", "A.", task="qa", context=chunk.text, **chunk.inherited())
    assert (row["doc_id"], row["source"], row["license"], row["origin"]) == ("d0", "news", "CC-BY-4.0", "generated")
    assert row["messages"] == [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]
    free = pair_row("Q?", "A.", task="x", source="s", license="CC0-1.0", lang="en", uri=None, doc_id=None)
    assert free["doc_id"] == free["id"] != row["id"]


def test_generator_modules_do_not_import_the_recipe_at_run_time():
    # the recipe imports the registry to know the kinds: the other way round would be a cycle
    for gen in GENERATORS.values():
        source = inspect.getsource(inspect.getmodule(type(gen)))
        assert "\nfrom pairforge.tasks.core.recipe" not in source
