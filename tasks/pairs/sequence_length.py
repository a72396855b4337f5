"""Pairs longer than the training sequence length, counted in the target model's tokens (off by default).

A trainer cuts a conversation longer than its `max_seq_length` (TRL's `max_length`, axolotl's `sequence_len`),
and the cut usually falls in the response: the model learns answers that stop mid-sentence without knowing it.
This stage renders each pair in the chat template of the recipe's `tokenizer` (tasks.publish.tokenizer: a
tokenizer.json and its template; without that section, the local model's GGUF) and counts it as the `tokenized`
export does (`chat_lengths`); a preference row counts as its longer side (prompt + chosen, prompt + rejected).

`on_long` says what happens to a pair over `max_tokens`:
- `reject` (default): it goes to the rejected table with its length (a `tokens` column) and the reason.
- `truncate`: the content of its last turn, an assistant turn, is cut (on token boundaries, back to a word
  boundary where one is near) so the whole conversation fits; for a preference row, the chosen and the rejected
  response each. A prompt is never cut: a pair whose turns before the last assistant turn alone fill the limit,
  whose last turn is not an assistant turn, or whose last turn only calls tools is rejected with the reason. The
  report counts the rows truncated.

This module is the whole stage: its registry entry in `tasks.core.stages` places it after the pair rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl
from pydantic import Field

from pairforge.tasks.core.options import Strict
from pairforge.tasks.core.stages import RowStage
from pairforge.tasks.publish.tokenizer import TokenizerOptions, fingerprint, tokenizer_for
from pairforge.tasks.publish.training_formats import as_text, conversation


class Options(Strict):
    """`sequence_length`: pairs longer than the fine-tuning sequence length."""

    enabled: bool = False
    max_tokens: int = Field(2048, ge=16, description="the trainer's sequence length, in the recipe tokenizer's tokens")
    on_long: Literal["reject", "truncate"] = Field(
        "reject", description="reject: to the rejected table with the length; truncate: cut the last assistant "
        "turn's content to fit (never a prompt)")


@dataclass(frozen=True)
class Limit:
    """What the stage reads: its options, the recipe's tokenizer (None: the local GGUF) and a fingerprint of the
    tokenizer's files (so a changed tokenizer.json is a new resume key)."""

    options: Options
    tokenizer: TokenizerOptions | None = None
    files: str = ""


def fit(df: pl.DataFrame, limit: Limit | Options) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """(pairs within `max_tokens`, longer pairs with `reason` and `tokens`, {"rows truncated": n})."""
    if isinstance(limit, Options):
        limit = Limit(limit)
    opts, tok = limit.options, tokenizer_for(limit.tokenizer)
    empty = df.head(0).with_columns(tokens=pl.lit(None, pl.Int32), reason=pl.lit(None, pl.String))
    if df.is_empty():
        return df, empty, {"rows truncated": 0}
    cols = [c for c in ("messages", "system", "prompt", "response", "rejected") if c in df.columns]
    rows = df.select(cols).to_dicts()
    # tool calls count as the text the exports render them as (tasks.publish.training_formats.as_text)
    chats = [as_text(conversation(r)) for r in rows]
    lengths = tok.chat_lengths(chats)
    preference = [i for i, r in enumerate(rows) if r.get("rejected") is not None and _ends_with_assistant(chats[i])]
    for i, n in zip(preference, tok.chat_lengths([_with_last(chats[i], rows[i]["rejected"]) for i in preference]),
                    strict=True):
        lengths[i] = max(lengths[i], n)
    over = [i for i, n in enumerate(lengths) if n > opts.max_tokens]
    reasons = {i: f"longer than {opts.max_tokens} tokens" for i in over}
    truncated: dict[int, dict] = {}
    if opts.on_long == "truncate":
        for i in over:
            cut = _truncate(tok, chats[i], rows[i], opts.max_tokens)
            if isinstance(cut, str):
                reasons[i] += f" ({cut})"
            else:
                truncated[i] = cut
                del reasons[i]
    long = pl.Series([i in reasons for i in range(len(df))])
    rejected = df.filter(long).with_columns(
        pl.Series("tokens", [lengths[i] for i in sorted(reasons)], dtype=pl.Int32),
        pl.Series("reason", [reasons[i] for i in sorted(reasons)], dtype=pl.String))
    kept = df.with_row_index("_row").filter(~long)
    if truncated:
        kept = _apply_cuts(kept, truncated)
    return kept.drop("_row"), rejected, {"rows truncated": len(truncated)}


def _ends_with_assistant(chat: list[dict]) -> bool:
    return bool(chat) and chat[-1]["role"] == "assistant"


def _with_last(chat: list[dict], content: str) -> list[dict]:
    return [*chat[:-1], {"role": "assistant", "content": content}]


def _truncate(tok, chat: list[dict], row: dict, max_tokens: int) -> dict | str:
    """{"response": cut, "rejected": cut?} that fit, or why the pair cannot be cut (the reason's detail: one of a
    few phrases, so the report counts reasons, not rows)."""
    messages = [m for m in row.get("messages") or [] if m]
    if not _ends_with_assistant(chat) or (messages and messages[-1]["role"] != "assistant"):
        return "its last turn is not an assistant turn"
    if messages and messages[-1].get("tool_calls"):
        return "its last turn calls tools"
    sides = {"response": chat[-1]["content"]}
    if row.get("rejected") is not None:
        sides["rejected"] = row["rejected"]
    prompt = tok.chat_lengths([_with_last(chat, "")])[0]
    if prompt >= max_tokens:
        return "the turns before the last one fill it"
    out = {}
    for side, content in sides.items():
        text, budget = content, max_tokens - prompt
        length = tok.chat_lengths([_with_last(chat, text)])[0]
        while length > max_tokens:  # the budget shrinks by the excess each time (a cut can merge tokens)
            if budget < 1:
                return f"no part of the {side} fits"
            text = tok.chunk(content, budget)[0].rstrip()
            length = tok.chat_lengths([_with_last(chat, text)])[0]
            budget -= max(1, length - max_tokens)
        out[side] = text
    return out


def _apply_cuts(kept: pl.DataFrame, cuts: dict[int, dict]) -> pl.DataFrame:
    """The truncated rows with their last assistant turn (in `messages` and `response`) and `rejected` cut."""
    rows = kept.to_dicts()
    for r in rows:
        cut = cuts.get(r["_row"])
        if cut is None:
            continue
        r["response"] = cut["response"]
        last = max((i for i, m in enumerate(r.get("messages") or []) if m), default=None)
        if last is not None:
            r["messages"] = [*r["messages"][:last], {**r["messages"][last], "content": cut["response"]},
                             *r["messages"][last + 1:]]
        if "rejected" in cut:
            r["rejected"] = cut["rejected"]
    return pl.DataFrame(rows, schema=kept.schema, orient="row")


ROWS = RowStage(
    apply=lambda df, shard, limit: fit(df, limit),
    options=lambda recipe: Limit(recipe.sequence_length, recipe.tokenizer, fingerprint(recipe.tokenizer))
    if recipe.sequence_length.enabled else None,
    tables=lambda recipe: ["pairs"],
)
