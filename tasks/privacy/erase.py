"""Erasure requests (GDPR art. 17) and retention over exported versions.

`erase_version` reads a version, removes the rows that match the request and every row derived from
them, and writes the result as a NEW version beside it; the old version is left byte for byte as it
was (unless asked to delete superseded versions). Matching, per table and side table:
- `--source NAME`: rows whose `source` is NAME;
- `--doc-id ID`: the row whose `id` is ID (a document, or a pair by its own id);
- `--contains TEXT`: rows with TEXT in any free-text column (text, title, uri, prompt, response, system,
  context, message contents, reasons and errors of side tables), case-insensitive;
- derived rows: pairs whose `doc_id` is an erased document's (or pair's) id, and augmented pairs whose
  `augmented_from` was erased, transitively; near-copies of an erased row: rows (dedup `keep: all`) whose
  `dup_cluster` names it, and rejected duplicates whose `duplicate_of` names it. Training-format files are
  rendered again from the pairs.
Side tables (quarantine, rejected rows, dead letters; any Parquet file without a split) are filtered the
same way; other side files (validation reports) have any string containing TEXT replaced.

The new version is named `<old>-erased-<n>` (`<old>` without an earlier `-erased-<k>` suffix, n the next
free number), so names stay sortable next to the version they came from and `gc` orders by creation time.
It gets a manifest, a card whose changelog gives the counts removed, and `erasure/log.jsonl`: the earlier
version's log plus one line for this request (who, when, reason, each criterion as the sha256 of its value,
never the value, and counts per table). LATEST moves to it when LATEST named the erased version.

Stores outside the version: the LLM cache (`generate.cache_uri`, default `<dataset>/_cache/llm`) keeps
model answers keyed by a hash of the request (requests themselves are not stored): entries whose answer
contains TEXT are deleted. The dedup index (`dedup.index_uri`, default `<dataset>/_index`) holds only ids and
hashes/signatures per version: the new version gets the old one's entries for the rows it kept, and deleting a
version (gc, --delete-superseded) deletes its entries. When the recipe sends pairs to people (`annotate:`), the
Label Studio tasks of every id in the erasure register are deleted with their annotations, from all the dataset's
projects; when the server cannot be reached the result says so, and the next erasure catches up.
Work areas (`<dataset>/_work`) of failed runs, or of runs with `export.keep_work`, hold pre-scrub text: both are
listed in the result, not touched. The sources themselves still hold the data: a new build from them brings it back.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from pairforge.tasks.core import storage
from pairforge.tasks.core.names import name_problem
from pairforge.tasks.core.schema import conform
from pairforge.tasks.core.shards import Shard
from pairforge.tasks.core.stages import RowStage
from pairforge.tasks.publish.export import LATEST, MANIFEST, read_manifest, resolve_version_uri, write_version

DATA_TABLES = ("documents", "pairs")
LOG = "erasure/log.jsonl"
# Ids of every erased row, kept beside the versions: later builds drop rows with these ids (or derived from them)
# at ingest, so the nightly run does not bring erased data back from sources that still hold it.
REGISTER = "_erasure/erased_ids.parquet"
# The erased rows' dedup index entries (hashes and MinHash signatures, no text), per table and erasure: later builds
# drop edited copies of them in the dedup stage (an edited copy has another id, which the register cannot catch).
ERASED_SIGNATURES = "_erasure/signatures"
REGISTER_SCHEMA = pl.Schema({"id": pl.String, "erased_at": pl.Datetime("us", "UTC"), "version": pl.String})
# columns that hold ids, names and labels rather than free text: never searched for --contains
NOT_TEXT = {"id", "doc_id", "source", "license", "lang", "origin", "task", "split", "pipeline_version", "generator",
            "augmented_from", "dup_cluster", "duplicate_of", "published_in", "stage", "kind", "key", "table"}
# written by write_version itself, never copied from the erased version's manifest
GENERATED_KEYS = {"version", "created_at", "pipeline_version", "code_version", "previous_version", "formats",
                  "tokenizer", "tables", "files"}
ERASED = "[erased]"


class ErasureError(ValueError):
    """A request that cannot be carried out as given (no criteria, not a version)."""


@dataclass(frozen=True)
class Criteria:
    sources: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sources or self.doc_ids or self.contains)

    @property
    def needles(self) -> list[str]:
        return [c.lower() for c in self.contains if c]

    def hashed(self) -> list[dict]:
        """The criteria for the log: kind and sha256 of the value (an e-mail address is itself personal data)."""
        return [{"kind": kind, "sha256": hashlib.sha256(value.encode()).hexdigest()}
                for kind, values in (("source", self.sources), ("doc_id", self.doc_ids), ("contains", self.contains))
                for value in values]


def _text_columns(schema: pl.Schema) -> list[pl.Expr]:
    """One lowercase string expression per free-text column (message lists give their contents)."""
    out = []
    for name, dtype in schema.items():
        if name in NOT_TEXT:
            continue
        if dtype == pl.String:
            out.append(pl.col(name).str.to_lowercase())
        elif isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct) and "content" in {
                f.name for f in dtype.inner.fields}:
            out.append(pl.col(name).list.eval(pl.element().struct.field("content")).list.join("\n").str.to_lowercase())
    return out


def direct_match(df: pl.DataFrame, criteria: Criteria) -> pl.Expr:
    """Rows the request names directly (by source, id or text)."""
    expr = pl.lit(False)
    if criteria.sources and "source" in df.columns:
        expr |= pl.col("source").is_in(list(criteria.sources))
    if criteria.doc_ids and "id" in df.columns:  # rows made from it (its doc_id) follow as derived rows
        expr |= pl.col("id").is_in(list(criteria.doc_ids))
    if criteria.needles:
        for text in _text_columns(df.schema):
            expr |= text.str.contains_any(criteria.needles)
    return expr.fill_null(False)


# columns linking a row to the row it was made from or is a near-copy of
LINKS = ("doc_id", "augmented_from", "dup_cluster", "duplicate_of")


def derived_match(df: pl.DataFrame, erased_ids: set[str]) -> pl.Expr:
    """Rows made from an erased row or copies of one: same id (side-table copies), its doc_id, augmented from it,
    in its near-duplicate cluster (`dup_cluster`) or rejected as its duplicate (`duplicate_of`)."""
    expr = pl.lit(False)
    ids = list(erased_ids)
    for col in ("id", *LINKS):
        if ids and col in df.columns:
            expr |= pl.col(col).is_in(ids)
    return expr.fill_null(False)


def close_over_pairs(pairs: pl.DataFrame, erased: set[str], links: tuple[str, ...] = LINKS) -> set[str]:
    """Pair ids to erase: every pair whose doc_id, augmented_from or dup_cluster is erased, repeated until nothing
    new (`links`: the columns followed, those of them `pairs` has).

    `pairs` has `id` and link columns; `erased` holds the erased document and pair ids."""
    erased = set(erased)
    follow = [c for c in links if c in pairs.columns]
    while follow:
        ids = list(erased)
        hit = pairs.filter(pl.any_horizontal([pl.col(c).is_in(ids) for c in follow]).fill_null(False))
        new = set(hit["id"]) - erased
        if not new:
            break
        erased |= new
    return erased


@dataclass
class Plan:
    """What an erasure removes from one version."""

    version_uri: str
    manifest: dict
    erased_docs: set[str] = field(default_factory=set)  # document ids
    erased_pairs: set[str] = field(default_factory=set)  # pair ids
    removed: dict[str, int] = field(default_factory=dict)  # table -> rows
    detail: dict[str, int] = field(default_factory=dict)
    side: dict[str, int] = field(default_factory=dict)  # side file -> rows or strings removed
    side_ids: set[str] = field(default_factory=set)  # ids of the side-table rows removed (e.g. rejected pairs)

    @property
    def matched(self) -> bool:
        return any(self.removed.values()) or any(self.side.values())


def _data_files(manifest: dict, table: str) -> list[dict]:
    return [f for f in manifest["files"] if f["table"] == table and f.get("split") and f["path"].endswith(".parquet")]


def _side_files(manifest: dict) -> list[dict]:
    return [f for f in manifest["files"] if not f.get("split") and f["path"] not in (LOG, "README.md")]


def plan_erasure(version_uri: str, criteria: Criteria, manifest: dict | None = None) -> Plan:
    """Find every row to remove (reads the version, writes nothing)."""
    manifest = manifest or read_manifest(version_uri)
    plan = Plan(version_uri, manifest)
    direct_docs: set[str] = set()
    doc_links = []
    for f in _data_files(manifest, "documents"):
        df = storage.read_parquet(storage.join(version_uri, f["path"]))
        direct_docs |= set(df.filter(direct_match(df, criteria))["id"])
        doc_links.append(conform(df, "documents").select("id", "dup_cluster"))
    docs = pl.concat(doc_links) if doc_links else pl.DataFrame(schema={"id": pl.String, "dup_cluster": pl.String})
    # members of an erased document's near-duplicate cluster (dedup keep: all) are copies of it
    copies = set(docs.filter(pl.col("dup_cluster").is_in(list(direct_docs | set(criteria.doc_ids))))["id"])
    plan.erased_docs = direct_docs | copies
    plan.removed["documents"] = docs.filter(pl.col("id").is_in(list(plan.erased_docs))).height

    direct: set[str] = set()
    links = []
    for f in _data_files(manifest, "pairs"):
        df = storage.read_parquet(storage.join(version_uri, f["path"]))
        direct |= set(df.filter(direct_match(df, criteria))["id"])
        links.append(conform(df, "pairs").select("id", "doc_id", "augmented_from", "dup_cluster"))
    pairs = pl.concat(links) if links else pl.DataFrame(schema={"id": pl.String, "doc_id": pl.String,
                                                                "augmented_from": pl.String, "dup_cluster": pl.String})
    named = plan.erased_docs | set(criteria.doc_ids)  # a named document may be absent (keep_documents: false)
    originals = pairs.filter(pl.col("augmented_from").is_null())
    from_docs = close_over_pairs(originals, named | direct, ("doc_id",))
    with_copies = close_over_pairs(originals, from_docs, ("doc_id", "dup_cluster"))
    everything = close_over_pairs(pairs, with_copies)
    pair_ids = set(pairs["id"])
    plan.erased_pairs = everything & pair_ids
    plan.removed["pairs"] = len(plan.erased_pairs)
    plan.detail = {"documents_near_copies_of_erased": len(copies - direct_docs),
                   "pairs_matched": len(direct & pair_ids),
                   "pairs_derived_from_erased_documents": len((from_docs & pair_ids) - direct),
                   "pairs_near_copies_of_erased": len((with_copies - from_docs) & pair_ids),
                   "pairs_augmented_from_erased_pairs": len(plan.erased_pairs - with_copies)}

    erased_ids = named | plan.erased_pairs
    for f in _side_files(manifest):
        uri = storage.join(version_uri, f["path"])
        if f["path"].endswith(".parquet"):
            df = storage.read_parquet(uri)
            plan.side[f["path"]] = len(df.filter(direct_match(df, criteria) | derived_match(df, erased_ids)))
        elif criteria.needles:
            plan.side[f["path"]] = _scrub_bytes(storage.read_bytes(uri), criteria.needles)[1]
    return plan


def _scrub_json(value: Any, needles: list[str]) -> tuple[Any, int]:
    if isinstance(value, str):
        low = value.lower()
        return (ERASED, 1) if any(n in low for n in needles) else (value, 0)
    if isinstance(value, list):
        items = [_scrub_json(v, needles) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    if isinstance(value, dict):
        items = {k: _scrub_json(v, needles) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, sum(n for _, n in items.values())
    return value, 0


def _scrub_bytes(data: bytes, needles: list[str]) -> tuple[bytes, int]:
    """A side file with every string (JSON) or occurrence (other text) containing a needle replaced."""
    try:
        scrubbed, n = _scrub_json(json.loads(data), needles)
        return (json.dumps(scrubbed, indent=2).encode(), n) if n else (data, 0)
    except (ValueError, UnicodeDecodeError):
        pattern = re.compile("|".join(re.escape(x) for x in needles).encode(), re.IGNORECASE)
        return pattern.subn(ERASED.encode(), data)


# ---- versions ----------------------------------------------------------------------------------


def dataset_of(version_uri: str) -> str:
    return version_uri.rstrip("/").rsplit("/", 1)[0]


def list_versions(dataset_uri: str) -> list[dict]:
    """Complete versions (those with a manifest), newest first: [{name, created_at, uri}]."""
    out = []
    for name in storage.list_folders(dataset_uri):
        if name.startswith("_"):
            continue
        data = storage.read_if_exists(storage.join(dataset_uri, name, MANIFEST))
        if data is not None:
            manifest = json.loads(data)
            out.append({"name": name, "created_at": manifest.get("created_at", ""),
                        "uri": storage.join(dataset_uri, name)})
    return sorted(out, key=lambda v: (v["created_at"], v["name"]), reverse=True)


def index_uri_of(dataset_uri: str, manifest: dict) -> str:
    """The dedup index a version's rows were recorded in: the recipe's `dedup.index_uri`, else `<dataset>/_index`."""
    return ((manifest.get("recipe") or {}).get("dedup") or {}).get("index_uri") or storage.join(dataset_uri, "_index")


def latest_name(dataset_uri: str) -> str | None:
    data = storage.read_if_exists(storage.join(dataset_uri, LATEST))
    name = data.decode(errors="replace").strip() or None if data else None
    if name is not None and name_problem(name):  # e.g. ".." written by a build from before names were checked
        raise ErasureError(f"{dataset_uri}: {LATEST} names {name!r}, which is not a version name")
    return name


def next_version_name(dataset_uri: str, old: str) -> str:
    base = re.sub(r"-erased-\d+$", "", old)
    taken = set(storage.list_folders(dataset_uri))
    n = 1
    while f"{base}-erased-{n}" in taken:
        n += 1
    new = f"{base}-erased-{n}"
    if problem := name_problem(new):  # a version name near the length cap leaves no room for the suffix
        raise ErasureError(f"{dataset_uri}: no version name left for an erasure of {old!r}: {new!r}: {problem}")
    return new


def gc(dataset_uri: str, keep: int, dry_run: bool = False) -> dict:
    """Delete all but the `keep` newest complete versions (by created_at); never the one LATEST names.

    Incomplete version folders (no manifest: a build may be writing them) and `_`-folders are left alone."""
    if keep < 1:
        raise ErasureError("--keep must be at least 1")
    dataset_uri = storage.normalize(dataset_uri).rstrip("/")
    if storage.exists(storage.join(dataset_uri, MANIFEST)):
        raise ErasureError(f"{dataset_uri} is a version folder; gc takes the dataset folder (the one with LATEST)")
    versions = list_versions(dataset_uri)
    if not versions:
        raise ErasureError(f"{dataset_uri}: no complete versions here (not a dataset folder?)")
    latest = latest_name(dataset_uri)
    if latest and not any(v["name"] == latest for v in versions):  # a broken dataset: delete nothing
        raise ErasureError(f"{dataset_uri}: {LATEST} names {latest}, which is not a complete version "
                           f"(no {MANIFEST})")
    kept = [v["name"] for v in versions[:keep]]
    if latest and latest not in kept:
        kept.append(latest)
    deleted = [v["name"] for v in versions if v["name"] not in kept]
    if not dry_run:
        for name in deleted:
            delete_version(dataset_uri, name)
    return {"kept": kept, "deleted": deleted, "dry_run": dry_run}


def delete_version(dataset_uri: str, name: str) -> None:
    """Delete a version: its dedup index entries, then its manifest (so a half-deleted version is never taken for
    a complete one), then the rest. Index first: a run cut short leaves a complete version that gc deletes again,
    never index entries of a gone version (incremental runs would drop rows as published in it).

    Only a version folder directly under the dataset folder is deleted: never the dataset folder itself, a
    `_`-folder (index, erasure register, work areas, cache), or anything a name could reach outside it."""
    if name_problem(name) or name.startswith("_"):
        raise ErasureError(f"{dataset_uri}: refusing to delete {name!r}: not a version name")
    uri = storage.join(dataset_uri, name)
    data = storage.read_if_exists(storage.join(uri, MANIFEST))
    try:
        manifest = json.loads(data) if data else {}
    except ValueError:
        manifest = {}
    index = index_uri_of(dataset_uri, manifest)
    for table in storage.list_folders(index):
        storage.delete(storage.join(index, table, f"{name}.parquet"), within=index)
    storage.delete(storage.join(uri, MANIFEST), within=uri)
    storage.delete_tree(uri, within=dataset_uri)


# ---- the erasure -------------------------------------------------------------------------------


def _purge_cache(cache_uri: str, needles: list[str], ids: set[str], dry_run: bool) -> int:
    """Delete LLM cache entries whose stored answer contains a needle, or that were asked for an erased document
    or pair (their `for` key names its id: `qa:<doc id>:<chunk>`, `judge:<pair id>`); returns how many."""
    if not needles and not ids:
        return 0
    purged = 0
    for uri, _ in storage.list_files(cache_uri):
        if not uri.endswith(".json"):
            continue
        text = storage.read_bytes(uri).decode("utf-8", "replace")
        try:
            asked_for = str(json.loads(text).get("for") or "")
        except (ValueError, AttributeError):
            asked_for = ""
        if any(n in text.lower() for n in needles) or not ids.isdisjoint(asked_for.split(":")):
            purged += 1
            if not dry_run:
                storage.delete(uri, within=cache_uri)
    return purged


def _other_stores(dataset_uri: str, recipe: dict) -> list[str]:
    """Places outside the versions that may still hold (traces of) erased rows."""
    work = (recipe.get("export") or {}).get("work_uri") or storage.join(dataset_uri, "_work")
    out = [f"{storage.join(work, r)} (work area of an unfinished or keep_work run: text from before the PII scrub)"
           for r in storage.list_folders(work)]
    index = index_uri_of(dataset_uri, {"recipe": recipe})
    if storage.list_folders(index):
        out.append(f"{index} (dedup index: ids and hashes/MinHash signatures of published rows, no text)")
    return out


def erase_version(uri: str, criteria: Criteria, *, requested_by: str | None = None, reason: str | None = None,
                  delete_superseded: bool = False, dry_run: bool = False) -> dict:
    """Carry out an erasure request on a version (or a dataset folder's LATEST); returns what was done.

    Result: version (new name or None when nothing matched), version_uri, erased_from, removed (rows per
    table), detail, side (per side file), llm_cache_entries_purged, deleted_versions, latest_moved,
    other_stores (places outside the versions that may still hold matching data)."""
    if not criteria:
        raise ErasureError("give at least one of --source, --doc-id, --contains")
    try:
        version_uri = resolve_version_uri(storage.normalize(uri))
    except FileNotFoundError as e:
        raise ErasureError(str(e)) from None
    dataset_uri = dataset_of(version_uri)
    old = version_uri.rsplit("/", 1)[1]
    if name_problem(old):
        raise ErasureError(f"{uri}: {old!r} is not a version name")
    data = storage.read_if_exists(storage.join(version_uri, MANIFEST))
    if data is None:  # LATEST names a version that is not (or no longer) there
        raise ErasureError(f"{uri}: {LATEST} names {old}, which is not a complete version (no {MANIFEST})")
    plan = plan_erasure(version_uri, criteria, json.loads(data))
    manifest = plan.manifest
    recipe = manifest.get("recipe") or {}
    cache_uri = (recipe.get("generate") or {}).get("cache_uri") or storage.join(dataset_uri, "_cache", "llm")
    latest = latest_name(dataset_uri)
    result = {"erased_from": old, "version": None, "version_uri": None, "removed": plan.removed,
              "detail": plan.detail, "side": {k: v for k, v in plan.side.items() if v}, "dry_run": dry_run,
              "llm_cache_entries_purged": _purge_cache(
                  cache_uri, criteria.needles, plan.erased_docs | plan.erased_pairs | set(criteria.doc_ids), dry_run),
              "latest_moved": False, "deleted_versions": [], "other_stores": _other_stores(dataset_uri, recipe)}
    if latest and latest != old:
        result["warning"] = f"LATEST names {latest}, not the erased version: erase it too"
    superseded = []
    if delete_superseded:  # versions still holding matches; never the one LATEST names once this is done
        protected = latest if latest != old or not plan.matched else None
        superseded = [v["name"] for v in list_versions(dataset_uri) if v["name"] != protected
                      and (plan.matched if v["name"] == old else plan_erasure(v["uri"], criteria).matched)]
    result["deleted_versions"] = superseded
    erased_now = plan.erased_docs | plan.erased_pairs | set(criteria.doc_ids)
    if dry_run:
        return result | {"annotation": _annotation_tasks(dataset_uri, recipe, erased_now, dry_run=True)}
    if not plan.matched:
        for name in superseded:
            delete_version(dataset_uri, name)
        return result | {"annotation": _annotation_tasks(dataset_uri, recipe, set())}

    new = next_version_name(dataset_uri, old)
    work = storage.join(dataset_uri, "_work", new)
    try:
        tables, collected, extra, remaining, kept_ids = _write_filtered(plan, criteria, work)
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "version": new, "erased_from": old,
                 "requested_by": requested_by, "reason": reason, "criteria": criteria.hashed(),
                 "match": "source: equal; doc_id: id equal; contains: case-insensitive substring of a free-text "
                          "column; plus every pair made or augmented from an erased row and the near-copies of "
                          "an erased row (dup_cluster, duplicate_of)",
                 "removed": plan.removed, "detail": plan.detail, "side": result["side"],
                 "llm_cache_entries_purged": result["llm_cache_entries_purged"], "deleted_versions": superseded}
        earlier = storage.read_if_exists(storage.join(version_uri, LOG)) or b""
        extra[LOG] = earlier + json.dumps(entry, ensure_ascii=False).encode() + b"\n"
        fields = {k: v for k, v in manifest.items() if k not in GENERATED_KEYS}
        fields["erasure"] = {k: entry[k] for k in ("at", "erased_from", "criteria", "removed", "detail", "side")}
        emptied = [s["name"] for s in manifest.get("sources", []) if s["name"] not in remaining]
        if emptied:  # a source with no rows left no longer binds the output's licence
            from pairforge.tasks.ingest.licenses import license_summary

            fields["erasure"]["sources_emptied"] = emptied
            fields["license"] = license_summary([s for s in manifest["sources"] if s["name"] in remaining],
                                                recipe.get("license_policy"))
        shard_rows = (recipe.get("export") or {}).get("shard_rows") or max(
            [f["rows"] or 0 for t in DATA_TABLES for f in _data_files(manifest, t)] + [1])
        set_latest = latest in (None, old)
        write_version(tables, dataset_uri, new, shard_rows=shard_rows, extra_files=extra, manifest_fields=fields,
                      collected=collected, formats=manifest.get("formats", ["parquet"]), previous=manifest,
                      set_latest=set_latest)
    finally:
        storage.delete_tree(work, within=dataset_uri)
    register(dataset_uri, new, erased_now | plan.side_ids)  # (side_ids: filled by _write_filtered)
    signatures = _carry_index(dataset_uri, index_uri_of(dataset_uri, manifest), old, new, kept_ids)
    for name in superseded:
        delete_version(dataset_uri, name)
    return result | {"version": new, "version_uri": storage.join(dataset_uri, new), "latest_moved": set_latest,
                     "erased_signatures": signatures, "annotation": _annotation_tasks(dataset_uri, recipe, set())}


def _annotation_tasks(dataset_uri: str, recipe: dict, ids: set[str], *, dry_run: bool = False) -> dict | None:
    """Erase (count, `dry_run`) the Label Studio tasks of `ids` and, unless a dry run, of every id in the erasure
    register: an erasure whose server was down catches up when it is run again."""
    from pairforge.tasks.annotate.stage import erase_tasks

    if not (recipe.get("annotate") or {}).get("enabled"):
        return None
    if not dry_run and (data := storage.read_if_exists(storage.join(dataset_uri, REGISTER))) is not None:
        ids = ids | set(pl.read_parquet(io.BytesIO(data), columns=["id"]).get_column("id"))
    return erase_tasks(recipe, dataset_uri.rstrip("/").rsplit("/", 1)[-1], ids, dry_run=dry_run)


def register(dataset_uri: str, version: str, ids: set[str]) -> None:
    """Add erased ids to the dataset's erasure register (ids are hashes of source and text: no raw values)."""
    uri = storage.join(dataset_uri, REGISTER)
    data = storage.read_if_exists(uri)
    new = pl.DataFrame({"id": sorted(ids)}, schema={"id": pl.String}).with_columns(
        erased_at=pl.lit(datetime.now(UTC), REGISTER_SCHEMA["erased_at"]), version=pl.lit(version))
    old = pl.read_parquet(io.BytesIO(data)) if data is not None else pl.DataFrame(schema=REGISTER_SCHEMA)
    storage.write_parquet(pl.concat([old, new]).unique("id", keep="first", maintain_order=True), uri)


def drop_erased_frame(df: pl.DataFrame, erased: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows kept, rows whose id or doc_id was erased earlier, with `reason`)."""
    hit = pl.col("id").is_in(erased.implode()) | pl.col("doc_id").is_in(erased.implode()).fill_null(False)
    return df.filter(~hit), df.filter(hit).with_columns(reason=pl.lit("erased on request"))


def _drop_erased(df: pl.DataFrame, register: tuple[str, str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop rows erased from earlier versions; `register` is (its URI, a hash of its content, which keys the
    resume markers to it)."""
    return drop_erased_frame(df, storage.read_parquet(register[0], columns=["id"]).get_column("id"))


# the build's step (flows/steps.py) passes the register, when there is one
ROWS = RowStage(apply=lambda df, shard, register: _drop_erased(df, register), options=lambda recipe: None)


def _carry_index(dataset_uri: str, index: str, old: str, new: str, kept_ids: dict[str, pl.Series]) -> dict[str, int]:
    """Give the new version the old one's dedup index entries of the rows it kept (none when the old has none);
    the entries of the rows it dropped go to the erased signatures, for later builds' dedup stage. Returns how many
    erased rows per table have signatures kept."""
    kept_signatures = {}
    for table, ids in kept_ids.items():
        data = storage.read_if_exists(storage.join(index, table, f"{old}.parquet"))
        if data is None:
            continue
        entries = pl.read_parquet(io.BytesIO(data))
        kept = entries.get_column("id").is_in(ids.implode())
        if kept.any():
            storage.write_parquet(entries.filter(kept), storage.join(index, table, f"{new}.parquet"))
        if not kept.all():
            storage.write_parquet(entries.filter(~kept), erased_signatures_uri(dataset_uri, table, new))
            kept_signatures[table] = int((~kept).sum())
    return kept_signatures


def erased_signatures_uri(dataset_uri: str, table: str, version: str | None = None) -> str:
    """The folder of a table's erased signatures, or the file one erasure (`version`, the version it wrote) added."""
    folder = storage.join(dataset_uri, ERASED_SIGNATURES, table)
    return storage.join(folder, f"{version}.parquet") if version else folder


def _write_filtered(plan: Plan, criteria: Criteria, work: str) -> tuple[dict, dict, dict, set[str], dict]:
    """The version's tables and side tables without the erased rows, as work shards for write_version,
    the sources that still have rows, and the ids kept per table."""
    manifest, version_uri = plan.manifest, plan.version_uri
    tables: dict[str, list[Shard]] = {}
    remaining: set[str] = set()
    kept_ids: dict[str, list[pl.Series]] = {}
    for table, erased in (("documents", plan.erased_docs), ("pairs", plan.erased_pairs)):
        if table not in manifest.get("tables", {}):
            continue
        tables[table] = []
        for i, f in enumerate(_data_files(manifest, table)):
            df = storage.read_parquet(storage.join(version_uri, f["path"]))
            kept = conform(df.filter(~pl.col("id").is_in(list(erased))), table).with_columns(split=pl.lit(f["split"]))
            uri = storage.join(work, table, f"{i:05d}.parquet")
            storage.write_parquet(kept, uri)
            tables[table].append(Shard(table, f"{i:05d}", uri, len(kept)))
            remaining |= set(kept["source"].drop_nulls())
            kept_ids.setdefault(table, []).append(kept.get_column("id"))
    collected: dict[str, list[str]] = {}
    extra: dict[str, bytes] = {}
    erased_ids = plan.erased_docs | plan.erased_pairs | set(criteria.doc_ids)
    for i, f in enumerate(_side_files(manifest)):
        data = storage.read_bytes(storage.join(version_uri, f["path"]))
        if f["path"].endswith(".parquet"):
            df = pl.read_parquet(io.BytesIO(data))
            uri = storage.join(work, "side", f"{i:05d}.parquet")
            gone = direct_match(df, criteria) | derived_match(df, erased_ids)
            if "id" in df.columns:
                plan.side_ids |= set(df.filter(gone)["id"].drop_nulls())
            storage.write_parquet(df.filter(~gone), uri)
            collected[f["path"]] = [uri]
        else:
            extra[f["path"]] = _scrub_bytes(data, criteria.needles)[0] if criteria.needles else data
    ids = {t: pl.concat(series).unique() for t, series in kept_ids.items()}
    return tables, collected, extra, remaining, ids
