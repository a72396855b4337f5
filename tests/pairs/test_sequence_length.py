"""tasks.pairs.sequence_length: pairs longer than the training sequence length are rejected with their length."""

from __future__ import annotations

import json

import polars as pl

from pairforge.tasks.core.recipe import load_recipe
from pairforge.tasks.core.schema import conform
from pairforge.tasks.core.shards import Shard, apply_row_stage
from pairforge.tasks.pairs.sequence_length import ROWS, Options, fit
from pairforge.tasks.publish.tokenizer import get_tokenizer
from tests.conftest import CORPORA, DEMO


def instruction_pairs() -> pl.DataFrame:
    """The real user-oriented instructions (Self-Instruct), first instance of each, as chat pairs."""
    rows = [json.loads(line) for line in (CORPORA / "instruct" / "user_oriented_instructions.jsonl").open()]
    prompts = [(r["instruction"] + "\n\n" + r["instances"][0]["input"]).strip() for r in rows]
    responses = [r["instances"][0]["output"] for r in rows]
    return conform(pl.DataFrame({
        "id": [r["id"] for r in rows], "prompt": prompts, "response": responses,
        "messages": [[{"role": "user", "content": p}, {"role": "assistant", "content": a}]
                     for p, a in zip(prompts, responses, strict=True)],
    }), "pairs")


def test_long_pairs_go_with_their_length_and_the_rest_stay():
    df = instruction_pairs()
    kept, rejected, changed = fit(df, Options(enabled=True, max_tokens=128))
    assert len(kept) + len(rejected) == len(df) and len(kept) > 50 and len(rejected) > 20
    tok = get_tokenizer()
    # counted another way: the rendered conversation, tokenized whole with its control tokens parsed
    whole = {r["id"]: len(tok.encode(tok.render_chat(r["messages"]), special=True)) for r in df.iter_rows(named=True)}
    assert all(whole[i] <= 128 + 1 for i in kept["id"])  # +1: a BOS some vocabularies add in apply_chat
    assert all(whole[i] > 128 - 1 for i in rejected["id"])
    assert set(rejected["reason"]) == {"longer than 128 tokens"}
    assert (rejected["tokens"] > 128).all() and kept.columns == df.columns and changed == {"rows truncated": 0}


def test_off_by_default_and_on_through_the_recipe(tmp_path):
    assert ROWS.options(load_recipe(DEMO / "recipe.yaml", check_sources=False)) is None
    recipe = load_recipe(DEMO / "recipe.yaml", ["sequence_length.enabled=true", "sequence_length.max_tokens=64"],
                         check_sources=False)
    opts = ROWS.options(recipe)
    assert opts.options.max_tokens == 64 and opts.tokenizer is None and ROWS.tables(recipe) == ["pairs"]
    uri = str(tmp_path / "in.parquet")
    instruction_pairs().head(40).write_parquet(uri)
    res = apply_row_stage.fn("sequence_length", Shard("pairs", "p-00000", uri, 40), opts, str(tmp_path / "w"))
    assert res.rejected == {"longer than 64 tokens": 40 - res.shard.rows} and res.shard.rows < 40
    assert pl.read_parquet(res.rejected_uri)["stage"].unique().to_list() == ["sequence_length"]


def test_tool_calls_count_as_the_text_the_exports_render():
    from pairforge.tasks.core.tools import calls_text

    args = json.dumps({"items": ["word"] * 200})  # a long call: the model writes every token of it
    calls = json.dumps([{"id": "c1", "type": "function", "function": {"name": "order", "arguments": args}}])
    messages = [{"role": "user", "content": "Order."}, {"role": "assistant", "content": None, "tool_calls": calls}]
    df = conform(pl.DataFrame({"id": ["t"], "prompt": ["Order."], "response": ["x"], "messages": [messages]}),
                 "pairs")
    kept, rejected, changed = fit(df, Options(enabled=True, max_tokens=128))
    tok = get_tokenizer()
    expected = len(tok.apply_chat([messages[0], {"role": "assistant", "content": calls_text(json.loads(calls))}])[0])
    assert kept.is_empty() and rejected["tokens"].to_list() == [expected] and expected > 200
