"""Language identification with lingua: every row gets `lang_score`; confident rows get their detected `lang`.

The detector tells apart `opts.candidates` plus the recipe's languages (ISO 639-1 codes); it is built once per
process and candidate set, and lingua loads its language models on first use, process-wide, only those the texts
need: a text of 120 characters or more is scored on trigrams alone (lingua's rule), so a corpus of long documents
loads the 23 default candidates' trigram models (~1 s, ~0.1 GB) and never the uni-, bi-, quadri- and fivegram ones
(preloading them all took 8-16 s and ~0.6 GB per process on a loaded 2-core machine); the first short text loads
those too. Each text is read up to `opts.max_chars` characters of what lingua reads (punctuation and digits left
out: 300 by default, about 50 words, a seventh of the work of 2,000), detected in parallel batches; a row read as a
language outside the recipe's `languages` is read again up to WINDOW x max_chars before it is rejected, so a
quotation or a reference in another language at the start of a document does not reject it (4,000 bench documents
with such citations: no row rejected, as with 2,000 characters; a plain 300-character prefix rejected 3).

A row detected with confidence >= `min_confidence` in a language outside the recipe's `languages` is rejected; a
less certain row keeps its source's language. Lingua's confidences are relative (they sum to 1 over the
candidates), so a short text that several languages share scores low, and a text in a language that is no
candidate is read as the nearest candidate. The default candidates leave out only languages whose texts the others
still reject (Danish reads as Swedish, Czech as Vietnamese or Turkish by its diacritics) and keep those a text
could otherwise pass for English without (Indonesian also catches Tagalog, Turkish Azerbaijani, Vietnamese is no
other candidate's): see tests/curate/test_langid.py.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

import polars as pl

from pairforge.tasks.core.recipe import LangIDOptions
from pairforge.tasks.core.schema import row_text
from pairforge.tasks.core.stages import RowStage

log = logging.getLogger(__name__)
URLS = r"(?i)\b(?:https?://|www\.)\S+|\S+@\S+\.\w+"
BATCH_ROWS = 10_000  # texts per detector call (bounds the Python objects lingua returns at once)
WINDOW = 4  # URLs are removed from the first WINDOW x max_chars characters; a row is read that far before rejection


def base_code(code: str) -> str:
    """`en-US` / `EN` -> `en`."""
    return code.replace("_", "-").split("-")[0].strip().lower()


@functools.cache
def supported_codes() -> frozenset[str]:
    from lingua import Language

    return frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all())


def detector_codes(opts: LangIDOptions, languages: list[str]) -> tuple[str, ...]:
    """The candidate set (candidates + the recipe's languages) that lingua knows, sorted: the detector's key."""
    wanted = {base_code(c) for c in [*opts.candidates, *languages]}
    unknown = sorted(wanted - supported_codes())
    if unknown:
        log.warning("language identification cannot recognise %s (not lingua languages); ignored", ", ".join(unknown))
    return tuple(sorted(wanted & supported_codes()))


_detectors: dict[tuple[str, ...], object] = {}
_lock = threading.Lock()


def get_detector(codes: tuple[str, ...]):
    """A lingua detector over these ISO 639-1 codes; one per process and code set (the lock keeps shards mapped
    onto threads from building it twice). Not preloaded: lingua loads the models the texts need on first use
    (see the module docstring)."""
    with _lock:
        detector = _detectors.get(codes)
        if detector is None:
            from lingua import IsoCode639_1, LanguageDetectorBuilder

            started = time.perf_counter()
            detector = _detectors[codes] = LanguageDetectorBuilder.from_iso_codes_639_1(
                *[IsoCode639_1.from_str(c) for c in codes]).build()
            log.info("language detector for %d languages built in %.2f s", len(codes), time.perf_counter() - started)
    return detector


def detect(texts: list[str], codes: tuple[str, ...]) -> tuple[list[str | None], list[float]]:
    """(top language code, its confidence) of each text; (None, 0.0) when no candidate fits at all."""
    detector = get_detector(codes)
    langs: list[str | None] = []
    scores: list[float] = []
    for start in range(0, len(texts), BATCH_ROWS):
        for values in detector.compute_language_confidence_values_in_parallel(texts[start:start + BATCH_ROWS]):
            top = values[0] if values else None
            if top is None or top.value <= 0:
                langs.append(None)
                scores.append(0.0)
            else:
                langs.append(top.language.iso_code_639_1.name.lower())
                scores.append(float(top.value))
    return langs, scores


def identify_frame(df: pl.DataFrame, table: str, opts: LangIDOptions,
                   languages: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Set `lang`/`lang_score`; returns (kept rows, rejected rows with `reason`)."""
    if "lang_score" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Float64).alias("lang_score"))
    no_rows = df.clear().with_columns(pl.lit(None, pl.String).alias("reason"))
    if table not in opts.tables or df.is_empty():
        return df, no_rows
    allowed = sorted({base_code(c) for c in languages})
    codes = detector_codes(opts, languages)
    todo = pl.lit(True)
    if table == "pairs" and opts.skip_tasks and "task" in df.columns:
        todo = ~pl.col("task").is_in(opts.skip_tasks).fill_null(False)
    # URLs and e-mail addresses are no language, and their letter soup sways the detector (removing URLs from a
    # bounded window first keeps the regex off the rest of a long document); then what lingua strips itself
    # (punctuation, digits, runs of spaces), so that max_chars counts what it reads and the prefix of a long text
    # never falls under lingua's 120 characters (a short text loads every other n-gram model: +3 s, +0.4 GB).
    # Punctuation becomes a space, as lingua splits words there: "banana!Eat" must not become one word "bananaEat"
    # (an English row of such words read as Swedish); apostrophes stay inside words, as lingua reads them
    window = (row_text(table).str.slice(0, opts.max_chars * WINDOW).str.replace_all(URLS, " ")
              .str.replace_all(r"[\p{P}--']", " ").str.replace_all(r"\p{N}", "").str.replace_all(r"\s+", " ")
              .str.strip_chars())
    sample = df.select(window.str.slice(0, opts.max_chars).alias("t"), window.alias("w"), todo.alias("todo"))
    # a text without a letter has no language: score 0 without asking the detector
    ask = sample.select(pl.col("todo") & pl.col("t").str.contains(r"\p{L}")).to_series()
    rows = ask.arg_true()
    found, scores = detect(sample.get_column("t").filter(ask).to_list(), codes) if len(rows) else ([], [])
    # a recipe language the detector cannot recognise would be misread as another one: annotate, never route
    routing = set(allowed) <= set(codes)
    if routing and len(rows):
        # a row read as another language is read further (WINDOW x max_chars) before it is rejected: a quotation
        # or a reference in another language at the start of a document must not reject it
        longer = sample.get_column("w").filter(ask).to_list()
        again = [i for i, (lang, score) in enumerate(zip(found, scores, strict=True))
                 if lang is not None and lang not in allowed and score >= opts.min_confidence
                 and len(longer[i]) > opts.max_chars]  # fmt: skip
        if again:
            for i, lang, score in zip(again, *detect([longer[i] for i in again], codes), strict=True):
                found[i], scores[i] = lang, score
    detected = pl.Series("detected", [None] * len(df), pl.String).scatter(rows, pl.Series(found, dtype=pl.String))
    score = pl.Series("score", [0.0] * len(df), pl.Float64).scatter(rows, pl.Series(scores, dtype=pl.Float64))

    confident = pl.col("_todo") & pl.col("_detected").is_not_null() & (pl.col("_score") >= opts.min_confidence)
    if not routing:
        log.warning("recipe languages %s include one the detector cannot recognise: no row is rejected by language",
                    ", ".join(allowed))
    foreign = confident & ~pl.col("_detected").is_in(allowed) if routing else pl.lit(False)
    out = df.with_columns(
        sample.get_column("todo").alias("_todo"), detected.alias("_detected"), score.alias("_score")
    ).with_columns(
        pl.when(confident).then(pl.col("_detected")).otherwise(pl.col("lang")).alias("lang"),
        pl.when(pl.col("_todo")).then(pl.col("_score")).otherwise(pl.col("lang_score")).alias("lang_score"),
        foreign.alias("_foreign"),
    )
    reason = pl.format("language {} not in recipe languages ({})", pl.col("lang"), pl.lit(", ".join(allowed)))
    rejected = out.filter("_foreign").with_columns(reason.alias("reason"))
    helpers = ["_todo", "_detected", "_score", "_foreign"]
    return out.filter(~pl.col("_foreign")).drop(helpers), rejected.drop(helpers)


ROWS = RowStage(apply=lambda df, shard, opts: identify_frame(df, shard.table, *opts),
                options=lambda recipe: (recipe.langid, recipe.languages) if recipe.langid.enabled else None,
                tables=lambda recipe: recipe.langid.tables)
