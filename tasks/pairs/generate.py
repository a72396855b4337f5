"""Pair generators: documents (or seed tasks) -> chat requests -> pairs (the judge is `tasks.pairs.judge`).

For the chunk kinds (qa, summarization, translation, classification), `chunk_requests` builds one
`ChatRequest` per chunk (with a JSON schema where the answer is structured) and `chunk_pairs` turns one
answer into pair rows; `self_instruct_requests` asks for new tasks in the style of seed pairs;
`template` (`arithmetic_pairs`) needs no model at all. `run_generator` dispatches on `spec.kind`.
Everything model-facing goes through `tasks.pairs.llm.LLMClient`, so concurrency, retries, the request cache and
the stats are the same for every kind.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import GenerateOptions, GeneratorSpec
from pairforge.tasks.core.schema import PAIRS, pipeline_version, stable_id
from pairforge.tasks.core.shards import Shard, resumable, stage_uri
from pairforge.tasks.pairs.llm import ChatRequest, ChatResult, LLMClient, LLMStats

if TYPE_CHECKING:
    from pairforge.tasks.pairs.llm_server import LocalLLMServer

DEAD_LETTER = pl.Schema({"key": pl.String, "kind": pl.String, "source": pl.String, "doc_id": pl.String,
                         "error": pl.String, "stage": pl.String})
TEMPLATE_LICENSE = "CC0-1.0"  # computed by pairforge, no third-party text


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


# ---- building pair rows -------------------------------------------------------------------------


def pair_row(prompt: str, response: str, *, task: str, source: str, license: str, lang: str, uri: str | None,
             doc_id: str | None, context: str | None = None, system: str | None = None) -> dict:
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    pair_id = stable_id("generated", task, doc_id or "", prompt, response)
    return {"id": pair_id, "doc_id": doc_id or pair_id, "prompt": prompt, "response": response,
            "messages": messages, "system": system, "context": context, "task": task, "source": source,
            "uri": uri, "license": license, "lang": lang, "origin": "generated"}


@dataclass
class Chunk:
    doc: dict  # the document row (id, source, uri, license, lang)
    index: int
    text: str


def chunk_documents(docs: pl.DataFrame, spec: GeneratorSpec, limit: int | None) -> list[Chunk]:
    """Split documents into chunks of at most `spec.chunk_tokens` model tokens, in document order."""
    from pairforge.tasks.publish.tokenizer import get_tokenizer

    tok = get_tokenizer()
    chunks: list[Chunk] = []
    for doc in docs.select("id", "text", "source", "uri", "license", "lang").iter_rows(named=True):
        for i, text in enumerate(tok.chunk(doc["text"], spec.chunk_tokens)):
            if limit is not None and len(chunks) >= limit:
                return chunks
            if text.strip():
                chunks.append(Chunk(doc, i, text.strip()))
    return chunks


# ---- generators ---------------------------------------------------------------------------------

QA_SYSTEM = ("You write question and answer pairs for a reading-comprehension dataset. "
             "Use only facts stated in the text.")


def _qa_schema(n: int) -> dict:
    item = {"type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
            "required": ["question", "answer"]}
    return {"type": "object", "properties": {"pairs": {"type": "array", "items": item, "minItems": 1,
                                                       "maxItems": n}}, "required": ["pairs"]}


def chunk_requests(spec: GeneratorSpec, chunks: list[Chunk]) -> list[tuple[ChatRequest, Chunk]]:
    out = []
    for c in chunks:
        key = f"{spec.kind}:{c.doc['id']}:{c.index}"
        if spec.kind == "qa":
            user = (f'Text:\n"""\n{c.text}\n"""\n\nWrite {spec.per_chunk} question(s) that the text answers, each '
                    'with a short answer taken from the text. Reply with JSON: '
                    '{"pairs": [{"question": "...", "answer": "..."}]}')
            req = ChatRequest([{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": user}],
                              _qa_schema(spec.per_chunk), key)
        elif spec.kind == "classification":
            schema = {"type": "object", "properties": {"label": {"type": "string", "enum": spec.labels}},
                      "required": ["label"]}
            req = ChatRequest([{"role": "user", "content": classification_prompt(spec, c.text)
                                + '\nReply with JSON: {"label": "..."}'}], schema, key)
        else:
            req = ChatRequest([{"role": "user", "content": instruction_prompt(spec, c.text)}], None, key)
        out.append((req, c))
    return out


def instruction_prompt(spec: GeneratorSpec, text: str) -> str:
    if spec.kind == "summarization":
        return f"Summarise the following text in two or three sentences.\n\nText:\n{text}"
    return f"Translate the following text into {spec.target_language}.\n\nText:\n{text}"


def classification_prompt(spec: GeneratorSpec, text: str) -> str:
    return f"Classify the text into one of these labels: {', '.join(spec.labels)}.\n\nText:\n{text}\n"


def chunk_pairs(spec: GeneratorSpec, chunk: Chunk, result: ChatResult) -> list[dict]:
    d = chunk.doc
    common = dict(source=d["source"], license=d["license"], lang=d["lang"], uri=d["uri"], doc_id=d["id"])
    if spec.kind == "qa":
        return [pair_row(p["question"].strip(), p["answer"].strip(), task="qa", context=chunk.text, **common)
                for p in result.parsed["pairs"][: spec.per_chunk]]
    if spec.kind == "classification":
        return [pair_row(classification_prompt(spec, chunk.text).strip(), result.parsed["label"],
                         task="classification", **common)]
    task_name = "summarization" if spec.kind == "summarization" else "translation"
    context = chunk.text if spec.kind == "summarization" else None
    return [pair_row(instruction_prompt(spec, chunk.text), result.text.strip(), task=task_name, context=context,
                     **common)]


SELF_INSTRUCT_SCHEMA = {"type": "object", "properties": {
    "instruction": {"type": "string"}, "input": {"type": "string"}, "output": {"type": "string"}},
    "required": ["instruction", "input", "output"]}


def self_instruct_requests(spec: GeneratorSpec, seeds: pl.DataFrame) -> list[ChatRequest]:
    """Self-Instruct style: show three random seed tasks, ask for one new task with its answer."""
    rng = random.Random(spec.seed)
    prompts = seeds.get_column("prompt").to_list()
    out = []
    for i in range(spec.count):
        shown = rng.sample(prompts, k=min(3, len(prompts)))
        examples = "\n".join(f"{n}. {p[:500]}" for n, p in enumerate(shown, start=1))
        user = (f"Here are example tasks:\n{examples}\n\nCome up with one new task that is different from these, "
                'and answer it. Reply with JSON: {"instruction": "...", "input": "...", "output": "..."} '
                '(input may be "").')
        out.append(ChatRequest([{"role": "user", "content": user}], SELF_INSTRUCT_SCHEMA, f"self-instruct:{i}"))
    return out


def arithmetic_pairs(spec: GeneratorSpec, lang: str) -> list[dict]:
    """Template pairs with computed answers ("What is the sum of 5 and 3?" -> "8"); no model involved."""
    rng = random.Random(spec.seed)
    ops = [("sum", lambda a, b: a + b), ("difference", lambda a, b: a - b), ("product", lambda a, b: a * b)]
    out = []
    for _ in range(spec.count):
        name, fn = rng.choice(ops)
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        out.append(pair_row(f"What is the {name} of {a} and {b}?", str(fn(a, b)), task="arithmetic",
                            source="template:arithmetic", license=TEMPLATE_LICENSE, lang=lang, uri="pairforge:template",
                            doc_id=None))
    return out


# ---- the stage ----------------------------------------------------------------------------------


@dataclass
class Generated:
    pairs: list[dict] = field(default_factory=list)
    dead: list[dict] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    stats: LLMStats = field(default_factory=LLMStats)
    submitted: int = 0  # model requests asked for (cache hits included)


def run_generator(spec: GeneratorSpec, client: LLMClient | None, *, docs: pl.DataFrame | None,
                  seeds: pl.DataFrame | None, lang: str, limit: int | None) -> Generated:
    out = Generated()
    if spec.kind == "template":
        out.pairs = arithmetic_pairs(spec, lang)
        return out
    if spec.kind == "self-instruct":
        if seeds is None or not len(seeds):
            raise ValueError("self-instruct: the seed sources have no pairs")
        requests = self_instruct_requests(spec, seeds)
        meta = [None] * len(requests)
    else:
        todo = chunk_requests(spec, chunk_documents(docs, spec, limit))
        requests, meta = [r for r, _ in todo], [c for _, c in todo]
    out.submitted = len(requests)
    results, out.stats = run_requests(client, requests)
    for req, chunk, res in zip(requests, meta, results, strict=True):
        doc = chunk.doc if chunk else {}
        if res.error:
            out.dead.append({"key": req.key, "kind": spec.kind, "source": doc.get("source"), "doc_id": doc.get("id"),
                             "error": res.error, "stage": "generate"})
        elif res.finish_reason == "length":
            out.rejected[f"{spec.kind}: truncated (hit max_tokens)"] += 1
        elif spec.kind == "self-instruct":
            p = res.parsed
            prompt = p["instruction"].strip() + (f"\n\n{p['input'].strip()}" if p["input"].strip() else "")
            src = seeds.row(0, named=True)
            out.pairs.append(pair_row(prompt, p["output"].strip(), task="instruction", source=src["source"],
                                      license=src["license"], lang=lang, uri="pairforge:self-instruct",
                                      doc_id=None))
        else:
            out.pairs += chunk_pairs(spec, chunk, res)
    return _drop_repeats(out, spec.kind)


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
                   opts: GenerateOptions, cache_uri: str | None, lang: str, work_uri: str) -> dict:
    """One generator over its input shards (documents, or seed pairs for self-instruct) -> a pairs shard."""
    frames = [s.read() for s in inputs]
    data = pl.concat(frames) if frames else None
    client = client_for(endpoint, opts, cache_uri) if endpoint else None
    got = run_generator(spec, client, docs=data if spec.kind != "self-instruct" else None,
                        seeds=data if spec.kind == "self-instruct" else None, lang=lang, limit=spec.max_chunks)
    name = f"generated-{index:02d}-{spec.kind}"
    frame = pl.DataFrame(got.pairs, schema=PAIRS, orient="row") if got.pairs else pl.DataFrame(schema=PAIRS)
    frame = frame.with_columns(  # provenance: which model wrote it (none for templates), when, with which pairforge
        generator=pl.lit(endpoint.model if endpoint and spec.kind != "template" else None, pl.String),
        retrieved_at=pl.lit(datetime.now(UTC), PAIRS["retrieved_at"]),
        pipeline_version=pl.lit(pipeline_version()),
    )
    shard = Shard("pairs", name, stage_uri(work_uri, "generate", "pairs", name), len(frame))
    storage.write_parquet(frame, shard.uri)
    dead_uri = None
    if got.dead:
        dead_uri = stage_uri(work_uri, "dead_letter", "pairs", name)
        storage.write_parquet(pl.DataFrame(got.dead, schema=DEAD_LETTER, orient="row"), dead_uri)
    stats = got.stats.to_dict()
    get_run_logger().info("%s: %d pairs, %d failed requests, %s", spec.kind, len(frame), len(got.dead), stats)
    return {"shard": shard, "dead": len(got.dead), "dead_uri": dead_uri, "rejected": dict(got.rejected),
            "stats": stats, "kind": spec.kind, "submitted": got.submitted}
