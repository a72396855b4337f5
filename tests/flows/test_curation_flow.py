"""Curation end to end in Prefect: real web pages, the Wikipedia dump and news articles (with exact and
edited copies) plus instruction pairs go through language routing, quality filters, dedup, leakage-free
splits and decontamination; every removed row is accounted for in the report and the rejected tables."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from pairforge.flows.build import build_dataset
from pairforge.tasks.core import storage
from tests.conftest import CORPORA
from tests.core.test_stages import assert_registry_order
from tests.flows.test_flow import check_version, read_table, write_recipe

LEE = CORPORA / "text" / "lee_background.cor"
PAGES = CORPORA / "html" / "pages"
INSTRUCT = CORPORA / "instruct" / "user_oriented_instructions.jsonl"


def edit_words(text: str, n: int, seed: int) -> str:
    """A near-duplicate: `n` words of a real article replaced."""
    words = text.split()
    rng = random.Random(seed)
    for i in rng.sample(range(len(words)), n):
        words[i] = "changed"
    return " ".join(words)


@pytest.fixture(scope="module")
def built(prefect_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("curation")
    lines = LEE.read_text(encoding="utf-8").splitlines()
    originals = [" ".join(line.split()) for line in lines if len(line.split()) > 300][:5]
    (folder / "edited.txt").write_text("\n".join(edit_words(t, 3, i) for i, t in enumerate(originals)) + "\n")
    tasks = [json.loads(line) for line in INSTRUCT.read_text().splitlines()][:80]
    copied = [t for t in tasks if len(t["instruction"].split()) >= 13][:4]
    (folder / "benchmark.jsonl").write_text("\n".join(json.dumps({"question": t["instruction"]}) for t in copied))
    sources = [
        {"name": "lee", "uri": str(LEE), "format": "text-lines", "license": "LGPL-2.1-only"},
        {"name": "edited", "uri": str(folder / "edited.txt"), "format": "text-lines", "license": "LGPL-2.1-only"},
        {"name": "web", "uri": str(PAGES), "format": "html", "license": "Apache-2.0"},
        {"name": "wiki", "uri": str(CORPORA / "text" / "enwiki-shortened.xml.bz2"), "format": "wikipedia",
         "license": "CC-BY-SA-3.0"},
        {"name": "instruct", "uri": str(INSTRUCT), "format": "self-instruct", "license": "Apache-2.0"},
    ]
    recipe = write_recipe(
        folder, sources, str(folder / "out") + "/", languages=["en"], pii={"enabled": False},
        filters={"enabled": True}, dedup={"threshold": 0.8},
        split={"train": 0.6, "validation": 0.2, "test": 0.2, "seed": 7},
        decontaminate={"benchmarks": [{"name": "copied", "uri": "benchmark.jsonl"}]},
    )
    uri = build_dataset(str(recipe), version="v1")
    manifest = check_version(uri)
    return {"uri": uri, "manifest": manifest, "originals": originals, "copied": copied,
            "docs": read_table(uri, manifest, "documents"), "pairs": read_table(uri, manifest, "pairs"),
            "rejected_docs": pl.read_parquet(f"{uri}/rejected/documents.parquet"),
            "rejected_pairs": pl.read_parquet(f"{uri}/rejected/pairs.parquet")}


def test_exact_and_edited_duplicates_of_real_articles_are_removed(built):
    docs, rejected = built["docs"], built["rejected_docs"]
    lee = docs.filter(pl.col("source").is_in(["lee", "edited"]))
    assert lee["text"].n_unique() == len(lee)
    dedup = rejected.filter(pl.col("stage") == "dedup")
    lines = LEE.read_text(encoding="utf-8").splitlines()
    exact_copies = len(lines) - len(set(lines))
    assert exact_copies == 7
    assert dedup.filter(pl.col("reason") == "exact duplicate").height == exact_copies
    # each edited article, or its original, was dropped as a near duplicate (the one kept may still be
    # removed later, e.g. by decontamination: articles on one story share sentences)
    assert dedup.filter(pl.col("reason").str.starts_with("near duplicate")).height >= len(built["originals"])
    kept = set(docs["text"])
    for i, original in enumerate(built["originals"]):
        assert not (original in kept and edit_words(original, 3, i) in kept)
    assert any(original in kept for original in built["originals"])
    stats = built["manifest"]["stats"]["dedup"]["documents"]
    assert stats["exact_dropped"] == exact_copies and stats["near_dropped"] >= len(built["originals"])


def test_languages_are_routed_and_recorded(built):
    docs, rejected = built["docs"], built["rejected_docs"]
    assert set(docs["lang"]) == {"en"}
    assert docs["lang_score"].null_count() == 0 and docs["lang_score"].min() >= 0.5
    web_kept = docs.filter(pl.col("source") == "web")
    langid = rejected.filter(pl.col("stage") == "langid")
    assert langid.height >= 20  # 20 pages are declared de/fr/es, and more are German under an "en" tag
    assert set(langid["reason"].str.extract(r"language (\w+) not", 1)) <= {"de", "fr", "es"}
    assert web_kept.height + langid.filter(pl.col("source") == "web").height + rejected.filter(
        (pl.col("source") == "web") & (pl.col("stage") != "langid")).height == 50
    assert web_kept["title"].null_count() == 0
    wiki = docs.filter(pl.col("source") == "wiki")
    assert wiki.height > 50 and wiki["uri"].str.starts_with("https://en.wikipedia.org/wiki/").all()


def test_rejected_rows_are_accounted_for_and_text_free_before_the_scrub(built):
    rejected, stats = built["rejected_docs"], built["manifest"]["stats"]
    before_pii = rejected.filter(pl.col("stage").is_in(["normalize", "langid", "filters"]))
    assert before_pii.height > 0
    if "text" in rejected.columns:  # rows rejected later keep their (scrubbed) text; these must not
        assert before_pii["text"].null_count() == before_pii.height
    filters = rejected.filter(pl.col("stage") == "filters")
    assert filters.height > 0 and filters["reason"].str.contains(r"^(gopher_quality|gopher_repetition|c4|fineweb|"
                                                                 r"tokens): ").all()
    counted = {k: v for k, v in stats["rejected"].items() if k.startswith("filters: ")}
    assert sum(counted.values()) == filters.height
    assert set(counted) == {f"filters: {r}" for r in filters["reason"]}
    # every ingested document is exported or rejected with a reason
    ingested = next(s for s in stats["stages"] if s["stage"] == "ingest" and s["table"] == "documents")["rows_out"]
    assert built["docs"].height + rejected.height == ingested
    assert_registry_order(stats["stages"])


def test_no_group_or_cluster_straddles_two_splits(built):
    both = pl.concat([built["docs"].select("doc_id", "dup_cluster", "split"),
                      built["pairs"].select("doc_id", "dup_cluster", "split")])
    assert both.group_by("doc_id").agg(pl.col("split").n_unique()).get_column("split").max() == 1
    clustered = both.filter(pl.col("dup_cluster").is_not_null())
    if clustered.height:
        assert clustered.group_by("dup_cluster").agg(pl.col("split").n_unique())["split"].max() == 1


def test_benchmark_items_are_not_in_training(built):
    pairs, rejected = built["pairs"], built["rejected_pairs"]
    train_prompts = pairs.filter(pl.col("split") == "train")["prompt"].to_list()
    for task in built["copied"]:
        assert not any(task["instruction"] in p for p in train_prompts)
    dropped = rejected.filter(pl.col("stage") == "decontaminate")
    assert dropped.height >= 1 and dropped["reason"].str.contains("overlaps benchmark copied").any()
    assert dropped["reason"].str.contains(r"^overlaps .+ \(13-gram\)$").all()


def test_composition_reaches_the_manifest_and_the_card(built):
    composition = built["manifest"]["stats"]["composition"]
    assert composition
    card = storage.read_bytes(f"{built['uri']}/README.md").decode()
    assert "gender" in card.lower() and "CC-BY-SA-3.0" in card
