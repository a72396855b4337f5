"""`preference`: existing preference data, one JSON record per comparison, in the layouts people publish it in:

- TRL's preference type (docs: dataset_formats.md), standard or conversational: `prompt` + `chosen` + `rejected`,
  each a string or a list of `{role, content}` turns; the prompt may be implicit (absent: chosen and rejected are
  whole conversations and share every turn but the last).
- UltraFeedback-binarized style: `chosen` / `rejected` are whole conversations that repeat the prompt's turns, with
  `score_chosen` / `score_rejected`.
- Anthropic HH-RLHF: `chosen` / `rejected` are transcripts ("\\n\\nHuman: ...\\n\\nAssistant: ...") that share every
  turn but the last.

Each record becomes one pairs row: `messages` the prompt's turns and the chosen response, `rejected` the other
response, `chosen_score` / `rejected_score` / `margin` when the record has scores. Field names go through the
source's `fields` mapping (prompt, chosen, rejected, score_chosen, score_rejected). A record whose two sides differ
before their last turn, end in more than one turn, repeat one response, or have no user turn is quarantined with
the reason."""

from __future__ import annotations

import math
import re

from pairforge.tasks.ingest.readers.base import ROLES, BadRow, Collector, get, mapped, text
from pairforge.tasks.ingest.readers.records import RecordReader

# an HH-RLHF transcript: turns start with a blank line and the speaker
_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def turns(value, what: str, default_role: str) -> list[dict]:
    """A side of a record as {role, content} turns: a list of messages, an HH transcript, or a plain string (one
    turn of `default_role`)."""
    if isinstance(value, list):
        out = []
        for i, m in enumerate(value):
            if not isinstance(m, dict) or m.get("role") not in ROLES - {"tool"}:
                raise BadRow(f"{what}[{i}]: role must be one of system, user, assistant")
            if m.get("tool_calls"):
                raise BadRow(f"{what}[{i}]: tool calls are not read by the preference format (use openai)")
            out.append({"role": m["role"], "content": text(m.get("content") or "", f"{what}[{i}].content")})
        return out
    value = text(value, what)
    marks = list(_HH_TURN.finditer(value))
    if marks and not value[: marks[0].start()].strip():
        return [{"role": _HH_ROLES[m.group(1)], "content": value[m.end() : nxt.start() if nxt else len(value)]}
                for m, nxt in zip(marks, [*marks[1:], None], strict=True)]
    return [{"role": default_role, "content": value}]


def score(obj: dict, key: str) -> float | None:
    value = get(obj, key, required=False)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRow(f"{key} is {value!r}, expected a number")
    return float(value)


class Preference(RecordReader):
    """prompt (optional), chosen, rejected, score_chosen / score_rejected (optional)."""

    name = "preference"
    table = "pairs"

    def make(self, c: Collector, obj: dict) -> None:
        key = lambda name: mapped(c.source, name)  # noqa: E731
        raw_prompt = get(obj, key("prompt"), required=False)
        chosen = turns(get(obj, key("chosen")), key("chosen"), "assistant")
        rejected = turns(get(obj, key("rejected")), key("rejected"), "assistant")
        if raw_prompt is not None:
            prompt = turns(raw_prompt, key("prompt"), "user")
            # UltraFeedback-binarized: each side repeats the prompt's turns
            chosen = chosen[len(prompt):] if chosen[: len(prompt)] == prompt else chosen
            rejected = rejected[len(prompt):] if rejected[: len(prompt)] == prompt else rejected
        else:  # implicit prompt: the turns both sides share
            shared = 0
            while shared < min(len(chosen), len(rejected)) - 1 and chosen[shared] == rejected[shared]:
                shared += 1
            prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
        for side, rest in ((key("chosen"), chosen), (key("rejected"), rejected)):
            if len(rest) != 1 or rest[0]["role"] != "assistant":
                raise BadRow(f"{side}: expected one assistant turn after the prompt, found "
                             f"{', '.join(m['role'] for m in rest) or 'none'} (the two sides differ before it?)")
        if not prompt or prompt[-1]["role"] != "user":
            raise BadRow("the prompt does not end with a user turn")
        if chosen[0]["content"].strip() == rejected[0]["content"].strip():
            raise BadRow("chosen and rejected are the same response: no preference")
        if not rejected[0]["content"].strip():
            raise BadRow(f"empty {key('rejected')} response")
        chosen_score, rejected_score = score(obj, key("score_chosen")), score(obj, key("score_rejected"))
        margin = chosen_score - rejected_score if chosen_score is not None and rejected_score is not None else None
        c.pair([*prompt, chosen[0]], preference={"rejected": rejected[0]["content"], "chosen_score": chosen_score,
                                                 "rejected_score": rejected_score, "margin": margin})
