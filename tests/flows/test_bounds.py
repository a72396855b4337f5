"""Sanity bounds end to end: a decontamination that would empty the training split stops the run before anything is
published, with a message naming the stage, the share and the reasons; the recipe's override lets it publish."""

from __future__ import annotations

import json

import pytest
import yaml

from pairforge.flows.build import build_dataset
from pairforge.tasks.core.bounds import BoundExceeded
from pairforge.tasks.core.recipe import RunOptions
from tests.conftest import CORPORA


@pytest.fixture
def contaminated(tmp_path):
    """60 real news articles, and a "benchmark" that holds the same articles (as a leaked test set would)."""
    articles = [" ".join(line.split()) for line in (CORPORA / "text" / "lee_background.cor").read_text().splitlines()
                if len(line.split()) > 40][:60]
    (tmp_path / "news.txt").write_text("\n".join(articles) + "\n")
    (tmp_path / "bench.jsonl").write_text("".join(json.dumps({"question": a}) + "\n" for a in articles))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "leaky",
        "sources": [{"name": "news", "uri": "news.txt", "format": "text-lines", "license": "CC-BY-4.0"}],
        "pii": {"enabled": False}, "filters": {"enabled": False},
        "decontaminate": {"benchmarks": [{"name": "bench", "uri": "bench.jsonl"}]},
        "export": {"uri": "out/"},
    }))
    return recipe


def articles(recipe) -> list[str]:
    import re

    lines = (recipe.parent / "news.txt").read_text().splitlines()
    return [" ".join(re.sub(r"[^\w\s]", "", line).split()) for line in lines]


def published(recipe) -> list[str]:
    return sorted(p.name for p in (recipe.parent / "out" / "leaky").glob("*") if not p.name.startswith("_"))


def test_a_stage_that_empties_the_training_split_stops_the_run(prefect_server, contaminated):
    with pytest.raises(BoundExceeded) as err:
        build_dataset(str(contaminated), version="v1")
    message = str(err.value)
    assert message.startswith("decontaminate removed ") and "of documents" in message
    assert "top reasons: " in message and "bench" in message and "bounds.stages.decontaminate" in message
    assert "shared n-grams behind most removals: \"" in message  # what the removed rows share, in words
    assert published(contaminated) == []  # no version, no LATEST

    # lifting the stage's bound is not enough: the training split would be empty
    lifted = RunOptions(set=["bounds.stages.decontaminate=1.0"])
    with pytest.raises(BoundExceeded, match=r"after decontaminate, the train split of documents is empty"):
        build_dataset(str(contaminated), version="v2", options=lifted)
    assert published(contaminated) == []

    allowed = RunOptions(set=["bounds.stages.decontaminate=1.0", "bounds.empty_splits=allow"])
    uri = build_dataset(str(contaminated), version="v3", options=allowed)
    manifest = json.loads((contaminated.parent / "out" / "leaky" / "v3" / "manifest.json").read_text())
    assert uri.endswith("v3") and manifest["tables"]["documents"]["rows"]["train"] == 0
    top = manifest["stats"]["decontamination"]
    assert top and all(len(t["ngram"].split()) == 13 and t["rows"] >= 1 for t in top)  # 13-grams by default
    assert all(t["ngram"] in " ".join(a.lower() for a in articles(contaminated)) for t in top[:3])
    assert manifest["tables"]["documents"]["rows"]["validation"] + manifest["tables"]["documents"]["rows"]["test"] > 0
