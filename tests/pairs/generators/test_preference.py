"""preference: candidates sampled per seed prompt at the recipe's temperatures, judged (fake judges on loopback for
exact verdicts; the real local model for the end-to-end run), kept when the margin is enough; ties, low margins and
inconsistent verdicts rejected with their reason; annotators' choices in the same shape."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pairforge.tasks.core.recipe import GeneratorSpec, JudgeOptions, load_recipe
from pairforge.tasks.core.schema import PAIRS, TEXT_COLUMNS, conform
from pairforge.tasks.pairs.chat import ChatResult
from pairforge.tasks.pairs.generate import run_generator, run_requests
from pairforge.tasks.pairs.generators.preference import Preference
from pairforge.tasks.pairs.judging import Judge
from pairforge.tasks.pairs.llm import LLMClient, LLMStats
from tests.conftest import completion
from tests.pairs.test_generate import seed_pairs


def seeds(n: int = 3) -> pl.DataFrame:
    df = seed_pairs(n).with_columns(id=pl.format("s{}", pl.int_range(pl.len())), doc_id=pl.lit(None, pl.String),
                                    response=pl.lit("seed answer"))
    return conform(df, "pairs")


def candidates(spec: GeneratorSpec, texts: dict[int, list[str]]) -> list[dict]:
    """Candidate rows as `pairs` makes them: texts[seed index] are the answers to that seed's requests."""
    gen, rows = Preference(), []
    jobs = gen.jobs(spec, seeds(len(texts)), lang="en", limit=None)
    for seed_index, answers in texts.items():
        mine = [j for j in jobs if j.extra[0]["id"] == f"s{seed_index}"]
        for job, text in zip(mine, answers, strict=True):
            rows += gen.pairs(spec, job, ChatResult(job.request.key, text, None, "stop"), lang="en")
    return rows


def test_candidates_are_sampled_per_prompt_at_the_recipe_temperatures():
    spec = GeneratorSpec(kind="preference", candidates=3, temperatures=[0.1, 0.9], count=2)
    jobs = Preference().jobs(spec, seeds(3), lang="en", limit=None)
    assert [j.request.key for j in jobs] == [f"preference:s{s}:{i}" for s in (0, 1) for i in range(3)]
    assert [j.request.temperature for j in jobs] == [0.1, 0.9, 0.1] * 2
    assert jobs[0].request.messages == [{"role": "user", "content": seeds(1)["prompt"][0]}]


def test_a_multi_turn_seed_is_answered_at_its_last_user_turn():
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Name a colour."},
             {"role": "assistant", "content": "Blue."}]
    seed = conform(pl.DataFrame([{"id": "m", "prompt": "Name a colour.", "messages": turns, "source": "s",
                                  "license": "CC0-1.0"}], schema_overrides={"messages": PAIRS["messages"]}), "pairs")
    spec = GeneratorSpec(kind="preference")
    [job, _] = Preference().jobs(spec, seed, lang="en", limit=None)
    assert job.request.messages == turns[:4]
    [row] = Preference().pairs(spec, job, ChatResult("k", " Red. ", None, "stop"), lang="en")
    assert row["messages"][:4] == turns[:4] and row["messages"][4]["content"] == "Red."
    assert (row["prompt"], row["response"], row["system"]) == ("Name a colour.", "Red.", "Be brief.")


def scorer(fake_openai, points: dict[str, int]):
    def reply(n, body):
        response = body["messages"][-1]["content"].split("\n\nResponse:\n", 1)[1]
        score = next(s for word, s in points.items() if word in response)
        return 200, {}, completion(json.dumps({"score": score, "reason": f"says {word_of(response)}"}))
    return fake_openai(reply)


def word_of(text: str) -> str:
    return text.split()[0]


def judge_for(fake, **opts) -> Judge:
    return Judge(run_requests, [LLMClient(fake.base_url, "judge", max_retries=0)], JudgeOptions(**opts), LLMStats())


def test_absolute_judging_keeps_enough_margin_and_rejects_ties_and_low_margins(prefect_server, fake_openai):
    fake = scorer(fake_openai, {"excellent": 5, "fine": 3, "okay": 3, "meh": 2, "bad": 1})
    spec = GeneratorSpec(kind="preference", candidates=3, min_margin=2)
    rows = candidates(spec, {0: ["fine one", "excellent one", "bad one"], 1: ["fine two", "okay two", "fine 2"],
                             2: ["fine three", "meh three", "okay three"]})
    kept, rejected = Preference().finish(spec, rows, judge_for(fake))
    [row] = kept
    assert (row["response"], row["rejected"]) == ("excellent one", "bad one")
    assert row["id"] == next(r["id"] for r in rows if r["response"] == "excellent one")  # the chosen candidate's
    assert (row["chosen_score"], row["rejected_score"], row["margin"]) == (5, 1, 4)
    assert row["messages"][-1] == {"role": "assistant", "content": "excellent one"}
    assert row["judge_reason"] == "chosen: says excellent / rejected: says bad"
    assert [r["reason"] for r in rejected] == ["preference: tie: every candidate scored 3",
                                               "preference: low margin: 1 < 2"]
    assert rejected[1]["response"] == "fine three" and rejected[1]["rejected"] == "meh three"
    assert len(fake.calls) == 9  # every candidate scored once
    # the rows fit the pairs table
    assert pl.DataFrame(kept, schema=PAIRS, orient="row")["margin"].to_list() == [4.0]


def test_pairwise_judging_with_position_bias_rejects_the_item_as_inconsistent(prefect_server, fake_openai):
    fake = fake_openai(lambda n, body: (200, {}, completion(json.dumps({"better": "A", "reason": "first"}))))
    spec = GeneratorSpec(kind="preference")
    rows = candidates(spec, {0: ["Blue.", "Green."]})
    kept, rejected = Preference().finish(spec, rows, judge_for(fake, mode="pairwise"))
    assert kept == [] and len(rejected) == 1
    assert rejected[0]["reason"].startswith("preference: inconsistent judge: the verdict changed with the order")
    assert len(fake.calls) == 2


def test_fewer_than_two_distinct_candidates_is_no_preference(prefect_server, fake_openai):
    spec = GeneratorSpec(kind="preference")
    rows = candidates(spec, {0: ["Same.", ""]})  # an empty answer is no candidate
    kept, rejected = Preference().finish(spec, rows, judge_for(fake_openai(lambda n, b: (500, {}, {}))))
    assert kept == [] and [r["reason"] for r in rejected] == ["preference: fewer than 2 distinct candidates"]


def test_rejected_text_is_scrubbed_like_the_response():
    """The PII stage scrubs the pairs table's TEXT_COLUMNS (control-token escaping reads them too)."""
    from pairforge.tasks.core.recipe import PIIOptions
    from pairforge.tasks.privacy.pii import scrub_frame

    df = conform(pl.DataFrame([{"id": "x", "prompt": "Who to write to?", "response": "Write to the desk.",
                                "rejected": "Write to jane.roe@example.org today.", "judge_reason": "ok"}]), "pairs")
    columns = [c for c in TEXT_COLUMNS["pairs"] if c in df.columns]
    assert {"rejected", "judge_reason"} <= set(columns)
    out, counts = scrub_frame(df, columns, PIIOptions())
    assert "jane.roe@example.org" not in out["rejected"][0] and out["rejected"][0].startswith("Write to ")
    assert counts["EMAIL_ADDRESS"] == 1 and out["response"][0] == "Write to the desk."


def test_preference_pairs_from_the_local_model(prefect_server, llm_server, tmp_path):
    """The real llama.cpp server writes two candidates per prompt (temperatures 0 and 1.2) and judges them."""
    spec = GeneratorSpec(kind="preference", count=3, temperatures=[0.0, 1.2], min_margin=1)
    client = LLMClient(llm_server.base_url, llm_server.model, max_tokens=200, max_concurrency=2, server=llm_server)
    got = run_generator(spec, client, seeds(3), lang="en", limit=None, judge=JudgeOptions())
    assert got.submitted == 6 and not got.dead
    judged = [r for r in got.pairs + got.rejected_rows if r.get("rejected") is not None]  # two candidates or more
    assert 1 <= len(judged) <= 3 and got.stats.requests == 6 + 2 * len(judged)  # each candidate scored once
    for row in got.pairs:
        assert row["rejected"] and row["response"] != row["rejected"] and row["margin"] >= 1
        assert row["chosen_score"] - row["rejected_score"] == row["margin"] and row["judge_reason"]
        assert row["messages"][-1]["content"] == row["response"]
    for row in got.rejected_rows:
        assert row["reason"].startswith("preference: ")
    assert sum(got.rejected.values()) >= len(got.rejected_rows)


def test_the_recipe_names_the_preference_key_it_rejects(tmp_path):
    (tmp_path / "seed.jsonl").write_text('{"instruction": "Say hi.", "input": "", "output": "Hi."}\n')
    (tmp_path / "r.yaml").write_text(
        "name: t\nsources:\n  - {name: seed, uri: seed.jsonl, format: alpaca, license: CC0-1.0}\n"
        "export: {uri: out/}\ngenerate:\n  generators: [{kind: preference, sources: [seed], temperatures: [3]}]\n")
    with pytest.raises(ValueError, match=r"generate\.generators\.0\.temperatures\.0"):
        load_recipe(tmp_path / "r.yaml")
