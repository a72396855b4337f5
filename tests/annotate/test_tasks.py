"""The annotation round's recipe section, labeling interfaces, answers and pair selection
(tasks/annotate/tasks.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import polars as pl
import pytest
from pydantic import ValidationError

from pairforge.tasks.annotate.tasks import KINDS, Options, Select, answer_of, label_config, select_pairs


def test_options_are_off_by_default_and_refuse_a_round_that_selects_nothing():
    assert Options().enabled is False
    with pytest.raises(ValidationError, match="picks no pair"):
        Options(enabled=True)
    with pytest.raises(ValidationError):
        Options(enabled=True, select=Select(sample=0.1), kinds=["grade"])
    with pytest.raises(ValidationError):
        Options(enabled=True, select=Select(sample=0.1), overlap=0)
    assert Options(enabled=True, select=Select(sample=0.1), kinds=["rate", "choose"]).overlap == 3


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_a_labeling_interface_on_the_task_fields(kind):
    root = ET.fromstring(label_config(kind))
    assert root.tag == "View"
    names = {e.get("name") for e in root.iter() if e.get("name")}
    values = {e.get("value") for e in root.iter("Text")}
    assert "$prompt" in values and "$response" in values
    control = {"rate": "score", "correct": "corrected", "flag": "flags", "choose": "better"}[kind]
    assert control in names
    # every control points at an object of the view
    objects = {e.get("name") for e in root.iter("Text")}
    assert all(e.get("toName") in objects for e in root.iter() if e.get("toName"))
    with pytest.raises(ValueError, match="unknown annotation kind"):
        label_config("grade")


def test_answers_are_read_from_label_studio_results():
    assert answer_of("rate", [{"from_name": "reason", "value": {"text": ["fine"]}},
                              {"from_name": "score", "value": {"rating": 4}}]) == "4"
    assert answer_of("correct", [{"from_name": "corrected", "value": {"text": ["Paris is the capital."]}}]) == \
        "Paris is the capital."
    assert answer_of("flag", [{"from_name": "flags", "value": {"choices": ["wrong", "pii"]}}]) == "pii,wrong"
    assert answer_of("choose", [{"from_name": "better", "value": {"choices": ["B"]}}]) == "B"
    assert answer_of("rate", []) is None and answer_of("rate", None) is None


def test_selection_is_seeded_and_says_why():
    df = pl.DataFrame({"id": [f"p{i}" for i in range(100)], "source": ["a"] * 90 + ["b"] * 10,
                       "judge_score": [1 + i % 5 for i in range(100)]})
    picked = select_pairs(df, Select(sample=0.2), seed=1)
    assert len(picked) == 20 and picked.equals(select_pairs(df, Select(sample=0.2), seed=1))
    assert not picked.equals(select_pairs(df, Select(sample=0.2), seed=2))
    by_source = select_pairs(df, Select(sources=["b"]), seed=1)
    assert set(by_source["id"]) == {f"p{i}" for i in range(90, 100)} and set(by_source["why"]) == {"source"}
    band = select_pairs(df, Select(judge_band=(2, 3)), seed=1)
    assert set(band["judge_score"]) == {2, 3} and len(band) == 40
    capped = select_pairs(df, Select(sources=["a", "b"], max_items=7), seed=1)
    assert len(capped) == 7
    assert select_pairs(df.drop("judge_score"), Select(judge_band=(2, 3)), seed=1).is_empty()  # no judge: none
