"""Chat-template control sequences inside row text are data, not structure.

A trainer renders each conversation through the model's chat template and then tokenizes the result, and most
tokenizers turn the literal text `<|im_start|>` or `[INST]` back into the special token. Imported or generated
text holding such a sequence can therefore forge a turn boundary (a "user" turn inside an answer) in a training
file. This stage finds them in every text column (chat `messages` included, their tool calls too) and, per
`control_tokens.action`:
- `escape` (default): inserts a zero-width space after the opening character (`<|im_start|>` becomes
  `<\u200b|im_start|>`), which no tokenizer matches as a special token while the text reads the same; the row
  is kept and counted;
- `reject`: the row goes to the rejected table with the sequence in its reason;
- `keep`: the stage is off.

Known families: ChatML and Llama 3 / Phi style `<|...|>`, DeepSeek's full-width `<｜...｜>`, Llama 2 / Mistral
`[INST]`, `<<SYS>>`, `<s>`, `</s>`, Mistral's `[TOOL_CALLS]`-style tags, Gemma's `<start_of_turn>`, and bare
`<bos>`/`<eos>`/`<pad>`/`<unk>`; `control_tokens.extra` adds literal sequences of other templates.

This module is the whole stage: its registry entry in `tasks.core.stages` places it after the pair rules.
"""

from __future__ import annotations

import re
from typing import Literal

import polars as pl
from pydantic import Field

from pairforge.tasks.core.options import Strict
from pairforge.tasks.core.schema import TEXT_COLUMNS
from pairforge.tasks.core.stages import TABLES, RowStage

ZWSP = "\u200b"
# (opening character, the rest): escaping puts ZWSP between them
KNOWN = [
    (r"<", r"\|[A-Za-z0-9_.\-]{1,40}\|>"),  # <|im_start|>, <|eot_id|>, <|endoftext|>, <|user|>
    (r"<", r"｜[^｜<>\s]{1,40}｜>"),  # <｜begin▁of▁sentence｜>
    (r"\[", r"/?INST\]"),
    (r"<", r"</?SYS>>"),
    (r"<", r"/?s>"),
    (r"<", r"(?:start|end)_of_turn>"),
    (r"<", r"(?:bos|eos|pad|unk)>"),
    (r"\[", r"/?(?:TOOL_CALLS|AVAILABLE_TOOLS|TOOL_RESULTS|SYSTEM_PROMPT)\]"),
]


class Options(Strict):
    """`control_tokens`: chat-template control sequences in row text."""

    action: Literal["escape", "reject", "keep"] = Field(
        "escape", description="escape (keep the row, neutralise the sequence), reject the row, or keep (off)")
    extra: list[str] = Field(default_factory=list, description="more literal control sequences (2+ characters)")
    tables: list[Literal[TABLES]] = Field(default_factory=lambda: list(TABLES), description="tables checked")

    def patterns(self) -> list[tuple[str, str]]:
        return KNOWN + [(re.escape(t[0]), re.escape(t[1:])) for t in self.extra if len(t) >= 2]

    def detect(self) -> str:
        """One regular expression for every control sequence (Polars' and Python's syntax alike)."""
        return "|".join(f"{head}{tail}" for head, tail in self.patterns())


def _message_fields(df: pl.DataFrame) -> list[str]:
    """The text fields of a chat message: `content`, and the JSON text of its tool calls (arguments are text a model
    learns to write; escaping inside a JSON string keeps it valid JSON)."""
    return [f for f in ("content", "tool_calls") if f in df.schema["messages"].inner.to_schema()]


def _on_text(expr: pl.Expr, column: str, fn, fields: list[str]) -> pl.Expr:
    """Apply a string expression function to a text column, or to the text fields of each chat message."""
    if column == "messages":
        return expr.list.eval(pl.element().struct.with_fields([fn(pl.field(f)).alias(f) for f in fields]))
    return fn(expr)


def _first_token(df: pl.DataFrame, columns: list[str], detect: str) -> pl.Expr:
    """The first control sequence found in a row (null when none)."""
    found = []
    for c in columns:
        if c == "messages":
            found += [pl.col(c).list.eval(pl.element().struct.field(f).str.extract(detect, 0))
                      .list.drop_nulls().list.first() for f in _message_fields(df)]
        else:
            found.append(pl.col(c).str.extract(detect, 0))
    return pl.coalesce(found)


def neutralise(df: pl.DataFrame, table: str, opts: Options) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, int]]:
    """(kept rows, rejected rows with `reason`, {"rows escaped": n})."""
    columns = [c for c in TEXT_COLUMNS[table] if c in df.columns]
    patterns = opts.patterns()
    if not columns or not len(df):
        return df, df.head(0).with_columns(reason=pl.lit(None, pl.String)), {}
    token = df.select(_first_token(df, columns, opts.detect()).alias("t")).get_column("t")
    hit = token.is_not_null()
    if opts.action == "reject":
        rejected = df.filter(hit).with_columns(reason=("chat control token " + token.filter(hit)))
        return df.filter(~hit), rejected, {}

    def escape(text: pl.Expr) -> pl.Expr:
        for head, tail in patterns:
            text = text.str.replace_all(f"({head})({tail})", f"${{1}}{ZWSP}${{2}}")
        return text

    if not hit.any():
        return df, df.head(0).with_columns(reason=pl.lit(None, pl.String)), {}
    fields = _message_fields(df) if "messages" in columns else []
    escaped = df.with_columns([_on_text(pl.col(c), c, escape, fields).alias(c) for c in columns])  # others: as is
    return escaped, df.head(0).with_columns(reason=pl.lit(None, pl.String)), {"rows escaped": int(hit.sum())}


ROWS = RowStage(
    apply=lambda df, shard, opts: neutralise(df, shard.table, opts),
    options=lambda recipe: recipe.control_tokens if recipe.control_tokens.action != "keep" else None,
    tables=lambda recipe: recipe.control_tokens.tables,
)
