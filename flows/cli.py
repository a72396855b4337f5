"""`pairforge` command line. Exit codes: 0 success, 1 run failed, 2 bad usage or bad recipe.

User errors print one line on stderr, never a traceback. Machine-readable results (a version
URI) go to stdout; tables and progress go to stderr.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pairforge.tasks.core.stages import SKIPPABLE

app = typer.Typer(
    help="Build clean, PII-scrubbed, validated datasets for training and fine-tuning LLMs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
bench_app = typer.Typer(help="Benchmarks that print measured ratios side by side.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")
llm_app = typer.Typer(help="The embedded local model (llama.cpp + SmolLM2) behind the OpenAI API.",
                      no_args_is_help=True)
app.add_typer(llm_app, name="llm")
annotate_app = typer.Typer(help="Human annotation: the local Label Studio server.", no_args_is_help=True)
app.add_typer(annotate_app, name="annotate")
# Messages are text, never markup: a path or a pattern with `[...]` in it prints as written (styles go through
# `label`). Tables print their cells as text too.
err = Console(stderr=True, markup=False, highlight=False)


def label(name: str, style: str, message: str) -> Text:
    """`name` styled, then the message as plain text."""
    return Text.assemble((name, style), " ", message)


def fail(message: str, code: int) -> None:
    message = " ".join(line.strip() for line in str(message).splitlines() if line.strip())  # one line
    err.print(label("error:", "bold red", message), soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def run(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML file")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a recipe key: dotted.key=value")] = None,
    version: Annotated[str | None, typer.Option(help="version folder; reuse one to resume a failed run")] = None,
    sample_rows: Annotated[int | None, typer.Option(help="read at most N rows of each source (a trial)")] = None,
    export_uri: Annotated[str | None, typer.Option(help="write here instead of the recipe's export.uri")] = None,
    skip: Annotated[list[str] | None, typer.Option(help=f"stage to leave out: {', '.join(SKIPPABLE)} "
                                                        "(repeatable)")] = None,
    runner: Annotated[str | None, typer.Option(help="threads | dask (default: PAIRFORGE_RUNNER)")] = None,
    dask_address: Annotated[str | None, typer.Option(help="existing Dask scheduler (default: a local cluster)")] = None,
) -> None:
    """Run the build flow and print the output version's URI."""
    from pydantic import ValidationError

    from pairforge.tasks.core.recipe import load_recipe

    try:
        from pairforge.tasks.core.names import check_name
        from pairforge.tasks.core.recipe import RunOptions

        if version is not None:
            check_name(version, "--version")  # a name, never a path ("..", "../x", "/abs")
        options = RunOptions(sample_rows=sample_rows, export_uri=export_uri, skip=skip or [], set=set_ or [])
        _refuse_credentials(options.overrides())  # options become flow-run parameters, kept in Prefect's database
        load_recipe(recipe, options.overrides())  # fail fast, before Prefect starts
    except ValidationError as e:
        fail(f"bad option: {e.errors()[0]['loc'][0]}: {e.errors()[0]['msg']}", 2)
    except ValueError as e:  # RecipeError, or a --version that is not a name
        fail(str(e), 2)
    if runner not in (None, "threads", "dask"):
        fail(f"--runner: expected threads or dask, got {runner!r}", 2)

    from pairforge.flows.build import build_dataset, task_runner
    from pairforge.tasks.core.settings import get_settings

    settings = get_settings()
    flow = build_dataset
    if runner or dask_address:
        flow = build_dataset.with_options(task_runner=task_runner(
            runner or ("dask" if dask_address else settings.runner), dask_address or settings.dask_address,
            settings.dask_workers))
    from pairforge.flows.lifecycle import run_process
    from pairforge.tasks.core.masking import mask_text

    # a temporary Prefect server if there is no PREFECT_API_URL; SIGINT/SIGTERM stop the run in seconds
    with run_process(resume_hint=lambda: _resume_hint(version)):
        state = flow(str(recipe), version=version, options=options, return_state=True)
        if not state.is_completed():
            try:
                state.result()
            except Exception as e:  # the flow's failure: report it in one line
                fail(f"run failed: {type(e).__name__}: {mask_text(str(e))}", 1)
            fail(f"run ended {state.name}", 1)
        uri = state.result()
        _print_summary(uri)
        print(uri)


def _refuse_credentials(overrides: list[str]) -> None:
    from pairforge.tasks.core.masking import credential_in_override

    for item in overrides:
        if why := credential_in_override(item):
            fail(f"--set {item.partition('=')[0]}: {why}. Run options are stored with the flow run in Prefect's "
                 "database, so credentials never go there: put an API key in the environment variable that "
                 "generate.api_key_env names, and a URL's user:password or key= query in the recipe file "
                 "(read at run time, masked in everything published)", 2)


def _resume_hint(version: str | None) -> str | None:
    from pairforge.flows import hooks

    version = version or (hooks.last_report or {}).get("version")
    return f"run again with --version {version} to resume" if version else None


def _print_summary(version_uri: str) -> None:
    from pairforge.tasks.publish.export import read_manifest

    manifest = read_manifest(version_uri)
    stats = manifest.get("stats", {})
    table = Table(title=f"{manifest['dataset']} {manifest['version']}")
    for col in ("stage", "table", "rows in", "rows out"):
        table.add_column(col, justify="right" if col.startswith("rows") else "left")
    for s in stats.get("stages", []):
        table.add_row(s["stage"], s["table"], str(s["rows_in"]), str(s["rows_out"]))
    for t, info in manifest["tables"].items():
        r = info["rows"]
        table.add_row("export", t, "", f"train {r['train']} / validation {r['validation']} / test {r['test']}")
    err.print(table)
    if stats.get("quarantine"):
        err.print(f"quarantined rows: {sum(stats['quarantine'].values())} "
                  f"({', '.join(f'{k}: {v}' for k, v in list(stats['quarantine'].items())[:5])})")
    if stats.get("rejected"):
        err.print(f"rejected rows: {sum(stats['rejected'].values())} "
                  f"({', '.join(f'{k}: {v}' for k, v in list(stats['rejected'].items())[:5])})")
    if stats.get("pii"):
        err.print("PII replaced: " + ", ".join(f"{k} {v}" for k, v in sorted(stats["pii"].items())))
    if stats.get("llm"):
        llm = stats["llm"]
        err.print(f"model requests: {llm.get('requests', 0)} (cache hits {llm.get('cache_hits', 0)}, retries "
                  f"{llm.get('retries', 0)}, failed {stats.get('dead_letter', 0)}), tokens in/out "
                  f"{llm.get('tokens_in', 0)}/{llm.get('tokens_out', 0)}"
                  + (f", local model server restarted {llm['server_restarts']}x" if llm.get("server_restarts") else ""))


@app.command()
def scrub(
    input: Annotated[str, typer.Argument(help=".jsonl or .parquet file (local path or s3://)")],
    output: Annotated[str, typer.Argument(help="where to write the scrubbed file (same format)")],
    field: Annotated[list[str] | None, typer.Option("--field", help="text field to scrub (repeatable)")] = None,
    operator: Annotated[str, typer.Option(help="replace | mask | hash | redact | pseudonym | fake")] = "replace",
    threshold: Annotated[float, typer.Option(help="minimum recognizer score")] = 0.5,
) -> None:
    """Scrub PII in the named text fields, keeping row order and all other fields."""
    from pydantic import ValidationError

    from pairforge.tasks.core import storage
    from pairforge.tasks.core.recipe import PIIOptions
    from pairforge.tasks.privacy.pii import scrub_jsonl, scrub_parquet

    try:
        opts = PIIOptions(operator=operator, threshold=threshold)
    except ValidationError as e:
        fail(f"bad option: {e.errors()[0]['msg']}", 2)
    kind = Path(input.removesuffix(".gz")).suffix
    if kind not in (".jsonl", ".parquet"):
        fail(f"{input}: expected a .jsonl or .parquet file", 2)
    try:
        data = storage.read_bytes(input)
    except storage.StorageError as e:
        fail(f"cannot read {e}", 2)
    try:
        out, counts = (scrub_jsonl if kind == ".jsonl" else scrub_parquet)(data, field or [], opts)
    except ValueError as e:
        fail(f"{input}: {e}", 2)
    storage.write_bytes(output, out)
    err.print(f"wrote {output}; findings: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))


def _open_version(uri: str) -> tuple[str, dict]:
    """(version URI, manifest) of a version folder or of a dataset folder's LATEST; exit 2 if there is none."""
    from pairforge.tasks.core import storage
    from pairforge.tasks.publish.export import read_manifest, resolve_version_uri

    try:
        version_uri = resolve_version_uri(uri)
        return version_uri, read_manifest(version_uri)
    except (FileNotFoundError, storage.StorageError) as e:
        fail(str(e), 2)
    except ValueError as e:  # json.JSONDecodeError: a manifest that is not JSON
        fail(f"{uri}: manifest.json is not valid JSON ({e})", 2)


@app.command()
def validate(uri: Annotated[str, typer.Argument(help="version folder, or dataset folder (uses LATEST)")]) -> None:
    """Re-run the expectation suites (and checksums) on an exported version."""
    from pairforge.tasks.core import storage
    from pairforge.tasks.publish.export import verify_files
    from pairforge.tasks.publish.validate import summarise, validate_frame

    version_uri, manifest = _open_version(uri)
    problems = verify_files(version_uri, manifest)
    table = Table(title=f"validation of {manifest['dataset']} {manifest['version']}")
    for col in ("table", "rows", "success", "critical ok", "failed expectations"):
        table.add_column(col)
    ok = not problems
    for t in sorted({f["table"] for f in manifest["files"] if f["split"]}):
        files = [f for f in manifest["files"] if f["table"] == t and f["split"]]
        reports = [
            validate_frame(storage.read_parquet(storage.join(version_uri, f["path"])), t, shard=f["path"])
            for f in ([f for f in files if f["rows"]] or files[:1])
        ]
        summary = summarise(reports)["tables"][t]
        ok &= summary["critical_success"]
        failed = ", ".join(f"{x['type']} ({x['severity']})" for x in summary["results"] if not x["success"]) or "-"
        table.add_row(t, str(sum(r["rows"] for r in reports)), str(summary["success"]),
                      str(summary["critical_success"]), failed)
    err.print(table)
    for p in problems:
        err.print(label("checksum:", "red", p))
    if not ok:
        raise typer.Exit(1)
    print(version_uri)


@app.command()
def inspect(uri: Annotated[str, typer.Argument(help="version folder, or dataset folder (uses LATEST)")]) -> None:
    """Print a version's manifest summary."""
    version_uri, m = _open_version(uri)
    out = Console(markup=False, highlight=False)
    out.print(Text.assemble((str(m["dataset"]), "bold"), " version ", (str(m["version"]), "bold"),
                            f"  created {m['created_at']}"))
    out.print(f"uri: {version_uri}\nrecipe sha256: {m['recipe_sha256']}\npipeline: {m.get('pipeline_version')}")
    table = Table()
    for col in ("table", "split", "files", "rows", "bytes"):
        table.add_column(col, justify="left" if col in ("table", "split") else "right")
    groups: dict[tuple[str, str], list[dict]] = {}
    for f in m["files"]:
        if f["split"]:
            groups.setdefault((f["table"], f["split"]), []).append(f)
    for (t, split), files in sorted(groups.items()):
        table.add_row(t, split, str(len(files)), str(sum(f["rows"] for f in files)),
                      str(sum(f["bytes"] for f in files)))
    out.print(table)
    for name, src in ((s["name"], s) for s in m.get("sources", [])):
        out.print(f"source {name}: {src['format']} {src['license']} {src['uri']}")


def _first_line(e: Exception) -> str:
    """An unexpected error as one line: its type and the first line of its message (Polars adds hints below)."""
    message = str(e).strip().splitlines()
    return f"{type(e).__name__}: {message[0]}" if message else type(e).__name__


@app.command()
def erase(
    uri: Annotated[str, typer.Argument(help="version folder, or dataset folder (uses LATEST)")],
    source: Annotated[list[str] | None, typer.Option("--source", help="erase every row of this source "
                                                                      "(repeatable)")] = None,
    doc_id: Annotated[list[str] | None, typer.Option("--doc-id", help="erase this document (or pair) id and "
                                                                      "what was made from it (repeatable)")] = None,
    contains: Annotated[list[str] | None, typer.Option("--contains", help="erase rows whose text contains this, "
                                                                          "case-insensitive (repeatable)")] = None,
    requested_by: Annotated[str | None, typer.Option(help="who asked (recorded in the erasure log)")] = None,
    reason: Annotated[str | None, typer.Option(help="ticket or legal basis (recorded; put no personal data "
                                                    "here)")] = None,
    delete_superseded: Annotated[bool, typer.Option(help="also delete the older versions that still hold "
                                                         "matching rows")] = False,
    dry_run: Annotated[bool, typer.Option(help="count what would be removed; write and delete nothing")] = False,
) -> None:
    """Write a new version without the matching rows and everything derived from them; print its URI."""
    from pairforge.tasks.privacy.erase import Criteria, ErasureError, erase_version

    criteria = Criteria(tuple(source or ()), tuple(doc_id or ()), tuple(contains or ()))
    if not criteria:
        fail("give at least one of --source, --doc-id, --contains", 2)
    try:
        _open_version(uri)  # exits 2 when there is no complete version
        result = erase_version(uri, criteria, requested_by=requested_by, reason=reason,
                               delete_superseded=delete_superseded, dry_run=dry_run)
    except typer.Exit:
        raise
    except ErasureError as e:
        fail(str(e), 2)
    except Exception as e:  # storage or anything unexpected: one line, no traceback
        fail(f"erasure failed: {_first_line(e)}", 1)
    removed = ", ".join(f"{t} {n}" for t, n in result["removed"].items())
    detail = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in result["detail"].items() if n)
    err.print(f"{'would remove' if dry_run else 'removed'} from {result['erased_from']}: {removed}"
              + (f" ({detail})" if detail else ""), highlight=False)
    for path, n in result["side"].items():
        err.print(f"  side file {path}: {n}", highlight=False)
    err.print(f"LLM cache entries {'to purge' if dry_run else 'purged'}: {result['llm_cache_entries_purged']}",
              highlight=False)
    if not dry_run:
        kept = ", ".join(f"{t} {n}" for t, n in result.get("erased_signatures", {}).items())
        err.print(f"dedup signatures kept so later builds drop edited copies: {kept}" if kept else
                  "no dedup signatures of the erased rows (no index): later builds drop them by id, not edited copies",
                  highlight=False)
    if result["deleted_versions"]:
        err.print(f"superseded versions {'to delete' if dry_run else 'deleted'}: "
                  f"{', '.join(result['deleted_versions'])}", highlight=False)
    if result.get("warning"):
        err.print(label("warning:", "yellow", result["warning"]))
    for store in result["other_stores"]:
        err.print(label("may still hold data:", "yellow", store), soft_wrap=True)
    annotation = result.get("annotation")
    if annotation and "error" in annotation:
        err.print(label("Label Studio tasks NOT deleted:", "red", f"{annotation['server']}: {annotation['error']}; "
                        "erase again once it answers (the erased ids are registered)"), soft_wrap=True)
    elif annotation:
        err.print(f"Label Studio tasks {'to delete' if dry_run else 'deleted'} (with their annotations): "
                  f"{annotation['tasks']} in {annotation['projects']} project(s) of {annotation['server']}",
                  highlight=False)
    if result["version_uri"]:
        print(result["version_uri"])
    elif not dry_run:
        err.print("nothing matched in this version: no new version written", highlight=False)
    if annotation and "error" in annotation:
        raise typer.Exit(1)


@app.command()
def gc(
    uri: Annotated[str, typer.Argument(help="dataset folder (the one holding LATEST)")],
    keep: Annotated[int, typer.Option(help="complete versions to keep, newest first (LATEST's is always kept)")],
    dry_run: Annotated[bool, typer.Option(help="list what would be deleted; delete nothing")] = False,
) -> None:
    """Retention: delete all but the N newest complete versions."""
    from pairforge.tasks.privacy.erase import ErasureError
    from pairforge.tasks.privacy.erase import gc as collect

    try:
        result = collect(uri, keep, dry_run)  # a folder that is not a dataset, or a broken LATEST: ErasureError
    except ErasureError as e:
        fail(str(e), 2)
    except Exception as e:  # storage or anything unexpected: one line, no traceback
        fail(f"gc failed: {_first_line(e)}", 1)
    err.print(f"kept: {', '.join(result['kept'])}", highlight=False)
    err.print(f"{'would delete' if dry_run else 'deleted'}: {', '.join(result['deleted']) or 'nothing'}",
              highlight=False)


@app.command()
def card(uri: Annotated[str, typer.Argument(help="version folder, or dataset folder (uses LATEST)")]) -> None:
    """Regenerate a version's dataset card (README.md) and its manifest entry; print the card's URI."""
    from pairforge.tasks.core import storage
    from pairforge.tasks.publish.export import rewrite_card

    try:
        _open_version(uri)  # exits 2 when there is no complete version
        version_uri, _ = rewrite_card(uri)
    except typer.Exit:
        raise
    except Exception as e:  # storage or anything unexpected: one line, no traceback
        fail(f"card failed: {_first_line(e)}", 1)
    print(storage.join(version_uri, "README.md"))


_DEPLOYMENTS_FILE_HELP = "deployments file (default: deployments/prefect.yaml of this checkout)"
_NOTIFY_HELP = ("also alert through a notification block saved on the server, as <block-type-slug>/<name>, "
                "e.g. slack-webhook/data-alerts or email/ops (repeatable)")


@app.command()
def deploy(
    recipe: Annotated[Path | None, typer.Option(help="recipe for every deployment's recipe_path (default: the file's)")]
    = None,
    file: Annotated[Path | None, typer.Option(help=_DEPLOYMENTS_FILE_HELP)] = None,
    work_pool: Annotated[str | None, typer.Option(help="work pool (default: PAIRFORGE_WORK_POOL or pairforge)")] = None,
    notify_block: Annotated[list[str] | None, typer.Option("--notify-block", help=_NOTIFY_HELP)] = None,
) -> None:
    """Register deployments/prefect.yaml, its process work pool and the failure automation with PREFECT_API_URL."""
    from pairforge.flows import ops

    try:
        result = ops.deploy(recipe, file or ops.DEPLOYMENTS_FILE, work_pool, notify_block)
    except ops.OpsError as e:
        fail(str(e), 2)
    print(f"Prefect API: {result['api_url']}")
    for pool, status in result["work_pools"].items():
        print(f"work pool  {pool}: {status}")
    for d in result["deployments"]:
        params = " ".join(f"{k}={v}" for k, v in d["parameters"].items())
        print(f"deployment {d['name']}  id {d['id']}  pool {d['work_pool']}  {d['schedule']}  {params}")
    for flow_name, a in result["automations"].items():
        if a["status"] == "skipped":
            err.print(label(f"no failure automation for {flow_name}:", "yellow", f"{a['reason']}; set "
                            "PAIRFORGE_WEBHOOK_URL (or pass --notify-block) and deploy again"), soft_wrap=True)
        else:
            print(f"automation {ops.AUTOMATION_NAME} ({a['status']})  id {a['id']}  on "
                  f"{', '.join(ops.ALERT_STATES)} runs of {flow_name} -> {'; '.join(a['targets'])}")
    pools = sorted(result["work_pools"])
    err.print(f"start a worker with: prefect worker start --pool {pools[0] if pools else 'pairforge'}",
              highlight=False)


@app.command()
def serve(
    recipe: Annotated[Path | None, typer.Option(help="recipe for every deployment's recipe_path (default: the file's)")]
    = None,
    file: Annotated[Path | None, typer.Option(help=_DEPLOYMENTS_FILE_HELP)] = None,
    limit: Annotated[int | None, typer.Option(help="most flow runs at once")] = None,
    notify_block: Annotated[list[str] | None, typer.Option("--notify-block", help=_NOTIFY_HELP)] = None,
) -> None:
    """Serve the same deployments from this process (schedules and UI runs, no worker needed) until Ctrl-C."""
    from pairforge.flows import ops

    try:
        ops.serve(recipe, file or ops.DEPLOYMENTS_FILE, limit, notify_block)
    except ops.OpsError as e:
        fail(str(e), 2)


@app.command()
def doctor(
    recipe: Annotated[Path | None, typer.Argument(help="recipe YAML file (default: the checks that need none)")]
    = None,
    no_model: Annotated[bool, typer.Option("--no-model", help="skip the model endpoint check")] = False,
) -> None:
    """Check what a run needs (python, packages, spaCy models, model, Prefect, S3, writable folders): one line
    per check; exit 1 when one fails."""
    from pairforge.tasks.core.doctor import run_checks
    from pairforge.tasks.core.recipe import RecipeError, load_recipe

    loaded = None
    if recipe is not None:
        try:
            loaded = load_recipe(recipe, check_sources=False)
            inputs = [s.uri for s in loaded.sources] + [b.uri for b in loaded.decontaminate.benchmarks]
            if not any(uri.startswith("s3://") for uri in inputs):
                load_recipe(recipe)  # missing input files are a bad recipe, as for `run`; S3 is the s3 check's
        except RecipeError as e:
            fail(str(e), 2)
    failed = False
    for check in run_checks(loaded, no_model=no_model):
        print(check.line(), flush=True)
        failed |= check.failed
    if failed:
        raise typer.Exit(1)


@bench_app.command("pii")
def bench_pii_cmd(
    n: Annotated[int, typer.Option(help="number of texts")] = 1500,
    texts: Annotated[str | None, typer.Option(help="presidio-research JSON; default: shared corpus")] = None,
) -> None:
    """PII stage docs/s vs bare spaCy nlp.pipe vs a naive Presidio loop, on the same texts."""
    from pairforge.flows.bench import bench_pii, print_pii_bench

    print_pii_bench(bench_pii(n=n, texts_path=texts))


@bench_app.command("pii-quality")
def bench_pii_quality_cmd(
    gold: Annotated[list[Path] | None, typer.Option("--gold", help="presidio-research JSON (full_text + spans); "
                    "repeatable; default: every labelled set (shared corpus, tests/data, tests/data/pii_eval and its "
                    "holdouts)")] = None,
    check: Annotated[bool, typer.Option(help="exit 1 when a target is missed")] = False,
    recipe: Annotated[Path | None, typer.Option(help="use this recipe's pii options (default: the defaults)")] = None,
) -> None:
    """Per set and entity type: share of gold values removed, share of words outside gold spans kept."""
    from pairforge.flows.bench import (
        bench_pii_quality,
        default_gold_paths,
        print_pii_quality,
        print_pii_quality_summary,
    )
    from pairforge.tasks.core.recipe import RecipeError, load_recipe

    gold = gold or default_gold_paths()
    if not gold:
        fail("no labelled sets found (they live in a checkout's tests/data): pass --gold FILE", 2)
    for path in gold:
        if not path.is_file():
            fail(f"{path}: no such file", 2)
    options = None
    if recipe is not None:
        try:
            options = load_recipe(recipe).pii
        except RecipeError as e:
            fail(str(e), 2)
    try:
        reports = bench_pii_quality(gold, options)
    except (ValueError, KeyError) as e:
        fail(f"bad gold file: {e}", 2)
    missed = []
    for report in reports:
        print_pii_quality(report)
        missed += [f"{Path(report.source).name}: {m}" for m in report.failures()]
    if len(reports) > 1:
        print_pii_quality_summary(reports)
    for m in missed:
        err.print(label("target missed:", "red", m))
    if check and missed:
        raise typer.Exit(1)


@bench_app.command("generate")
def bench_generate_cmd(
    n: Annotated[int, typer.Option(help="requests per round")] = 24,
    concurrency: Annotated[int, typer.Option(help="requests in flight")] = 4,
    max_tokens: Annotated[int, typer.Option(help="completion tokens per request")] = 64,
) -> None:
    """pairforge's LLM client vs a plain asyncio loop with the openai client, same local server and requests."""
    from pairforge.flows.bench import bench_generate, print_generate_bench

    print_generate_bench(bench_generate(n=n, concurrency=concurrency, max_tokens=max_tokens))


@bench_app.command("memory")
def bench_memory_cmd(
    base_mb: Annotated[float, typer.Option(help="uncompressed size of the smaller input, MB")] = 4.0,
    factor: Annotated[int, typer.Option(help="the larger input is this many times the smaller")] = 10,
    format_: Annotated[list[str] | None, typer.Option("--format", help="text-lines, jsonl, wikipedia "
                                                                       "(repeatable; default: all three)")] = None,
    shard_rows: Annotated[int, typer.Option(help="rows per work shard, as work_shard_rows")] = 5000,
    check: Annotated[bool, typer.Option(help="exit 1 when a peak RSS ratio misses its target")] = False,
) -> None:
    """Peak RSS of streaming ingest at two input sizes, each in a fresh process: memory must stay flat."""
    from pairforge.flows.bench import MEMORY_FORMATS, bench_memory, print_memory_bench

    formats = tuple(format_ or MEMORY_FORMATS)
    unknown = [f for f in formats if f not in MEMORY_FORMATS]
    if unknown or base_mb <= 0 or factor < 2 or shard_rows < 1:
        fail(f"--format: expected some of {', '.join(MEMORY_FORMATS)}" if unknown
             else "--base-mb must be > 0, --factor >= 2, --shard-rows >= 1", 2)
    rows = bench_memory(base_mb=base_mb, factor=factor, formats=formats, shard_rows=shard_rows)
    print_memory_bench(rows)
    if check and not all(r["met"] for r in rows if "met" in r):
        raise typer.Exit(1)


@bench_app.command("pipeline")
def bench_pipeline_cmd(
    docs: Annotated[int, typer.Option(help="documents of 10-40 real sentences, ~20 % with personal data")] = 2000,
    rounds: Annotated[int, typer.Option(help="no-PII runs with and without Prefect, order alternating")] = 2,
    seed: Annotated[int, typer.Option(help="corpus seed")] = 0,
    corpus: Annotated[str, typer.Option(help="auto (../shared/corpora if present) | shared | embedded")] = "auto",
    check: Annotated[bool, typer.Option(help="exit 1 when a ratio misses its target")] = False,
) -> None:
    """The build flow on real-length documents: seconds per stage, docs/s, peak RSS, and the PII, language ID and
    orchestration ratios measured side by side (see flows/bench_pipeline.py)."""
    from pairforge.flows.bench_pipeline import bench_pipeline, checks, print_pipeline_bench, report_progress, summarise

    if docs < 20 or rounds < 1 or corpus not in ("auto", "shared", "embedded"):
        fail("--docs must be >= 20, --rounds >= 1, --corpus auto, shared or embedded", 2)
    try:
        result = bench_pipeline(docs=docs, seed=seed, corpus=corpus, rounds=rounds, progress=report_progress)
    except (FileNotFoundError, RuntimeError) as e:
        fail(str(e), 1)
    summary = summarise(result)
    print_pipeline_bench(result, summary)
    if check and (missed := checks(summary)):
        fail("targets missed: " + "; ".join(missed), 1)


@llm_app.command("serve")
def llm_serve(port: Annotated[int, typer.Option(help="loopback port")] = 8008) -> None:
    """Serve the local model on http://127.0.0.1:PORT/v1 until Ctrl-C (point generate.base_url at it)."""
    from pairforge.tasks.pairs.llm_server import LLMServerError, serve_forever

    try:
        serve_forever(port)
    except LLMServerError as e:
        fail(str(e).splitlines()[0], 1)


@annotate_app.command("serve")
def annotate_serve(
    port: Annotated[int, typer.Option(help="loopback port")] = 8080,
    data_dir: Annotated[Path | None, typer.Option(help="where Label Studio keeps its database, uploads and the "
                                                       "admin credentials (default: ~/.local/share/pairforge/"
                                                       "label-studio)")] = None,
) -> None:
    """Run Label Studio on http://127.0.0.1:PORT until Ctrl-C; prints its URL and the file that holds the admin's
    password and API token (never the secrets themselves)."""
    from pairforge.tasks.annotate.server import LabelStudioError, default_data_dir, serve_forever

    if not 0 < port < 65536:
        fail(f"--port: {port} is not a port number", 2)
    try:
        serve_forever(data_dir or default_data_dir(), port)
    except LabelStudioError as e:
        fail(str(e).splitlines()[0], 1)


def main() -> None:
    # Prefect prints its own logs; keep ours readable when stdout is piped.
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    app()


if __name__ == "__main__":
    main()
