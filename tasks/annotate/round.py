"""One round of human annotation, without the server calls: the Label Studio tasks a round sends (pairs and gold
items), the annotations it reads back as rows for the quality checks, and what the resolved answers do to the
pairs.

- Tasks carry `pairforge_id` (the pair's id, or `gold-<hash>` for a gold item), the prompt and the response(s).
  Gold answers never go to Label Studio: the round keeps them (`gold_items` returns them by id).
- Annotator ids are hashed with the run's salt before they reach any table (`annotator_key`): no user name or
  Label Studio user id is stored.
- Results: `rate` -> `human_score`; `correct` -> the response (and its turn in `messages`) replaced, origin
  `human-edited`; `flag` -> `human_flags`; `choose` -> `human_choice`. Items the policy rejects (too little
  agreement, no trusted annotation) leave the table with the reason; items sent to adjudication keep their row and
  are counted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import polars as pl

from pairforge.tasks.annotate.quality import ANNOTATIONS, QualityReport
from pairforge.tasks.annotate.tasks import answer_of

RESULT_COLUMNS = {"rate": ("human_score", pl.Float64), "flag": ("human_flags", pl.String),
                  "choose": ("human_choice", pl.String)}


def annotator_key(annotator: object, salt: str) -> str:
    """A stable, salted hash of an annotator's Label Studio id: the only form in which annotators are stored."""
    return hmac.new(salt.encode(), str(annotator).encode(), hashlib.sha256).hexdigest()[:12]


def gold_items(path: Path | None, kind: str) -> dict[str, dict]:
    """The gold items of `kind` in a JSON-lines file ({prompt, response, [response_b], kind, answer}), by id. A line
    that is not a JSON object with those fields is an error naming the file and the line."""
    if path is None:
        return {}
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {n}: not JSON ({e.msg})") from None
        missing = [k for k in ("prompt", "response", "kind", "answer") if not isinstance(item, dict) or k not in item]
        if missing:
            raise ValueError(f"{path}: line {n}: missing {', '.join(missing)}")
        if item["kind"] != kind:
            continue
        key = "gold-" + hashlib.sha256(f"{item['prompt']}\x00{item['response']}".encode()).hexdigest()[:16]
        out[key] = {"prompt": item["prompt"], "response": item["response"], "response_b": item.get("response_b"),
                    "answer": str(item["answer"])}
    return out


def second(row: dict) -> str:
    """A pair's other response for `choose`: `rejected` of a preference row, else a source's `response_b`."""
    return row.get("rejected") or row.get("response_b") or ""


def task_payloads(selected: pl.DataFrame, gold: dict[str, dict], kind: str) -> list[dict]:
    """Label Studio tasks: one per selected pair (its id, prompt, response) and one per gold item, shuffled in by
    id so that gold items do not come last."""
    # `choose` compares a pair's two responses: a preference row's chosen `response` and its `rejected` one (or a
    # source's `response_b`); a pair with one response has nothing to choose between and is not sent for it
    tasks = [{"pairforge_id": r["id"], "prompt": r["prompt"] or "", "response": r["response"] or "",
              **({"response_b": second(r)} if kind == "choose" else {})}
             for r in selected.iter_rows(named=True) if kind != "choose" or second(r)]  # fmt: skip
    tasks += [{"pairforge_id": key, "prompt": g["prompt"], "response": g["response"],
               **({"response_b": g.get("response_b") or ""} if kind == "choose" else {})}
              for key, g in gold.items()]  # fmt: skip
    return sorted(tasks, key=lambda t: hashlib.sha256(t["pairforge_id"].encode()).hexdigest())


def annotation_rows(tasks: list[dict], kind: str, gold: dict[str, dict], salt: str) -> pl.DataFrame:
    """The annotations of a project's tasks (`[{data: {pairforge_id, ...}, annotations: [{annotator, result}]}]`) as
    rows for `quality.assess`: item, hashed annotator, answer, gold answer."""
    rows = []
    for task in tasks:
        item = (task.get("data") or {}).get("pairforge_id")
        for ann in task.get("annotations") or []:
            if ann.get("was_cancelled"):
                continue
            annotator = ann.get("annotator")
            rows.append({"item": item, "annotator": annotator_key(annotator, salt) if annotator is not None else None,
                         "value": answer_of(kind, ann.get("result")),
                         "gold": gold[item]["answer"] if item in gold else None})
    return pl.DataFrame(rows, schema=ANNOTATIONS)


def complete(tasks: list[dict], overlap: int) -> tuple[int, int]:
    """(tasks with at least `overlap` submitted annotations, tasks)."""
    done = sum(1 for t in tasks if sum(1 for a in t.get("annotations") or [] if not a.get("was_cancelled")) >= overlap)
    return done, len(tasks)


def apply_results(df: pl.DataFrame, reports: dict[str, QualityReport]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(pairs with the resolved answers, pairs the policy rejected with `reason`)."""
    rejected_reason: dict[str, str] = {}
    for kind, report in reports.items():
        resolved = {r.item: r.value for r in report.resolutions if r.status == "resolved" and r.value is not None}
        for r in report.resolutions:
            if r.status == "rejected":
                rejected_reason.setdefault(r.item, f"annotation ({kind}): {r.reason}")
        if not resolved:
            continue
        ids = pl.Series("id", list(resolved), pl.String)
        values = pl.Series("v", list(resolved.values()), pl.String)
        answers = pl.DataFrame([ids, values])
        df = df.join(answers, on="id", how="left", maintain_order="left")
        if kind == "correct":
            changed = (pl.col("v").is_not_null() & (pl.col("v") != pl.col("response").fill_null(""))).alias("_changed")
            df = _replace_last_turn(df.with_columns(changed).with_columns(
                pl.when("_changed").then(pl.col("v")).otherwise(pl.col("response")).alias("response"),
                pl.when("_changed").then(pl.lit("human-edited")).otherwise(pl.col("origin")).alias("origin")))
        else:
            name, dtype = RESULT_COLUMNS[kind]
            df = df.with_columns(pl.col("v").cast(dtype).alias(name))
            if kind == "choose" and "rejected" in df.columns:
                df = _people_chose(df)
        df = df.drop("v")
    reasons = pl.DataFrame({"id": list(rejected_reason), "reason": list(rejected_reason.values())},
                           schema={"id": pl.String, "reason": pl.String})
    tagged = df.join(reasons, on="id", how="left", maintain_order="left")
    return tagged.filter(pl.col("reason").is_null()).drop("reason"), tagged.filter(pl.col("reason").is_not_null())


def _people_chose(df: pl.DataFrame) -> pl.DataFrame:
    """Preference rows whose annotators chose B (the `rejected` response) swap their responses (and judge scores):
    people overrule the judge; `margin` stays the judge's chosen - rejected, now negative where people disagreed."""
    swap = (pl.col("human_choice") == "B") & pl.col("rejected").is_not_null()
    flip = [(a, b) for a, b in (("response", "rejected"), ("chosen_score", "rejected_score")) if b in df.columns]
    df = df.with_columns(
        *[pl.when(swap).then(pl.col(b)).otherwise(pl.col(a)).alias(a) for a, b in flip],
        *[pl.when(swap).then(pl.col(a)).otherwise(pl.col(b)).alias(b) for a, b in flip],
        *([pl.when(swap).then(-pl.col("margin")).otherwise(pl.col("margin")).alias("margin")]
          if "margin" in df.columns else []),
        swap.fill_null(False).alias("_changed"))
    return _replace_last_turn(df)


def _replace_last_turn(df: pl.DataFrame) -> pl.DataFrame:
    """Put the corrected response into the last assistant turn of `messages` where `_changed`."""
    rows = df.select("messages", "response", "_changed").to_dicts()
    messages = []
    for r in rows:
        turns = r["messages"]
        if r["_changed"] and turns:
            turns = [dict(t) for t in turns]
            for t in reversed(turns):
                if t.get("role") == "assistant":
                    t["content"] = r["response"]
                    break
        messages.append(turns)
    return df.with_columns(pl.Series("messages", messages, df.schema["messages"])).drop("_changed")


def report_summary(reports: dict[str, QualityReport], overlap: int, gold: int) -> dict:
    """What the run report and the dataset card show of a round."""
    return {"overlap": overlap, "gold_items": gold, "kinds": {k: r.summary() for k, r in reports.items()},
            "problems": [p for r in reports.values() for p in r.problems][:50]}
