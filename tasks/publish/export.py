"""Export: split-tagged work shards -> `<export>/<name>/<version>/` exactly as the output contract.

Order of writes, so a reader never sees a half-written version:
1. remove an old `manifest.json` of the same version (the version is incomplete from here on);
2. write every shard (each write is atomic), the validation reports and the side tables: the
   quarantine list (source, uri, row, reason: where bad input was, never its content), rejected pairs
   with their reasons, and the dead-letter list of failed model requests;
3. delete files of an earlier attempt that the new file set does not contain;
4. write the dataset card `README.md` (tasks.publish.card, rendered from the manifest and the previous
   version's manifest; a caller's own `README.md` in `extra_files` is kept as given);
5. write `manifest.json` (its presence means complete), then `<export>/<name>/LATEST`.

The manifest records the code that wrote the version (`code_version`: pairforge's version and, run from
a git checkout, the commit), `previous_version`, the version LATEST named before (the card's changelog),
and `license`, the output's licence constraints (tasks.ingest.licenses; computed from `sources` when not given).

Shards stream: pass 1 reads only `id` and `split` to drop exact duplicates and count rows per
split; pass 2 reads one work shard at a time and flushes output shards of `shard_rows` rows.

Every pairs row gets its `tokens` as its shard is flushed (its conversation in the target tokenizer's chat
template: the recipe's `tokenizer`, as the manifest's recipe records it, else the local model's GGUF;
tasks.publish.tokenizer.tokenizer_for); the manifest names the tokenizer (`tokenizer`) and its table stats hold
their distribution per split (`tables.pairs.tokens`), which the card shows.

Training formats (`export.formats` besides the contract's Parquet: openai, alpaca, sharegpt,
llama2, tokenized, trl-sft, llama-factory, axolotl; see tasks.publish.training_formats) are rendered from each pairs
output shard as it is flushed, one file per Parquet shard so they stay the same size and split:
`<format>/<split>-00000-of-000NN.<ext>`, listed in the manifest with `table` = the format name. A format's index
file (`llama-factory/dataset_info.json`, naming the shards beside it) is written after its shards, `split` null.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE

from pairforge.tasks import SOURCE_ROOT
from pairforge.tasks.core import storage
from pairforge.tasks.core.names import check_name, name_problem
from pairforge.tasks.core.schema import SCHEMAS, SPLITS, pipeline_version
from pairforge.tasks.core.shards import RETRYING, Shard
from pairforge.tasks.publish import training_formats
from pairforge.tasks.publish.card import render_card
from pairforge.tasks.publish.tokenizer import tokenizer_for

MANIFEST = "manifest.json"
LATEST = "LATEST"


def shard_name(split: str, index: int, count: int, ext: str = "parquet") -> str:
    return f"{split}-{index:05d}-of-{count:05d}.{ext}"


def extra_formats(table: str, formats: Sequence[str]) -> list[str]:
    """The training formats written beside a table's Parquet shards (pairs only; Parquet is always written)."""
    unknown = [f for f in formats if f != "parquet" and f not in training_formats.FORMATS]
    if unknown:
        raise ValueError(f"unknown export formats {unknown}; expected: parquet, {', '.join(training_formats.FORMATS)}")
    if table != "pairs":
        return []
    return [f for f in dict.fromkeys(formats) if f != "parquet"]


def _keep_masks(shards: list[Shard]) -> tuple[list[pl.Series], dict[str, int], int]:
    """Per shard, which rows to keep (first occurrence of each id); rows per split; duplicates dropped."""
    if not shards:
        return [], {s: 0 for s in SPLITS}, 0
    ids = pl.concat(
        [storage.read_parquet(s.uri, columns=["id", "split"]).with_columns(pl.lit(i).alias("_shard"))
         for i, s in enumerate(shards)]
    )
    ids = ids.with_columns(pl.col("id").is_first_distinct().alias("_keep"))
    kept = ids.filter("_keep")
    counts = {s: 0 for s in SPLITS} | dict(kept.group_by("split").len().iter_rows())
    # one mask per shard, by index: partition_by has no group for an empty shard (all rows rejected upstream)
    parts = {key[0]: part.get_column("_keep") for key, part in ids.partition_by("_shard", as_dict=True).items()}
    masks = [parts.get(i, pl.Series("_keep", [], dtype=pl.Boolean)) for i in range(len(shards))]
    return masks, counts, len(ids) - len(kept)


def write_table(table: str, shards: list[Shard], version_uri: str, shard_rows: int,
                formats: Sequence[str] = ("parquet",), tokenizer=None) -> tuple[list[dict], dict]:
    """Write one table's splits as contract-named shards, and for pairs each extra training format
    rendered from every output shard as it is flushed; returns manifest file entries and stats.

    Pairs get their `tokens` (tokenizer's `chat_lengths` of each row's conversation; `tokenizer`: a
    tasks.publish.tokenizer tokenizer, default the local model's GGUF), and the stats their distribution per
    split (`tokens`: tokenizer name, and per split rows, total, mean, p50, p95, max)."""
    extras = extra_formats(table, formats)
    if table == "pairs" and tokenizer is None:
        tokenizer = tokenizer_for(None)
    lengths: dict[str, list[int]] = {s: [] for s in SPLITS}
    masks, counts, dropped = _keep_masks(shards)
    totals = {split: max(1, math.ceil(n / shard_rows)) for split, n in counts.items()}
    schema = SCHEMAS[table]
    buffers: dict[str, list[pl.DataFrame]] = {s: [] for s in SPLITS}
    buffered = {s: 0 for s in SPLITS}
    written = {s: 0 for s in SPLITS}
    files: list[dict] = []

    def flush(split: str, final: bool) -> None:
        frame = pl.concat(buffers[split]) if buffers[split] else pl.DataFrame(schema=schema)
        while len(frame) >= shard_rows or (final and (len(frame) or written[split] == 0)):
            out, frame = frame.head(shard_rows), frame.slice(shard_rows)
            tokenized = None
            if table == "pairs":
                # with the tokenized export, its lengths are the rows' tokens: each conversation tokenized once
                tokenized = training_formats.tokenize_frame(out, tokenizer) if "tokenized" in extras else None
                tokens = tokenized.get_column("length") if tokenized is not None else row_tokens(out, tokenizer)
                out = out.with_columns(pl.Series("tokens", tokens, dtype=pl.Int32))
                lengths[split] += out.get_column("tokens").to_list()
            rel = f"{table}/{shard_name(split, written[split], totals[split])}"
            data = storage.parquet_bytes(out, row_group_size=min(shard_rows, 100_000))
            storage.write_bytes(storage.join(version_uri, rel), data)
            files.append({"path": rel, "table": table, "split": split, "rows": len(out), "bytes": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()})
            for fmt in extras:
                spec = training_formats.FORMATS[fmt]
                rel = f"{fmt}/{shard_name(split, written[split], totals[split], spec.ext)}"
                if fmt == "tokenized" and tokenized is not None:
                    data = storage.parquet_bytes(tokenized)  # what spec.render would tokenize again
                else:
                    data = spec.render(out, tokenizer=tokenizer) if spec.tokenizer else spec.render(out)
                storage.write_bytes(storage.join(version_uri, rel), data)
                files.append({"path": rel, "table": fmt, "split": split, "rows": spec.records(out), "bytes": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()})
            written[split] += 1
            if not len(frame):
                break
        buffers[split], buffered[split] = ([frame] if len(frame) else []), len(frame)

    for shard, keep in zip(shards, masks, strict=True):
        df = shard.read().filter(keep)
        for split in SPLITS:
            part = df.filter(pl.col("split") == split).select(schema.names())
            if len(part):
                buffers[split].append(part)
                buffered[split] += len(part)
                if buffered[split] >= shard_rows:
                    flush(split, final=False)
    for split in SPLITS:
        flush(split, final=True)
    for fmt in extras:  # a format's own index beside its shards, naming them (LLaMA-Factory's dataset_info.json)
        spec = training_formats.FORMATS[fmt]
        if spec.index is None:
            continue
        names = [f["path"].split("/", 1)[1] for f in files if f["table"] == fmt]
        for name, data in spec.index(names).items():
            rel = f"{fmt}/{name}"
            storage.write_bytes(storage.join(version_uri, rel), data)
            files.append({"path": rel, "table": fmt, "split": None, "rows": None, "bytes": len(data),
                          "sha256": hashlib.sha256(data).hexdigest()})
    stats = {"rows": counts, "exact_duplicates_dropped": dropped}
    if table == "pairs":
        stats["tokens"] = {"tokenizer": tokenizer.name, "splits": {s: token_stats(n) for s, n in lengths.items()}}
    return files, stats


def row_tokens(df: pl.DataFrame, tokenizer) -> list[int]:
    """Tokens of each pairs row: its conversation (a preference row's: with the chosen response) in the chat
    template, as the `tokenized` export and the sequence_length stage count it."""
    return tokenizer.chat_lengths(training_formats.conversations(df))


def token_stats(lengths: list[int]) -> dict:
    """rows, total, mean, p50, p95 (nearest rank) and max of token counts."""
    n = len(lengths)
    if not n:
        return {"rows": 0, "total": 0, "mean": 0.0, "p50": 0, "p95": 0, "max": 0}
    ordered = sorted(lengths)

    def rank(q: float) -> int:
        return ordered[max(0, math.ceil(q * n) - 1)]

    total = sum(ordered)
    return {"rows": n, "total": total, "mean": round(total / n, 1), "p50": rank(0.5), "p95": rank(0.95),
            "max": ordered[-1]}


def write_version(
    tables: dict[str, list[Shard]],
    dataset_uri: str,
    version: str,
    *,
    shard_rows: int,
    extra_files: dict[str, bytes],
    manifest_fields: dict,
    collected: dict[str, list[str]] | None = None,
    formats: Sequence[str] = ("parquet",),
    previous: dict | None = None,
    set_latest: bool = True,
) -> dict:
    """Write a complete version folder and point LATEST at it; returns the manifest.

    `formats` is the recipe's `export.formats`: Parquet is always written (the contract); the
    others are written beside the pairs shards. `previous` is the manifest the card's changelog
    compares with (default: the version LATEST names); `set_latest=False` leaves LATEST alone."""
    check_name(version, "version")  # a name, never a path: "." or ".." would make the dataset folder the version's
    formats = list(dict.fromkeys(["parquet", *formats]))
    extra_formats("pairs", formats)  # an unknown format fails before anything is written
    manifest_fields = dict(manifest_fields)  # do not consume the caller's dict (a retry reuses it)
    version_uri = storage.join(dataset_uri, version)
    manifest_uri = storage.join(version_uri, MANIFEST)
    earlier_attempt = storage.read_if_exists(manifest_uri)
    storage.delete(manifest_uri, within=version_uri)  # missing is fine
    if previous is None:
        previous = latest_manifest(dataset_uri, other_than=version)
    if previous is None and earlier_attempt:  # a rerun of the version LATEST names: keep its predecessor
        previous = read_previous(dataset_uri, json.loads(earlier_attempt))

    files: list[dict] = []
    stats: dict[str, dict] = {}
    # the recipe's tokenizer (as the manifest's recipe records it, so an erasure's rewrite uses it too), else the GGUF
    tokenizer = tokenizer_for((manifest_fields.get("recipe") or {}).get("tokenizer")) if "pairs" in tables else None
    for table, shards in tables.items():
        table_files, stats[table] = write_table(table, shards, version_uri, shard_rows, formats, tokenizer)
        files += table_files
    rows_of: dict[str, int] = {}
    for rel, uris in (collected or {}).items():  # side tables gathered in the work area, one file each
        if uris:
            frame = pl.concat([storage.read_parquet(u) for u in uris], how="diagonal_relaxed")
            extra_files = {**extra_files, rel: storage.parquet_bytes(frame)}
            rows_of[rel] = len(frame)
    for rel, data in extra_files.items():
        storage.write_bytes(storage.join(version_uri, rel), data)
        table = rel.split("/", 1)[0]
        files.append({"path": rel, "table": table, "split": None, "rows": rows_of.get(rel), "bytes": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})

    if "license" not in manifest_fields and manifest_fields.get("sources"):
        from pairforge.tasks.ingest.licenses import license_summary

        policy = (manifest_fields.get("recipe") or {}).get("license_policy")
        manifest_fields["license"] = license_summary(manifest_fields["sources"], policy)
    manifest = {
        "dataset": manifest_fields.pop("dataset"),
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pipeline_version": pipeline_version(),
        "code_version": dict(code_version()),
        "previous_version": previous["version"] if previous else None,
        "formats": formats,
        **({"tokenizer": tokenizer.name} if tokenizer is not None else {}),
        **manifest_fields,
        "tables": stats,
        "files": files,
    }
    if "README.md" not in extra_files:
        files.append(write_card(version_uri, manifest, previous))

    keep = {storage.join(version_uri, f["path"]) for f in files}
    for uri, _ in storage.list_files(version_uri):  # files of an earlier attempt at this version
        if uri not in keep:
            storage.delete(uri, within=version_uri)

    storage.write_bytes(manifest_uri, json.dumps(manifest, indent=2).encode())
    if set_latest:
        storage.write_bytes(storage.join(dataset_uri, LATEST), f"{version}\n".encode())
    return manifest


CARD = "README.md"


def write_card(version_uri: str, manifest: dict, previous: dict | None) -> dict:
    """Render and write the dataset card; returns its manifest file entry."""
    data = render_card(manifest, previous).encode()
    storage.write_bytes(storage.join(version_uri, CARD), data)
    return {"path": CARD, "table": "card", "split": None, "rows": None, "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def latest_manifest(dataset_uri: str, other_than: str | None = None) -> dict | None:
    """The manifest of the version LATEST names (None: no LATEST, it names `other_than`, or it is incomplete)."""
    latest = storage.read_if_exists(storage.join(dataset_uri, LATEST))
    name = latest.decode(errors="replace").strip() if latest else ""
    if not name or name == other_than or name_problem(name):  # not a name (a hostile LATEST): no predecessor
        return None
    data = storage.read_if_exists(storage.join(dataset_uri, name, MANIFEST))
    return json.loads(data) if data else None


def read_previous(dataset_uri: str, manifest: dict) -> dict | None:
    """The manifest of the version a manifest names as its predecessor, if it is still there."""
    name = manifest.get("previous_version")
    if not name or name_problem(name):
        return None
    data = storage.read_if_exists(storage.join(dataset_uri, name, MANIFEST))
    return json.loads(data) if data else None


@functools.cache
def code_version() -> dict:
    """pairforge's version, plus the git commit (and whether the tree had changes) when run from a checkout."""
    out: dict = {"pairforge": pipeline_version(), "git_commit": None, "git_dirty": None}
    root = SOURCE_ROOT
    if not (root / ".git").exists():
        return out
    try:
        git = ["git", "-C", str(root)]
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                    text=True, timeout=10)
            out["git_dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):  # no git binary, or it hung: the version alone will do
        pass
    return out


@task(name="export", cache_policy=NO_CACHE, task_run_name="export-{version}", **RETRYING)
def export_version(tables: dict[str, list[Shard]], dataset_uri: str, version: str, shard_rows: int,
                   extra_files: dict[str, bytes], manifest_fields: dict, collected: dict[str, list[str]],
                   formats: Sequence[str] = ("parquet",)) -> dict:
    return write_version(tables, dataset_uri, version, shard_rows=shard_rows, extra_files=extra_files,
                         manifest_fields=dict(manifest_fields), collected=collected, formats=formats)


# ---- reading a version back (inspect / validate) ------------------------------------------------


def resolve_version_uri(uri: str) -> str:
    """A version folder, or a dataset folder whose LATEST names one."""
    uri = storage.normalize(uri).rstrip("/")
    if storage.exists(storage.join(uri, MANIFEST)):
        return uri
    latest = storage.read_if_exists(storage.join(uri, LATEST))
    if latest is not None:
        name = latest.decode(errors="replace").strip()
        if name_problem(name):
            raise FileNotFoundError(f"{uri}: {LATEST} names {name!r}, which is not a version name")
        return storage.join(uri, name)
    raise FileNotFoundError(f"{uri}: no {MANIFEST} (not a complete version) and no {LATEST}")


def read_manifest(version_uri: str) -> dict:
    return json.loads(storage.read_bytes(storage.join(version_uri, MANIFEST)))


def verify_files(version_uri: str, manifest: dict) -> list[str]:
    """Problems found checking every listed file's size and sha256 (empty list: all good)."""
    problems = []
    for f in manifest["files"]:
        uri = storage.join(version_uri, f["path"])
        try:
            data = storage.read_bytes(uri)
        except storage.StorageError as e:
            problems.append(f"{f['path']}: cannot read ({e})")
            continue
        if len(data) != f["bytes"] or hashlib.sha256(data).hexdigest() != f["sha256"]:
            problems.append(f"{f['path']}: size or sha256 differs from the manifest")
    return problems


def rewrite_card(uri: str) -> tuple[str, dict]:
    """Render a version's card again (e.g. after a pairforge upgrade) and update its manifest entry.

    `uri` is a version folder or a dataset folder (LATEST); returns (version URI, updated manifest)."""
    version_uri = resolve_version_uri(uri)
    manifest = read_manifest(version_uri)
    previous = read_previous(version_uri.rsplit("/", 1)[0], manifest)
    files = [f for f in manifest["files"] if f["path"] != CARD]
    manifest["files"] = files
    files.append(write_card(version_uri, manifest, previous))
    storage.write_bytes(storage.join(version_uri, MANIFEST), json.dumps(manifest, indent=2).encode())
    return version_uri, manifest
