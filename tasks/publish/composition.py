"""The bias and composition report: what a dataset is made of. It counts; it never filters.

Per table and split: rows by language, source, licence, task and origin; length in words (buckets and
quantiles); mentions of demographic terms per category and group (gender, religion, nationality,
race/ethnicity, age, sexual orientation, disability, plus the recipe's `extra_terms`); and rows with
terms of the offensive-language list. Term lists are JSON files in `tasks/data/terms/`, each naming its
source and licence. Matching is whole-word and case-insensitive, one alternation regex per group, run
by Polars over the whole shard.

Stats are computed per shard and merged (`merge`), so the report streams. Only counts and term names
leave this module, never row text.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core.recipe import CompositionOptions
from pairforge.tasks.core.schema import SPLITS
from pairforge.tasks.core.shards import RETRYING, Shard
from pairforge.tasks.data import DATA

TERMS_DIR = DATA / "terms"
DIMENSIONS = ("lang", "source", "license", "task", "origin")
LENGTH_FIELDS = {"documents": ("text",), "pairs": ("prompt", "response")}
BUCKETS = (0, 1, 10, 50, 100, 250, 500, 1000, 5000)  # lower edges of the word-count buckets
QUANTILES = (0.1, 0.5, 0.9, 0.99)
NONE = "(none)"
TOP = 10


@dataclass(frozen=True)
class TermList:
    category: str
    kind: str  # demographic | flag
    groups: dict[str, tuple[str, ...]]
    source: str = ""
    license: str = ""


def load_term_list(path: Path) -> TermList:
    data = json.loads(path.read_text(encoding="utf-8"))
    groups = {g: tuple(dict.fromkeys(t.strip().lower() for t in terms if t.strip()))
              for g, terms in data["groups"].items()}
    return TermList(data["category"], data.get("kind", "demographic"), groups, data.get("source", ""),
                    data.get("license", ""))


@functools.cache
def builtin_term_lists() -> tuple[TermList, ...]:
    """The shipped lists: demographic categories first (gender first), flag lists last."""
    lists = [load_term_list(p) for p in sorted(TERMS_DIR.glob("*.json"))]
    return tuple(sorted(lists, key=lambda t: (t.kind != "demographic", t.category != "gender", t.category)))


def term_lists(extra_terms: dict[str, list[str]] | None = None) -> list[TermList]:
    """The shipped lists plus the recipe's `extra_terms`: a key `category` adds a category with one group of that
    name; `category:group` adds a group to a category (a shipped one or a new one)."""
    lists = {t.category: TermList(t.category, t.kind, dict(t.groups), t.source, t.license)
             for t in builtin_term_lists()}
    for key, words in (extra_terms or {}).items():
        category, _, group = key.partition(":")
        category, group = category.strip(), (group or category).strip()
        terms = tuple(dict.fromkeys(w.strip().lower() for w in words if w.strip()))
        if not category or not terms:
            continue
        entry = lists.setdefault(category, TermList(category, "demographic", {}, "recipe: composition.extra_terms"))
        entry.groups[group] = tuple(dict.fromkeys(entry.groups.get(group, ()) + terms))
    return list(lists.values())


def group_pattern(terms: tuple[str, ...] | list[str]) -> str:
    """One regex matching any of the (lower-case) terms as whole words; longest first, so 'gay men' wins over 'gay'.
    Spaces inside a term match any run of whitespace."""
    alternatives = []
    for term in sorted(set(terms), key=lambda t: (-len(t), t)):
        body = r"\s+".join(re.escape(part) for part in term.split())
        alternatives.append(f"{_boundary(term[0])}{body}{_boundary(term[-1])}")
    return "(?:" + "|".join(alternatives) + ")"


def _boundary(edge: str) -> str:
    """A word boundary beside a term's first or last character: ASCII where it can be, because a Unicode `\b`
    makes the regex engine leave its fast DFA on non-ASCII text (20x slower on a long alternation)."""
    if not re.match(r"\w", edge):
        return ""
    return r"(?-u:\b)" if edge.isascii() else r"\b"


@functools.lru_cache(maxsize=8)
def _compiled(extra: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[TermList, list[tuple[str, str]]]]:
    return [(t, [(g, group_pattern(terms)) for g, terms in t.groups.items() if terms])
            for t in term_lists({k: list(v) for k, v in extra})]


def _text(table: str, schema: pl.Schema) -> pl.Expr:
    """The text a row says: a document's text; a pair's whole conversation (every turn, system included)."""
    if table == "documents":
        return pl.col("text").fill_null("")
    parts = [pl.col(c) for c in ("system", "prompt", "response") if c in schema]
    flat = pl.concat_str(parts, separator="\n", ignore_nulls=True) if parts else pl.lit("")
    if not isinstance(schema.get("messages"), pl.List):
        return flat.fill_null("")
    turns = pl.col("messages").list.eval(pl.element().struct.field("content")).list.join("\n", ignore_nulls=True)
    return pl.when(pl.col("messages").list.len() > 0).then(turns).otherwise(flat).fill_null("")


def _floor_2_digits(words: pl.Expr) -> pl.Expr:
    """Exact below 100, else rounded down to two significant digits (1234 -> 1200): bounded, mergeable histograms."""
    step = pl.lit(10.0).pow(words.clip(lower_bound=1).cast(pl.Float64).log10().floor() - 1).round(0).cast(pl.Int64)
    return pl.when(words < 100).then(words).otherwise(words // step.clip(lower_bound=1) * step)


def _counts(s: pl.Series) -> dict[str, int]:
    vc = s.cast(pl.String).fill_null(NONE).value_counts()
    return {str(k): int(n) for k, n in vc.iter_rows()}


def _split_stats(part: pl.DataFrame, table: str, compiled) -> dict:
    out: dict = {"rows": len(part), "by": {}, "length": {}, "terms": {}, "flags": {}}
    for dim in DIMENSIONS:
        if dim in part.columns:
            out["by"][dim] = _counts(part.get_column(dim))
    for field in LENGTH_FIELDS[table]:
        words = part.get_column(f"_words_{field}")
        out["length"][field] = {"sum": int(words.sum() or 0), "max": int(words.max() or 0),
                                "hist": _counts(part.select(_floor_2_digits(pl.col(f"_words_{field}"))).to_series())}
    exprs, names = [], []
    for terms, patterns in compiled:
        for group, pattern in patterns:
            names.append((terms, group))
            exprs.append(pl.col("_text").str.extract_all(pattern).alias(f"_m{len(exprs)}"))
    matches = part.select(exprs) if exprs else pl.DataFrame()
    flagged: dict[str, pl.Series] = {}
    for (terms, group), col in zip(names, matches.columns, strict=True):
        found = matches.get_column(col)
        n = found.list.len()
        hits = found.explode().drop_nulls().str.replace_all(r"\s+", " ")
        entry = {"rows": int((n > 0).sum()), "mentions": int(n.sum() or 0), "terms": _counts(hits) if len(hits) else {}}
        if terms.kind == "demographic":
            out["terms"].setdefault(terms.category, {})[group] = entry
        else:
            flagged[terms.category] = flagged[terms.category] | (n > 0) if terms.category in flagged else (n > 0)
            cat = out["flags"].setdefault(terms.category, {"rows": 0, "mentions": 0, "terms": {}})
            cat["mentions"] += entry["mentions"]
            for term, k in entry["terms"].items():
                cat["terms"][term] = cat["terms"].get(term, 0) + k
    for category, rows in flagged.items():
        out["flags"][category]["rows"] = int(rows.sum())
    return out


def composition_frame(df: pl.DataFrame, table: str, opts: CompositionOptions | None = None) -> dict:
    """Mergeable counts for one frame: {"tables": {table: {split: stats}}} (split "all" when there is none)."""
    opts = opts or CompositionOptions()
    compiled = _compiled(tuple((k, tuple(v)) for k, v in sorted(opts.extra_terms.items())))
    split = pl.col("split").cast(pl.String).fill_null(NONE) if "split" in df.columns else pl.lit("all")
    words = [pl.col(f).fill_null("").str.count_matches(r"\S+").cast(pl.Int64).alias(f"_words_{f}")
             for f in LENGTH_FIELDS[table] if f in df.columns]
    missing = [pl.lit(0, pl.Int64).alias(f"_words_{f}") for f in LENGTH_FIELDS[table] if f not in df.columns]
    base = df.select(split.alias("_split"), _text(table, df.schema).str.to_lowercase().alias("_text"),
                     *[c for c in DIMENSIONS if c in df.columns], *words, *missing)
    splits = {key[0]: part for key, part in base.partition_by("_split", as_dict=True).items()} if len(base) else {}
    return {"tables": {table: {name: _split_stats(part, table, compiled) for name, part in splits.items()}}}


@task(name="composition", cache_policy=NO_CACHE, task_run_name="composition-{shard.name}", **RETRYING)
def composition_shard(shard: Shard, opts: CompositionOptions) -> dict:
    return composition_frame(shard.read(), shard.table, opts)


# ---- merging ------------------------------------------------------------------------------------


def _merge_into(into: dict, part: dict) -> dict:
    for key, value in part.items():
        if isinstance(value, dict):
            _merge_into(into.setdefault(key, {}), value)
        elif key == "max":
            into[key] = max(into.get(key, value), value)
        else:
            into[key] = into.get(key, 0) + value
    return into


def merge(parts: list[dict]) -> dict:
    """Add up the stats of many shards (counts add, maxima take the larger)."""
    out: dict = {"tables": {}}
    for part in parts:
        _merge_into(out, part)
    return out


# ---- reading the stats --------------------------------------------------------------------------


def _ordered_splits(splits) -> list[str]:
    return sorted(splits, key=lambda s: (SPLITS.index(s) if s in SPLITS else len(SPLITS), s))


def _all_splits(per_split: dict) -> dict:
    return merge([{"x": s} for s in per_split.values()]).get("x", {})


def quantile(hist: dict[str, int], q: float) -> int:
    """The q-quantile of a word-count histogram (lower value at ties)."""
    values = sorted((int(k), n) for k, n in hist.items())
    total = sum(n for _, n in values)
    if not total:
        return 0
    rank, seen = max(1, math.ceil(q * total)), 0
    for value, n in values:
        seen += n
        if seen >= rank:
            return value
    return values[-1][0]


def bucket_counts(hist: dict[str, int]) -> list[tuple[str, int]]:
    labels = []
    for i, lo in enumerate(BUCKETS):
        hi = BUCKETS[i + 1] - 1 if i + 1 < len(BUCKETS) else None
        labels.append((lo, hi, str(lo) if hi == lo else f"{lo}-{hi}" if hi is not None else f"{lo}+"))
    out = []
    for lo, hi, label in labels:
        out.append((label, sum(n for k, n in hist.items() if int(k) >= lo and (hi is None or int(k) <= hi))))
    return out


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else ("-" if not a else "inf")


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def _top(counts: dict[str, int], n: int = TOP) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _row(*cells) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _rule(left: int, right: int) -> str:
    return "|" + "---|" * left + "---:|" * right


def _table_markdown(table: str, per_split: dict) -> list[str]:
    splits = [] if list(per_split) == ["all"] else _ordered_splits(per_split)  # no split column: "all" only
    total = _all_splits(per_split)
    rows = total.get("rows", 0)
    views = [*((s, per_split[s]) for s in splits), ("all", total)]  # each split, then all of them
    out = [f"### {table}", "", _row("split", "rows", "share"), _rule(1, 2)]
    out += [_row(name, st["rows"], _share(st["rows"], rows)) for name, st in views]

    out += ["", "#### Rows by language, source, licence, task and origin"]
    for dim in DIMENSIONS:
        counts = total.get("by", {}).get(dim)
        if not counts:
            continue
        out += ["", _row(dim, *splits, "all", "share"), _rule(1, len(splits) + 2)]
        for value, n in _top(counts):
            cells = [per_split[s].get("by", {}).get(dim, {}).get(value, 0) for s in splits]
            out.append(_row(value, *cells, n, _share(n, rows)))
        if len(counts) > TOP:
            rest = rows - sum(n for _, n in _top(counts))
            out.append(_row(f"({len(counts) - TOP} more)", *["" for _ in splits], rest, _share(rest, rows)))

    out += ["", "#### Length in words", "", _row("field", "split", "rows", "mean", "p10", "median", "p90", "p99",
                                                 "max"), _rule(2, 7)]
    fields = [f for f in LENGTH_FIELDS.get(table, ()) if f in total.get("length", {})]
    for field in fields:
        for name, st in views:
            length = st.get("length", {}).get(field)
            if length and st["rows"]:
                out.append(_row(field, name, st["rows"], f"{length['sum'] / st['rows']:.1f}",
                                *[quantile(length["hist"], q) for q in QUANTILES], length["max"]))
    if fields:
        buckets = {f: bucket_counts(total["length"][f]["hist"]) for f in fields}
        out += ["", _row("words", *fields), _rule(1, len(fields))]
        for i, (label, _) in enumerate(buckets[fields[0]]):
            out.append(_row(label, *[buckets[f][i][1] for f in fields]))
        out += ["", "Lengths of 100 words or more are counted rounded down to two significant digits."]

    out += ["", "#### Demographic terms", "",
            "A row mentions a group when one of the group's terms occurs in it as a whole word. Counts describe "
            "the data; they are not judgements about it.", "",
            _row("category", "group", "rows", "share of rows", "mentions", "share of category",
                 *[f"{s} rows" for s in splits]), _rule(2, 4 + len(splits))]
    terms = total.get("terms", {})
    for category, groups in terms.items():
        category_mentions = sum(g["mentions"] for g in groups.values())
        for group, g in groups.items():
            by_split = [per_split[s].get("terms", {}).get(category, {}).get(group, {}).get("rows", 0) for s in splits]
            out.append(_row(category, group, g["rows"], _share(g["rows"], rows), g["mentions"],
                            _share(g["mentions"], category_mentions), *by_split))
    gender = terms.get("gender", {})
    if "female" in gender and "male" in gender:
        per = ", ".join(f"{name} {ratio(_mentions(st, 'female'), _mentions(st, 'male'))}" for name, st in views)
        out += ["", f"Female:male ratio of mentions: {per}; of rows mentioning them (all): "
                f"{ratio(gender['female']['rows'], gender['male']['rows'])}."]
    if terms:
        out += ["", _row("category", "most frequent terms"), _rule(2, 0)]
        for category, groups in terms.items():
            counts: dict[str, int] = {}
            for g in groups.values():
                for term, n in g.get("terms", {}).items():
                    counts[term] = counts.get(term, 0) + n
            out.append(_row(category, ", ".join(f"{t} ({n})" for t, n in _top(counts)) or "-"))

    out += ["", "#### Flagged terms", ""]
    flags = total.get("flags", {})
    if not flags:
        out.append("no flag list")
    for category, f in flags.items():
        out += [_row(category, "rows", "rows flagged", "share flagged", "mentions"), _rule(1, 4)]
        for name, st in views:
            fs = st.get("flags", {}).get(category, {"rows": 0, "mentions": 0})
            out.append(_row(name, st["rows"], fs["rows"], _share(fs["rows"], st["rows"]), fs["mentions"]))
        top = ", ".join(f"{t} ({n})" for t, n in _top(f.get("terms", {})))
        out += ["", f"Most frequent {category} terms: {top or 'none'}."]
    return out


def _mentions(stats: dict, group: str) -> int:
    return stats.get("terms", {}).get("gender", {}).get(group, {}).get("mentions", 0)


def composition_markdown(stats: dict, heading: bool = True) -> str:
    """The report as markdown tables (run report and dataset card); counts and term names, never row text.

    `stats` is `merge()`'s result (a manifest's whole `stats`, holding it under `composition`, is accepted too);
    `heading=False` leaves out the "## Composition and bias" title for a caller that writes its own."""
    if "tables" not in stats and isinstance(stats.get("composition"), dict):
        stats = stats["composition"]
    by_source: dict[tuple[str, str], list[str]] = {}
    for t in builtin_term_lists():
        by_source.setdefault((t.source, t.license), []).append(t.category)
    sources = [f"- {', '.join(cats)}: {src} ({lic})" for (src, lic), cats in by_source.items()]
    out = ["## Composition and bias", ""] if heading else []
    out += ["Counted over the rows going into the export; nothing was filtered on these counts. Pairs are counted over "
           "their whole conversation, documents over their text.", "", "Term lists (`tasks/data/terms/`):", *sources]
    tables = stats.get("tables", {})
    if not tables:
        out += ["", "no rows"]
    for table in ("documents", "pairs", *sorted(set(tables) - {"documents", "pairs"})):
        if table in tables:
            out += ["", *_table_markdown(table, tables[table])]
    return "\n".join(out) + "\n"
