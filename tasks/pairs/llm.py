"""The one client that all generation and judging goes through: any OpenAI-compatible endpoint
(the embedded llama.cpp server, OpenAI, vLLM, ...) through the official `openai` package.

    results, stats = LLMClient(base_url, model, max_concurrency=4, cache_uri=...).run(requests)

- bounded concurrency; results come back in request order; one request's failure never raises,
  it becomes `ChatResult.error`;
- our own retries (the SDK's are off, so they can be counted): exponential backoff with jitter on
  408, 429, 5xx, timeouts and connection errors, honouring `Retry-After`; other 4xx fail at once;
- with a JSON schema the output is constrained, parsed and validated; malformed output is re-asked;
- a per-request cache (local folder or s3://) holds successful answers only;
- with the embedded server's handle (`server`), its death fails the run at once with `LLMServerDied`
  instead of turning into retried, failed requests; a server found dead before a batch is restarted once.
Nothing here logs the API key or message contents.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import hashlib
import json
import logging
import random
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import jsonschema
import openai

from pairforge.tasks.core import storage
from pairforge.tasks.core.masking import mask_text, mask_url, url_secrets
from pairforge.tasks.pairs.chat import ChatRequest, ChatResult  # re-exported: callers import them from here

if TYPE_CHECKING:
    from pairforge.tasks.pairs.llm_server import LocalLLMServer

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 429}  # plus every 5xx
MAX_RETRY_AFTER_S = 120.0  # a longer Retry-After is capped: better to try again than to stall a run
DEATH_GRACE_S = 1.0  # a crashed server's sockets close a moment before its exit can be collected


@dataclass
class LLMStats:
    requests: int = 0  # HTTP requests made (every attempt, re-asks included)
    cache_hits: int = 0
    retries: int = 0  # transport retries (408/429/5xx, timeouts, connection errors)
    failures: int = 0  # requests that ended with an error
    tokens_in: int = 0  # usage over every response received; cache hits cost nothing
    tokens_out: int = 0
    malformed: int = 0  # outputs that failed the JSON/schema check
    server_restarts: int = 0  # the embedded server was found dead before a batch and started again

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    def merge(self, other: LLMStats) -> LLMStats:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self


class _Malformed(Exception):
    pass


@dataclass
class _Run:
    """State of one `run` call, living on its event loop."""

    client: openai.AsyncOpenAI
    semaphore: asyncio.Semaphore
    stats: LLMStats = field(default_factory=LLMStats)


def retry_after_s(headers) -> float | None:
    """Seconds asked for by `Retry-After` (seconds or an HTTP date) or `retry-after-ms`; None if absent."""
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _transient(exc: Exception) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return False


ERROR_MESSAGE_CHARS = 200  # of an endpoint's error message, after masking


def _error_message(exc: openai.APIStatusError) -> str:
    """The message an error response gives: its `message` field when the body is JSON, else the body's text."""
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        return message if isinstance(message, str) else json.dumps(body, ensure_ascii=False, default=str)
    return str(body) if body is not None else ""


def _describe(exc: Exception, secrets: Sequence[str] = ()) -> str:
    """A failed request as the dead-letter table stores it and the log shows it: the HTTP status, the error's kind
    and its message masked (`secrets`, credentials of any kind, see tasks.core.masking) and cut to
    ERROR_MESSAGE_CHARS; never the response body verbatim: an endpoint may echo the request's headers, API key
    and Basic-auth token included."""
    if isinstance(exc, openai.APIStatusError):
        kind = type(exc).__name__
        if isinstance(exc.body, dict) and isinstance(exc.body.get("type"), str):
            kind += f" ({mask_text(exc.body['type'], secrets, 40)})"
        message = mask_text(" ".join(_error_message(exc).split()), secrets, ERROR_MESSAGE_CHARS)
        return f"HTTP {exc.status_code} {kind}: {message}"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {mask_text(str(exc.__cause__ or exc), secrets, ERROR_MESSAGE_CHARS)}"
    return f"{type(exc).__name__}: {mask_text(str(exc), secrets, ERROR_MESSAGE_CHARS)}"


async def _all_or_nothing(coros: list) -> list:
    """`asyncio.gather`, but when one raises, the others are cancelled rather than left running."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        raise


class LLMClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        max_concurrency: int = 4,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        max_parse_retries: int = 2,
        temperature: float = 0.3,
        max_tokens: int = 256,
        cache_uri: str | None = None,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        server: LocalLLMServer | None = None,
    ):
        self.base_url = base_url
        self.model = model
        self._api_key = api_key or "no-key"  # local servers want none, the SDK wants a string
        # what error messages must never show: the key, and the user:password / secret query of the URL
        self._secrets = [api_key, *url_secrets(base_url)] if api_key else url_secrets(base_url)
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.max_parse_retries = max_parse_retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.cache_uri = cache_uri.rstrip("/") if cache_uri else None
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.server = server  # the embedded server process behind base_url, if any
        self._openai_api = "api.openai.com" in base_url
        self._validators: dict[str, Any] = {}

    @classmethod
    def from_options(cls, options, base_url: str, model: str, api_key: str | None = None, **overrides) -> LLMClient:
        """From a recipe's `GenerateOptions` (cache_uri resolved by the caller)."""
        kwargs = dict(
            max_concurrency=options.max_concurrency, timeout_s=options.timeout_s, max_retries=options.max_retries,
            max_parse_retries=options.max_parse_retries, temperature=options.temperature,
            max_tokens=options.max_tokens, cache_uri=options.cache_uri,
        )  # fmt: skip
        return cls(base_url, model, api_key, **{**kwargs, **overrides})

    def __repr__(self) -> str:  # no api key
        return (f"LLMClient(base_url={mask_url(self.base_url)!r}, model={self.model!r}, "
                f"max_concurrency={self.max_concurrency})")

    # -- public entry -------------------------------------------------------------------------

    def run(self, requests: list[ChatRequest]) -> tuple[list[ChatResult], LLMStats]:
        """Answer every request; results in request order. Blocks; safe from any thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun(requests))
        # called from inside a running loop (an async task, a notebook): run ours on a thread
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.arun(requests)).result()

    async def arun(self, requests: list[ChatRequest]) -> tuple[list[ChatResult], LLMStats]:
        started = time.perf_counter()
        restarted = self.server is not None and await asyncio.to_thread(self.server.ensure_running)
        # a query in the base URL (`?key=...`, `?api-version=...`) goes on every request; the SDK would glue the
        # endpoint's path after it (/v1/?key=kchat/completions)
        base_url, _, query = self.base_url.partition("?")
        client = openai.AsyncOpenAI(
            base_url=base_url, api_key=self._api_key, max_retries=0, timeout=self.timeout_s,
            default_query=dict(urllib.parse.parse_qsl(query, keep_blank_values=True)) or None,
        )
        async with client:
            state = _Run(client, asyncio.Semaphore(self.max_concurrency), LLMStats(server_restarts=int(restarted)))
            results = await _all_or_nothing([self._answer(state, r) for r in requests])
        s = state.stats
        log.info(
            "llm %s: %d request(s) in %.1f s: %d HTTP, %d cached, %d retries, %d malformed, %d failed, "
            "tokens %d in / %d out", self.model, len(requests), time.perf_counter() - started, s.requests,
            s.cache_hits, s.retries, s.malformed, s.failures, s.tokens_in, s.tokens_out,
        )  # fmt: skip
        return list(results), s

    # -- one request --------------------------------------------------------------------------

    def _params(self, req: ChatRequest) -> tuple[float, int]:
        temperature = self.temperature if req.temperature is None else req.temperature
        return temperature, self.max_tokens if req.max_tokens is None else req.max_tokens

    def cache_key(self, req: ChatRequest) -> str:
        temperature, max_tokens = self._params(req)
        blob = json.dumps(
            [self.model, req.messages, req.json_schema, temperature, max_tokens],
            sort_keys=True, ensure_ascii=False, separators=(",", ":"),
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()

    def _cache_path(self, key: str) -> str:
        return storage.join(self.cache_uri, key[:2], f"{key}.json")

    async def _answer(self, state: _Run, req: ChatRequest) -> ChatResult:
        if req.json_schema is not None:
            try:
                self._validator(req.json_schema)
            except jsonschema.exceptions.SchemaError as e:
                state.stats.failures += 1
                return ChatResult(req.key, None, error=f"invalid json_schema: {e.message[:150]}")
        key = self.cache_key(req) if self.cache_uri else ""
        if key and (hit := await asyncio.to_thread(self._cache_read, key)) is not None:
            state.stats.cache_hits += 1
            return ChatResult(req.key, hit["text"], hit.get("parsed"), hit.get("finish_reason"),
                              hit.get("tokens_in", 0), hit.get("tokens_out", 0), cached=True)
        async with state.semaphore:  # held through backoff waits too: a throttled server gets fewer requests
            result = await self._ask(state, req)
        if result.error is not None:
            state.stats.failures += 1
        elif key:
            await asyncio.to_thread(self._cache_write, key, result)
        return result

    async def _ask(self, state: _Run, req: ChatRequest) -> ChatResult:
        transport_retries = parse_retries = 0
        while True:
            try:
                return await self._once(state, req)
            except _Malformed as e:
                state.stats.malformed += 1
                if parse_retries >= self.max_parse_retries:
                    return ChatResult(req.key, None, error=f"malformed output: {e}")
                parse_retries += 1
            except Exception as e:
                if self.server is not None and isinstance(e, openai.APIConnectionError):
                    # a dead server resets its connections: fail now (LLMServerDied), not after every retry
                    await asyncio.to_thread(self.server.check_alive, DEATH_GRACE_S)
                if not _transient(e) or transport_retries >= self.max_retries:
                    return ChatResult(req.key, None, error=_describe(e, self._secrets))
                wait = self._backoff(transport_retries, e)
                log.debug("llm request %r: %s, retry in %.2f s", req.key, _describe(e, self._secrets), wait)
                transport_retries += 1
                state.stats.retries += 1
                await asyncio.sleep(wait)

    def _backoff(self, attempt: int, exc: Exception) -> float:
        response = getattr(exc, "response", None)
        asked = retry_after_s(response.headers) if response is not None else None
        if asked is not None:
            return min(asked, MAX_RETRY_AFTER_S)
        ceiling = min(self.max_backoff_s, self.backoff_s * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread, but never near zero

    async def _once(self, state: _Run, req: ChatRequest) -> ChatResult:
        temperature, max_tokens = self._params(req)
        # OpenAI's newer models take only max_completion_tokens; other servers know max_tokens
        kwargs: dict[str, Any] = {"max_completion_tokens" if self._openai_api else "max_tokens": max_tokens}
        if req.json_schema is not None:
            kwargs["response_format"] = self._response_format(req.json_schema)
        state.stats.requests += 1
        completion = await state.client.chat.completions.create(
            model=self.model, messages=req.messages, temperature=temperature, **kwargs
        )
        usage = completion.usage
        tokens_in = usage.prompt_tokens if usage else 0
        tokens_out = usage.completion_tokens if usage else 0
        state.stats.tokens_in += tokens_in
        state.stats.tokens_out += tokens_out
        if not completion.choices:
            raise _Malformed("no choices in the response")
        choice = completion.choices[0]
        text = choice.message.content or ""
        parsed = self._parse(text, req.json_schema, choice.finish_reason) if req.json_schema is not None else None
        return ChatResult(req.key, text, parsed, choice.finish_reason, tokens_in, tokens_out)

    # -- JSON ---------------------------------------------------------------------------------

    def _response_format(self, schema: dict) -> dict:
        if self._openai_api:
            return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": True}}
        return {"type": "json_object", "schema": schema}  # llama.cpp turns the schema into a grammar

    def _parse(self, text: str, schema: dict, finish_reason: str | None) -> Any:
        try:
            value = json.loads(text, strict=False)  # small models put raw line breaks inside strings
        except json.JSONDecodeError as e:
            cut = " (cut at max_tokens)" if finish_reason == "length" else ""
            raise _Malformed(f"invalid JSON{cut}: {e.msg} at char {e.pos}") from None
        error = jsonschema.exceptions.best_match(self._validator(schema).iter_errors(value))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "top level"
            raise _Malformed(f"schema violation at {where}: {error.message[:150]}")
        return value

    def _validator(self, schema: dict):
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            self._validators[key] = cls(schema)
        return self._validators[key]

    # -- cache --------------------------------------------------------------------------------

    def _cache_read(self, key: str) -> dict | None:
        uri = self._cache_path(key)
        try:
            data = storage.read_if_exists(uri)
            if data is None:
                return None
            entry = json.loads(data)
            return entry if isinstance(entry, dict) and isinstance(entry.get("text"), str) else None
        except (storage.StorageError, ValueError) as e:
            log.warning("llm cache: unreadable entry %s (%s); asking again", key[:12], type(e).__name__)
            return None

    def _cache_write(self, key: str, result: ChatResult) -> None:
        # `for`: the caller's id (document or pair ids inside), by which erasure finds the entries of erased rows
        entry = {"model": self.model, "text": result.text, "parsed": result.parsed,
                 "finish_reason": result.finish_reason, "tokens_in": result.tokens_in,
                 "tokens_out": result.tokens_out, "for": result.key}  # fmt: skip
        try:
            storage.write_bytes(self._cache_path(key), json.dumps(entry, ensure_ascii=False).encode())
        except OSError as e:  # StorageError included
            log.warning("llm cache: could not write %s (%s)", key[:12], e)
