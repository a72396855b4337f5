"""tasks.publish.split: deterministic, leakage-free splits over both tables (groups of documents, their pairs and their
near-duplicate clusters), stratification, and independence from the shard layout."""

from __future__ import annotations

import polars as pl
import pytest

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import DedupOptions, SplitOptions
from pairforge.tasks.core.schema import conform, stable_id
from pairforge.tasks.core.shards import Shard, apply_row_stage, write_stage
from pairforge.tasks.curate.dedup import find_duplicates, signature_shard
from pairforge.tasks.publish.split import assign_splits, plan_splits, split_shard
from tests.conftest import ALPACA_SEED, CORPORA, USER_ORIENTED, read_corpus

LINES = list(dict.fromkeys((CORPORA / "text" / "lee_background.cor").read_text(encoding="utf-8").splitlines()))

# ---- one frame -----------------------------------------------------------------------------------


def grouped(n_groups: int, per_group: int = 1) -> pl.DataFrame:
    return pl.DataFrame({
        "id": [f"r{g}-{k}" for g in range(n_groups) for k in range(per_group)],
        "doc_id": [f"doc-{g}" for g in range(n_groups) for _ in range(per_group)],
    })


def test_split_is_deterministic_for_a_seed_and_order_independent():
    df = grouped(2000)
    opts = SplitOptions(seed=42)
    a = assign_splits(df, opts)
    b = assign_splits(df, SplitOptions(seed=42))
    assert a["split"].to_list() == b["split"].to_list()
    assert set(a["split"]) <= {"train", "validation", "test"}
    assert a.drop("split").equals(df)  # rows and order untouched
    # a row's split depends on its key only: shuffled or sliced input gives the same assignment
    shuffled = assign_splits(df.sample(fraction=1.0, shuffle=True, seed=1), opts)
    assert dict(shuffled.select("id", "split").rows()) == dict(a.select("id", "split").rows())
    part = assign_splits(df.slice(500, 100), opts)
    assert part["split"].to_list() == a["split"].slice(500, 100).to_list()


def test_other_seed_changes_assignment():
    df = grouped(2000)
    a = assign_splits(df, SplitOptions(seed=1))["split"]
    b = assign_splits(df, SplitOptions(seed=2))["split"]
    changed = (a != b).sum()
    assert changed > 100  # with 10% held out, ~18% of rows move between seeds


def test_rows_sharing_a_group_land_in_one_split():
    df = grouped(1000, per_group=5)
    out = assign_splits(df, SplitOptions(train=0.6, validation=0.2, test=0.2))
    per_group = out.group_by("doc_id").agg(pl.col("split").n_unique().alias("n"))
    assert per_group["n"].max() == 1
    assert out["split"].n_unique() == 3  # and groups still spread over all splits


def test_custom_group_by_column_and_rows_without_a_key_are_their_own_group():
    df = pl.DataFrame({"id": [str(i) for i in range(3000)],
                       "topic": [f"t{i % 7}" if i % 10 else None for i in range(3000)]})
    out = assign_splits(df, SplitOptions(group_by="topic", train=0.5, validation=0.25, test=0.25))
    assert out.filter(pl.col("topic").is_not_null()).group_by("topic").agg(
        pl.col("split").n_unique())["split"].max() == 1
    # 300 rows without a topic are not one big group that lands in a single split
    assert out.filter(pl.col("topic").is_null())["split"].n_unique() == 3


@pytest.mark.parametrize("ratios", [(0.9, 0.05, 0.05), (0.7, 0.2, 0.1), (1.0, 0.0, 0.0)])
def test_ratios_respected_on_10k_groups(ratios):
    train, validation, test = ratios
    out = assign_splits(grouped(10_000), SplitOptions(train=train, validation=validation, test=test, seed=7))
    counts = out["split"].value_counts()
    share = {s: n / 10_000 for s, n in counts.iter_rows()}
    for name, want in zip(("train", "validation", "test"), ratios, strict=True):
        # binomial sd at n=10k is at most 0.005; 0.02 is four of them
        assert abs(share.get(name, 0.0) - want) < 0.02, (name, share)


def test_bad_group_by_or_stratify_column_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="no column 'document'") as err:
        assign_splits(grouped(3), SplitOptions(group_by="document"))
    assert "split.group_by" in str(err.value) and "doc_id" in str(err.value)  # lists what there is
    with pytest.raises(ValueError, match="split.stratify_by: no column 'topic'"):
        assign_splits(grouped(3), SplitOptions(stratify_by="topic"))


# ---- across shards and tables --------------------------------------------------------------------


def documents(texts: list[str], source: str = "lee") -> pl.DataFrame:
    ids = [stable_id(source, t) for t in texts]
    return conform(pl.DataFrame({"id": ids, "doc_id": ids, "text": texts, "source": source, "license": "LGPL-2.1"}),
                   "documents")


def derived_pairs(docs: pl.DataFrame) -> pl.DataFrame:
    """Two pairs per document, made from its sentences, with the document's id as doc_id (as generation does)."""
    rows = []
    for doc_id, text in docs.select("id", "text").iter_rows():
        sentences = [s.strip() for s in text.split(". ") if s.strip()]
        for k, sentence in enumerate(sentences[:2]):
            prompt = f"What does the article say, point {k + 1}?"
            rows.append({"id": stable_id("generated", doc_id, prompt, sentence), "doc_id": doc_id, "prompt": prompt,
                         "response": sentence, "source": docs["source"][0], "origin": "generated", "task": "qa"})
    return conform(pl.DataFrame(rows), "pairs")


def write_shards(df: pl.DataFrame, work: str, table: str, size: int, prefix: str) -> list[Shard]:
    return [write_stage(df.slice(i, size), work, "ingest", Shard(table, f"{prefix}-0-{i // size:05d}", "", 0))
            for i in range(0, len(df), size)]


def run_splits(shards: list[Shard], opts: SplitOptions, work: str) -> pl.DataFrame:
    plan = plan_splits.fn(shards, opts, work)
    return pl.concat([split_shard.fn(s, plan, work).shard.read()
                      .select("id", "doc_id", "dup_cluster", "source", "split")
                      .with_columns(pl.lit(s.table).alias("table")) for s in shards])


def dedup_keep_all(shards: list[Shard], table: str, work: str) -> list[Shard]:
    opts = DedupOptions(keep="all")
    uris = [signature_shard.fn(s, opts, work) for s in shards]
    found = find_duplicates.fn(uris, opts, table, None, work)
    return [apply_row_stage.fn("dedup", s, (found["decisions_uri"], opts), work).shard for s in shards]


def edit_words(text: str, positions: list[int]) -> str:
    words = text.split()
    for p in positions:
        words[p] = f"edited{p}"
    return " ".join(words)


def test_no_duplicate_cluster_or_document_straddles_two_splits(tmp_path):
    """Documents, the pairs derived from them and near-duplicate clusters of either table form one group each;
    with 40/30/30 shares, any leak would show."""
    work = str(tmp_path)
    long = [t for t in LINES if len(t.split()) >= 150]
    copies = [edit_words(t, [30, 120]) for t in long[:15]]  # near-duplicate documents, clustered by dedup
    docs = pl.concat([documents(LINES), documents(copies, source="copies")])
    pairs = derived_pairs(docs)
    # near-duplicate pairs derived from *different* documents link those documents' groups too
    linked_docs = docs["id"].to_list()[200:212]
    echoes = pairs.filter(pl.col("doc_id").is_in(docs["id"][100:112].to_list())).unique("doc_id", keep="first",
                                                                                          maintain_order=True)
    echoes = echoes.with_columns(pl.Series("doc_id", linked_docs), pl.col("response") + " Indeed.",
                                 (pl.col("id") + "-echo").alias("id"))
    pairs = pl.concat([pairs, echoes])
    doc_shards = dedup_keep_all(write_shards(docs, work, "documents", 70, "lee"), "documents", work)
    pair_shards = dedup_keep_all(write_shards(pairs, work, "pairs", 150, "gen"), "pairs", work)
    out = run_splits(doc_shards + pair_shards, SplitOptions(train=0.4, validation=0.3, test=0.3, seed=3), work)

    assert out["split"].n_unique() == 3 and len(out) == len(docs) + len(pairs)
    doc_split = dict(out.filter(pl.col("table") == "documents").select("id", "split").rows())
    # every pair is in its document's split
    pair_rows = out.filter(pl.col("table") == "pairs")
    assert all(doc_split[d] == s for d, s in pair_rows.select("doc_id", "split").rows())
    # every near-duplicate cluster (of documents and of pairs) lies in one split
    clusters = out.filter(pl.col("dup_cluster").is_not_null())
    assert clusters["dup_cluster"].n_unique() >= 15 + 12
    assert clusters.group_by("dup_cluster").agg(pl.col("split").n_unique())["split"].max() == 1
    # so an edited copy of an article shares its original's split, and so do documents linked by echoed pairs
    for original, copy in zip(long[:15], copies, strict=True):
        assert doc_split[stable_id("lee", original)] == doc_split[stable_id("copies", copy)]
    for a, b in zip(docs["id"][100:112].to_list(), linked_docs, strict=True):
        assert doc_split[a] == doc_split[b]


def test_same_splits_whatever_the_shard_layout(tmp_path):
    docs = documents(LINES)
    pairs = pl.concat([derived_pairs(docs), read_corpus(*ALPACA_SEED)])
    opts = SplitOptions(train=0.6, validation=0.2, test=0.2, seed=11)
    one = run_splits(write_shards(docs, str(tmp_path / "a"), "documents", 1000, "lee")
                     + write_shards(pairs, str(tmp_path / "a"), "pairs", 10_000, "p"), opts, str(tmp_path / "a"))
    shuffled_docs, shuffled_pairs = docs.sample(fraction=1.0, shuffle=True, seed=5), pairs.reverse()
    many = run_splits(write_shards(shuffled_pairs, str(tmp_path / "b"), "pairs", 37, "p")
                      + write_shards(shuffled_docs, str(tmp_path / "b"), "documents", 23, "lee"), opts,
                      str(tmp_path / "b"))
    assert len(many) == len(one)
    assert dict(many.select("id", "split").rows()) == dict(one.select("id", "split").rows())
    assert one["split"].n_unique() == 3


def test_stratified_shares_hold_within_each_stratum(tmp_path):
    """Three sources of very different sizes: with stratify_by, each gets its 80/10/10 to within one row."""
    work = str(tmp_path)
    seed = read_corpus(*ALPACA_SEED)
    user = read_corpus(*USER_ORIENTED)
    small = user.head(30).with_columns(pl.lit("small").alias("source"), pl.col("id") + "-small",
                                       pl.col("doc_id") + "-small")
    pairs = pl.concat([seed, user, small])
    shards = write_shards(pairs, work, "pairs", 100, "mix")
    opts = SplitOptions(train=0.8, validation=0.1, test=0.1, seed=5, stratify_by="source")
    out = run_splits(shards, opts, work)
    for source, rows in out.group_by("source"):
        n = len(rows)
        counts = dict(rows["split"].value_counts().rows())
        for split, share in (("train", 0.8), ("validation", 0.1), ("test", 0.1)):
            assert abs(counts.get(split, 0) - share * n) <= 1, (source, counts)
    # without stratification, the 30-row source's shares are left to chance; with it, they are met
    assert dict(out.filter(pl.col("source") == "small")["split"].value_counts().rows()) == {
        "train": 24, "validation": 3, "test": 3}


def test_split_shard_refuses_a_plan_of_other_rows(tmp_path):
    work = str(tmp_path)
    shards = write_shards(documents(LINES[:20]), work, "documents", 20, "lee")
    plan = plan_splits.fn(shards, SplitOptions(), work)
    changed = Shard("documents", shards[0].name, storage.join(work, "x.parquet"), 20)
    storage.write_parquet(documents(LINES[1:21]), changed.uri)
    with pytest.raises(ValueError, match="does not match"):
        split_shard.fn(changed, plan, work)


def test_a_rerun_with_other_options_does_not_reuse_stale_splits(tmp_path):
    """Resume markers of split_shard are keyed by the plan's URI, which changes with the plan's inputs."""
    work = str(tmp_path)
    shards = write_shards(documents(LINES), work, "documents", 100, "lee")
    first = run_splits(shards, SplitOptions(seed=1, train=0.5, validation=0.25, test=0.25), work)
    again = run_splits(shards, SplitOptions(seed=2, train=0.5, validation=0.25, test=0.25), work)
    assert (first["split"] != again["split"]).sum() > 50
    assert list(tmp_path.glob("_done/split/*.pkl"))  # the markers were there to be (wrongly) reused
