"""Benchmarks. `bench_pii` times the PII stage against bare spaCy and a naive Presidio loop, same texts, one process.
`bench_generate` times pairforge's LLMClient against a plain AsyncOpenAI loop on the same local model server.
`bench_pii_quality` scores the scrubber on labelled files (`pairforge bench pii-quality --gold FILE`).
`bench_memory` measures peak RSS of streaming ingest at two input sizes (`pairforge bench memory`).

python -m flows.bench             # prints the PII table
python -m flows.bench generate    # prints the generation table
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import sys
import time
from pathlib import Path

from pairforge.tasks.core.recipe import PIIOptions
from pairforge.tasks.privacy.pii import MODEL_NAME, get_scrubber, nlp_configuration

PII_CORPUS = Path(__file__).resolve().parents[2] / "shared/corpora/pii/generated_small.json"
GOLD_DATA = Path(__file__).resolve().parents[1] / "tests/data"  # the labelled sets of a checkout
WARMUP_DOCS = 50
TARGET_VS_PIPE = 0.6  # PII stage >= 0.6x bare nlp.pipe
TARGET_VS_NAIVE = 2.0  # PII stage >= 2x the naive per-document loop


def _counter_word(i: int) -> str:
    # letters, not digits: digits would make every text a phone-number candidate
    return "".join("bcdfghjklm"[int(c)] for c in str(i))


def pii_texts(n: int, texts_path: str | Path | None = None) -> list[str]:
    """n distinct texts cycled from the corpus's `full_text` records (a counter word makes each one unique)."""
    if texts_path:
        records = json.loads(Path(texts_path).read_text(encoding="utf-8"))
    else:  # the shared presidio-research file, else the checkout's own English sentences (no ../shared needed)
        from pairforge.flows.bench_pipeline import bench_corpus, pii_records

        records = pii_records(bench_corpus())
    base = [r["full_text"] for r in records if r.get("full_text")]
    return [f"{t} Ref {_counter_word(i)}." for i, t in zip(range(n), itertools.cycle(base))]


def _timed(name: str, fn, texts: list[str]) -> dict:
    fn(texts[:WARMUP_DOCS])  # warm-up: lazy loading, first-call caches
    start = time.perf_counter()
    fn(texts)
    seconds = time.perf_counter() - start
    return {
        "name": name,
        "docs": len(texts),
        "seconds": round(seconds, 3),
        "docs_per_s": round(len(texts) / seconds, 1),
    }


def bench_pii(n: int = 1500, texts_path: str | None = None) -> list[dict]:
    """Time (a) bare nlp.pipe, (b) naive analyze+anonymize per document, (c) Scrubber.scrub. Build cost excluded.

    Rows: {name, docs, seconds, docs_per_s} per run, then {name, ratio, target, met} per ratio."""
    import spacy
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    texts = pii_texts(n, texts_path)
    options = PIIOptions()

    nlp = spacy.load(MODEL_NAME)  # full pipeline, as loaded

    def bare(batch):
        for _ in nlp.pipe(batch, batch_size=options.batch_size):
            pass

    scrubber = get_scrubber(options)  # also patches tldextract, so (b) makes no network attempt either
    # the out-of-the-box way: all predefined recognizers, one analyze + anonymize call per text
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)  # one warning per non-English recognizer
    analyzer = AnalyzerEngine(
        nlp_engine=NlpEngineProvider(nlp_configuration=nlp_configuration(options)).create_engine()
    )
    anonymizer = AnonymizerEngine()

    def naive(batch, **kw):
        for text in batch:
            anonymizer.anonymize(text=text, analyzer_results=analyzer.analyze(text, language="en", **kw))

    def naive_same(batch):  # for information: shows the gain is not just from looking for fewer entities
        naive(batch, entities=options.entities, score_threshold=options.threshold)

    rows = [
        _timed("nlp.pipe, bare full pipeline", bare, texts),
        _timed("naive analyze+anonymize loop", naive, texts),
        _timed("  naive, stage's entities+threshold (info)", naive_same, texts),
        _timed("PII stage (Scrubber.scrub)", scrubber.scrub, texts),
    ]
    pipe, loop, stage = rows[0]["docs_per_s"], rows[1]["docs_per_s"], rows[3]["docs_per_s"]
    for name, ratio, target in (
        ("pii stage / nlp.pipe", stage / pipe, TARGET_VS_PIPE),
        ("pii stage / naive loop", stage / loop, TARGET_VS_NAIVE),
    ):
        rows.append({"name": name, "ratio": round(ratio, 2), "target": target, "met": ratio >= target})
    return rows


def print_pii_bench(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = [r for r in rows if "docs_per_s" in r]
    table = Table(
        title=f"PII stage benchmark ({runs[0]['docs']} texts, one process; engines built and warmed up on "
        f"{WARMUP_DOCS} texts before timing)"
    )
    for col in ("stage", "docs", "seconds", "docs/s", "ratio", "target", "met"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for r in runs:
        table.add_row(r["name"], str(r["docs"]), f"{r['seconds']:.2f}", f"{r['docs_per_s']:.0f}", "", "", "")
    for r in rows:
        if "ratio" in r:
            ok = "[green]yes[/]" if r["met"] else "[red]no[/]"
            table.add_row(r["name"], "", "", "", f"{r['ratio']:.2f}x", f">= {r['target']}x", ok)
    Console(width=max(Console().width, 100)).print(table)


def default_gold_paths(data: Path = GOLD_DATA, shared: Path = PII_CORPUS) -> list[Path]:
    """Every labelled set there is: the shared presidio-research file (when present), the two older own sets, and
    each evaluation set of tests/data/pii_eval/ (issue 14: templates-a/b, faker-locales, phonenumbers-formats, fr,
    de) followed by its sealed holdout."""
    eval_dir = data / "pii_eval"
    paths = [p for p in (shared, data / "pii_gold_own.json", data / "pii_gold_heldout.json") if p.is_file()]
    for path in sorted(eval_dir.glob("*.json")):
        paths.append(path)
        holdout = eval_dir / "holdout" / f"{path.stem}-holdout.json"
        if holdout.is_file():
            paths.append(holdout)
    known = set(paths)
    return paths + sorted(p for p in (eval_dir / "holdout").glob("*.json") if p not in known)


def bench_pii_quality(gold_paths: list[str | Path], options: PIIOptions | None = None) -> list:
    """Score the scrubber on labelled files (presidio-research JSON): one `pii_quality.QualityReport` each."""
    from pairforge.tasks.privacy.pii_quality import score_file

    return [score_file(path, options) for path in gold_paths]


def _set_name(report) -> str:
    return Path(report.source).stem


def _by_entity(report) -> dict[str, object]:
    """The direct identifiers of a report keyed by pairforge entity type (ADDRESS and STREET_ADDRESS are one)."""
    from pairforge.tasks.privacy.pii_quality import TypeScore

    out: dict[str, TypeScore] = {}
    for t in report.direct:
        merged = out.setdefault(t.entity, TypeScore(t.entity, "direct", t.entity))
        merged.values += t.values
        merged.hits += t.hits
    return out


def pii_quality_rows(reports: list) -> tuple[list[str], list[dict]]:
    """(entity columns, one row per report): {set, records, n, overall, kept, types: {entity: (share, n)}, missed}."""
    from pairforge.tasks.privacy.pii_quality import MIN_VALUES_PER_TYPE

    entities: list[str] = []
    rows = []
    for r in reports:
        types = {e: (t.share, t.values) for e, t in _by_entity(r).items()}
        entities += [e for e in types if e not in entities]
        rows.append({"set": _set_name(r), "records": r.records, "n": sum(t.values for t in r.direct),
                     "overall": r.overall, "kept": r.words_kept_share, "types": types, "missed": r.failures(),
                     "languages": r.language_shares(), "min_n": MIN_VALUES_PER_TYPE})  # fmt: skip
    order = ["PERSON", "STREET_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "EMAIL_ADDRESS", "IBAN_CODE", "US_SSN",
             "IP_ADDRESS", "US_DRIVER_LICENSE", "SECRET"]  # fmt: skip
    return sorted(entities, key=lambda e: (order.index(e) if e in order else len(order), e)), rows


def language_totals(reports: list) -> dict[str, tuple[float, int]]:
    """Per record language, over all reports: (share of direct identifiers removed, values)."""
    totals: dict[str, list[int]] = {}
    for r in reports:
        for lang, (n, hits) in r.languages.items():
            t = totals.setdefault(lang, [0, 0])
            t[0] += n
            t[1] += hits
    return {lang: (hits / n if n else 1.0, n) for lang, (n, hits) in sorted(totals.items())}


def print_pii_quality_summary(reports: list) -> None:
    """One row per set: direct identifiers removed overall and per type (share and n), words outside spans kept,
    targets met; then the share removed per record language over all sets."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from pairforge.tasks.privacy.pii_quality import (
        MIN_VALUES_PER_TYPE,
        TARGET_OVERALL,
        TARGET_PER_TYPE,
        TARGET_WORDS_KEPT,
    )

    entities, rows = pii_quality_rows(reports)
    table = Table(title=f"PII scrubbing quality per set: direct identifiers removed (share / n). Targets: all >= "
                  f"{TARGET_OVERALL}; each type >= {TARGET_PER_TYPE} (gated from n >= {MIN_VALUES_PER_TYPE}); words "
                  f"kept >= {TARGET_WORDS_KEPT}")  # fmt: skip
    table.add_column("set", no_wrap=True, min_width=max((len(row["set"]) for row in rows), default=3))
    table.add_column("all direct", justify="right")
    for e in entities:
        table.add_column(e.replace("_", " ").lower(), justify="right")
    table.add_column("words kept", justify="right")
    table.add_column("met")
    for row in rows:
        cells = [escape(row["set"]), _cell(row["overall"], row["n"], TARGET_OVERALL, 0)]
        for e in entities:
            share, n = row["types"].get(e, (None, 0))
            cells.append("" if share is None else _cell(share, n, TARGET_PER_TYPE, row["min_n"]))
        cells.append(_cell(row["kept"], None, TARGET_WORDS_KEPT, 0))
        cells.append("[red]no[/]" if row["missed"] else "[green]yes[/]")
        table.add_row(*cells)
    console = Console(width=max(Console().width, 200))
    console.print(table)
    langs = language_totals(reports)
    console.print("direct identifiers removed per record language, all sets: "
                  + ", ".join(f"{lang} {share:.3f} (n={n})" for lang, (share, n) in langs.items()), markup=False)


def _cell(share: float, n: int | None, target: float, min_n: int) -> str:
    text = f"{share:.3f}" + (f" / {n}" if n is not None else "")
    if n is not None and n < min_n:
        return f"[dim]{text}[/]"  # too few values to gate
    return text if share >= target else f"[red]{text}[/]"


def pii_quality_markdown(reports: list) -> str:
    """The summary as Markdown tables (one row per set; then per language), misses marked in bold."""
    from pairforge.tasks.privacy.pii_quality import TARGET_OVERALL, TARGET_PER_TYPE, TARGET_WORDS_KEPT

    entities, rows = pii_quality_rows(reports)

    def cell(share: float, n: int | None, target: float, min_n: int) -> str:
        text = f"{share:.3f}" + (f" / {n}" if n is not None else "")
        if n is not None and n < min_n:
            return f"({text})"
        return text if share >= target else f"**{text}**"

    head = ["set", "records", "all direct", *entities, "words kept", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["set"], str(row["records"]), cell(row["overall"], row["n"], TARGET_OVERALL, 0)]
        for e in entities:
            share, n = row["types"].get(e, (None, 0))
            cells.append("" if share is None else cell(share, n, TARGET_PER_TYPE, row["min_n"]))
        cells += [cell(row["kept"], None, TARGET_WORDS_KEPT, 0), "no" if row["missed"] else "yes"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| record language | direct identifiers removed | n |", "|---|---|---|"]
    lines += [f"| {lang} | {share:.3f} | {n} |" for lang, (share, n) in language_totals(reports).items()]
    missed = [f"- {row['set']}: {m}" for row in rows for m in row["missed"]]
    return "\n".join(lines + ["", "Targets missed:" if missed else "All targets met.", *missed]) + "\n"


def print_pii_quality(report) -> None:
    """Per gold entity type: direct identifiers, the share of values removed; quasi-identifiers (kept by default),
    the share kept; then all direct identifiers together and the share of words outside gold spans kept."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from pairforge.tasks.privacy.pii_quality import (
        MIN_VALUES_PER_TYPE,
        TARGET_OVERALL,
        TARGET_PER_TYPE,
        TARGET_WORDS_KEPT,
    )

    # the file name and its labels are the user's: text, not markup
    table = Table(title=f"PII scrubbing quality on {escape(Path(report.source).name)} ({report.records} texts)")
    for col in ("gold type", "kind", "pairforge type", "values", "measured", "share", "target", "met"):
        table.add_column(col, justify="right" if col in ("values", "share", "target") else "left")

    def met(ok: bool) -> str:
        return "[green]yes[/]" if ok else "[red]no[/]"

    for t in report.direct:
        gated = report.gated(t)
        table.add_row(escape(t.label), "direct", t.entity, str(t.values), "removed", f"{t.share:.3f}",
                      f">= {TARGET_PER_TYPE}" if gated else f"(n < {MIN_VALUES_PER_TYPE})",
                      met(t.share >= TARGET_PER_TYPE) if gated else "")  # fmt: skip
    n_direct = sum(t.values for t in report.direct)
    table.add_row("[bold]all direct identifiers[/]", "", "", str(n_direct), "removed", f"{report.overall:.3f}",
                  f">= {TARGET_OVERALL}", met(report.overall >= TARGET_OVERALL), end_section=True)  # fmt: skip
    for t in report.types.values():
        if t.kind == "quasi":
            table.add_row(escape(t.label), "quasi (kept)", "", str(t.values), "kept", f"{t.share:.3f}", "", "")
    table.add_row("[bold]words outside gold spans[/]", "", "", str(report.words_outside), "kept",
                  f"{report.words_kept_share:.3f}", f">= {TARGET_WORDS_KEPT}",
                  met(report.words_kept_share >= TARGET_WORDS_KEPT))  # fmt: skip
    console = Console(width=max(Console().width, 110))
    console.print(table)
    langs = report.language_shares()
    if set(langs) - {"en"}:  # recall per language, for sets with records in other languages
        console.print("direct identifiers removed per record language: "
                      + ", ".join(f"{lang} {share:.3f} (n={n})" for lang, (share, n) in langs.items()), markup=False)
    if report.unknown_labels:
        console.print(f"labels not known to pairforge, scored as kept data: {', '.join(report.unknown_labels)}",
                      markup=False)


GEN_TOPICS = ("rivers", "bread", "bicycles", "libraries", "volcanoes", "chess", "tea", "bridges", "owls", "rain",
              "maps", "glass", "honey", "trains", "salt", "clocks")  # fmt: skip
TARGET_CLIENT_VS_PLAIN = 0.9  # LLMClient >= 0.9x a bare AsyncOpenAI loop


def generate_prompts(n: int) -> list[str]:
    return [f"Write one sentence about {GEN_TOPICS[i % len(GEN_TOPICS)]} (note {i})." for i in range(n)]


async def _plain_openai(base_url: str, model: str, prompts: list[str], concurrency: int, max_tokens: int) -> int:
    """The baseline: one AsyncOpenAI client, a semaphore, gather. Returns completion tokens."""
    import openai

    semaphore = asyncio.Semaphore(concurrency)

    async def one(prompt: str) -> int:
        async with semaphore:
            out = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}], temperature=0.0, max_tokens=max_tokens
            )
            return out.usage.completion_tokens

    async with openai.AsyncOpenAI(base_url=base_url, api_key="no-key", timeout=300) as client:
        return sum(await asyncio.gather(*(one(p) for p in prompts)))


def bench_generate(n: int = 24, concurrency: int = 4, max_tokens: int = 64, rounds: int = 2) -> list[dict]:
    """Time (a) a plain AsyncOpenAI loop and (b) `LLMClient.run` (no cache) on one local llama.cpp server, same
    n prompts, same concurrency, temperature 0 (so both make the same tokens). The server is warmed up first
    and the order alternates each round; times are summed over rounds.

    Rows: {name, pairs, seconds, pairs_per_s, tokens_per_s} per side, then {name, ratio, target, met}."""
    from pairforge.tasks.pairs.llm import ChatRequest, LLMClient
    from pairforge.tasks.pairs.llm_server import LocalLLMServer

    prompts = generate_prompts(n)
    totals = {"plain": [0.0, 0, 0], "client": [0.0, 0, 0]}  # seconds, pairs, completion tokens
    with LocalLLMServer() as server:
        client = LLMClient(server.base_url, server.model, max_concurrency=concurrency, temperature=0.0,
                           max_tokens=max_tokens, timeout_s=300, cache_uri=None)  # fmt: skip
        requests = [ChatRequest([{"role": "user", "content": p}], key=str(i)) for i, p in enumerate(prompts)]

        def plain() -> tuple[int, int]:
            return n, asyncio.run(_plain_openai(server.base_url, server.model, prompts, concurrency, max_tokens))

        def ours() -> tuple[int, int]:
            results, stats = client.run(requests)
            return sum(r.ok for r in results), stats.tokens_out

        asyncio.run(_plain_openai(server.base_url, server.model, generate_prompts(4), concurrency, max_tokens))
        for round_ in range(rounds):
            order = [("plain", plain), ("client", ours)]
            for name, fn in order if round_ % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                pairs, tokens = fn()
                t = totals[name]
                t[0] += time.perf_counter() - start
                t[1] += pairs
                t[2] += tokens

    rows = []
    for name, label in (("plain", "plain AsyncOpenAI + semaphore"), ("client", "pairforge LLMClient.run")):
        seconds, pairs, tokens = totals[name]
        rows.append({"name": label, "pairs": pairs, "seconds": round(seconds, 2),
                     "pairs_per_s": round(pairs / seconds, 3), "tokens_per_s": round(tokens / seconds, 1)})  # fmt: skip
    for metric in ("pairs_per_s", "tokens_per_s"):
        ratio = rows[1][metric] / rows[0][metric]
        rows.append({"name": f"LLMClient / plain, {metric.replace('_per_s', '/s')}", "ratio": round(ratio, 2),
                     "target": TARGET_CLIENT_VS_PLAIN, "met": ratio >= TARGET_CLIENT_VS_PLAIN})  # fmt: skip
    return [{**r, "concurrency": concurrency, "max_tokens": max_tokens, "rounds": rounds} for r in rows]


def print_generate_bench(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = [r for r in rows if "pairs_per_s" in r]
    first = rows[0]
    table = Table(
        title=f"Generation benchmark (local llama.cpp server, {runs[0]['pairs'] // first['rounds']} prompts x "
        f"{first['rounds']} rounds, concurrency {first['concurrency']}, max_tokens {first['max_tokens']}, "
        "temperature 0; warmed up, order alternated)"
    )
    for col in ("client", "pairs", "seconds", "pairs/s", "tokens/s", "ratio", "target", "met"):
        table.add_column(col, justify="left" if col == "client" else "right")
    for r in runs:
        table.add_row(r["name"], str(r["pairs"]), f"{r['seconds']:.2f}", f"{r['pairs_per_s']:.2f}",
                      f"{r['tokens_per_s']:.1f}", "", "", "")  # fmt: skip
    for r in rows:
        if "ratio" in r:
            ok = "[green]yes[/]" if r["met"] else "[red]no[/]"
            table.add_row(r["name"], "", "", "", "", f"{r['ratio']:.2f}x", f">= {r['target']}x", ok)
    Console(width=max(Console().width, 110)).print(table)


MEMORY_FORMATS = ("text-lines", "jsonl", "wikipedia")
TARGET_RSS_RATIO = 2.0  # peak RSS of ingesting factor x the input < 2x the base size's


def _wiki_pages() -> tuple[str, list[str], str]:
    """(header with siteinfo, raw <page> elements, footer) of the benchmark corpus's Wikipedia dump."""
    import bz2
    import re

    from pairforge.flows.bench_pipeline import bench_corpus

    xml = bz2.decompress(bench_corpus().wiki.read_bytes()).decode("utf-8")
    first, last = xml.index("<page>"), xml.rindex("</page>") + len("</page>")
    pages = re.findall(r"<page>.*?</page>", xml[first:last], flags=re.S)
    return xml[:first], pages, xml[last:]


def write_memory_corpus(fmt: str, folder: Path, target_bytes: int) -> Path:
    """A file of about `target_bytes` (uncompressed) for `fmt`: the lee_background lines (text-lines, jsonl) or the
    dump's pages (wikipedia, bz2) of the benchmark corpus (`bench_pipeline.bench_corpus`: ../shared/corpora, else
    examples/demo/data), written again and again."""
    import bz2

    from pairforge.flows.bench_pipeline import bench_corpus

    if fmt == "wikipedia":
        head, pages, tail = _wiki_pages()
        path = folder / f"wiki-{target_bytes}.xml.bz2"
        with bz2.open(path, "wt", encoding="utf-8", compresslevel=1) as out:
            out.write(head)
            size = len(head.encode())
            for page in itertools.cycle(pages):
                if size >= target_bytes:
                    break
                out.write(page + "\n")
                size += len(page.encode()) + 1
            out.write(tail)
        return path
    lines = [line for line in bench_corpus().news.read_text("utf-8").splitlines() if line.strip()]
    if fmt == "jsonl":
        lines = [json.dumps({"text": line}) for line in lines]
    path = folder / f"{fmt}-{target_bytes}.{'jsonl' if fmt == 'jsonl' else 'txt'}"
    with path.open("w", encoding="utf-8") as out:
        size = 0
        for line in itertools.cycle(lines):
            if size >= target_bytes:
                break
            size += out.write(line + "\n")
    return path


# The ingest run, in a fresh interpreter that imports only what ingest needs (this module imports Presidio).
# argv: format, file, shard rows, work folder. Prints one JSON line.
_MEMORY_CHILD = """
import json, resource, sys, time
# the readers' lazy imports, so the baseline holds them
import pairforge.tasks.ingest.extract, pairforge.tasks.ingest.wikipedia
from pairforge.tasks.core.recipe import Source
from pairforge.tasks.core.shards import Shard, write_stage
from pairforge.tasks.ingest.sources import stream_source_files

def peak_mb():
    # VmHWM starts afresh with the new program; ru_maxrss would carry the parent's peak across fork + exec
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

fmt, uri, shard_rows, work_uri = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
baseline = peak_mb()
shards, quarantined = [], 0

def sink(chunk):
    global quarantined
    quarantined += len(chunk.quarantine)
    if len(chunk.rows):
        shard = Shard(chunk.table, f"bench-{len(shards):05d}", "", 0)
        shards.append(write_stage(chunk.rows, work_uri, "ingest", shard))

start = time.perf_counter()
stream_source_files(Source(name="bench", uri=uri, format=fmt, license="CC-BY-SA-4.0"), [uri], "en", shard_rows, sink)
seconds = time.perf_counter() - start
print(json.dumps({"rows": sum(s.rows for s in shards), "shards": len(shards), "quarantined": quarantined,
                  "seconds": round(seconds, 2), "baseline_mb": round(baseline, 1), "peak_mb": round(peak_mb(), 1)}))
"""


def bench_memory(base_mb: float = 4.0, factor: int = 10, formats: tuple[str, ...] = MEMORY_FORMATS,
                 shard_rows: int = 5000) -> list[dict]:
    """Peak RSS of ingesting a base-size file and one `factor` times larger, per format, each in a fresh process.

    Rows: {format, size, input_mb, file_mb, rows, shards, seconds, baseline_mb, peak_mb} per run, then
    {format, ratio, target, met} per format (peak RSS large / base)."""
    import subprocess
    import tempfile

    from pairforge.flows.bench_pipeline import bench_corpus

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="pairforge-bench-memory-") as tmp:
        folder = Path(tmp)
        for fmt in formats:
            runs = []
            for label, mb in (("base", base_mb), (f"{factor}x", base_mb * factor)):
                path = write_memory_corpus(fmt, folder, int(mb * (1 << 20)))
                work = folder / f"work-{fmt}-{label}"
                child = subprocess.run(
                    [sys.executable, "-c", _MEMORY_CHILD, fmt, str(path), str(shard_rows), str(work)],
                    capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1],
                )
                if child.returncode != 0:
                    raise RuntimeError(f"memory benchmark child failed for {fmt}: {child.stderr.strip()[-2000:]}")
                result = json.loads(child.stdout.strip().splitlines()[-1])
                runs.append({"format": fmt, "size": label, "input_mb": round(mb, 2), "shard_rows": shard_rows,
                             "corpus": bench_corpus().name.split(":")[0],
                             "file_mb": round(path.stat().st_size / (1 << 20), 2), **result})
                path.unlink()
            rows += runs
            ratio = runs[1]["peak_mb"] / runs[0]["peak_mb"]
            rows.append({"format": fmt, "ratio": round(ratio, 2), "target": TARGET_RSS_RATIO,
                         "met": ratio < TARGET_RSS_RATIO})
    return rows


def print_memory_bench(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = [r for r in rows if "peak_mb" in r]
    table = Table(title=f"Ingest memory benchmark (stream_source_files writing work shards of {runs[0]['shard_rows']} "
                  f"rows; one fresh process per file; {runs[0].get('corpus', 'shared')} corpus)")
    for col in ("format", "size", "input MB", "file MB", "rows", "shards", "seconds", "RSS after imports MB",
                "peak RSS MB", "ratio", "target", "met"):
        table.add_column(col, justify="left" if col in ("format", "size") else "right")
    for r in rows:
        if "peak_mb" in r:
            table.add_row(r["format"], r["size"], f"{r['input_mb']:g}", f"{r['file_mb']:g}", str(r["rows"]),
                          str(r["shards"]), f"{r['seconds']:.2f}", f"{r['baseline_mb']:.0f}", f"{r['peak_mb']:.0f}",
                          "", "", "")  # fmt: skip
        else:
            ok = "[green]yes[/]" if r["met"] else "[red]no[/]"
            table.add_row(r["format"], "peak ratio", "", "", "", "", "", "", "", f"{r['ratio']:.2f}x",
                          f"< {r['target']}x", ok, end_section=True)  # fmt: skip
    Console(width=max(Console().width, 130)).print(table)


if __name__ == "__main__":
    if sys.argv[1:2] == ["generate"]:
        print_generate_bench(bench_generate())
    else:
        print_pii_bench(bench_pii())
