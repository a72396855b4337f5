"""The optional LLM judge: a 1-5 rubric score with a reason for every pair; low scores are rejected."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import GenerateOptions
from pairforge.tasks.core.shards import Shard, StageResult, finish_stage, resumable, stage_uri
from pairforge.tasks.pairs.generate import DEAD_LETTER, Endpoint, client_for, run_requests
from pairforge.tasks.pairs.llm import ChatRequest, LLMClient

RUBRIC = """Rate how good the response is as training data for the prompt, from 1 to 5:
5 = correct, complete, helpful and well written; 4 = good with minor issues; 3 = acceptable;
2 = partly wrong, off-topic or unhelpful; 1 = wrong, harmful, empty or nonsense.
Reply with JSON: {"score": <1-5>, "reason": "<one short sentence>"}"""

# an enum, not minimum/maximum: llama.cpp's grammar enforces enums but not numeric bounds
SCHEMA = {"type": "object", "properties": {"score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
                                           "reason": {"type": "string", "maxLength": 200}},
          "required": ["score", "reason"]}


def judge_requests(df: pl.DataFrame) -> list[ChatRequest]:
    return [
        ChatRequest([{"role": "system", "content": RUBRIC},
                     {"role": "user", "content": f"Prompt:\n{prompt}\n\nResponse:\n{response}"}],
                    SCHEMA, f"judge:{pair_id}", temperature=0.0, max_tokens=128)
        for pair_id, prompt, response in df.select("id", "prompt", "response").iter_rows()
    ]


def judge_frame(df: pl.DataFrame, client: LLMClient, min_score: int,
                origins: list[str]) -> tuple[pl.DataFrame, pl.DataFrame, list, dict]:
    """(kept, rejected with reason, dead-letter rows, stats). A pair the judge could not score is rejected;
    pairs of other origins, and template pairs (their answers are computed), pass unjudged."""
    judged = pl.col("origin").is_in(origins) & ~pl.col("source").str.starts_with("template:")
    skipped, df = df.filter(~judged), df.filter(judged)
    results, stats = run_requests(client, judge_requests(df))
    scores = [r.parsed["score"] if not r.error else None for r in results]
    reasons = [
        f"judge unavailable: {r.error}" if r.error
        else None if r.parsed["score"] >= min_score
        else f"judge score {r.parsed['score']} < {min_score}: {r.parsed['reason'][:200]}"
        for r in results
    ]
    dead = [{"key": r.key, "kind": "judge", "source": src, "doc_id": doc, "error": r.error, "stage": "judge"}
            for r, src, doc in zip(results, df["source"], df["doc_id"], strict=True) if r.error]
    tagged = df.with_columns(pl.Series("judge_score", scores, pl.Int8), pl.Series("reason", reasons, pl.String))
    kept = pl.concat([skipped, tagged.filter(pl.col("reason").is_null()).drop("judge_score", "reason")])
    return kept, tagged.filter(pl.col("reason").is_not_null()), dead, stats.to_dict()


@task(name="judge", cache_policy=NO_CACHE, task_run_name="judge-{shard.name}")
@resumable("judge", lambda a: a["shard"].name, ignore=("endpoint",))
def judge_shard(shard: Shard, endpoint: Endpoint, opts: GenerateOptions, cache_uri: str | None,
                work_uri: str) -> StageResult:
    kept, rejected, dead, stats = judge_frame(shard.read(), client_for(endpoint, opts, cache_uri),
                                              opts.judge.min_score, opts.judge.origins)
    dead_uri = None
    if dead:
        dead_uri = stage_uri(work_uri, "dead_letter", "pairs", f"judge-{shard.name}")
        storage.write_parquet(pl.DataFrame(dead, schema=DEAD_LETTER, orient="row"), dead_uri)
    # counted without the judge's sentence ("judge score 2 < 3: <why>" -> "judge score 2 < 3")
    return finish_stage("judge", shard, work_uri, kept, rejected.drop("judge_score"),
                        count_as=lambda reason: reason.split(":")[0], llm=stats, dead=len(dead), dead_uri=dead_uri)
