"""tasks/publish/validate.py: GE suites from JSON over small Polars frames shaped like tasks/core/schema.py."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pairforge.tasks.core.schema import conform, stable_id
from pairforge.tasks.publish.validate import load_suite, summarise, validate_frame


def documents(n: int = 3, **overrides: list) -> pl.DataFrame:
    cols = {
        "id": [stable_id("news", str(i)) for i in range(n)],
        "doc_id": [stable_id("news", str(i)) for i in range(n)],
        "text": [f"Document number {i} says something useful." for i in range(n)],
        "source": ["news"] * n,
        "uri": ["data/news.txt"] * n,
        "license": ["CC-BY-4.0"] * n,
        "lang": ["en"] * n,
    }
    cols.update(overrides)
    return conform(pl.DataFrame(cols), "documents")


def pairs(n: int = 3) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [stable_id("seed", str(i)) for i in range(n)],
            "doc_id": [stable_id("seed", str(i)) for i in range(n)],
            "prompt": [f"What is {i} + {i}?" for i in range(n)],
            "response": [str(2 * i) for i in range(n)],
            "messages": [
                [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": f"What is {i} + {i}?"},
                    {"role": "assistant", "content": str(2 * i)},
                ]
                for i in range(n)
            ],
            "system": ["Be brief."] + [None] * (n - 1),
            "context": [None] * n,
            "task": ["qa"] * n,
            "source": ["seed"] * n,
            "uri": ["data/seed.jsonl"] * n,
            "license": ["Apache-2.0"] * n,
            "lang": ["en"] * n,
            "origin": ["imported", "generated", "human"][:n],
        },
        schema_overrides={"system": pl.String, "context": pl.String},
    ).pipe(conform, "pairs")


def failed(report: dict, severity: str) -> set[tuple[str, str | None]]:
    return {
        (r["type"], r["kwargs"].get("column"))
        for r in report["results"]
        if not r["success"] and r["severity"] == severity
    }


def write_suite(folder, table: str, expectations: list) -> None:
    (folder / f"{table}.json").write_text(json.dumps({"name": f"custom-{table}", "expectations": expectations}))


@pytest.mark.parametrize(("table", "frame"), [("documents", documents), ("pairs", pairs)])
def test_good_frame_passes(table, frame):
    report = validate_frame(frame(), table, shard="train-00000")
    assert report["success"] and report["critical_success"], [r for r in report["results"] if not r["success"]]
    assert (report["table"], report["shard"], report["suite"], report["rows"]) == (table, "train-00000", table, 3)
    assert len(report["results"]) == len(load_suite(table)["expectations"])
    json.dumps(report)  # serialisable as is


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"id": [None, "b" * 32, "c" * 32]}, ("expect_column_values_to_not_be_null", "id")),
        ({"id": ["a" * 32, "a" * 32, "c" * 32]}, ("expect_column_values_to_be_unique", "id")),
        ({"text": ["", "some text here", "more text here"]}, ("expect_column_value_lengths_to_be_between", "text")),
        ({"lang": ["en", "English", "de"]}, ("expect_column_values_to_match_regex", "lang")),
        ({"license": ["MIT", None, "MIT"]}, ("expect_column_values_to_not_be_null", "license")),
    ],
)
def test_bad_documents_fail_critically(overrides, expected):
    report = validate_frame(documents(**overrides), "documents")
    assert not report["success"]
    assert not report["critical_success"]
    assert expected in failed(report, "critical")


def test_bad_pairs_origin_fails_critically():
    df = pairs().with_columns(origin=pl.lit("scraped"))
    report = validate_frame(df, "pairs")
    assert not report["critical_success"]
    assert ("expect_column_values_to_be_in_set", "origin") in failed(report, "critical")
    bad = next(r for r in report["results"] if r["type"] == "expect_column_values_to_be_in_set")
    assert bad["observed"]["unexpected_count"] == 3


def test_tools_that_are_not_json_fail_critically():
    tools = '[{"type": "function", "function": {"name": "f", "parameters": {}}}]'
    assert validate_frame(pairs().with_columns(tools=pl.lit(tools)), "pairs")["critical_success"]
    report = validate_frame(pairs().with_columns(tools=pl.Series([tools, None, tools[:-1]])), "pairs")
    assert failed(report, "critical") == {("expect_column_values_to_be_json_parseable", "tools")}


def test_warning_failure_keeps_critical_success():
    report = validate_frame(documents(text=["short", "a longer text here", "another long text"]), "documents")
    assert not report["success"]
    assert report["critical_success"]
    assert failed(report, "warning") == {("expect_column_value_lengths_to_be_between", "text")}
    assert failed(report, "critical") == set()


def test_empty_frame_fails_on_row_count_only():
    report = validate_frame(documents(0), "documents")
    assert report["rows"] == 0
    assert not report["critical_success"]
    assert failed(report, "critical") == {("expect_table_row_count_to_be_between", None)}


def test_missing_column_is_reported_by_name():
    report = validate_frame(documents().drop("lang"), "documents")
    assert not report["critical_success"]
    regex = next(r for r in report["results"] if r["type"] == "expect_column_values_to_match_regex")
    assert not regex["success"]
    assert regex["observed"]["error"] == "column 'lang' does not exist"
    cols = next(r for r in report["results"] if r["type"] == "expect_table_columns_to_match_set")
    assert not cols["success"]
    assert cols["observed"]["details"]["mismatched"]["missing"] == ["lang"]


def test_custom_suites_dir_with_tighter_rule(tmp_path):
    write_suite(
        tmp_path,
        "documents",
        [
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": "lang", "value_set": ["de"]},
                "severity": "critical",
            },
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "severity": "critical"},
        ],
    )
    df = documents()
    assert validate_frame(df, "documents")["critical_success"]  # the project's suite accepts it
    report = validate_frame(df, "documents", suites_dir=str(tmp_path))
    assert report["suite"] == "custom-documents"
    assert not report["critical_success"]
    assert failed(report, "critical") == {("expect_column_values_to_be_in_set", "lang")}
    assert [r["success"] for r in report["results"]] == [False, True]  # the suite's order is kept


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        (
            {"type": "expect_column_values_to_be_purple", "kwargs": {"column": "id"}},
            "expect_column_values_to_be_purple",
        ),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"colum": "id"}}, "expectations[0]"),
        ({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}, "severity": "fatal"}, "fatal"),
        ({"kwargs": {"column": "id"}}, "expectations[0]"),
    ],
)
def test_malformed_suite_names_file_and_entry(tmp_path, entry, names):
    write_suite(tmp_path, "documents", [entry])
    with pytest.raises(ValueError) as err:
        load_suite("documents", str(tmp_path))
    assert str(tmp_path / "documents.json") in str(err.value)
    assert names in str(err.value)
    with pytest.raises(ValueError):
        validate_frame(documents(), "documents", suites_dir=str(tmp_path))


def test_missing_or_unparsable_suite_file(tmp_path):
    with pytest.raises(ValueError, match="pairs.json"):
        load_suite("pairs", str(tmp_path))
    (tmp_path / "pairs.json").write_text("{not json")
    with pytest.raises(ValueError, match="pairs.json"):
        load_suite("pairs", str(tmp_path))


def test_report_holds_no_raw_values():
    planted = "Zebulon Quartermaine, 221B Baker Street"
    df = documents(
        id=["planted-id-7f3a9c", "planted-id-7f3a9c", "c" * 32],  # duplicated and not hex
        text=[planted, "", "x"],  # the planted text is fine; the others fail
        lang=["en", "Klingon-planted-lang", "en"],
    )
    report = validate_frame(df, "documents")
    dumped = json.dumps(report)
    assert not report["critical_success"]  # the values were seen by failing checks...
    for value in (planted, "Zebulon", "planted-id-7f3a9c", "Klingon-planted-lang"):
        assert value not in dumped  # ...but none is reported


def test_summarise_merges_shards():
    good = validate_frame(documents(), "documents", shard="train-00000")
    bad = validate_frame(documents(id=[None, None, "c" * 32]), "documents", shard="train-00001")
    warn = validate_frame(
        documents(text=["tiny", "a longer text here", "another long text"]), "documents", shard="test-00000"
    )
    summary = summarise([good, bad, warn])
    assert not summary["success"] and not summary["critical_success"]
    docs = summary["tables"]["documents"]
    assert (docs["shards"], docs["rows"]) == (3, 9)
    assert docs["failed_shards"] == ["train-00001", "test-00000"]
    by = {(r["type"], r["kwargs"].get("column"), r["severity"]): r for r in docs["results"]}
    not_null = by[("expect_column_values_to_not_be_null", "id", "critical")]
    assert (not_null["success"], not_null["failed_shards"], not_null["unexpected_count"]) == (False, ["train-00001"], 2)
    length = by[("expect_column_value_lengths_to_be_between", "text", "warning")]
    assert length["failed_shards"] == ["test-00000"]
    assert by[("expect_column_values_to_not_be_null", "source", "critical")]["success"]
    json.dumps(summary)
    # Warnings alone do not break critical success.
    assert summarise([good, warn])["critical_success"]
