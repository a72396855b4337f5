"""The `build_dataset` flow: recipe -> ingest -> normalise -> identify language -> quality filters ->
scrub PII -> dedup documents -> make pairs (generate, check, judge) -> dedup pairs -> split ->
decontaminate -> augment -> validate -> composition report -> export (+ dedup index).

The flow only wires stages together; each stage is a task in `tasks/` mapped over the Parquet
shards of the run's work area (`<work>/<stage>/<table>/<shard>.parquet`).
"""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from pairforge.flows.hooks import on_crashed, on_failure, record_run
from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import Recipe, RunOptions, load_recipe
from pairforge.tasks.core.report import RunReport
from pairforge.tasks.core.settings import get_settings
from pairforge.tasks.core.shards import Shard, contents_key, keys_only, rejected_uri
from pairforge.tasks.curate.decontaminate import build_ngram_index, decontaminate_shard
from pairforge.tasks.curate.dedup import apply_dedup, find_duplicates, signature_shard, update_index
from pairforge.tasks.curate.filters import filter_shard
from pairforge.tasks.curate.langid import langid_shard
from pairforge.tasks.curate.normalize import normalize_shard
from pairforge.tasks.ingest.sources import batch_files, ingest_files, resolve_source_files
from pairforge.tasks.pairs.augment import augment_shard, plan_cutoffs
from pairforge.tasks.pairs.generate import ensure_llm_limit, generate_pairs, model_endpoint
from pairforge.tasks.pairs.judge import judge_shard
from pairforge.tasks.pairs.quality import quality_shard
from pairforge.tasks.privacy.erase import REGISTER, drop_erased_shard, erased_signatures_uri
from pairforge.tasks.privacy.pii import scrub_shard
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


STATS_IN_MANIFEST = ("stages", "sources", "quarantine", "rejected", "pii", "pii_by_source", "no_ner", "validation",
                     "llm", "dead_letter", "dedup", "augment", "composition")


def default_version() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _by_table(shards: list[Shard]) -> dict[str, list[Shard]]:
    out: dict[str, list[Shard]] = {}
    for s in shards:
        out.setdefault(s.table, []).append(s)
    return out


def _count(report: RunReport, stage: str, before: list[Shard], after: list[Shard]) -> None:
    for table in sorted({s.table for s in before}):
        rows_in = sum(s.rows for s in before if s.table == table)
        rows_out = sum(s.rows for s in after if s.table == table)
        report.stage(stage, table, rows_in, rows_out)


def _publish(report: RunReport) -> None:
    key = report.dataset  # artifact keys: lowercase letters, digits and dashes, like recipe names
    create_markdown_artifact(key=f"{key}-run-report", markdown=report.markdown(), description="pairforge run report")
    if report.stages:
        create_table_artifact(key=f"{key}-stage-counts", table=report.stages, description="rows in/out per stage")
    if report.sources:
        create_table_artifact(key=f"{key}-source-counts", table=report.source_rows(),
                              description="files, rows and quarantined rows per source")


def _progress(key: str):
    """A progress artifact the UI shows while the run goes on; returns the callback that moves it."""
    artifact_id = create_progress_artifact(0.0, key=f"{key}-progress", description="share of the stages done")
    return lambda percent: update_progress_artifact(artifact_id, percent)


def ingest(recipe: Recipe, work_uri: str, report: RunReport) -> tuple[list[Shard], list[str]]:
    jobs = [(src, batch) for src in recipe.sources for batch in batch_files(resolve_source_files(src))]
    if recipe.sample_rows:  # a trial: the first batch of each source is enough
        jobs = [job for i, job in enumerate(jobs) if i == 0 or jobs[i - 1][0] is not job[0]]
    results = ingest_files.map(
        [src for src, _ in jobs],
        [batch for _, batch in jobs],
        list(range(len(jobs))),
        unmapped(recipe.languages[0]),
        unmapped(work_uri),
        unmapped(recipe.work_shard_rows),
        unmapped(recipe.sample_rows),
    ).result()
    shards: list[Shard] = []
    quarantine = [res["quarantine_uri"] for res in results if res["quarantine_uri"]]
    for res in results:
        shards += res["shards"]
        q = sum(res["quarantine"].values())
        src = report.sources.setdefault(res["source"], {"files": 0, "rows": 0, "quarantined": 0})
        src["files"] += res["files"]
        src["rows"] += res["rows"]
        src["quarantined"] += q
        report.quarantine.update(res["quarantine"])
    for table in sorted({src.table for src in recipe.sources}):
        rows = sum(s.rows for s in shards if s.table == table)
        bad = sum(report.sources.get(src.name, {}).get("quarantined", 0) for src in recipe.sources
                  if src.table == table)
        report.stage("ingest", table, rows + bad, rows)
    return shards, quarantine


def validate(recipe: Recipe, shards: list[Shard], work_uri: str, report: RunReport) -> dict[str, bytes]:
    """Run the suites per shard; returns the report files. Raises ValidationFailed on a critical failure."""
    # empty shards add nothing; a table whose shards are all empty is still validated once (row count)
    todo = [s for shards_of in _by_table(shards).values() for s in ([x for x in shards_of if x.rows] or shards_of[:1])]
    reports = validate_shard.map(todo, unmapped(recipe.validation.suites_dir)).result()
    files: dict[str, bytes] = {}
    for table, summary in summarise(reports)["tables"].items():
        report.validation[table] = summary
        shard_reports = [r for r in reports if r["table"] == table]
        files[f"validation/{table}.json"] = json.dumps({"summary": summary, "shards": shard_reports}, indent=2).encode()
    for rel, data in files.items():
        storage.write_bytes(storage.join(work_uri, rel), data)
    report.validation_report_uri = storage.join(work_uri, "validation")
    failed = [t for t, v in report.validation.items() if not v["critical_success"]]
    if failed:
        raise ValidationFailed(
            f"critical expectations failed for {', '.join(failed)}; nothing was published. "
            f"Report: {report.validation_report_uri}"
        )
    return files


def _source_of(shard: Shard) -> str:
    return shard.name.rsplit("-", 2)[0]  # shard names are <source>-<batch>-<chunk>


def _count_llm(report: RunReport, res: dict) -> None:
    """Model requests of this run only: a task reused from an earlier attempt made none now."""
    if res.get("resumed"):
        report.llm["resumed_tasks"] += 1
    else:
        report.llm.update(res["stats"])


def _collect_rejected(collected: dict[str, list[str]], work_uri: str, stage: str, shard: Shard) -> None:
    """Queue a shard's rejected rows (written by the stage task) for the version's `rejected/<table>.parquet`."""
    collected.setdefault(f"rejected/{shard.table}.parquet", []).append(rejected_uri(work_uri, stage, shard))


def _rejecting(stage: str, stage_task, shards: list[Shard], args: tuple, work_uri: str, report: RunReport,
               collected: dict[str, list[str]]) -> list[Shard]:
    """Map a stage that keeps some rows and rejects others (returning (shard, {reason: rows})) over shards."""
    if not shards:
        return []
    results = stage_task.map(shards, *[unmapped(a) for a in args], unmapped(work_uri)).result()
    kept = []
    for shard, (out, rejected) in zip(shards, results, strict=True):
        kept.append(out)
        report.rejected.update({f"{stage}: {k}": v for k, v in rejected.items()})
        if rejected:
            _collect_rejected(collected, work_uri, stage, shard)
    _count(report, stage, shards, kept)
    return kept


def _only(shards: list[Shard], tables) -> tuple[list[Shard], list[Shard]]:
    """(shards of the given tables, the others)."""
    return [s for s in shards if s.table in tables], [s for s in shards if s.table not in tables]


def index_uri(recipe: Recipe) -> str:
    return recipe.dedup.index_uri or storage.join(recipe.dataset_uri, "_index")


def dedup(recipe: Recipe, shards: list[Shard], table: str, work_uri: str, report: RunReport,
          collected: dict[str, list[str]], signatures: dict[str, list[str]]) -> list[Shard]:
    """Exact and near-duplicate removal over one table; records the signature files for the index."""
    opts = recipe.dedup
    todo, rest = _only(shards, [table])
    if table not in opts.tables or not (opts.exact or opts.near) or not any(s.rows for s in todo):
        return shards
    uris = [u for u in signature_shard.map(todo, unmapped(opts), unmapped(work_uri)).result() if u]
    erased = erased_signatures_uri(recipe.dataset_uri, table)
    read = [erased] + ([storage.join(index_uri(recipe), table)] if opts.incremental else [])
    found = find_duplicates(uris, opts, table, index_uri(recipe), work_uri, version=report.version,
                            erased_uri=erased, inputs=contents_key(read))
    report.dedup[table] = found["stats"]
    signatures[table] = uris
    return rest + _rejecting("dedup", apply_dedup, todo, (found["decisions_uri"], opts), work_uri, report, collected)


def make_pairs(recipe: Recipe, shards: list[Shard], work_uri: str, report: RunReport,
               collected: dict[str, list[str]]) -> list[Shard]:
    """Generate pairs, check every pair by rule, optionally judge them; returns documents + surviving pairs."""
    gen = recipe.generate
    docs = [s for s in shards if s.table == "documents"]
    pairs = [s for s in shards if s.table == "pairs"]
    cache_uri = llm_cache_uri(recipe)
    if gen.needs_model:
        ensure_llm_limit(get_settings().llm_concurrency_limit)
    with model_endpoint(gen) if gen.needs_model else nullcontext(None) as endpoint:
        before, submitted = list(pairs), 0
        for i, spec in enumerate(gen.generators):
            pool = pairs if spec.kind == "self-instruct" else docs
            inputs = [s for s in pool if not spec.sources or _source_of(s) in spec.sources]
            if spec.kind == "self-instruct":
                inputs = [s for s in inputs if s in before]  # seeds are imported pairs, not generated ones
            # one generator at a time: max_concurrency bounds the requests in flight against the endpoint
            res = generate_pairs(spec, i, inputs, endpoint, gen, cache_uri, recipe.languages[0], work_uri)
            pairs.append(res["shard"])
            submitted += res["submitted"]
            _count_llm(report, res)
            report.dead_letter += res["dead"]
            report.rejected.update({f"generate: {k}": v for k, v in res["rejected"].items()})
            if res["dead_uri"]:
                collected["dead_letter/dead_letter.parquet"].append(res["dead_uri"])
        if gen.generators:
            _count(report, "generate", before, pairs)
            if report.dead_letter and report.dead_letter > gen.max_failed_share * submitted:
                raise GenerationFailed(
                    f"{report.dead_letter} of {submitted} model requests failed (more than "
                    f"{gen.max_failed_share:.0%}); see {storage.join(work_uri, 'dead_letter')}; nothing was published"
                )
        if recipe.quality.enabled:
            pairs = _rejecting("quality", quality_shard, pairs, (recipe.quality,), work_uri, report, collected)
        if gen.judge.enabled and pairs:
            judged = []
            for shard in pairs:  # sequential, like generation, to keep the endpoint's concurrency bound
                res = judge_shard(shard, endpoint, gen, cache_uri, work_uri)
                judged.append(res["shard"])
                _count_llm(report, res)
                report.dead_letter += res["dead"]
                report.rejected.update({f"judge: {k}": v for k, v in res["rejected"].items()})
                if res["rejected"]:
                    _collect_rejected(collected, work_uri, "judge", shard)
            _count(report, "judge", pairs, judged)
            pairs = judged
    return docs + pairs


def llm_cache_uri(recipe: Recipe) -> str:
    return recipe.generate.cache_uri or storage.join(recipe.dataset_uri, "_cache", "llm")


def split(recipe: Recipe, shards: list[Shard], work_uri: str, report: RunReport,
          collected: dict[str, list[str]]) -> list[Shard]:
    """Leakage-free splits over both tables, then decontamination of the training rows."""
    plan = plan_splits(shards, recipe.split, work_uri)
    out = split_shard.map(shards, unmapped(plan), unmapped(work_uri)).result()
    _count(report, "split", shards, out)
    opts = recipe.decontaminate
    if opts.enabled and (opts.against_splits or opts.benchmarks):
        ngrams = build_ngram_index(out, opts, work_uri, contents_key([b.uri for b in opts.benchmarks]))
        todo, rest = _only(out, opts.tables)
        out = rest + _rejecting("decontaminate", decontaminate_shard, todo, (ngrams, opts), work_uri, report,
                                collected)
    return out


def augment(recipe: Recipe, shards: list[Shard], work_uri: str, report: RunReport,
            collected: dict[str, list[str]]) -> list[Shard]:
    """Extra training pairs (opt-in): noise in parallel; model rewrites one shard at a time."""
    opts, gen = recipe.augment, recipe.generate
    pairs, rest = _only(shards, ["pairs"])
    if not opts.enabled or not pairs:
        return shards
    needs_model = opts.paraphrase or bool(opts.back_translation)
    cutoffs = plan_cutoffs(pairs, opts, gen.max_tokens)  # max_rows holds over the dataset, not per shard
    if needs_model:
        ensure_llm_limit(get_settings().llm_concurrency_limit)
        with model_endpoint(gen) as endpoint:
            results = [augment_shard(s, opts, endpoint, gen, llm_cache_uri(recipe), work_uri, cutoffs)
                       for s in pairs]
    else:
        results = augment_shard.map(pairs, unmapped(opts), unmapped(None), unmapped(gen), unmapped(None),
                                    unmapped(work_uri), unmapped(cutoffs)).result()
    for res in results:
        report.augment.update(res["added"])
        report.rejected.update({f"augment: {k}": v for k, v in res.get("rejected", {}).items()})
        report.dead_letter += res.get("dead", 0)
        if res.get("dead_uri"):
            collected["dead_letter/dead_letter.parquet"].append(res["dead_uri"])
        if needs_model:
            _count_llm(report, res)
    out = [res["shard"] for res in results]
    _count(report, "augment", pairs, out)
    return rest + out


def task_runner(runner: str, address: str | None = None, workers: int = 2):
    """Threads in this process (default), or a Dask cluster: an existing scheduler, else a local one."""
    if runner == "dask":
        from prefect_dask import DaskTaskRunner

        if address:
            return DaskTaskRunner(address=address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    return ThreadPoolTaskRunner()


def _settings_runner():
    s = get_settings()
    return task_runner(s.runner, s.dask_address, s.dask_workers)


def _run_name() -> str:
    params = flow_run.parameters
    return f"{Path(params['recipe_path']).stem}-{params.get('version') or 'new'}"


@flow(name="build-dataset", task_runner=_settings_runner(), flow_run_name=_run_name,
      on_failure=[on_failure], on_crashed=[on_crashed])
def build_dataset(recipe_path: str, version: str | None = None, options: RunOptions | None = None) -> str:
    """Build one version of the dataset a recipe describes; returns the version's URI.

    Args:
        recipe_path: the recipe YAML (relative paths in it are relative to its folder)
        version: the version folder to write; also the run key: running again with the same version
            resumes a failed or crashed run, reusing every shard it finished. Default: a new UTC timestamp.
        options: overrides for this run (trial sample, export location, stages to skip, recipe keys)
    """
    logger = get_run_logger()
    recipe = load_recipe(recipe_path, (options or RunOptions()).overrides())
    version = version or recipe.export.version or default_version()
    dataset_uri = recipe.dataset_uri
    work_uri = recipe.work_uri(version)
    record_run(recipe.name, version, work_uri)  # for the failure hooks
    report = RunReport(recipe.name, version, work_uri=work_uri, on_progress=_progress(recipe.name))
    logger.info("building %s version %s; work area %s", recipe.name, version, work_uri)
    try:
        shards, quarantine = ingest(recipe, work_uri, report)
        if not any(s.rows for s in shards):
            raise NothingToExport(f"no rows to build from: every row of every source was quarantined "
                                  f"({sum(report.quarantine.values())} rows)")
        collected: dict[str, list[str]] = {"quarantine/quarantine.parquet": quarantine,
                                           "dead_letter/dead_letter.parquet": []}

        # rows erased on request from earlier versions stay out, though their sources still hold them
        register = storage.join(dataset_uri, REGISTER)
        if (erased := storage.read_if_exists(register)) is not None:
            sha = hashlib.sha256(erased).hexdigest()[:16]
            shards = _rejecting("erased", drop_erased_shard, shards, (register, sha), work_uri, report, collected)
        # cheap row filters first, so the expensive PII scrub sees only rows that stay
        shards = _rejecting("normalize", normalize_shard, shards, (recipe.clean,), work_uri, report, collected)
        if recipe.langid.enabled:
            todo, rest = _only(shards, recipe.langid.tables)
            shards = rest + _rejecting("langid", langid_shard, todo, (recipe.langid, recipe.languages), work_uri,
                                       report, collected)
        if recipe.filters.enabled:
            todo, rest = _only(shards, recipe.filters.tables)
            shards = rest + _rejecting("filters", filter_shard, todo, (recipe.filters,), work_uri, report, collected)

        if recipe.pii.enabled:
            results = scrub_shard.map(shards, unmapped(recipe.pii), unmapped(work_uri)).result()
            for shard, (_, found) in zip(shards, results, strict=True):
                report.add_pii(_source_of(shard), found)
            scrubbed = [s for s, _ in results]
            _count(report, "pii", shards, scrubbed)
            shards = scrubbed

        signatures: dict[str, list[str]] = {}
        shards = dedup(recipe, shards, "documents", work_uri, report, collected, signatures)
        shards = make_pairs(recipe, shards, work_uri, report, collected)
        shards = dedup(recipe, shards, "pairs", work_uri, report, collected, signatures)
        shards = split(recipe, shards, work_uri, report, collected)
        shards = augment(recipe, shards, work_uri, report, collected)

        validation_files = validate(recipe, shards, work_uri, report) if recipe.validation.enabled else {}
        tables = _by_table(shards)
        if not recipe.export.keep_documents:  # not redistributed: nor are the texts of rejected documents
            tables.pop("documents", None)
            for uri in collected.get("rejected/documents.parquet", []):
                storage.write_parquet(keys_only(storage.read_parquet(uri)), uri)
        if recipe.composition.enabled:  # over what is exported
            exported = [s for table_shards in tables.values() for s in table_shards]
            report.composition = merge(composition_shard.map(exported, unmapped(recipe.composition)).result())
        manifest = export_version(
            tables, dataset_uri, version, recipe.export.shard_rows, validation_files,
            {**recipe.manifest_fields(),
             "stats": {k: v for k, v in report.to_dict().items() if k in STATS_IN_MANIFEST}},
            collected, recipe.export.formats,
        )
        report.exported = manifest["tables"]
        for table, stats in manifest["tables"].items():
            report.stage("export", table, sum(s.rows for s in tables[table]), sum(stats["rows"].values()))
        report.output_uri = storage.join(dataset_uri, version)
        report.status = "completed"  # the version is live (LATEST moved): what follows must not fail the run
        try:
            create_markdown_artifact(key=f"{recipe.name}-dataset-card", description="dataset card (README.md)",
                                     markdown=storage.read_bytes(storage.join(report.output_uri, "README.md")).decode())
            for table, uris in signatures.items():  # what this version published, for later incremental runs
                if table in tables:
                    update_index(index_uri(recipe), table, version, report.output_uri, uris)
        except Exception as e:
            logger.warning("published, but the card artifact or the dedup index could not be written: %s", e)
        if not recipe.export.keep_work:  # intermediate shards hold text from before the PII scrub
            storage.delete_tree(work_uri)
        logger.info("published %s", report.output_uri)
        return report.output_uri
    except Exception:
        report.status = "failed"
        raise
    finally:
        _publish(report)

