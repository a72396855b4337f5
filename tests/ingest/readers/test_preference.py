"""tasks.ingest.readers.preference: real HH-RLHF transcripts, TRL's preference layouts (standard, conversational,
implicit prompt) and UltraFeedback-binarized's, and what is quarantined."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from pairforge.tasks.core.schema import PAIRS
from pairforge.tasks.ingest.sources import read_source_file
from pairforge.tasks.publish.training_formats import render
from tests.ingest.helpers import assert_provenance, jsonl, plain_turns, src

HH = Path(__file__).resolve().parents[2] / "data" / "preference" / "hh_rlhf_harmless_base_test_first20.jsonl"


def hh_turns(transcript: str) -> list[tuple[str, str]]:
    """An HH transcript split by hand: (speaker, text) per "\n\nHuman: " / "\n\nAssistant: " block."""
    parts = re.split(r"\n\n(Human|Assistant): ", transcript)
    assert parts[0] == ""
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def read(path: Path, **kw):
    s = src(path, "preference", license="MIT", **kw)
    got = read_source_file(s, str(path), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    return s, got


def test_hh_rlhf_transcripts_become_prompt_chosen_and_rejected():
    s, got = read(HH)
    records = [json.loads(line) for line in HH.read_text().splitlines()]
    kept = {r["id"]: r for r in got.rows.iter_rows(named=True)}
    assert len(kept) + got.quarantine.height == len(records) and len(kept) >= 15
    by_row = dict(zip(got.quarantine["row"], got.quarantine["reason"], strict=True))
    rows = iter(got.rows.iter_rows(named=True))
    for n, record in enumerate(records, start=1):
        chosen, rejected = hh_turns(record["chosen"]), hh_turns(record["rejected"])
        if n in by_row:  # the two transcripts differ before their last turn
            assert chosen[:-1] != rejected[:-1] and "differ before it" in by_row[n]
            continue
        row = next(rows)
        assert chosen[:-1] == rejected[:-1] and chosen[-1][0] == rejected[-1][0] == "Assistant"
        want = [{"role": {"Human": "user", "Assistant": "assistant"}[who], "content": said} for who, said in chosen]
        assert plain_turns(row["messages"]) == want
        assert row["response"] == chosen[-1][1] and row["rejected"] == rejected[-1][1]
        assert row["prompt"] == [said for who, said in chosen if who == "Human"][-1]
        assert row["chosen_score"] is None and row["margin"] is None
    assert_provenance(got.rows, s)


def test_trl_standard_conversational_and_implicit_prompt(tmp_path):
    user = {"role": "user", "content": "What color is the sky?"}
    blue, green = ({"role": "assistant", "content": c} for c in ("It is blue.", "It is green."))
    f = jsonl(tmp_path / "prefs.jsonl", [
        {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},  # TRL's docs, standard form
        {"prompt": [user], "chosen": [blue], "rejected": [green]},  # conversational, explicit prompt
        {"chosen": [user, blue], "rejected": [user, green]},  # conversational, implicit prompt
    ])
    _, got = read(f)
    assert got.quarantine.is_empty()
    assert got.rows.select("prompt", "response", "rejected").rows() == [
        ("The sky is", " blue.", " green."), (user["content"], "It is blue.", "It is green."),
        (user["content"], "It is blue.", "It is green.")]
    # the same conversation from the explicit and the implicit layout is the same row
    assert got.rows["id"][1] == got.rows["id"][2]


def test_ultrafeedback_binarized_sides_repeat_the_prompt_and_carry_scores(tmp_path):
    prompt = "Name a prime number."
    user = {"role": "user", "content": prompt}
    f = jsonl(tmp_path / "uf.jsonl", [
        {"prompt": prompt, "chosen": [user, {"role": "assistant", "content": "7"}],
         "rejected": [user, {"role": "assistant", "content": "8"}], "score_chosen": 8.0, "score_rejected": 5.5},
    ])
    _, got = read(f)
    row = got.rows.row(0, named=True)
    assert plain_turns(row["messages"]) == [user, {"role": "assistant", "content": "7"}]
    assert (row["rejected"], row["chosen_score"], row["rejected_score"], row["margin"]) == ("8", 8.0, 5.5, 2.5)


def test_bad_records_are_quarantined_with_the_reason_and_the_rest_kept(tmp_path):
    user = {"role": "user", "content": "Hi"}
    f = jsonl(tmp_path / "bad.jsonl", [
        {"prompt": "Say hi.", "chosen": "Hi.", "rejected": "Hi. "},
        {"chosen": [user, {"role": "assistant", "content": "a"}],
         "rejected": [{"role": "user", "content": "Other"}, {"role": "assistant", "content": "b"}]},
        {"prompt": "Q", "chosen": "A"},
        {"prompt": "Q", "chosen": "A", "rejected": "B", "score_chosen": "high", "score_rejected": 1},
        {"prompt": [{"role": "assistant", "content": "no user"}], "chosen": "A", "rejected": "B"},
        {"prompt": "Q", "chosen": [{"role": "robot", "content": "A"}], "rejected": "B"},
        {"prompt": "fine", "chosen": "yes", "rejected": "no"},
    ])
    _, got = read(f)
    assert got.rows["prompt"].to_list() == ["fine"]
    reasons = dict(zip(got.quarantine["row"], got.quarantine["reason"], strict=True))
    assert reasons == {
        1: "chosen and rejected are the same response: no preference",
        2: "chosen: expected one assistant turn after the prompt, found user, assistant (the two sides differ "
           "before it?)",
        3: "missing field 'rejected'",
        4: "score_chosen is 'high', expected a number",
        5: "the prompt does not end with a user turn",
        6: "chosen[0]: role must be one of system, user, assistant",
    }


def test_imported_preference_rows_export_as_trls_preference_type(tmp_path):
    _, got = read(HH)
    records = [json.loads(line) for line in render("trl-dpo", got.rows).decode().splitlines()]
    assert len(records) == got.rows.height
    for record, row in zip(records, got.rows.iter_rows(named=True), strict=True):
        assert record["chosen"] == [{"role": "assistant", "content": row["response"]}]
        assert record["rejected"] == [{"role": "assistant", "content": row["rejected"]}]
        assert [m["content"] for m in record["prompt"]] == [m["content"] for m in row["messages"][:-1]]
    kto = pl.DataFrame([json.loads(line) for line in render("trl-kto", got.rows).decode().splitlines()])
    assert kto["label"].to_list() == [True, False] * got.rows.height
