"""preference: chosen/rejected pairs for DPO, ORPO and KTO, made by sampling and judging.

Reads seed pairs (the generator's `sources`; their responses are not used): for each of the first `count` distinct
prompts it samples `candidates` responses, candidate i at `temperatures[i % len]`, from the conversation up to the
seed's last user turn. `finish` then judges the distinct candidates of each prompt with the run's judge
(`generate.judge`, tasks.pairs.judge):

- absolute: every candidate scored; the best is chosen, the worst rejected, margin = their score difference;
- pairwise: the two candidates compared in both orders; a judge whose verdict follows the position makes the item
  inconsistent; margin = share of verdicts the chosen one won minus the share it lost.

A prompt becomes one pairs row when the margin is at least `min_margin`: `response` (and the last assistant turn of
`messages`) is the chosen response, so every later stage reads it as any pair; `rejected`, `chosen_score`,
`rejected_score`, `margin` and `judge_reason` carry the rest (tasks.core.schema). Ties, low margins, inconsistent
verdicts, failed judgements and prompts with fewer than two distinct candidates go to the rejected table with the
reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pairforge.tasks.core.schema import stable_id
from pairforge.tasks.pairs.chat import ChatRequest
from pairforge.tasks.pairs.generators.base import Generator, InputTable, Job, pair_row

if TYPE_CHECKING:
    import polars as pl

    from pairforge.tasks.core.recipe import GeneratorSpec, JudgeOptions
    from pairforge.tasks.pairs.chat import ChatResult
    from pairforge.tasks.pairs.judging import Judge

GROUP = "_preference_prompt"  # the seed a candidate row answers (removed before rows leave the generator)


def _context(seed: dict) -> list[dict]:
    """The seed's turns up to its last user turn, as plain {role, content} (the candidates answer that turn)."""
    msgs = [{"role": m["role"], "content": m["content"]} for m in seed.get("messages") or []
            if m and m.get("content") is not None and not m.get("tool_calls")]
    last_user = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=None)
    if last_user is None:  # no usable turns: the seed's prompt (and system) alone
        return ([{"role": "system", "content": seed["system"]}] if seed.get("system") else []) + [
            {"role": "user", "content": seed["prompt"]}]
    return msgs[: last_user + 1]


class Preference(Generator):
    kind = "preference"
    input_table: ClassVar[InputTable | None] = "pairs"

    def check_judge(self, spec: GeneratorSpec, judge: JudgeOptions) -> None:
        if judge.mode == "pairwise" and spec.candidates != 2:
            raise ValueError(f"candidates must be 2 with judge.mode pairwise (one pair judged in both orders), "
                             f"not {spec.candidates}")
        top = 1.0 if judge.mode == "pairwise" else judge.scale - 1
        if spec.min_margin > top:
            raise ValueError(f"min_margin {spec.min_margin:g} can never be reached (judge.mode {judge.mode}, scale "
                             f"{judge.scale}: at most {top:g})")

    def jobs(self, spec: GeneratorSpec, data: pl.DataFrame | None, *, lang: str, limit: int | None) -> list[Job]:
        """`candidates` requests for each of the first `count` distinct seed prompts."""
        if data is None or not len(data):
            raise ValueError("preference: the seed sources have no pairs")
        out, seen = [], set()
        for seed in data.iter_rows(named=True):
            context = _context(seed)
            group = stable_id("preference", *(f"{m['role']}:{m['content']}" for m in context))
            if group in seen or not seed.get("prompt"):
                continue
            seen.add(group)
            for i in range(spec.candidates):
                temperature = spec.temperatures[i % len(spec.temperatures)]
                out.append(Job(ChatRequest(context, None, f"preference:{seed['id']}:{i}", temperature=temperature),
                               extra=(seed, context, group)))
            if len(seen) >= spec.count:
                break
        return out

    def pairs(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict]:
        """One candidate row (empty answers are no candidates)."""
        seed, context, group = job.extra
        text = (result.text or "").strip()
        if not text:
            return []
        system = context[0]["content"] if context[0]["role"] == "system" else None
        row = pair_row(context[-1]["content"], text, task=seed.get("task") or "instruction", source=seed["source"],
                       license=seed["license"], lang=seed.get("lang") or lang, uri=seed.get("uri"),
                       doc_id=seed.get("doc_id"), system=system)
        row["messages"] = [*context, {"role": "assistant", "content": text}]
        row[GROUP] = group
        return [row]

    def finish(self, spec: GeneratorSpec, rows: list[dict], judge: Judge) -> tuple[list[dict], list[dict]]:
        groups: dict[str, list[dict]] = {}
        for r in rows:
            groups.setdefault(r.pop(GROUP), []).append(r)
        kept, rejected = [], []
        pairs = [g for g in groups.values() if len(g) >= 2]
        rejected += [{**g[0], "reason": "preference: fewer than 2 distinct candidates"}
                     for g in groups.values() if len(g) < 2]
        if judge.opts.mode == "pairwise":
            items = [(f"preference:{a['id']}:{b['id']}", a["prompt"], a["response"], b["response"]) for a, b in pairs]
            for g, c in zip(pairs, judge.compare(items), strict=True):
                a, b = g
                if c.error:
                    reason = f"preference: judge unavailable: {c.error}"
                elif c.inconsistent:
                    reason = f"preference: inconsistent judge: the verdict changed with the order ({c.reason})"
                elif c.tie:
                    reason = f"preference: tie: judged equal ({c.reason})"
                else:
                    reason = None
                best, worst, hi, lo = (a, b, c.points_a, c.points_b) if c.points_a >= c.points_b else (
                    b, a, c.points_b, c.points_a)
                self._place(spec, best, worst, hi, lo, c.reason, reason, kept, rejected)
        else:
            items = [(f"preference:{r['id']}", r["prompt"], r["response"]) for g in pairs for r in g]
            scores = iter(judge.score(items))
            for g in pairs:
                s = [next(scores) for _ in g]
                if failed := next((x.error for x in s if x.error), None):
                    self._place(spec, g[0], g[1], None, None, "", f"preference: judge unavailable: {failed}",
                                kept, rejected)
                    continue
                # the best (first of equals) and the worst (last of equals) candidate
                best = max(range(len(g)), key=lambda i: s[i].score)
                worst = min(reversed(range(len(g))), key=lambda i: s[i].score)
                hi, lo = s[best].score, s[worst].score
                reason = f"preference: tie: every candidate scored {hi:g}" if hi == lo else None
                self._place(spec, g[best], g[worst], hi, lo, f"chosen: {s[best].reason} / rejected: {s[worst].reason}",
                            reason, kept, rejected)
        return kept, rejected

    @staticmethod
    def _place(spec: GeneratorSpec, best: dict, worst: dict, hi: float | None, lo: float | None, why: str,
               reason: str | None, kept: list[dict], rejected: list[dict]) -> None:
        """One prompt's preference row, kept or rejected (a margin below `min_margin` is a reason too)."""
        margin = None if hi is None else hi - lo
        if reason is None and margin < spec.min_margin:
            reason = f"preference: low margin: {margin:g} < {spec.min_margin:g}"
        # id: the chosen candidate's, which the judge's cache entries name (`preference:<id>`): erasure finds them
        row = {**best, "rejected": worst["response"], "chosen_score": hi, "rejected_score": lo, "margin": margin,
               "judge_reason": why or None}
        (kept if reason is None else rejected).append(row if reason is None else {**row, "reason": reason})
