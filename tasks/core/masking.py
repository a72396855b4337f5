"""Credentials stay out of everything pairforge logs, stores or publishes.

- `mask_url(url)`: a URL with its user info (`user:password@`) and the values of secret-looking query
  parameters (`key`, `token`, `secret`, `signature`, `password`, `sig`, `code`, `X-Amz-Credential`, ...)
  replaced by `***`; everything else kept, so the URL still says where it points.
- `mask_urls_in(value)`: the same for every URL in a JSON-like value (a recipe as published).
- `mask_text(text, secrets)`: free text (an error body, a log line) with the given secret values (and their
  base64 and URL-encoded forms), secret-looking environment values, `Authorization`/`Bearer`/`Basic` values,
  `"api_key": "..."`-style fields, secret query parameters and URL user info replaced by `***`.
- `url_secrets(url)`: the credentials a URL carries (password, `user:password` and the Basic-auth token made of
  it, secret query values), to hand to `mask_text` by whoever sends requests to that URL.
- `credential_in_override(item)`: why a `--set dotted.key=value` must not become a flow parameter (Prefect keeps
  parameters in its database), or None.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

MASK = "***"
MESSAGE_LIMIT = 300
MIN_SECRET_CHARS = 4  # shorter values are masked only where their position says they are secrets

# words that mark a name (environment variable, query parameter, JSON or header field, recipe key) as a credential
SECRET_WORDS = frozenset({"key", "apikey", "token", "secret", "signature", "password", "passwd", "credential",
                          "credentials", "auth", "authorization", "session", "cookie", "webhook", "jwt", "salt",
                          "private"})
_QUERY_ONLY = frozenset({"sig", "code", "pwd", "pass"})  # secret as query parameters (SAS `sig`, Azure `code`)
_NAME_NOT_VALUE = frozenset({"env", "envvar", "var", "file", "path", "name", "id", "count", "columns", "column",
                             "length", "len", "chars", "size", "type"})  # `api_key_env` names a variable
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

_SCHEME_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^/\s@?#'\"<>]+)@")
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|Token|Digest|ApiKey)(\s+|%20|\+)[A-Za-z0-9._~+/=-]{4,}", re.IGNORECASE)
# `name=value` in a query string or form body
_PARAM = re.compile(r"(?P<name>[A-Za-z0-9_.\[\]-]+)(?P<eq>=|%3D)(?P<value>[^&\s\"'<>#;,]+)")
# `"name": "value"`, `'name': 'value'`, `name: value` (headers, JSON, YAML)
_FIELD = re.compile(r"(?P<name>[\"']?[A-Za-z0-9_-]+[\"']?)(?P<sep>\s*[:=]\s*)(?P<quote>[\"']?)"
                    r"(?P<value>[^\"'\s,;}{&]+)")


def is_secret_name(name: str, query: bool = False) -> bool:
    """Whether a variable, parameter or key name says its value is a credential: one of its words is `key`,
    `token`, `secret`, `password`, `auth`, ... (`max_tokens` and `api_key_env`, which names a variable, are not).
    `query`: a query parameter name, where `sig`, `code`, `pwd` and `pass` count too."""
    words = [w.lower() for w in _WORD.findall(name.strip("\"'"))]
    if not words or words[-1] in _NAME_NOT_VALUE:
        return False
    return any(w in SECRET_WORDS or (query and w in _QUERY_ONLY) for w in words)


def mask_url(url: str) -> str:
    """The URL with user info and secret-looking query parameter values masked (other parts unchanged)."""
    if not url or "://" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return mask_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = _mask_params(parts.query)
    fragment = _mask_params(parts.fragment)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def mask_urls_in(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with every URL in it masked (`mask_url`)."""
    if isinstance(value, str):
        return mask_url(value) if "://" in value else value
    if isinstance(value, dict):
        return {k: mask_urls_in(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_urls_in(v) for v in value]
    return value


def _mask_params(text: str) -> str:
    def one(m: re.Match) -> str:
        return f"{m['name']}{m['eq']}{MASK}" if is_secret_name(m["name"], query=True) else m.group(0)

    return _PARAM.sub(one, text)


def url_secrets(url: str | None) -> list[str]:
    """Credentials inside a URL: the password, `user:password`, its Basic-auth token, secret query values."""
    if not url or "://" not in url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, _, password = userinfo.partition(":")
        from urllib.parse import unquote

        for value in {userinfo, unquote(userinfo), f"{unquote(user)}:{unquote(password)}"}:
            found += [value, base64.b64encode(value.encode()).decode()]
        if password:
            found += [password, unquote(password)]
    for m in _PARAM.finditer(f"{parts.query}&{parts.fragment}"):
        if is_secret_name(m["name"], query=True):
            found.append(m["value"])
    return [s for s in dict.fromkeys(found) if len(s) >= MIN_SECRET_CHARS]


_ENV_SECRET = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|WEBHOOK|SALT", re.IGNORECASE)


def environment_secrets() -> list[str]:
    """Values of environment variables whose names contain KEY, SECRET, TOKEN, PASSWORD, CREDENTIAL, WEBHOOK or
    SALT (at least 6 characters, to spare short words)."""
    return [v for k, v in os.environ.items() if _ENV_SECRET.search(k) and len(v) >= 6]


def _forms(secret: str) -> list[str]:
    """The ways a secret shows up in text: as is, URL-encoded, base64 (standard and URL-safe, without padding)."""
    raw = secret.encode()
    b64 = base64.b64encode(raw).decode()
    forms = [secret, quote(secret, safe=""), b64, b64.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")]
    return [f for f in dict.fromkeys(forms) if len(f) >= MIN_SECRET_CHARS]


def mask_text(text: str | None, secrets: Iterable[str | None] = (), limit: int | None = None) -> str:
    """Free text with credentials masked (see the module docstring); cut to `limit` characters after masking, so
    a cut never leaves half a secret."""
    if not text:
        return ""
    text = str(text)
    values = [s for s in [*secrets, *environment_secrets()] if s and len(s) >= MIN_SECRET_CHARS]
    for form in sorted({f for s in values for f in _forms(s)}, key=len, reverse=True):
        text = text.replace(form, MASK)
    text = _SCHEME_USERINFO.sub(rf"\1{MASK}@", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    text = _mask_params(text)

    def field(m: re.Match) -> str:
        if not is_secret_name(m["name"]) or m["value"].startswith(MASK):
            return m.group(0)
        return f"{m['name']}{m['sep']}{m['quote']}{MASK}"

    text = _FIELD.sub(field, text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def credential_in_override(item: str) -> str | None:
    """Why `--set key=value` holds a credential (then it must not become a flow-run parameter), or None."""
    key, _, value = item.partition("=")
    last = key.rsplit(".", 1)[-1]
    if is_secret_name(last) and value:
        return f"'{key}' names a credential"
    for m in re.finditer(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://\S+", value):
        url = m.group(0)
        parts = urlsplit(url)
        if "@" in parts.netloc:
            return f"the URL in '{key}' carries user:password"
        if mask_url(url) != url:
            return f"the URL in '{key}' carries a secret query parameter"
    if _AUTH_SCHEME.search(value):
        return f"'{key}' holds an authorization value"
    return None


__all__ = ["MASK", "mask_url", "mask_urls_in", "mask_text", "url_secrets", "environment_secrets", "is_secret_name",
           "credential_in_override"]
