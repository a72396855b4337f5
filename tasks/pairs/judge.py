"""The judge stage: every pair of the judged origins scored by the run's judges (tasks.pairs.judging: the recipe's
rubric or the built-in 1-5 one, several judges averaged); pairs scored below `min_score`, or that no judge could
score, are rejected with the score and the judges' reason. A multi-turn conversation is judged on its last answer
with the turns before it (`judged_prompt`)."""

from __future__ import annotations

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import GenerateOptions, JudgeOptions
from pairforge.tasks.core.schema import earlier_turns
from pairforge.tasks.core.shards import Shard, StageResult, finish_stage, resumable, stage_uri
from pairforge.tasks.pairs.generate import DEAD_LETTER, Endpoint, client_for, run_requests
from pairforge.tasks.pairs.judging import judge_clients, score_all
from pairforge.tasks.pairs.llm import LLMClient, LLMStats


def judged_prompt() -> pl.Expr:
    """What the judge reads as a pair's prompt: a multi-turn conversation's earlier turns, one "User: ..." /
    "Assistant: ..." line each, then its last user turn (a follow-up means nothing alone); else the prompt."""
    turns = pl.col("messages").list.eval(pl.element().filter(pl.element().struct.field("role") != "system"))
    lines = turns.list.slice(0, turns.list.len() - 2).list.eval(pl.concat_str(
        pl.element().struct.field("role").str.to_titlecase(), pl.lit(": "),
        pl.element().struct.field("content").fill_null("")))
    return pl.when(earlier_turns().list.len() > 0).then(pl.concat_str(
        lines.list.join("\n"), pl.lit("\nUser: "), pl.col("prompt").fill_null(""))).otherwise(pl.col("prompt")).alias(
        "prompt")


def judge_frame(df: pl.DataFrame, clients: list[LLMClient],
                opts: JudgeOptions) -> tuple[pl.DataFrame, pl.DataFrame, list, dict]:
    """(kept, rejected with reason, dead-letter rows, stats). A pair the judges could not score is rejected;
    pairs of other origins, and template pairs (their answers are computed), pass unjudged."""
    judged = pl.col("origin").is_in(opts.origins) & ~pl.col("source").str.starts_with("template:")
    skipped, df = df.filter(~judged), df.filter(judged)
    stats = LLMStats()
    prompt = judged_prompt() if "messages" in df.columns else pl.col("prompt")
    items = [(f"judge:{i}", p, r) for i, p, r in df.select("id", prompt, "response").iter_rows()]
    results = score_all(run_requests, clients, items, opts.rubric, stats)
    reasons = [
        f"judge unavailable: {s.error}" if s.error
        else None if s.score >= opts.min_score
        else f"judge score {s.score:g} < {opts.min_score}: {s.reason}"
        for s in results
    ]
    dead = [{"key": k, "kind": "judge", "source": src, "doc_id": doc, "error": s.error, "stage": "judge"}
            for (k, _, _), s, src, doc in zip(items, results, df["source"], df["doc_id"], strict=True) if s.error]
    tagged = df.with_columns(pl.Series("judge_score", [s.score for s in results], pl.Float64),
                             pl.Series("reason", reasons, pl.String))
    kept = pl.concat([skipped, tagged.filter(pl.col("reason").is_null()).drop("judge_score", "reason")])
    return kept, tagged.filter(pl.col("reason").is_not_null()), dead, stats.to_dict()


@task(name="judge", cache_policy=NO_CACHE, task_run_name="judge-{shard.name}")
@resumable("judge", lambda a: a["shard"].name, ignore=("endpoint",))
def judge_shard(shard: Shard, endpoint: Endpoint, opts: GenerateOptions, cache_uri: str | None,
                work_uri: str) -> StageResult:
    clients = judge_clients(client_for(endpoint, opts, cache_uri), opts.judge)
    kept, rejected, dead, stats = judge_frame(shard.read(), clients, opts.judge)
    dead_uri = None
    if dead:
        dead_uri = stage_uri(work_uri, "dead_letter", "pairs", f"judge-{shard.name}")
        storage.write_parquet(pl.DataFrame(dead, schema=DEAD_LETTER, orient="row"), dead_uri)
    # counted without the judge's sentence ("judge score 2 < 3: <why>" -> "judge score 2 < 3")
    return finish_stage("judge", shard, work_uri, kept, rejected.drop("judge_score"),
                        count_as=lambda reason: reason.split(":")[0], llm=stats, dead=len(dead), dead_uri=dead_uri)
