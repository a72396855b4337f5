"""Names are names, not paths: the rule for every user value that becomes part of a storage key.

A version, a dataset name, a source or benchmark name, and anything else a user types that pairforge joins into a
URI must be a plain name: letters, digits, `.`, `_` and `-`, at most `MAX_NAME` characters, and not `.` or `..`
(which a file system reads as "this folder" and "the folder above"). The recipe, the CLI and the flow check
their names with `check_name` before any work starts; `storage.join` refuses path segments on its own (defence in
depth), so a name that slipped through still cannot reach outside its folder.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

MAX_NAME = 100  # leaves room for the suffixes pairforge adds (`-erased-<n>`, `.parquet`, temp-file names)
NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")


def name_problem(value: object) -> str | None:
    """Why `value` is not a usable name, or None when it is one."""
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "must not be empty"
    if value in (".", ".."):
        return f"{value!r} is a path, not a name"
    if len(value) > MAX_NAME:
        return f"at most {MAX_NAME} characters (got {len(value)})"
    if not NAME_PATTERN.fullmatch(value):
        bad = sorted({c for c in value if not NAME_PATTERN.fullmatch(c)})
        shown = ", ".join(repr(c) for c in bad[:5])
        return f"must match [A-Za-z0-9._-]+ (no {shown})"
    return None


def check_name(value: str, key: str) -> str:
    """`value` if it is a usable name; else ValueError naming `key` (e.g. `--version`, `export.version`)."""
    problem = name_problem(value)
    if problem:
        raise ValueError(f"{key}: {problem}")
    return value


def _valid(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# a pydantic field type: `name: Name`. The JSON schema carries the pattern and the cap (the Prefect UI's form checks
# them before a run starts); the validator also refuses `.` and `..`, which a schema pattern cannot express here.
Name = Annotated[str, WithJsonSchema({"type": "string", "pattern": f"^{NAME_PATTERN.pattern}$", "maxLength": MAX_NAME}),
                 AfterValidator(_valid)]
