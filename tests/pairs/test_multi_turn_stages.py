"""Multi-turn conversations (5 to 7 messages, a system message first) through every stage that reads pairs: PII
scrubbing reaches every turn, dedup tells conversations apart by all their turns, the split keeps conversations that
open alike together, decontamination reads every turn, the quality rules check every exchange, and each export
format carries every turn (alpaca folds the earlier ones into `input`, as its docs say)."""

from __future__ import annotations

import json

import polars as pl

from pairforge.tasks.core.recipe import (
    Benchmark,
    DecontaminateOptions,
    DedupOptions,
    PIIOptions,
    QualityOptions,
    SplitOptions,
)
from pairforge.tasks.core.schema import PAIRS, TEXT_COLUMNS, conform, row_text
from pairforge.tasks.pairs.quality import check_pairs
from pairforge.tasks.privacy.pii import scrub_frame
from pairforge.tasks.publish.split import assign_splits
from pairforge.tasks.publish.training_formats import render
from tests.curate.test_decontaminate import decontaminate, shard
from tests.curate.test_dedup import run_dedup, shards_of

SYSTEM = "You are a patient cooking teacher."
OPENING = "How long should I boil an egg for a runny yolk?"
FIRST = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": OPENING},
         {"role": "assistant", "content": "About six minutes in gently boiling water, then cool it in cold water."}]


def chat(pid: str, turns: list[dict], doc_id: str | None = None) -> dict:
    users = [t["content"] for t in turns if t["role"] == "user"]
    return {"id": pid, "doc_id": doc_id or pid, "prompt": users[-1], "response": turns[-1]["content"],
            "messages": turns, "system": SYSTEM, "task": "chat", "source": "chats", "license": "CC0-1.0",
            "lang": "en", "origin": "imported"}


def frame(rows: list[dict]) -> pl.DataFrame:
    return conform(pl.DataFrame(rows, schema_overrides={"messages": PAIRS["messages"]}), "pairs")


def exchanges(*pairs: tuple[str, str]) -> list[dict]:
    return [t for u, a in pairs for t in ({"role": "user", "content": u}, {"role": "assistant", "content": a})]


LATER = exchanges(("And for a hard-boiled egg, how much longer?", "Ten to eleven minutes gives a firm yolk."),
                  ("How do I stop the shell from sticking?", "Use eggs a week old and peel them under running water."))
OTHER_LATER = exchanges(("Can I cook several eggs at once in one pan?", "Yes, in one layer, with water covering them."),
                        ("Should the water be salted at all?", "A pinch helps a cracked egg's white set quickly."))


def test_pii_scrubs_every_turn_of_a_conversation():
    turns = [{"role": "system", "content": "Reply to Margaret Thompson at margaret.thompson@example.org."},
             {"role": "user", "content": "My number is 212-555-0187, call me later."},
             {"role": "assistant", "content": "I will call 212-555-0187 this evening."},
             {"role": "user", "content": "Also email my brother at jim.thompson@example.com please."},
             {"role": "assistant", "content": "Done: I wrote to jim.thompson@example.com."},
             {"role": "user", "content": "Thanks, that is all."},
             {"role": "assistant", "content": "You are welcome."}]
    df = frame([chat("c", turns)])
    out, counts = scrub_frame(df, [c for c in TEXT_COLUMNS["pairs"] if c in df.columns], PIIOptions())
    text = json.dumps(out["messages"].to_list())
    for secret in ("margaret.thompson@example.org", "212-555-0187", "jim.thompson@example.com"):
        assert secret not in text
    contents = [m["content"] for m in out["messages"][0]]
    assert "<EMAIL_ADDRESS>" in contents[0] and "<PHONE_NUMBER>" in contents[1] and "<PHONE_NUMBER>" in contents[2]
    assert "<EMAIL_ADDRESS>" in contents[3] and "<EMAIL_ADDRESS>" in contents[4]
    assert contents[5:] == ["Thanks, that is all.", "You are welcome."]  # nothing to scrub: unchanged
    assert (counts["EMAIL_ADDRESS"], counts["PHONE_NUMBER"]) == (3, 2)  # each value once per turn it is in


def test_dedup_compares_conversations_by_all_their_turns(tmp_path):
    work = str(tmp_path)
    base = chat("base", FIRST + LATER)
    rows = [
        base,
        chat("parts-later", FIRST + OTHER_LATER),  # the same first exchange, different later: not a duplicate
        # a different first exchange ending like `base` (its last exchange): the old prompt+response key merged these
        chat("ends-alike", FIRST[:1] + exchanges(("What is the best way to poach an egg?",
                                                  "Swirl simmering water and slide the egg into the middle."))
             + OTHER_LATER[:2] + LATER[2:]),
        chat("copy", [dict(t, content=t["content"].upper()) for t in base["messages"]]),  # the same words
        chat("near", FIRST + LATER[:3] + [{"role": "assistant", "content": LATER[3]["content"] + " Really."}]),
    ]
    df = frame(rows)
    assert df.select(row_text("pairs")).to_series()[0].startswith(OPENING)  # earlier turns lead the text
    kept, rejected, _, counts, _ = run_dedup(shards_of(df, work, 10, "pairs", "chats"), DedupOptions(), work,
                                             table="pairs")
    assert sorted(kept["id"]) == ["base", "ends-alike", "parts-later"]
    assert dict(zip(rejected["id"], rejected["reason"], strict=True))["copy"] == "exact duplicate"
    assert counts.get("exact duplicate") == 1 and len(rejected) == 2  # and `near`: a near duplicate


def test_a_split_keeps_conversations_that_open_alike_together():
    rows = []
    for family in range(40):  # each opener: a single-turn pair and two conversations that go on from it
        opening = f"Tell me about recipe number {family} for the weekend, please."
        first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": opening},
                 {"role": "assistant", "content": f"Recipe {family} is a slow-cooked stew."}]
        rows += [chat(f"{family}-single", first, doc_id=f"a{family}"),
                 chat(f"{family}-chat-1", first + LATER, doc_id=f"b{family}"),
                 chat(f"{family}-chat-2", first + OTHER_LATER, doc_id=f"c{family}")]
    # single-turn pairs sharing a prompt, no conversation among them: not linked (their splits stay as they were)
    rows += [chat(f"lone-{i}", [{"role": "user", "content": "Give me one tip for baking bread today."},
                                {"role": "assistant", "content": f"Tip {i}: let the dough rest."}]) for i in range(20)]
    out = assign_splits(frame(rows), SplitOptions(train=0.5, validation=0.25, test=0.25, seed=3))
    families = out.filter(~pl.col("id").str.starts_with("lone")).with_columns(
        family=pl.col("id").str.extract(r"^(\d+)-")).group_by("family").agg(pl.col("split").n_unique().alias("n"))
    assert families["n"].max() == 1  # every family in one split, though each row has its own doc_id
    assert out.filter(~pl.col("id").str.starts_with("lone"))["split"].n_unique() == 3  # the groups still spread
    assert out.filter(pl.col("id").str.starts_with("lone"))["split"].n_unique() > 1


def test_decontamination_reads_every_turn(tmp_path):
    work = str(tmp_path)
    leaked = "The quick brown fox jumps over the lazy dog while the farmer counts his seven sheep at dawn."
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"question": leaked, "answer": "seven"}) + "\n")
    middle = exchanges(("Can you give me a sentence to practise typing?", leaked),
                       ("Thanks, and one more about eggs?", "Eggs keep for weeks in the fridge."))
    df = frame([chat("leaks-mid-conversation", FIRST + middle), chat("clean", FIRST + LATER)]).with_columns(
        split=pl.lit("train"))
    opts = DecontaminateOptions(against_splits=False, benchmarks=[Benchmark(name="b", uri=str(bench))])
    kept, rejected, counts = decontaminate([shard(df, work, "pairs", "chats-0-0")], opts, work)
    assert rejected["pairs"]["id"].to_list() == ["leaks-mid-conversation"]  # in its 2nd answer, not prompt/response
    assert kept["pairs"]["id"].to_list() == ["clean"] and counts == {"overlaps benchmark b (13-gram)": 1}


def test_quality_rules_check_every_exchange():
    refusal = FIRST[:2] + [{"role": "assistant", "content": "I'm sorry, but I can't help with cooking."}] + LATER
    echo = FIRST + [LATER[0], {"role": "assistant", "content": LATER[0]["content"]}] + LATER[2:]
    tool = FIRST + [{"role": "user", "content": "What time is it now?"},
                    {"role": "assistant", "content": None, "tool_calls": '[{"id":"c1","type":"function",'
                     '"function":{"name":"now","arguments":"{}"}}]'},
                    {"role": "tool", "content": "18:00", "tool_call_id": "c1"},
                    {"role": "assistant", "content": "It is six in the evening."}]
    # a short user turn mid-conversation is how people talk (HH-RLHF: "Human: No"): no prompt minimum there
    curt = FIRST + exchanges(("No", "Then boil it for six minutes, no longer.")) + LATER
    df = frame([chat("refusal", refusal), chat("echo", echo), chat("good", FIRST + LATER), chat("tool", tool),
                chat("curt", curt)])
    kept, rejected = check_pairs(df, QualityOptions())
    assert sorted(kept["id"]) == ["curt", "good", "tool"]  # a turn that only calls a tool is no answer to check
    assert dict(zip(rejected["id"], rejected["reason"], strict=True)) == {
        "refusal": "refusal (exchange 1)", "echo": "response echoes the prompt (exchange 2)"}
    # the last exchange is the row's own: its reason names no exchange, as for any pair
    last_bad = frame([chat("short", FIRST + LATER[:3] + [{"role": "assistant", "content": ""}])])
    assert check_pairs(last_bad, QualityOptions())[1]["reason"].to_list() == ["response shorter than 1 characters"]


def test_every_export_format_carries_every_turn():
    """Every chat format holds each turn's text; alpaca, which has no turns, folds the earlier ones into `input`;
    the preference formats hold preference rows only (a conversation with a `rejected` answer: every turn again)."""
    turns = FIRST + LATER
    df = frame([chat("c", turns)])
    contents = [t["content"] for t in turns]
    for name in ["openai", "sharegpt", "llama2", "trl-sft", "llama-factory", "axolotl", "alpaca"]:
        data = render(name, df).decode()
        records = [data] if name == "llama2" else (
            json.loads(data) if data.lstrip().startswith("[") else [json.loads(line) for line in data.splitlines()])
        text = data if name == "llama2" else json.dumps(records, ensure_ascii=False)
        assert len(records) == 1 and all(c in text for c in contents), name
    [record] = json.loads(render("alpaca", df))
    assert record["instruction"] == contents[-2] and record["output"] == contents[-1]
    assert record["input"].startswith(f"System: {SYSTEM}\nUser: {OPENING}")  # earlier turns folded, in order
    [record] = [json.loads(line) for line in render("openai", df).decode().splitlines()]
    assert [m["content"] for m in record["messages"]] == contents
    preference = df.with_columns(rejected=pl.lit("Just boil it."), chosen_score=4.0, rejected_score=2.0, margin=2.0)
    for name in ["trl-dpo", "trl-kto", "llama-factory-dpo"]:
        assert render(name, df).strip() in (b"", b"[]", b"[\n]"), name  # no preference row: an empty file
        text = render(name, preference).decode()
        assert all(c in text for c in contents[:-1]) and "Just boil it." in text, name


def test_the_judge_reads_a_conversations_earlier_turns(prefect_server, fake_openai):
    from pairforge.tasks.core.recipe import JudgeOptions
    from pairforge.tasks.pairs.judge import judge_frame
    from pairforge.tasks.pairs.llm import LLMClient
    from tests.conftest import completion

    fake = fake_openai(lambda n, body: (200, {}, completion(json.dumps({"score": 4, "reason": "fine"}))))
    single = [{"role": "user", "content": OPENING}, FIRST[2]]
    df = frame([chat("c", FIRST + LATER), chat("s", single)]).with_columns(origin=pl.lit("generated"))
    kept, rejected, dead, _ = judge_frame(df, [LLMClient(fake.base_url, "judge", max_retries=0)], JudgeOptions())
    assert len(kept) == 2 and not len(rejected) and not dead
    asked = sorted(body["messages"][-1]["content"] for _, body in fake.calls)
    assert asked == sorted([
        f"Prompt:\nUser: {OPENING}\nAssistant: {FIRST[2]['content']}\nUser: {LATER[0]['content']}\nAssistant: "
        f"{LATER[1]['content']}\nUser: {LATER[2]['content']}\n\nResponse:\n{LATER[3]['content']}",
        f"Prompt:\n{OPENING}\n\nResponse:\n{FIRST[2]['content']}"])
