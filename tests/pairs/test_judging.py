"""The configurable judge (tasks/pairs/judging.py) and the judge stage's frame (tasks/pairs/judge.py): rubric prompts,
absolute scores averaged over several judges, pairwise verdicts asked in both orders. The judges are fake
OpenAI-compatible endpoints on loopback (real HTTP through the real client), because their behaviour must be exact:
one always prefers position A, one prefers a response by its content."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
from pydantic import ValidationError

from pairforge.tasks.core.recipe import GenerateOptions, JudgeOptions, Rubric
from pairforge.tasks.pairs.generate import run_requests
from pairforge.tasks.pairs.judge import judge_frame
from pairforge.tasks.pairs.judging import RUBRIC, SCHEMA, Judge, judge_clients, rubric_text, score_request
from pairforge.tasks.pairs.llm import LLMClient, LLMStats
from tests.conftest import completion


def client(fake) -> LLMClient:
    return LLMClient(fake.base_url, "fake-judge", max_retries=0, max_parse_retries=0)


def answer(payload: dict):
    return 200, {}, completion(json.dumps(payload))


def always_a(n, body):
    """A judge with pure position bias: whatever it is shown, A is better."""
    return answer({"better": "A", "reason": "A comes first."})


def by_content(n, body):
    """A consistent judge: the response that says 'good' wins, wherever it is shown."""
    user = body["messages"][-1]["content"]
    a = user.split("Response A:\n", 1)[1].split("\n\nResponse B:\n")[0]
    return answer({"better": "A" if "good" in a else "B", "reason": "It is the good one."})


def scorer(points: dict[str, int]):
    """An absolute judge that scores a response by the word it contains (`points`: word -> score)."""
    def reply(n, body):
        response = body["messages"][-1]["content"].split("\n\nResponse:\n", 1)[1]
        score = next(s for word, s in points.items() if word in response)
        return answer({"score": score, "reason": f"contains {response.split()[0]}"})
    return reply


def test_the_default_rubric_is_the_built_in_one_and_a_recipe_rubric_shows_criteria_scale_and_examples():
    assert rubric_text(None) == RUBRIC and score_request("k", "p", "r", None).json_schema == SCHEMA
    rubric = Rubric(criteria=["factually correct", "concise"], scale=7,
                    examples=[{"prompt": "2+2?", "response": "5", "score": 1, "reason": "wrong"}])
    text = rubric_text(rubric)
    assert "from 1 to 7, on these criteria: factually correct; concise." in text
    assert 'Example: prompt "2+2?", response "5" -> score 1 (wrong)' in text
    assert score_request("k", "p", "r", rubric).json_schema["properties"]["score"]["enum"] == list(range(1, 8))


@pytest.mark.parametrize(("judge", "error"), [
    ({"min_score": 6}, "min_score 6 is above the rubric's scale 5"),
    ({"rubric": {"criteria": ["x"], "scale": 3, "examples": [{"prompt": "p", "response": "r", "score": 4}]}},
     "examples[0].score 4 is above scale 3"),
    ({"rubric": {"criteria": []}}, "criteria"),
    ({"mode": "both"}, "mode"),
])
def test_bad_judge_options_name_their_key(judge, error):
    with pytest.raises(ValidationError, match=re.escape(error)):
        JudgeOptions(**judge)


def test_pairwise_judging_with_position_bias_is_inconsistent_not_a_preference(prefect_server, fake_openai):
    fake = fake_openai(always_a)
    judge = Judge(run_requests, [client(fake)], JudgeOptions(mode="pairwise"), LLMStats())
    [c] = judge.compare([("k", "Name a colour.", "Blue.", "Green.")])
    assert c.inconsistent and not c.tie and c.error is None
    assert c.reason.startswith("a/b: A, b/a: A")  # both orders recorded
    # each order asked once (the two requests go out together: they may arrive in either order)
    shown = [body["messages"][-1]["content"] for _, body in fake.calls]
    assert len(shown) == 2
    assert sorted(text.index("Blue.") < text.index("Green.") for text in shown) == [False, True]
    assert judge.stats.requests == 2


def test_pairwise_judging_that_follows_the_content_is_a_preference(prefect_server, fake_openai):
    judge = Judge(run_requests, [client(fake_openai(by_content))], JudgeOptions(mode="pairwise"), LLMStats())
    [first, second] = judge.compare([("k1", "p", "a good answer", "a bad answer"),
                                     ("k2", "p", "a bad answer", "a good answer")])
    assert not first.inconsistent and (first.points_a, first.points_b) == (1.0, 0.0)
    assert not second.inconsistent and (second.points_a, second.points_b) == (0.0, 1.0)


def test_several_judges_are_averaged(prefect_server, fake_openai):
    one, two = fake_openai(scorer({"x": 4})), fake_openai(scorer({"x": 1}))
    opts = JudgeOptions(judges=[{"base_url": one.base_url, "model": "judge-1"}, {"base_url": two.base_url}])
    clients = judge_clients(client(one), opts)
    assert [(c.base_url, c.model) for c in clients] == [(one.base_url, "judge-1"), (two.base_url, "fake-judge")]
    [s] = Judge(run_requests, clients, opts, LLMStats()).score([("k", "p", "x marks the spot")])
    assert s.score == 2.5 and s.reason == "contains x | contains x"


def test_a_judge_whose_api_key_variable_is_unset_stops_with_its_name(fake_openai, monkeypatch):
    monkeypatch.delenv("PAIRFORGE_TEST_JUDGE_KEY", raising=False)
    opts = JudgeOptions(judges=[{"model": "other", "api_key_env": "PAIRFORGE_TEST_JUDGE_KEY"}])
    with pytest.raises(RuntimeError, match="PAIRFORGE_TEST_JUDGE_KEY is not set"):
        judge_clients(LLMClient("http://127.0.0.1:9/v1", "m"), opts)


def test_the_judge_stage_rejects_low_scores_with_the_averaged_score_and_reasons(prefect_server, fake_openai):
    fake = fake_openai(scorer({"great": 5, "poor": 2}))
    df = pl.DataFrame({"id": ["a", "b", "c"], "doc_id": ["a", "b", "c"], "prompt": ["p", "p", "p"],
                       "response": ["great answer", "poor answer", "poor answer"],
                       "source": ["s", "s", "s"], "origin": ["generated", "generated", "imported"]})
    kept, rejected, dead, stats = judge_frame(df, [client(fake)], JudgeOptions(min_score=3))
    assert kept["id"].to_list() == ["c", "a"]  # imported pairs pass unjudged
    assert rejected["id"].to_list() == ["b"] and rejected["reason"][0] == "judge score 2 < 3: contains poor"
    assert dead == [] and stats["requests"] == 2


def test_generate_options_check_the_generators_against_the_judge():
    with pytest.raises(ValidationError, match=re.escape("generators[0].candidates must be 2 with judge.mode pairwise")):
        GenerateOptions(generators=[{"kind": "preference", "candidates": 3}], judge={"mode": "pairwise"})
    with pytest.raises(ValidationError, match=re.escape("generators[0].min_margin 5 can never be reached")):
        GenerateOptions(generators=[{"kind": "preference", "min_margin": 5}])
    GenerateOptions(generators=[{"kind": "preference", "min_margin": 4}])  # 5 - 1 on the default scale
