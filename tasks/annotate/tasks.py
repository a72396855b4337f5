"""What a round of human annotation asks (recipe section `annotate:`, off by default): which pairs go to people,
the task kinds with their Label Studio labeling interfaces, overlap, gold items and the quality policy.

Task kinds (one Label Studio project per dataset version, round and kind):
- `rate`: the pair's response rated 1-5, with a reason;
- `correct`: the response corrected in a text box that starts with it;
- `flag`: personal data, harm, wrong facts or nothing to flag (several may apply);
- `choose`: the better of two responses (for preference data; the rows need `response_b`).
"""

from __future__ import annotations

import html
import random
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field, model_validator

from pairforge.tasks.core.options import Strict

KINDS = ("rate", "correct", "flag", "choose")
FLAGS = ("pii", "harm", "wrong", "none")
# how each kind's answer is read: ratings are numbers, the others categories (agreement: ordinal vs nominal alpha)
RATING_KINDS = frozenset({"rate"})


class Select(Strict):
    """Which pairs go to people; a pair matching any rule goes (each rule's pairs chosen with the round's seed)."""

    sample: float = Field(0.0, ge=0.0, le=1.0, description="a random share of all pairs, for quality control")
    judge_band: tuple[float, float] | None = Field(
        None, description="pairs the model judge scored within [low, high] (needs generate.judge)")
    sources: list[str] = Field(default_factory=list, description="every pair of these sources")
    max_items: int | None = Field(None, ge=1, description="at most this many pairs a round (randomly kept)")


class Gold(Strict):
    """Items with known answers, mixed into the round to score the annotators."""

    uri: str | None = Field(None, description="JSON lines: {prompt, response, kind, answer} (relative to the recipe)")
    share: float = Field(0.1, ge=0.0, le=0.5, description="gold items as a share of the round's items")


class Policy(Strict):
    resolve: Literal["majority", "best_annotator", "adjudicate"] = "majority"
    min_agreement: float = Field(0.5, ge=0.0, le=1.0, description="items under it are rejected with the reason")
    min_gold_accuracy: float = Field(0.7, ge=0.0, le=1.0, description="annotators under it are left out")
    min_gold_answers: int = Field(3, ge=1, description="gold answers needed before an annotator is scored")
    rating_tolerance: float = Field(0.0, ge=0.0, description="a rating this close to the gold one counts as right")


class Options(Strict):
    """`annotate`: send pairs to people in Label Studio, wait for their work, import it with quality control."""

    enabled: bool = False
    kinds: list[Literal[KINDS]] = Field(default_factory=lambda: ["rate"])  # type: ignore[valid-type]
    select: Select = Field(default_factory=Select)
    overlap: int = Field(3, ge=1, le=20, description="annotators per item")
    gold: Gold = Field(default_factory=Gold)
    policy: Policy = Field(default_factory=Policy)
    guidelines: str | None = Field(None, description="markdown file shown to annotators and copied into the card")
    url: str | None = Field(None, description="Label Studio's URL (default: LABEL_STUDIO_URL)")
    token_env: str = Field("LABEL_STUDIO_API_KEY", description="environment variable holding the API token")
    wait: Literal["pause", "poll"] = Field(
        "pause", description="pause: the flow run waits for a form in the Prefect UI; poll: it checks until done")
    timeout_s: float = Field(7 * 24 * 3600.0, gt=0, description="how long a round may wait for people")
    poll_s: float = Field(60.0, gt=0, description="seconds between checks (wait: poll)")
    seed: int = 0

    @model_validator(mode="after")
    def _something_selected(self) -> Options:
        if self.enabled and not (self.select.sample or self.select.judge_band or self.select.sources):
            raise ValueError("annotate.select picks no pair: set sample, judge_band or sources")
        return self


def label_config(kind: str) -> str:
    """The Label Studio labeling interface (XML) of a task kind; the task data holds prompt, response (and
    response_b for `choose`)."""
    dialogue = ('<Header value="Prompt"/><Text name="prompt" value="$prompt"/>'
                '<Header value="Response"/><Text name="response" value="$response"/>')
    if kind == "rate":
        body = (dialogue + '<Rating name="score" toName="response" maxRating="5" required="true"/>'
                '<TextArea name="reason" toName="response" placeholder="Why this score?" rows="2"/>')
    elif kind == "correct":
        body = (dialogue + '<TextArea name="corrected" toName="response" value="$response" editable="true" '
                'required="true" rows="6" maxSubmissions="1" placeholder="The corrected response"/>')
    elif kind == "flag":
        body = dialogue + ('<Choices name="flags" toName="response" choice="multiple" required="true">'
                           + "".join(f'<Choice value="{f}"/>' for f in FLAGS) + "</Choices>")
    elif kind == "choose":
        body = ('<Header value="Prompt"/><Text name="prompt" value="$prompt"/>'
                '<Header value="Response A"/><Text name="response" value="$response"/>'
                '<Header value="Response B"/><Text name="response_b" value="$response_b"/>'
                '<Choices name="better" toName="prompt" required="true"><Choice value="A"/><Choice value="B"/>'
                "</Choices>")
    else:
        raise ValueError(f"unknown annotation kind {kind!r} (known: {', '.join(KINDS)})")
    return f"<View>{body}</View>"


def answer_of(kind: str, result: list[dict]) -> str | None:
    """The answer of one Label Studio annotation (`result` list) as the string the quality checks compare."""
    for r in result or []:
        value = r.get("value") or {}
        if kind == "rate" and r.get("from_name") == "score" and "rating" in value:
            return str(value["rating"])
        if kind == "correct" and r.get("from_name") == "corrected" and value.get("text"):
            text = value["text"]
            return "\n".join(text) if isinstance(text, list) else str(text)
        if kind in ("flag", "choose") and r.get("from_name") in ("flags", "better") and value.get("choices"):
            return ",".join(sorted(value["choices"]))
    return None


def guidelines_html(path: str | None, base: Path) -> str:
    """The guidelines markdown as Label Studio shows it (escaped text in a <pre>: no markdown renderer needed)."""
    if not path:
        return ""
    text = (base / path).read_text(encoding="utf-8")
    return f"<pre>{html.escape(text)}</pre>"


def select_pairs(df: pl.DataFrame, select: Select, seed: int) -> pl.DataFrame:
    """The pairs of `df` a round sends to people, with a `why` column (sample | judge band | source)."""
    rnd = random.Random(seed)
    why = pl.lit(None, pl.String)
    if select.sources:
        why = pl.when(pl.col("source").is_in(select.sources)).then(pl.lit("source")).otherwise(why)
    if select.judge_band and "judge_score" in df.columns:
        low, high = select.judge_band
        why = pl.when(pl.col("judge_score").is_between(low, high)).then(pl.lit("judge band")).otherwise(why)
    if select.sample:
        picked = set(rnd.sample(range(len(df)), round(select.sample * len(df)))) if len(df) else set()
        mask = pl.Series([i in picked for i in range(len(df))])
        why = pl.when(mask).then(pl.lit("sample")).otherwise(why)
    out = df.with_columns(why.alias("why")).filter(pl.col("why").is_not_null())
    if select.max_items is not None and len(out) > select.max_items:
        keep = sorted(rnd.sample(range(len(out)), select.max_items))
        out = out[keep]
    return out
