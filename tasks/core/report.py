"""The run report: counts gathered by the flow, rendered as markdown for the Prefect artifact.

It holds counts and reasons only, never row contents (which may be personal data).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pairforge.tasks.core.shards import Shard, StageResult
from pairforge.tasks.core.stages import NAMES as STAGE_ORDER


@dataclass
class StageRun:
    """What one stage did to the whole run. Every step of the build flow returns one; the run report is filled
    from them (`RunReport.add`) and from nothing else."""

    stage: str
    shards: list[Shard]  # every shard after the stage: the next stage's input
    rows: list[tuple[str, int, int]] = field(default_factory=list)  # (table, rows in, rows out); none: it did not run
    results: list[StageResult] = field(default_factory=list)  # one per stage task
    files: dict[str, list[str]] = field(default_factory=dict)  # version file -> work-area parts (quarantine, ...)
    sources: dict[str, dict] = field(default_factory=dict)  # ingest: source -> {files, rows, quarantined}
    quarantine: Counter = field(default_factory=Counter)  # ingest: reason -> rows
    dedup: dict[str, dict] = field(default_factory=dict)  # table -> duplicate statistics
    signatures: dict[str, list[str]] = field(default_factory=dict)  # table -> signature files, for the dedup index
    validation: dict[str, dict] = field(default_factory=dict)  # table -> summary
    validation_report_uri: str | None = None
    composition: dict = field(default_factory=dict)
    exported: dict[str, dict] = field(default_factory=dict)
    output_uri: str | None = None  # set by the export: the version is live
    reused: int = 0  # rows whose work an earlier attempt had done (stages without StageResults: ingest)
    top_ngrams: list[tuple[str, int]] = field(default_factory=list)  # decontamination: shared n-gram -> rows removed
    annotation: dict = field(default_factory=dict)  # human annotation: the round's quality figures
    failure: Exception | None = None  # the run stops here, once what the stage did is recorded


def rows_per_table(before: list[Shard], after: list[Shard]) -> list[tuple[str, int, int]]:
    """(table, rows in, rows out) for each table of `before`."""
    return [(table, sum(s.rows for s in before if s.table == table), sum(s.rows for s in after if s.table == table))
            for table in sorted({s.table for s in before})]


def source_of(shard: Shard) -> str:
    return shard.name.rsplit("-", 2)[0]  # shard names are <source>-<batch>-<chunk>


@dataclass
class RunReport:
    dataset: str
    version: str
    status: str = "running"
    output_uri: str | None = None
    stages: list[dict] = field(default_factory=list)  # {stage, table, rows_in, rows_out}
    sources: dict[str, dict] = field(default_factory=dict)  # name -> {files, rows, quarantined}
    quarantine: Counter = field(default_factory=Counter)  # reason -> rows
    rejected: Counter = field(default_factory=Counter)  # "stage: reason" -> rows
    pii: Counter = field(default_factory=Counter)  # entity type -> findings
    pii_by_source: dict[str, Counter] = field(default_factory=dict)  # source -> entity type -> findings
    no_ner: Counter = field(default_factory=Counter)  # language -> documents scrubbed by patterns only
    llm: Counter = field(default_factory=Counter)  # requests, cache_hits, retries, failures, tokens_in, tokens_out
    dead_letter: int = 0  # model requests that failed for good
    dedup: dict[str, dict] = field(default_factory=dict)  # table -> {exact_dropped, near_dropped, clusters, ...}
    decontamination: list[tuple[str, int]] = field(default_factory=list)  # shared n-grams behind most removals
    annotation: dict = field(default_factory=dict)  # the annotation round (tasks.annotate.round.report_summary)
    augment: Counter = field(default_factory=Counter)  # method -> pairs added
    changed: Counter = field(default_factory=Counter)  # "stage: what" -> rows kept but changed
    reused: Counter = field(default_factory=Counter)  # stage -> rows whose work an earlier attempt had done
    composition: dict = field(default_factory=dict)  # tasks.publish.composition.merge() of every shard
    validation: dict[str, dict] = field(default_factory=dict)  # table -> summary
    validation_report_uri: str | None = None
    work_uri: str | None = None
    exported: dict[str, dict] = field(default_factory=dict)  # table -> {rows: {split: n}, ...}
    on_progress: Callable[[float], None] | None = field(default=None, repr=False)  # percent done
    # version file -> work-area parts the stages left for the export (quarantine, rejected, dead letter)
    files: dict[str, list[str]] = field(default_factory=lambda: {"quarantine/quarantine.parquet": [],
                                                                 "dead_letter/dead_letter.parquet": []})
    signatures: dict[str, list[str]] = field(default_factory=dict)  # table -> dedup signature files
    _done: float = field(default=0.0, repr=False)

    def add(self, run: StageRun) -> list[Shard]:
        """Record what a stage did; returns the shards for the next stage."""
        for table, rows_in, rows_out in run.rows:
            self.stage(run.stage, table, rows_in, rows_out)
        for r in run.results:
            self.rejected.update({f"{r.stage}: {k}": v for k, v in r.rejected.items()})
            self.changed.update({f"{r.stage}: {k}": v for k, v in r.changed.items()})
            if r.resumed or r.reused:  # a rerun says what it took over from the attempt before
                self.reused[r.stage] += r.shard.rows if r.resumed else r.reused
            self.add_pii(source_of(r.shard), r.pii)
            self.augment.update(r.added)
            if r.llm:  # requests of this run only: a task reused from an earlier attempt made none now
                self.llm.update({"resumed_tasks": 1} if r.resumed else r.llm)
            self.dead_letter += r.dead
            if r.rejected_uri:
                self.files.setdefault(f"rejected/{r.shard.table}.parquet", []).append(r.rejected_uri)
            if r.dead_uri:
                self.files["dead_letter/dead_letter.parquet"].append(r.dead_uri)
        if run.reused:
            self.reused[run.stage] += run.reused
        for name, files in run.files.items():
            self.files.setdefault(name, []).extend(files)
        for name, counts in run.sources.items():
            mine = self.sources.setdefault(name, {"files": 0, "rows": 0, "quarantined": 0})
            for key, n in counts.items():
                mine[key] += n
        self.quarantine.update(run.quarantine)
        self.dedup.update(run.dedup)
        self.decontamination = run.top_ngrams or self.decontamination
        self.annotation = run.annotation or self.annotation
        self.signatures.update(run.signatures)
        self.validation.update(run.validation)
        self.validation_report_uri = run.validation_report_uri or self.validation_report_uri
        self.composition = run.composition or self.composition
        if run.output_uri:
            self.exported, self.output_uri, self.status = run.exported, run.output_uri, "completed"
        return run.shards

    def stage(self, stage: str, table: str, rows_in: int, rows_out: int) -> None:
        self.stages.append({"stage": stage, "table": table, "rows_in": rows_in, "rows_out": rows_out})
        if self.on_progress and stage in STAGE_ORDER:  # dedup runs twice (documents, pairs): never go back
            self._done = max(self._done, 100.0 * (STAGE_ORDER.index(stage) + 1) / len(STAGE_ORDER))
            self.on_progress(self._done)

    def add_pii(self, source: str, found: dict[str, int]) -> None:
        for key, n in found.items():
            if key.startswith("no_ner:"):
                self.no_ner[key.removeprefix("no_ner:")] += n
            else:
                self.pii[key] += n
                self.pii_by_source.setdefault(source, Counter())[key] += n

    def source_rows(self) -> list[dict]:
        return [{"source": name, **counts} for name, counts in self.sources.items()]

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset, "version": self.version, "status": self.status, "output_uri": self.output_uri,
            "stages": self.stages, "sources": self.sources, "quarantine": dict(self.quarantine),
            "rejected": dict(self.rejected), "pii": dict(self.pii),
            "pii_by_source": {k: dict(v) for k, v in self.pii_by_source.items()}, "no_ner": dict(self.no_ner),
            "llm": dict(self.llm),
            "dead_letter": self.dead_letter, "validation": self.validation, "dedup": self.dedup,
            "decontamination": [{"ngram": g, "rows": n} for g, n in self.decontamination],
            "annotation": self.annotation,
            "augment": dict(self.augment), "changed": dict(self.changed), "reused": dict(self.reused),
            "composition": self.composition,
            "exported": self.exported,
        }

    def markdown(self) -> str:
        lines = [f"# pairforge run: {self.dataset} {self.version}", "", f"**Status:** {self.status}  "]
        if self.output_uri:
            lines.append(f"**Output:** `{self.output_uri}`  ")
        if self.validation_report_uri and self.status != "completed":
            lines.append(f"**Validation report:** `{self.validation_report_uri}`  ")
        if self.work_uri and self.status != "completed":
            lines.append(f"**Work area (kept for inspection):** `{self.work_uri}`  ")
        if self.output_uri and self.quarantine:
            lines.append(f"**Quarantined rows listed in:** `{self.output_uri}/quarantine/quarantine.parquet`  ")
        lines += ["", "## Rows per stage", "", "| stage | table | in | out |", "|---|---|---:|---:|"]
        lines += [f"| {s['stage']} | {s['table']} | {s['rows_in']} | {s['rows_out']} |" for s in self.stages]
        lines += ["", "## Sources", "", "| source | files | rows | quarantined |", "|---|---:|---:|---:|"]
        lines += [f"| {n} | {s['files']} | {s['rows']} | {s['quarantined']} |" for n, s in self.sources.items()]
        lines += _counter_table("Quarantined rows (top reasons)", "reason", self.quarantine)
        lines += _counter_table("Rejected rows (top reasons)", "reason", self.rejected)
        if self.changed:
            lines += _counter_table("Rows kept but changed", "change", self.changed)
        if self.reused:
            lines += ["", "## Reused from an earlier attempt of this version", "", "| stage | rows |", "|---|---:|"]
            lines += [f"| {stage} | {n} |" for stage, n in self.reused.items()]
        lines += _counter_table("PII found per entity type", "entity", self.pii)
        if self.pii_by_source:
            entities = sorted(self.pii)
            lines += ["", "## PII found per source", "", "| source | " + " | ".join(entities) + " |",
                      "|---|" + "---:|" * len(entities)]
            lines += [f"| {src} | " + " | ".join(str(c.get(e, 0)) for e in entities) + " |"
                      for src, c in self.pii_by_source.items()]
        if self.no_ner:
            lines += ["", "## Languages without an NER model (names not detected; patterns only)", "",
                      "| language | documents |", "|---|---:|"]
            lines += [f"| {lang} | {n} |" for lang, n in self.no_ner.most_common()]
        if self.dedup:
            keys = sorted({k for stats in self.dedup.values() for k in stats})
            lines += ["", "## Duplicates", "", "| table | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
            lines += [f"| {t} | " + " | ".join(str(st.get(k, "")) for k in keys) + " |" for t, st in self.dedup.items()]
        if self.decontamination:
            lines += ["", "## Decontamination: shared n-grams behind the most removals", "", "| n-gram | rows |",
                      "|---|---:|"]
            lines += [f"| {gram} | {n} |" for gram, n in self.decontamination]
        if self.annotation:
            lines += ["", "## Human annotation", "", "| kind | items | annotators | alpha | kappa | excluded "
                      "| resolved | adjudicated | awaiting adjudication | rejected |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
            lines += [f"| {k} | {s['items']} | {s['annotators']} | {_fmt(s['alpha'])} | {_fmt(s['kappa'])} | "
                      f"{s['excluded_annotators']} | {s['resolved']} | {s.get('adjudicated', 0)} | {s['adjudicate']} | "
                      f"{s['rejected']} |"
                      for k, s in self.annotation.get("kinds", {}).items()]
        if self.augment:
            lines += _counter_table("Augmented training pairs", "method", self.augment)
        if self.llm:
            lines += ["", "## Model requests", "", "| " + " | ".join(self.llm) + " | dead letter |",
                      "|" + "---:|" * (len(self.llm) + 1), "| " + " | ".join(map(str, self.llm.values()))
                      + f" | {self.dead_letter} |"]
        if self.validation:
            lines += ["", "## Validation", "", "| table | success | critical ok | failed expectations |",
                      "|---|---|---|---|"]
            for table, v in self.validation.items():
                failed = ", ".join(f"{r['type']} ({r['severity']})" for r in v["results"] if not r["success"]) or "-"
                lines.append(f"| {table} | {v['success']} | {v['critical_success']} | {failed} |")
        if self.exported:
            lines += ["", "## Exported", "", "| table | train | validation | test | duplicates dropped |",
                      "|---|---:|---:|---:|---:|"]
            for table, e in self.exported.items():
                r = e["rows"]
                lines.append(f"| {table} | {r['train']} | {r['validation']} | {r['test']} | "
                             f"{e['exact_duplicates_dropped']} |")
        if self.composition:
            from pairforge.tasks.publish.composition import composition_markdown

            lines += ["", composition_markdown(self.composition).rstrip()]
        return "\n".join(lines) + "\n"


def _counter_table(title: str, what: str, counts: Counter, top: int = 10) -> list[str]:
    if not counts:
        return ["", f"## {title}", "", "none"]
    out = ["", f"## {title}", "", f"| {what} | rows |", "|---|---:|"]
    out += [f"| {k} | {v} |" for k, v in counts.most_common(top)]
    if len(counts) > top:
        out.append(f"| ({len(counts) - top} more) | {sum(v for _, v in counts.most_common()[top:])} |")
    return out


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
