"""Label Studio, the annotation server, as a child process of pairforge.

    with label_studio(data_dir) as server:          # a free loopback port unless `port` is given
        client = server.client()                    # tasks.annotate.client.LabelStudio(server.url, server.token)

Label Studio 1.23.2 pins its own Django stack, which conflicts with pairforge's locked set, so it is installed in a
virtualenv of its own (`make labelstudio` -> `.venv-labelstudio`, from `requirements-labelstudio.lock`) and
pairforge only talks to it over HTTP. The executable is `$PAIRFORGE_LABEL_STUDIO` if set, else
`.venv-labelstudio/bin/label-studio` of the current folder or of this checkout, else `label-studio` on the PATH.

The server is `label-studio start --port P --internal-host 127.0.0.1 --host http://127.0.0.1:P --no-browser
--data-dir D` (in 1.23.2 `--host` is the public URL written into links; `--internal-host` is the address it binds,
0.0.0.0 by default), started through `tasks.core.procs.spawn`, so it dies with pairforge. Everything it keeps (the
SQLite database, uploads, its own `.env` with the Django secret) lives in the data dir.

No manual step: the admin account and its API token are made on the first start of a data dir. Label Studio reads
them from `LABEL_STUDIO_USERNAME` / `LABEL_STUDIO_PASSWORD` / `LABEL_STUDIO_USER_TOKEN` (its `server.py`:
`_create_user` on `start` when username and password are set; a token of 6+ characters replaces the user's API
token). The environment is used rather than `--username/--password/--user-token`, which work too but would show the
secrets in `ps`. The token is a "legacy" API token (`Authorization: Token ...`), which 1.23 accepts only for an
organization created with `LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true`, so that is set as well. pairforge makes the
three values once per data dir and keeps them in `D/pairforge-credentials.json` (mode 0600), because Label Studio
applies them only when it creates the user: a later start with other values would not change them.
Neither the token nor the password is ever logged or printed; read them from that file.

Also set for the child: the data dir and its SQLite database explicitly (Label Studio's settings fall back to bare
variable names such as `DATABASE_NAME` or `PORT` from the environment), and no telemetry: no Sentry reports (its
default DSN sends request data), no analytics, no version check against the package index.

Start-up time, measured on this project's 2-core machines (Label Studio 1.23.2, SQLite, the other core busy): 37-41 s
for a new data dir (nearly all of it the database migrations), 3.5-4.5 s for a data dir that exists;
`startup_timeout_s` defaults to 180 s.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from pairforge.tasks.core import procs

if TYPE_CHECKING:
    from pairforge.tasks.annotate.client import LabelStudio

log = logging.getLogger(__name__)

LS_VERSION = "1.23.2"
LS_VENV = ".venv-labelstudio"
CREDENTIALS_FILE = "pairforge-credentials.json"
ADMIN_USERNAME = "pairforge@localhost"
REPO = Path(__file__).resolve().parents[2]  # the checkout, for an editable install


class LabelStudioError(RuntimeError):
    """Label Studio is not installed, could not be started, or does not accept pairforge's token."""


def label_studio_bin() -> str:
    """The `label-studio` executable (see the module docstring for where it is looked for)."""
    if env := os.environ.get("PAIRFORGE_LABEL_STUDIO"):
        if not os.access(env, os.X_OK):
            raise LabelStudioError(f"PAIRFORGE_LABEL_STUDIO={env} is not an executable")
        return env
    for venv in (Path.cwd() / LS_VENV, REPO / LS_VENV):
        exe = venv / "bin" / "label-studio"
        if os.access(exe, os.X_OK):
            return str(exe)
    if found := shutil.which("label-studio"):
        return found
    raise LabelStudioError(f"Label Studio is not installed: run `make labelstudio` (it installs {LS_VENV}/ with "
                           f"label-studio {LS_VERSION}), or set PAIRFORGE_LABEL_STUDIO to a label-studio executable")


@dataclass(frozen=True)
class Credentials:
    """The admin account pairforge uses; `repr` never shows the secrets."""

    username: str
    password: str = field(repr=False)
    token: str = field(repr=False)


def credentials_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / CREDENTIALS_FILE


def admin_credentials(data_dir: str | Path) -> Credentials:
    """The data dir's admin account: read from `pairforge-credentials.json`, made (random password and token) and
    written there, readable by its owner only, on first use."""
    path = credentials_path(data_dir)
    try:
        saved = json.loads(path.read_text())
        return Credentials(saved["username"], saved["password"], saved["token"])
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError) as e:
        raise LabelStudioError(f"{path}: not pairforge's credentials file ({type(e).__name__}); move it away to "
                               "start with a new data dir") from None
    creds = Credentials(ADMIN_USERNAME, secrets.token_urlsafe(18), secrets.token_hex(20))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even briefly
    with os.fdopen(fd, "w") as f:
        json.dump({"username": creds.username, "password": creds.password, "token": creds.token}, f)
    return creds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Server:
    """A running Label Studio: its URL, the admin's API token, where it keeps its data and writes its log."""

    url: str
    token: str = field(repr=False)
    username: str
    data_dir: Path
    log_path: Path
    port: int
    process: subprocess.Popen | None = field(default=None, repr=False)
    started_in_s: float = 0.0

    def client(self) -> LabelStudio:
        from pairforge.tasks.annotate.client import LabelStudio

        return LabelStudio(self.url, self.token)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def child_env(data_dir: Path, url: str, creds: Credentials) -> dict[str, str]:
    """The server's environment: this process's (less any Python path that would mix pairforge's packages into Label
    Studio's venv), with the data dir, the admin account and no telemetry set."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_DJANGO_DB": "sqlite",
        "LABEL_STUDIO_DATABASE_NAME": str(data_dir / "label_studio.sqlite3"),
        "LABEL_STUDIO_HOST": url,
        "LABEL_STUDIO_USERNAME": creds.username,
        "LABEL_STUDIO_PASSWORD": creds.password,
        "LABEL_STUDIO_USER_TOKEN": creds.token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_SENTRY_DSN": "",
        "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "PYTHONUNBUFFERED": "1",
    })  # fmt: skip
    return env


def start(
    data_dir: str | Path,
    port: int | None = None,
    *,
    startup_timeout_s: float = 180.0,
    log_path: str | Path | None = None,
) -> Server:
    """Start Label Studio on 127.0.0.1:`port` (a free port if None) over `data_dir` and wait until its API answers
    the admin's token. The log goes to `log_path` (default `<data_dir>/label-studio.log`, appended to)."""
    exe = label_studio_bin()
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    creds = admin_credentials(data_dir)
    if port is None:
        port = free_port()
    elif _port_in_use(port):  # Label Studio itself would move to the next free port without a word
        raise LabelStudioError(f"port {port} on 127.0.0.1 is in use: choose another one")
    url = f"http://127.0.0.1:{port}"
    log_file = Path(log_path) if log_path else data_dir / "label-studio.log"
    args = [exe, "start", "--port", str(port), "--internal-host", "127.0.0.1", "--host", url, "--no-browser",
            "--data-dir", str(data_dir)]
    began = time.monotonic()
    with open(log_file, "ab") as logfile:  # the child keeps its own copy of the descriptor
        process = procs.spawn(args, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT,
                              env=child_env(data_dir, url, creds), cwd=str(data_dir))
    server = Server(url=url, token=creds.token, username=creds.username, data_dir=data_dir, log_path=log_file,
                    port=port, process=process)
    log.info("Label Studio starting on %s (pid %d, data %s, log %s)", url, process.pid, data_dir, log_file)
    try:
        _wait_ready(server, startup_timeout_s)
    except BaseException:
        stop(server, 0)
        raise
    server.started_in_s = time.monotonic() - began
    log.info("Label Studio ready on %s after %.1f s", url, server.started_in_s)
    return server


def _wait_ready(server: Server, timeout_s: float) -> None:
    """Poll `/health` until it answers, then check that the admin token is accepted (`/api/current-user/whoami`):
    that proves it is our server on that port and that the data dir's account is the one in the credentials file."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=server.url, timeout=5.0) as http:
        while True:
            if server.process is not None and (code := server.process.poll()) is not None:
                raise LabelStudioError(f"Label Studio exited while starting (code {code}); log: {server.log_path}; "
                                       f"last lines:\n{_tail(server.log_path)}")
            try:
                if http.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise LabelStudioError(f"Label Studio did not answer on {server.url}/health within {timeout_s:.0f} s; "
                                       f"log: {server.log_path}; last lines:\n{_tail(server.log_path)}")
            time.sleep(0.25)
        r = http.get("/api/current-user/whoami", headers={"Authorization": f"Token {server.token}"})
    if r.status_code != 200:
        raise LabelStudioError(
            f"Label Studio on {server.url} refuses pairforge's API token (HTTP {r.status_code}): its data dir "
            f"{server.data_dir} has an admin account that pairforge did not make, or an organization without legacy "
            f"API tokens; start on a new data dir (log: {server.log_path})")


def stop(server: Server, grace_s: float = 10.0) -> int | None:
    """SIGTERM, then SIGKILL after `grace_s` seconds (0: at once); the exit code, None if it was not running."""
    if server.process is None:
        return None
    code = procs.stop(server.process, grace_s)
    server.process = None
    return code


@contextmanager
def label_studio(data_dir: str | Path, port: int | None = None, **kwargs) -> Iterator[Server]:
    """A Label Studio for the `with` block (see `start`); stopped on exit, at once if interrupted (Ctrl-C)."""
    server = start(data_dir, port, **kwargs)
    try:
        yield server
    except BaseException as e:
        stop(server, 10.0 if isinstance(e, Exception) else 0)
        raise
    stop(server)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pairforge" / "label-studio"


def serve_forever(data_dir: str | Path, port: int = 8080) -> None:
    """Run Label Studio in the foreground until Ctrl-C (`pairforge annotate serve`): its URL on stdout, and on stderr
    where its data, log and credentials are (never the credentials themselves)."""
    with label_studio(data_dir, port) as server:
        creds = credentials_path(server.data_dir)
        print(f"Label Studio {LS_VERSION} at {server.url} (ready after {server.started_in_s:.0f} s; data "
              f"{server.data_dir}; log {server.log_path})\n"
              f"admin login {server.username}: password and API token in {creds} (keys \"password\", \"token\"), "
              f"e.g.\n  export LABEL_STUDIO_URL={server.url}\n"
              f"  export LABEL_STUDIO_API_KEY=$(python3 -c 'import json; print(json.load(open(\"{creds}\"))"
              f"[\"token\"])')\nCtrl-C stops it", file=sys.stderr, flush=True)
        print(server.url, flush=True)  # the one machine-readable line, on stdout
        try:
            code = server.process.wait()
        except KeyboardInterrupt:
            return
        raise LabelStudioError(f"Label Studio exited (code {code}); log: {server.log_path}; last lines:\n"
                               f"{_tail(server.log_path)}")


__all__ = ["Credentials", "LabelStudioError", "Server", "admin_credentials", "credentials_path", "label_studio",
           "label_studio_bin", "serve_forever", "start", "stop", "default_data_dir", "LS_VERSION"]
