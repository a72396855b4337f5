"""One small interface over local paths (`/x`, `file:///x`) and `s3://bucket/key` URIs.

S3 uses boto3 with the standard AWS environment (credentials chain, `AWS_ENDPOINT_URL`,
`AWS_DEFAULT_REGION`), so the same code talks to AWS, MinIO or moto's server.

Writes are atomic from a reader's view: local files are written to a hidden temp file and
renamed over the final name; an S3 PUT is never visible until it is complete.

Keys stay inside their root: `join` refuses parts that are absolute or hold a `.` or `..` segment, S3 keys with
such segments are refused everywhere (`split_s3`), and deletes refuse dot segments, a whole file system or
bucket, and (given `within=`) anything that does not resolve strictly inside that folder (`UnsafeKeyError`).
"""

from __future__ import annotations

import fnmatch
import io
import os
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

import polars as pl

_local = threading.local()


class StorageError(OSError):
    """A storage operation failed; `transient` tells whether retrying may help."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class UnsafeKeyError(StorageError):
    """A key that would reach outside its root (a `..` or `.` segment, an absolute path joined in), or a delete
    outside the folder it was scoped to. Never transient."""

    def __init__(self, message: str):
        super().__init__(message, transient=False)


def _dot_segments(path: str) -> bool:
    return any(s in (".", "..") for s in path.replace("\\", "/").split("/"))


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def local_path(uri: str) -> Path:
    return Path(urlparse(uri).path) if uri.startswith("file://") else Path(uri)


def split_s3(uri: str) -> tuple[str, str]:
    """(bucket, key); a key with a `.` or `..` segment is refused (S3 keeps them literally, a mirror would not)."""
    parsed = urlparse(uri)
    key = parsed.path.lstrip("/")
    if key and _dot_segments(key):
        raise UnsafeKeyError(f"{uri}: refusing an S3 key with a '.' or '..' segment")
    return parsed.netloc, key


def _s3():
    # boto3 clients are thread-safe, sessions are not: one client per thread, built on first use.
    client = getattr(_local, "s3", None)
    if client is None:
        import boto3
        from botocore.config import Config

        client = boto3.session.Session().client(
            "s3", config=Config(retries={"max_attempts": 5, "mode": "standard"})
        )
        _local.s3 = client
    return client


def _s3_error(e: Exception, uri: str) -> StorageError:
    from botocore.exceptions import ClientError

    if isinstance(e, ClientError):
        code = e.response.get("Error", {}).get("Code", "")
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        transient = status >= 500 or status == 429 or code in ("SlowDown", "RequestTimeout")
        return StorageError(f"{uri}: {code or status}", transient=transient)
    return StorageError(f"{uri}: {type(e).__name__}: {e}", transient=True)


def join(base: str, *parts: str) -> str:
    """`base/part/...`. A part is a relative key below `base`: an absolute part, or one with a `.` or `..`
    segment (which would resolve outside `base`, or to `base` itself), raises UnsafeKeyError."""
    out = base.rstrip("/")
    for p in parts:
        if p.startswith("/") or _dot_segments(p) or "\0" in p:
            raise UnsafeKeyError(f"{base}: refusing the key {p!r}: a key below a folder is relative, without "
                                 "'.' or '..' segments")
        out += "/" + p.strip("/")
    return out


def normalize(uri: str) -> str:
    """A user-given local folder or file without `.`/`..` segments (`out/ds/../ds` -> `out/ds`); S3 URIs as they
    are (their keys with such segments are refused on use)."""
    if is_s3(uri) or uri.startswith("file://"):
        return uri
    return os.path.normpath(uri) + ("/" if uri.endswith("/") and uri.strip("/") else "")


def inside(uri: str, root: str) -> bool:
    """Whether `uri` resolves strictly inside the folder/prefix `root` (locally through symlinks)."""
    if is_s3(uri) != is_s3(root):
        return False
    if is_s3(uri):
        (bucket, key), (root_bucket, root_key) = split_s3(uri), split_s3(root)
        root_key = root_key.strip("/")
        key = key.rstrip("/")
        return bucket == root_bucket and bool(key) and (not root_key or key.startswith(root_key + "/"))
    path, base = os.path.realpath(local_path(uri)), os.path.realpath(local_path(root))
    return path != base and path.startswith(base.rstrip(os.sep) + os.sep)


def _check_delete(uri: str, within: str | None) -> None:
    """Deletes never take dot segments, a whole file system or bucket, or (given `within`) anything outside it."""
    if is_s3(uri):
        _, key = split_s3(uri)
        if not key.strip("/"):
            raise UnsafeKeyError(f"{uri}: refusing to delete a whole bucket")
    else:
        path = str(local_path(uri))
        if _dot_segments(path) or os.path.realpath(path) == os.sep or not path.strip():
            raise UnsafeKeyError(f"{uri}: refusing to delete a path with '.' or '..' segments, or the root folder")
    if within is not None and not inside(uri, within):
        raise UnsafeKeyError(f"{uri}: refusing to delete outside {within}")


def read_bytes(uri: str) -> bytes:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            return _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as e:
            raise _s3_error(e, uri) from e
    try:
        return local_path(uri).read_bytes()
    except OSError as e:
        raise StorageError(f"{uri}: {e.strerror or e}") from e


class _S3Raw(io.RawIOBase):
    """A boto3 streaming body as a raw stream, so it can be buffered, decompressed and iterated by line."""

    def __init__(self, body):
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._body.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


def open_read(uri: str) -> io.BufferedIOBase:
    """A binary stream over a file or object, read on demand (memory stays flat whatever its size)."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            body = _s3().get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as e:
            raise _s3_error(e, uri) from e
        return io.BufferedReader(_S3Raw(body), buffer_size=1 << 20)
    try:
        return local_path(uri).open("rb")
    except OSError as e:
        raise StorageError(f"{uri}: {e.strerror or e}") from e


def read_if_exists(uri: str) -> bytes | None:
    """The bytes of a file or object, or None when there is none (one request, not exists + read)."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            return _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as e:
            if _not_found(e):
                return None
            raise _s3_error(e, uri) from e
    try:
        return local_path(uri).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StorageError(f"{uri}: {e.strerror or e}") from e


def _s3_size(uri: str) -> int | None:
    """Size of one S3 object, or None when the key does not exist."""
    bucket, key = split_s3(uri)
    try:
        return _s3().head_object(Bucket=bucket, Key=key)["ContentLength"]
    except Exception as e:
        if _not_found(e):
            return None
        raise _s3_error(e, uri) from e


def file_tag(uri: str) -> str:
    """What changes when a file's content does, without reading it: size and mtime locally, the ETag on S3."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            head = _s3().head_object(Bucket=bucket, Key=key)
        except Exception as e:
            raise _s3_error(e, uri) from e
        return f"{head['ContentLength']}-{head.get('ETag', '')}"
    try:
        st = local_path(uri).stat()
    except OSError as e:
        raise StorageError(f"{uri}: {e.strerror or e}") from e
    return f"{st.st_size}-{st.st_mtime_ns}"


def _not_found(e: Exception) -> bool:
    """An S3 error that means the key does not exist."""
    from botocore.exceptions import ClientError

    return isinstance(e, ClientError) and e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def write_bytes(uri: str, data: bytes) -> None:
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            _s3().put_object(Bucket=bucket, Key=key, Body=data)
        except Exception as e:
            raise _s3_error(e, uri) from e
        return
    path = local_path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def exists(uri: str) -> bool:
    if is_s3(uri):
        return _s3_size(uri) is not None
    return local_path(uri).exists()


def delete(uri: str, within: str | None = None) -> None:
    """Delete one object or file; missing is fine. `within`: a folder the file must resolve inside."""
    _check_delete(uri, within)
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            _s3().delete_object(Bucket=bucket, Key=key)
        except Exception as e:
            raise _s3_error(e, uri) from e
        return
    local_path(uri).unlink(missing_ok=True)


def delete_tree(prefix: str, within: str | None = None) -> None:
    """Delete every file under a folder/prefix (and, locally, the emptied folders). `within`: a folder the prefix
    must resolve strictly inside. A local prefix that is a symlink loses the link, never what it points to."""
    _check_delete(prefix, within)
    if not is_s3(prefix) and local_path(prefix).is_symlink():
        local_path(prefix).unlink()
        return
    for uri, _ in list_files(prefix):
        delete(uri)
    if not is_s3(prefix):
        import shutil

        shutil.rmtree(local_path(prefix), ignore_errors=True)


def list_files(prefix: str) -> list[tuple[str, int]]:
    """All files under a folder/prefix (recursive), as sorted (uri, size). Hidden temp files are skipped."""
    if is_s3(prefix):
        bucket, key = split_s3(prefix)
        if key and not key.endswith("/"):
            key += "/"
        out = []
        try:
            for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                out += [(f"s3://{bucket}/{o['Key']}", o["Size"]) for o in page.get("Contents", [])]
        except Exception as e:
            raise _s3_error(e, prefix) from e
        return sorted(out)
    root = local_path(prefix)
    if not root.is_dir():
        return []
    # URIs in the prefix's own form (`file://` kept), as `join(prefix, ...)` builds them, so callers can
    # compare them with URIs they joined themselves and glob patterns can match them.
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            out.append((join(prefix, rel.as_posix()), p.stat().st_size))
    return sorted(out)


def list_folders(uri: str) -> list[str]:
    """Names of the folders directly under `uri` (on S3: its common prefixes), sorted, without listing what is in
    them. Hidden folders are left out."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        key = key.rstrip("/") + "/" if key.strip("/") else ""
        names = []
        try:
            for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key, Delimiter="/"):
                names += [p["Prefix"][len(key):].rstrip("/") for p in page.get("CommonPrefixes", [])]
        except Exception as e:
            raise _s3_error(e, uri) from e
    else:
        root = local_path(uri)
        names = [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    return sorted(n for n in names if n and not n.startswith("."))


def glob(pattern: str) -> list[tuple[str, int]]:
    """Files matching a path, folder or glob (`*`, `?`, `[...]`, `**`), local or s3://."""
    if not any(c in pattern for c in "*?["):
        if is_s3(pattern):
            size = None if pattern.endswith("/") else _s3_size(pattern)
            return [(pattern, size)] if size is not None else list_files(pattern)
        path = local_path(pattern)
        if path.is_file():
            return [(pattern, path.stat().st_size)]
        return list_files(pattern)
    # list from the fixed part of the pattern, then match the rest
    fixed = pattern[: min(pattern.index(c) for c in "*?[" if c in pattern)]
    base = fixed.rsplit("/", 1)[0] if "/" in fixed else "."
    return [(u, s) for u, s in list_files(base) if fnmatch.fnmatch(u, pattern)]


def read_parquet(uri: str, columns: list[str] | None = None) -> pl.DataFrame:
    return pl.read_parquet(io.BytesIO(read_bytes(uri)), columns=columns)


def parquet_bytes(df: pl.DataFrame, row_group_size: int = 100_000) -> bytes:
    buf = io.BytesIO()
    df.write_parquet(buf, compression="zstd", row_group_size=row_group_size, statistics=True)
    return buf.getvalue()


def write_parquet(df: pl.DataFrame, uri: str, row_group_size: int = 100_000) -> int:
    """Write a zstd Parquet file atomically; returns its size in bytes."""
    data = parquet_bytes(df, row_group_size)
    write_bytes(uri, data)
    return len(data)
