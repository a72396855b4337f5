"""Document quality filters over Polars frames: C4, Gopher repetition, Gopher quality, FineWeb, token bounds.

Each rule set is small and has one interface (datatrove's style): `prepare(frame)` adds the helper
columns its rules read, computed for the whole frame at once, and `rules()` lists
`(rule, expression true when a row breaks it)`. The rule sets run in this order:

1. c4: reject documents holding a boilerplate phrase (lorem ipsum, "{"), then remove lines with
   javascript/cookie/policy phrases, optionally lines without terminal punctuation and short
   lines; a document left empty, or with too few sentences, is rejected. Later rules judge the
   edited text, and kept documents carry it.
2. gopher_repetition: repeated paragraphs and lines (share of items and of characters), the most
   frequent 2-4-gram's share of characters, and the characters in repeated 5-10-grams.
3. gopher_quality: word count, mean word length, '#' and ellipsis per word, bullet and ellipsis
   lines, words with a letter, stop words (for languages with a list in data/stopwords.json).
4. fineweb: lines ending in punctuation, short lines, characters in duplicated lines, line breaks per word.
5. tokens: bounds in the local model's tokens (counted only for rows every other rule kept).

The first rule a row breaks is its reason, `"<rule set>: <rule>"`; a `None` threshold disables a rule.
Pairs are judged on prompt + "\\n" + response and never edited.
"""

from __future__ import annotations

import functools
import json

import polars as pl

from pairforge.tasks.core.recipe import (
    C4Rules,
    FilterOptions,
    FineWebRules,
    GopherQuality,
    GopherRepetition,
    TokenBounds,
)
from pairforge.tasks.core.schema import row_text
from pairforge.tasks.core.stages import RowStage
from pairforge.tasks.data import DATA

TEXT = "_f_text"  # the text being judged (documents: edited by C4's line removal)
ROW = "_f_row"
WORD = r"\w+(?:['’.\-]\w+)*"  # a word: letters/digits, with inner apostrophes, dots, hyphens
# line ends that close a sentence (C4 keeps these; an ellipsis does not count)
TERMINAL = r"[.!?\"'”’»。！？]$"
ELLIPSIS_END = r"(?:\.\.\.|…)$"
# line ends FineWeb counts as punctuation (datatrove's stop characters plus their typographic forms)
FINEWEB_PUNCT = r"[.!?\"'”’»。！？…]$"
BULLET = r"^\s*[•‣◦·●▪►\-*]"
# words judged at once, bounding the n-gram frames (2,000 bench documents: 1 M words +424 MB, 1.97 s; 100 k: +64 MB,
# 1.48 s)
BATCH_WORDS = 100_000
SENTENCE_END = r"[.!?…。！？]+[\"'”’»)\]]*(?:\s|$)"
ENDS_SENTENCE = r"[.!?…。！？]+[\"'”’»)\]]*\s*$"


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


@functools.cache
def stop_words() -> dict[str, frozenset[str]]:
    """Language code -> stop words (lowercase), from data/stopwords.json."""
    data = json.loads((DATA / "stopwords.json").read_text(encoding="utf-8"))
    return {lang: frozenset(words) for lang, words in data["languages"].items()}


def _lang() -> pl.Expr:
    return pl.col("lang").str.to_lowercase().str.extract(r"^([a-z]+)", 1)


def _ratio(part: str, whole: str) -> pl.Expr:
    """part / whole, null when whole is 0 (a rule on a null ratio is not broken)."""
    return pl.when(pl.col(whole) > 0).then(pl.col(part) / pl.col(whole))


def _ensure_words(df: pl.DataFrame) -> pl.DataFrame:
    """Word count, text length, non-blank lines and their number, of the current text (shared by the rule sets)."""
    if "_f_words" in df.columns:
        return df
    return df.with_columns(
        pl.col(TEXT).str.count_matches(WORD).alias("_f_words"),
        pl.col(TEXT).str.len_chars().alias("_f_chars"),
        pl.col(TEXT).str.extract_all(r"[^\n]*\S[^\n]*").alias("_f_lines"),
    ).with_columns(pl.col("_f_lines").list.len().alias("_f_nlines"))


def _repeats(items: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(number of items that repeat an earlier one, their characters) of a list column."""
    later = items.list.eval(pl.element().filter(~pl.element().is_first_distinct()))
    return later.list.len(), later.list.eval(pl.element().str.len_chars()).list.sum()


class RuleSet:
    """A named group of rules: `prepare` adds the helper columns (prefix `_f_`) that `rules` reads."""

    name = ""

    def __init__(self, opts):
        self.opts = opts

    def prepare(self, df: pl.DataFrame) -> pl.DataFrame:
        return df

    def rules(self) -> list[tuple[str, pl.Expr]]:
        raise NotImplementedError


class C4(RuleSet):
    name = "c4"

    def __init__(self, opts: C4Rules):
        super().__init__(opts)
        self.phrases = list(dict.fromkeys(p.lower() for p in opts.reject_phrases if p))
        self.edits = bool(opts.drop_lines_with or opts.drop_lines_without_terminal_punctuation
                          or opts.min_words_per_line)

    def _line_kept(self) -> pl.Expr:
        line = pl.element().str.strip_chars()
        blank = line == ""  # blank lines separate paragraphs; they are not content to judge
        drop = pl.lit(False)
        if self.opts.drop_lines_with:
            drop = drop | line.str.to_lowercase().str.contains_any([p.lower() for p in self.opts.drop_lines_with])
        if self.opts.drop_lines_without_terminal_punctuation:
            drop = drop | (~blank & (~line.str.contains(TERMINAL) | line.str.contains(ELLIPSIS_END)))
        if self.opts.min_words_per_line:
            drop = drop | (~blank & (line.str.count_matches(r"\S+") < self.opts.min_words_per_line))
        return ~drop

    def prepare(self, df: pl.DataFrame) -> pl.DataFrame:
        lower = pl.col(TEXT).str.to_lowercase()
        df = df.with_columns(lower.str.contains(p, literal=True).alias(f"_f_c4_phrase{i}")
                             for i, p in enumerate(self.phrases))
        if self.edits:
            lines = pl.col(TEXT).str.split("\n")
            kept = lines.list.eval(pl.element().filter(self._line_kept()))
            joined = kept.list.join("\n").str.replace_all(r"\n{3,}", "\n\n").str.strip_chars()
            edited = pl.when(kept.list.len() < lines.list.len()).then(joined).otherwise(pl.col(TEXT))
            df = df.with_columns(
                ((pl.col(TEXT).str.strip_chars() != "") & (edited.str.strip_chars() == "")).alias("_f_c4_emptied"),
                edited.alias(TEXT),
            )
        if self.opts.min_sentences:
            # every sentence end, plus a last sentence that lacks one
            unterminated = (pl.col(TEXT) != "") & ~pl.col(TEXT).str.contains(ENDS_SENTENCE)
            df = df.with_columns((pl.col(TEXT).str.count_matches(SENTENCE_END) + unterminated.cast(pl.UInt32))
                                 .alias("_f_c4_sentences"))
        return df

    def rules(self) -> list[tuple[str, pl.Expr]]:
        out = [(f"contains '{p}'", pl.col(f"_f_c4_phrase{i}")) for i, p in enumerate(self.phrases)]
        if self.edits:
            out.append(("no text left after line removal", pl.col("_f_c4_emptied")))
        if self.opts.min_sentences:
            out.append((f"fewer than {self.opts.min_sentences} sentences",
                        pl.col("_f_c4_sentences") < self.opts.min_sentences))
        return out


def ngram_stats(df: pl.DataFrame, top: list[int], dup: list[int]) -> pl.DataFrame:
    """Per row of `df` (in order): `_f_top{n}`, characters of the most frequent word n-gram times its count
    (0 unless it occurs twice or more), and `_f_dup{n}`, characters of the words covered by a repeat
    occurrence of an n-gram (the first occurrence is not counted, as in datatrove).

    All rows at once: the words are exploded into one frame, and the n-gram starting at each word is a hash
    chained over the next n words."""
    rows = df.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW))
    flat = (df.select(rows.to_series(), pl.col(TEXT).str.extract_all(WORD).alias("w"))
            .explode("w").drop_nulls("w")
            .select(ROW, pl.col("w").hash().alias("h"), pl.col("w").str.len_chars().alias("l")))
    out = rows
    # the n-gram starting at each word, as a hash chained word by word: key(n) = hash(key(n-1), word n)
    flat = flat.with_columns(pl.struct(ROW, "h").hash().alias("k"), pl.col("l").alias("c"))
    grown = 1
    for n in sorted(set(top) | set(dup)):
        for k in range(grown, n):
            flat = flat.with_columns(pl.struct("k", pl.col("h").shift(-k).alias("next")).hash().alias("k"),
                                     pl.col("c") + pl.col("l").shift(-k) + 1)  # words joined by spaces
        grown = n
        # an n-gram starting here ends in the same row (rows are contiguous, so the words between are too)
        whole = (pl.col(ROW).shift(-(n - 1)) == pl.col(ROW)).fill_null(False)
        grams = flat.with_columns(whole.alias("v"), pl.when(whole).then(pl.col("k")).alias("k"))
        if n in top:
            best = (grams.filter("v").group_by(ROW, "k").agg(pl.len().alias("count"), pl.first("c"))
                    .filter(pl.col("count") >= 2)
                    .sort([ROW, "count", "c"], descending=[False, True, True])
                    .group_by(ROW, maintain_order=True).first()
                    .select(ROW, (pl.col("count") * pl.col("c")).alias(f"_f_top{n}")))
            out = out.join(best, on=ROW, how="left", maintain_order="left")
        if n in dup:
            later = (pl.col("v") & ~pl.col("k").is_first_distinct()).cast(pl.UInt8)
            # a word is covered when a repeat n-gram starts at it or at one of the n-1 words before it
            covered = later.rolling_max(window_size=n, min_samples=1) == 1
            chars_dup = (grams.with_columns(covered.alias("cov")).group_by(ROW)
                         .agg(pl.col("l").filter("cov").sum().alias(f"_f_dup{n}")))
            out = out.join(chars_dup, on=ROW, how="left", maintain_order="left")
    return out.drop(ROW).fill_null(0)


class GopherRepetitionRules(RuleSet):
    name = "gopher_repetition"
    opts: GopherRepetition

    def prepare(self, df: pl.DataFrame) -> pl.DataFrame:
        df = _ensure_words(df)
        paragraphs = pl.col(TEXT).str.extract_all(r"[^\n]+(?:\n[^\n]+)*")
        lines = pl.col("_f_lines")
        dup_paras, dup_para_chars = _repeats(paragraphs)
        dup_lines, dup_line_chars = _repeats(lines)
        df = df.with_columns(
            paragraphs.list.len().alias("_f_paras"), dup_paras.alias("_f_dup_paras"),
            dup_para_chars.alias("_f_dup_para_chars"),
            dup_lines.alias("_f_dup_lines"),
            dup_line_chars.alias("_f_dup_line_chars"),
        )
        top = [n for n, f in self.opts.max_top_ngram_char_fraction.items() if f is not None]
        dup = [n for n, f in self.opts.max_dup_ngram_char_fraction.items() if f is not None]
        if top or dup:
            df = df.hstack(ngram_stats(df, top, dup))
        return df

    def rules(self) -> list[tuple[str, pl.Expr]]:
        o = self.opts
        out = []
        if o.max_dup_para_fraction is not None:
            out.append((f"more than {_pct(o.max_dup_para_fraction)} of paragraphs repeated",
                        _ratio("_f_dup_paras", "_f_paras") > o.max_dup_para_fraction))
        if o.max_dup_para_char_fraction is not None:
            out.append((f"repeated paragraphs hold more than {_pct(o.max_dup_para_char_fraction)} of characters",
                        _ratio("_f_dup_para_chars", "_f_chars") > o.max_dup_para_char_fraction))
        if o.max_dup_line_fraction is not None:
            out.append((f"more than {_pct(o.max_dup_line_fraction)} of lines repeated",
                        _ratio("_f_dup_lines", "_f_nlines") > o.max_dup_line_fraction))
        if o.max_dup_line_char_fraction is not None:
            out.append((f"repeated lines hold more than {_pct(o.max_dup_line_char_fraction)} of characters",
                        _ratio("_f_dup_line_chars", "_f_chars") > o.max_dup_line_char_fraction))
        for n, frac in sorted(o.max_top_ngram_char_fraction.items()):
            if frac is not None:
                out.append((f"most frequent {n}-gram holds more than {_pct(frac)} of characters",
                            _ratio(f"_f_top{n}", "_f_chars") > frac))
        for n, frac in sorted(o.max_dup_ngram_char_fraction.items()):
            if frac is not None:
                out.append((f"repeated {n}-grams hold more than {_pct(frac)} of characters",
                            _ratio(f"_f_dup{n}", "_f_chars") > frac))
        return out


class GopherQualityRules(RuleSet):
    name = "gopher_quality"
    opts: GopherQuality

    def prepare(self, df: pl.DataFrame) -> pl.DataFrame:
        df = _ensure_words(df)
        # ratios "per word" count whitespace-separated words, as Gopher's paper does: with a word tokenizer's
        # output (punctuation and "$" as words) the alpha rule rejects ordinary number-heavy news
        df = df.with_columns(
            pl.col(TEXT).str.count_matches(r"\S+").alias("_f_tokens"),
            pl.col(TEXT).str.count_matches(r"\S*\p{L}\S*").alias("_f_alpha"),
            pl.col(TEXT).str.extract_all(WORD).list.eval(pl.element().str.len_chars()).list.sum()
            .alias("_f_word_chars"),
            pl.col(TEXT).str.count_matches("#", literal=True).alias("_f_hashes"),
            pl.col(TEXT).str.count_matches(r"\.\.\.|…").alias("_f_ellipses"),
            pl.col("_f_lines").list.eval(pl.element().str.contains(BULLET)).list.sum().alias("_f_bullets"),
            pl.col("_f_lines").list.eval(pl.element().str.strip_chars_end().str.contains(ELLIPSIS_END)).list.sum()
            .alias("_f_ellipsis_lines"),
        )
        if self.opts.min_stop_words is not None:
            df = df.hstack(self._stop_word_counts(df))
        return df

    @staticmethod
    def _stop_word_counts(df: pl.DataFrame) -> pl.DataFrame:
        """`_f_stop`: stop words of the row's language; null for languages without a list."""
        lists = stop_words()
        table = pl.DataFrame([(lang, w) for lang, words in lists.items() for w in sorted(words)],
                             schema={"_l": pl.String, "w": pl.String}, orient="row")
        rows = df.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias(ROW), _lang().alias("_l"),
                         pl.col(TEXT).str.to_lowercase().str.extract_all(r"\p{L}+").alias("w"))
        hits = (rows.explode("w").join(table, on=["_l", "w"], how="semi")
                .group_by(ROW).agg(pl.len().cast(pl.UInt32).alias("_f_stop")))
        counted = rows.select(ROW, "_l").join(hits, on=ROW, how="left", maintain_order="left")
        return counted.select(pl.when(pl.col("_l").is_in(list(lists))).then(pl.col("_f_stop").fill_null(0))
                              .alias("_f_stop"))

    def rules(self) -> list[tuple[str, pl.Expr]]:
        o = self.opts
        mean_len = _ratio("_f_word_chars", "_f_words")
        out = []
        if o.min_words is not None:
            out.append((f"fewer than {o.min_words} words", pl.col("_f_words") < o.min_words))
        if o.max_words is not None:
            out.append((f"more than {o.max_words} words", pl.col("_f_words") > o.max_words))
        if o.min_avg_word_length is not None:
            out.append((f"mean word length under {o.min_avg_word_length:g}", mean_len < o.min_avg_word_length))
        if o.max_avg_word_length is not None:
            out.append((f"mean word length over {o.max_avg_word_length:g}", mean_len > o.max_avg_word_length))
        if o.max_symbol_word_ratio is not None:
            out.append((f"more than {o.max_symbol_word_ratio:g} '#' per word",
                        _ratio("_f_hashes", "_f_tokens") > o.max_symbol_word_ratio))
            out.append((f"more than {o.max_symbol_word_ratio:g} ellipses per word",
                        _ratio("_f_ellipses", "_f_tokens") > o.max_symbol_word_ratio))
        if o.max_bullet_lines_ratio is not None:
            out.append((f"more than {_pct(o.max_bullet_lines_ratio)} of lines start with a bullet",
                        _ratio("_f_bullets", "_f_nlines") > o.max_bullet_lines_ratio))
        if o.max_ellipsis_lines_ratio is not None:
            out.append((f"more than {_pct(o.max_ellipsis_lines_ratio)} of lines end with an ellipsis",
                        _ratio("_f_ellipsis_lines", "_f_nlines") > o.max_ellipsis_lines_ratio))
        if o.min_alpha_words_ratio is not None:
            out.append((f"fewer than {_pct(o.min_alpha_words_ratio)} of words contain a letter",
                        _ratio("_f_alpha", "_f_tokens") < o.min_alpha_words_ratio))
        if o.min_stop_words is not None:
            out.append((f"fewer than {o.min_stop_words} stop words", pl.col("_f_stop") < o.min_stop_words))
        return out


class FineWeb(RuleSet):
    name = "fineweb"
    opts: FineWebRules

    def prepare(self, df: pl.DataFrame) -> pl.DataFrame:
        df = _ensure_words(df)
        lines = pl.col("_f_lines")
        _, dup_chars = _repeats(lines)
        return df.with_columns(
            lines.list.eval(pl.element().str.strip_chars_end().str.contains(FINEWEB_PUNCT)).list.sum()
            .alias("_f_fw_punct"),
            lines.list.eval(pl.element().str.len_chars() <= self.opts.short_line_chars).list.sum()
            .alias("_f_fw_short"),
            dup_chars.alias("_f_fw_dup_chars"),
            (pl.col("_f_chars") - pl.col(TEXT).str.count_matches("\n", literal=True)).alias("_f_fw_chars"),
            pl.col(TEXT).str.count_matches("\n", literal=True).alias("_f_fw_breaks"),
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        o = self.opts
        out = [("no text", pl.col("_f_nlines") == 0)]
        if o.min_line_punct_ratio is not None:
            out.append((f"fewer than {_pct(o.min_line_punct_ratio)} of lines end in punctuation",
                        _ratio("_f_fw_punct", "_f_nlines") < o.min_line_punct_ratio))
        if o.max_short_line_ratio is not None:
            out.append((f"{_pct(o.max_short_line_ratio)} or more of lines have at most {o.short_line_chars} "
                        "characters", _ratio("_f_fw_short", "_f_nlines") >= o.max_short_line_ratio))
        if o.max_char_dup_ratio is not None:
            out.append((f"duplicated lines hold {_pct(o.max_char_dup_ratio)} or more of characters",
                        _ratio("_f_fw_dup_chars", "_f_fw_chars") >= o.max_char_dup_ratio))
        if o.max_newline_ratio is not None:
            out.append((f"more than {o.max_newline_ratio:g} line breaks per word",
                        _ratio("_f_fw_breaks", "_f_words") > o.max_newline_ratio))
        return out


def rule_sets(opts: FilterOptions) -> list[RuleSet]:
    sets: list[tuple[bool, RuleSet]] = [
        (opts.c4.enabled, C4(opts.c4)),
        (opts.gopher_repetition.enabled, GopherRepetitionRules(opts.gopher_repetition)),
        (opts.gopher_quality.enabled, GopherQualityRules(opts.gopher_quality)),
        (opts.fineweb.enabled, FineWeb(opts.fineweb)),
    ]
    return [s for enabled, s in sets if enabled]


def token_rules(bounds: TokenBounds) -> list[tuple[str, pl.Expr]]:
    out = []
    if bounds.min_tokens is not None:
        out.append((f"tokens: fewer than {bounds.min_tokens} tokens", pl.col("_f_ntokens") < bounds.min_tokens))
    if bounds.max_tokens is not None:
        out.append((f"tokens: more than {bounds.max_tokens} tokens", pl.col("_f_ntokens") > bounds.max_tokens))
    return out


def count_tokens(texts: list[str]) -> list[int]:
    """Token counts in the local model's GGUF vocabulary, one batch."""
    from pairforge.tasks.publish.tokenizer import get_tokenizer

    return get_tokenizer().count(texts)


def evaluate(df: pl.DataFrame, table: str, opts: FilterOptions) -> tuple[pl.DataFrame, list[str]]:
    """(`df` plus `_f_text`, the judged text after C4's line removal, and one Boolean column per rule, named
    by its reason and true where the row breaks it; the rule names in checking order).

    Token bounds are checked only on rows that every other rule keeps (tokenizing is the slow part)."""
    work = df.with_columns(row_text(table).alias(TEXT))
    checks: list[tuple[str, pl.Expr]] = []
    for rule_set in rule_sets(opts):
        work = rule_set.prepare(work)
        checks += [(f"{rule_set.name}: {rule}", broken) for rule, broken in rule_set.rules()]
    work = work.with_columns(broken.fill_null(False).alias(name) for name, broken in checks)
    names = [name for name, _ in checks]
    tokens = token_rules(opts.tokens)
    if tokens:
        passing = ~pl.any_horizontal(names) if names else pl.lit(True)
        todo = work.select(passing.alias("p")).to_series()
        counts = count_tokens(work.get_column(TEXT).filter(todo).to_list())
        ntokens = pl.Series([None] * len(work), dtype=pl.Int64).scatter(todo.arg_true(),
                                                                          pl.Series(counts, dtype=pl.Int64))
        work = work.with_columns(ntokens.alias("_f_ntokens"))
        work = work.with_columns(broken.fill_null(False).alias(name) for name, broken in tokens)
        names += [name for name, _ in tokens]
    helpers = [c for c in work.columns if c.startswith("_f_") and c != TEXT]
    return work.drop(helpers), names


def filter_frame(df: pl.DataFrame, table: str, opts: FilterOptions) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept rows, rejected rows with `reason`: the first rule they break). Kept documents carry C4's edits;
    rejected rows keep their text as it arrived."""
    if table not in opts.tables or df.is_empty():
        return df, df.clear().with_columns(pl.lit(None, pl.String).alias("reason"))
    # bounded batches: the n-gram rules explode every word into a row of its own
    words = df.select(row_text(table).str.count_matches(r"\S+").cum_sum() // BATCH_WORDS).to_series()
    parts = [evaluate(part, table, opts) for part in df.with_columns(words.alias("_f_batch"))
             .partition_by("_f_batch", maintain_order=True, include_key=False)]
    work, names = pl.concat([w for w, _ in parts], how="vertical"), parts[0][1]
    reason = pl.lit(None, pl.String)
    for name in reversed(names):  # the first rule that breaks wins
        reason = pl.when(pl.col(name)).then(pl.lit(name)).otherwise(reason)
    work = work.with_columns(reason.alias("reason"))
    kept = work.filter(pl.col("reason").is_null())
    if table == "documents":
        kept = kept.with_columns(pl.col(TEXT).alias("text"))
    rejected = work.filter(pl.col("reason").is_not_null())
    return kept.select(df.columns), rejected.select(*df.columns, "reason")


ROWS = RowStage(apply=lambda df, shard, opts: filter_frame(df, shard.table, opts),
                options=lambda recipe: recipe.filters if recipe.filters.enabled else None,
                tables=lambda recipe: recipe.filters.tables)
