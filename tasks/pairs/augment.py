"""Augmentation (opt-in): extra training pairs made from training pairs, after the split.

Methods, each applied to its own `share` of the training pairs (chosen by a keyed hash of the seed, the
method and the pair id; `max_rows` caps a method over the whole dataset by keeping the lowest hashes,
through a cutoff that `plan_cutoffs` finds over every shard before the shards are augmented in parallel):
- noise: typos (a letter swapped, dropped or doubled), casing and whitespace changes in the prompt,
  drawn from a generator seeded by a keyed hash of the pair id, so a rerun gives the same text;
- paraphrase: the generation model rewrites the prompt with the same meaning;
- back-translation: the model translates the prompt into the pivot language and back.
Only prompts change (and the last user turn of `messages`, which is the prompt); the response is the
label and stays. Model outputs are kept only when they pass basic checks (not empty, not the same
text, a sane length ratio, the same numbers and PII placeholders). New rows are `origin: augmented`,
`augmented_from` the original id, in the original's `doc_id` group and in `split: train`; validation
and test rows are never touched.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import AugmentOptions, GenerateOptions, NoiseOptions
from pairforge.tasks.core.schema import stable_id
from pairforge.tasks.core.shards import RETRYING, Shard, StageResult, log, resumable, stage_uri, write_stage
from pairforge.tasks.pairs.generate import DEAD_LETTER, Endpoint, client_for, run_requests
from pairforge.tasks.pairs.llm import ChatRequest, LLMClient, LLMStats
from pairforge.tasks.publish.split import bucket, keyed_hash

NOISE, PARAPHRASE, BACK_TRANSLATION = "noise", "paraphrase", "back-translation"
# Pair tasks whose prompt carries the input a response was made from word for word: a model rewrite would
# change that input (a translation's source text) and leave a wrong label.
MODEL_SKIP_TASKS = ("translation",)
MIN_LENGTH_RATIO, MAX_LENGTH_RATIO = 0.5, 2.0
CHARS_PER_TOKEN = 3  # conservative: prompts longer than max_tokens * this are not sent for a rewrite
# PII placeholders written by the scrubber: <PERSON>, <PERSON_2>, <EMAIL_ADDRESS:1a2b3c4d5e6f>
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*(?::[0-9a-f]+)?>")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
LANGUAGE_NAMES = {
    "ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian",
    "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian",
    "ru": "Russian", "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}


def language_name(code: str | None) -> str:
    code = (code or "en").strip()
    return LANGUAGE_NAMES.get(code.lower().split("-")[0], code)


# ---- which pairs ---------------------------------------------------------------------------------


def _hashes(df: pl.DataFrame, opts: AugmentOptions, method: str, max_tokens: int) -> pl.DataFrame:
    """The rows a method may augment, with their keyed hash `_u`, those under `share` only."""
    if "split" not in df.columns or not len(df):
        return df.clear().with_columns(pl.lit(None, pl.Float64).alias("_u"))
    eligible = (pl.col("split") == "train") & (pl.col("origin").fill_null("") != "augmented")
    eligible &= pl.col("prompt").fill_null("").str.strip_chars().str.len_chars() > 0
    if method != NOISE:  # what a model rewrite can be trusted with
        eligible &= pl.col("prompt").str.len_chars() <= max_tokens * CHARS_PER_TOKEN
        eligible &= ~pl.col("task").fill_null("").is_in(MODEL_SKIP_TASKS)
        if method == BACK_TRANSLATION:  # a pair already in the pivot language has no round trip to make
            eligible &= pl.col("lang").fill_null("en") != opts.back_translation
    pool = df.filter(eligible)
    u = pl.Series("_u", [bucket(opts.seed, f"{method}:{i}") for i in pool.get_column("id").to_list()],
                  dtype=pl.Float64)
    return pool.with_columns(u).filter(pl.col("_u") < opts.share)


def candidates(df: pl.DataFrame, opts: AugmentOptions, method: str, max_tokens: int = 256,
               cutoffs: dict[str, float] | None = None) -> pl.DataFrame:
    """The training pairs a method augments: a `share` of the eligible ones by keyed hash. `cutoffs` (from
    `plan_cutoffs`) keep the dataset-wide `max_rows` lowest hashes; without them `df` is taken as the whole."""
    chosen = _hashes(df, opts, method, max_tokens).sort("_u")
    if cutoffs is not None:
        if method in cutoffs:
            chosen = chosen.filter(pl.col("_u") <= cutoffs[method])
    elif opts.max_rows is not None:
        chosen = chosen.head(opts.max_rows)
    return chosen.drop("_u")


def methods(opts: AugmentOptions) -> list[str]:
    return (([NOISE] if opts.noise.enabled else []) + ([PARAPHRASE] if opts.paraphrase else [])
            + ([BACK_TRANSLATION] if opts.back_translation else [])) if opts.enabled else []


PLAN_COLUMNS = ("id", "split", "origin", "prompt", "task", "lang")


def plan_cutoffs(shards: list[Shard], opts: AugmentOptions, max_tokens: int) -> dict[str, float]:
    """Per method, the largest hash that keeps `max_rows` rows over all pair shards (read by their key columns
    only); a method without more candidates than that has no cutoff."""
    if opts.max_rows is None:
        return {}
    lowest: dict[str, pl.Series] = {}
    for shard in shards:
        df = storage.read_parquet(shard.uri, columns=list(PLAN_COLUMNS))
        for method in methods(opts):
            u = _hashes(df, opts, method, max_tokens).get_column("_u")
            both = pl.concat([lowest[method], u]) if method in lowest else u
            lowest[method] = both.sort().head(opts.max_rows)  # a running bottom-k: memory stays at max_rows
    return {m: float(u[-1]) for m, u in lowest.items() if len(u) >= opts.max_rows}


# ---- noise ---------------------------------------------------------------------------------------


def pair_rng(seed: int, method: str, pair_id: str) -> random.Random:
    """A generator of its own per pair (never the global one): same seed and id, same draws, on any machine."""
    return random.Random(keyed_hash(seed, f"{method}:{pair_id}"))


def _typo(word: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    if len(letters) < 2:
        return word
    swaps = [i for i in letters[:-1] if i + 1 in letters and word[i] != word[i + 1]]
    ops = ["double"] + (["swap"] if swaps else []) + (["drop"] if len(letters) >= 3 else [])
    op = rng.choice(ops)
    if op == "swap":
        i = rng.choice(swaps)
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    i = rng.choice(letters)
    return word[:i] + word[i + 1:] if op == "drop" else word[:i] + word[i] + word[i:]


def _recase(word: str, rng: random.Random) -> str:
    options = {word.lower(), word.upper(), word[:1].upper() + word[1:].lower()} - {word}
    return rng.choice(sorted(options)) if options else word


def _changeable(word: str) -> bool:
    return sum(c.isalpha() for c in word) >= 2 and not PLACEHOLDER.search(word) and "://" not in word


def noise_text(text: str, opts: NoiseOptions, rng: random.Random) -> str | None:
    """`text` with typos, casing and whitespace changes at the given rates; never the same text (one change is
    forced when the draws made none). None when there is nothing that could change."""
    parts = re.split(r"(\s+)", text)  # words at even positions, whitespace between them at odd ones
    words = [i for i in range(0, len(parts), 2) if _changeable(parts[i])]
    spaces = [i for i in range(1, len(parts), 2) if parts[i] == " "]
    for i in words:
        if rng.random() < opts.typo_rate:
            parts[i] = _typo(parts[i], rng)
        if rng.random() < opts.case_rate:
            parts[i] = _recase(parts[i], rng)
    for i in spaces:
        if rng.random() < opts.whitespace_rate:
            parts[i] = rng.choice(["  ", ""])
    out = "".join(parts)
    if out != text:
        return out
    # the draws changed nothing: make one change, of the kind asked for most among those possible
    kinds = [(rate, -order, kind) for order, (rate, kind, where) in
             enumerate([(opts.typo_rate, "typo", words), (opts.case_rate, "case", words),
                        (opts.whitespace_rate, "space", spaces)]) if where]
    for _, _, kind in sorted(kinds, reverse=True):
        if kind == "space":
            parts[rng.choice(spaces)] = "  "
        else:
            i = rng.choice(words)
            parts[i] = _typo(parts[i], rng) if kind == "typo" else _recase(parts[i], rng)
        out = "".join(parts)
        if out != text:
            return out
    return None


def with_prompt(messages: list[dict] | None, prompt: str, response: str | None, system: str | None) -> list[dict]:
    """`messages` with its last user turn replaced by `prompt` (rebuilt from the columns when it has none)."""
    turns = [dict(m) for m in messages or []]
    users = [i for i, m in enumerate(turns) if m.get("role") == "user"]
    if users:
        turns[users[-1]]["content"] = prompt
        return turns
    return ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}, {"role": "assistant", "content": response or ""}]


def derived_rows(chosen: pl.DataFrame, prompts: list[str], method: str, generator: str | None = None) -> pl.DataFrame:
    """New rows from `chosen` with their new prompts: linked, in the same group, in train; all else copied."""
    messages = [with_prompt(r["messages"], p, r["response"], r["system"])
                for r, p in zip(chosen.select("messages", "response", "system").iter_rows(named=True), prompts,
                                strict=True)]
    ids = [stable_id("augmented", method, i, p) for i, p in zip(chosen.get_column("id").to_list(), prompts,
                                                                  strict=True)]
    out = chosen.with_columns(
        pl.Series("id", ids, pl.String),
        pl.Series("prompt", prompts, pl.String),
        pl.Series("messages", messages, chosen.schema["messages"]),
        pl.col("id").alias("augmented_from"),
        pl.lit("augmented").alias("origin"),
        pl.lit("train").alias("split"),
    )
    if generator is not None:
        out = out.with_columns(pl.lit(generator, pl.String).alias("generator"))
    return out.select(chosen.columns)


def noise_pairs(df: pl.DataFrame, opts: AugmentOptions, cutoffs: dict[str, float] | None = None) -> pl.DataFrame:
    """Noised copies of a `share` of the training pairs (only the new rows; empty when noise is off)."""
    if not opts.noise.enabled:
        return df.clear()
    chosen = candidates(df, opts, NOISE, cutoffs=cutoffs)
    noised = [noise_text(p, opts.noise, pair_rng(opts.seed, NOISE, i))
              for i, p in chosen.select("id", "prompt").iter_rows()]
    keep = pl.Series([p is not None for p in noised], dtype=pl.Boolean)  # typed: an empty list is no Null column
    return derived_rows(chosen.filter(keep), [p for p in noised if p is not None], NOISE)


# ---- model rewrites ------------------------------------------------------------------------------

TEXT_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
KEEP = ("Keep every name, number and placeholder in angle brackets (such as <PERSON>) exactly as it is. "
        "Do not answer or carry out the text.")


def paraphrase_request(pair_id: str, prompt: str) -> ChatRequest:
    return ChatRequest([
        {"role": "system", "content": f"You rewrite requests in other words with the same meaning. {KEEP}"},
        {"role": "user", "content": f'Rewrite this request in different words:\n"""\n{prompt}\n"""\n'
                                    'Reply with JSON: {"text": "..."}'},
    ], TEXT_SCHEMA, f"{PARAPHRASE}:{pair_id}")


def translate_request(key: str, text: str, source: str, target: str) -> ChatRequest:
    return ChatRequest([
        {"role": "system", "content": f"You are a translator. Translate faithfully. {KEEP}"},
        {"role": "user", "content": f'Translate this text from {language_name(source)} into {language_name(target)}:'
                                    f'\n"""\n{text}\n"""\nReply with JSON: {{"text": "..."}}'},
    ], TEXT_SCHEMA, key)


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def rewrite_problem(original: str, new: str | None) -> str | None:
    """Why a model's rewrite is unusable, or None when it passes the basic checks."""
    if not new or not new.strip():
        return "empty output"
    if _same(new, original):
        return "same as the original"
    ratio = len(new.strip()) / max(1, len(original.strip()))
    if not MIN_LENGTH_RATIO <= ratio <= MAX_LENGTH_RATIO:
        return f"length ratio outside {MIN_LENGTH_RATIO:g}-{MAX_LENGTH_RATIO:g}"
    if Counter(PLACEHOLDER.findall(new)) != Counter(PLACEHOLDER.findall(original)):
        return "PII placeholders changed"
    if Counter(NUMBER.findall(new)) != Counter(NUMBER.findall(original)):
        return "numbers changed"
    return None


def _clean(text: str | None) -> str | None:
    """The model's text without the quotes it sometimes copies from the request."""
    return text.strip().strip('"').strip() if text is not None else None


@dataclass
class Rewrites:
    rows: pl.DataFrame
    dead: list[dict] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    stats: LLMStats = field(default_factory=LLMStats)


def _answers(client: LLMClient, requests: list[ChatRequest], method: str, meta: dict[str, dict],
             out: Rewrites) -> dict[str, str | None]:
    """Send requests; key -> usable text (None when the request failed or was cut off)."""
    results, stats = run_requests(client, requests)
    out.stats.merge(stats)
    answers: dict[str, str | None] = {}
    for r in results:
        if r.error:
            row = meta[r.key]
            out.dead.append({"key": r.key, "kind": method, "source": row["source"], "doc_id": row["doc_id"],
                             "error": r.error, "stage": "augment"})
            answers[r.key] = None
        elif r.finish_reason == "length":
            out.rejected[f"{method}: truncated (hit max_tokens)"] += 1
            answers[r.key] = None
        else:
            text = _clean(r.parsed.get("text") if isinstance(r.parsed, dict) else r.text)
            if not text:
                out.rejected[f"{method}: empty output"] += 1
            answers[r.key] = text or None
    return answers


def rewrite_pairs(df: pl.DataFrame, opts: AugmentOptions, client: LLMClient, method: str,
                  cutoffs: dict[str, float] | None = None) -> Rewrites:
    """Paraphrased or back-translated copies of a `share` of the training pairs, checked; plus dead letters."""
    chosen = candidates(df, opts, method, client.max_tokens, cutoffs)
    out = Rewrites(df.clear())
    rows = {r["id"]: r for r in chosen.select("id", "prompt", "lang", "source", "doc_id").iter_rows(named=True)}
    if not rows:
        return out
    if method == PARAPHRASE:
        meta = {f"{PARAPHRASE}:{i}": r for i, r in rows.items()}
        answers = _answers(client, [paraphrase_request(i, r["prompt"]) for i, r in rows.items()], method, meta, out)
        texts = {i: answers[f"{PARAPHRASE}:{i}"] for i in rows}
    else:
        pivot = opts.back_translation
        meta = {f"{method}:{pivot}:{i}:out": r for i, r in rows.items()}
        there = _answers(client, [translate_request(k, r["prompt"], r["lang"], pivot) for k, r in meta.items()],
                         method, meta, out)
        back_meta = {}
        for i, r in rows.items():
            text = there[f"{method}:{pivot}:{i}:out"]
            if text is not None and _same(text, r["prompt"]):  # the model copied instead of translating
                out.rejected[f"{method}: not translated"] += 1
            elif text is not None:
                back_meta[f"{method}:{pivot}:{i}:back"] = r
        back = _answers(client, [translate_request(k, there[k.removesuffix(":back") + ":out"], pivot, r["lang"])
                                 for k, r in back_meta.items()], method, back_meta, out)
        texts = {i: back.get(f"{method}:{pivot}:{i}:back") for i in rows}
    accepted: dict[str, str] = {}
    for i, text in texts.items():
        if text is None:
            continue  # dead letter or cut off, counted above
        problem = rewrite_problem(rows[i]["prompt"], text)
        if problem:
            out.rejected[f"{method}: {problem}"] += 1
        else:
            accepted[i] = text
    kept = chosen.filter(pl.col("id").is_in(list(accepted)))
    out.rows = derived_rows(kept, [accepted[i] for i in kept.get_column("id").to_list()], method, client.model)
    return out


# ---- the stage -----------------------------------------------------------------------------------


@dataclass
class Augmented:
    frame: pl.DataFrame  # original rows, then the new ones
    added: dict[str, int]
    dead: list[dict]
    rejected: dict[str, int]
    stats: LLMStats


def augment_frame(df: pl.DataFrame, opts: AugmentOptions, client: LLMClient | None = None,
                  cutoffs: dict[str, float] | None = None) -> Augmented:
    """Every enabled method over one frame of pairs. Model methods need `client`. Without `cutoffs` the frame
    is taken as the whole dataset (`max_rows` applies to it)."""
    parts, added, dead, rejected, stats = [df], {}, [], Counter(), LLMStats()
    model = [m for m in methods(opts) if m != NOISE]
    if model and client is None:
        raise ValueError(f"augment: {' and '.join(model)} need the generation endpoint")
    for method in methods(opts):
        if method == NOISE:
            rows = noise_pairs(df, opts, cutoffs)
        else:
            got = rewrite_pairs(df, opts, client, method, cutoffs)
            rows = got.rows
            dead += got.dead
            rejected.update(got.rejected)
            stats.merge(got.stats)
        parts.append(rows)
        added[method] = len(rows)
    return Augmented(pl.concat(parts, how="vertical_relaxed"), added, dead, dict(rejected), stats)


@task(name="augment", cache_policy=NO_CACHE, task_run_name="augment-{shard.name}", **RETRYING)
@resumable("augment", lambda a: a["shard"].name, ignore=("endpoint",))
def augment_shard(shard: Shard, opts: AugmentOptions, endpoint: Endpoint | None, gen: GenerateOptions,
                  cache_uri: str | None, work_uri: str, cutoffs: dict[str, float] | None = None) -> StageResult:
    """Original rows plus augmented training pairs -> the augment stage's shard; counts per method.
    `cutoffs` come from `plan_cutoffs` over all shards (for a dataset-wide `max_rows`)."""
    client = client_for(endpoint, gen, cache_uri) if endpoint else None
    got = augment_frame(shard.read(), opts, client, cutoffs)
    dead_uri = None
    if got.dead:
        dead_uri = stage_uri(work_uri, "dead_letter", "pairs", f"augment-{shard.name}")
        storage.write_parquet(pl.DataFrame(got.dead, schema=DEAD_LETTER, orient="row"), dead_uri)
    log(f"augment {shard.name}: added {got.added}, {len(got.dead)} failed requests, rejected {got.rejected}")
    return StageResult("augment", write_stage(got.frame, work_uri, "augment", shard), dict(got.rejected),
                       added=dict(got.added), llm=got.stats.to_dict() if client else {}, dead=len(got.dead),
                       dead_uri=dead_uri)
