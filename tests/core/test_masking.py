"""Credential masking: URLs, free text (error bodies, log lines) and --set items."""

from __future__ import annotations

import base64

import pytest

from pairforge.tasks.core.masking import (
    credential_in_override,
    is_secret_name,
    mask_text,
    mask_url,
    mask_urls_in,
    url_secrets,
)


@pytest.mark.parametrize(("url", "masked"), [
    ("https://user:pw@host.example/v1", "https://***@host.example/v1"),
    ("http://127.0.0.1:8008/v1?key=abc123&api-version=2024-06-01", "http://127.0.0.1:8008/v1?key=***&api-version=2024-06-01"),
    ("https://b.s3.example/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=f00d&X-Amz-Expires=60",
     "https://b.s3.example/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60"),
    ("https://acct.blob.example/c?sv=2022&sig=abcd", "https://acct.blob.example/c?sv=2022&sig=***"),
    ("https://hooks.example/x#access_token=zzz", "https://hooks.example/x#access_token=***"),
    ("s3://bucket/prefix/data.parquet", "s3://bucket/prefix/data.parquet"),
    ("data/news.txt", "data/news.txt"),
])
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_mask_urls_in_a_published_recipe():
    recipe = {"generate": {"base_url": "http://u:p@h/v1?token=t1", "max_tokens": 5},
              "sources": [{"uri": "s3://b/k"}, {"uri": "https://h/x?signature=s"}]}
    assert mask_urls_in(recipe) == {"generate": {"base_url": "http://***@h/v1?token=***", "max_tokens": 5},
                                    "sources": [{"uri": "s3://b/k"}, {"uri": "https://h/x?signature=***"}]}


@pytest.mark.parametrize(("name", "secret"), [
    ("OPENAI_API_KEY", True), ("apiKey", True), ("x-api-key", True), ("access_token", True), ("client_secret", True),
    ("X-Amz-Signature", True), ("Authorization", True), ("password", True), ("PAIRFORGE_HASH_SALT", True),
    ("max_tokens", False), ("chunk_tokens", False), ("api_key_env", False), ("hash_salt_env", False),
    ("second_pass", False), ("keep_work", False), ("PWD", False), ("HOME", False), ("sig", False),
])
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


def test_query_only_names():
    assert is_secret_name("sig", query=True) and is_secret_name("code", query=True)


def test_mask_text_known_secrets_in_every_form():
    key = "sk-live-0123456789"
    basic = base64.b64encode(b"alice:wonder-land").decode()
    echoed = base64.b64encode(key.encode()).decode()
    body = (f'{{"error": "key {key} refused; Authorization: Basic {basic}; echo {echoed}'
            f' url http://alice:wonder-land@h/v1?key=q-secret-1&page=2"}}')
    out = mask_text(body, [key, *url_secrets("http://alice:wonder-land@h/v1?key=q-secret-1")])
    for leaked in (key, basic, "wonder-land", "q-secret-1", base64.b64encode(key.encode()).decode()):
        assert leaked not in out
    assert "page=2" in out and "refused" in out


def test_mask_text_by_shape():
    text = ("headers {'authorization': 'Bearer abcdefgh', 'x-api-key': 'zz-99-zz', 'host': 'h'} "
            '"password": "hunter22" /v1/chat?token=tok123&x=1 Basic dXNlcjpwdw==')
    out = mask_text(text)
    for leaked in ("abcdefgh", "zz-99-zz", "hunter22", "tok123", "dXNlcjpwdw"):
        assert leaked not in out
    assert "'host': 'h'" in out and "x=1" in out


def test_mask_text_from_the_environment(monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "envtoken-123456")
    assert "envtoken-123456" not in mask_text("failed with envtoken-123456")


def test_cut_after_masking_never_leaves_half_a_secret():
    key = "k" * 40
    out = mask_text("x" * 90 + key, [key], limit=100)
    assert "k" not in out and len(out) <= 100


@pytest.mark.parametrize(("item", "refused"), [
    ("generate.base_url=http://u:p@h/v1", True),
    ("generate.base_url=https://h/v1?key=k1", True),
    ("generate.api_key=sk-1", True),
    ("sources.0.uri=https://h/f.txt?X-Amz-Signature=s", True),
    ("export.uri=s3://bucket/prefix/", False),
    ("generate.base_url=http://127.0.0.1:8008/v1", False),
    ("generate.api_key_env=MY_KEY", False),
    ("generate.max_tokens=300", False),
    ("pii.hash_salt_env=SALT_VAR", False),
])
def test_credential_in_override(item, refused):
    assert (credential_in_override(item) is not None) is refused
