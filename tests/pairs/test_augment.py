"""tasks.pairs.augment: seeded noise (deterministic, at its rates, never the same text), which pairs are augmented
and how new rows link to them, and paraphrase + back-translation through the real local model (a few requests) and
through a dead endpoint (dead letters, no crash)."""

from __future__ import annotations

import random
import re
from collections import Counter

import polars as pl
import pytest

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import AugmentOptions, GenerateOptions, NoiseOptions, SplitOptions
from pairforge.tasks.core.schema import PAIRS, conform
from pairforge.tasks.core.shards import Shard
from pairforge.tasks.pairs.augment import (
    BACK_TRANSLATION,
    NOISE,
    PARAPHRASE,
    PLACEHOLDER,
    augment_frame,
    augment_shard,
    noise_pairs,
    plan_cutoffs,
    rewrite_problem,
)
from pairforge.tasks.pairs.generate import Endpoint
from pairforge.tasks.pairs.llm_server import free_port
from pairforge.tasks.publish.split import assign_splits
from tests.conftest import read_corpus
from tests.ingest.helpers import plain_turns


@pytest.fixture(scope="module")
def instruct() -> pl.DataFrame:
    rows = read_corpus("user-oriented", "instruct/user_oriented_instructions.jsonl", "self-instruct", "Apache-2.0")
    return assign_splits(rows, SplitOptions(train=0.8, validation=0.1, test=0.1))


@pytest.fixture(scope="module")
def news() -> pl.DataFrame:
    """Long prompts (ABC news articles, ~200 words each), all in train: enough words to measure rates."""
    docs = read_corpus("lee", "text/lee_background.cor", "text-lines", "LGPL-2.1")
    turn = [pl.struct(role=pl.lit("user"), content=pl.col("text")),
            pl.struct(role=pl.lit("assistant"), content=pl.lit("A summary."))]
    return conform(docs.select("id", "doc_id", "source", "uri", "license", "lang", prompt=pl.col("text"),
                               response=pl.lit("A summary."), messages=pl.concat_list(turn), origin=pl.lit("imported"),
                               split=pl.lit("train")), "pairs")


def noise(**rates) -> AugmentOptions:
    return AugmentOptions(enabled=True, share=1.0, noise=NoiseOptions(enabled=True, **rates))


def words_changed(before: list[str], after: list[str]) -> tuple[int, int]:
    """(changed words, changeable words) over texts whose whitespace was left alone."""
    changed = total = 0
    for a, b in zip(before, after, strict=True):
        wa, wb = a.split(" "), b.split(" ")
        assert len(wa) == len(wb)
        for x, y in zip(wa, wb, strict=True):
            if sum(c.isalpha() for c in x) >= 2:
                total += 1
                changed += x != y
    return changed, total


def test_noise_is_deterministic_keyed_by_seed_and_pair_not_by_shard_layout(instruct):
    opts = AugmentOptions(enabled=True, share=0.5, noise=NoiseOptions(enabled=True, typo_rate=0.1))
    first = noise_pairs(instruct, opts)
    random.seed(12345)  # the global generator plays no part
    assert noise_pairs(instruct, opts).equals(first)
    halves = pl.concat([noise_pairs(instruct.head(100), opts), noise_pairs(instruct.tail(len(instruct) - 100), opts)])
    assert halves.sort("id").equals(first.sort("id"))
    other = noise_pairs(instruct, opts.model_copy(update={"seed": 1}))
    assert set(other["augmented_from"]) != set(first["augmented_from"])
    shared = first.join(other, on="augmented_from").filter(pl.col("prompt") != pl.col("prompt_right"))
    assert len(shared) > 0  # the same pair gets other noise under another seed


def test_a_shard_without_training_pairs_adds_nothing(instruct):
    opts = AugmentOptions(enabled=True, share=1.0, noise=NoiseOptions(enabled=True))
    held_out = instruct.with_columns(split=pl.lit("test"))
    assert noise_pairs(held_out, opts).is_empty()
    assert noise_pairs(held_out.clear(), opts).is_empty()
    assert len(noise_pairs(instruct.with_columns(split=pl.lit("train")), opts)) > 0


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_typo_and_case_rates_are_kept(news, rate):
    for kind in ("typo_rate", "case_rate"):
        rates = {"typo_rate": 0.0, "case_rate": 0.0, "whitespace_rate": 0.0, kind: rate}
        out = noise_pairs(news, noise(**rates))
        assert len(out) == len(news)
        before = news.join(out.select(pl.col("augmented_from").alias("id"), pl.col("prompt").alias("new")), on="id")
        changed, total = words_changed(before["prompt"].to_list(), before["new"].to_list())
        assert total > 50_000 and abs(changed / total - rate) < 0.01, (kind, changed / total)
        if kind == "typo_rate":  # swap, drop or double: the word's length moves by at most one letter
            for a, b in zip(before["prompt"].to_list()[:20], before["new"].to_list()[:20], strict=True):
                for x, y in zip(a.split(" "), b.split(" "), strict=True):
                    assert x == y or abs(len(x) - len(y)) <= 1


def test_whitespace_rate_is_kept(news):
    out = noise_pairs(news, noise(typo_rate=0.0, case_rate=0.0, whitespace_rate=0.1))
    before = news.join(out.select(pl.col("augmented_from").alias("id"), pl.col("prompt").alias("new")), on="id")
    spaces = doubled_or_dropped = 0
    for a, b in zip(before["prompt"].to_list(), before["new"].to_list(), strict=True):
        dropped = len(a.split()) - len(b.split())  # a dropped space joins two words
        doubled = len(b) - len(a) + dropped
        spaces += len(re.findall(r"(?<=\S) (?=\S)", a))
        doubled_or_dropped += doubled + dropped
        assert b.replace(" ", "") == a.replace(" ", "")  # nothing but spaces changed
    assert abs(doubled_or_dropped / spaces - 0.1) < 0.01


def test_new_rows_are_linked_train_only_and_never_the_same_text(instruct):
    opts = AugmentOptions(enabled=True, share=0.5, noise=NoiseOptions(enabled=True))
    got = augment_frame(instruct, opts)
    out = got.frame
    assert out.head(len(instruct)).equals(instruct) and out.columns == instruct.columns
    new = out.slice(len(instruct))
    assert got.added == {NOISE: len(new)} and got.dead == [] and got.stats.requests == 0
    train = instruct.filter(pl.col("split") == "train")
    assert 0.35 < len(new) / len(train) < 0.65  # a share of 0.5, by hash
    assert out.filter(pl.col("split") != "train").equals(instruct.filter(pl.col("split") != "train"))
    assert set(new["split"]) == {"train"} and set(new["origin"]) == {"augmented"}
    assert set(new["augmented_from"]) <= set(train["id"])
    assert new["id"].n_unique() == len(new) and not set(new["id"]) & set(instruct["id"])
    linked = new.join(instruct, left_on="augmented_from", right_on="id", suffix="_orig")
    assert len(linked) == len(new)
    for r in linked.iter_rows(named=True):
        assert r["prompt"] != r["prompt_orig"]
        assert (r["response"], r["doc_id"], r["system"], r["source"], r["license"], r["lang"], r["generator"]) == (
            r["response_orig"], r["doc_id_orig"], r["system_orig"], r["source_orig"], r["license_orig"],
            r["lang_orig"], r["generator_orig"])
        users = [m["content"] for m in r["messages"] if m["role"] == "user"]
        assert users[-1] == r["prompt"]
        assert plain_turns(r["messages"])[-1] == {"role": "assistant", "content": r["response"]}
        assert len(r["messages"]) == len(r["messages_orig"])
    # a rerun over the augmented frame never augments augmented rows again
    again = noise_pairs(out, opts)
    assert not set(again["augmented_from"]) & set(new["id"])
    assert len(noise_pairs(instruct, opts.model_copy(update={"max_rows": 7}))) == 7


def test_max_rows_caps_the_whole_dataset_not_each_shard(instruct, tmp_path):
    opts = AugmentOptions(enabled=True, share=0.5, max_rows=9, noise=NoiseOptions(enabled=True))
    whole = noise_pairs(instruct, opts)
    shards = []
    for n, start in enumerate(range(0, len(instruct), 60)):  # 5 shards: 9 per shard would give up to 45
        uri = str(tmp_path / f"s{n}.parquet")
        storage.write_parquet(instruct.slice(start, 60), uri)
        shards.append(Shard("pairs", f"s{n}", uri, min(60, len(instruct) - start)))
    cutoffs = plan_cutoffs(shards, opts, max_tokens=256)
    assert set(cutoffs) == {NOISE}
    parts = [augment_shard.fn(s, opts, None, GenerateOptions(), None, str(tmp_path / "work"), cutoffs)
             for s in shards]
    assert sum(p.added[NOISE] for p in parts) == 9
    added = pl.concat([storage.read_parquet(p.shard.uri).filter(pl.col("origin") == "augmented") for p in parts])
    assert sorted(added["augmented_from"]) == sorted(whole["augmented_from"])  # the same pairs as in one frame
    assert set(added["id"]) == set(whole["id"])
    # no cap needed when there are fewer candidates than max_rows
    assert plan_cutoffs(shards, opts.model_copy(update={"max_rows": 10_000}), 256) == {}


def test_placeholders_survive_and_unchangeable_prompts_are_skipped():
    prompts = ["Email <EMAIL_ADDRESS> and call <PERSON_1> about the invoice from <ORGANIZATION:1a2b3c4d5e6f> today",
               "42", "ok"]
    df = conform(pl.DataFrame({"id": ["a", "b", "c"], "prompt": prompts, "response": ["r"] * 3,
                               "origin": ["imported"] * 3, "split": ["train"] * 3}), "pairs")
    out = noise_pairs(df, noise(typo_rate=0.5, case_rate=0.5, whitespace_rate=0.0))
    assert sorted(out["augmented_from"]) == ["a", "c"]  # "42" has nothing that could change
    first = out.filter(pl.col("augmented_from") == "a")["prompt"][0]
    assert PLACEHOLDER.findall(first) == PLACEHOLDER.findall(prompts[0]) and first != prompts[0]
    # rebuilt from columns
    assert plain_turns(out["messages"].to_list()[0])[0] == {"role": "user", "content": out["prompt"][0]}
    assert augment_frame(df, AugmentOptions(enabled=False, noise=NoiseOptions(enabled=True))).frame.equals(df)
    with pytest.raises(ValueError, match="paraphrase need the generation endpoint"):
        augment_frame(df, AugmentOptions(enabled=True, paraphrase=True))


def test_rewrite_checks():
    original = "Give <PERSON> 3 tips for the 10 km race."
    assert rewrite_problem(original, "Offer <PERSON> 3 pieces of advice for the 10 km race.") is None
    assert rewrite_problem(original, "  ") == "empty output"
    assert rewrite_problem(original, "give <person> 3 TIPS for the 10 km   race.") == "same as the original"
    assert rewrite_problem(original, "Tips?").startswith("length ratio")
    assert rewrite_problem(original, "Give Anna 3 tips for the 10 km race, please.") == "PII placeholders changed"
    assert rewrite_problem(original, "Give <PERSON> 5 tips for the 10 km race.") == "numbers changed"


def write_shard(df: pl.DataFrame, tmp_path) -> Shard:
    uri = str(tmp_path / "in" / "user-oriented-00000-00000.parquet")
    storage.write_parquet(df, uri)
    return Shard("pairs", "user-oriented-00000-00000", uri, len(df))


def test_paraphrase_and_back_translation_with_the_local_model(prefect_server, llm_server, instruct, tmp_path):
    shard = write_shard(instruct, tmp_path)
    opts = AugmentOptions(enabled=True, share=1.0, max_rows=2, paraphrase=True, back_translation="fr")
    gen = GenerateOptions(temperature=0.0, max_tokens=128, max_concurrency=2, max_parse_retries=0)
    endpoint = Endpoint(llm_server.base_url, llm_server.model, "local")
    cache = str(tmp_path / "cache")
    res = augment_shard.fn(shard, opts, endpoint, gen, cache, str(tmp_path / "work1"))
    stats, rejected = res.llm, Counter(res.rejected)
    dead = Counter(storage.read_parquet(res.dead_uri)["kind"]) if res.dead_uri else Counter()
    answered = stats["requests"] - stats["malformed"] - stats["retries"]  # requests that got a usable answer
    # two pairs per method: 2 paraphrases, 2 translations out and at most 2 back (the tiny model's malformed
    # JSON is re-asked, and a request still malformed after that is a dead letter)
    assert 4 <= answered + stats["failures"] <= 6 and res.dead == stats["failures"] == sum(dead.values())
    for method in (PARAPHRASE, BACK_TRANSLATION):
        refused = sum(n for reason, n in rejected.items() if reason.startswith(f"{method}: "))
        assert res.added[method] + refused + dead[method] == 2, (method, res)
    out = res.shard.read()
    new = out.filter(pl.col("origin") == "augmented")
    assert len(out) == len(instruct) + len(new) and len(new) == sum(res.added.values())
    originals = dict(zip(instruct["id"], instruct["prompt"], strict=True))
    for r in new.iter_rows(named=True):
        assert r["generator"] == llm_server.model and r["split"] == "train"
        assert rewrite_problem(originals[r["augmented_from"]], r["prompt"]) is None
    # the same run again takes every answered request from the cache (failures are never cached)
    again = augment_shard.fn(shard, opts, endpoint, gen, cache, str(tmp_path / "work2"))
    assert again.llm["cache_hits"] == answered
    if not res.dead:
        assert again.llm["requests"] == 0 and again.shard.read().equals(out)


def test_a_dead_endpoint_gives_dead_letters_not_a_crash(prefect_server, instruct, tmp_path):
    shard = write_shard(instruct, tmp_path)
    opts = AugmentOptions(enabled=True, share=1.0, max_rows=3, paraphrase=True, noise=NoiseOptions(enabled=True))
    gen = GenerateOptions(max_retries=0, timeout_s=5)
    endpoint = Endpoint(f"http://127.0.0.1:{free_port()}/v1", "nobody", "none")
    res = augment_shard.fn(shard, opts, endpoint, gen, None, str(tmp_path / "work"))
    assert res.added == {NOISE: 3, PARAPHRASE: 0} and res.dead == 3 and res.llm["failures"] == 3
    dead = storage.read_parquet(res.dead_uri)
    assert len(dead) == 3 and set(dead["kind"]) == {PARAPHRASE} and set(dead["stage"]) == {"augment"}
    assert all(e.startswith("connection error") for e in dead["error"])
    assert set(dead["doc_id"]) <= set(instruct["doc_id"])
    assert res.shard.rows == len(instruct) + 3 and conform(res.shard.read(), "pairs").schema.keys() >= set(PAIRS)
