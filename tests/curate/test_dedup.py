"""tasks.curate.dedup: exact and MinHash near-duplicates over real articles, keep: all, the incremental index (local and
S3; only complete versions, each row once), pairs (questions and answers apart: many questions about one passage),
and signatures that stay the same across processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import DedupOptions
from pairforge.tasks.core.schema import conform, stable_id
from pairforge.tasks.core.shards import Shard, apply_row_stage, write_stage
from pairforge.tasks.curate.dedup import (
    PART_COLUMNS,
    PairParts,
    _pair_parts_of,
    apply_decisions,
    exact_keys,
    find_duplicates,
    near_reason,
    pairs_near,
    prompt_parts,
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


# ---- pairs: many questions over one passage (T0 / SQuAD style) ---------------------------------------------------

PASSAGE = LINES[250]  # the longest article of the corpus (620 words)


def reading_questions(text: str = PASSAGE) -> list[tuple[str, str]]:
    """200 distinct reading-comprehension questions about one passage, with their answers; 50 are answered "Yes"
    and many a count such as "1", so answers alone do not tell them apart."""
    words = text.split()
    plain = [re.sub(r"\W", "", w).lower() for w in words]
    distinct = list(dict.fromkeys(w for w in plain if len(w) > 3))
    out = []
    for i in range(50):
        at = 12 * i + 1
        out.append((f'According to the passage, what comes after "{" ".join(words[at:at + 5])}"?',
                    " ".join(words[at + 5:at + 11])))
        out.append((f'Which words come just before "{" ".join(words[at + 3:at + 8])}" in the text?',
                    " ".join(words[at - 1:at + 3])))
        out.append((f'Does the passage say "{" ".join(words[at + 6:at + 11])}"?', "Yes"))
        out.append((f'How many times does the word "{distinct[i]}" appear in the passage?',
                    str(plain.count(distinct[i]))))
    return out


REWORDINGS = [  # the same question, trivially reworded: a word added or left out, case and punctuation
    lambda q: q.replace("what comes after", "what comes right after"),
    lambda q: q.upper().replace(",", " ;"),
    lambda q: q.replace("come just before", "come before"),
    lambda q: q.replace("in the text?", "in the text, please?"),
]


def reading_pairs(layout: str, questions: list[tuple[str, str]], suffix: str = "") -> pl.DataFrame:
    """The passage inlined in every prompt on lines of its own (T0's templates), on the question's line, or in the
    `context` column with the bare question as the prompt."""
    rows = []
    for n, (q, a) in enumerate(questions):
        if layout == "lines":
            prompt, context = f"Read the passage and answer the question.\n\nPassage: {PASSAGE}\n\nQuestion: {q}", None
        elif layout == "one line":
            prompt, context = f"Read the passage and answer the question. Passage: {PASSAGE} Question: {q}", None
        else:
            prompt, context = q, PASSAGE
        rows.append({"id": f"q{n:03d}{suffix}", "doc_id": "passage", "prompt": prompt, "response": a,
                     "context": context, "source": "t0-style", "license": "LGPL-2.1"})
    return conform(pl.DataFrame(rows), "pairs")


@pytest.mark.parametrize("layout", ["lines", "one line", "context column"])
def test_pairs_sharing_a_passage_keep_every_distinct_question(layout, tmp_path):
    """T0 adversarial QA style: 200 distinct questions over one real passage. Compared on the whole text they were
    near-duplicates of each other (199 were dropped); compared as question and answer apart, every one is kept, and
    a question asked again in other words with the same answer is still dropped."""
    work = str(tmp_path)
    questions = reading_questions()
    assert len({q for q, _ in questions}) == 200
    again = [(f(q), a) for i, (q, a) in enumerate(questions) if i % 5 == 0 for f in REWORDINGS if f(q) != q]
    df = pl.concat([reading_pairs(layout, questions), reading_pairs(layout, again, suffix="-again")])
    kept, rejected, stats, counts, _ = run_dedup(shards_of(df, work, 64, "pairs", "t0"), DedupOptions(), work,
                                                 table="pairs")
    assert set(kept.filter(~pl.col("id").str.ends_with("-again"))["id"]) == set(df["id"].head(200))
    missed = set(kept.filter(pl.col("id").str.ends_with("-again"))["prompt"])
    if layout == "one line":
        # a question quoting across a sentence end ("Tulkarem. They also") is cut there when it shares its line with
        # the passage; what is left of it is too short to be a near-duplicate after a word is left out
        assert len(missed) <= 2 and all(re.search(r'"[^"]*[.!?] [^"]*"', p.split("Question: ")[-1]) for p in missed)
    else:
        assert missed == set()
    assert counts.get("exact duplicate") == 40  # the shouted copies
    assert counts.get(NEAR, 0) >= len(again) - 40 - len(missed)


def test_whole_text_comparison_merged_the_questions_sharing_a_passage():
    """What the old comparison saw: two different questions about the passage agree on over 95% of their word
    5-shingles, well above the 0.8 threshold; the same questions as question and answer apart do not come close."""
    (q1, a1), (q2, a2) = reading_questions()[2], reading_questions()[6]  # both answered "Yes"
    p1, p2 = (reading_pairs("lines", [qa])["prompt"].item() for qa in ((q1, a1), (q2, a2)))
    assert jaccard(f"{p1}\n{a1}", f"{p2}\n{a2}") > 0.95


def parts_of(df: pl.DataFrame) -> list[PairParts]:
    opts = DedupOptions()
    sig = signatures(df, "pairs", opts)
    return list(_pair_parts_of(sig, np.arange(len(df)), opts).values())


def pair_frame(*pairs: tuple[str, str]) -> pl.DataFrame:
    return conform(pl.DataFrame({"id": [str(i) for i in range(len(pairs))], "prompt": [p for p, _ in pairs],
                                 "response": [r for _, r in pairs]}), "pairs")


def test_a_pair_is_a_near_duplicate_only_when_question_and_answer_both_are():
    passage = f"Passage: {PASSAGE}\nQuestion: "
    answer = "Mr Arafat, who has been confined to Ramallah since December, called the attacks a crime."
    a, reworded, other_q, other_a, long_a = parts_of(pair_frame(
        (passage + "What did Mr Arafat call the attacks on Tuesday?", answer),
        (passage + "What did Mr Arafat call the attacks on Tuesday, please?", answer),
        (passage + "What did Mr Sharon call the attacks on Tuesday?", answer),
        (passage + "What did Mr Arafat call the attacks on Tuesday?", "A crime."),
        (passage + "What did Mr Arafat call the attacks on Tuesday?", answer.replace("called", "publicly called")),
    ))
    assert pairs_near(a, reworded, 0.8)  # 17 of 19 words and word pairs
    assert not pairs_near(a, other_q, 0.8)  # one name differs: another question (14 of 20)
    assert not pairs_near(a, other_a, 0.8)  # same question, another answer
    assert pairs_near(a, long_a, 0.8)  # the same answer with a word more (28 of 32)
    assert not pairs_near(a, long_a, 0.9)


def test_prompt_parts_set_a_passage_and_labels_apart():
    assert prompt_parts("### Instruction:\nSummarise this.\n\n### Input: The cat sat. It purred.") == [
        "### Instruction:", "Summarise this.", "### Input:", "The cat sat. It purred."]  # a short line stays whole
    long_line = f"Read this. {PASSAGE} Question: Who spoke?"
    parts = prompt_parts(long_line)
    assert parts[0] == "Read this." and parts[-2:] == ["Question:", "Who spoke?"] and len(parts) > 20
    context = LINES[3][:300]  # ends mid-sentence: without the context column the question would share its part
    inline = f"Context: {context} and who resigned?"
    assert prompt_parts(inline)[-1].endswith("debt rep and who resigned?")
    cut = prompt_parts(inline, context=context)
    assert cut[0] == "Context:" and cut[-1] == "and who resigned?" and all(p in context for p in cut[1:-1])
    assert prompt_parts("") == [] and prompt_parts("?!\n\n...") == []
    assert len(prompt_parts(". ".join(f"Sentence number {i}" for i in range(200)) + ".")) == 64  # middle joined


def test_incremental_keeps_new_questions_about_a_published_passage(tmp_path):
    """Against the index of an earlier version: a new question about a passage it published is new; the same
    question reworded is already published. An index written before pairs had parts compares whole texts."""
    root = str(tmp_path)
    index_uri = storage.join(root, "_index")
    questions = reading_questions()
    first = reading_pairs("lines", questions[:100])
    kept1, _, _, _, uris1 = run_dedup(shards_of(first, root + "/w1", 50, "pairs", "t0"), DedupOptions(),
                                      root + "/w1", table="pairs")
    storage.write_parquet(kept1, storage.join(root, "v1", "pairs", "train-00000-of-00001.parquet"))
    storage.write_bytes(storage.join(root, "v1", "manifest.json"),
                        json.dumps({"version": "v1", "created_at": "2025-01-01T00:00:00+00:00"}).encode())
    update_index.fn(index_uri, "pairs", "v1", storage.join(root, "v1"), uris1)
    second = pl.concat([reading_pairs("lines", questions[100:]),
                        reading_pairs("lines", [(REWORDINGS[0](questions[0][0]), questions[0][1])], "-again")])
    opts = DedupOptions(incremental=True)
    work = root + "/w2"
    kept2, rejected, _, _, _ = run_dedup(shards_of(second, work, 50, "pairs", "t0b"), opts, work, "pairs", index_uri)
    assert set(kept2["id"]) == set(second["id"].head(100))
    assert rejected["id"].to_list() == ["q000-again"] and rejected["reason"].to_list() == ["already published"]

    index_file = storage.join(index_uri, "pairs", "v1.parquet")  # as written before pairs had parts
    storage.write_parquet(storage.read_parquet(index_file).drop(PART_COLUMNS), index_file)
    work = root + "/w3"
    kept3, _, _, _, _ = run_dedup(shards_of(second, work, 50, "pairs", "t0c"), opts, work, "pairs", index_uri)
    assert len(kept3) < 10  # the whole-text comparison: the shared passage dominates, as it used to


def test_near_copies_of_erased_pairs_are_judged_on_the_whole_text(tmp_path):
    """The erasure register is stricter than dedup: a pair that repeats most of an erased pair's text (its passage,
    with another question) goes, even though dedup would keep it."""
    root = str(tmp_path)
    questions = reading_questions()
    erased = reading_pairs("lines", questions[:1])
    erased_uri = storage.join(root, "_erasure", "signatures", "pairs")
    storage.write_parquet(signatures(erased, "pairs", DedupOptions()), storage.join(erased_uri, "v1.parquet"))
    new = reading_pairs("lines", questions[1:4])
    uris = [signature_shard.fn(s, DedupOptions(), root) for s in shards_of(new, root, 10, "pairs", "t0")]
    found = find_duplicates.fn(uris, DedupOptions(), "pairs", None, root, erased_uri=erased_uri)
    decisions = storage.read_parquet(found["decisions_uri"])
    assert sorted(decisions.filter(pl.col("action") == "drop")["id"]) == ["q000", "q001", "q002"]  # renumbered
