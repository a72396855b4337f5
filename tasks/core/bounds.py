"""Sanity bounds: a stage that removes more than a recipe-set share of a table, or a split left empty, stops the
run before anything is published.

A run that silently publishes a training split emptied by decontamination, or a table halved by an over-eager
filter, looks like success. `check` runs after every stage on what it did (a `StageRun`) and returns the failure
to raise, naming the stage, the table, the share, the top reasons and the recipe key that changes the bound.
"""

from __future__ import annotations

from collections import Counter

from pairforge.tasks.core import storage
from pairforge.tasks.core.report import StageRun
from pairforge.tasks.core.schema import SPLITS

# stages after which the rows per split can change (split assigns them; decontamination removes training rows)
SPLIT_STAGES = ("split", "decontaminate")


class BoundExceeded(RuntimeError):
    """A stage removed more than its bound allows, or left a split empty; nothing was published."""


def _top_reasons(done: StageRun, table: str, n: int = 3) -> str:
    reasons: Counter = Counter()
    for r in done.results:
        if r.shard.table == table:
            reasons.update(r.rejected)
    top = ", ".join(f"{reason} ({count})" for reason, count in reasons.most_common(n)) or "none recorded"
    if done.top_ngrams:  # decontamination: what the removed rows share
        top += "; shared n-grams behind most removals: " + ", ".join(
            f'"{gram}" ({rows})' for gram, rows in done.top_ngrams[:n])
    return top


def rows_per_split(done: StageRun) -> dict[str, Counter]:
    """table -> split -> rows, read from the `split` column of the stage's output shards."""
    out: dict[str, Counter] = {}
    for shard in done.shards:
        counts = out.setdefault(shard.table, Counter())
        if shard.rows:
            splits = storage.read_parquet(shard.uri, columns=["split"]).get_column("split")
            counts.update(dict(splits.value_counts().iter_rows()))
    return out


def check(recipe, done: StageRun) -> BoundExceeded | None:
    """The failure a stage's outcome calls for, or None."""
    opts = recipe.bounds
    for table, rows_in, rows_out in done.rows:
        if rows_in < max(opts.min_rows, 1) or rows_out >= rows_in:
            continue
        share, bound = (rows_in - rows_out) / rows_in, opts.bound(done.stage)
        if share > bound:
            return BoundExceeded(
                f"{done.stage} removed {share:.0%} of {table} ({rows_in - rows_out} of {rows_in} rows; top reasons: "
                f"{_top_reasons(done, table)}), more than its bound of {bound:.0%}; nothing was published. "
                f"To allow it, set bounds.stages.{done.stage} (0-1) in the recipe")
    if done.stage in SPLIT_STAGES and done.rows and opts.empty_splits == "fail":
        wanted = [s for s in SPLITS if getattr(recipe.split, s) > 0]
        rows_in = {table: n for table, n, _ in done.rows}
        for table, counts in rows_per_split(done).items():
            total = sum(counts.values())
            if rows_in.get(table, 0) >= max(opts.min_rows, 1) and (empty := [s for s in wanted if not counts.get(s)]):
                return BoundExceeded(
                    f"after {done.stage}, the {'/'.join(empty)} split of {table} is empty ({total} rows: "
                    f"{', '.join(f'{s} {counts.get(s, 0)}' for s in SPLITS)}; top reasons: "
                    f"{_top_reasons(done, table)}); nothing was published. To publish anyway, set "
                    f"bounds.empty_splits: allow")
    return None

