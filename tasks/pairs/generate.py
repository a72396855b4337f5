"""Making pairs with the recipe's generators: `generate_pairs` runs one generator over its input shards.

What a generator asks and how it reads the answers is its own (one file per kind in `tasks.pairs.generators`,
behind `Generator`); what is the same for every kind is here: `run_generator` sends a generator's requests
through `tasks.pairs.llm.LLMClient` (concurrency under the global limit, retries, the request cache, stats) in
rounds (a generator that talks in turns returns its next requests with its rows: every conversation's next turn is
one round),
puts failed requests into the dead letter, counts truncated answers and repeated pairs as rejected, and
`generate_pairs` writes the pairs shard with its provenance. The model endpoint (`model_endpoint`: the
configured one or the embedded llama.cpp server) is opened once per run by the build flow. Judging is
`tasks.pairs.judge`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import GenerateOptions, GeneratorSpec, JudgeOptions
from pairforge.tasks.core.schema import PAIRS, pipeline_version
from pairforge.tasks.core.shards import Shard, StageResult, finish_stage, resumable, stage_uri
from pairforge.tasks.pairs.generators.base import Generator, Job
from pairforge.tasks.pairs.judging import Judge, judge_clients
from pairforge.tasks.pairs.llm import ChatRequest, ChatResult, LLMClient, LLMStats

if TYPE_CHECKING:
    from pairforge.tasks.pairs.llm_server import LocalLLMServer

DEAD_LETTER = pl.Schema({"key": pl.String, "kind": pl.String, "source": pl.String, "doc_id": pl.String,
                         "error": pl.String, "stage": pl.String})


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str = field(repr=False)  # never printed or logged
    server: LocalLLMServer | None = field(default=None, repr=False, compare=False)  # the embedded one, if any


@contextmanager
def model_endpoint(opts: GenerateOptions) -> Iterator[Endpoint]:
    """The endpoint generation talks to: the configured one, or the embedded llama.cpp server for its lifetime."""
    if opts.base_url or opts.provider == "openai":
        key = os.environ.get(opts.api_key_env, "")
        if opts.provider == "openai" and not key:
            raise RuntimeError(f"generate.api_key_env: environment variable {opts.api_key_env} is not set")
        yield Endpoint(opts.base_url or "https://api.openai.com/v1", opts.model or "gpt-4o-mini", key or "none")
        return
    from pairforge.tasks.pairs.llm_server import LocalLLMServer

    with LocalLLMServer() as server:
        yield Endpoint(server.base_url, opts.model or server.model, "local", server)


LLM_LIMIT = "pairforge-llm"  # a Prefect global concurrency limit shared by every run talking to a model


def ensure_llm_limit(limit: int) -> None:
    """Create the global concurrency limit on the Prefect server if it is missing (an existing one is kept)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(LLM_LIMIT)
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=LLM_LIMIT, limit=limit))


def run_requests(client: LLMClient, requests: list[ChatRequest]) -> tuple[list[ChatResult], LLMStats]:
    """Send requests while holding slots of the global limit, so concurrent runs share the endpoint."""
    from prefect.concurrency.sync import concurrency

    from pairforge.tasks.core.settings import get_settings

    if not requests:
        return [], LLMStats()
    with concurrency(LLM_LIMIT, occupy=min(client.max_concurrency, get_settings().llm_concurrency_limit)):
        return client.run(requests)


def client_for(endpoint: Endpoint, opts: GenerateOptions, cache_uri: str | None) -> LLMClient:
    return LLMClient(
        endpoint.base_url, endpoint.model, endpoint.api_key, max_concurrency=opts.max_concurrency,
        timeout_s=opts.timeout_s, max_retries=opts.max_retries, max_parse_retries=opts.max_parse_retries,
        temperature=opts.temperature, max_tokens=opts.max_tokens, cache_uri=cache_uri, server=endpoint.server,
    )


# ---- the stage ----------------------------------------------------------------------------------


@dataclass
class Generated:
    pairs: list[dict] = field(default_factory=list)
    dead: list[dict] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    rejected_rows: list[dict] = field(default_factory=list)  # pair rows `finish` rejected, each with its `reason`
    stats: LLMStats = field(default_factory=LLMStats)
    submitted: int = 0  # model requests asked for (cache hits included)


def run_generator(spec: GeneratorSpec, client: LLMClient | None, data: pl.DataFrame | None, *, lang: str,
                  limit: int | None, judge: JudgeOptions | None = None) -> Generated:
    """Run one generator over `data` (rows of its `input_table`; None when no shard reached it) -> pairs.
    `judge`: the run's judge options, for a generator that judges its own rows (`Generator.finish`)."""
    gen = spec.generator
    out = Generated()
    if not gen.needs_model:
        out.pairs = gen.compute(spec, data, lang=lang)
        return out
    jobs = gen.jobs(spec, data, lang=lang, limit=limit)
    turned = []  # rows the generator rejected while answering (a bad conversation turn), each with its `reason`
    while jobs:  # one round; a generator that talks in turns returns the next round's requests among its rows
        out.submitted += len(jobs)
        results, stats = run_requests(client, [j.request for j in jobs])
        out.stats.merge(stats)
        made: list = []
        for job, res in zip(jobs, results, strict=True):
            if res.error:
                out.dead.append({"key": job.request.key, "kind": spec.kind, "source": job.doc.get("source"),
                                 "doc_id": job.doc.get("id"), "error": res.error, "stage": "generate"})
            elif res.finish_reason == "length":
                got = gen.truncated(spec, job, res, lang=lang)
                if got is None:
                    out.rejected[f"{spec.kind}: truncated (hit max_tokens)"] += 1
                made += got or []
            else:
                made += gen.pairs(spec, job, res, lang=lang)
        jobs = [m for m in made if isinstance(m, Job)]
        rows = [m for m in made if not isinstance(m, Job)]
        out.pairs += [r for r in rows if "reason" not in r]
        turned += [r for r in rows if "reason" in r]
    out = _drop_repeats(out, spec.kind)
    if out.pairs and type(gen).finish is not Generator.finish:  # a second pass with the run's judges
        judges = Judge(run_requests, judge_clients(client, judge or JudgeOptions()), judge or JudgeOptions(), out.stats)
        out.pairs, out.rejected_rows = gen.finish(spec, out.pairs, judges)
    out.rejected_rows += turned
    # counted by kind and reason without the row's detail ("preference: low margin: 0.5 < 1" -> "...: low margin")
    out.rejected.update(":".join(r["reason"].split(":")[:2]) for r in out.rejected_rows)
    return out


def _drop_repeats(out: Generated, kind: str) -> Generated:
    """Small models often say the same thing twice: keep the first of identical pairs, count the rest."""
    seen: set[str] = set()
    unique = []
    for p in out.pairs:
        if p["id"] in seen:
            out.rejected[f"{kind}: repeated pair"] += 1
        else:
            seen.add(p["id"])
            unique.append(p)
    out.pairs = unique
    return out


@task(name="generate", cache_policy=NO_CACHE, task_run_name="generate-{spec.kind}-{index}")
@resumable("generate", lambda a: f"{a['index']:02d}-{a['spec'].kind}", ignore=("endpoint",))
def generate_pairs(spec: GeneratorSpec, index: int, inputs: list[Shard], endpoint: Endpoint | None,
                   opts: GenerateOptions, cache_uri: str | None, lang: str, work_uri: str) -> StageResult:
    """One generator over its input shards (of its `spec.input_table`) -> a pairs shard."""
    frames = [s.read() for s in inputs]
    data = pl.concat(frames) if frames else None
    client = client_for(endpoint, opts, cache_uri) if endpoint else None
    got = run_generator(spec, client, data, lang=lang, limit=spec.max_chunks, judge=opts.judge)
    name = f"generated-{index:02d}-{spec.kind}"
    frame = pl.DataFrame(got.pairs, schema=PAIRS, orient="row") if got.pairs else pl.DataFrame(schema=PAIRS)
    frame = frame.with_columns(  # provenance: which model wrote it (none for templates), when, with which pairforge
        generator=pl.lit(endpoint.model if endpoint and spec.needs_model else None, pl.String),
        retrieved_at=pl.lit(datetime.now(UTC), PAIRS["retrieved_at"]),
        pipeline_version=pl.lit(pipeline_version()),
    )
    shard = Shard("pairs", name, stage_uri(work_uri, "generate", "pairs", name), len(frame))
    dead_uri = None
    if got.dead:
        dead_uri = stage_uri(work_uri, "dead_letter", "pairs", name)
        storage.write_parquet(pl.DataFrame(got.dead, schema=DEAD_LETTER, orient="row"), dead_uri)
    # rows a generator's second pass rejected (e.g. a preference tie), with their reasons, into the rejected table
    reasons = pl.Series("reason", [r.pop("reason") for r in got.rejected_rows], pl.String)
    rejected = pl.DataFrame(got.rejected_rows or None, schema=PAIRS, orient="row").with_columns(reasons)
    stats = got.stats.to_dict()
    get_run_logger().info("%s: %d pairs, %d failed requests, %s", spec.kind, len(frame), len(got.dead), stats)
    result = finish_stage("generate", shard, work_uri, frame, rejected, llm=stats, submitted=got.submitted,
                          dead=len(got.dead), dead_uri=dead_uri)
    # the counts: rejected rows' reasons without their detail, plus answers that made no row (truncated, repeated)
    return replace(result, rejected=dict(got.rejected))
