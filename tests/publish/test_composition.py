"""tasks.publish.composition: counts by column, lengths, demographic and flagged terms, merging per shard, the markdown
report, and the shipped term lists; on crafted frames with known counts and on the real corpora."""

from __future__ import annotations

import json
import re
import statistics

import polars as pl
import pytest

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import CompositionOptions, SplitOptions
from pairforge.tasks.core.schema import DOCUMENTS, conform
from pairforge.tasks.core.shards import Shard
from pairforge.tasks.publish.composition import (
    TERMS_DIR,
    builtin_term_lists,
    composition_frame,
    composition_markdown,
    composition_shard,
    group_pattern,
    merge,
    quantile,
)
from pairforge.tasks.publish.split import assign_splits
from tests.conftest import read_corpus


@pytest.fixture(scope="module")
def lee() -> pl.DataFrame:
    return assign_splits(read_corpus("lee", "text/lee_background.cor", "text-lines", "LGPL-2.1"), SplitOptions())


@pytest.fixture(scope="module")
def instruct() -> pl.DataFrame:
    both = pl.concat([read_corpus("alpaca-seed", "instruct/alpaca_seed_tasks.jsonl", "self-instruct", "CC-BY-NC-4.0"),
                      read_corpus("user-oriented", "instruct/user_oriented_instructions.jsonl", "self-instruct",
                           "Apache-2.0")])
    return assign_splits(both, SplitOptions(train=0.8, validation=0.1, test=0.1))


def docs(*texts: str | None) -> pl.DataFrame:
    return conform(pl.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": list(texts),
                                 "source": "s", "license": "MIT", "lang": "en"}, schema_overrides={"text": pl.String}),
                   "documents")


CRAFTED = [
    "She told her sister that the man was late.",
    "Muslim and Christian leaders met; the Jewish community too.",
    "What the FUCK is this shit, shit!",
    "The black box is in the White House.",
    "Black women and white men.",
    "Non-binary people and LGBTQ+ groups.",
    "",
    None,
]


def test_crafted_frame_counts_whole_words_per_group():
    st = composition_frame(docs(*CRAFTED), "documents")["tables"]["documents"]["all"]
    assert st["rows"] == 8
    gender, race = st["terms"]["gender"], st["terms"]["race_ethnicity"]
    assert (gender["female"]["rows"], gender["female"]["mentions"]) == (2, 4)  # she, her, sister; women
    assert gender["female"]["terms"] == {"she": 1, "her": 1, "sister": 1, "women": 1}
    assert (gender["male"]["rows"], gender["male"]["mentions"]) == (2, 2)  # man; men
    assert gender["non_binary"]["terms"] == {"non-binary": 1} and gender["transgender"]["rows"] == 0
    # colour words count only about people: "black box" and "White House" are not race mentions
    assert race["black"]["terms"] == {"black women": 1} and race["white"]["terms"] == {"white men": 1}
    religion = st["terms"]["religion"]
    assert [religion[g]["rows"] for g in ("muslim", "christian", "jewish", "hindu")] == [1, 1, 1, 0]
    assert st["terms"]["sexual_orientation"]["lgbtq_umbrella"]["terms"] == {"lgbtq+": 1}
    assert st["flags"]["offensive"] == {"rows": 1, "mentions": 3, "terms": {"fuck": 1, "shit": 2}}
    assert st["by"]["lang"] == {"en": 8} and st["by"]["source"] == {"s": 8}
    words = [len((t or "").split()) for t in CRAFTED]
    assert st["length"]["text"]["sum"] == sum(words) and st["length"]["text"]["max"] == max(words)
    assert sum(st["length"]["text"]["hist"].values()) == 8 and st["length"]["text"]["hist"]["0"] == 2


def test_terms_are_not_matched_inside_other_words():
    st = composition_frame(docs("Heather manages the manuscript; shell scripts; Hershey", "mankind"),
                           "documents")["tables"]["documents"]["all"]
    assert st["terms"]["gender"]["female"]["mentions"] == 0 and st["terms"]["gender"]["male"]["mentions"] == 0
    probe = pl.Series(["he", "shell", "non-binary", "xnon-binary", "he's", "café he", "dé-he"])
    assert probe.str.count_matches(group_pattern(["he", "non-binary"])).to_list() == [1, 0, 1, 0, 1, 1, 1]


def test_extra_terms_add_categories_and_groups():
    opts = CompositionOptions(extra_terms={"profession": ["Nurse", "engineer"],
                                           "religion:pastafarian": ["pastafarian", "pastafarians"]})
    st = composition_frame(docs("The nurse and the engineer", "A nurse; pastafarians agree"), "documents",
                           opts)["tables"]["documents"]["all"]
    assert st["terms"]["profession"]["profession"] == {"rows": 2, "mentions": 3,
                                                       "terms": {"nurse": 2, "engineer": 1}}
    assert st["terms"]["religion"]["pastafarian"]["rows"] == 1 and "muslim" in st["terms"]["religion"]
    assert "profession" not in composition_frame(docs("nurse"), "documents")["tables"]["documents"]["all"]["terms"]


def python_count(texts: list[str], terms: tuple[str, ...]) -> tuple[int, int]:
    """An independent count (Python's re, lookarounds instead of \\b) of rows mentioning and total mentions."""
    alternation = "|".join(r"\s+".join(map(re.escape, t.split())) for t in sorted(terms, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
    counts = [len(pattern.findall(t.lower())) for t in texts]
    return sum(1 for c in counts if c), sum(counts)


def test_real_news_counts_match_an_independent_count_and_merge_per_shard(lee):
    whole = composition_frame(lee, "documents")
    per_split = whole["tables"]["documents"]
    assert set(per_split) <= {"train", "validation", "test"}
    assert sum(s["rows"] for s in per_split.values()) == len(lee) == 300
    lists = {t.category: t for t in builtin_term_lists()}
    for split, st in per_split.items():
        texts = lee.filter(pl.col("split") == split)["text"].to_list()
        for category, group in [("gender", "female"), ("gender", "male"), ("nationality", "oceania"),
                                ("religion", "muslim")]:
            got = st["terms"][category][group]
            assert (got["rows"], got["mentions"]) == python_count(texts, lists[category].groups[group]), group
        assert st["flags"]["offensive"]["rows"] == python_count(texts, lists["offensive"].groups["offensive"])[0]
    train = per_split["train"]["terms"]["gender"]
    assert train["male"]["mentions"] > train["female"]["mentions"] > 0  # news of 2001: mostly about men
    # three shards of any size merge to the whole frame's numbers
    parts = [composition_frame(lee.slice(a, b), "documents") for a, b in ((0, 17), (17, 200), (217, 83))]
    assert merge(parts) == whole
    assert merge([]) == {"tables": {}}


def test_pairs_by_source_license_and_length_quantiles(instruct):
    stats = composition_frame(instruct, "pairs")
    per_split = stats["tables"]["pairs"]
    total = merge([{"x": s} for s in per_split.values()])["x"]
    expected = dict(instruct.group_by("source").len().iter_rows())
    assert total["by"]["source"] == expected and sum(expected.values()) == 175 + 252
    assert total["by"]["license"] == {"CC-BY-NC-4.0": 175, "Apache-2.0": 252}
    assert total["by"]["origin"] == {"imported": 427}
    for field in ("prompt", "response"):
        words = [len(t.split()) for t in instruct[field].to_list()]
        assert total["length"][field]["sum"] == sum(words) and total["length"][field]["max"] == max(words)
        median = statistics.median_low(words)
        assert median < 100 and quantile(total["length"][field]["hist"], 0.5) == median
    # a pair is counted over its whole conversation: a term only in the response is found
    convo = instruct.head(1).with_columns(pl.lit("Ask her.").alias("prompt"), pl.lit("No, ask him.").alias("response"),
                                          pl.lit(None, instruct.schema["messages"]).alias("messages"))
    st = composition_frame(convo, "pairs")["tables"]["pairs"][convo["split"][0]]
    assert st["terms"]["gender"]["female"]["rows"] == 1 and st["terms"]["gender"]["male"]["rows"] == 1


def test_markdown_has_every_section_and_no_row_text(lee, instruct):
    stats = merge([composition_frame(lee, "documents"), composition_frame(instruct, "pairs")])
    stats = json.loads(json.dumps(stats))  # as read back from the manifest
    md = composition_markdown(stats)
    for section in ("## Composition and bias", "### documents", "### pairs", "#### Rows by language",
                    "#### Length in words", "#### Demographic terms", "#### Flagged terms", "Female:male ratio",
                    "| gender | female |", "| disability |", "| offensive | rows |", "| user-oriented |",
                    "LDNOOBW", "HELM"):
        assert section in md, section
    for text in lee["text"].to_list()[:50] + instruct["prompt"].to_list()[:50]:
        assert text[:40] not in md
    assert composition_markdown({"composition": stats}, heading=False) == md.split("\n", 2)[2]
    assert "no rows" in composition_markdown({"tables": {}})


def test_composition_shard_task_reads_the_shard(tmp_path, lee):
    uri = str(tmp_path / "lee.parquet")
    storage.write_parquet(lee, uri)
    got = composition_shard.fn(Shard("documents", "lee-00000-00000", uri, len(lee)), CompositionOptions())
    assert got == composition_frame(lee, "documents")
    assert composition_frame(pl.DataFrame(schema=DOCUMENTS), "documents") == {"tables": {"documents": {}}}


def test_term_files_name_their_source_and_licence():
    files = sorted(TERMS_DIR.glob("*.json"))
    assert {p.stem for p in files} >= {"gender", "religion", "nationality", "race_ethnicity", "age",
                                       "sexual_orientation", "disability", "offensive"}
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["category"] == path.stem and data["kind"] in ("demographic", "flag")
        assert data["source"] and data["license"], path.name
        for group, terms in data["groups"].items():
            assert terms and len(terms) == len(set(terms)), (path.name, group)
            assert all(t == t.lower().strip() for t in terms), (path.name, group)
        if data["kind"] == "demographic" and path.stem != "gender":
            assert "compiled for pairforge" in data["source"]
    gender = json.loads((TERMS_DIR / "gender.json").read_text())
    assert set(gender["groups"]) == {"female", "male", "non_binary", "transgender"}
    offensive = set(json.loads((TERMS_DIR / "offensive.json").read_text())["groups"]["offensive"])
    identity = {t for p in files if p.stem != "offensive" for ts in json.loads(p.read_text())["groups"].values()
                for t in ts}
    assert not offensive & identity  # identity words are counted, never flagged
