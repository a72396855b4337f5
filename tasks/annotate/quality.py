"""Quality control of human annotations: agreement between annotators, accuracy on gold items, and the resolution
of each item under the recipe's policy.

Annotations are a frame with one row per (item, annotator): `item` (the pair's id), `annotator` (a hashed id, never
a user name), `value` (a rating 1-N, a choice such as "A"/"B", a flag; as a string), `gold` (the known answer for
gold items, else null).

- Agreement: Krippendorff's alpha over every item with two or more annotations (nominal for choices and flags,
  ordinal for ratings; computed here from the coincidence matrix, checked in the tests against the `krippendorff`
  package, which is GPL and therefore not a runtime dependency), and Fleiss' kappa where every item has the same
  number of annotators (categorical kinds).
- Gold accuracy: per annotator, the share of gold items answered as the gold answer (a rating within
  `rating_tolerance` of it); annotators with fewer than `min_gold` gold answers are listed, not scored.
- Resolution, per item, over the annotators still trusted: `majority` (the most common value; ratings: the median),
  `best_annotator` (the value of the annotator with the highest gold accuracy) or `adjudicate` (items without
  full agreement go to an adjudication round: one more person's answer decides, see `adjudicate`); an item whose
  agreement (share of annotators with the resolved value) is under `min_agreement` is rejected with the reason
  (with `adjudicate`, it goes to the adjudication round instead).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

import polars as pl

ANNOTATIONS = {"item": pl.String, "annotator": pl.String, "value": pl.String, "gold": pl.String}


def _distance(level: str):
    if level == "nominal":
        return None
    if level not in ("ordinal", "interval"):
        raise ValueError(f"level of measurement must be nominal, ordinal or interval, not {level!r}")
    return level


def krippendorff_alpha(units: list[list[str | float]], level: str = "nominal") -> float | None:
    """Krippendorff's alpha of `units` (each the values its annotators gave; units with fewer than two values do
    not count). None when it is undefined (fewer than two pairable values, or a single value everywhere)."""
    _distance(level)
    pairable = [u for u in units if len(u) >= 2]
    if not pairable:
        return None
    domain = sorted({v for u in pairable for v in u}, key=lambda v: (float(v) if level != "nominal" else 0, str(v)))
    index = {v: i for i, v in enumerate(domain)}
    size = len(domain)
    # coincidence matrix: o[c][k] = sum over units of (pairs of values c, k) / (m_u - 1)
    o = [[0.0] * size for _ in range(size)]
    for unit in pairable:
        counts = Counter(index[v] for v in unit)
        m = len(unit)
        for c, nc in counts.items():
            for k, nk in counts.items():
                o[c][k] += (nc * (nk - (1 if c == k else 0))) / (m - 1)
    n_c = [sum(row) for row in o]
    n = sum(n_c)
    if n <= 1:
        return None
    if level == "nominal":
        delta = [[0.0 if c == k else 1.0 for k in range(size)] for c in range(size)]
    elif level == "interval":
        vals = [float(v) for v in domain]
        delta = [[(vals[c] - vals[k]) ** 2 for k in range(size)] for c in range(size)]
    else:  # ordinal: the squared sum of the marginals between the two ranks
        delta = [[0.0] * size for _ in range(size)]
        for c in range(size):
            for k in range(size):
                lo, hi = min(c, k), max(c, k)
                delta[c][k] = (sum(n_c[g] for g in range(lo, hi + 1)) - (n_c[lo] + n_c[hi]) / 2) ** 2
    observed = sum(o[c][k] * delta[c][k] for c in range(size) for k in range(size))
    expected = sum(n_c[c] * n_c[k] * delta[c][k] for c in range(size) for k in range(size)) / (n - 1)
    if expected == 0:
        return None
    return 1.0 - observed / expected


def fleiss_kappa(units: list[list[str]]) -> float | None:
    """Fleiss' kappa; every unit must have the same number (>= 2) of ratings, else None."""
    sizes = {len(u) for u in units}
    if not units or len(sizes) != 1 or (m := sizes.pop()) < 2:
        return None
    categories = sorted({v for u in units for v in u})
    totals = Counter(v for u in units for v in u)
    p_j = [totals[c] / (len(units) * m) for c in categories]
    p_i = [(sum(n * n for n in Counter(u).values()) - m) / (m * (m - 1)) for u in units]
    p_bar, p_e = sum(p_i) / len(units), sum(p * p for p in p_j)
    return None if p_e == 1 else (p_bar - p_e) / (1 - p_e)


@dataclass
class AnnotatorScore:
    annotator: str
    gold_items: int
    correct: int
    accuracy: float | None  # None: too few gold answers to score
    excluded: bool = False


ADJUDICATED = "adjudicated"  # the reason of an item the adjudication round resolved


@dataclass
class Resolution:
    item: str
    value: str | None
    agreement: float | None  # share of trusted annotators that gave the resolved value
    annotators: int
    status: str  # resolved | adjudicate | rejected
    reason: str | None = None


@dataclass
class QualityReport:
    kind: str
    items: int
    annotations: int
    annotators: int
    alpha: float | None  # over the trusted annotators (the excluded ones left out)
    kappa: float | None
    alpha_all: float | None  # over every annotator
    scores: list[AnnotatorScore] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # rows or annotators that could not be used, with why

    def summary(self) -> dict:
        status = Counter(r.status for r in self.resolutions)
        accuracies = [s.accuracy for s in self.scores if s.accuracy is not None]
        return {"kind": self.kind, "items": self.items, "annotations": self.annotations,
                "annotators": self.annotators, "alpha": self.alpha, "alpha_all": self.alpha_all, "kappa": self.kappa,
                "excluded_annotators": sum(s.excluded for s in self.scores),
                "gold_accuracy": {"min": min(accuracies), "median": sorted(accuracies)[len(accuracies) // 2],
                                  "max": max(accuracies)} if accuracies else None,
                "resolved": status["resolved"], "adjudicate": status["adjudicate"], "rejected": status["rejected"],
                "adjudicated": sum(r.reason == ADJUDICATED for r in self.resolutions),
                "problems": len(self.problems)}  # fmt: skip


def adjudicate(report: QualityReport, answers: dict[str, str]) -> QualityReport:
    """The report with the adjudication round's answers (item -> value) resolving the items sent to it; an item
    still without an answer stays `adjudicate` (its pair keeps its values: none of the round's is applied)."""
    resolutions = [Resolution(r.item, answers[r.item], r.agreement, r.annotators, "resolved", ADJUDICATED)
                   if r.status == "adjudicate" and answers.get(r.item) else r for r in report.resolutions]
    return replace(report, resolutions=resolutions)


def _matches(value: str, gold: str, rating: bool, tolerance: float) -> bool:
    if rating:
        try:
            return abs(float(value) - float(gold)) <= tolerance
        except ValueError:
            return False
    return value.strip().casefold() == gold.strip().casefold()


def gold_scores(df: pl.DataFrame, rating: bool, min_gold: int, min_accuracy: float,
                tolerance: float = 0.0) -> list[AnnotatorScore]:
    """Each annotator's accuracy on the gold items they answered; excluded when scored below `min_accuracy`."""
    out = []
    for annotator in sorted(df.get_column("annotator").unique().to_list()):
        answers = df.filter((pl.col("annotator") == annotator) & pl.col("gold").is_not_null())
        correct = sum(_matches(v, g, rating, tolerance) for v, g in answers.select("value", "gold").iter_rows())
        n = len(answers)
        accuracy = correct / n if n >= min_gold and n else None
        out.append(AnnotatorScore(annotator, n, correct, accuracy, accuracy is not None and accuracy < min_accuracy))
    return out


def _resolve_item(values: list[tuple[str, str]], rating: bool, policy: str, best: dict[str, float],
                  min_agreement: float) -> tuple[str | None, float | None, str, str | None]:
    """(value, agreement, status, reason) of one item from its (annotator, value) answers."""
    if not values:
        return None, None, "rejected", "no trusted annotation"
    counts = Counter(v for _, v in values)
    if rating:
        nums = sorted(float(v) for _, v in values)
        mid = nums[len(nums) // 2] if len(nums) % 2 else (nums[len(nums) // 2 - 1] + nums[len(nums) // 2]) / 2
        value = f"{mid:g}"
        agree = sum(1 for _, v in values if abs(float(v) - mid) <= 0.5) / len(values)
    else:
        value, top = counts.most_common(1)[0]
        agree = top / len(values)
    if policy == "best_annotator":  # the answers of the most accurate annotators; their majority on a tie
        top = max(best.get(a, -1.0) for a, _ in values)
        leaders = Counter(v for a, v in values if best.get(a, -1.0) == top).most_common()
        if len(leaders) == 1 or leaders[0][1] > leaders[1][1]:
            value = leaders[0][0]
        agree = sum(1 for _, v in values if v == value) / len(values) if not rating else agree
    if agree < min_agreement:
        if policy == "adjudicate":
            return value, agree, "adjudicate", f"agreement {agree:.2f} < {min_agreement}: sent to adjudication"
        return None, agree, "rejected", f"agreement {agree:.2f} below {min_agreement}"
    if policy == "adjudicate" and agree < 1.0 and len(values) > 1:
        return value, agree, "adjudicate", "annotators disagree: sent to adjudication"
    return value, agree, "resolved", None


def assess(df: pl.DataFrame, kind: str, *, rating: bool, policy: str = "majority", min_agreement: float = 0.5,
           min_gold: int = 1, min_accuracy: float = 0.6, tolerance: float = 0.0,
           known_items: set[str] | None = None) -> QualityReport:
    """The quality report of one round of one task kind (see the module docstring). Rows with an unknown item, an
    empty value or a value that is no number for a rating are left out and listed in `problems`."""
    problems: list[str] = []
    rows = df.select([pl.col(c).cast(t) if c in df.columns else pl.lit(None, t).alias(c)
                      for c, t in ANNOTATIONS.items()])  # fmt: skip
    usable = []
    for r in rows.iter_rows(named=True):
        where = f"item {r['item']!r}, annotator {r['annotator']!r}"
        if not r["item"] or not r["annotator"]:
            problems.append(f"{where}: missing item or annotator id")
        elif known_items is not None and r["item"] not in known_items:
            problems.append(f"{where}: unknown item (not in this round)")
        elif r["value"] is None or not str(r["value"]).strip():
            problems.append(f"{where}: no value")
        elif rating and not _is_number(r["value"]):
            problems.append(f"{where}: rating {r['value']!r} is not a number")
        else:
            usable.append(r)
    good = pl.DataFrame(usable, schema=ANNOTATIONS)
    scores = gold_scores(good, rating, min_gold, min_accuracy, tolerance)
    problems += [f"annotator {s.annotator!r}: {s.gold_items} gold answer(s), fewer than {min_gold}: not scored"
                 for s in scores if s.accuracy is None]  # fmt: skip
    excluded = {s.annotator for s in scores if s.excluded}
    trusted = good.filter(~pl.col("annotator").is_in(list(excluded)) & pl.col("gold").is_null())
    units = [list(vals) for vals in trusted.group_by("item").agg("value").get_column("value").to_list()]
    every = good.filter(pl.col("gold").is_null()).group_by("item").agg("value").get_column("value").to_list()
    level = "ordinal" if rating else "nominal"
    best = {s.annotator: s.accuracy for s in scores if s.accuracy is not None}
    resolutions = []
    for item, annotators, values in trusted.group_by("item", maintain_order=True).agg("annotator", "value").iter_rows():
        value, agree, status, reason = _resolve_item(list(zip(annotators, values, strict=True)), rating, policy,
                                                     best, min_agreement)  # fmt: skip
        resolutions.append(Resolution(item, value, agree, len(values), status, reason))
    return QualityReport(
        kind=kind, items=good.filter(pl.col("gold").is_null()).get_column("item").n_unique(), annotations=len(good),
        annotators=good.get_column("annotator").n_unique(), alpha=krippendorff_alpha(units, level),
        kappa=None if rating else fleiss_kappa(units), alpha_all=krippendorff_alpha(every, level), scores=scores,
        resolutions=resolutions, problems=problems,
    )  # fmt: skip


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
