"""The request and result types every model call uses (`tasks.pairs.llm.LLMClient` sends them).

They live apart from the client so that code which only builds requests (the generators, and through
their registry the recipe) does not import the `openai` SDK."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ChatRequest:
    messages: list[dict[str, str]]
    json_schema: dict | None = None
    key: str = ""  # the caller's id (pair id, chunk id ...), copied to the result
    temperature: float | None = None  # None: the client's
    max_tokens: int | None = None


@dataclass
class ChatResult:
    key: str
    text: str | None
    parsed: Any = None
    finish_reason: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cached: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None
