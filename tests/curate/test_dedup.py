"""tasks.curate.dedup: exact and MinHash near-duplicates over real articles, keep: all, the incremental index (local and
S3; only complete versions, each row once), pairs, and signatures that stay the same across processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import polars as pl
import pytest

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import DedupOptions
from pairforge.tasks.core.schema import conform, stable_id
from pairforge.tasks.core.shards import Shard, apply_row_stage, write_stage
from pairforge.tasks.curate.dedup import (
    apply_decisions,
    exact_keys,
    find_duplicates,
    near_reason,
    signature_shard,
    signatures,
    update_index,
)
from tests.conftest import CORPORA, REPO, USER_ORIENTED, read_corpus

LEE = CORPORA / "text" / "lee_background.cor"
LINES = LEE.read_text(encoding="utf-8").splitlines()
NEAR = near_reason(0.8)


def documents(texts: list[str], source: str = "lee") -> pl.DataFrame:
    ids = [stable_id(source, t) for t in texts]
    return conform(pl.DataFrame({"id": ids, "doc_id": ids, "text": texts, "source": source, "license": "LGPL-2.1"}),
                   "documents")


def shards_of(df: pl.DataFrame, work: str, size: int, table: str = "documents", prefix: str = "lee") -> list[Shard]:
    return [write_stage(df.slice(i, size), work, "ingest", Shard(table, f"{prefix}-0-{i // size:05d}", "", 0))
            for i in range(0, len(df), size)]


def run_dedup(shards: list[Shard], opts: DedupOptions, work: str, table: str = "documents",
              index_uri: str | None = None):
    """The three steps as the flow runs them; returns (kept frame, rejected frame, stats, reason counts)."""
    uris = [u for u in (signature_shard.fn(s, opts, work) for s in shards) if u]
    found = find_duplicates.fn(uris, opts, table, index_uri, work)
    results = [apply_row_stage.fn("dedup", s, (found["decisions_uri"], opts), work) for s in shards]
    kept = pl.concat([r.shard.read() for r in results])
    rejected = [storage.read_parquet(r.rejected_uri) for r in results if r.rejected_uri]
    counts: dict[str, int] = {}
    for r in results:
        for k, v in r.rejected.items():
            counts[k] = counts.get(k, 0) + v
    return kept, (pl.concat(rejected) if rejected else None), found["stats"], counts, uris


def edit_words(text: str, positions: list[int]) -> str:
    """The text with the words at `positions` replaced (a near-duplicate made by editing a real article)."""
    words = text.split()
    for p in positions:
        words[p] = f"edited{p}"
    return " ".join(words)


def shingles(text: str, k: int = 5) -> frozenset[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return frozenset(tuple(words[i:i + k]) for i in range(len(words) - k + 1))


def jaccard(a: str, b: str) -> float:
    """The true Jaccard similarity of two texts' word 5-shingles (what MinHash estimates)."""
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def test_lee_background_seven_exact_duplicates_removed_and_nothing_else(tmp_path):
    work = str(tmp_path)
    kept, rejected, stats, counts, _ = run_dedup(shards_of(documents(LINES), work, 70), DedupOptions(near=False),
                                                 work)
    first_seen = list(dict.fromkeys(LINES))
    assert len(LINES) - len(first_seen) == 7
    assert kept["text"].to_list() == first_seen  # the first copy of each line stays, in order
    assert counts == {"exact duplicate": 7}
    assert stats["exact_dropped"] == 7 and stats["near_dropped"] == 0 and stats["clusters"] == 7
    # each rejected row names the row it duplicates, which was kept and marks its cluster with its own id
    by_id = dict(zip(kept["id"], kept["dup_cluster"], strict=True))
    for row in rejected.iter_rows(named=True):
        assert row["reason"] == "exact duplicate" and by_id[row["duplicate_of"]] == row["duplicate_of"]
    assert kept["dup_cluster"].drop_nulls().len() == 7


def test_lee_background_one_real_near_duplicate_found_as_brute_force_finds_it(tmp_path):
    """Besides its 7 exact copies, the corpus holds one article twice with three typos fixed (Jaccard 0.90): MinHash
    LSH finds exactly the pairs that comparing every pair of shingle sets finds."""
    work = str(tmp_path)
    kept, rejected, stats, counts, _ = run_dedup(shards_of(documents(LINES), work, 70), DedupOptions(), work)
    distinct = list(dict.fromkeys(LINES))
    sets = [shingles(t) for t in distinct]
    brute = [(distinct[i], distinct[j]) for i in range(len(sets)) for j in range(i + 1, len(sets))
             if 0.8 * max(len(sets[i]), len(sets[j])) <= min(len(sets[i]), len(sets[j]))  # else J < 0.8
             and len(sets[i] & sets[j]) >= 0.8 * len(sets[i] | sets[j])]
    assert len(brute) == 1 and counts == {"exact duplicate": 7, NEAR: 1}
    near = rejected.filter(pl.col("reason") == NEAR).row(0, named=True)
    assert (near["duplicate_of"], near["text"]) == (stable_id("lee", brute[0][0]), brute[0][1])
    assert stats["near_dropped"] == 1 and stats["clusters"] == 8 and len(kept) == 292


def test_exact_key_ignores_case_punctuation_and_spacing_but_not_words():
    keys = exact_keys(pl.Series(["Hello,  World!", "hello world", "hello\tworld.", "hello worlds", "?!", None]))
    assert keys[0] == keys[1] == keys[2] != keys[3]
    assert keys[4] is None and keys[5] is None  # nothing left to compare: never an exact duplicate


def test_near_duplicates_of_edited_articles_removed_unrelated_articles_kept(tmp_path):
    work = str(tmp_path)
    long = [i for i, t in enumerate(LINES) if len(t.split()) >= 200 and LINES.index(t) == i][:12]
    near = [edit_words(LINES[i], [20, 120]) for i in long[:8]]
    far = [edit_words(LINES[i], list(range(3, len(LINES[i].split()), 4))) for i in long[8:]]  # every 4th word
    assert min(jaccard(LINES[i], t) for i, t in zip(long, near, strict=False)) > 0.88
    assert max(jaccard(LINES[i], t) for i, t in zip(long[8:], far, strict=True)) < 0.2
    df = pl.concat([documents(LINES), documents(near + far, source="edited")])
    kept, rejected, stats, counts, _ = run_dedup(shards_of(df, work, 64), DedupOptions(), work)
    assert counts == {"exact duplicate": 7, NEAR: len(near) + 1}  # + the corpus's own near-duplicate
    near_rows = rejected.filter(pl.col("reason") == NEAR, pl.col("source") == "edited")
    assert sorted(near_rows["text"].to_list()) == sorted(near)
    assert sorted(near_rows["duplicate_of"].to_list()) == sorted(stable_id("lee", LINES[i]) for i in long[:8])
    assert set(far) <= set(kept["text"])  # heavily edited copies are different texts
    assert len(kept) == len(df) - 7 - len(near) - 1
    assert stats["verified_pairs"] >= len(near) and stats["clusters"] == 8 + len(near)


def test_keep_all_marks_every_cluster_member(tmp_path):
    work = str(tmp_path)
    originals = [i for i, t in enumerate(LINES) if len(t.split()) >= 200][:3]
    near = [edit_words(LINES[i], [10, 150]) for i in originals]
    df = pl.concat([documents(LINES), documents(near, source="edited")])
    kept, rejected, stats, counts, _ = run_dedup(shards_of(df, work, 100), DedupOptions(keep="all"), work)
    assert rejected is None and counts == {} and len(kept) == len(df)
    clusters = kept.filter(pl.col("dup_cluster").is_not_null()).group_by("dup_cluster").agg(pl.col("text"))
    assert len(clusters) == 11 == stats["clusters"]  # 7 exact copies, the corpus's near copy, 3 edited articles
    for _, texts in clusters.iter_rows():
        assert len(texts) == 2
    for i, edited in zip(originals, near, strict=True):
        marks = kept.filter(pl.col("text").is_in([LINES[i], edited]))["dup_cluster"].to_list()
        assert marks == [stable_id("lee", LINES[i])] * 2  # both carry the id of the first one, the representative
    assert kept["dup_cluster"].null_count() == len(df) - 22


def publish(kept: pl.DataFrame, version_uri: str, created_at: str = "2025-01-01T00:00:00+00:00") -> None:
    """What export writes: the version's table files (ids are all update_index reads), then its manifest."""
    storage.write_parquet(kept, storage.join(version_uri, "documents", "train-00000-of-00001.parquet"))
    storage.write_bytes(storage.join(version_uri, "manifest.json"),
                        json.dumps({"version": version_uri.rsplit("/", 1)[-1], "created_at": created_at}).encode())


@pytest.mark.parametrize("where", ["local", "s3"])
def test_incremental_index_drops_what_an_earlier_version_published(where, tmp_path, request):
    root = f"s3://{request.getfixturevalue('bucket')}" if where == "s3" else str(tmp_path)
    index_uri = storage.join(root, "ds", "_index")
    opts = DedupOptions(incremental=True)
    # version 1: the first 150 articles
    work1 = storage.join(root, "work1")
    kept1, _, stats1, _, uris1 = run_dedup(shards_of(documents(LINES[:150]), work1, 75), opts, work1,
                                      index_uri=index_uri)
    publish(kept1, storage.join(root, "ds", "v1"))
    assert update_index.fn(index_uri, "documents", "v1", storage.join(root, "ds", "v1"), uris1) == storage.join(
        index_uri, "documents", "v1.parquet")
    # version 2: articles 100-299 (50 already published) and an edited copy of a published article
    edited = edit_words(LINES[3], [15, 45])
    df2 = pl.concat([documents(LINES[100:]), documents([edited], source="edited")])
    work2 = storage.join(root, "work2")
    kept2, rejected2, stats, counts, _ = run_dedup(shards_of(df2, work2, 80), opts, work2, index_uri=index_uri)
    published = set(kept1["text"])
    again = [t for t in LINES[100:] if t in published]
    assert len(again) >= 50
    assert counts["already published"] == len(again) + 1 == stats["published_dropped"]
    assert set(rejected2.filter(pl.col("reason") == "already published")["text"]) == set(again) | {edited}
    assert rejected2.filter(pl.col("reason") == "already published")["published_in"].unique().to_list() == ["v1"]
    assert not set(kept2["text"]) & published and edited not in set(kept2["text"])
    # a rerun of version 1 itself does not match its own earlier output
    uris_rerun = [signature_shard.fn(s, opts, work1) for s in shards_of(documents(LINES[:150]), work1, 75)]
    rerun = find_duplicates.fn(uris_rerun, opts, "documents", index_uri, work1, version="v1")
    assert rerun["stats"]["published_dropped"] == 0
    assert rerun["stats"]["exact_dropped"] == stats1["exact_dropped"] == 3  # as in the first run
    # without `incremental` the index is ignored
    work3 = storage.join(root, "work3")
    _, _, stats3, counts3, _ = run_dedup(shards_of(df2, work3, 80), DedupOptions(), work3, index_uri=index_uri)
    assert "already published" not in counts3 and stats3["published_dropped"] == 0


def test_index_written_with_other_parameters(tmp_path):
    """Other banding (threshold): band hashes are recomputed from the stored signatures. Other MinHash parameters:
    signatures are not comparable, exact keys still are."""
    root = str(tmp_path)
    index_uri = storage.join(root, "_index")
    kept1, _, _, _, uris1 = run_dedup(shards_of(documents(LINES[:100]), root + "/w1", 50), DedupOptions(),
                                      root + "/w1")
    publish(kept1, storage.join(root, "v1"))
    update_index.fn(index_uri, "documents", "v1", storage.join(root, "v1"), uris1)
    edited = edit_words(LINES[3], [15, 45])
    df2 = pl.concat([documents(LINES[95:110]), documents([edited], source="edited")])
    again = set(LINES[95:100])
    for opts, caught in ((DedupOptions(incremental=True, threshold=0.7), again | {edited}),
                         (DedupOptions(incremental=True, num_perm=64), again)):
        work = storage.join(root, f"w-{opts.threshold}-{opts.num_perm}")
        _, rejected, _, _, _ = run_dedup(shards_of(df2, work, 8), opts, work, index_uri=index_uri)
        assert set(rejected.filter(pl.col("reason") == "already published")["text"]) == caught


def test_pairs_compare_prompt_and_response(tmp_path):
    work = str(tmp_path)
    pairs = read_corpus(*USER_ORIENTED)
    copies = pairs.head(5).with_columns(  # the same pairs, shouted and re-punctuated, from another source
        pl.col("prompt").str.to_uppercase().str.replace_all(r"\.", " ;"),
        pl.col("id") + "-copy")
    other_answer = pairs.slice(5, 1).with_columns(pl.lit("A different answer.").alias("response"),
                                                  pl.col("id") + "-other")
    df = pl.concat([pairs, copies, other_answer])
    kept, rejected, stats, counts, _ = run_dedup(shards_of(df, work, 100, "pairs", "user"), DedupOptions(), work,
                                                 table="pairs")
    assert counts.get("exact duplicate") == 5
    assert sorted(rejected.filter(pl.col("reason") == "exact duplicate")["id"]) == sorted(copies["id"])
    assert other_answer["id"].item() in set(kept["id"])  # same prompt, other response: not a duplicate


def test_rows_without_words_are_kept_and_never_grouped():
    df = documents(["!!!", "...", "", "A real sentence with words in it."])
    opts = DedupOptions()
    sig = signatures(df, "documents", opts)
    assert sig["exact"].null_count() == 3 and sig["sig"].null_count() == 3
    kept, rejected = apply_decisions(df, pl.DataFrame(schema={"shard": pl.String, "row": pl.UInt32, "id": pl.String,
                                                              "action": pl.String, "reason": pl.String,
                                                              "duplicate_of": pl.String, "dup_cluster": pl.String,
                                                              "published_in": pl.String}))
    assert kept.equals(df) and len(rejected) == 0


def test_decisions_for_changed_rows_are_an_error(tmp_path):
    work = str(tmp_path)
    shards = shards_of(documents(LINES[:40] + LINES[:2]), work, 100)
    uris = [signature_shard.fn(s, DedupOptions(), work) for s in shards]
    found = find_duplicates.fn(uris, DedupOptions(), "documents", None, work)
    decisions = storage.read_parquet(found["decisions_uri"])
    assert decisions.filter(pl.col("action") == "drop")["row"].to_list() == [40, 41]
    with pytest.raises(ValueError, match="do not match"):
        apply_decisions(documents(LINES[1:43]), decisions)


SIGNATURE_SCRIPT = """
import json, sys
import polars as pl
from pairforge.tasks.curate.dedup import signatures
from pairforge.tasks.core.recipe import DedupOptions
texts = json.loads(sys.stdin.read())
sig = signatures(pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts}), "documents", DedupOptions())
print(json.dumps({"exact": sig["exact"].to_list(), "sig": sig["sig"].to_list(), "bands": sig["bands"].to_list()}))
"""


def test_signatures_are_the_same_in_another_process():
    texts = LINES[:20]
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", SIGNATURE_SCRIPT], input=json.dumps(texts), capture_output=True,
                         text=True, env=env, cwd=REPO, check=True)
    other = json.loads(out.stdout)
    mine = signatures(pl.DataFrame({"id": [str(i) for i in range(20)], "text": texts}), "documents", DedupOptions())
    assert other["exact"] == mine["exact"].to_list()
    assert other["sig"] == mine["sig"].to_list() and other["bands"] == mine["bands"].to_list()
    assert len({tuple(s) for s in other["sig"]}) == 20  # and they tell the articles apart
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in other["exact"])


def test_index_of_an_incomplete_version_is_ignored_and_republished_rows_count_once(tmp_path):
    """The index lives apart from the dataset (index_uri set): each file records the dataset's folder. A version
    whose manifest is gone (deleted, or its export never finished) published nothing; a row that several versions
    published is one candidate, attributed to the oldest version (by creation, not by name)."""
    root = str(tmp_path)
    index_uri = storage.join(root, "elsewhere", "dedup-index")
    opts = DedupOptions(incremental=True)
    older, newer, gone = (storage.join(root, "ds", v) for v in ("zeta", "alpha", "broken"))
    kept1, _, _, _, uris1 = run_dedup(shards_of(documents(LINES[:60]), root + "/w1", 30), DedupOptions(),
                                      root + "/w1")
    publish(kept1, older, "2025-01-01T00:00:00+00:00")
    update_index.fn(index_uri, "documents", "zeta", older, uris1)
    kept2, _, _, _, uris2 = run_dedup(shards_of(documents(LINES[:90]), root + "/w2", 30), DedupOptions(),
                                      root + "/w2")  # republishes the 60 articles of zeta, and 30 more
    publish(kept2, newer, "2025-02-01T00:00:00+00:00")
    update_index.fn(index_uri, "documents", "alpha", newer, uris2)
    kept3, _, _, _, uris3 = run_dedup(shards_of(documents(LINES[90:150]), root + "/w3", 30), DedupOptions(),
                                      root + "/w3")
    publish(kept3, gone)
    update_index.fn(index_uri, "documents", "broken", gone, uris3)
    storage.delete(storage.join(gone, "manifest.json"))  # as `pairforge gc` deletes a version: manifest first
    assert {u.rsplit("/", 1)[-1] for u, _ in storage.list_files(index_uri)} == {
        "zeta.parquet", "alpha.parquet", "broken.parquet"}

    work = root + "/w4"
    kept, rejected, stats, counts, _ = run_dedup(shards_of(documents(LINES[:200]), work, 50), opts, work,
                                                 index_uri=index_uri)
    assert stats["published_rows_checked"] == len(kept2)  # zeta's rows once, not again for alpha; broken: none
    old = rejected.filter(pl.col("reason") == "already published")
    assert set(old["text"]) == set(kept2["text"]) and counts["already published"] == len(old)
    by_version = dict(old.group_by("published_in").len().rows())
    assert by_version == {"zeta": len(kept1), "alpha": len(kept2) - len(kept1)}
    assert set(kept3["text"]) <= set(kept["text"])  # what the incomplete version held is new again
