"""Erasure and retention on a real build: an e-mail address planted in a document that has generated
pairs, in an imported pair and in a rejected pair is removed with everything derived from it into a new
version; the old version stays byte for byte until gc."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from pairforge.flows.build import build_dataset
from pairforge.tasks.core.recipe import RunOptions
from pairforge.tasks.privacy.erase import Criteria, ErasureError, close_over_pairs, erase_version, gc, plan_erasure
from tests.conftest import CORPORA, completion
from tests.flows.test_cli import pairforge
from tests.flows.test_flow import check_version, read_table

EMAIL = "jane.doe@example.org"


def qa_reply(n: int, body: dict) -> tuple[int, dict, dict]:
    """One QA pair per chunk: the chunk's last five words, so the answer is grounded in it."""
    chunk = body["messages"][-1]["content"].split('"""\n', 1)[1].split('\n"""', 1)[0]
    answer = " ".join(chunk.split()[-5:])
    return 200, {}, completion(json.dumps({"pairs": [{"question": "Which words close the report?",
                                                      "answer": answer}]}))


def all_text(version: Path) -> str:
    """Every file of a version as text (Parquet rows as JSON lines), lowercased."""
    out = []
    for path in sorted(p for p in version.rglob("*") if p.is_file()):
        data = path.read_bytes()
        out.append(pl.read_parquet(io.BytesIO(data)).write_ndjson() if path.suffix == ".parquet" else data.decode())
    return "\n".join(out).lower()


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def built(prefect_server, tmp_path_factory, fake_openai_module):
    tmp = tmp_path_factory.mktemp("erase")
    lines = (CORPORA / "text" / "lee_background.cor").read_text().splitlines()[1:4]
    lines[0] += f" Readers can write to Jane Doe at {EMAIL.upper()} for details."
    (tmp / "news.txt").write_text("\n".join(lines) + "\n")
    seed = [
        {"instruction": f"Write a short note to {EMAIL} about the fire.", "input": "",
         "output": "Dear Jane, the fire near Hill Top is under control."},
        {"instruction": "Forward this to Jane.", "input": EMAIL,
         "output": "I'm sorry, but I cannot help with that request."},  # rejected by the quality rules
        {"instruction": "Name a town in the Southern Highlands.", "input": "", "output": "Mittagong."},
        {"instruction": "What closed the Hume Highway?", "input": "", "output": "A new blaze near Goulburn."},
    ]
    (tmp / "seed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in seed))
    fake = fake_openai_module(qa_reply)
    recipe = {
        "name": "erase-set", "task": "qa",
        "sources": [{"name": "news", "uri": str(tmp / "news.txt"), "format": "text-lines", "license": "CC-BY-4.0"},
                    {"name": "seed", "uri": str(tmp / "seed.jsonl"), "format": "alpaca", "license": "MIT"}],
        "pii": {"enabled": False},  # the address must reach the output (as a missed finding would)
        "generate": {"base_url": fake.base_url, "model": "fake-model", "generators": [
            {"kind": "qa", "sources": ["news"], "per_chunk": 1, "chunk_tokens": 64}]},
        "split": {"train": 0.5, "validation": 0.25, "test": 0.25},
        "export": {"uri": str(tmp / "out") + "/", "formats": ["parquet", "openai", "alpaca"], "shard_rows": 4},
    }
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    uri = build_dataset(str(path), version="v1")
    return Path(uri)


@pytest.fixture(scope="module")
def fake_openai_module():
    from tests.conftest import FakeOpenAI

    servers = []
    yield lambda reply: servers.append(FakeOpenAI(reply)) or servers[-1]
    for s in servers:
        s.close()


def test_erasure_removes_rows_derived_rows_and_side_rows_into_a_new_version(built):
    v1 = built
    dataset = v1.parent
    old_manifest = check_version(str(v1))
    docs, pairs = read_table(str(v1), old_manifest, "documents"), read_table(str(v1), old_manifest, "pairs")
    planted = docs.filter(pl.col("text").str.to_lowercase().str.contains(EMAIL, literal=True))
    assert len(planted) == 1
    doc_id = planted["id"][0]
    derived = pairs.filter(pl.col("doc_id") == doc_id)
    # the document has generated pairs, and some of them do not contain the address themselves
    assert len(derived) >= 2 and set(derived["origin"]) == {"generated"} and set(derived["generator"]) == {"fake-model"}
    clean_derived = derived.filter(~pl.concat_str("prompt", "response", "context").str.to_lowercase()
                                   .str.contains(EMAIL, literal=True))
    assert len(clean_derived) >= 1
    direct_pairs = pairs.filter(pl.concat_str("prompt", "response", pl.col("context").fill_null(""))
                                .str.to_lowercase().str.contains(EMAIL, literal=True))
    assert set(direct_pairs["origin"]) >= {"imported"}
    rejected = pl.read_parquet(v1 / "rejected" / "pairs.parquet")
    assert rejected.filter(pl.col("prompt").str.contains(EMAIL, literal=True)).height == 1
    cache = dataset / "_cache" / "llm"
    cached = {p: p.read_text().lower() for p in cache.rglob("*.json")}
    assert any(EMAIL in t for t in cached.values()) and any(EMAIL not in t for t in cached.values())
    # provenance on every exported row: where it came from, when, under which licence, made by what
    for frame in (docs, pairs):
        assert frame.select(pl.col("id", "doc_id", "source", "uri", "license", "retrieved_at",
                                   "pipeline_version").null_count()).sum_horizontal().item() == 0
    generated = pairs.filter(pl.col("origin") == "generated")
    assert set(generated["doc_id"]) <= set(docs["id"]) and set(generated["license"]) == {"CC-BY-4.0"}
    assert generated["generator"].null_count() == 0
    assert pairs.filter(pl.col("origin") == "imported")["generator"].null_count() == len(pairs) - len(generated)
    before = digests(v1)

    result = pairforge("erase", str(dataset), "--contains", EMAIL.upper(), "--requested-by", "dpo-office",
                       "--reason", "ticket 4711")

    assert result.returncode == 0, result.stderr
    new = Path(result.stdout.strip().splitlines()[-1])
    assert new == dataset / "v1-erased-1"
    assert (dataset / "LATEST").read_text().strip() == "v1-erased-1"
    assert digests(v1) == before  # the old version is untouched
    manifest = check_version(str(new))  # listed files, sizes and checksums match
    assert EMAIL not in all_text(new)
    new_docs, new_pairs = read_table(str(new), manifest, "documents"), read_table(str(new), manifest, "pairs")
    gone_pairs = set(derived["id"]) | set(direct_pairs["id"])
    assert set(docs["id"]) - set(new_docs["id"]) == {doc_id}
    assert set(pairs["id"]) - set(new_pairs["id"]) == gone_pairs
    assert set(new_pairs["id"]) < set(pairs["id"])
    # the new version's dedup index entries: the old version's, less the erased rows
    for table, kept in (("documents", new_docs), ("pairs", new_pairs)):
        old_ids = set(pl.read_parquet(dataset / "_index" / table / "v1.parquet")["id"])
        new_ids = set(pl.read_parquet(dataset / "_index" / table / "v1-erased-1.parquet")["id"])
        assert new_ids == old_ids & set(kept["id"]) and new_ids < old_ids, table
    assert manifest["erasure"]["removed"] == {"documents": 1, "pairs": len(gone_pairs)}
    # training files were rendered again from the remaining pairs
    for split, n in manifest["tables"]["pairs"]["rows"].items():
        openai_rows = sum(f["rows"] for f in manifest["files"] if f["table"] == "openai" and f["split"] == split)
        assert openai_rows == n
    # the rejected side table lost the planted row and kept the others
    new_rejected = pl.read_parquet(new / "rejected" / "pairs.parquet")
    assert len(new_rejected) == len(rejected) - 1
    # the log: who, why, counts, and the criterion only as a hash
    log = [json.loads(line) for line in (new / "erasure" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1
    assert log[0]["criteria"] == [{"kind": "contains", "sha256": hashlib.sha256(EMAIL.upper().encode()).hexdigest()}]
    assert log[0]["requested_by"] == "dpo-office" and log[0]["erased_from"] == "v1"
    assert log[0]["removed"] == manifest["erasure"]["removed"]
    # the card's changelog compares with v1 and gives the counts
    card = (new / "README.md").read_text()
    assert manifest["previous_version"] == "v1" and "Compared with `v1`" in card
    assert f"documents 1, pairs {len(gone_pairs)} removed" in card
    # cache entries holding the address, or asked for an erased row, are gone; the others stay
    left = {p: p.read_text().lower() for p in cache.rglob("*.json")}
    assert not any(EMAIL in t for t in left.values())
    asked_for_erased = {p for p, t in cached.items() if doc_id in json.loads(t)["for"]}
    assert any(EMAIL not in cached[p] for p in asked_for_erased)  # chunks of the document without the address
    assert set(left) == {p for p, t in cached.items() if EMAIL not in t} - asked_for_erased
    assert "LLM cache entries purged: " in result.stderr
    assert "dedup signatures kept so later builds drop edited copies: documents 1" in result.stderr
    assert len(list((dataset / "_erasure" / "signatures" / "documents").glob("*.parquet"))) == 1


def test_second_erasure_retention_and_superseded_versions(built):
    dataset = built.parent
    if not (dataset / "v1-erased-1").exists():  # this test also runs on its own
        erase_version(str(dataset), Criteria(contains=(EMAIL,)))
    v1_digests = digests(built)

    dry = pairforge("gc", str(dataset), "--keep", "1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would delete: v1" in dry.stderr and digests(built) == v1_digests

    second = erase_version(str(dataset), Criteria(sources=("seed",)), requested_by="owner")
    assert second["version"] == "v1-erased-2" and second["latest_moved"]
    new = dataset / "v1-erased-2"
    manifest = check_version(str(new))
    assert "seed" not in set(read_table(str(new), manifest, "pairs")["source"])
    # the emptied source no longer binds the licence: only the news articles' CC-BY-4.0 is left
    assert manifest["erasure"]["sources_emptied"] == ["seed"] and manifest["license"]["hf_license"] == "cc-by-4.0"
    assert yaml.safe_load((new / "README.md").read_text().split("---\n")[1])["license"] == "cc-by-4.0"
    log = [json.loads(line) for line in (new / "erasure" / "log.jsonl").read_text().splitlines()]
    assert [e["version"] for e in log] == ["v1-erased-1", "v1-erased-2"]  # appended to the earlier log

    kept = gc(str(dataset), keep=2)
    assert kept["deleted"] == ["v1"] and not built.exists()
    assert sorted(kept["kept"]) == ["v1-erased-1", "v1-erased-2"]
    index = dataset / "_index"
    # the deleted version's index entries went with it (only the seed's imported pairs were indexed: erasing the
    # seed left v1-erased-2 no pairs entries)
    assert {t: sorted(p.name for p in (index / t).iterdir()) for t in ("documents", "pairs")} == {
        "documents": ["v1-erased-1.parquet", "v1-erased-2.parquet"], "pairs": ["v1-erased-1.parquet"]}

    # erase a remaining document and delete every older version still holding it
    docs = read_table(str(new), manifest, "documents")
    target = docs["id"][0]
    third = erase_version(str(dataset), Criteria(doc_ids=(target,)), delete_superseded=True)
    assert sorted(third["deleted_versions"]) == ["v1-erased-1", "v1-erased-2"]
    assert sorted(p.name for p in dataset.iterdir() if not p.name.startswith("_")) == ["LATEST", "v1-erased-3"]
    assert {t: sorted(p.name for p in (index / t).iterdir()) for t in ("documents", "pairs")} == {
        "documents": ["v1-erased-3.parquet"], "pairs": []}
    final = check_version(str(dataset / "v1-erased-3"))
    pairs = read_table(str(dataset / "v1-erased-3"), final, "pairs")
    assert target not in set(pairs["doc_id"]) and target not in set(read_table(
        str(dataset / "v1-erased-3"), final, "documents")["id"])
    # LATEST's version is never collected, whatever --keep says
    assert gc(str(dataset), keep=1)["deleted"] == []


def test_a_rebuild_does_not_bring_erased_rows_back(built, tmp_path):
    """The sources still hold the address: the next (nightly) build drops the erased rows at ingest."""
    recipe = built.parent.parent.parent / "recipe.yaml"
    out = str(tmp_path / "out") + "/"
    first = Path(build_dataset(str(recipe), version="n1", options=RunOptions(export_uri=out)))
    assert EMAIL in all_text(first)
    erased = erase_version(str(first.parent), Criteria(contains=(EMAIL,)))
    register = pl.read_parquet(first.parent / "_erasure" / "erased_ids.parquet")
    assert set(register["version"]) == {erased["version"]} and register["id"].n_unique() == len(register)
    assert EMAIL not in register.write_ndjson().lower()  # ids only, no raw values

    again = Path(build_dataset(str(recipe), version="n2", options=RunOptions(export_uri=out)))
    assert EMAIL not in all_text(again)
    manifest = check_version(str(again))
    # the document, the seed pair with the address, and the seed pair the quality rules rejected (it held it too)
    assert manifest["stats"]["rejected"]["erased: erased on request"] == 3
    rejected = pl.read_parquet(again / "rejected" / "documents.parquet")
    assert "text" not in rejected.columns or rejected.filter(pl.col("stage") == "erased")["text"].null_count() == 1
    # the other documents come back as they were; nothing is derived from the erased one
    before = read_table(erased["version_uri"], check_version(erased["version_uri"]), "documents")
    assert set(read_table(str(again), manifest, "documents")["id"]) == set(before["id"])
    pairs = read_table(str(again), manifest, "pairs")
    assert set(pairs["doc_id"]) <= set(before["id"]) | set(pairs["id"]) and len(pairs) > 0

    # the source is edited (a word fixed): the document has another id, but it is a near copy of the erased one
    spec = yaml.safe_load(recipe.read_text())
    news = Path(spec["sources"][0]["uri"]).read_text().splitlines()
    assert EMAIL.upper() in news[0]
    words = news[0].split(" ")
    words[3] = words[3] + "s"
    (tmp_path / "news.txt").write_text("\n".join([" ".join(words), *news[1:]]) + "\n")
    spec["sources"][0]["uri"] = str(tmp_path / "news.txt")
    edited = tmp_path / "recipe.yaml"
    edited.write_text(yaml.safe_dump(spec, sort_keys=False))
    third = Path(build_dataset(str(edited), version="n3", options=RunOptions(export_uri=out)))
    assert EMAIL not in all_text(third)  # in no table, the rejected ones included
    manifest = check_version(str(third))
    assert manifest["stats"]["rejected"]["dedup: copy of a row erased on request"] == 1
    dedup = manifest["stats"]["dedup"]["documents"]
    assert dedup["erased_rows_checked"] == 1 and dedup["erased_copies_dropped"] == 1
    assert manifest["stats"]["rejected"]["erased: erased on request"] == 2  # the two seed pairs, unchanged
    assert set(read_table(str(third), manifest, "documents")["id"]) == set(before["id"])
    copy = pl.read_parquet(third / "rejected" / "documents.parquet").filter(pl.col("stage") == "dedup")
    assert len(copy) == 1 and copy["source"].to_list() == ["news"] and copy["text"].null_count() == 1


def test_bad_erasure_requests(built, tmp_path):
    no_criteria = pairforge("erase", str(built.parent))  # the CLI turns every ErasureError into exit 2
    assert no_criteria.returncode == 2 and "--source, --doc-id, --contains" in no_criteria.stderr
    assert "Traceback" not in no_criteria.stderr
    with pytest.raises(ErasureError, match="no manifest.json"):
        erase_version(str(tmp_path / "nowhere"), Criteria(sources=("x",)))
    with pytest.raises(ErasureError, match="--keep must be at least 1"):
        gc(str(built.parent), keep=0)
    with pytest.raises(ErasureError, match="version folder"):
        gc(str(built.parent / (built.parent / "LATEST").read_text().strip()), keep=1)


def test_cli_exit_codes_for_broken_datasets(tmp_path):
    """Not a dataset, LATEST naming a missing version, or a version whose manifest is not JSON (opened like
    inspect/validate do): exit 2; anything unexpected (gc reading a broken manifest): exit 1; one line each."""
    from pairforge.tasks.core.shards import Shard
    from pairforge.tasks.publish.export import write_version
    from tests.publish.test_export import SPLIT_DOCS

    not_a_dataset = tmp_path / "empty"
    not_a_dataset.mkdir()
    dangling = tmp_path / "dangling"
    broken = tmp_path / "broken"
    for dataset in (dangling, broken):
        docs = tmp_path / f"{dataset.name}.parquet"
        pl.DataFrame([{"id": "d", "doc_id": "d", "text": "t", "source": "s", "split": "train"}], schema=SPLIT_DOCS,
                     orient="row").write_parquet(docs)
        write_version({"documents": [Shard("documents", "d", str(docs), 1)]}, str(dataset), "v1", shard_rows=5,
                      extra_files={}, manifest_fields={"dataset": "x", "recipe_sha256": "abc", "sources": []})
    (dangling / "LATEST").write_text("v9\n")  # a version that is not there
    (broken / "v1" / "manifest.json").write_text("{not json")

    calls = {
        "gc-empty": (("gc", str(not_a_dataset), "--keep", "1"), 2),
        "erase-dangling": (("erase", str(dangling), "--source", "s"), 2),
        "gc-dangling": (("gc", str(dangling), "--keep", "1"), 2),
        "erase-broken": (("erase", str(broken), "--source", "s"), 2),
        "gc-broken": (("gc", str(broken), "--keep", "1"), 1),
    }
    results = {name: pairforge(*args) for name, (args, _) in calls.items()}
    for name, (_, code) in calls.items():
        result = results[name]
        assert result.returncode == code, (name, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)
        assert result.stderr.startswith("error: ") and result.stdout == "", name
    assert "v9" in results["gc-dangling"].stderr and "v9" in results["erase-dangling"].stderr
    assert "manifest.json is not valid JSON" in results["erase-broken"].stderr
    assert "gc failed" in results["gc-broken"].stderr
    assert (dangling / "v1" / "manifest.json").exists()  # gc deleted nothing from the broken dataset
    for call in (lambda: erase_version(str(dangling), Criteria(sources=("s",))), lambda: gc(str(dangling), keep=1)):
        with pytest.raises(ErasureError, match="LATEST names v9, which is not a complete version"):
            call()


def test_augmented_pairs_of_erased_pairs_go_too():
    pairs = pl.DataFrame({
        "id": ["d1-p1", "d1-p2", "aug-1", "aug-of-aug", "d2-p1", "aug-2"],
        "doc_id": ["d1", "d1", "d1", "d1", "d2", "d2"],
        "augmented_from": [None, None, "d1-p2", "aug-1", None, "d2-p1"],
    })
    assert close_over_pairs(pairs, {"d1"}) - {"d1"} == {"d1-p1", "d1-p2", "aug-1", "aug-of-aug"}
    only_aug = pairs.with_columns(doc_id=pl.col("id"))  # imported pairs are their own documents
    assert close_over_pairs(only_aug, {"d1-p2"}) == {"d1-p2", "aug-1", "aug-of-aug"}


def near_copy_version(tmp_path: Path, dataset: Path, version: str, index: Path) -> None:
    """A version built with dedup keep: all (a document cluster and a pair cluster kept whole, `dup_cluster` = the
    representative's id), pairs made from the cluster's members, and rejected tables holding duplicates dedup dropped
    (`duplicate_of` = the kept row's id); its recipe keeps the dedup index outside the dataset folder."""
    from pairforge.tasks.core.shards import Shard
    from pairforge.tasks.publish.export import write_version
    from tests.publish.test_export import SPLIT_DOCS, SPLIT_PAIRS, pair_rows

    base = {"source": "news", "uri": "news.txt", "license": "CC-BY-4.0", "lang": "en", "split": "train"}
    docs = [base | {"id": i, "doc_id": i, "text": t, "dup_cluster": c} for i, t, c in (
        ("doc-rep", "Fire near Hill Top is under control.", "doc-rep"),
        ("doc-copy", "Fire near Hill Top is under control!", "doc-rep"),
        ("doc-other", "A new blaze near Goulburn.", None))]
    pairs = pair_rows(5, "train")  # ids train-0 .. train-4
    for row, doc, cluster in zip(pairs, ["doc-rep", "doc-copy", "doc-other", "doc-other", "doc-other"],
                                 ["train-0", None, "train-2", "train-2", "train-0"], strict=True):
        row |= {"doc_id": doc, "origin": "generated", "dup_cluster": cluster}
    rejected_docs = [base | {"id": i, "doc_id": i, "text": "Fire near Hill Top.", "reason": "near duplicate",
                             "duplicate_of": d}
                     for i, d in (("doc-dropped", "doc-rep"), ("doc-dropped-2", "doc-other"))]
    rejected_pairs = [dict(pair_rows(1, "x", n)[0], id=i, reason="exact duplicate", duplicate_of=d)
                      for n, (i, d) in enumerate((("pair-dropped", "train-0"), ("pair-dropped-2", "train-2")))]
    shards, collected = {}, {}
    for table, rows, schema in (("documents", docs, SPLIT_DOCS), ("pairs", pairs, SPLIT_PAIRS)):
        path = tmp_path / f"{version}-{table}.parquet"
        pl.DataFrame(rows, schema=schema, orient="row").write_parquet(path)
        shards[table] = [Shard(table, table, str(path), len(rows))]
    for table, rows in (("documents", rejected_docs), ("pairs", rejected_pairs)):
        path = tmp_path / f"{version}-rejected-{table}.parquet"
        pl.DataFrame(rows).write_parquet(path)
        collected[f"rejected/{table}.parquet"] = [str(path)]
    write_version(shards, str(dataset), version, shard_rows=10, extra_files={}, collected=collected,
                  manifest_fields={"dataset": "near", "recipe_sha256": "abc", "sources": [{"name": "news"}],
                                   "recipe": {"dedup": {"keep": "all", "index_uri": str(index)}}})


def test_near_copies_and_dropped_duplicates_of_an_erased_row_go_too_and_the_index_follows(tmp_path):
    dataset, index = tmp_path / "out" / "near", tmp_path / "index"
    for version in ("v0", "v1"):
        near_copy_version(tmp_path, dataset, version, index)
        (index / "documents").mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"id": ["doc-rep", "doc-copy", "doc-other"], "exact": ["a", "a", "b"]}).write_parquet(
            index / "documents" / f"{version}.parquet")
    (index / "pairs").mkdir()
    pl.DataFrame({"id": ["train-0"], "exact": ["c"]}).write_parquet(index / "pairs" / "v0.parquet")  # v1 has none
    decoy = dataset / "_index" / "documents" / "v0.parquet"  # the default place, which this recipe does not use
    decoy.parent.mkdir(parents=True)
    decoy.write_bytes((index / "documents" / "v0.parquet").read_bytes())

    result = erase_version(str(dataset), Criteria(doc_ids=("doc-rep",)))

    new = dataset / "v1-erased-1"
    manifest = check_version(str(new))
    assert set(read_table(str(new), manifest, "documents")["id"]) == {"doc-other"}
    # train-0 and train-1 were made from the document and its near-copy, train-4 is a near-copy of train-0
    assert set(read_table(str(new), manifest, "pairs")["id"]) == {"train-2", "train-3"}
    assert result["removed"] == {"documents": 2, "pairs": 3}
    assert result["detail"] == {"documents_near_copies_of_erased": 1, "pairs_matched": 0,
                                "pairs_derived_from_erased_documents": 2, "pairs_near_copies_of_erased": 1,
                                "pairs_augmented_from_erased_pairs": 0}
    # the duplicates dedup dropped in favour of an erased row are erased from the rejected tables
    assert pl.read_parquet(new / "rejected" / "documents.parquet")["id"].to_list() == ["doc-dropped-2"]
    assert pl.read_parquet(new / "rejected" / "pairs.parquet")["id"].to_list() == ["pair-dropped-2"]
    assert result["side"] == {"rejected/documents.parquet": 1, "rejected/pairs.parquet": 1}
    # the index (where the recipe put it): the kept rows' entries for the new version, none where v1 had none
    assert pl.read_parquet(index / "documents" / "v1-erased-1.parquet").to_dicts() == [{"id": "doc-other",
                                                                                        "exact": "b"}]
    assert sorted(p.name for p in (index / "pairs").iterdir()) == ["v0.parquet"]

    assert gc(str(dataset), keep=1)["deleted"] == ["v1", "v0"]
    assert [p.name for p in (index / "documents").iterdir()] == ["v1-erased-1.parquet"]
    assert list((index / "pairs").iterdir()) == []
    assert decoy.exists()  # the default index location was not this recipe's: left alone


def test_dry_run_writes_nothing(built):
    dataset = built.parent
    latest = (dataset / "LATEST").read_text().strip()
    before = digests(dataset)
    plan = plan_erasure(str(dataset / latest), Criteria(sources=("news",)))
    result = erase_version(str(dataset), Criteria(sources=("news",)), delete_superseded=True, dry_run=True)
    assert result["version"] is None and result["removed"] == plan.removed and plan.removed["documents"] >= 1
    assert result["deleted_versions"] == [latest]  # it would be superseded by the new version ...
    assert digests(dataset) == before  # ... but a dry run writes and deletes nothing


def test_erase_and_gc_on_s3(bucket, tmp_path):
    """The same on object storage (moto's S3 server over HTTP): derived pairs follow their document."""
    from pairforge.tasks.core import storage
    from pairforge.tasks.core.shards import Shard
    from pairforge.tasks.publish.export import read_manifest, write_version
    from tests.publish.test_export import SPLIT_DOCS, SPLIT_PAIRS, pair_rows

    docs = [{"id": f"doc-{i}", "doc_id": f"doc-{i}", "text": f"article {i}", "source": "news", "uri": "news.txt",
             "license": "CC-BY-4.0", "lang": "en", "split": "train"} for i in range(3)]
    pairs = [dict(r, doc_id=f"doc-{i % 3}", origin="generated") for i, r in enumerate(pair_rows(9, "train"))]
    shards = {}
    for table, rows, schema in (("documents", docs, SPLIT_DOCS), ("pairs", pairs, SPLIT_PAIRS)):
        path = tmp_path / f"{table}.parquet"
        pl.DataFrame(rows, schema=schema, orient="row").write_parquet(path)
        shards[table] = [Shard(table, table, str(path), len(rows))]
    dataset = f"s3://{bucket}/datasets/demo"
    for version in ("v1", "v2"):
        write_version(shards, dataset, version, shard_rows=4, extra_files={}, formats=["parquet", "openai"],
                      manifest_fields={"dataset": "demo", "recipe_sha256": "abc",
                                       "sources": [{"name": "news", "license": "CC-BY-4.0"}]})
    v1_files = {u: storage.read_bytes(u) for u, _ in storage.list_files(f"{dataset}/v1")}
    storage.write_parquet(pl.DataFrame({"id": ["doc-0"]}), f"{dataset}/_index/documents/v1.parquet")
    storage.write_bytes(f"{dataset}/_cache/llm/ab/cd.json", b"{}")
    assert storage.list_folders(dataset) == ["_cache", "_index", "v1", "v2"]
    assert storage.list_folders(f"{dataset}/nothing") == []

    result = erase_version(dataset, Criteria(doc_ids=("doc-1",)), requested_by="dpo")

    new = f"{dataset}/v2-erased-1"
    assert result["version_uri"] == new and storage.read_bytes(f"{dataset}/LATEST").decode().strip() == "v2-erased-1"
    manifest = read_manifest(new)
    assert manifest["tables"]["documents"]["rows"]["train"] == 2 and manifest["tables"]["pairs"]["rows"]["train"] == 6
    assert result["detail"]["pairs_derived_from_erased_documents"] == 3
    kept = pl.concat([storage.read_parquet(f"{new}/{f['path']}") for f in manifest["files"] if f["table"] == "pairs"])
    assert "doc-1" not in set(kept["doc_id"])
    assert gc(dataset, keep=1) == {"kept": ["v2-erased-1"], "deleted": ["v2", "v1"], "dry_run": False}
    assert storage.list_files(f"{dataset}/_index") == []  # v1's index entries went with it
    assert storage.list_files(f"{dataset}/v1") == [] and v1_files  # v1 stayed whole until gc removed it


def test_an_erased_version_name_stays_a_name(tmp_path):
    from pairforge.tasks.privacy.erase import next_version_name

    assert next_version_name(str(tmp_path), "v1-erased-3") == "v1-erased-1"
    with pytest.raises(ErasureError, match="no version name left"):
        next_version_name(str(tmp_path), "x" * 95)  # the suffix would pass the length cap
