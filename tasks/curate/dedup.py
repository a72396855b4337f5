"""Exact and near-duplicate removal (MinHash LSH) across all shards of a table, with a persistent index.

Three steps, so the work scales across workers:
1. `signature_shard` (mapped): per row an exact key and a MinHash signature with its LSH band hashes,
   written as a small Parquet file (no text).
2. `find_duplicates` (global): reads the keys and band hashes of every shard (and of the index of
   earlier versions), takes rows sharing an LSH bucket as candidates, verifies each candidate pair on
   its signatures, joins duplicates into clusters (union-find) and picks one representative per
   cluster: a published row first, else the earliest row by shard order -> a decisions Parquet.
3. `apply_dedup` (mapped): drops duplicates (or with keep: all, only marks them) per the decisions.
After export, `update_index` records the signatures of the rows a version published (and the dataset's
URI), so a later incremental run drops rows that were already published. Only versions that are still
complete count (their `manifest.json` exists: a deleted, garbage-collected or half-written version
published nothing), and a row published by several versions counts once, for the oldest.

Pairs are near-duplicates only when their question and their answer both are (`pair_parts`, `pairs_near`): a
passage shared by many questions (a `context` inlined in the prompt, T0 / SQuAD style) is taken apart from the
question, so two different questions about one passage are never merged, however long the passage. Exact
duplicates are found on the whole prompt and response, as for documents. A multi-turn conversation's earlier turns
count as its prompt's first lines (tasks.core.schema.conversation_prompt): conversations that share their first
exchanges and part later, or end alike after different turns, are different rows.

Rows are addressed by (shard name, row number), not by id: copies of a line in one source share an id.
Hashes are stable across processes, machines and library versions (blake2b, numpy integer arithmetic
and numpy's frozen RandomState), so signatures in the index stay comparable from run to run.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import polars as pl
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import DedupOptions
from pairforge.tasks.core.schema import conversation_prompt, row_text
from pairforge.tasks.core.shards import KEY_COLUMNS, RETRYING, Shard, fingerprint, resumable, stage_uri
from pairforge.tasks.core.stages import RowStage
from pairforge.tasks.publish.export import MANIFEST

MAX32 = np.uint64(0xFFFFFFFF)
SHINGLE_BATCH = 1 << 13  # shingles hashed per step: a temporary of SHINGLE_BATCH x num_perm uint64 (8 MB at 128)
MAX_CHARS_PER_BATCH = 2_000_000  # bytes of text split into words and shingles at once (~330,000 words)
BUCKET_ALL_PAIRS = 32  # larger LSH buckets (boilerplate) are paired with their first member only, not all pairs
VERIFY_BATCH = 200_000  # candidate pairs compared at once

# `published_in` of the erasure register's rows: signatures of rows erased on request (`<dataset>/_erasure/
# signatures/`), so an edited copy that comes back from a source is dropped like a duplicate of them
ERASED_IN = "erasure register"
ERASED_COPY = "copy of a row erased on request"
DECISIONS = pl.Schema({
    "shard": pl.String, "row": pl.UInt32, "id": pl.String,
    "action": pl.String,  # drop | keep
    "reason": pl.String,  # exact duplicate | near duplicate (jaccard >= t) | already published in <v> | ERASED_COPY
    "duplicate_of": pl.String,  # id of the cluster's representative (null for the representative)
    "dup_cluster": pl.String,  # id of the cluster's representative
    "published_in": pl.String,  # version that published the representative, for rows already published
})


def near_reason(threshold: float) -> str:
    return f"near duplicate (jaccard >= {threshold:g})"


def _digest(text: str, size: int = 16) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).digest()


def exact_keys(text: pl.Series) -> pl.Series:
    """Hex blake2b of the text lowercased without punctuation and whitespace; null when nothing is left."""
    normalized = text.str.to_lowercase().str.replace_all(r"[\p{P}\s]+", "")
    return pl.Series("exact", [_digest(t).hex() if t else None for t in normalized.to_list()], dtype=pl.String)


# ---- MinHash ---------------------------------------------------------------------------------------


@functools.cache
def _mix(n: int) -> np.ndarray:
    """n odd 64-bit multipliers that make a combined hash depend on each part's position."""
    return np.random.RandomState(7919 + n).randint(1, 1 << 62, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


@functools.cache
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) column vectors of the hash functions ((a*x + b) mod 2^64) >> 32 of 32-bit x (multiply-add-shift,
    a odd): universal like datasketch's (a*x + b) mod (2^61 - 1), without the costly modulo."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 62, size=num_perm, dtype=np.uint64) * np.uint64(4) + np.uint64(1)
    b = gen.randint(0, 1 << 62, size=num_perm, dtype=np.uint64) * np.uint64(4)
    return a[:, None], b[:, None]


def _word_hashes(words: pl.Series) -> np.ndarray:
    """A stable 64-bit hash per word (each distinct word hashed once)."""
    uniq = words.unique()
    hashes = pl.Series([int.from_bytes(_digest(w, 8), "little") for w in uniq.to_list()], dtype=pl.UInt64)
    return words.replace_strict(uniq, hashes, return_dtype=pl.UInt64).to_numpy()


def shingle_hashes(word_hashes: np.ndarray, lengths: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of each row's word k-grams (a row with fewer than k words: one for all of them).

    `word_hashes` holds the rows' words back to back, `lengths` the words per row; returns (hashes, per-row counts)."""
    lengths = lengths.astype(np.int64)
    counts = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.uint64), counts
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    row_of = np.repeat(np.arange(len(lengths)), counts)
    starts = offsets[row_of] + (np.arange(total) - firsts[row_of])
    ends = offsets[row_of] + lengths[row_of]
    h = np.zeros(total, np.uint64)
    last = len(word_hashes) - 1
    for j, c in enumerate(_mix(k)):
        pos = starts + j
        h += np.where(pos < ends, word_hashes[np.minimum(pos, last)] * c, np.uint64(0))  # wraps mod 2^64
    return h >> np.uint64(32), counts


def minhash(shingles: np.ndarray, counts: np.ndarray, num_perm: int, seed: int) -> np.ndarray:
    """(rows, num_perm) MinHash signatures (values < 2^32); rows without shingles stay all 2^32 - 1."""
    a, b = _permutations(num_perm, seed)
    sig = np.full((len(counts), num_perm), MAX32, np.uint64)
    row_of = np.repeat(np.arange(len(counts)), counts)
    for s0 in range(0, len(shingles), SHINGLE_BATCH):
        rows = row_of[s0:s0 + SHINGLE_BATCH]
        # (num_perm, shingles): each row's shingles are contiguous along the last axis, where reduceat is fast
        permuted = a * shingles[None, s0:s0 + SHINGLE_BATCH]  # (in place from here: one temporary, not three)
        permuted += b
        permuted >>= np.uint64(32)
        bounds = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        part = np.minimum.reduceat(permuted, bounds, axis=1).T
        r = rows[bounds]
        sig[r] = np.minimum(sig[r], part)
    return sig


# Every candidate pair is verified on its signatures, so a false positive costs one comparison while a false
# negative is a duplicate kept: weigh misses 9:1 (at threshold 0.8, 128 permutations: 14 bands of 9 rows, which
# catch 97% of pairs at Jaccard 0.85; equal weights give 9 x 13, which misses 31% of them).
FALSE_POSITIVE_WEIGHT, FALSE_NEGATIVE_WEIGHT = 0.1, 0.9


@functools.cache
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) minimising weighted false positives + false negatives around the threshold
    (datasketch's `_optimal_param`, integrated numerically)."""
    below, above = np.linspace(0.0, threshold, 257), np.linspace(threshold, 1.0, 257)
    best, out = np.inf, (1, num_perm)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            false_pos = np.trapezoid(1 - (1 - below**r) ** b, below)
            false_neg = np.trapezoid((1 - above**r) ** b, above)
            error = FALSE_POSITIVE_WEIGHT * false_pos + FALSE_NEGATIVE_WEIGHT * false_neg
            if error < best:
                best, out = error, (b, r)
    return out


def band_hashes(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) 64-bit hashes of each band's `rows` signature values."""
    out = np.zeros((len(sig), bands), np.uint64)
    for j, c in enumerate(_mix(rows)):
        out += sig[:, j:bands * rows:rows].astype(np.uint64) * c
    return out


def _params(opts: DedupOptions) -> tuple[str, str]:
    """Labels of the MinHash parameters (signatures comparable) and of the banding (band hashes comparable)."""
    b, r = lsh_params(opts.threshold, opts.num_perm)
    return f"{opts.num_perm}/{opts.seed}/{opts.shingle_size}", f"{b}x{r}"


def text_minhash(text: pl.Series, shingle_sizes: tuple[int, ...], opts: DedupOptions,
                 sets_upto: int | None = None) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """(len(text), num_perm) MinHash signatures (uint64, values < 2^32) of each text's word k-shingles for every k in
    `shingle_sizes` together; a text without words stays all 2^32 - 1. With `sets_upto`, also each text's sorted
    shingle hashes when it has at most that many words (else None)."""
    sig = np.full((len(text), opts.num_perm), MAX32, np.uint64)
    sets: list[np.ndarray | None] = [None] * len(text)
    if not len(text):
        return sig, sets
    # batches of rows with a bounded number of characters, split into words one batch at a time: the words of a whole
    # shard at once (Polars strings, then their hashes and shingles) took ~190 MB per 5,000 documents, and the
    # shards of a stage run at once (20,000 documents: +950 MB)
    cum = np.cumsum(text.str.len_bytes().fill_null(0).to_numpy().astype(np.int64))
    start = 0
    while start < len(text):
        base = cum[start - 1] if start else 0
        end = max(start + 1, int(np.searchsorted(cum, base + MAX_CHARS_PER_BATCH, side="right")))
        words = text.slice(start, end - start).str.to_lowercase().str.extract_all(r"\w+")
        lengths = words.list.len().fill_null(0).to_numpy().astype(np.int64)
        flat = words.explode().drop_nulls()
        del words
        hashed = []
        if len(flat):
            hashes = _word_hashes(flat)
            del flat
            for k in shingle_sizes:  # the MinHash of a union is the element-wise minimum
                shingles, counts = shingle_hashes(hashes, lengths, k)
                sig[start:end] = np.minimum(sig[start:end], minhash(shingles, counts, opts.num_perm, opts.seed))
                hashed.append((shingles, np.concatenate([[0], np.cumsum(counts)])))
        if sets_upto is not None:
            for i in range(start, end):
                if lengths[i - start] <= sets_upto:
                    j = i - start
                    sets[i] = np.unique(np.concatenate([h[o[j]:o[j + 1]] for h, o in hashed] or [np.zeros(0)]))
        start = end
    return sig, sets


def signatures(df: pl.DataFrame, table: str, opts: DedupOptions) -> pl.DataFrame:
    """Per row: row number, id, table, exact key, LSH band hashes and MinHash signature (null when the row has
    no words or near-duplicate detection is off); for pairs also the parts their comparison reads (`pair_parts`)."""
    b, r = lsh_params(opts.threshold, opts.num_perm)
    text = df.select(row_text(table)).to_series()
    if opts.near:
        sig, _ = text_minhash(text, (opts.shingle_size,), opts)
    else:
        sig = np.full((len(df), opts.num_perm), MAX32, np.uint64)
    has_sig = ~(sig == MAX32).all(axis=1)
    minhash_params, lsh = _params(opts)
    out = pl.DataFrame({
        "row": pl.Series(np.arange(len(df), dtype=np.uint32)),
        "id": df.get_column("id").cast(pl.String),
        "table": pl.Series([table] * len(df), dtype=pl.String),
        "exact": exact_keys(text),
        "bands": pl.Series(band_hashes(sig, b, r)).cast(pl.Array(pl.UInt64, b)),
        "sig": pl.Series(sig.astype(np.uint32)).cast(pl.Array(pl.UInt32, opts.num_perm)),
        "has_sig": pl.Series(has_sig),
    }).with_columns(
        pl.when("has_sig").then(pl.col("bands")).alias("bands"),
        pl.when("has_sig").then(pl.col("sig")).alias("sig"),
        pl.lit(minhash_params).alias("minhash"),
        pl.lit(lsh).alias("lsh"),
    ).drop("has_sig")
    if table == "pairs" and opts.near:
        out = pl.concat([out, pair_parts(df, opts)], how="horizontal")
    return out


# ---- pairs: the question and the answer apart -------------------------------------------------------

# A pair's prompt is cut into parts (its lines; a long line into sentences). Two pairs are near-duplicates when
# their answers are, and what is left of their prompts once the parts both hold word for word are set aside (a
# passage, an instruction) is too: the question. Parts are short, so they are compared on words and word pairs, not
# on `shingle_size` shingles: "In what year did it open?" and "What year did it open?" share 9 of 11 (0.82),
# 'How many times does "Gaza" appear?' and 'How many times does "Arafat" appear?' 7 of 13 (0.54). Short text (up to
# SHORT_PART words) is compared on its exact shingle sets, longer text on MinHash signatures of them.
PART_SHINGLES = (1, 2)
SHORT_PART = 48
LONG_LINE = 24  # words: a longer line is cut after its sentences (a passage, maybe a question inlined after it)
MAX_PARTS = 64  # beyond: the middle parts are joined into one (a question sits at the start or the end)
PART_COLUMNS = ["parts", "part_sigs", "part_sets", "part_bands", "resp_sig", "resp_set", "resp_bands",
                "parts_minhash"]
_SENTENCE_END = re.compile(r"(?<=[.!?;\u3002\uff01\uff1f])\s+")
_LABEL = re.compile(r"^(#*\s*\w+(?:[ -]\w+){0,2}\s*:)\s+(?=\S)")  # "Question: ...", "### Input: ..."
# XOR-ed into the band hashes of parts and answers, so they share buckets with each other's kind only
_PART_SALT, _RESP_SALT = (np.random.RandomState(104729 + i).randint(1, 1 << 62, size=64, dtype=np.uint64)
                          for i in range(2))


def _parts_label(opts: DedupOptions) -> str:
    """Which part signatures are comparable (`minhash` labels the whole-row signature)."""
    return f"{opts.num_perm}/{opts.seed}/parts-{'+'.join(map(str, PART_SHINGLES))}"


def prompt_parts(prompt: str | None, context: str | None = None) -> list[str]:
    """A prompt's parts: its lines, a line of more than LONG_LINE words cut after its sentences (a short line stays
    whole: a question quoting "two. sentences" is one part), and a leading label ("Question:", "### Input:") apart
    from what it labels; a `context` found inside the prompt is cut out first, so it never shares a part with the
    question around it. Parts without words are left out."""
    prompt = prompt or ""
    if context and context.strip() and context in prompt:
        prompt = prompt.replace(context, f"\n{context}\n")
    parts = []
    for line in prompt.splitlines():
        long = len(re.findall(r"\w+", line)) > LONG_LINE
        for part in _SENTENCE_END.split(line) if long else [line]:
            label = _LABEL.match(part.strip())
            parts += [label.group(1), part.strip()[label.end():]] if label else [part.strip()]
    parts = [p for p in parts if re.search(r"\w", p)]
    if len(parts) > MAX_PARTS:
        head, tail = MAX_PARTS // 2, MAX_PARTS - MAX_PARTS // 2 - 1
        parts = parts[:head] + [" ".join(parts[head:len(parts) - tail])] + parts[len(parts) - tail:]
    return parts


def _part_key(part: str) -> int:
    """A 64-bit hash of the part lowercased without punctuation and whitespace (parts "shared word for word")."""
    return int.from_bytes(_digest(re.sub(r"[\W_]+", "", part.lower()), 8), "little")


def _per_row(values: pl.Series, lengths: np.ndarray) -> pl.Series:
    """`values` cut into one list per row, `lengths[i]` values for row i."""
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    return pl.Series(pa.ListArray.from_arrays(offsets, values.to_arrow()))


def pair_parts(df: pl.DataFrame, opts: DedupOptions) -> pl.DataFrame:
    """Per pair: its prompt's part keys, their MinHash signatures and band hashes, and the answer's signature and band
    hashes (all word and word-pair shingles, `PART_SHINGLES`); the `context` column, when the prompt holds it, is
    cut out as parts of its own."""
    b, r = lsh_params(opts.threshold, opts.num_perm)
    contexts = df.get_column("context").to_list() if "context" in df.columns else [None] * len(df)
    prompts = df.select(conversation_prompt()).to_series().to_list()  # a conversation's earlier turns are parts
    parts = [prompt_parts(p, c) for p, c in zip(prompts, contexts, strict=True)]
    flat = [p for row in parts for p in row]
    part_sig, part_sets = text_minhash(pl.Series(flat, dtype=pl.String), PART_SHINGLES, opts, SHORT_PART)
    part_bands = band_hashes(part_sig, b, r) ^ _PART_SALT[:b]
    resp_sig, resp_sets = text_minhash(df.get_column("response").fill_null(""), PART_SHINGLES, opts, SHORT_PART)
    resp_bands = band_hashes(resp_sig, b, r) ^ _RESP_SALT[:b]
    lengths = np.array([len(row) for row in parts], dtype=np.int64)
    keys = [[_part_key(p) for p in row] for row in parts]
    # a part that other rows of the shard hold too (their passage, their instruction) gets no buckets: it would put
    # them all in one, and what tells their duplicates apart is in their other parts and answers, which have buckets
    seen = Counter(k for row in keys for k in set(row))
    own = np.array([seen[k] == 1 for row in keys for k in row], dtype=bool)
    part_bands = part_bands[own]
    return pl.DataFrame({
        "parts": pl.Series(keys, dtype=pl.List(pl.UInt64)),
        "part_sigs": _per_row(pl.Series(part_sig.astype(np.uint32)).cast(pl.Array(pl.UInt32, opts.num_perm)),
                              lengths),
        "part_sets": _per_row(pl.Series([None if x is None else x.tolist() for x in part_sets],
                                        dtype=pl.List(pl.UInt32)), lengths),
        "part_bands": _per_row(pl.Series(part_bands.ravel()), np.array(
            [sum(seen[k] == 1 for k in row) for row in keys], dtype=np.int64) * b),
        "resp_sig": pl.Series(resp_sig.astype(np.uint32)).cast(pl.Array(pl.UInt32, opts.num_perm)),
        "resp_set": pl.Series([None if x is None else x.tolist() for x in resp_sets], dtype=pl.List(pl.UInt32)),
        "resp_bands": pl.Series(resp_bands).cast(pl.Array(pl.UInt64, b)),
        "parts_minhash": pl.Series([_parts_label(opts)] * len(df), dtype=pl.String),
    })


@dataclass
class PairParts:
    """What the comparison of a pair reads: its prompt's part keys, their signatures (one row each) and shingle sets
    (None for a long part), and the answer's signature and set."""

    keys: list[int]
    sigs: np.ndarray
    sets: list[list[int] | None]
    resp_sig: np.ndarray
    resp_set: list[int] | None


def _pair_parts_of(rows: pl.DataFrame, index: np.ndarray, opts: DedupOptions) -> dict[int, PairParts]:
    """`PairParts` of signature rows (the PART_COLUMNS), keyed by `index`; rows recorded without parts are left out."""
    counts = rows.get_column("part_sigs").list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = rows.get_column("part_sigs").explode().drop_nulls()
    sigs = flat.to_numpy().reshape(-1, opts.num_perm) if len(flat) else np.zeros((0, opts.num_perm), np.uint32)
    starts = np.concatenate([[0], np.cumsum(counts)])
    resp = rows.get_column("resp_sig")
    resp_sigs = resp.fill_null(np.full(opts.num_perm, MAX32, np.uint32).tolist()).to_numpy()
    out = {}
    columns = (rows.get_column(c).to_list() for c in ("parts", "part_sets", "resp_set"))
    for n, (i, keys, sets, resp_set) in enumerate(zip(index.tolist(), *columns, strict=True)):
        if resp[n] is not None:
            out[i] = PairParts(keys, sigs[starts[n]:starts[n + 1]], sets, resp_sigs[n], resp_set)
    return out


def similarity(sets_a: list, sigs_a: np.ndarray, sets_b: list, sigs_b: np.ndarray) -> float:
    """Jaccard similarity of the union of each side's shingles: exact when every part is short, else the share of
    agreeing values of the union's MinHash signature (the element-wise minimum of its parts')."""
    if all(s is not None for s in (*sets_a, *sets_b)):
        a, b = set().union(*sets_a), set().union(*sets_b)
        return len(a & b) / len(a | b) if a | b else 1.0
    return float((sigs_a.min(axis=0) == sigs_b.min(axis=0)).mean())


def pairs_near(a: PairParts, b: PairParts, threshold: float) -> bool:
    """Are two pairs near-duplicates? Their answers must be (Jaccard >= threshold), and so must what is left of their
    prompts once the parts both hold word for word are set aside: a shared passage or instruction does not count,
    the question does. Nothing left on either side: the prompts are the same; on one side only: one prompt adds a
    question to the other, not a duplicate."""
    if similarity([a.resp_set], a.resp_sig[None], [b.resp_set], b.resp_sig[None]) < threshold:
        return False
    shared = set(a.keys) & set(b.keys)
    rest_a = [i for i, k in enumerate(a.keys) if k not in shared]
    rest_b = [i for i, k in enumerate(b.keys) if k not in shared]
    if not rest_a or not rest_b:
        return not rest_a and not rest_b
    return similarity([a.sets[i] for i in rest_a], a.sigs[rest_a], [b.sets[i] for i in rest_b],
                      b.sigs[rest_b]) >= threshold


def _more_bands(frame: pl.DataFrame, opts: DedupOptions, stored: bool) -> pl.Series:
    """Per row the band hashes of its parts and answer, in one list (null for rows without parts): the stored ones, or
    (`stored` False: other banding) recomputed from the part signatures."""
    b, r = lsh_params(opts.threshold, opts.num_perm)
    if stored:
        return frame.select(pl.concat_list(pl.col("part_bands"), pl.col("resp_bands").arr.to_list())).to_series()
    out = []
    for sigs, resp in zip(frame.get_column("part_sigs").to_list(), frame.get_column("resp_sig").to_list(),
                          strict=True):
        if resp is None:
            out.append(None)
            continue
        parts = np.asarray(sigs, dtype=np.uint64).reshape(-1, opts.num_perm)
        out.append(np.concatenate([(band_hashes(parts, b, r) ^ _PART_SALT[:b]).ravel(),
                                   band_hashes(np.asarray([resp], np.uint64), b, r)[0] ^ _RESP_SALT[:b]]).tolist())
    return pl.Series(out, dtype=pl.List(pl.UInt64))


@task(name="dedup-signature", cache_policy=NO_CACHE, task_run_name="dedup-signature-{shard.name}", **RETRYING)
@resumable("dedup-signature", lambda a: a["shard"].name)
def signature_shard(shard: Shard, opts: DedupOptions, work_uri: str) -> str | None:
    """Write the shard's signatures (no text) to the work area; None for an empty shard."""
    if not shard.rows:
        return None
    df = shard.read()
    if not len(df):
        return None
    # named after the inputs: a changed shard or option gives a new URI, so later steps never reuse stale results
    uri = stage_uri(work_uri, "dedup-signature", shard.table, f"{shard.name}-{fingerprint(shard, opts)}")
    storage.write_parquet(signatures(df, shard.table, opts).with_columns(pl.lit(shard.name).alias("shard")), uri)
    return uri


# ---- clustering ------------------------------------------------------------------------------------


def connected_components(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Union-find over n nodes and edges a[i] - b[i]; returns each node's root (the smallest node of its component)."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)  # the smaller root wins, so a root is its component's smallest node
    root = np.arange(n, dtype=np.int64)
    linked = np.unique(np.concatenate([a, b])).tolist() if len(a) else []
    root[linked] = [find(x) for x in linked]
    return root


def parquet_files(prefix: str) -> list[str]:
    """The Parquet files directly under a folder/prefix (not in its subfolders), sorted."""
    return [u for u, _ in storage.list_files(prefix) if u.endswith(".parquet") and "/" not in u[len(prefix) + 1:]]


def _columns(parquet: bytes, columns: list[str]) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(parquet), columns=columns)


def _version_created_at(version_uri: str) -> str | None:
    """When a complete version was made (its manifest's `created_at`; "" if not recorded); None if the version is
    not complete (no manifest: deleted, garbage-collected or still being written)."""
    data = storage.read_if_exists(storage.join(version_uri, MANIFEST))
    if data is None:
        return None
    try:
        return str(json.loads(data).get("created_at") or "")
    except (ValueError, AttributeError):
        return ""


def _published_keys(index_uri: str, table: str, opts: DedupOptions,
                    version: str | None) -> list[tuple[str, pl.DataFrame]]:
    """(uri, keys) of each index file of a complete version other than `version`, oldest first (by creation, then
    name)."""
    out = []
    for uri in parquet_files(storage.join(index_uri, table)):
        published_in = PurePosixPath(uri).stem
        if published_in == version:  # a rerun of a version replaces it: its own earlier output is no duplicate
            continue
        data = storage.read_bytes(uri)
        # the dataset, not the version, is recorded: a file copied for another version (erasure) stays right
        if "dataset_uri" in pl.read_parquet_schema(io.BytesIO(data)):
            dataset_uri = _columns(data, ["dataset_uri"]).get_column("dataset_uri")[0]
        else:  # written before the dataset was recorded: the default layout, <dataset>/_index beside versions
            dataset_uri = index_uri.rstrip("/").rsplit("/", 1)[0]
        created_at = _version_created_at(storage.join(dataset_uri, published_in)) if dataset_uri else None
        if created_at is None:
            continue
        out.append(((created_at, published_in), uri, _index_entries(data, opts, published_in)))
    return [(uri, keys) for _, uri, keys in sorted(out, key=lambda f: f[0])]


def _index_entries(data: bytes, opts: DedupOptions, published_in: str) -> pl.DataFrame:
    """Keys of an index file's rows under this run's MinHash and LSH settings (no bands when its MinHash settings
    differ: exact keys still compare)."""
    minhash_params, lsh = _params(opts)
    b, r = lsh_params(opts.threshold, opts.num_perm)
    bands_type = pl.Array(pl.UInt64, b)
    head = _columns(data, ["id", "exact", "minhash", "lsh"])
    same_minhash = bool(len(head)) and bool((head.get_column("minhash") == minhash_params).all())
    if same_minhash and (head.get_column("lsh") == lsh).all():
        bands = _columns(data, ["bands"]).get_column("bands")
    elif same_minhash:  # other banding: recompute band hashes from the signatures
        sig = _columns(data, ["sig"]).get_column("sig")
        has = sig.is_not_null()
        full = np.full((len(sig), opts.num_perm), MAX32, np.uint64)
        if has.any():
            full[has.to_numpy()] = sig.filter(has).to_numpy()
        bands = pl.DataFrame({"bands": pl.Series(band_hashes(full, b, r)).cast(bands_type), "has": has}).select(
            pl.when("has").then("bands")).to_series()
    else:  # other MinHash parameters: signatures are not comparable, exact keys still are
        bands = pl.Series([None] * len(head), dtype=bands_type)
    more = pl.Series([None] * len(head), dtype=pl.List(pl.UInt64))
    if set(PART_COLUMNS) <= set(pl.read_parquet_schema(io.BytesIO(data))):  # pairs recorded with their parts
        labels = _columns(data, ["parts_minhash", "lsh"])
        if len(labels) and (labels.get_column("parts_minhash") == _parts_label(opts)).all():
            same_lsh = bool((labels.get_column("lsh") == lsh).all())
            cols = ["part_bands", "resp_bands"] if same_lsh else ["part_sigs", "resp_sig"]
            more = _more_bands(_columns(data, cols), opts, stored=same_lsh)
    return head.select("id", "exact").with_columns(
        bands.cast(bands_type).alias("bands"), pl.lit(None, pl.String).alias("shard"),
        pl.lit(None, pl.UInt32).alias("row"), pl.lit(published_in).alias("published_in"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("pos"), more.alias("more"),
    )


def _load_keys(signature_uris: list[str], index_uri: str | None, table: str, opts: DedupOptions,
               version: str | None = None, erased_uri: str | None = None):
    """Keys of every row: rows erased on request first (the signature files under `erased_uri`), then rows published
    by complete versions (each id once, for the oldest version; never `version` itself), then this run's rows by
    shard order. Returns (keys frame with `node`, files to read signatures from, number of earlier rows)."""
    b, _ = lsh_params(opts.threshold, opts.num_perm)
    bands_type = pl.Array(pl.UInt64, b)
    cols = ["id", "exact", "bands", "shard", "row", "published_in", "file", "pos", "more"]
    frames, files = [], []
    erased = [(u, _index_entries(storage.read_bytes(u), opts, ERASED_IN)) for u in parquet_files(erased_uri)
              ] if erased_uri else []
    for uri, keys in erased + (_published_keys(index_uri, table, opts, version) if index_uri else []):
        frames.append(keys.with_columns(pl.lit(len(files), pl.Int32).alias("file")).select(cols))
        files.append(uri)
    if frames:  # a row republished by later versions (incremental switched on late) is one candidate, not many
        frames = [pl.concat(frames).unique("id", keep="first", maintain_order=True)]
    published = sum(len(f) for f in frames)
    for uri in signature_uris:
        data = storage.read_bytes(uri)
        df = _columns(data, ["shard", "row", "id", "exact", "bands"])
        parts = set(PART_COLUMNS) <= set(pl.read_parquet_schema(io.BytesIO(data)))
        more = _more_bands(_columns(data, ["part_bands", "resp_bands"]), opts, stored=True) if parts else None
        frames.append(df.with_columns(
            pl.col("bands").cast(bands_type), pl.lit(None, pl.String).alias("published_in"),
            pl.lit(len(files), pl.Int32).alias("file"),
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("pos"),
            more.alias("more") if more is not None else pl.lit(None, pl.List(pl.UInt64)).alias("more"),
        ))
        files.append(uri)
    keys = pl.concat([f.select(cols) for f in frames]) if frames else pl.DataFrame(
        schema={"id": pl.String, "exact": pl.String, "bands": bands_type, "shard": pl.String, "row": pl.UInt32,
                "published_in": pl.String, "file": pl.Int32, "pos": pl.UInt32, "more": pl.List(pl.UInt64)})
    return keys.with_row_index("node"), files, published


def _candidate_pairs(keys: pl.DataFrame, published: int) -> pl.DataFrame:
    """(a, b) node pairs with a < b that share an LSH bucket, b from this run (published rows were compared with
    each other when they were new). Pairs also share buckets through a part of their prompts or their answers
    (`more`): a bucket of a passage that many questions share holds them all, one of a question only its rewordings."""
    nodes = keys.filter(pl.col("bands").is_not_null())
    if len(nodes) < 2:
        return pl.DataFrame(schema={"a": pl.UInt32, "b": pl.UInt32})
    bands = nodes.get_column("bands").to_numpy()
    n, b = bands.shape
    members = pl.DataFrame({"node": np.repeat(nodes.get_column("node").to_numpy(), b),
                            "band": np.tile(np.arange(b, dtype=np.uint16), n), "h": bands.ravel()})
    if "more" in nodes.columns:
        more = (nodes.select("node", pl.col("more").alias("h")).explode("h").drop_nulls()
                .select("node", pl.lit(b, pl.UInt16).alias("band"), "h").unique())
        members = pl.concat([members, more.cast(members.schema)])
    new = pl.col("node") >= published
    buckets = (
        members.join(members.filter(new).select("band", "h").unique(), on=["band", "h"], how="semi")
        .group_by("band", "h").agg(pl.col("node").sort())
        .filter(pl.col("node").list.len() > 1)
        .select("node").unique(maintain_order=True)  # rows that share a passage share its parts' buckets: once
        .with_row_index("bucket")
        .select("bucket", pl.col("node").list.len().alias("size"), "node")
        .explode("node")
        .with_columns(pl.int_range(pl.len()).over("bucket").alias("rank"))
    )
    small = buckets.filter(pl.col("size") <= BUCKET_ALL_PAIRS)
    all_pairs = small.join(small.filter(new), on="bucket", suffix="_b").filter(pl.col("rank") < pl.col("rank_b"))
    big = buckets.filter(pl.col("size") > BUCKET_ALL_PAIRS)
    star = big.filter(pl.col("rank") == 0).join(big.filter(pl.col("rank") > 0, new), on="bucket", suffix="_b")
    return pl.concat([all_pairs.select(a="node", b="node_b"), star.select(a="node", b="node_b")]).unique().sort(
        "a", "b")


def _verify(pairs: pl.DataFrame, keys: pl.DataFrame, files: list[str], opts: DedupOptions) -> np.ndarray:
    """Per candidate pair: do the signatures agree on at least `threshold` of their values? Two pairs that both have
    parts are compared on them instead (`pairs_near`); a row recorded without them (an index written before) is
    compared on its whole signature, and so is a row erased on request: whatever repeats most of its text (its
    passage with another question, say) goes, as before."""
    if not len(pairs):
        return np.zeros(0, bool)
    need = np.unique(np.concatenate([pairs.get_column("a").to_numpy(), pairs.get_column("b").to_numpy()]))
    where = keys.select("file", "pos").to_numpy()[need]
    sig = np.empty((len(need), opts.num_perm), np.uint32)
    parts: dict[int, PairParts] = {}  # index into `need` -> what pairs are compared on
    erased = set(np.flatnonzero(keys.get_column("published_in").gather(need).eq_missing(ERASED_IN).to_numpy()).tolist())
    for f in np.unique(where[:, 0]):
        mine = np.flatnonzero(where[:, 0] == f)
        data = storage.read_bytes(files[f])
        sig[mine] = _columns(data, ["sig"]).get_column("sig").gather(where[mine, 1]).to_numpy()
        if (set(PART_COLUMNS) <= set(pl.read_parquet_schema(io.BytesIO(data)))
                and (_columns(data, ["parts_minhash"]).get_column("parts_minhash") == _parts_label(opts)).all()):
            parts.update(_pair_parts_of(_columns(data, PART_COLUMNS[:-1])[where[mine, 1].tolist()], mine, opts))
    ia = np.searchsorted(need, pairs.get_column("a").to_numpy())
    ib = np.searchsorted(need, pairs.get_column("b").to_numpy())
    agree = np.empty(len(pairs))
    for s0 in range(0, len(pairs), VERIFY_BATCH):
        sl = slice(s0, s0 + VERIFY_BATCH)
        agree[sl] = (sig[ia[sl]] == sig[ib[sl]]).mean(axis=1)
    ok = agree >= opts.threshold
    for n, (x, y) in enumerate(zip(ia.tolist(), ib.tolist(), strict=True)):
        if x in parts and y in parts and x not in erased and y not in erased:
            ok[n] = pairs_near(parts[x], parts[y], opts.threshold)
    return ok


def cluster(keys: pl.DataFrame, files: list[str], published: int, opts: DedupOptions) -> tuple[pl.DataFrame, dict]:
    """Decisions for this run's rows that have duplicates, and counts."""
    edges = [pl.DataFrame(schema={"a": pl.UInt32, "b": pl.UInt32})]
    exact_followers = pl.Series([], dtype=pl.UInt32)
    if opts.exact:
        groups = (
            keys.filter(pl.col("exact").is_not_null())
            .group_by("exact").agg(pl.col("node").min().alias("a"), pl.col("node").alias("b"))
            .filter(pl.col("b").list.len() > 1, pl.col("b").list.max() >= published)
            .explode("b").filter(pl.col("a") != pl.col("b"), pl.col("b") >= published)
        )
        edges.append(groups.select("a", "b"))
        exact_followers = groups.get_column("b")
    candidates = verified = 0
    if opts.near:
        # exact copies join their group's first row anyway: leave them out of the buckets
        follower = pl.col("node").is_in(exact_followers.implode())
        lsh_keys = keys.with_columns(pl.when(~follower).then(pl.col(c)).alias(c) for c in ("bands", "more"))
        pairs = _candidate_pairs(lsh_keys, published)
        ok = _verify(pairs, keys, files, opts)
        candidates, verified = len(pairs), int(ok.sum())
        edges.append(pairs.filter(pl.Series(ok)))
    edges_df = pl.concat(edges)
    root = connected_components(edges_df.get_column("a").to_numpy(), edges_df.get_column("b").to_numpy(), len(keys))
    rep = keys.select("node", "id", "exact", "published_in").rename(
        {"node": "root", "id": "rep_id", "exact": "rep_exact", "published_in": "rep_published_in"})
    members = (
        keys.with_columns(pl.Series("root", root, dtype=pl.UInt32))
        .filter(pl.len().over("root") > 1, pl.col("node") >= published)
        .join(rep, on="root", how="left")
    )
    exact = (pl.col("exact") == pl.col("rep_exact")).fill_null(False)
    is_rep = pl.col("node") == pl.col("root")
    already = pl.col("rep_published_in").is_not_null()
    reason = (
        pl.when(pl.col("rep_published_in") == ERASED_IN).then(pl.lit(ERASED_COPY))
        .when(already).then(pl.lit("already published in ") + pl.col("rep_published_in"))
        .when(is_rep).then(pl.lit(None, pl.String))
        .when(exact).then(pl.lit("exact duplicate"))
        .otherwise(pl.lit(near_reason(opts.threshold)))
    )
    drop = already | (~is_rep & pl.lit(opts.keep == "one"))
    decisions = members.sort("node").select(
        "shard", "row", "id",
        pl.when(drop).then(pl.lit("drop")).otherwise(pl.lit("keep")).alias("action"),
        reason.alias("reason"),
        pl.when(~is_rep).then(pl.col("rep_id")).alias("duplicate_of"),
        pl.col("rep_id").alias("dup_cluster"),
        pl.col("rep_published_in").alias("published_in"),
    ).cast(dict(DECISIONS))
    reasons = Counter(decisions.get_column("reason").drop_nulls().to_list())
    dropped = Counter(decisions.filter(pl.col("action") == "drop").get_column("reason").to_list())
    in_run = decisions.filter(pl.col("published_in").is_null())
    erased = int((keys.get_column("published_in") == ERASED_IN).sum())
    stats = {
        "rows": len(keys) - published,
        "published_rows_checked": published - erased,
        "erased_rows_checked": erased,
        "exact_duplicates": reasons["exact duplicate"],
        "near_duplicates": reasons[near_reason(opts.threshold)],
        "exact_dropped": dropped["exact duplicate"],
        "near_dropped": dropped[near_reason(opts.threshold)],
        "published_dropped": sum(n for k, n in dropped.items() if k.startswith("already published")),
        "erased_copies_dropped": dropped[ERASED_COPY],
        "clusters": in_run.get_column("dup_cluster").n_unique(),
        "clustered_rows": len(in_run),
        "candidate_pairs": candidates,
        "verified_pairs": verified,
    }
    return decisions, stats


@task(name="dedup-find", cache_policy=NO_CACHE, task_run_name="dedup-find-{table}", **RETRYING)
@resumable("dedup-find", lambda a: a["table"])
def find_duplicates(signature_uris: list[str], opts: DedupOptions, table: str, index_uri: str | None,
                    work_uri: str, version: str | None = None, erased_uri: str | None = None, inputs: str = "") -> dict:
    """Cluster the table's duplicates over all shards, and against rows erased on request (the signature files under
    `erased_uri`) and, with `opts.incremental`, rows published by other versions (pass this run's `version` so a
    rerun does not match its own earlier output); returns {"decisions_uri", "stats"}. `inputs`: `contents_key` of
    the index and erased-signature files, so a resumed run does not reuse decisions made against other ones."""
    keys, files, published = _load_keys(signature_uris, index_uri if opts.incremental else None, table, opts,
                                         version, erased_uri)
    decisions, stats = cluster(keys, files, published, opts)
    name = f"decisions-{table}-{fingerprint(signature_uris, opts, index_uri, version, files, inputs)}.parquet"
    uri = storage.join(work_uri, "dedup", name)
    storage.write_parquet(decisions, uri)
    return {"decisions_uri": uri, "stats": stats}


def apply_decisions(df: pl.DataFrame, decisions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept rows with `dup_cluster` set, dropped rows with `reason`, `duplicate_of`, `published_in`).

    `decisions` are this shard's, addressed by row number; their ids must match the shard's rows."""
    if "dup_cluster" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("dup_cluster"))
    dec = decisions.select(
        pl.col("row").cast(pl.UInt32).alias("_row"), pl.col("id").alias("_id"), "action",
        pl.col("reason").alias("_reason"), "duplicate_of", pl.col("dup_cluster").alias("_cluster"), "published_in")
    joined = df.with_row_index("_row").join(dec, on="_row", how="left", maintain_order="left")
    if joined.filter(pl.col("_id").is_not_null() & (pl.col("_id") != pl.col("id"))).height:
        raise ValueError("dedup decisions do not match the shard's rows (the shard changed after its signatures)")
    drop = (pl.col("action") == "drop").fill_null(False)
    kept = joined.filter(~drop).with_columns(pl.coalesce("_cluster", "dup_cluster").alias("dup_cluster"))
    erased = (pl.col("published_in") == ERASED_IN).fill_null(False)
    rejected = joined.filter(drop).with_columns(
        pl.when(erased).then(pl.lit(ERASED_COPY))
        .when(pl.col("published_in").is_not_null()).then(pl.lit("already published"))
        .otherwise(pl.col("_reason")).alias("reason"))
    # a copy of erased data is not kept anywhere, the rejected table included: keys and reason only
    rejected = rejected.with_columns(pl.when(~erased).then(pl.col(c)).alias(c) for c in df.columns
                                     if c not in KEY_COLUMNS)
    return kept.select(df.columns), rejected.select(*df.columns, "reason", "duplicate_of", "published_in")


def apply_dedup(df: pl.DataFrame, shard: Shard, options: tuple[str, DedupOptions]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop the shard's duplicates per the decisions of `find_duplicates` (`options`: their URI and the options)
    and mark clusters."""
    decisions = storage.read_parquet(options[0]).filter(pl.col("shard") == shard.name)
    return apply_decisions(df, decisions)


# the build's step (flows/steps.py) passes the decisions found over the whole table
ROWS = RowStage(apply=apply_dedup, options=lambda recipe: None)


# ---- the persistent index --------------------------------------------------------------------------


@task(name="dedup-index", cache_policy=NO_CACHE, task_run_name="dedup-index-{table}-{version}", **RETRYING)
def update_index(index_uri: str, table: str, version: str, version_uri: str, signature_uris: list[str]) -> str | None:
    """Record the signatures of the rows `version` published (ids read from `<version_uri>/<table>/*.parquet`) and
    the dataset's URI (`version_uri`'s folder) as `<index_uri>/<table>/<version>.parquet`; returns its URI (None
    when nothing of the table was published). Later runs use the file only while `<dataset>/<version>/manifest.json`
    exists."""
    ids = [storage.read_parquet(u, columns=["id"]) for u in parquet_files(storage.join(version_uri, table))]
    published = pl.concat(ids).get_column("id").unique() if ids else pl.Series("id", [], pl.String)
    if not len(published):
        return None
    cols = ["id", "exact", "bands", "sig", "minhash", "lsh"]
    rows = []
    for u in signature_uris:
        data = storage.read_bytes(u)
        parts = set(PART_COLUMNS) <= set(pl.read_parquet_schema(io.BytesIO(data)))  # pairs: their parts too
        rows.append(_columns(data, cols + (PART_COLUMNS if parts else [])).filter(
            pl.col("id").is_in(published.implode())))
    rows = [r for r in rows if len(r)]
    if not rows:
        return None
    index = pl.concat(rows, how="vertical_relaxed").unique("id", keep="first", maintain_order=True).with_columns(
        pl.lit(version_uri.rstrip("/").rsplit("/", 1)[0]).alias("dataset_uri"))
    uri = storage.join(index_uri, table, f"{version}.parquet")
    storage.write_parquet(index, uri)
    return uri
