"""Text normalisation: mojibake repair (ftfy), Unicode form, control characters, whitespace, lowercasing.

Everything but ftfy is a Polars expression. ftfy works on one string at a time, so it runs once per
column over the non-ASCII values only (pure ASCII cannot hold mojibake). Rows left with less than
`min_chars` characters of text are rejected with a reason.
"""

from __future__ import annotations

import functools

import polars as pl

from pairforge.tasks.core.recipe import CleanOptions
from pairforge.tasks.core.stages import RowStage

# C0/C1 control characters except tab and newline, plus zero-width and BOM characters.
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff]"
_NON_ASCII = r"[^\x00-\x7f]"


@functools.cache
def _fixer_config(strip_control_chars: bool):
    from ftfy import TextFixerConfig

    # Encoding repairs only. Typography (curly quotes, ligatures, full-width letters) is real text: the
    # Unicode form decides about those. HTML entities are the HTML reader's job (and ftfy would unescape
    # them in non-ASCII texts only, which is inconsistent).
    return TextFixerConfig(unescape_html=False, uncurl_quotes=False, fix_latin_ligatures=False,
                           fix_character_width=False, normalization=None,
                           remove_control_chars=strip_control_chars, explain=False)


def fix_text_series(s: pl.Series, strip_control_chars: bool = True) -> pl.Series:
    """ftfy's `fix_text` over a String Series, skipping nulls and pure-ASCII values."""
    import ftfy

    todo = s.str.contains(_NON_ASCII).fill_null(False)
    if not todo.any():
        return s
    config = _fixer_config(strip_control_chars)
    fixed = pl.Series([ftfy.fix_text(t, config) for t in s.filter(todo)], dtype=pl.String)
    return s.scatter(todo.arg_true(), fixed)


def fix_text_expr(e: pl.Expr, opts: CleanOptions) -> pl.Expr:
    return e.map_batches(functools.partial(fix_text_series, strip_control_chars=opts.strip_control_chars),
                         return_dtype=pl.String)


def normalize_expr(e: pl.Expr, opts: CleanOptions) -> pl.Expr:
    """Everything but ftfy (see `normalize_frame`): Unicode form, line ends, controls, whitespace, case."""
    e = e.str.normalize(opts.unicode_form)
    e = e.str.replace_all("\r\n?", "\n")
    if opts.strip_control_chars:
        e = e.str.replace_all(_CONTROL, "")
    if opts.collapse_whitespace:
        e = (
            e.str.replace_all(r"[^\S\n]+", " ")  # runs of spaces/tabs/NBSP -> one space
            .str.replace_all(r" ?\n ?", "\n")  # no spaces around line breaks
            .str.replace_all(r"\n{3,}", "\n\n")  # at most one blank line
        )
    if opts.lowercase:
        e = e.str.to_lowercase()
    return e.str.strip_chars()


def _map_message_contents(messages: pl.Series, fn) -> pl.Series:
    """`fn` (a String Series -> String Series) applied to every message content in one call.

    (A function inside `list.eval` would be called once per row.)"""
    frame = messages.to_frame("m").with_row_index("_row")
    flat = frame.filter(pl.col("m").list.len() > 0).explode("m")
    if flat.is_empty():
        return messages
    contents = fn(flat.get_column("m").struct.field("content"))
    flat = flat.with_columns(pl.col("m").struct.with_fields(contents.alias("content")))
    rebuilt = flat.group_by("_row", maintain_order=True).agg(pl.col("m").alias("fixed"))
    out = frame.join(rebuilt, on="_row", how="left", maintain_order="left")
    return out.select(pl.coalesce("fixed", "m").alias(messages.name)).to_series().cast(messages.dtype)


def normalize_frame(df: pl.DataFrame, table: str, opts: CleanOptions) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Normalise the text columns; returns (kept rows, rejected rows with `reason`)."""
    columns = ["text", "title"] if table == "documents" else ["prompt", "response", "system", "context"]
    out = df
    if opts.fix_text:
        out = out.with_columns(fix_text_expr(pl.col(c), opts) for c in columns)
        if table == "pairs":
            fix = functools.partial(fix_text_series, strip_control_chars=opts.strip_control_chars)
            out = out.with_columns(_map_message_contents(out.get_column("messages"), fix))
    out = out.with_columns(normalize_expr(pl.col(c), opts) for c in columns)
    if table == "documents":
        too_short = pl.col("text").str.len_chars().fill_null(0) < opts.min_chars
    else:
        content = normalize_expr(pl.element().struct.field("content"), opts)
        out = out.with_columns(pl.col("messages").list.eval(pl.element().struct.with_fields(content)))
        too_short = (pl.col("prompt").str.len_chars().fill_null(0) < opts.min_chars) | (
            pl.col("response").str.len_chars().fill_null(0) < opts.min_chars
        )
    rejected = out.filter(too_short).with_columns(
        pl.lit(f"shorter than {opts.min_chars} characters after normalisation").alias("reason")
    )
    return out.filter(~too_short), rejected


ROWS = RowStage(apply=lambda df, shard, opts: normalize_frame(df, shard.table, opts),
                options=lambda recipe: recipe.clean)
