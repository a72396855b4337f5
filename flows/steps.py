"""How each stage of the registry (`tasks.core.stages.STAGES`) runs inside the build flow.

A step maps a stage's task over the shards and returns a `StageRun`: the shards for the next stage and what the
stage did, from which the flow fills the run report. A row stage needs no step of its own: `rows` runs any of
them through the generic task. Steps hold the wiring only; the work is in the tasks they call.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import ExitStack
from dataclasses import dataclass, field

from prefect import get_run_logger, unmapped
from prefect.artifacts import create_markdown_artifact

from pairforge.tasks.annotate.stage import annotation_client, round_waiter, run_round
from pairforge.tasks.core import bounds, storage
from pairforge.tasks.core.pool import cpu_pool
from pairforge.tasks.core.recipe import Recipe
from pairforge.tasks.core.report import RunReport, StageRun, rows_per_table, source_of
from pairforge.tasks.core.settings import get_settings
from pairforge.tasks.core.shards import Shard, apply_row_stage, contents_key, keys_only
from pairforge.tasks.core.stages import Stage, row_stage
from pairforge.tasks.curate.decontaminate import build_ngram_index, top_ngrams
from pairforge.tasks.curate.dedup import find_duplicates, signature_shard, update_index
from pairforge.tasks.ingest.sources import batch_files, ingest_files, resolve_source_files
from pairforge.tasks.pairs.augment import augment_shard, plan_cutoffs
from pairforge.tasks.pairs.generate import Endpoint, ensure_llm_limit, generate_pairs, model_endpoint
from pairforge.tasks.pairs.judge import judge_shard
from pairforge.tasks.privacy.erase import REGISTER, erased_signatures_uri
from pairforge.tasks.privacy.pii import get_scrubber
from pairforge.tasks.privacy.pii_stage import scrub_processes, scrub_shard
from pairforge.tasks.publish.composition import composition_shard, merge
from pairforge.tasks.publish.export import export_version
from pairforge.tasks.publish.split import plan_splits, split_shard
from pairforge.tasks.publish.validate import summarise, validate_shard


class ValidationFailed(RuntimeError):
    """A critical expectation failed; nothing was published."""


class NothingToExport(RuntimeError):
    """Every row was quarantined or rejected."""


class GenerationFailed(RuntimeError):
    """Too many model requests failed; their requests are in the dead-letter table."""


STATS_IN_MANIFEST = ("stages", "sources", "quarantine", "rejected", "changed", "reused", "pii", "pii_by_source",
                     "no_ner", "validation", "llm", "dead_letter", "dedup", "decontamination", "annotation", "augment",
                     "composition")


@dataclass
class Run:
    """What every step of one build sees: the recipe, the version, its work area, the report so far (read by the
    validation and the export) and the model endpoint, started on first use and stopped with the run."""

    recipe: Recipe
    version: str
    work_uri: str
    report: RunReport
    resources: ExitStack = field(default_factory=ExitStack)
    _endpoint: Endpoint | None = None

    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            ensure_llm_limit(get_settings().llm_concurrency_limit)
            self._endpoint = self.resources.enter_context(model_endpoint(self.recipe.generate))
        return self._endpoint

    def llm_cache_uri(self) -> str:
        return self.recipe.generate.cache_uri or storage.join(self.recipe.dataset_uri, "_cache", "llm")

    def index_uri(self) -> str:
        return self.recipe.dedup.index_uri or storage.join(self.recipe.dataset_uri, "_index")


def _only(shards: list[Shard], tables) -> tuple[list[Shard], list[Shard]]:
    """(shards of the given tables, the others)."""
    return [s for s in shards if s.table in tables], [s for s in shards if s.table not in tables]


def _by_table(shards: list[Shard]) -> dict[str, list[Shard]]:
    out: dict[str, list[Shard]] = {}
    for s in shards:
        out.setdefault(s.table, []).append(s)
    return out


def rows(run: Run, stage: Stage, shards: list[Shard], options=None) -> StageRun:
    """Any row stage: its options from the recipe (or given, for stages whose options are computed by a step),
    over the shards of its tables."""
    impl = row_stage(stage.name)
    options = impl.options(run.recipe) if options is None else options
    todo, rest = _only(shards, impl.tables(run.recipe))
    if options is None or not todo:
        return StageRun(stage.name, shards)
    results = apply_row_stage.map(unmapped(stage.name), todo, unmapped(options), unmapped(run.work_uri)).result()
    kept = [r.shard for r in results]
    return StageRun(stage.name, rest + kept, rows_per_table(todo, kept), results)


def ingest(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    recipe = run.recipe
    jobs = [(src, batch) for src in recipe.sources for batch in batch_files(resolve_source_files(src))]
    if recipe.sample_rows:  # a trial: the first batch of each source is enough
        jobs = [job for i, job in enumerate(jobs) if i == 0 or jobs[i - 1][0] is not job[0]]
    results = ingest_files.map(
        [src for src, _ in jobs], [batch for _, batch in jobs], list(range(len(jobs))),
        unmapped(recipe.languages[0]), unmapped(run.work_uri), unmapped(recipe.work_shard_rows),
        unmapped(recipe.sample_rows),
    ).result()
    quarantined = [r.quarantine_uri for r in results if r.quarantine_uri]
    out = StageRun(stage.name, [s for res in results for s in res.shards],
                   files={"quarantine/quarantine.parquet": quarantined},
                   reused=sum(r.rows for r in results if r.resumed))
    for res in results:
        src = out.sources.setdefault(res.source, {"files": 0, "rows": 0, "quarantined": 0})
        src["files"] += res.files
        src["rows"] += res.rows
        src["quarantined"] += sum(res.quarantine.values())
        out.quarantine.update(res.quarantine)
    for table in sorted({src.table for src in recipe.sources}):
        kept = sum(s.rows for s in out.shards if s.table == table)
        bad = sum(out.sources.get(src.name, {}).get("quarantined", 0) for src in recipe.sources if src.table == table)
        out.rows.append((table, kept + bad, kept))
    if not any(s.rows for s in out.shards):
        out.failure = NothingToExport(f"no rows to build from: every row of every source was quarantined "
                                      f"({sum(out.quarantine.values())} rows)")
    return out


def drop_erased(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """Rows erased on request from earlier versions stay out, though their sources still hold them."""
    register = storage.join(run.recipe.dataset_uri, REGISTER)
    if (erased := storage.read_if_exists(register)) is None:
        return StageRun(stage.name, shards)
    return rows(run, stage, shards, (register, hashlib.sha256(erased).hexdigest()[:16]))


def scrub(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    if not run.recipe.pii.enabled:
        return StageRun(stage.name, shards)
    options = run.recipe.pii
    workers = scrub_processes(options, sum(s.rows for s in shards), get_settings().runner)
    # worker processes (each builds its scrubber as it starts) take the batches of every shard's task
    with cpu_pool(workers, warm=(get_scrubber, (options,))):
        results = scrub_shard.map(shards, unmapped(options), unmapped(run.work_uri)).result()
    scrubbed = [r.shard for r in results]
    return StageRun(stage.name, scrubbed, rows_per_table(shards, scrubbed), results)


def dedup(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """Exact and near-duplicate removal over the entry's table; keeps the signature files for the index."""
    opts, table = run.recipe.dedup, stage.table
    todo, rest = _only(shards, [table])
    if table not in opts.tables or not (opts.exact or opts.near) or not any(s.rows for s in todo):
        return StageRun(stage.name, shards)
    uris = [u for u in signature_shard.map(todo, unmapped(opts), unmapped(run.work_uri)).result() if u]
    erased = erased_signatures_uri(run.recipe.dataset_uri, table)
    read = [erased] + ([storage.join(run.index_uri(), table)] if opts.incremental else [])
    found = find_duplicates(uris, opts, table, run.index_uri(), run.work_uri, version=run.version,
                            erased_uri=erased, inputs=contents_key(read))
    out = rows(run, stage, todo, (found["decisions_uri"], opts))
    out.shards = rest + out.shards
    out.dedup, out.signatures = {table: found["stats"]}, {table: uris}
    return out


def generate(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """Each generator in turn over its input shards (documents, or seed pairs), one at a time: the endpoint's
    `max_concurrency` bounds the requests in flight."""
    gen = run.recipe.generate
    if not gen.generators:
        return StageRun(stage.name, shards)
    endpoint = run.endpoint() if gen.needs_model else None
    seeds = [s for s in shards if s.table == "pairs"]  # generators read what came in, not each other's pairs
    results = []
    for i, spec in enumerate(gen.generators):
        pool = [s for s in shards if s.table == spec.input_table]
        inputs = [s for s in pool if not spec.sources or source_of(s) in spec.sources]
        results.append(generate_pairs(spec, i, inputs, endpoint, gen, run.llm_cache_uri(), run.recipe.languages[0],
                                      run.work_uri))
    made = [r.shard for r in results]
    rows_in = sum(s.rows for s in seeds)
    out = StageRun(stage.name, shards + made, [("pairs", rows_in, rows_in + sum(s.rows for s in made))], results)
    dead, submitted = sum(r.dead for r in results), sum(r.submitted for r in results)
    if dead and dead > gen.max_failed_share * submitted:
        out.failure = GenerationFailed(
            f"{dead} of {submitted} model requests failed (more than {gen.max_failed_share:.0%}); "
            f"see {storage.join(run.work_uri, 'dead_letter')}; nothing was published")
    return out


def judge(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    gen = run.recipe.generate
    pairs, rest = _only(shards, ["pairs"])
    if not gen.judge.enabled or not pairs:
        return StageRun(stage.name, shards)
    endpoint = run.endpoint()
    # one shard at a time, like generation, to keep the endpoint's concurrency bound
    results = [judge_shard(s, endpoint, gen, run.llm_cache_uri(), run.work_uri) for s in pairs]
    judged = [r.shard for r in results]
    return StageRun(stage.name, rest + judged, rows_per_table(pairs, judged), results)


def annotate(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """Pairs to people in Label Studio and back (opt-in): the flow run pauses or polls until the round is done."""
    opts = run.recipe.annotate
    pairs, rest = _only(shards, ["pairs"])
    if not opts.enabled or not pairs:
        return StageRun(stage.name, shards)
    done = run_round(annotation_client(opts), pairs, opts, dataset=run.recipe.name, version=run.version,
                     dataset_uri=run.recipe.dataset_uri, work_uri=run.work_uri, wait=round_waiter(opts))
    return StageRun(stage.name, rest + done.shards, rows_per_table(pairs, done.shards), done.results,
                    annotation=done.summary)


def split(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """Leakage-free splits over both tables."""
    plan = plan_splits(shards, run.recipe.split, run.work_uri)
    results = split_shard.map(shards, unmapped(plan), unmapped(run.work_uri)).result()
    out = [r.shard for r in results]
    return StageRun(stage.name, out, rows_per_table(shards, out), results)


def decontaminate(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """Training rows that overlap the held-out splits or a benchmark are rejected."""
    opts = run.recipe.decontaminate
    if not opts.enabled or not (opts.against_splits or opts.benchmarks):
        return StageRun(stage.name, shards)
    ngrams = build_ngram_index(shards, opts, run.work_uri, contents_key([b.uri for b in opts.benchmarks]))
    done = rows(run, stage, shards, (ngrams, opts))
    done.top_ngrams = top_ngrams([r.rejected_uri for r in done.results if r.rejected_uri])
    return done


def augment(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """Extra training pairs (opt-in): noise in parallel; model rewrites one shard at a time."""
    opts, gen = run.recipe.augment, run.recipe.generate
    pairs, rest = _only(shards, ["pairs"])
    if not opts.enabled or not pairs:
        return StageRun(stage.name, shards)
    cutoffs = plan_cutoffs(pairs, opts, gen.max_tokens)  # max_rows holds over the dataset, not per shard
    if opts.paraphrase or opts.back_translation:
        endpoint = run.endpoint()
        results = [augment_shard(s, opts, endpoint, gen, run.llm_cache_uri(), run.work_uri, cutoffs) for s in pairs]
    else:
        results = augment_shard.map(pairs, unmapped(opts), unmapped(None), unmapped(gen), unmapped(None),
                                    unmapped(run.work_uri), unmapped(cutoffs)).result()
    out = [r.shard for r in results]
    return StageRun(stage.name, rest + out, rows_per_table(pairs, out), results)


def validate(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """The expectation suites per shard; a critical failure stops the run before anything is published."""
    if not run.recipe.validation.enabled:
        return StageRun(stage.name, shards)
    # empty shards add nothing; a table whose shards are all empty is still validated once (row count)
    todo = [s for of_table in _by_table(shards).values() for s in ([x for x in of_table if x.rows] or of_table[:1])]
    reports = validate_shard.map(todo, unmapped(run.recipe.validation.suites_dir)).result()
    out = StageRun(stage.name, shards, validation_report_uri=storage.join(run.work_uri, "validation"))
    for table, summary in summarise(reports)["tables"].items():
        out.validation[table] = summary
        shard_reports = [r for r in reports if r["table"] == table]
        storage.write_bytes(storage.join(run.work_uri, "validation", f"{table}.json"),
                            json.dumps({"summary": summary, "shards": shard_reports}, indent=2).encode())
    if failed := [t for t, v in out.validation.items() if not v["critical_success"]]:
        out.failure = ValidationFailed(f"critical expectations failed for {', '.join(failed)}; nothing was "
                                       f"published. Report: {out.validation_report_uri}")
    return out


def compose(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """The composition report, over what is exported."""
    if not run.recipe.composition.enabled:
        return StageRun(stage.name, shards)
    exported = [s for s in shards if run.recipe.export.keep_documents or s.table != "documents"]
    return StageRun(stage.name, shards,
                    composition=merge(composition_shard.map(exported, unmapped(run.recipe.composition)).result()))


def export(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
    """Publish the version (LATEST moves last); then the card artifact, the dedup index and the work area's
    removal, none of which may fail a published run."""
    recipe, report = run.recipe, run.report
    tables = _by_table(shards)
    files = {name: list(parts) for name, parts in report.files.items()}
    if not recipe.export.keep_documents:  # not redistributed: nor are the texts of rejected documents
        tables.pop("documents", None)
        for uri in files.get("rejected/documents.parquet", []):
            storage.write_parquet(keys_only(storage.read_parquet(uri)), uri)
    validation_files = {}
    if report.validation:
        for table in report.validation:
            rel = f"validation/{table}.json"
            validation_files[rel] = storage.read_bytes(storage.join(run.work_uri, rel))
    stats = {k: v for k, v in report.to_dict().items() if k in STATS_IN_MANIFEST}
    manifest = export_version(tables, recipe.dataset_uri, run.version, recipe.export.shard_rows, validation_files,
                              {**recipe.manifest_fields(), "stats": stats}, files, recipe.export.formats)
    out = StageRun(stage.name, shards, exported=manifest["tables"], output_uri=storage.join(recipe.dataset_uri,
                                                                                            run.version))
    out.rows = [(t, sum(s.rows for s in tables[t]), sum(st["rows"].values())) for t, st in manifest["tables"].items()]
    try:
        create_markdown_artifact(key=f"{recipe.name}-dataset-card", description="dataset card (README.md)",
                                 markdown=storage.read_bytes(storage.join(out.output_uri, "README.md")).decode())
        for table, uris in report.signatures.items():  # what this version published, for later incremental runs
            if table in tables:
                update_index(run.index_uri(), table, run.version, out.output_uri, uris)
    except Exception as e:
        get_run_logger().warning("published, but the card artifact or the dedup index could not be written: %s", e)
    if not recipe.export.keep_work:  # intermediate shards hold text from before the PII scrub
        storage.delete_tree(run.work_uri, within=run.recipe.work_root)
    return out


# How each stage runs; a row stage (`rows=` in the registry) needs no entry.
STEPS = {
    "ingest": ingest,
    "erased": drop_erased,
    "pii": scrub,
    "dedup": dedup,
    "generate": generate,
    "judge": judge,
    "annotate": annotate,
    "split": split,
    "decontaminate": decontaminate,
    "augment": augment,
    "validation": validate,
    "composition": compose,
    "export": export,
}


def step(stage: Stage):
    """How `stage` runs, followed by the sanity bounds on what it did (tasks.core.bounds)."""
    run_stage = STEPS.get(stage.name, rows)

    def checked(run: Run, stage: Stage, shards: list[Shard]) -> StageRun:
        done = run_stage(run, stage, shards)
        done.failure = done.failure or bounds.check(run.recipe, done)
        return done

    return checked

