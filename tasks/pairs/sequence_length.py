"""Pairs longer than the training sequence length, counted in the target model's tokens (off by default).

A trainer cuts a conversation longer than its `max_seq_length` (TRL's `max_length`, axolotl's `sequence_len`),
and the cut usually falls in the response: the model learns answers that stop mid-sentence. This stage renders
each pair in the chat template of a GGUF vocabulary (default: the local model's; set `tokenizer` to the GGUF of
the model you fine-tune) and rejects it when it has more than `max_tokens` (its length in a `tokens` column).

This module is the whole stage: its registry entry in `tasks.core.stages` places it after the pair rules.
"""

from __future__ import annotations

import polars as pl
from pydantic import Field

from pairforge.tasks.core.options import Strict
from pairforge.tasks.core.stages import RowStage
from pairforge.tasks.publish.tokenizer import get_tokenizer
from pairforge.tasks.publish.training_formats import as_text, conversation


class Options(Strict):
    """`sequence_length`: reject pairs longer than the fine-tuning sequence length."""

    enabled: bool = False
    max_tokens: int = Field(2048, ge=16, description="the trainer's sequence length, in tokens")
    tokenizer: str | None = Field(None, description="GGUF file whose vocabulary and chat template count the "
                                                     "tokens (default: the local model's)")


def reject_long(df: pl.DataFrame, opts: Options) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pairs within `max_tokens`, longer pairs with `reason` and `tokens`)."""
    tok = get_tokenizer(opts.tokenizer)
    chats = df.get_column("messages").to_list()
    # tool calls count as the text the exports render them as (tasks.publish.training_formats.as_text)
    lengths = pl.Series("tokens", [len(tok.apply_chat(as_text(conversation({"messages": m})))[0]) if m else 0
                                   for m in chats], dtype=pl.Int64)
    long = lengths > opts.max_tokens
    rejected = df.filter(long).with_columns(lengths.filter(long),
                                            reason=pl.lit(f"longer than {opts.max_tokens} tokens"))
    return df.filter(~long), rejected


ROWS = RowStage(
    apply=lambda df, shard, opts: reject_long(df, opts),
    options=lambda recipe: recipe.sequence_length if recipe.sequence_length.enabled else None,
    tables=lambda recipe: ["pairs"],
)
