"""Licence policy: the table of licences, the rules, the refusal before any work (API and CLI), and a
real build of the non-commercial Alpaca seed tasks whose card and manifest say non-commercial."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from pairforge.tasks.core.recipe import LicensePolicy, RecipeError, load_recipe
from pairforge.tasks.ingest.licenses import alternatives, choose_terms, license_summary, lookup, policy_problems
from tests.conftest import CORPORA
from tests.flows.test_cli import pairforge

ALPACA = CORPORA / "instruct" / "alpaca_seed_tasks.jsonl"  # CC BY-NC 4.0 (DATA_LICENSE-stanford-alpaca)
REFUSED = "sources.0 (seed): licence CC-BY-NC-4.0 is non-commercial and license_policy.commercial_use is true"


def alpaca_recipe(tmp_path: Path, commercial_use: bool, **extra) -> Path:
    recipe = {"name": "alpaca-seed", "task": "instruction",
              "sources": [{"name": "seed", "uri": str(ALPACA), "format": "self-instruct", "license": "CC-BY-NC-4.0"}],
              "license_policy": {"commercial_use": commercial_use},
              "export": {"uri": str(tmp_path / "out") + "/"}, **extra}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@pytest.mark.parametrize(("license_id", "props"), [
    ("CC0-1.0", {"public_domain"}),
    ("cc-by-4.0", {"attribution"}),
    ("CC BY-SA 4.0", {"attribution", "share_alike"}),
    ("CC-BY-NC-4.0", {"attribution", "non_commercial"}),
    ("CC-BY-NC-SA-3.0", {"attribution", "non_commercial", "share_alike"}),
    ("CC-BY-ND-4.0", {"attribution", "no_derivatives"}),
    ("ODC-By-1.0", {"attribution"}),
    ("ODbL-1.0", {"attribution", "share_alike"}),
    ("PDDL-1.0", {"public_domain"}),
    ("MIT", {"attribution"}),
    ("apache-2.0", {"attribution"}),
    ("BSD-3-Clause", {"attribution"}),
    ("GPL-3.0-or-later", {"attribution", "share_alike"}),
    ("LGPL-2.1-only", {"attribution", "share_alike"}),
    ("AGPL-3.0", {"attribution", "share_alike"}),
    ("MPL-2.0", {"attribution", "share_alike"}),
    ("Unlicense", {"public_domain"}),
    ("CDLA-Permissive-2.0", {"attribution"}),
    ("CDLA-Sharing-1.0", {"attribution", "share_alike"}),
    ("OpenRAIL-M", {"attribution", "use_restrictions"}),
])
def test_licence_table(license_id, props):
    lic = lookup(license_id)
    assert lic is not None
    flags = {"attribution", "share_alike", "non_commercial", "no_derivatives", "public_domain", "use_restrictions"}
    assert {f for f in flags if getattr(lic, f)} == props


@pytest.mark.parametrize(("license_id", "policy", "problem"), [
    ("CC-BY-NC-4.0", {"commercial_use": True}, "licence CC-BY-NC-4.0 is non-commercial and "
                                               "license_policy.commercial_use is true"),
    ("cc-by-nc-4.0", {"commercial_use": False}, None),
    ("CC-BY-ND-4.0", {}, "forbids derivatives (ND)"),
    ("CC-BY-NC-ND-4.0", {"allow": ["CC-BY-NC-ND-4.0"]}, "forbids derivatives (ND)"),  # allow cannot lift ND
    ("CC-BY-SA-4.0", {"allow_share_alike": False}, "is share-alike and license_policy.allow_share_alike is false"),
    ("GPL-3.0-only", {"allow_share_alike": False}, "share-alike"),
    ("NOASSERTION", {}, "has no licence (NOASSERTION) and license_policy.allow_unknown is false"),
    ("unknown", {}, "has no licence (unknown)"),
    ("Acme-Data-1.0", {}, "not a known SPDX id"),
    ("Acme-Data-1.0", {"allow_unknown": True}, None),
    ("acme-data-1.0", {"allow": ["Acme-Data-1.0"]}, None),  # reviewed and listed: accepted
    ("MIT", {"allow": ["Apache-2.0"]}, "licence MIT is not in license_policy.allow (Apache-2.0)"),
    ("mit", {"deny": ["MIT"]}, "licence MIT is in license_policy.deny"),
    ("MIT OR CC-BY-NC-4.0", {"commercial_use": True}, None),  # one alternative passes
    ("CC-BY-4.0 AND CC-BY-NC-4.0", {"commercial_use": True}, "non-commercial"),  # both apply
    ("GPL-2.0-only WITH Classpath-exception-2.0", {}, None),
])
def test_policy_rules(license_id, policy, problem):
    found = policy_problems(LicensePolicy(**policy), [{"name": "src", "license": license_id}])
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].startswith("sources.0 (src): ") and problem in found[0]


def test_expressions_choose_the_least_restrictive_accepted_alternative():
    assert alternatives("(MIT OR GPL-3.0-only) AND CC-BY-4.0") == [["MIT", "CC-BY-4.0"], ["GPL-3.0-only", "CC-BY-4.0"]]
    assert choose_terms("GPL-3.0-only OR MIT", LicensePolicy()) == (["MIT"], None)
    assert alternatives("MIT OR") == [["MIT OR"]]  # malformed: kept whole, hence unknown


def test_output_constraints():
    summary = license_summary([{"name": "seed", "license": "CC-BY-NC-4.0"},
                               {"name": "wiki", "license": "CC-BY-SA-3.0"},
                               {"name": "code", "license": "GPL-3.0-only"},
                               {"name": "base", "license": "CC0-1.0"}], LicensePolicy())
    assert summary["non_commercial"] and not summary["commercial_use_allowed"]
    assert [s["source"] for s in summary["share_alike"]] == ["wiki", "code"]
    assert [s["source"] for s in summary["attribution"]] == ["seed", "wiki", "code"]
    text = " | ".join(summary["constraints"])
    assert "non-commercial use only, from seed (CC-BY-NC-4.0)" in text
    assert "inherited from wiki (CC-BY-SA-3.0), code (GPL-3.0-only)" in text
    assert "different families (CC-BY-SA, GPL)" in text
    assert summary["hf_license"] == ["cc-by-nc-4.0", "cc-by-sa-3.0", "cc0-1.0", "gpl-3.0"]
    free = license_summary([{"name": "a", "license": "CC0-1.0"}])
    assert free["hf_license"] == "cc0-1.0" and free["commercial_use_allowed"]
    assert free["constraints"] == ["no conditions: every source is in the public domain or dedicated to it"]


def test_refused_before_any_work(tmp_path):
    with pytest.raises(RecipeError) as e:
        load_recipe(alpaca_recipe(tmp_path, commercial_use=True))
    assert str(e.value).endswith(REFUSED)
    # the same rule through a run's override
    with pytest.raises(RecipeError, match="commercial_use is true"):
        load_recipe(alpaca_recipe(tmp_path, commercial_use=False), ["license_policy.commercial_use=true"])

    result = pairforge("run", str(alpaca_recipe(tmp_path, commercial_use=True)))

    assert result.returncode == 2
    assert REFUSED in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # nothing written


def test_non_commercial_build_runs_and_says_so(prefect_server, tmp_path):
    from pairforge.flows.build import build_dataset
    from pairforge.tasks.core.recipe import RunOptions
    from tests.flows.test_flow import check_version, read_table

    recipe = alpaca_recipe(tmp_path, commercial_use=False, split={"train": 0.8, "validation": 0.1, "test": 0.1})
    uri = build_dataset(str(recipe), version="v1", options=RunOptions(skip=["pii", "validation"]))

    manifest = check_version(uri)
    card = (Path(uri) / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["license"] == "cc-by-nc-4.0"
    assert "non-commercial use only, from seed (CC-BY-NC-4.0)" in card
    assert "may not be used commercially" in card
    assert manifest["license"]["non_commercial"] is True and manifest["license"]["hf_license"] == "cc-by-nc-4.0"
    # provenance on every imported pair: source, uri, licence, retrieval time, pipeline version, own doc_id
    pairs = read_table(uri, manifest, "pairs")
    assert 0 < len(pairs) <= sum(1 for line in ALPACA.read_text().splitlines() if line.strip())
    assert pairs.select(pl.col("id", "doc_id", "source", "uri", "license", "retrieved_at", "pipeline_version")
                        .null_count()).sum_horizontal().item() == 0
    assert set(pairs["license"]) == {"CC-BY-NC-4.0"} and set(pairs["uri"]) == {str(ALPACA.resolve())}
    assert pairs["generator"].null_count() == len(pairs) and set(pairs["origin"]) == {"imported"}
    assert manifest["code_version"]["pairforge"] == manifest["pipeline_version"]
    assert "README.md" in {f["path"] for f in json.loads((Path(uri) / "manifest.json").read_text())["files"]}
