"""`pairforge bench pipeline`: the whole build flow on a corpus of real-length documents, with the ratios of issue 15
measured side by side in one run.

    pairforge bench pipeline [--docs N] [--check]

1. A seeded corpus of N documents, each 10-40 real English sentences (news articles and Wikipedia pages), about
   a fifth of them with 1-3 real sentences carrying personal data planted (the labelled PII sentences), written
   as JSON lines with a recipe (no generation; filters on; decontamination against the splits off: the corpus
   reuses sentences, so every training document would overlap a held-out one) in a temporary folder.
2. Child processes, one after the other, each timed from outside (peak RSS of the child's whole process tree,
   sampled) and from inside (seconds of each step of the flow, taken around `flows.steps.step`):
   - `pairforge run` with every default stage (PII on, a worker process per usable core); the texts the PII stage
     receives are kept; on more than one core, the same run with `pii.processes=1` (the stage in the run's process);
   - rounds of `pairforge run --skip pii` and of the same flow body called directly (`build_dataset.fn`, every
     task called as a plain function on the same thread pool, no Prefect API, server, task runs or logs),
     alternating which goes first;
   - the baselines on the texts the PII stage received: a naive per-document Presidio analyze + anonymize loop
     and a bare NER-only spaCy `nlp.pipe` (both as spaCy builds them: matrix products through BLIS), and for
     information the same `nlp.pipe` built as the stage builds its models (`model_ops`: OpenBLAS), interleaved
     (half the texts each way round).
3. The table: seconds per stage, docs/s, peak RSS and the ratios, with the targets (`--check`: exit 1 below).

Ratios are speed ratios (higher is better) except where the target says at most. Figures on a shared machine are
noisy: the rounds alternate their order and the report gives every round.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pairforge.tasks import SOURCE_ROOT
from pairforge.tasks.core.pool import usable_cores

# ---- corpora: ../shared/corpora when present, else the copies a plain checkout carries -------------------------

SHARED_CORPORA = SOURCE_ROOT.parent / "shared" / "corpora"
DEMO_DATA = SOURCE_ROOT / "examples" / "demo" / "data"
OWN_PII = SOURCE_ROOT / "tests" / "data" / "pii_gold_own.json"


@dataclass(frozen=True)
class BenchCorpus:
    """The files the benchmarks read: news articles (one a line), a MediaWiki dump (bz2) and labelled PII
    sentences (presidio-research JSON: `full_text`, `spans`, optional `metadata.lang`)."""

    name: str
    news: Path
    wiki: Path
    pii: Path

    def available(self) -> bool:
        return all(p.is_file() for p in (self.news, self.wiki, self.pii))


SHARED = BenchCorpus("shared: ../shared/corpora (lee_background.cor, enwiki-shortened.xml.bz2, generated_small.json)",
                     SHARED_CORPORA / "text" / "lee_background.cor",
                     SHARED_CORPORA / "text" / "enwiki-shortened.xml.bz2",
                     SHARED_CORPORA / "pii" / "generated_small.json")  # fmt: skip
# examples/demo/data: 40 lee_background articles and 7 Wikipedia articles (licences in its licenses/ and
# SOURCES.md); tests/data/pii_gold_own.json: pairforge's own invented PII sentences (tests/data/make_pii_gold.py)
EMBEDDED = BenchCorpus("embedded: examples/demo/data (news.txt, wiki.xml.bz2) + tests/data/pii_gold_own.json",
                       DEMO_DATA / "news.txt", DEMO_DATA / "wiki.xml.bz2", OWN_PII)  # fmt: skip


def bench_corpus(which: str = "auto") -> BenchCorpus:
    """`shared`, `embedded`, or `auto`: the shared corpora when all their files are there, else the embedded ones."""
    if which == "shared" or (which == "auto" and SHARED.available()):
        corpus = SHARED
    elif which in ("auto", "embedded"):
        corpus = EMBEDDED
    else:
        raise ValueError(f"corpus must be auto, shared or embedded, not {which!r}")
    if not corpus.available():
        missing = ", ".join(str(p) for p in (corpus.news, corpus.wiki, corpus.pii) if not p.is_file())
        raise FileNotFoundError(f"benchmark corpus {corpus.name.split(':')[0]} is incomplete: {missing} missing")
    return corpus


def pii_records(corpus: BenchCorpus) -> list[dict]:
    """The English records of the labelled PII file (records without a language are English)."""
    records = json.loads(corpus.pii.read_text(encoding="utf-8"))
    return [r for r in records if r.get("full_text") and (r.get("metadata") or {}).get("lang", "en") == "en"]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(]?[A-Z])")


def sentences(text: str, min_words: int = 6, max_words: int = 60) -> list[str]:
    """Sentences of a paragraph that look like prose: 6-60 words, ending in . ! ? or a closing quote."""
    out = []
    for s in _SENTENCE_END.split(text):
        s = s.strip()
        if min_words <= len(s.split()) <= max_words and s[-1] in ".!?\"'":
            out.append(s)
    return out


def sentence_pool(corpus: BenchCorpus) -> list[str]:
    """Distinct prose sentences of the news articles and of the dump's articles (wikitext rendered as the
    wikipedia reader does), in file order."""
    import bz2

    from pairforge.tasks.ingest.wikipedia import articles, wikitext_to_text

    found = [s for line in corpus.news.read_text(encoding="utf-8").splitlines() for s in sentences(line)]
    with bz2.open(corpus.wiki, "rb") as stream:
        for site, page in articles(stream):
            for paragraph in wikitext_to_text(page.text, site).split("\n"):
                found += sentences(paragraph)
    return list(dict.fromkeys(found))


def make_documents(
    n: int, corpus: BenchCorpus, seed: int = 0, pii_share: float = 0.2, sentences_per_doc: tuple[int, int] = (10, 40)
) -> list[dict]:
    """n documents of 10-40 pool sentences in paragraphs of 3-6; a `pii_share` of them get 1-3 PII sentences
    planted at random places. Seeded: the same arguments give the same documents."""
    rng = random.Random(seed)
    pool = sentence_pool(corpus)
    planted = [r["full_text"].strip() for r in pii_records(corpus)]
    docs = []
    for i in range(n):
        chosen = rng.sample(pool, min(len(pool), rng.randint(*sentences_per_doc)))
        has_pii = bool(planted) and rng.random() < pii_share
        if has_pii:
            for text in rng.sample(planted, min(len(planted), rng.randint(1, 3))):
                chosen.insert(rng.randrange(len(chosen) + 1), text)
        paragraphs, at = [], 0
        while at < len(chosen):
            size = rng.randint(3, 6)
            paragraphs.append(" ".join(chosen[at : at + size]))
            at += size
        docs.append({"id": f"bench-{i:06d}", "text": "\n".join(paragraphs), "pii": has_pii})
    return docs


RECIPE = """\
# written by `pairforge bench pipeline`: every default stage, no generation
name: bench-pipeline
languages: [en]
sources:
  - name: bench
    uri: docs.jsonl
    format: jsonl
    license: CC-BY-SA-3.0
filters:
  enabled: true
decontaminate:
  against_splits: false   # the corpus reuses sentences: every training document would overlap a held-out one
export:
  uri: out/
  formats: [parquet]
"""


def write_inputs(folder: Path, docs: list[dict]) -> Path:
    """docs.jsonl and recipe.yaml in `folder`; returns the recipe's path."""
    with (folder / "docs.jsonl").open("w", encoding="utf-8") as out:
        for d in docs:
            out.write(json.dumps({"id": d["id"], "text": d["text"]}) + "\n")
    recipe = folder / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    return recipe


# ---- the runs: each in a child process, timed from inside around each step of the flow -------------------------

# argv[1]: JSON {mode: prefect|direct, recipe, version, skip, set, export_uri, out, pii_texts}. Writes `out` (JSON).
_RUN_CHILD = r"""
import json, os, resource, sys, time
spec = json.loads(sys.argv[1])
started = time.perf_counter()
TICK = os.sysconf("SC_CLK_TCK")

def tree_cpu():  # CPU seconds so far: (this process's threads, its descendants, reaped or still running)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    others, todo, seen = reaped.ru_utime + reaped.ru_stime, [os.getpid()], set()
    while todo:
        pid = todo.pop()
        try:
            kids = [int(k) for tid in os.listdir(f"/proc/{pid}/task")
                    for k in open(f"/proc/{pid}/task/{tid}/children").read().split()]
        except (OSError, ValueError):
            kids = []
        for kid in kids:
            if kid not in seen:
                seen.add(kid)
                todo.append(kid)
                try:
                    stat = open(f"/proc/{kid}/stat").read()
                    fields = stat[stat.rindex(")") + 2:].split()
                    others += (int(fields[11]) + int(fields[12])) / TICK
                except (OSError, ValueError, IndexError):
                    pass
    return time.process_time(), others
import pairforge.flows.build as build
import pairforge.flows.steps as steps
import polars as pl

times, marks = [], {}
original_step = build.step

def timed_step(stage):
    run_stage = original_step(stage)

    def run(run_, stage_, shards):
        if stage_.name == "pii" and spec.get("pii_texts") and run_.recipe.pii.enabled:
            texts = [t for s in shards if s.table == "documents" and s.rows for t in s.read()["text"].to_list()]
            pl.DataFrame({"text": texts}).write_parquet(spec["pii_texts"])  # not timed
        t, c, tc = time.perf_counter(), time.process_time(), sum(tree_cpu())
        done = run_stage(run_, stage_, shards)
        times.append({"stage": stage_.name, "seconds": time.perf_counter() - t, "cpu": time.process_time() - c,
                      "tree_cpu": sum(tree_cpu()) - tc, "rows": [list(r) for r in done.rows],
                      "span": [t, time.perf_counter()]})  # (perf_counter is CLOCK_MONOTONIC: the parent's clock too)
        return done

    return run

build.step = timed_step
# the flow body starts with load_recipe and ends with _publish (in its finally)
load_recipe, publish = build.load_recipe, build._publish

def marked_load_recipe(*args, **kwargs):
    marks["flow_start"], marks["flow_start_cpu"] = time.perf_counter(), tree_cpu()
    return load_recipe(*args, **kwargs)

def marked_publish(*args, **kwargs):
    try:
        return publish(*args, **kwargs)
    finally:
        marks["flow_end"], marks["flow_end_cpu"] = time.perf_counter(), tree_cpu()

build.load_recipe, build._publish = marked_load_recipe, marked_publish

imported, imported_cpu = time.perf_counter(), tree_cpu()
status = 0
if spec["mode"] == "prefect":
    from pairforge.flows.cli import main
    argv = ["pairforge", "run", spec["recipe"], "--version", spec["version"], "--export-uri", spec["export_uri"]]
    for name in spec["skip"]:
        argv += ["--skip", name]
    for item in spec.get("set", []):
        argv += ["--set", item]
    sys.argv = argv
    try:
        main()
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
else:  # direct: the flow body and every task as plain functions, no Prefect engine, API or server
    from concurrent.futures import ThreadPoolExecutor
    import logging
    import prefect
    import prefect.artifacts
    from prefect.tasks import Task
    from prefect.utilities.annotations import unmapped
    from pairforge.tasks.core.recipe import RunOptions

    pool = ThreadPoolExecutor()  # as Prefect's ThreadPoolTaskRunner: max_workers None

    class Results(list):
        def result(self):
            return list(self)

        def wait(self):
            return None

    def direct_map(self, *args, **kwargs):
        def mapped(v):
            return not isinstance(v, unmapped) and isinstance(v, (list, tuple))

        n = next(len(v) for v in [*args, *kwargs.values()] if mapped(v))
        pick = lambda v, i: v[i] if mapped(v) else (v.value if isinstance(v, unmapped) else v)
        calls = [([pick(a, i) for a in args], {k: pick(v, i) for k, v in kwargs.items()}) for i in range(n)]
        return Results(pool.map(lambda c: self.fn(*c[0], **c[1]), calls))

    Task.map = direct_map
    Task.__call__ = lambda self, *a, **k: self.fn(*a, **k)
    logger = logging.getLogger("pairforge.bench")
    nothing = lambda *a, **k: None
    for module in [m for name, m in list(sys.modules.items()) if name.startswith("pairforge.") and m]:
        if hasattr(module, "get_run_logger"):
            module.get_run_logger = lambda: logger
        for name in ("create_markdown_artifact", "create_table_artifact", "create_progress_artifact",
                     "update_progress_artifact"):
            if hasattr(module, name):
                setattr(module, name, nothing)
    prefect.get_run_logger = lambda: logger
    options = RunOptions(skip=spec["skip"], export_uri=spec["export_uri"], set=spec.get("set", []))
    try:
        build.build_dataset.fn(spec["recipe"], version=spec["version"], options=options)
    except Exception as e:
        print(f"direct run failed: {type(e).__name__}: {e}", file=sys.stderr)
        status = 1
    pool.shutdown()
ended, ended_cpu = time.perf_counter(), tree_cpu()

def peak_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024

cpu = lambda a, b: [b[0] - a[0], b[1] - a[1]]  # [this process, its children (the Prefect server)]
json.dump({"status": status, "stages": times, "imports_s": imported - started, "run_s": ended - imported,
           "run_cpu": cpu(imported_cpu, ended_cpu),
           "flow_cpu": cpu(marks.get("flow_start_cpu", imported_cpu), marks.get("flow_end_cpu", ended_cpu)),
           "flow_s": marks.get("flow_end", ended) - marks.get("flow_start", imported),
           "before_flow_s": marks.get("flow_start", imported) - imported,
           "after_flow_s": ended - marks.get("flow_end", ended), "self_peak_mb": peak_mb()},
          open(spec["out"], "w"))
"""

# argv[1]: JSON {texts (parquet), out}. The naive Presidio loop and NER-only nlp.pipe, interleaved.
_BASELINE_CHILD = r"""
import json, logging, sys, time
spec = json.loads(sys.argv[1])
import polars as pl
import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_anonymizer import AnonymizerEngine
from pairforge.tasks.core.recipe import PIIOptions
from pairforge.tasks.privacy.pii import MODEL_NAME, get_scrubber, model_ops, nlp_configuration

texts = pl.read_parquet(spec["texts"])["text"].to_list()
options = PIIOptions()
get_scrubber(options)  # patches tldextract: the naive loop makes no network attempt either
logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
analyzer = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=nlp_configuration(options)).create_engine())
anonymizer = AnonymizerEngine()
nlp = spacy.load(MODEL_NAME)
ner_only = nlp.select_pipes(enable=["ner"])  # bare NER: no tagger, parser, lemmatizer
with model_ops():  # the same, built as the stage builds its models (matrix products through OpenBLAS)
    nlp_ops = spacy.load(MODEL_NAME)
nlp_ops.select_pipes(enable=["ner"])

def naive(batch):
    for text in batch:
        anonymizer.anonymize(text=text, analyzer_results=analyzer.analyze(text, language="en"))

def pipe(batch, model=nlp):
    for _ in model.pipe(batch, batch_size=options.batch_size):
        pass

runs = {"naive": naive, "pipe": pipe, "pipe_ops": lambda batch: pipe(batch, nlp_ops)}

warm = texts[:10]
for run in runs.values():
    run(warm)
half = len(texts) // 2
seconds = {key: 0.0 for name in runs for key in (name, name + "_cpu")}
for part, order in ((texts[:half], list(runs)), (texts[half:], list(runs)[::-1])):
    for name in order:
        t, c = time.perf_counter(), time.process_time()
        runs[name](part)
        seconds[name] += time.perf_counter() - t
        seconds[name + "_cpu"] += time.process_time() - c
json.dump({"docs": len(texts), "chars": sum(len(t) for t in texts), **seconds}, open(spec["out"], "w"))
"""


def _tree_rss_mb(root: int) -> tuple[float, float]:
    """Resident memory of `root` and all its descendants (from /proc), and of `root` alone, MB."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
                parents[int(entry.name)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [child for child, parent in parents.items() if parent == pid and child not in tree]
    total = own = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
        total += rss
        own += rss if pid == root else 0
    return total / (1 << 20), own / (1 << 20)


def run_child(code: str, spec: dict, log_path: Path, interval_s: float = 0.25) -> dict:
    """Run a child script (argv[1]: the spec as JSON) to its end, sampling its process tree's RSS; returns what it
    wrote to spec['out'] plus wall_s and tree_peak_mb. Its output goes to `log_path`."""
    env = {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": os.environ.get("PREFECT_SERVER_ANALYTICS_ENABLED", "false"),
    }
    with log_path.open("w") as log:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", code, json.dumps(spec)], stdout=log, stderr=subprocess.STDOUT,
                                 cwd=SOURCE_ROOT, env=env)  # fmt: skip
        samples = []  # (perf_counter, tree MB, the child's own MB)
        while child.poll() is None:
            samples.append((time.perf_counter(), *_tree_rss_mb(child.pid)))
            time.sleep(interval_s)
        peak = max((tree for _, tree, _ in samples), default=0.0)
        wall = time.perf_counter() - started
    out = Path(spec["out"])
    if child.returncode != 0 or not out.is_file():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"benchmark child failed (exit {child.returncode}); its output ends:\n{tail}")
    result = json.loads(out.read_text())
    if result.get("status"):
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the run failed (exit {result['status']}); its output ends:\n{tail}")
    for stage in result.get("stages", []):  # the peaks sampled while each step of the flow ran
        during = [(tree, own) for t, tree, own in samples if stage["span"][0] <= t <= stage["span"][1] + interval_s]
        stage["tree_peak_mb"] = max((tree for tree, _ in during), default=None)
        stage["own_peak_mb"] = max((own for _, own in during), default=None)
    return {**result, "wall_s": wall, "tree_peak_mb": peak}


def _stage_seconds(run: dict, key: str = "seconds") -> dict[str, float]:
    out: dict[str, float] = {}
    for s in run["stages"]:
        out[s["stage"]] = out.get(s["stage"], 0.0) + s[key]
    return out


TARGET_PII_VS_NAIVE = 2.0  # PII stage docs/s >= 2x the naive per-document Presidio loop (issue 15 item 2)
TARGET_PII_VS_PIPE = 0.6  # PII stage docs/s >= 0.6x bare NER-only nlp.pipe (item 2)
TARGET_LANGID_SHARE = 0.05  # language ID <= 5 % of a no-PII run (item 4)
TARGET_ORCHESTRATION = 1.05  # Prefect flow body <= 1.05x the same stage functions called directly (item 5)
TARGET_PII_PROCESSES = 1.7  # PII stage with a worker process per core >= 1.7x one process, 2 cores (item 3)


def bench_pipeline(
    docs: int = 2000,
    seed: int = 0,
    corpus: str = "auto",
    pii_share: float = 0.2,
    rounds: int = 2,
    baselines: bool = True,
    processes: bool = True,
    work: Path | None = None,
    progress=None,
) -> dict:
    """Build the corpus, run the flow as the module docstring says; returns everything measured (see
    `print_pipeline_bench` for the table and `checks` for the targets)."""
    say = progress or (lambda message: None)
    chosen = bench_corpus(corpus)
    with tempfile.TemporaryDirectory(prefix="pairforge-bench-pipeline-", dir=work) as tmp:
        folder = Path(tmp)
        made = make_documents(docs, chosen, seed=seed, pii_share=pii_share)
        recipe = write_inputs(folder, made)
        result: dict = {"docs": docs, "seed": seed, "corpus": chosen.name, "pii_docs": sum(d["pii"] for d in made),
                        "chars": sum(len(d["text"]) for d in made), "runs": {}, "rounds": rounds}  # fmt: skip

        def run(label: str, mode: str, skip: list[str], pii_texts: str | None = None, sets: tuple = ()) -> dict:
            say(f"{label} ...")
            spec = {"mode": mode, "recipe": str(recipe), "version": label, "skip": skip,
                    "export_uri": str(folder / f"out-{label}"), "out": str(folder / f"{label}.json"),
                    "pii_texts": pii_texts, "set": list(sets)}  # fmt: skip
            done = run_child(_RUN_CHILD, spec, folder / f"{label}.log")
            say(f"{label}: {done['wall_s']:.1f} s")
            _remove(folder / f"out-{label}")
            return done

        pii_texts = str(folder / "pii-texts.parquet")
        result["runs"]["full"] = run("full", "prefect", [], pii_texts)
        result["cores"] = usable_cores()
        if processes and result["cores"] > 1:  # the same run with the PII stage in the run's own process
            result["runs"]["full-one-process"] = run("full-one-process", "prefect", [], sets=("pii.processes=1",))
        for i in range(rounds):
            order = [("prefect", "prefect"), ("direct", "direct")]
            for name, mode in order if i % 2 == 0 else order[::-1]:
                result["runs"][f"nopii-{name}-{i}"] = run(f"nopii-{name}-{i}", mode, ["pii"])
        if baselines and Path(pii_texts).is_file():
            say("baselines (naive Presidio loop, NER-only nlp.pipe) ...")
            spec = {"texts": pii_texts, "out": str(folder / "baselines.json")}
            result["baselines"] = run_child(_BASELINE_CHILD, spec, folder / "baselines.log")
    return result


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _mean_stages(runs: list[dict]) -> dict[str, float]:
    per_run = [_stage_seconds(r) for r in runs]
    return {name: _mean([seconds.get(name, 0.0) for seconds in per_run]) for name in per_run[0]}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def summarise(result: dict) -> dict:
    """The derived figures: per-stage seconds per kind of run, docs/s, ratios. Each ratio is given on wall seconds and
    on CPU seconds; a target is checked on the one that other processes on a shared machine distort least: CPU
    seconds where two processes are compared (the PII stage and its baselines, both one thread; the flow's own
    process with and without Prefect, the temporary server's CPU shown apart: on an idle second core it costs no
    wall time), wall seconds for the language ID share (one process; lingua's detection uses every core, so its
    CPU share overstates the time it takes)."""
    runs = result["runs"]
    full = runs["full"]
    prefect = [r for k, r in runs.items() if k.startswith("nopii-prefect")]
    direct = [r for k, r in runs.items() if k.startswith("nopii-direct")]
    stages = {"full": _stage_seconds(full), "prefect": _mean_stages(prefect), "direct": _mean_stages(direct),
              "full_cpu": _stage_seconds(full, "cpu"), "full_tree_cpu": _stage_seconds(full, "tree_cpu")}  # fmt: skip
    rows_in = {}
    for s in full["stages"]:
        if s["rows"]:
            rows_in.setdefault(s["stage"], s["rows"])
    pii_docs = next((r[1] for r in rows_in.get("pii", []) if r[0] == "documents"), result["docs"])
    tree = lambda pair: sum(pair)  # noqa: E731 - this process + its children
    out = {"stages": stages, "rows": rows_in, "pii_docs": pii_docs,
           "full_run_s": full["run_s"], "nopii_prefect_run_s": _mean([r["run_s"] for r in prefect]),
           "nopii_prefect_flow_s": _mean([r["flow_s"] for r in prefect]),
           "nopii_direct_flow_s": _mean([r["flow_s"] for r in direct]),
           "nopii_prefect_flow_cpu": _mean([tree(r["flow_cpu"]) for r in prefect]),
           "nopii_prefect_flow_own_cpu": _mean([r["flow_cpu"][0] for r in prefect]),
           "nopii_direct_flow_own_cpu": _mean([r["flow_cpu"][0] for r in direct]),
           "nopii_prefect_server_cpu": _mean([r["flow_cpu"][1] for r in prefect]),
           "nopii_direct_flow_cpu": _mean([tree(r["flow_cpu"]) for r in direct]),
           "nopii_prefect_run_cpu": _mean([tree(r["run_cpu"]) for r in prefect]),
           "nopii_prefect_flow_all": [round(r["flow_s"], 2) for r in prefect],
           "nopii_direct_flow_all": [round(r["flow_s"], 2) for r in direct],
           "before_flow_s": [round(r["before_flow_s"], 2) for r in [full, *prefect]],
           "after_flow_s": [round(r["after_flow_s"], 2) for r in [full, *prefect]],
           "peak_mb": {"full": full["tree_peak_mb"], "nopii-prefect": max(r["tree_peak_mb"] for r in prefect),
                       "nopii-direct": max(r["tree_peak_mb"] for r in direct)}}  # fmt: skip
    langid_s = _mean([_stage_seconds(r).get("langid", 0.0) for r in prefect])
    langid_cpu = _mean([_stage_seconds(r, "cpu").get("langid", 0.0) for r in prefect])
    ratios = [
        ("language ID share of a no-PII run", langid_s / out["nopii_prefect_run_s"],
         langid_cpu / out["nopii_prefect_run_cpu"], TARGET_LANGID_SHARE, "<=", "wall"),
        ("Prefect flow / the same stage functions called directly (no PII; CPU: the flow's process)",
         out["nopii_prefect_flow_s"] / out["nopii_direct_flow_s"],
         out["nopii_prefect_flow_own_cpu"] / out["nopii_direct_flow_own_cpu"], TARGET_ORCHESTRATION, "<=", "cpu"),
        ("  the same with the temporary server's CPU added (information)", None,
         out["nopii_prefect_flow_cpu"] / out["nopii_direct_flow_cpu"], None, "<=", None),
    ]  # fmt: skip
    base = result.get("baselines")
    alone = runs.get("full-one-process")
    if base and "pii" in stages["full"]:
        # the engine against the one-process baselines: the stage in one process when that run was made (its
        # worker processes are item 3's ratio below), else the default run (CPU: its worker processes' too)
        engine = alone or full
        seconds, cpu = _stage_seconds(engine)["pii"], _stage_seconds(engine, "tree_cpu")["pii"]
        rate = {"stage": (pii_docs / seconds, pii_docs / cpu),
                "naive": (base["docs"] / base["naive"], base["docs"] / base["naive_cpu"]),
                "pipe": (base["docs"] / base["pipe"], base["docs"] / base["pipe_cpu"])}  # fmt: skip
        if "pipe_ops" in base:
            rate["pipe_ops"] = (base["docs"] / base["pipe_ops"], base["docs"] / base["pipe_ops_cpu"])
        out["baseline_rates"] = {k: v[0] for k, v in rate.items()}
        out["baseline_rates_cpu"] = {k: v[1] for k, v in rate.items()}
        ratios[:0] = [
            (f"PII stage{' in one process' if alone else ''} / naive Presidio analyze+anonymize loop, docs/s",
             rate["stage"][0] / rate["naive"][0], rate["stage"][1] / rate["naive"][1], TARGET_PII_VS_NAIVE, ">=",
             "cpu"),
            (f"PII stage{' in one process' if alone else ''} / bare NER-only spaCy nlp.pipe, docs/s",
             rate["stage"][0] / rate["pipe"][0], rate["stage"][1] / rate["pipe"][1], TARGET_PII_VS_PIPE, ">=", "cpu"),
        ]  # fmt: skip
        if "pipe_ops" in rate:  # what the stage costs beyond its own NER, with the NER built as the stage builds it
            ratios[2:2] = [("  the same, nlp.pipe with the stage's model ops (OpenBLAS, not BLIS; information)",
                            rate["stage"][0] / rate["pipe_ops"][0], rate["stage"][1] / rate["pipe_ops"][1], None,
                            ">=", None)]  # fmt: skip
    if alone and "pii" in stages["full"]:
        one = _stage_seconds(alone)
        out["pii_one_process_s"] = one.get("pii")
        ratios.append((f"PII stage in {result['cores']} worker processes / in the run's process, docs/s",
                       one["pii"] / stages["full"]["pii"],
                       _stage_seconds(alone, "tree_cpu")["pii"] / stages["full_tree_cpu"]["pii"],
                       TARGET_PII_PROCESSES, ">=", "wall"))
    out["ratios"] = []
    for name, wall, cpu, target, op, on in ratios:
        value = wall if on == "wall" else cpu
        met = None if target is None else (value >= target if op == ">=" else value <= target)
        out["ratios"].append({"name": name, "wall": wall, "cpu": cpu, "ratio": value, "checked_on": on,
                              "target": target, "op": op, "met": met})  # fmt: skip
    return out


def checks(summary: dict) -> list[str]:
    """The targets missed, one line each."""
    return [
        f"{r['name']}: {r['ratio']:.3f} on {r['checked_on']} seconds (target {r['op']} {r['target']})"
        for r in summary["ratios"]
        if r["met"] is False
    ]


def print_pipeline_bench(result: dict, summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))
    docs = result["docs"]
    stages = summary["stages"]
    table = Table(title=f"Pipeline benchmark: {docs} documents ({result['pii_docs']} with personal data planted, "
                  f"{result['chars'] / docs:.0f} chars on average, seed {result['seed']}); corpus {result['corpus']}. "
                  f"Wall seconds per step of the flow; no-PII columns: mean of {result['rounds']} round(s), order "
                  "alternating", title_justify="left")  # fmt: skip
    peaks: dict[str, tuple[float, float]] = {}  # stage: (tree, own) peak MB while it ran in the full run
    for st in result["runs"]["full"]["stages"]:
        if st.get("tree_peak_mb") is not None:
            old = peaks.get(st["stage"], (0.0, 0.0))
            peaks[st["stage"]] = (max(old[0], st["tree_peak_mb"]), max(old[1], st["own_peak_mb"]))
    for col in ("stage", "rows in -> out (full run)", "full run s", "share", "CPU s", "peak MB tree / run's own",
                "no PII, Prefect s", "no PII, direct s"):  # fmt: skip
        table.add_column(col, justify="left" if col == "stage" else "right")
    names = [n for n in dict.fromkeys([*stages["full"], *stages["prefect"]])
             if max(stages["full"].get(n, 0), stages["prefect"].get(n, 0), stages["direct"].get(n, 0)) >= 0.005]
    full_total = summary["full_run_s"]
    for name in names:
        rows = "; ".join(f"{t} {a}->{b}" for t, a, b in summary["rows"].get(name, []))
        f = stages["full"].get(name)
        peak = f"{peaks[name][0]:.0f} / {peaks[name][1]:.0f}" if name in peaks else ""
        table.add_row(name, rows, _s(f), f"{f / full_total:.1%}" if f is not None else "",
                      _s(stages["full_cpu"].get(name)), peak, _s(stages["prefect"].get(name)),
                      _s(stages["direct"].get(name)))  # fmt: skip
    full = result["runs"]["full"]
    table.add_row("[bold]flow body[/]", "", _s(full["flow_s"]), "", _s(sum(full["flow_cpu"])), "",
                  _s(summary["nopii_prefect_flow_s"]), _s(summary["nopii_direct_flow_s"]))  # fmt: skip
    table.add_row("[bold]flow body, CPU s of the process tree[/]", "", "", "", "", "",
                  _s(summary["nopii_prefect_flow_cpu"]), _s(summary["nopii_direct_flow_cpu"]))  # fmt: skip
    table.add_row("[bold]whole run (from `run`, after imports)[/]", "", _s(full_total), "", _s(sum(full["run_cpu"])),
                  f"{full['tree_peak_mb']:.0f} / {full['self_peak_mb']:.0f}", _s(summary["nopii_prefect_run_s"]),
                  "")  # fmt: skip
    console.print(table)

    rates = Table(title="Throughput and memory", title_justify="left")
    for col in ("run", "docs/s", "docs per CPU s", "peak RSS of the process tree, MB (sampled)", "own peak RSS, MB"):
        rates.add_column(col, justify="left" if col == "run" else "right")
    rates.add_row("full (PII on)", f"{docs / full_total:.1f}", f"{docs / sum(full['run_cpu']):.1f}",
                  f"{summary['peak_mb']['full']:.0f}", f"{full['self_peak_mb']:.0f}")  # fmt: skip
    rates.add_row("no PII, Prefect", f"{docs / summary['nopii_prefect_run_s']:.1f}",
                  f"{docs / summary['nopii_prefect_run_cpu']:.1f}", f"{summary['peak_mb']['nopii-prefect']:.0f}", "")
    rates.add_row("no PII, direct (flow body only)", f"{docs / summary['nopii_direct_flow_s']:.1f}",
                  f"{docs / summary['nopii_direct_flow_cpu']:.1f}", f"{summary['peak_mb']['nopii-direct']:.0f}", "")
    if base := summary.get("baseline_rates"):
        cpu = summary["baseline_rates_cpu"]
        rates.add_row(f"PII stage alone ({summary['pii_docs']} docs)", f"{base['stage']:.1f}", f"{cpu['stage']:.1f}",
                      "", "")  # fmt: skip
        rates.add_row("naive Presidio analyze+anonymize loop, same texts", f"{base['naive']:.1f}",
                      f"{cpu['naive']:.1f}", f"{result['baselines']['tree_peak_mb']:.0f}", "")  # fmt: skip
        rates.add_row("bare NER-only spaCy nlp.pipe, same texts", f"{base['pipe']:.1f}", f"{cpu['pipe']:.1f}", "", "")
        if "pipe_ops" in base:
            rates.add_row("the same with the stage's model ops (OpenBLAS)", f"{base['pipe_ops']:.1f}",
                          f"{cpu['pipe_ops']:.1f}", "", "")  # fmt: skip
    console.print(rates)
    console.print(f"before the flow body (recipe check, temporary Prefect server, flow run): "
                  f"{', '.join(f'{s:.1f}' for s in summary['before_flow_s'])} s; after it: "
                  f"{', '.join(f'{s:.1f}' for s in summary['after_flow_s'])} s; no-PII flow bodies, Prefect: "
                  f"{summary['nopii_prefect_flow_all']} s, direct: {summary['nopii_direct_flow_all']} s; CPU s of the "
                  f"Prefect server during a no-PII flow body: {summary['nopii_prefect_server_cpu']:.1f}",
                  markup=False)  # fmt: skip

    ratios = Table(title="Ratios, measured side by side in this run (* the one checked; see summarise)",
                   title_justify="left")  # fmt: skip
    for col in ("ratio", "on wall s", "on CPU s", "target", "met"):
        ratios.add_column(col, justify="left" if col == "ratio" else "right")
    for r in summary["ratios"]:
        share = "share" in r["name"]
        shown = []
        for on in ("wall", "cpu"):
            v = r[on]
            text = "" if v is None else (f"{v:.1%}" if share else f"{v:.2f}x")
            shown.append(text + (" *" if r["checked_on"] == on else ""))
        target = "" if r["target"] is None else (f"{r['target']:.0%}" if share else f"{r['target']}x")
        met = "" if r["met"] is None else ("[green]yes[/]" if r["met"] else "[red]no[/]")
        ratios.add_row(r["name"], *shown, f"{r['op']} {target}" if target else "", met)
    console.print(ratios)


def _s(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def report_progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


__all__ = ["bench_corpus", "bench_pipeline", "checks", "make_documents", "print_pipeline_bench", "summarise"]
