"""The dataset card and the round trip with the Hugging Face ecosystem: `datasets.load_dataset` finds the
splits of an exported version, `huggingface_hub` parses the card's metadata, the card holds no row text,
and `pairforge card` regenerates it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no network here; both libraries read these when imported
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from huggingface_hub import DatasetCard, metadata_load  # noqa: E402

from pairforge.tasks.core.schema import DOCUMENTS, PAIRS, SPLITS
from pairforge.tasks.publish.card import card_metadata, render_card, size_category  # noqa: E402
from pairforge.tasks.publish.export import code_version, read_manifest, read_previous, verify_files, write_version
from tests.conftest import REPO
from tests.flows.test_cli import pairforge
from tests.publish.test_export import SPLIT_DOCS, SPLIT_PAIRS, pair_rows

MARKER = "zebra-quartz-7781"  # in every row's text: must never reach the card
ROWS = {"train": 14, "validation": 4, "test": 3}


@pytest.fixture(autouse=True)
def hf_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))


def shards(work: Path, tag: str) -> dict:
    pairs = [dict(r, prompt=f"{r['prompt']} {MARKER}", id=f"{tag}-{r['id']}")
             for split, n in ROWS.items() for r in pair_rows(n, split)]
    docs = [{"id": f"{tag}-doc-{split}-{i}", "doc_id": f"{tag}-doc-{split}-{i}", "text": f"document {i} {MARKER}",
             "source": "news", "uri": "news.txt", "license": "CC-BY-SA-4.0", "lang": "en", "split": split}
            for split in SPLITS for i in range(2)]
    from pairforge.tasks.core.shards import Shard

    out = {}
    for table, rows, schema in (("pairs", pairs, SPLIT_PAIRS), ("documents", docs, SPLIT_DOCS)):
        uri = work / f"{tag}-{table}.parquet"
        pl.DataFrame(rows, schema=schema, orient="row").write_parquet(uri)
        out[table] = [Shard(table, tag, str(uri), len(rows))]
    return out


def fields(sources: list[dict], sha: str = "aaa") -> dict:
    return {"dataset": "card-set", "recipe_sha256": sha, "description": "Questions about the news.",
            "task": "qa", "languages": ["en"], "sources": sources,
            "stats": {"pii": {"EMAIL_ADDRESS": 3, "PERSON": 5}, "pii_by_source": {"news": {"PERSON": 5}},
                      "rejected": {"quality: refusal": 2}, "quarantine": {"not valid JSON": 1},
                      "sources": {"news": {"files": 1, "rows": 6, "quarantined": 0}}},
            "recipe": {"pii": {"enabled": True, "operator": "replace", "threshold": 0.5, "entities": ["PERSON"],
                               "deny_list": ["Secret Person"], "allow_list": []},
                       "split": {"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 42, "group_by": "doc_id"}}}


NEWS = {"name": "news", "uri": "news.txt", "format": "text-lines", "license": "CC-BY-SA-4.0"}
SEED = {"name": "seed", "uri": "seed.jsonl", "format": "alpaca", "license": "MIT"}


@pytest.fixture
def versions(tmp_path) -> Path:
    """Two versions of one dataset: v2 adds a source, changes the recipe and has more rows."""
    dataset = tmp_path / "out" / "card-set"
    write_version(shards(tmp_path, "a"), str(dataset), "v1", shard_rows=5, extra_files={},
                  manifest_fields=fields([NEWS]), formats=["parquet", "openai"])
    more = shards(tmp_path, "b")
    more["pairs"] += shards(tmp_path, "c")["pairs"]
    write_version(more, str(dataset), "v2", shard_rows=5, extra_files={},
                  manifest_fields=fields([NEWS, SEED], sha="bbb"), formats=["parquet", "openai"])
    return dataset


def test_load_dataset_finds_the_splits_of_a_version(versions):
    import datasets

    version = versions / "v2"
    manifest = read_manifest(str(version))
    loaded = datasets.load_dataset(str(version), cache_dir=str(version.parent / "hf"))
    assert set(loaded) == set(SPLITS)
    for split in SPLITS:
        assert loaded[split].num_rows == manifest["tables"]["pairs"]["rows"][split] == 2 * ROWS[split]
    assert set(PAIRS.names()) <= set(loaded["train"].features)
    assert set(loaded["train"].features["messages"].feature) == {"role", "content", "tool_calls", "tool_call_id"}
    docs = datasets.load_dataset(str(version), "documents", cache_dir=str(version.parent / "hf"))
    assert {s: docs[s].num_rows for s in SPLITS} == manifest["tables"]["documents"]["rows"]
    assert set(DOCUMENTS.names()) <= set(docs["train"].features)

    files = {split: [str(version / f["path"]) for f in manifest["files"]
                     if f["table"] == "pairs" and f["split"] == split] for split in SPLITS}
    plain = datasets.load_dataset("parquet", data_files=files, cache_dir=str(version.parent / "hf"))
    assert {s: plain[s].num_rows for s in SPLITS} == manifest["tables"]["pairs"]["rows"]
    assert sorted(plain["test"]["id"]) == sorted(loaded["test"]["id"])


def test_card_metadata_parses_with_huggingface_hub(versions):
    card = DatasetCard.load(versions / "v2" / "README.md")
    data = card.data.to_dict()
    assert data["license"] == ["cc-by-sa-4.0", "mit"]
    assert data["task_categories"] == ["question-answering"] and data["language"] == ["en"]
    assert data["size_categories"] == ["n<1K"] and data["pretty_name"] == "Card Set"
    configs = {c["config_name"]: c for c in data["configs"]}
    assert configs["pairs"]["default"] is True and "default" not in configs["documents"]
    assert configs["pairs"]["data_files"] == [{"split": s, "path": f"pairs/{s}-*.parquet"} for s in SPLITS]
    assert metadata_load(versions / "v2" / "README.md") == data
    # the hub's own card template round trip keeps the metadata
    assert DatasetCard(str(card)).data.to_dict() == data


def test_card_sections_changelog_and_no_row_text(versions):
    text = (versions / "v2" / "README.md").read_text()
    manifest = read_manifest(str(versions / "v2"))
    for heading in ("Motivation and intended use", "Sources and licences", "Collection and processing",
                    "Personal data (PII) handling", "Quality filtering and rejections", "Splits and sizes",
                    "Validation", "Composition and bias", "Known limitations", "Requesting erasure", "Changelog"):
        assert f"## {heading}" in text, heading
    assert MARKER not in text and "Secret Person" not in text  # no row text, no deny-list value
    assert "`deny_list`: 1 value(s), not shown" in text
    assert "| EMAIL_ADDRESS | 3 |" in text and "| quality: refusal | 2 |" in text
    assert "share-alike" in text and "inherited from news (CC-BY-SA-4.0)" in text
    assert "pairforge erase" in text
    # changelog against v1: rows per split, the new source, the recipe change
    assert manifest["previous_version"] == "v1" and "Compared with `v1`" in text
    assert f"| pairs | train | {ROWS['train']} | {2 * ROWS['train']} | +{ROWS['train']} |" in text
    assert "Sources added: seed; removed: none" in text
    assert "Recipe: changed" in text
    first = (versions / "v1" / "README.md").read_text()
    assert "First version of this dataset" in first
    # what the flow publishes as its markdown artifact is the card as written
    assert render_card(manifest, read_previous(str(versions), manifest)) == text


def test_pairforge_card_regenerates_the_card(versions):
    version = versions / "v2"
    original = (version / "README.md").read_bytes()
    (version / "README.md").write_text("stale card\n")
    assert verify_files(str(version), read_manifest(str(version)))  # the checksum no longer matches

    result = pairforge("card", str(versions))  # dataset folder: uses LATEST

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(version / "README.md")
    assert (version / "README.md").read_bytes() == original  # same manifest, same previous: same card
    manifest = read_manifest(str(version))
    entry = next(f for f in manifest["files"] if f["path"] == "README.md")
    assert entry["sha256"] == hashlib.sha256(original).hexdigest()
    assert [f["path"] for f in manifest["files"]].count("README.md") == 1
    assert verify_files(str(version), manifest) == []


def test_licence_and_size_metadata():
    base = {"dataset": "x", "version": "v", "task": "chat", "languages": ["en", "de"], "files": [],
            "tables": {"pairs": {"rows": {"train": 1500, "validation": 0, "test": 0}}}}
    meta = card_metadata(base | {"sources": [{"name": "a", "license": "cc-by-nc-4.0"}]})
    assert meta["license"] == "cc-by-nc-4.0" and "license_name" not in meta
    assert meta["task_categories"] == ["text-generation"] and meta["size_categories"] == ["1K<n<10K"]
    assert [c["data_files"] for c in meta["configs"]] == [[{"split": "train", "path": "pairs/train-*.parquet"}]]
    other = card_metadata(base | {"sources": [{"name": "a", "license": "LicenseRef-Acme-Data"}]})
    assert other["license"] == "other" and other["license_name"] == "licenseref-acme-data"
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 100_000, 10**12)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "n>1T"]


def test_composition_section_falls_back_when_there_is_no_report():
    manifest = {"dataset": "x", "version": "v", "files": [], "tables": {}, "sources": [], "stats": {}}
    assert "No composition report in this version" in render_card(manifest)
    with_report = render_card(manifest | {"stats": {"composition": {"origin": {"imported": 7}}}})
    section = with_report.split("## Composition and bias", 1)[1].split("\n## ", 1)[0]
    assert "No composition report" not in section and section.strip()


def test_code_version_names_the_commit_and_survives_without_git(monkeypatch):
    found = code_version()
    assert found["pairforge"]
    if (REPO / ".git").exists():
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
        assert found["git_commit"] == (head.stdout.strip() if head.returncode == 0 else None)
    monkeypatch.setenv("PATH", str(REPO / "no-such-bin"))  # no git binary to be found
    without = code_version.__wrapped__()
    assert without["git_commit"] is None and without["pairforge"] == found["pairforge"]
    assert json.loads(json.dumps(without)) == without


def test_stage_stats_the_flow_records_and_both_forms_of_the_pii_lists():
    from pairforge.flows.steps import STATS_IN_MANIFEST
    from pairforge.tasks.publish.card import EXTRA_STATS

    assert {key for key, _ in EXTRA_STATS} <= set(STATS_IN_MANIFEST)  # no section for stats the flow never writes
    manifest = {"dataset": "x", "version": "v", "files": [], "tables": {}, "sources": [],
                "stats": {"dedup": {"documents": {"exact_dropped": 4, "near_dropped": 2}}, "augment": {"paraphrase": 3},
                          "llm": {"requests": 11, "cache_hits": 5}},
                "recipe": {"pii": {"enabled": True, "operator": "replace", "threshold": 0.5, "entities": ["PERSON"],
                                   "allow_list": "3 values, not published",  # as the flow publishes it now
                                   "deny_list": ["Secret Person", "Other Person"]}}}  # as older manifests hold it
    text = render_card(manifest)
    filtering = text.split("## Quality filtering and rejections", 1)[1].split("\n## ", 1)[0]
    assert "Deduplication:" in filtering and "| documents | 4 | 2 |" in filtering
    assert "Augmentation:" in filtering and "| paraphrase | 3 |" in filtering
    processing = text.split("## Collection and processing", 1)[1].split("\n## ", 1)[0]
    assert "Model requests" in processing and "| requests | 11 |" in processing
    assert "`allow_list`: 3 values, not published" in processing
    assert "`deny_list`: 2 value(s), not shown" in processing and "Secret Person" not in text
