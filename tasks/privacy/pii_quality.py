"""Score the PII scrubber on a labelled file in presidio-research's format (`full_text` + `spans`).

Two questions, per entity type of the gold file:
- direct identifiers: what share of the gold values is gone from the output? A value counts as removed only when
  every one of its identifying words was replaced: a name whose surname survives is a miss. Identifying words are
  the value's words minus function words ("the", "of") and honorifics ("Dr", "MD"), which the scrubber keeps by
  design ("Dr. <PERSON>").
- everything else: what share of the words outside every gold span survives (over-redaction), and, for the
  quasi-identifier types that pairforge keeps by default (cities, countries, organisations, dates, ...), what share
  of their values survives untouched.

Only counts leave this module; no value from the file is logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pairforge.tasks.core.recipe import PIIOptions

# gold label -> pairforge entity type, for the direct identifiers (scored on removal)
DIRECT_LABELS = {
    "PERSON": "PERSON", "PER": "PERSON", "NAME": "PERSON", "FIRST_NAME": "PERSON", "LAST_NAME": "PERSON",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS", "EMAIL": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER", "PHONE": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN_CODE", "IBAN": "IBAN_CODE",
    "US_SSN": "US_SSN", "SSN": "US_SSN", "IP_ADDRESS": "IP_ADDRESS",
    "ADDRESS": "STREET_ADDRESS", "STREET_ADDRESS": "STREET_ADDRESS",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE", "SECRET": "SECRET", "PASSWORD": "SECRET", "API_KEY": "SECRET",
}  # fmt: skip
# gold labels of quasi-identifiers and other kept data (scored on survival): pairforge keeps these by default
QUASI_LABELS = {
    "LOCATION", "GPE", "LOC", "FAC", "CITY", "COUNTRY", "STATE", "ORGANIZATION", "ORG", "DATE_TIME", "DATE", "TIME",
    "NRP", "NORP", "NATIONALITY", "AGE", "TITLE", "PREFIX", "DOMAIN_NAME", "URL",
}  # fmt: skip
TARGET_PER_TYPE = 0.90
TARGET_OVERALL = 0.95
TARGET_WORDS_KEPT = 0.93
MIN_VALUES_PER_TYPE = 10  # a type with fewer gold values is reported (and counts in the overall share), not gated

_WORD = re.compile(r"\w+")
# words that identify nobody: function words and honorifics/suffixes (kept by the scrubber next to a name)
NON_IDENTIFYING = frozenset(
    """a an and at by for from in of on or the to via with de del der des di du la le van von y und
    mr mrs ms miss mx dr prof sir madam dame rev md phd jr sr dds esq ii iii iv""".split()
)


@dataclass
class TypeScore:
    label: str
    kind: str  # "direct" | "quasi"
    entity: str | None  # pairforge entity type for direct labels
    values: int = 0
    hits: int = 0  # direct: removed; quasi: kept untouched

    @property
    def share(self) -> float:
        return self.hits / self.values if self.values else 1.0


@dataclass
class QualityReport:
    source: str
    records: int
    types: dict[str, TypeScore] = field(default_factory=dict)
    words_outside: int = 0
    words_kept: int = 0
    unknown_labels: list[str] = field(default_factory=list)  # scored as quasi-identifiers
    # per language of the records (metadata.lang, else the scrubber's default): direct-identifier [values, removed]
    languages: dict[str, list[int]] = field(default_factory=dict)

    @property
    def direct(self) -> list[TypeScore]:
        return [t for t in self.types.values() if t.kind == "direct"]

    @property
    def overall(self) -> float:
        n = sum(t.values for t in self.direct)
        return sum(t.hits for t in self.direct) / n if n else 1.0

    @property
    def words_kept_share(self) -> float:
        return self.words_kept / self.words_outside if self.words_outside else 1.0

    def gated(self, t: TypeScore) -> bool:
        """Is the per-type target checked for this type (a direct identifier with enough gold values)?"""
        return t.kind == "direct" and t.values >= MIN_VALUES_PER_TYPE

    def language_shares(self) -> dict[str, tuple[float, int]]:
        """Per language: (share of direct identifiers removed, values)."""
        return {lang: (hits / n if n else 1.0, n) for lang, (n, hits) in sorted(self.languages.items())}

    def failures(self) -> list[str]:
        """Targets missed, in words (empty: all met). The per-type target applies to types with at least
        MIN_VALUES_PER_TYPE gold values."""
        out = [f"{t.label} removed {t.share:.3f} < {TARGET_PER_TYPE} (n={t.values})" for t in self.direct
               if self.gated(t) and t.share < TARGET_PER_TYPE]  # fmt: skip
        if self.overall < TARGET_OVERALL:
            out.append(f"direct identifiers removed {self.overall:.3f} < {TARGET_OVERALL}")
        if self.words_kept_share < TARGET_WORDS_KEPT:
            out.append(f"words outside gold spans kept {self.words_kept_share:.3f} < {TARGET_WORDS_KEPT}")
        return out

    def as_dict(self) -> dict:
        return {
            "source": self.source, "records": self.records, "overall_removed": round(self.overall, 4),
            "words_outside": self.words_outside, "words_kept": self.words_kept,
            "words_kept_share": round(self.words_kept_share, 4), "unknown_labels": self.unknown_labels,
            "languages": {k: {"values": n, "removed": round(share, 4)} for k, (share, n) in
                          self.language_shares().items()},
            "types": {k: {"kind": t.kind, "entity": t.entity, "values": t.values, "hits": t.hits,
                          "share": round(t.share, 4)} for k, t in self.types.items()},
        }  # fmt: skip


def load_gold(path: str | Path) -> list[dict]:
    """Records with `full_text` and `spans` [{entity_type, entity_value?, start_position, end_position}]."""
    records = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(records, list) or not all(isinstance(r, dict) and "full_text" in r for r in records):
        raise ValueError(f"{path}: expected a JSON list of records with full_text and spans")
    for n, r in enumerate(records):
        for s in r.get("spans") or []:
            start, end = s.get("start_position"), s.get("end_position")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(r["full_text"])):
                raise ValueError(f"{path}: record {n}: span offsets out of range")
    return records


def _covered(start: int, end: int, found: list[tuple[int, int, str, float]]) -> bool:
    """Is every character of [start, end) inside one of the findings (sorted, not overlapping)?"""
    pos = start
    for f_start, f_end, *_ in found:
        if f_end <= pos:
            continue
        if f_start > pos:
            return False
        pos = f_end
        if pos >= end:
            return True
    return pos >= end


def _touched(start: int, end: int, found: list[tuple[int, int, str, float]]) -> bool:
    return any(f_start < end and start < f_end for f_start, f_end, *_ in found)


def _identifying_words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    words = [(m.start() + start, m.end() + start, m.group()) for m in _WORD.finditer(text[start:end])]
    ident = [(s, e) for s, e, w in words if w.casefold() not in NON_IDENTIFYING]
    return ident or [(s, e) for s, e, _ in words]


def score(records: list[dict], options: PIIOptions | None = None, source: str = "") -> QualityReport:
    """Run the scrubber (built from `options`, default: the recipe defaults) on every record's `full_text`, each
    record its own document, and score its findings against the gold spans."""
    from pairforge.tasks.privacy.pii import get_scrubber

    scrubber = get_scrubber(options or PIIOptions())
    texts = [r["full_text"] for r in records]
    langs = [(r.get("metadata") or {}).get("lang") if isinstance(r.get("metadata"), dict) else None for r in records]
    found = scrubber.find(texts, langs=[lang or scrubber.lang for lang in langs])
    report = QualityReport(source=source, records=len(records))
    unknown = set()
    for rec, spans, lang in zip(records, found, langs, strict=True):
        text = rec["full_text"]
        gold = rec.get("spans") or []
        by_lang = report.languages.setdefault(lang or scrubber.lang, [0, 0])
        for s in gold:
            label = s["entity_type"]
            if label in DIRECT_LABELS:
                ts = report.types.setdefault(label, TypeScore(label, "direct", DIRECT_LABELS[label]))
                words = _identifying_words(text, s["start_position"], s["end_position"])
                removed = all(_covered(a, b, spans) for a, b in words)
                ts.values += 1
                ts.hits += removed
                by_lang[0] += 1
                by_lang[1] += removed
            else:
                if label not in QUASI_LABELS:
                    unknown.add(label)
                ts = report.types.setdefault(label, TypeScore(label, "quasi", None))
                ts.values += 1
                ts.hits += not _touched(s["start_position"], s["end_position"], spans)
        inside = [(s["start_position"], s["end_position"]) for s in gold]
        for m in _WORD.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in inside):
                continue
            report.words_outside += 1
            report.words_kept += not _touched(m.start(), m.end(), spans)
    report.unknown_labels = sorted(unknown)
    report.types = dict(sorted(report.types.items(), key=lambda kv: (kv[1].kind != "direct", kv[0])))
    return report


def score_file(path: str | Path, options: PIIOptions | None = None) -> QualityReport:
    return score(load_gold(path), options, source=str(path))
