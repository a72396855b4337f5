"""Annotation quality control (tasks/annotate/quality.py): agreement checked against an independent implementation
(the `krippendorff` package) and a published example, gold accuracy, exclusion, resolution policies, bad rows."""

from __future__ import annotations

import random

import krippendorff
import numpy as np
import polars as pl
import pytest

from pairforge.tasks.annotate.quality import adjudicate as adjudicate_with
from pairforge.tasks.annotate.quality import assess, fleiss_kappa, krippendorff_alpha


def _matrix(units: list[list[float | None]], coders: int) -> np.ndarray:
    return np.array([[u[c] if c < len(u) and u[c] is not None else np.nan for u in units] for c in range(coders)],
                    dtype=float)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_equals_the_krippendorff_package(level):
    rnd = random.Random(7)
    for trial in range(30):
        coders = rnd.randint(2, 5)
        units = []
        for _ in range(rnd.randint(3, 40)):
            base = rnd.randint(1, 5)
            units.append([min(5, max(1, base + rnd.choice([0, 0, 0, 1, -1, 2]))) if rnd.random() > 0.15 else None
                          for _ in range(coders)])
        ours = krippendorff_alpha([[v for v in u if v is not None] for u in units], level)
        m = _matrix(units, coders)
        if ours is None:
            continue
        theirs = krippendorff.alpha(reliability_data=m, level_of_measurement=level)
        assert ours == pytest.approx(theirs, abs=1e-9), (trial, level)


def test_alpha_of_krippendorffs_own_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 coders x 12 units example:
    # nominal alpha 0.743
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
            [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]
    units = [[row[u] for row in data if row[u] is not None] for u in range(12)]
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None  # one value everywhere: undefined


def test_fleiss_kappa_of_the_published_example():
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories, kappa 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    units = [[str(c) for c, n in enumerate(row) for _ in range(n)] for row in table]
    assert fleiss_kappa(units) == pytest.approx(0.210, abs=5e-4)
    assert fleiss_kappa([["a", "b"], ["a"]]) is None  # unequal numbers of raters


def _round(careless_seed: int = 3) -> pl.DataFrame:
    """30 items rated 1-5 by three annotators (one careless: random answers) and 5 gold items."""
    rnd = random.Random(careless_seed)
    rows = []
    truth = {f"p{i}": 1 + i % 5 for i in range(30)}
    gold = {f"g{i}": 1 + (2 * i) % 5 for i in range(5)}
    for item, answer in [*truth.items(), *gold.items()]:
        for annotator in ("careful-a", "careful-b", "careless"):
            value = answer if annotator != "careless" else rnd.randint(1, 5)
            if annotator == "careful-b" and item in ("p3", "p17"):
                value = min(5, answer + 1)  # two honest disagreements
            rows.append({"item": item, "annotator": annotator, "value": str(value),
                         "gold": str(gold[item]) if item in gold else None})
    return pl.DataFrame(rows)


def test_the_careless_annotator_is_excluded_by_gold_accuracy_and_items_resolve():
    df = _round()
    report = assess(df, "rate", rating=True, policy="majority", min_accuracy=0.8, min_gold=3)
    scores = {s.annotator: s for s in report.scores}
    assert scores["careful-a"].accuracy == 1.0 and not scores["careful-a"].excluded
    assert scores["careless"].excluded and scores["careless"].accuracy < 0.8
    assert report.items == 30 and report.annotators == 3
    assert report.alpha > report.alpha_all  # leaving the careless annotator out raises agreement
    resolved = {r.item: r for r in report.resolutions}
    assert len(resolved) == 30 and resolved["p0"].value == "1" and resolved["p0"].status == "resolved"
    assert resolved["p3"].annotators == 2  # the careless one's answer no longer counts
    summary = report.summary()
    assert summary["excluded_annotators"] == 1 and summary["resolved"] + summary["rejected"] == 30


def test_policies_and_minimum_agreement():
    rows = [{"item": "x", "annotator": a, "value": v, "gold": None} for a, v in [("a", "A"), ("b", "B"), ("c", "B")]]
    rows += [{"item": "y", "annotator": a, "value": v, "gold": None} for a, v in [("a", "A"), ("b", "B")]]
    rows += [{"item": "g", "annotator": a, "value": v, "gold": "A"} for a, v in [("a", "A"), ("b", "B"), ("c", "B")]]
    df = pl.DataFrame(rows)
    majority = {r.item: r for r in assess(df, "choose", rating=False, min_accuracy=0.0).resolutions}
    assert majority["x"].value == "B" and majority["x"].status == "resolved"
    assert majority["y"].status == "resolved" and majority["y"].agreement == 0.5
    strict = {r.item: r for r in assess(df, "choose", rating=False, min_accuracy=0.0, min_agreement=0.6).resolutions}
    assert strict["y"].status == "rejected" and "below 0.6" in strict["y"].reason
    best = {r.item: r for r in assess(df, "choose", rating=False, min_accuracy=0.0, min_agreement=0.3,
                                      policy="best_annotator").resolutions}
    assert best["x"].value == "A"  # annotator a (gold 1/1) outweighs b and c (0/1), who outvote a
    adjudicate = {r.item: r for r in assess(df, "choose", rating=False, min_accuracy=0.0,
                                            policy="adjudicate").resolutions}
    assert adjudicate["x"].status == "adjudicate" and adjudicate["x"].reason
    # the adjudication round's answer decides; an item it has no answer for stays pending
    report = assess(df, "choose", rating=False, min_accuracy=0.0, policy="adjudicate")
    decided = {r.item: r for r in adjudicate_with(report, {"x": "A", "nowhere": "B"}).resolutions}
    assert decided["x"].value == "A" and decided["x"].status == "resolved" and decided["x"].reason == "adjudicated"
    assert decided["y"].status == "adjudicate"
    assert adjudicate_with(report, {"x": "A"}).summary()["adjudicated"] == 1


def test_bad_rows_are_reported_with_the_item_and_never_crash():
    rows = [{"item": "p1", "annotator": "a", "value": "4", "gold": None},
            {"item": "zzz", "annotator": "a", "value": "3", "gold": None},
            {"item": "p1", "annotator": "b", "value": "", "gold": None},
            {"item": "p1", "annotator": "c", "value": "great", "gold": None},
            {"item": None, "annotator": "c", "value": "2", "gold": None}]
    report = assess(pl.DataFrame(rows), "rate", rating=True, known_items={"p1"}, min_gold=1)
    text = "\n".join(report.problems)
    assert "item 'zzz'" in text and "unknown item" in text
    assert "annotator 'b'" in text and "no value" in text
    assert "'great' is not a number" in text and "missing item or annotator" in text
    assert "annotator 'a': 0 gold answer(s)" in text  # no gold answers: reported, not scored
    assert [r.item for r in report.resolutions] == ["p1"] and report.alpha is None
