"""Rule checks on every pair, as Polars expressions; the first rule a pair breaks is its reason.

Rules: prompt/response length bounds, refusal phrases, a response that echoes the prompt, and for
grounded pairs (those with a `context`, e.g. generated QA) questions about "the text" they do not
include and the share of the answer's words and numbers found in the context. A multi-turn conversation's
earlier exchanges (each assistant turn with the user turn it answers) are checked on the rules that read
only those two turns, but for the prompt's minimum length. Rejected pairs keep every column plus `reason`:
nothing disappears silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from pairforge.tasks.core.stages import RowStage

if TYPE_CHECKING:  # the conversation generator checks its turns with these rules: no recipe import at run time
    from pairforge.tasks.core.recipe import QualityOptions

GROUNDED_TASKS = ("qa", "summarization")
# Short function words carry no evidence of grounding.
_STOP = ["the", "and", "for", "are", "was", "were", "that", "this", "with", "from", "has", "have", "had", "its",
         "not", "but", "his", "her", "they", "their", "you", "your", "which", "who", "what", "when", "where"]


def _words(col: str) -> pl.Expr:
    return (
        pl.col(col).str.to_lowercase().str.extract_all(r"\p{N}+(?:[.,]\p{N}+)*|\p{L}{3,}")
        .list.eval(pl.element().filter(~pl.element().is_in(_STOP))).list.unique()
    )


def grounding(answer: str = "response", context: str = "context") -> pl.Expr:
    """Share of the answer's content words that appear in the context (null without a context)."""
    answer_words = _words(answer)
    shared = answer_words.list.set_intersection(_words(context)).list.len()
    return pl.when(pl.col(context).is_not_null() & (answer_words.list.len() > 0)).then(
        shared / answer_words.list.len()
    )


def rules(opts: QualityOptions) -> list[tuple[str, pl.Expr]]:
    """(reason, expression that is true when a pair breaks the rule), in the order they are checked."""
    prompt_len = pl.col("prompt").str.strip_chars().str.len_chars().fill_null(0)
    response_len = pl.col("response").str.strip_chars().str.len_chars().fill_null(0)
    response = pl.col("response").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    prompt = pl.col("prompt").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    out = [
        (f"response shorter than {opts.min_response_chars} characters", response_len < opts.min_response_chars),
        (f"prompt shorter than {opts.min_prompt_chars} characters", prompt_len < opts.min_prompt_chars),
        (f"response longer than {opts.max_response_chars} characters", response_len > opts.max_response_chars),
        (f"prompt longer than {opts.max_prompt_chars} characters", prompt_len > opts.max_prompt_chars),
    ]
    if opts.refusal_phrases:
        phrases = [p.lower() for p in opts.refusal_phrases]
        out.append(("refusal", response.str.contains_any(phrases).fill_null(False)))
    if opts.reject_copies:
        # an echo: the whole prompt again (a response found inside the prompt is fine: extraction tasks)
        copies = (response == prompt) | ((prompt.str.len_chars() >= 10) & response.str.contains(prompt, literal=True))
        out.append(("response echoes the prompt", copies.fill_null(False)))
    # a generated question about "the text" makes no sense without the text, which the prompt does not carry
    unseen = pl.col("prompt").str.contains(r"(?i)\b(?:the|this|that) (?:text|passage|article|paragraph|document)\b")
    out.append(("question refers to a text it does not include",
                ((pl.col("task") == "qa") & pl.col("context").is_not_null() & unseen).fill_null(False)))
    if opts.min_grounding > 0:
        ungrounded = pl.col("task").is_in(GROUNDED_TASKS) & (grounding() < opts.min_grounding)
        out.append((f"answer not supported by its context (< {opts.min_grounding:.0%} of words)",
                    ungrounded.fill_null(False)))
    return out


def _first_broken(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    reason = pl.lit(None, pl.String)
    for name, broken in reversed(checks):  # the first rule that breaks wins
        reason = pl.when(broken).then(pl.lit(name)).otherwise(reason)
    return reason


def earlier_exchanges(df: pl.DataFrame) -> pl.DataFrame:
    """(row, exchange, prompt, response): each plain assistant turn of a multi-turn conversation before its last one,
    with the user turn it answers (exchange n: after the n-th user turn). Tool calls and tool results are left out."""
    if "messages" not in df.columns or not len(df):
        return pl.DataFrame(schema={"row": pl.UInt32, "exchange": pl.UInt32, "prompt": pl.String,
                                    "response": pl.String})
    turns = (df.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"), "messages").explode("messages")
             .filter(pl.col("messages").is_not_null()).unnest("messages")
             .filter(pl.col("role").is_in(["user", "assistant"]))
             .with_columns(exchange=(pl.col("role") == "user").cast(pl.UInt32).cum_sum().over("row"),
                           last=pl.int_range(pl.len()).over("row") == pl.len().over("row") - 1,
                           asked=pl.when(pl.col("role") == "user").then("content").forward_fill().over("row")))
    plain = pl.col("tool_calls").is_null() if "tool_calls" in turns.columns else pl.lit(True)
    return turns.filter((pl.col("role") == "assistant") & ~pl.col("last") & (pl.col("exchange") > 0) & plain
                        & pl.col("content").is_not_null()).select(
        "row", "exchange", pl.col("asked").alias("prompt"), pl.col("content").alias("response"))


def check_pairs(df: pl.DataFrame, opts: QualityOptions) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept pairs, rejected pairs with `reason`). The rules read a pair's prompt and response, its last exchange;
    a multi-turn conversation's earlier exchanges are checked too, on the rules that read only the two turns
    (lengths, refusals, echoes: not the grounding rules, which are about the pair's own `context`): the reason
    names the exchange ("refusal (exchange 1)")."""
    checks = rules(opts)
    tagged = df.with_columns(_first_broken(checks).alias("reason"))
    earlier = earlier_exchanges(df)
    if len(earlier):
        # no minimum length for earlier user turns: "No", "Ok", "Hi" are how people talk, and a trainer does not
        # learn from user turns (real HH-RLHF chats were rejected for a 2-character turn)
        turn_checks = [(n, e) for n, e in rules(opts.model_copy(update={"min_prompt_chars": 0}))
                       if set(e.meta.root_names()) <= {"prompt", "response"}]
        bad = (earlier.with_columns(_first_broken(turn_checks).alias("why")).filter(pl.col("why").is_not_null())
               .group_by("row").agg(pl.format("{} (exchange {})", "why", "exchange").sort_by("exchange").first()))
        found = pl.DataFrame({"row": pl.Series(range(len(df)), dtype=pl.UInt32)}).join(
            bad, on="row", how="left", maintain_order="left").get_column("why")
        tagged = tagged.with_columns(pl.coalesce("reason", found).alias("reason"))
    return tagged.filter(pl.col("reason").is_null()).drop("reason"), tagged.filter(pl.col("reason").is_not_null())


ROWS = RowStage(apply=lambda df, shard, opts: check_pairs(df, opts),
                options=lambda recipe: recipe.quality if recipe.quality.enabled else None,
                tables=lambda recipe: ["pairs"])
