"""`run_generator`, the part of generation that is the same for every kind: requests through one client,
dead letters, truncated answers, repeated pairs, and model-free generators. The model is replaced by canned
answers (`run_requests` patched), so this pins exactly what each kind asks and writes: the request cache keys
on the requests, and pair ids on the rows."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest

from pairforge.tasks.core.recipe import GeneratorSpec
from pairforge.tasks.pairs import generate
from pairforge.tasks.pairs.llm import ChatResult, LLMStats
from tests.conftest import CORPORA

SPECS = [GeneratorSpec(kind="qa", per_chunk=2, chunk_tokens=64, max_chunks=9),
         GeneratorSpec(kind="qa", per_chunk=3),
         GeneratorSpec(kind="summarization", chunk_tokens=128),
         GeneratorSpec(kind="translation", target_language="French", max_chunks=4),
         GeneratorSpec(kind="classification", labels=["politics", "sport", "disaster"], chunk_tokens=96),
         GeneratorSpec(kind="self-instruct", count=9, seed=5),
         GeneratorSpec(kind="template", count=30, seed=2)]

# sha256 (first 16 hex digits) of every request (messages, schema, key) and of the pair rows, per spec above,
# recorded with generate.py as it was before the generators moved behind one interface (commit 26110fc).
BEFORE = [("d3a2ab05dc3c3c46", "2ea5028621224cf5"), ("8895cfcb75203f3e", "ac16bfe3e135d367"),
          ("856116a561fe44ed", "e09000642ef00799"), ("8102b4cb9f23a48e", "df8aa0416ce1dbe0"),
          ("2c3fee6acf3f2f70", "b9e467ea0b536d53"), ("ea0a6b2949acd4bc", "55ecf51c015a3c67"),
          ("4f53cda18c2baa0c", "94d4ed21e7ee1c01")]


def news_docs(n: int = 6) -> pl.DataFrame:
    """Real ABC news articles as a documents frame (built here, not by a reader, so the ids never move)."""
    lines = (CORPORA / "text" / "lee_background.cor").read_text().splitlines()[:n]
    return pl.DataFrame({"id": [f"d{i}" for i in range(len(lines))], "text": lines, "source": "news",
                         "uri": "file:news", "license": "CC-BY-4.0", "lang": "en"})


def seed_pairs(n: int = 10) -> pl.DataFrame:
    """The first Alpaca seed tasks (real, CC BY-NC 4.0) as seed pairs."""
    lines = (CORPORA / "instruct" / "alpaca_seed_tasks.jsonl").read_text().splitlines()[:n]
    rows = [json.loads(line) for line in lines]
    prompts = [r["instruction"] + (f"\n\n{r['instances'][0]['input']}" if r["instances"][0]["input"] else "")
               for r in rows]
    return pl.DataFrame({"prompt": prompts, "source": "seed", "license": "CC-BY-NC-4.0"})


class CannedModel:
    """Stands in for `run_requests`: request n fails when n % 7 == 5, is truncated when n % 7 == 6, else answers
    with text and JSON that repeat now and then (so repeated pairs are dropped)."""

    def __init__(self):
        self.requests = []

    def __call__(self, client, requests):
        out = []
        for n, r in enumerate(requests):
            self.requests.append(r)
            if n % 7 == 5:
                out.append(ChatResult(r.key, None, error="boom"))
                continue
            if n % 7 == 6:
                out.append(ChatResult(r.key, "x", {"pairs": [{"question": "q", "answer": "a"}], "label": "sport",
                                                   "instruction": "i", "input": "", "output": "o"}, "length"))
                continue
            parsed = {"pairs": [{"question": f" Q{n % 3}? ", "answer": " A "}, {"question": "Same?", "answer": "yes"},
                                {"question": f"Third {n}", "answer": "z"}],
                      "label": ["politics", "sport"][n % 2],
                      "instruction": f" Do {n % 4} ", "input": " in " if n % 2 else " ", "output": f" out {n % 4} "}
            out.append(ChatResult(r.key, f"  text {n % 3}  ", parsed, "stop"))
        return out, LLMStats(requests=len(requests))


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def run(spec: GeneratorSpec, monkeypatch, data: pl.DataFrame | None = None):
    model = CannedModel()
    monkeypatch.setattr(generate, "run_requests", model)
    if data is None:
        data = seed_pairs() if spec.input_table == "pairs" else news_docs()
    return generate.run_generator(spec, object(), data, lang="en", limit=spec.max_chunks), model.requests


@pytest.mark.parametrize(("spec", "before"), list(zip(SPECS, BEFORE, strict=True)),
                         ids=lambda v: getattr(v, "kind", ""))
def test_requests_and_pairs_are_those_of_before_the_generator_interface(spec, before, monkeypatch):
    got, requests = run(spec, monkeypatch)
    assert (digest([[r.messages, r.json_schema, r.key] for r in requests]), digest(got.pairs)) == before


def test_failed_truncated_and_repeated_answers_are_counted_not_kept(monkeypatch):
    got, requests = run(GeneratorSpec(kind="qa", per_chunk=2, chunk_tokens=64, max_chunks=9), monkeypatch)
    assert got.submitted == len(requests) == 9
    assert got.dead == [{"key": "qa:d0:5", "kind": "qa", "source": "news", "doc_id": "d0", "error": "boom",
                         "stage": "generate"}]  # the sixth 64-token chunk of the first article
    # 7 answers of 2 pairs; "Same?" -> "yes" from the same article, and Q0/Q1/Q2 coming round again, repeat
    assert got.rejected == {"qa: truncated (hit max_tokens)": 1, "qa: repeated pair": 7}
    assert len({p["id"] for p in got.pairs}) == len(got.pairs) == 7 * 2 - 7
    assert got.stats.requests == 9


def test_self_instruct_dead_letters_name_no_document(monkeypatch):
    got, _ = run(GeneratorSpec(kind="self-instruct", count=6), monkeypatch)
    assert got.dead == [{"key": "self-instruct:5", "kind": "self-instruct", "source": None, "doc_id": None,
                         "error": "boom", "stage": "generate"}]


def test_a_generator_that_needs_no_model_sends_nothing(monkeypatch):
    got, requests = run(GeneratorSpec(kind="template", count=5), monkeypatch, data=None)
    assert requests == [] and got.submitted == 0 and len(got.pairs) == 5


def test_no_document_shard_means_no_request(monkeypatch):
    model = CannedModel()
    monkeypatch.setattr(generate, "run_requests", model)
    got = generate.run_generator(GeneratorSpec(kind="summarization"), object(), None, lang="en", limit=None)
    assert model.requests == [] and got.pairs == [] and got.submitted == 0


def test_self_instruct_without_seeds_is_an_error(monkeypatch):
    with pytest.raises(ValueError, match="seed sources have no pairs"):
        run(GeneratorSpec(kind="self-instruct"), monkeypatch, data=seed_pairs().clear())
