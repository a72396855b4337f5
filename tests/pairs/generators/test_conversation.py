"""conversation: multi-turn chats whose user turns the model writes too. The per-turn rules are pure functions; the
rounds run through `run_generator` against a fake endpoint where a test needs exact turns (a bad turn at a given
exchange, a failed request mid-conversation), and against the real local llama.cpp server end to end."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from pairforge.tasks.core.recipe import GeneratorSpec, RecipeError, load_recipe
from pairforge.tasks.core.schema import PAIRS, conform
from pairforge.tasks.pairs.chat import ChatResult
from pairforge.tasks.pairs.generate import run_generator
from pairforge.tasks.pairs.generators.base import Job
from pairforge.tasks.pairs.generators.conversation import Conversation, clean_turn, turn_problem
from pairforge.tasks.pairs.llm import LLMClient
from tests.conftest import completion
from tests.pairs.generators.test_registry import recipe
from tests.pairs.test_generate import news_docs, seed_pairs

ASKED = [{"role": "user", "content": "How do I boil an egg?"},
         {"role": "assistant", "content": "Put it in boiling water for eight minutes."}]


def seeds(n: int = 3) -> pl.DataFrame:
    df = seed_pairs(n).with_columns(id=pl.format("s{}", pl.int_range(pl.len())), doc_id=pl.format("s{}", pl.int_range(
        pl.len())), response=pl.lit("seed answer"), system=pl.lit(None, pl.String))
    return conform(df, "pairs")


# ---- the rules of one turn -----------------------------------------------------------------------


@pytest.mark.parametrize(("role", "text", "problem"), [
    ("user", "How long should it cool afterwards?", None),
    ("assistant", "About two minutes in cold water.", None),
    ("user", "  ", "empty turn"),
    ("user", "Why?", "question shorter than 8 characters"),
    ("assistant", "Yes.", "answer shorter than 8 characters"),
    ("assistant", "As an AI language model I cannot cook.", "refusal"),
    ("assistant", "How do I boil an egg? Like that.", "answer echoes the question"),
    ("user", "how do I  boil an EGG?", "repeats turn 1"),
    ("user", "Put it in boiling water for eight minutes, you said?", "repeats turn 2"),  # holds an earlier turn whole
    ("assistant", "Put it in the boiling water for eight minutes.", "repeats turn 2"),  # near: 8 of 9 words shared
    ("user", "Assistant: sure, here is how to cook it.", "speaks as the other role"),
    ("assistant", "Sure thing, boil it.\nUser: and then what?", "speaks as the other role"),
    ("user", "And the yolk?\nUser: and the white too?", "writes more than one turn"),
    ("user", "What is the next question to ask here?", "echoes the user simulator's instructions"),
    ("user", "Tell me more <|im_start|>assistant", "chat control token <|im_start|>"),
    ("assistant", "Boil it [/INST] and peel it.", "chat control token [/INST]"),
])
def test_each_turn_rule(role, text, problem):
    earlier = ASKED if role == "user" else [*ASKED, {"role": "user", "content": "What about a soft egg?"}]
    if problem == "answer echoes the question":
        earlier = ASKED[:1]
    opts = GeneratorSpec(kind="conversation", min_turn_chars=8).turn_quality
    assert turn_problem(role, text, earlier, opts) == problem


def test_a_turn_loses_its_own_role_label_and_quotes_but_not_the_other_role():
    assert clean_turn("user", ' User: "How far is it?" ') == "How far is it?"
    assert clean_turn("user", "**User:** How far?") == "How far?"
    assert clean_turn("assistant", "Assistant: Far.") == "Far."
    assert clean_turn("user", "Assistant: Far.") == "Assistant: Far."  # kept: the rules reject it
    assert clean_turn("assistant", None) == ""


# ---- jobs and rounds, turn by turn ---------------------------------------------------------------


def answer(job: Job, text: str, finish: str = "stop") -> ChatResult:
    parsed = {"question": text} if job.request.json_schema else None
    return ChatResult(job.request.key, json.dumps(parsed) if parsed else text, parsed, finish)


def talk(spec: GeneratorSpec, replies: list[str], data: pl.DataFrame | None = None) -> list[dict | Job]:
    """Drive one conversation (the first job) through `pairs` with these turns; returns what the last step gave."""
    gen = Conversation()
    [job, *_] = gen.jobs(spec, seeds(1) if data is None else data, lang="en", limit=None)
    out: list = [job]
    for text in replies:
        [job] = [o for o in out if isinstance(o, Job)]
        out = gen.pairs(spec, job, answer(job, text), lang="en")
    return out


GOOD = ["Here is a careful answer to the task.", "Could you make it shorter, please?",
        "Sure, a shorter version of the answer.", "Which part matters most in it?",
        "The first sentence matters the most."]


def test_a_seed_conversation_alternates_turns_and_becomes_one_row():
    spec = GeneratorSpec(kind="conversation", turns=3)
    gen = Conversation()
    jobs = gen.jobs(spec, seeds(3), lang="en", limit=None)
    prompt = seeds(1)["prompt"][0]
    assert [j.request.key for j in jobs] == ["conversation:s0:1", "conversation:s1:1", "conversation:s2:1"]
    assert jobs[0].request.messages == [{"role": "user", "content": prompt}] and jobs[0].request.json_schema is None
    step = gen.pairs(spec, jobs[0], answer(jobs[0], GOOD[0]), lang="en")
    [user] = step
    assert user.request.json_schema and user.request.max_tokens  # the user simulator, asked for JSON, kept short
    assert prompt[:100] in user.request.messages[-1]["content"] and GOOD[0] in user.request.messages[-1]["content"]
    [row] = talk(spec, GOOD)
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * 3
    assert [m["content"] for m in row["messages"]] == [prompt, *GOOD]
    assert (row["prompt"], row["response"]) == (GOOD[3], GOOD[4])  # the last user and assistant turns
    assert (row["task"], row["origin"], row["doc_id"], row["source"]) == ("chat", "generated", "s0", "seed")
    assert "reason" not in row
    # the id covers every turn: another conversation ending the same way is another row
    [other] = talk(spec, ["A different first answer here.", *GOOD[1:]])
    assert other["id"] != row["id"] and other["response"] == row["response"]
    assert pl.DataFrame([row, other], schema=PAIRS, orient="row")["messages"].list.len().to_list() == [6, 6]


def test_a_seed_system_message_leads_every_request_and_the_row():
    data = seeds(1).with_columns(system=pl.lit("Be brief."))
    spec = GeneratorSpec(kind="conversation", turns=2)
    [job] = Conversation().jobs(spec, data, lang="en", limit=None)
    assert job.request.messages[0] == {"role": "system", "content": "Be brief."}
    [row] = talk(spec, GOOD[:3], data)
    assert row["messages"][0] == {"role": "system", "content": "Be brief."} and row["system"] == "Be brief."
    assert len(row["messages"]) == 5


def test_a_bad_turn_rejects_the_conversation_with_its_exchange_and_role():
    spec = GeneratorSpec(kind="conversation", turns=3)
    [row] = talk(spec, GOOD[:2] + ["Ok."])
    assert row["reason"] == "conversation: answer shorter than 8 characters (exchange 2, assistant)"
    assert [m["content"] for m in row["messages"]][1:] == [*GOOD[:2], "Ok."]  # the bad turn is shown
    [row] = talk(spec, GOOD[:3] + [GOOD[1]])
    assert row["reason"] == "conversation: repeats turn 3 (exchange 3, user)"


def test_min_turns_keeps_the_exchanges_before_a_bad_turn():
    spec = GeneratorSpec(kind="conversation", turns=3, min_turns=2)
    [row] = talk(spec, GOOD[:3] + [GOOD[1]])  # exchange 3's user turn is bad: two exchanges done
    assert "reason" not in row and len(row["messages"]) == 4 and row["response"] == GOOD[2]
    [row] = talk(spec, GOOD[:2] + ["Ok."])  # exchange 2's answer is bad: one exchange only, under min_turns
    assert row["reason"].startswith("conversation: answer shorter")


def test_a_document_conversation_starts_with_a_question_about_the_chunk():
    spec = GeneratorSpec(kind="conversation", start="document", turns=1, count=2, chunk_tokens=128)
    docs = news_docs(3)
    jobs = Conversation().jobs(spec, docs, lang="en", limit=None)
    assert len(jobs) == 2 and all(j.request.json_schema for j in jobs)  # `count` chunks; the user speaks first
    chunk = jobs[0].extra[1].text
    assert chunk in jobs[0].request.messages[-1]["content"] and chunk in docs["text"][0]
    [row] = talk(spec, ["What did the report say about it?", "It said the fire was under control."], docs)
    assert row["messages"][0]["role"] == "system" and chunk in row["messages"][0]["content"]
    assert row["context"] == chunk and row["doc_id"] == "d0" and row["source"] == "news"
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert Conversation().jobs(spec, docs, lang="en", limit=1)[0].request.key == jobs[0].request.key  # max_chunks


def test_the_recipe_checks_conversation_options(tmp_path):
    assert GeneratorSpec(kind="conversation").input_table == "pairs"
    assert GeneratorSpec(kind="conversation", start="document").input_table == "documents"
    for generators, error in [
        ("[{kind: conversation, start: document, sources: [seed]}]", "'seed' is a pairs source, conversation needs "
                                                                     "documents"),
        ("[{kind: conversation, sources: [docs]}]", "'docs' is a documents source, conversation needs pairs"),
        ("[{kind: conversation, turns: 2, min_turns: 3}]", "min_turns 3 is more than turns 2"),
    ]:
        with pytest.raises(RecipeError, match=re.escape(error)):
            load_recipe(recipe(tmp_path, generators), check_sources=False)


# ---- rounds through run_generator ----------------------------------------------------------------


def scripted(fake_openai, fail_on: str | None = None):
    """An endpoint that answers the simulator with a numbered question and the assistant with a numbered answer
    (each turn different); a request whose last message holds `fail_on` gets a 400."""
    def reply(n, body):
        last = body["messages"][-1]["content"]
        if fail_on and fail_on in last and body.get("response_format"):
            return 400, {}, {"error": {"message": "bad request", "type": "x", "code": None, "param": None}}
        if body.get("response_format"):
            return 200, {}, completion(json.dumps({"question": f"Then what about case number {n}?"}))
        return 200, {}, completion(f"Here is answer number {n} to that.")
    return fake_openai(reply)


def test_rounds_send_every_conversation_turn_by_turn(prefect_server, fake_openai):
    fake = scripted(fake_openai)
    spec = GeneratorSpec(kind="conversation", turns=3, count=2)
    got = run_generator(spec, LLMClient(fake.base_url, "m", max_retries=0), seeds(2), lang="en", limit=None)
    assert got.submitted == len(fake.calls) == 2 * 5 and not got.dead and not got.rejected_rows
    assert len(got.pairs) == 2 and all(len(r["messages"]) == 6 for r in got.pairs)
    # round k holds turn k of both conversations: their requests come in pairs
    depth = [len(body["messages"]) if not body.get("response_format") else None for _, body in fake.calls]
    assert depth[:2] == [1, 1] and depth[4:6] == [3, 3] and depth[8:] == [5, 5]


def test_a_failed_request_mid_conversation_is_a_dead_letter(prefect_server, fake_openai):
    fake = scripted(fake_openai, fail_on=seeds(2)["prompt"][1][:60])  # the simulator's request on seed s1
    spec = GeneratorSpec(kind="conversation", turns=2, count=2)
    got = run_generator(spec, LLMClient(fake.base_url, "m", max_retries=0), seeds(2), lang="en", limit=None)
    assert [d["key"] for d in got.dead] == ["conversation:s1:2"] and len(got.pairs) == 1
    assert got.dead[0]["error"] and got.dead[0]["kind"] == "conversation"


def test_a_truncated_turn_ends_the_conversation(prefect_server, fake_openai):
    def reply(n, body):
        body = completion("Here is a long answer that goes on")
        body["choices"][0]["finish_reason"] = "length"
        return 200, {}, body
    fake = fake_openai(reply)
    spec = GeneratorSpec(kind="conversation", turns=2, count=1)
    got = run_generator(spec, LLMClient(fake.base_url, "m", max_retries=0), seeds(1), lang="en", limit=None)
    assert not got.pairs and [r["reason"] for r in got.rejected_rows] == [
        "conversation: truncated (hit max_tokens) (exchange 1, assistant)"]
    assert got.rejected == {"conversation: truncated (hit max_tokens) (exchange 1, assistant)": 1}


# ---- the real local model ------------------------------------------------------------------------


def test_conversations_from_the_local_model(prefect_server, llm_server):
    """SmolLM2 plays both sides at temperature 0: every kept conversation has `turns` exchanges that pass every
    rule; every other one is rejected at a named exchange."""
    spec = GeneratorSpec(kind="conversation", turns=2, count=4)
    client = LLMClient(llm_server.base_url, llm_server.model, max_tokens=200, max_concurrency=2, temperature=0.0,
                       server=llm_server)
    got = run_generator(spec, client, seeds(4), lang="en", limit=None)
    assert not got.dead and len(got.pairs) + len(got.rejected_rows) == 4
    assert got.stats.requests == got.submitted <= 4 * 3
    assert got.pairs, "no conversation of four passed the rules"
    for row in got.pairs:
        turns = row["messages"]
        assert [m["role"] for m in turns] == ["user", "assistant"] * 2
        for i, m in enumerate(turns[1:], start=1):
            assert turn_problem(m["role"], m["content"], turns[:i], spec.turn_quality) is None
        assert (row["prompt"], row["response"]) == (turns[2]["content"], turns[3]["content"])
    for row in got.rejected_rows:
        assert re.fullmatch(r"conversation: .+ \(exchange [12], (user|assistant)\)", row["reason"])


def test_the_demo_recipe_makes_conversations_and_preference_pairs_on_the_local_model():
    from tests.conftest import DEMO

    recipe = load_recipe(DEMO / "recipe.yaml", check_sources=False)
    kinds = {g.kind: g for g in recipe.generate.generators}
    assert kinds["conversation"].turns == 3 and kinds["conversation"].input_table == "pairs"
    assert len(kinds["preference"].temperatures) == 2 and kinds["preference"].count <= 4
    assert recipe.generate.provider == "local" and not recipe.generate.base_url
    assert {"trl-dpo", "trl-kto", "llama-factory-dpo"} <= set(recipe.export.formats)


def test_conversations_through_the_build_flow(prefect_server, llm_server, tmp_path):
    """Generated conversations in a build on the local model: every one that is published keeps all its turns
    through every stage, lands in its seed's split (same doc_id), and its every turn is in the chat exports; the
    others are in the rejected table with their reason."""
    from pairforge.flows.build import build_dataset
    from tests.conftest import CORPORA
    from tests.flows.test_flow import check_version, read_table
    from tests.pairs.test_generate_flow import add_seed_source
    from tests.pairs.test_generate_flow import recipe as flow_recipe

    seed = tmp_path / "seed.jsonl"
    seed.write_text("".join((CORPORA / "instruct" / "alpaca_seed_tasks.jsonl").read_text().splitlines(True)[:3]))
    path = flow_recipe(tmp_path, {
        "base_url": llm_server.base_url, "model": llm_server.model, "max_concurrency": 2, "max_tokens": 200,
        "temperature": 0.0, "generators": [{"kind": "conversation", "sources": ["seed"], "count": 3, "turns": 2}],
    }, export={"uri": str(tmp_path / "out") + "/", "formats": ["parquet", "openai", "trl-sft", "sharegpt"]})
    add_seed_source(path, seed)

    uri = build_dataset(str(path), version="v1")

    manifest = check_version(uri)
    pairs = read_table(uri, manifest, "pairs")
    chats = pairs.filter(pl.col("task") == "chat", pl.col("origin") == "generated")
    rejected = [f for f in manifest["files"] if f["path"] == "rejected/pairs.parquet"]
    dropped = pl.read_parquet(f"{uri}/{rejected[0]['path']}").filter(pl.col("task") == "chat") if rejected else None
    assert len(chats) + (len(dropped) if dropped is not None else 0) == 3  # each seed: a chat, or a rejected one
    assert len(chats) >= 1
    seeds = pairs.filter(pl.col("origin") == "imported")
    for row in chats.iter_rows(named=True):
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * 2
        assert (row["prompt"], row["response"]) == (row["messages"][2]["content"], row["messages"][3]["content"])
        assert row["split"] == seeds.filter(pl.col("doc_id") == row["doc_id"])["split"].item()
    if dropped is not None:
        assert all(r.startswith("conversation: ") or "(exchange " in r for r in dropped["reason"])
    for fmt in ("openai", "trl-sft"):
        records = [json.loads(line) for f in manifest["files"] if f["table"] == fmt
                   for line in (tmp_path / "out" / "gen-set" / "v1" / f["path"]).read_text().splitlines()]
        for row in chats.iter_rows(named=True):
            assert [m["content"] for m in row["messages"]] in [[m["content"] for m in r["messages"]] for r in records]
