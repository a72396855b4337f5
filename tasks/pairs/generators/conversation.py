"""conversation: multi-turn chats, the user's turns written by the model too (a user simulator), `turns` exchanges.

A conversation starts (`start`) from a seed pair's prompt (`seed`: the generator's pair `sources`, the first `count`
distinct prompts) or from a document chunk (`document`: chunks of its document `sources`, at most `count` and
`max_chunks`; the chunk is the conversation's system message and its `context`). It then grows one turn per round
(tasks.pairs.generate.run_generator sends each round's requests together): the assistant answers with the whole
history; the user simulator (asked for JSON, which a small model follows far better than prose) writes the user's
next message from the first exchange, later from the last answer (a small model shown a whole transcript repeats its
last question), and from the text for a document. After `turns` user + assistant exchanges the conversation is one
pairs row: every turn in `messages` (system first), `prompt` / `response` its last user and assistant turns (as
imported chats fill them), task `chat`, `doc_id` its seed's or document's (a split keeps a seed's conversations
together), an `id` over every turn.

Every generated turn is checked (`turn_problem`): empty, the pair rules of tasks.pairs.quality that read that side
(too short under `min_turn_chars` or too long, a refusal, an answer echoing its question), a repeat of an earlier
turn, the model speaking as the other role or as both, a user turn echoing the simulator's instructions, chat control
tokens (tasks.pairs.control_tokens), an answer cut at max_tokens. The first bad turn ends the conversation: it goes to
the rejected table with the reason, exchange and role, or, with `min_turns` set, the exchanges before it are kept
when at least `min_turns` of them are complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from pairforge.tasks.core.schema import stable_id
from pairforge.tasks.pairs.chat import ChatRequest
from pairforge.tasks.pairs.generators.base import Generator, InputTable, Job, chunk_documents, pair_row

if TYPE_CHECKING:
    import polars as pl

    from pairforge.tasks.core.recipe import GeneratorSpec, QualityOptions
    from pairforge.tasks.pairs.chat import ChatResult

USER_SCHEMA = {"type": "object", "properties": {"question": {"type": "string", "maxLength": 400}},
               "required": ["question"]}  # a small model plays the user far better asked for JSON than for prose
USER_MAX_TOKENS = 160  # a user's message is short; a simulator that rambles is cut and its turn rejected
REPEAT_OVERLAP = 0.8  # share of words two turns have in common (of both's words) that makes one a repeat
TURN_CHARS = 600  # of each earlier turn, as the simulator is shown it
DOCUMENT_SYSTEM = 'Answer the user\'s questions about this text.\n\nText:\n"""\n{text}\n"""'
# what the simulator is told, which it must not say back as the user
INSTRUCTION_ECHOES = ("next question", "follow-up question", "who read this answer", "reply with json")
ROLE_LABEL = re.compile(r"^\W{0,3}(user|human|assistant|ai|bot|gpt)\W{0,3}:[*_]{0,3}\s*", re.IGNORECASE)
OTHER_SIDE = {"user": re.compile(r"(?im)^\W{0,3}(assistant|ai|bot|gpt)\W{0,3}:"),
              "assistant": re.compile(r"(?im)^\W{0,3}(user|human)\W{0,3}:")}


@dataclass(frozen=True)
class Talk:
    """A conversation being made: where it came from (`pair_row`'s keywords), its system message, its turns."""

    key: str
    origin: dict
    system: str | None
    context: str | None
    turns: tuple[dict, ...] = ()
    text: str | None = None  # the document chunk the simulator asks about

    def messages(self, turns: tuple[dict, ...] | None = None) -> list[dict]:
        return ([{"role": "system", "content": self.system}] if self.system else []) + list(
            self.turns if turns is None else turns)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def clean_turn(role: str, text: str | None) -> str:
    """A turn as the model wrote it, minus what is not the message: surrounding space, a leading label of its own
    role ("User:"), quotes around a user's whole message."""
    text = (text or "").strip()
    if (m := ROLE_LABEL.match(text)) and (m.group(1).lower() in ("user", "human")) == (role == "user"):
        text = text[m.end():].strip()
    if role == "user" and len(text) > 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def turn_problem(role: str, text: str, earlier: list[dict], opts: QualityOptions) -> str | None:
    """Why a generated turn is bad (None: it is fine). `earlier`: the conversation's turns before it (no system);
    `opts`: the pair rules' options (`GeneratorSpec.turn_quality`)."""
    import polars as pl

    from pairforge.tasks.pairs import control_tokens, quality

    if not text.strip():
        return "empty turn"
    asked = next((t["content"] for t in reversed(earlier) if t["role"] == "user"), "") if role == "assistant" else ""
    # the pair rules that read this side: a user turn is a prompt, an assistant turn the response to the user's turn
    side = "response" if role == "assistant" else "prompt"
    checks = [(name, expr) for name, expr in quality.rules(opts)
              if (side in expr.meta.root_names()) and (role == "assistant" or "response" not in expr.meta.root_names())]
    prompt, response = (text, "") if role == "user" else (asked, text)
    row = pl.DataFrame({"prompt": [prompt], "response": [response], "task": ["chat"], "context": [None]},
                       schema_overrides={"context": pl.String})
    broken = row.select([expr.alias(str(i)) for i, (_, expr) in enumerate(checks)]).row(0)
    if (first := next((name for (name, _), b in zip(checks, broken, strict=True) if b), None)) is not None:
        return first.replace("response", "answer").replace("prompt", "question")
    if m := re.search(control_tokens.Options().detect(), text):
        return f"chat control token {m.group(0)}"
    if OTHER_SIDE[role].search(text) or (m := ROLE_LABEL.match(text)) and (
            m.group(1).lower() in ("user", "human")) != (role == "user"):
        return "speaks as the other role"
    if any(ROLE_LABEL.match(line) for line in text.splitlines()[1:]):
        return "writes more than one turn"
    if role == "user" and any(e in _norm(text) for e in INSTRUCTION_ECHOES):
        return "echoes the user simulator's instructions"
    mine, words = _norm(text), set(re.findall(r"\w+", text.lower()))
    for i, t in enumerate(earlier):
        theirs = _norm(t["content"] or "")
        said = set(re.findall(r"\w+", theirs))
        near = len(words) >= 5 and len(words & said) >= REPEAT_OVERLAP * len(words | said)
        if mine == theirs or (len(theirs) >= 20 and theirs in mine) or near:
            return f"repeats turn {i + 1}"
    return None


class Conversation(Generator):
    kind = "conversation"
    input_table: ClassVar[InputTable | None] = "pairs"

    def table(self, spec: GeneratorSpec) -> InputTable | None:
        return "documents" if spec.start == "document" else "pairs"

    def check(self, spec: GeneratorSpec) -> None:
        if spec.min_turns is not None and spec.min_turns > spec.turns:
            raise ValueError(f"min_turns {spec.min_turns} is more than turns {spec.turns}")

    def jobs(self, spec: GeneratorSpec, data: pl.DataFrame | None, *, lang: str, limit: int | None) -> list[Job]:
        """The first turn of each conversation: the assistant's answer to a seed prompt, or the user's question
        about a document chunk."""
        if spec.start == "document":
            return [self._user(Talk(f"conversation:{c.doc['id']}:{c.index}", {**c.inherited(), "task": "chat"},
                                    DOCUMENT_SYSTEM.format(text=c.text), c.text, text=c.text))
                    for c in chunk_documents(data, spec.chunk_tokens, limit)[: spec.count]]
        if data is None or not len(data):
            raise ValueError("conversation: the seed sources have no pairs")
        out, seen = [], set()
        for seed in data.iter_rows(named=True):
            prompt = (seed.get("prompt") or "").strip()
            if not prompt or prompt in seen:
                continue
            seen.add(prompt)
            origin = dict(source=seed["source"], license=seed["license"], lang=seed.get("lang") or lang,
                          uri=seed.get("uri"), doc_id=seed.get("doc_id") or seed.get("id"), task="chat")
            talk = Talk(f"conversation:{seed.get('id') or stable_id(prompt)}", origin, seed.get("system"), None,
                        ({"role": "user", "content": prompt},))
            out.append(self._assistant(talk))
            if len(out) >= spec.count:
                break
        return out

    @staticmethod
    def _assistant(talk: Talk) -> Job:
        return Job(ChatRequest(talk.messages(), None, f"{talk.key}:{len(talk.turns)}"), extra=("assistant", talk))

    @staticmethod
    def _user(talk: Talk) -> Job:
        """The user simulator's request: the text (a document's conversation) and the conversation so far."""
        # a small model repeats the last question it is shown: after the first exchange it sees the last answer
        if len(talk.turns) == 2:
            question, answer = (t["content"][:TURN_CHARS] for t in talk.turns)
            ask = (f"Question: {question}\n\nAnswer: {answer}\n\nWrite a follow-up question that the person who asked "
                   "would ask next. ")
        elif talk.turns:
            ask = (f"Answer: {talk.turns[-1]['content'][:TURN_CHARS]}\n\nWrite a follow-up question that someone who "
                   "read this answer would ask. ")
        else:
            ask = "Write a question that the text answers. "
        ask += 'Reply with JSON: {"question": "..."}'
        if talk.text:
            ask = f'Text:\n"""\n{talk.text}\n"""\n\n{ask}'
        return Job(ChatRequest([{"role": "user", "content": ask}], USER_SCHEMA, f"{talk.key}:{len(talk.turns)}",
                               max_tokens=USER_MAX_TOKENS), extra=("user", talk))

    def pairs(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict | Job]:
        role, talk = job.extra
        text = clean_turn(role, result.parsed["question"] if role == "user" else result.text)
        if problem := turn_problem(role, text, list(talk.turns), spec.turn_quality):
            return self._stop(spec, talk, role, text, problem)
        talk = replace(talk, turns=(*talk.turns, {"role": role, "content": text}))
        if role == "user":
            return [self._assistant(talk)]
        if len(talk.turns) // 2 >= spec.turns:
            return [self._row(talk, talk.turns)]
        return [self._user(talk)]

    def truncated(self, spec: GeneratorSpec, job: Job, result: ChatResult, *, lang: str) -> list[dict | Job]:
        role, talk = job.extra
        return self._stop(spec, talk, role, clean_turn(role, result.text), "truncated (hit max_tokens)")

    def _stop(self, spec: GeneratorSpec, talk: Talk, role: str, text: str, problem: str) -> list[dict]:
        """A bad turn: the conversation before it kept (`min_turns` complete exchanges or more), else rejected."""
        done = len(talk.turns) // 2
        if spec.min_turns is not None and done >= spec.min_turns:
            return [self._row(talk, talk.turns[: 2 * done])]
        exchange = len(talk.turns) // 2 + 1
        row = self._row(talk, (*talk.turns, {"role": role, "content": text}))
        return [{**row, "reason": f"conversation: {problem} (exchange {exchange}, {role})"}]

    @staticmethod
    def _row(talk: Talk, turns: tuple[dict, ...]) -> dict:
        """The pairs row of a conversation's turns: prompt and response its last user and assistant turns; the id
        covers every turn (conversations that share their last exchange are different rows)."""
        users = [t["content"] for t in turns if t["role"] == "user"]
        answers = [t["content"] for t in turns if t["role"] == "assistant"]
        row = pair_row(users[-1] if users else "", answers[-1] if answers else "", system=talk.system,
                       context=talk.context, **talk.origin)
        row["messages"] = talk.messages(turns)
        row["id"] = stable_id("generated", "conversation", talk.origin["doc_id"] or "",
                              *(f"{t['role']}:{t['content']}" for t in row["messages"]))
        return row
