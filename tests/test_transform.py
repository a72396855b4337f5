"""tasks.normalize and tasks.split: text clean-up over Polars frames, and leakage-free splits."""

from __future__ import annotations

import unicodedata

import polars as pl
import pytest

from tasks.normalize import normalize_frame
from tasks.recipe import CleanOptions, SplitOptions
from tasks.schema import DOCUMENTS, PAIRS
from tasks.split import assign_splits


def docs(*texts: str) -> pl.DataFrame:
    return pl.DataFrame(
        [{"id": f"d{i}", "doc_id": f"d{i}", "text": t, "source": "s", "uri": "u", "license": "MIT", "lang": "en"}
         for i, t in enumerate(texts)],
        schema=DOCUMENTS, orient="row",
    )


def pair(prompt: str, response: str, system: str | None = None, i: int = 0) -> dict:
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return {"id": f"p{i}", "doc_id": f"p{i}", "prompt": prompt, "response": response, "messages": messages,
            "system": system, "source": "s", "uri": "u", "license": "MIT", "lang": "en", "origin": "imported"}


def pairs(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=PAIRS, orient="row")


# ---- normalize ---------------------------------------------------------------------------------

DECOMPOSED = "Cafe\u0301 na\u0131\u0308ve"  # e + combining acute; dotless i + combining diaeresis


def test_unicode_nfc_and_nfkc():
    kept, _ = normalize_frame(docs(DECOMPOSED, "ﬁne ①"), "documents", CleanOptions())
    assert kept["text"].to_list() == [unicodedata.normalize("NFC", DECOMPOSED), "ﬁne ①"]
    assert kept["text"][0].startswith("Café")  # composed: one code point
    kept, _ = normalize_frame(docs("ﬁne ①"), "documents", CleanOptions(unicode_form="NFKC"))
    assert kept["text"].to_list() == ["fine 1"]


def test_control_and_zero_width_characters_removed_but_tab_and_newline_kept():
    kept, _ = normalize_frame(
        docs("a\x00b\x07c\x1bd\x7fe\x85f", "zero\u200bwidth\ufeff", "tab\there\nline"), "documents",
        CleanOptions(collapse_whitespace=False),
    )
    assert kept["text"].to_list() == ["abcdef", "zerowidth", "tab\there\nline"]


def test_control_characters_kept_when_disabled():
    kept, _ = normalize_frame(docs("a\x07b"), "documents", CleanOptions(strip_control_chars=False))
    assert kept["text"].to_list() == ["a\x07b"]


def test_whitespace():
    text = "  lots   of\t\tspace\u00a0here \r\nwindows\rmac  \n\n\n\n\nfar   away  "
    kept, _ = normalize_frame(docs(text), "documents", CleanOptions())
    assert kept["text"].to_list() == ["lots of space here\nwindows\nmac\n\nfar away"]
    kept, _ = normalize_frame(docs(text), "documents", CleanOptions(collapse_whitespace=False))
    assert "lots   of" in kept["text"][0] and "\r" not in kept["text"][0]  # line endings always unified


def test_rows_too_short_after_cleaning_are_rejected_with_reason():
    df = docs("  \u200b \x00 ", "ok", "long enough text")
    kept, rejected = normalize_frame(df, "documents", CleanOptions(min_chars=1))
    assert kept["id"].to_list() == ["d1", "d2"]
    assert rejected["id"].to_list() == ["d0"]
    assert rejected["reason"].to_list() == ["shorter than 1 characters after normalisation"]

    kept, rejected = normalize_frame(df, "documents", CleanOptions(min_chars=5))
    assert kept["id"].to_list() == ["d2"]
    assert rejected["id"].to_list() == ["d0", "d1"]
    assert set(rejected["reason"]) == {"shorter than 5 characters after normalisation"}
    assert kept.columns == df.columns  # no helper columns leak into kept rows


def test_pairs_normalise_prompt_response_system_and_every_message():
    df = pairs(pair("  What\u200b   is  Cafe\u0301? ", "It\x07 is\n\n\n\na place.", system=" Be\tkind. ", i=0),
               pair("fine", "also fine", i=1))
    kept, rejected = normalize_frame(df, "pairs", CleanOptions())
    assert rejected.is_empty()
    row = kept.row(0, named=True)
    assert row["prompt"] == "What is Café?"
    assert row["response"] == "It is\n\na place."
    assert row["system"] == "Be kind."
    assert row["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "What is Café?"},
        {"role": "assistant", "content": "It is\n\na place."},
    ]
    assert kept.row(1, named=True)["system"] is None  # null stays null
    assert kept.schema == df.schema


def test_pairs_rejected_when_prompt_or_response_becomes_empty():
    df = pairs(pair("\u200b  ", "answer", i=0), pair("question", " \x00 ", i=1), pair("q", "a", i=2))
    kept, rejected = normalize_frame(df, "pairs", CleanOptions())
    assert kept["id"].to_list() == ["p2"]
    assert sorted(rejected["id"].to_list()) == ["p0", "p1"]
    assert rejected["reason"].str.starts_with("shorter than").all()


# ---- split -------------------------------------------------------------------------------------


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


def test_custom_group_by_column_and_null_keys():
    df = pl.DataFrame({"id": [str(i) for i in range(300)], "topic": [f"t{i % 7}" if i % 10 else None
                                                                     for i in range(300)]})
    out = assign_splits(df, SplitOptions(group_by="topic"))
    assert out.group_by("topic").agg(pl.col("split").n_unique())["split"].max() == 1


@pytest.mark.parametrize("ratios", [(0.9, 0.05, 0.05), (0.7, 0.2, 0.1), (1.0, 0.0, 0.0)])
def test_ratios_respected_on_10k_groups(ratios):
    train, validation, test = ratios
    out = assign_splits(grouped(10_000), SplitOptions(train=train, validation=validation, test=test, seed=7))
    counts = out["split"].value_counts()
    share = {s: n / 10_000 for s, n in counts.iter_rows()}
    for name, want in zip(("train", "validation", "test"), ratios, strict=True):
        # binomial sd at n=10k is at most 0.005; 0.02 is four of them
        assert abs(share.get(name, 0.0) - want) < 0.02, (name, share)


def test_bad_group_by_column_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="no column 'document'") as err:
        assign_splits(grouped(3), SplitOptions(group_by="document"))
    assert "split.group_by" in str(err.value) and "doc_id" in str(err.value)  # lists what there is
