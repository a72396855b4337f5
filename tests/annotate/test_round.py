"""One annotation round without the server (tasks/annotate/round.py): tasks sent, annotations read back with hashed
annotators, results applied to the pairs."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pairforge.tasks.annotate.quality import assess
from pairforge.tasks.annotate.round import (
    annotation_rows,
    annotator_key,
    apply_results,
    complete,
    gold_items,
    task_payloads,
)
from pairforge.tasks.core.schema import PAIRS, conform


def pairs(n: int) -> pl.DataFrame:
    return conform(pl.DataFrame({
        "id": [f"p{i}" for i in range(n)], "prompt": [f"Question {i}?" for i in range(n)],
        "response": [f"Answer {i}." for i in range(n)], "origin": ["generated"] * n, "source": ["s"] * n,
        "messages": [[{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]
                     for i in range(n)],
    }, schema_overrides={"messages": PAIRS["messages"]}), "pairs")


def test_gold_file_tasks_and_hidden_answers(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(json.dumps(g) for g in [
        {"prompt": "2+2?", "response": "5", "kind": "rate", "answer": 1},
        {"prompt": "Capital of France?", "response": "Paris", "kind": "rate", "answer": 5},
        {"prompt": "x", "response": "y", "kind": "flag", "answer": "none"}]) + "\n")
    gold = gold_items(path, "rate")
    assert len(gold) == 2 and all(k.startswith("gold-") for k in gold)
    tasks = task_payloads(pairs(5), gold, "rate")
    assert len(tasks) == 7 and {t["pairforge_id"] for t in tasks} >= {"p0", "p4", *gold}
    assert all("answer" not in t for t in tasks)  # gold answers stay with pairforge
    (tmp_path / "bad.jsonl").write_text('{"prompt": "a"}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl: line 1: missing response, kind, answer"):
        gold_items(tmp_path / "bad.jsonl", "rate")


def test_annotations_become_rows_with_hashed_annotators():
    gold = {"gold-1": {"answer": "5"}}
    tasks = [{"data": {"pairforge_id": "p0"}, "annotations": [
                {"annotator": 7, "result": [{"from_name": "score", "value": {"rating": 4}}]},
                {"annotator": 8, "result": [{"from_name": "score", "value": {"rating": 5}}], "was_cancelled": True}]},
             {"data": {"pairforge_id": "gold-1"}, "annotations": [
                {"annotator": 7, "result": [{"from_name": "score", "value": {"rating": 5}}]}]}]
    rows = annotation_rows(tasks, "rate", gold, salt="s3cret")
    assert rows["item"].to_list() == ["p0", "gold-1"] and rows["value"].to_list() == ["4", "5"]
    assert rows["gold"].to_list() == [None, "5"]
    assert set(rows["annotator"]) == {annotator_key(7, "s3cret")} and "7" not in rows["annotator"].to_list()
    assert annotator_key(7, "other") != annotator_key(7, "s3cret")
    assert complete(tasks, 1) == (2, 2) and complete(tasks, 2) == (0, 2)


def test_corrections_scores_and_rejections_flow_back_into_the_pairs():
    df = pairs(3)
    corrected = pl.DataFrame([{"item": "p0", "annotator": a, "value": "Answer 0, corrected.", "gold": None}
                              for a in "ab"] + [{"item": "p1", "annotator": "a", "value": "Answer 1.", "gold": None},
                                                {"item": "p1", "annotator": "b", "value": "Answer 1.", "gold": None}])
    rated = pl.DataFrame([{"item": "p0", "annotator": "a", "value": "4", "gold": None},
                          {"item": "p1", "annotator": "a", "value": "2", "gold": None},
                          {"item": "p2", "annotator": "a", "value": "1", "gold": None},
                          {"item": "p2", "annotator": "b", "value": "5", "gold": None}])
    reports = {"correct": assess(corrected, "correct", rating=False, min_accuracy=0.0),
               "rate": assess(rated, "rate", rating=True, min_accuracy=0.0, min_agreement=0.6)}
    kept, rejected = apply_results(df, reports)
    assert rejected["id"].to_list() == ["p2"] and "annotation (rate): agreement" in rejected["reason"][0]
    row0 = kept.filter(pl.col("id") == "p0").row(0, named=True)
    assert row0["response"] == "Answer 0, corrected." and row0["origin"] == "human-edited"
    assert row0["messages"][-1]["content"] == "Answer 0, corrected." and row0["human_score"] == 4.0
    row1 = kept.filter(pl.col("id") == "p1").row(0, named=True)
    assert row1["origin"] == "generated" and row1["response"] == "Answer 1." and row1["human_score"] == 2.0


def test_people_choosing_between_a_preference_rows_responses_can_overrule_the_judge():
    """`choose` shows a preference row's chosen response (A) and its rejected one (B); a B swaps them, with the
    judge's scores; a pair with one response is not sent for `choose`."""
    df = pairs(3).with_columns(
        rejected=pl.Series(["Worse 0.", "Worse 1.", None]), chosen_score=pl.Series([4.0, 5.0, None]),
        rejected_score=pl.Series([2.0, 1.0, None]), margin=pl.Series([2.0, 4.0, None]))
    sent = task_payloads(df, {}, "choose")
    assert sorted((t["pairforge_id"], t["response_b"]) for t in sent) == [("p0", "Worse 0."), ("p1", "Worse 1.")]
    chosen = pl.DataFrame([{"item": "p0", "annotator": a, "value": "A", "gold": None} for a in "ab"]
                          + [{"item": "p1", "annotator": a, "value": "B", "gold": None} for a in "ab"])
    kept, _ = apply_results(df, {"choose": assess(chosen, "choose", rating=False, min_accuracy=0.0)})
    rows = {r["id"]: r for r in kept.iter_rows(named=True)}
    p0, p1 = rows["p0"], rows["p1"]
    assert (p0["response"], p0["rejected"], p0["human_choice"]) == ("Answer 0.", "Worse 0.", "A")
    assert (p1["response"], p1["rejected"], p1["human_choice"]) == ("Worse 1.", "Answer 1.", "B")
    assert (p1["chosen_score"], p1["rejected_score"], p1["margin"]) == (1.0, 5.0, -4.0)
    assert p1["messages"][-1]["content"] == "Worse 1."  # the conversation ends with what people chose
    assert rows["p2"]["human_choice"] is None and rows["p2"]["response"] == "Answer 2."
