"""self-instruct: reads seed pairs, shows three of them per request (seeded), writes instruction pairs."""

from __future__ import annotations

import re

from pairforge.tasks.core.recipe import GeneratorSpec
from pairforge.tasks.pairs.chat import ChatResult
from pairforge.tasks.pairs.generators.self_instruct import SELF_INSTRUCT_SCHEMA, SelfInstruct
from tests.pairs.test_generate import seed_pairs


def test_each_request_shows_three_real_seed_tasks_chosen_by_the_seed():
    seeds = seed_pairs(20)
    spec = GeneratorSpec(kind="self-instruct", count=5, seed=1)
    jobs = SelfInstruct().jobs(spec, seeds, lang="en", limit=1)  # limit is for chunks: all `count` are made
    assert [j.request.key for j in jobs] == [f"self-instruct:{i}" for i in range(5)]
    assert all(j.request.json_schema == SELF_INSTRUCT_SCHEMA and j.chunk is None for j in jobs)
    prompts = seeds["prompt"].to_list()
    for j in jobs:
        shown = re.findall(r"^[123]\. ", j.request.messages[0]["content"], flags=re.M)
        assert len(shown) == 3
        assert sum(p[:500] in j.request.messages[0]["content"] for p in prompts) >= 3
    again = SelfInstruct().jobs(spec, seeds, lang="en", limit=None)
    assert [j.request for j in again] == [j.request for j in jobs]
    other = SelfInstruct().jobs(spec.model_copy(update={"seed": 2}), seeds, lang="en", limit=None)
    assert [j.request for j in other] != [j.request for j in jobs]


def test_the_pair_joins_instruction_and_input_and_takes_the_seed_source():
    spec = GeneratorSpec(kind="self-instruct", count=1)
    [job] = SelfInstruct().jobs(spec, seed_pairs(), lang="en", limit=None)
    answer = {"instruction": " Sort these words. ", "input": " pear apple ", "output": " apple pear "}
    [row] = SelfInstruct().pairs(spec, job, ChatResult("k", "", answer, "stop"), lang="de")
    assert (row["prompt"], row["response"]) == ("Sort these words.\n\npear apple", "apple pear")
    assert (row["source"], row["license"], row["lang"], row["uri"]) == ("seed", "CC-BY-NC-4.0", "de",
                                                                       "pairforge:self-instruct")
    assert row["task"] == "instruction" and row["doc_id"] == row["id"]
    [bare] = SelfInstruct().pairs(spec, job, ChatResult("k", "", answer | {"input": "  "}, "stop"), lang="de")
    assert bare["prompt"] == "Sort these words."
