"""Asking LLM judges: rubric scores for pairs (the judge stage, tasks.pairs.judge), and comparisons of candidate
responses (the preference generator, tasks.pairs.generators.preference, through the `Judge` it is handed).

- absolute: each response scored 1..scale with a reason against the recipe's rubric (`generate.judge.rubric`:
  criteria, scale, scored examples), or the built-in 1-5 `RUBRIC` when there is none (the default);
- pairwise: two responses compared, each pair asked in both orders (A/B, then B/A) so that a judge which prefers a
  position cancels out; when one judge's two verdicts disagree the item is inconsistent, never a preference;
- several judges (`generate.judge.judges`): every judge answers every question; scores are averaged, a pairwise
  item's points are the share of all verdicts each response won (a tie counts half).

Requests go through `send` (tasks.pairs.generate.run_requests: the global concurrency limit); this module imports
neither the recipe nor the generate stage at run time, so generators can be handed a `Judge`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pairforge.tasks.pairs.chat import ChatRequest, ChatResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from pairforge.tasks.core.recipe import JudgeOptions, Rubric
    from pairforge.tasks.pairs.llm import LLMClient, LLMStats

    Send = Callable[[LLMClient, list[ChatRequest]], tuple[list[ChatResult], LLMStats]]

RUBRIC = """Rate how good the response is as training data for the prompt, from 1 to 5:
5 = correct, complete, helpful and well written; 4 = good with minor issues; 3 = acceptable;
2 = partly wrong, off-topic or unhelpful; 1 = wrong, harmful, empty or nonsense.
Reply with JSON: {"score": <1-5>, "reason": "<one short sentence>"}"""

REASON = {"type": "string", "maxLength": 200}
REASON_CHARS = 200  # of one judge's reason, as rows and the rejected table keep it


def score_schema(scale: int) -> dict:
    # an enum, not minimum/maximum: llama.cpp's grammar enforces enums but not numeric bounds
    return {"type": "object", "properties": {"score": {"type": "integer", "enum": list(range(1, scale + 1))},
                                             "reason": REASON}, "required": ["score", "reason"]}


SCHEMA = score_schema(5)
PAIRWISE_SCHEMA = {"type": "object", "properties": {"better": {"type": "string", "enum": ["A", "B", "tie"]},
                                                    "reason": REASON}, "required": ["better", "reason"]}


def _criteria(rubric: Rubric) -> str:
    return "; ".join(rubric.criteria)


def rubric_text(rubric: Rubric | None) -> str:
    """The judge's instructions for absolute scores (the built-in RUBRIC without a recipe rubric)."""
    if rubric is None:
        return RUBRIC
    n = rubric.scale
    lines = [f"Rate how good the response is as training data for the prompt, from 1 to {n}, on these criteria: "
             f"{_criteria(rubric)}.", f"{n} = meets every criterion; 1 = meets none."]
    for ex in rubric.examples:
        lines.append(f'Example: prompt "{ex.prompt}", response "{ex.response}" -> score {ex.score}'
                     + (f" ({ex.reason})" if ex.reason else ""))
    lines.append(f'Reply with JSON: {{"score": <1-{n}>, "reason": "<one short sentence>"}}')
    return "\n".join(lines)


def pairwise_text(rubric: Rubric | None) -> str:
    criteria = _criteria(rubric) if rubric else "correct, complete, helpful and well written"
    return ("Compare two responses to the same prompt as training data. The better response is: "
            f"{criteria}. Ignore which one comes first.\n"
            'Reply with JSON: {"better": "A" | "B" | "tie", "reason": "<one short sentence>"}')


def score_request(key: str, prompt: str, response: str, rubric: Rubric | None) -> ChatRequest:
    return ChatRequest([{"role": "system", "content": rubric_text(rubric)},
                        {"role": "user", "content": f"Prompt:\n{prompt}\n\nResponse:\n{response}"}],
                       score_schema(rubric.scale if rubric else 5), key, temperature=0.0, max_tokens=128)


def compare_request(key: str, prompt: str, a: str, b: str, rubric: Rubric | None) -> ChatRequest:
    return ChatRequest([{"role": "system", "content": pairwise_text(rubric)},
                        {"role": "user", "content": f"Prompt:\n{prompt}\n\nResponse A:\n{a}\n\nResponse B:\n{b}"}],
                       PAIRWISE_SCHEMA, key, temperature=0.0, max_tokens=128)


def judge_clients(client: LLMClient, opts: JudgeOptions) -> list[LLMClient]:
    """One client per configured judge (unset fields: `client`'s endpoint and model); just `client` without any."""
    out = []
    for j in opts.judges:  # a judge without its own api_key_env uses the run's key (never logged)
        key = os.environ.get(j.api_key_env, "") if j.api_key_env else None
        if j.api_key_env and not key:
            raise RuntimeError(f"generate.judge.judges: environment variable {j.api_key_env} is not set")
        out.append(type(client)(
            j.base_url or client.base_url, j.model or client.model, key if j.api_key_env else client._api_key,
            max_concurrency=client.max_concurrency, timeout_s=client.timeout_s, max_retries=client.max_retries,
            max_parse_retries=client.max_parse_retries, temperature=client.temperature, max_tokens=client.max_tokens,
            cache_uri=client.cache_uri, server=client.server if not j.base_url else None,
        ))  # fmt: skip
    return out or [client]


@dataclass
class Score:
    """Every judge's absolute score of one response, averaged."""

    score: float | None  # None: a judge could not answer (`error`)
    reason: str = ""
    error: str | None = None


@dataclass
class Comparison:
    """Every judge's verdicts on responses a and b, each judge asked in both orders."""

    points_a: float = 0.0  # share of verdicts a won (a tie counts half)
    points_b: float = 0.0
    inconsistent: bool = False  # a judge's verdict changed with the order: position bias, not a preference
    reason: str = ""
    error: str | None = None

    @property
    def tie(self) -> bool:
        return not self.inconsistent and self.points_a == self.points_b


def _ask_all(send: Send, clients: list[LLMClient], requests: list[ChatRequest], stats: LLMStats) -> list[list]:
    """Every judge's results for `requests`: [judge][request]."""
    out = []
    for c in clients:
        results, s = send(c, requests)
        stats.merge(s)
        out.append(results)
    return out


def score_all(send: Send, clients: list[LLMClient], items: list[tuple[str, str, str]], rubric: Rubric | None,
              stats: LLMStats) -> list[Score]:
    """Absolute scores of (key, prompt, response) items, averaged over the judges."""
    per_judge = _ask_all(send, clients, [score_request(k, p, r, rubric) for k, p, r in items], stats)
    scores = []
    for results in zip(*per_judge, strict=True):
        if failed := [r.error for r in results if r.error]:
            scores.append(Score(None, error=failed[0]))
            continue
        values = [r.parsed["score"] for r in results]
        reason = " | ".join(r.parsed["reason"].strip()[:REASON_CHARS] for r in results)
        scores.append(Score(sum(values) / len(values), reason))
    return scores


def compare_all(send: Send, clients: list[LLMClient], items: list[tuple[str, str, str, str]],
                rubric: Rubric | None, stats: LLMStats) -> list[Comparison]:
    """Pairwise verdicts on (key, prompt, a, b) items: each judge sees (A=a, B=b) and then (A=b, B=a)."""
    requests = []
    for k, p, a, b in items:
        requests += [compare_request(f"{k}:ab", p, a, b, rubric), compare_request(f"{k}:ba", p, b, a, rubric)]
    per_judge = _ask_all(send, clients, requests, stats)
    out = []
    for i in range(len(items)):
        c = Comparison()
        winners, reasons = [], []
        for results in per_judge:
            first, second = results[2 * i], results[2 * i + 1]
            if first.error or second.error:
                c.error = first.error or second.error
                break
            # the winner in terms of a/b: the second question showed b as A
            w1 = {"A": "a", "B": "b", "tie": "tie"}[first.parsed["better"]]
            w2 = {"A": "b", "B": "a", "tie": "tie"}[second.parsed["better"]]
            c.inconsistent |= w1 != w2
            winners += [w1, w2]
            reasons.append(f"a/b: {first.parsed['better']}, b/a: {second.parsed['better']}: "
                           f"{first.parsed['reason'].strip()[:REASON_CHARS]}")
        if c.error is None:
            c.points_a = sum(1.0 if w == "a" else 0.5 if w == "tie" else 0.0 for w in winners) / len(winners)
            c.points_b = 1.0 - c.points_a
            c.reason = " | ".join(reasons)
        out.append(c)
    return out


@dataclass
class Judge:
    """The run's judges as a generator gets them (`Generator.finish`): the clients, the options, how requests are
    sent, and the stats its calls add to."""

    send: Send
    clients: list[LLMClient]
    opts: JudgeOptions
    stats: LLMStats

    def score(self, items: list[tuple[str, str, str]]) -> list[Score]:
        return score_all(self.send, self.clients, items, self.opts.rubric, self.stats)

    def compare(self, items: list[tuple[str, str, str, str]]) -> list[Comparison]:
        return compare_all(self.send, self.clients, items, self.opts.rubric, self.stats)
