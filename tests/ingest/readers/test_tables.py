"""tasks.ingest.readers.tables: `csv` and `parquet` as documents or as pairs through `fields`."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pairforge.tasks.core.schema import PAIRS
from pairforge.tasks.ingest.sources import read_source_file
from tests.ingest.helpers import jsonl, plain_turns, src


def test_csv_with_mapping(tmp_path):
    f = tmp_path / "docs.csv"
    f.write_text('id,content\n1,"hello, world"\n2,""\n3,"multi\nline"\n')
    got = read_source_file(src(f, "csv", fields={"text": "content"}), str(f), "en")
    assert got.rows["text"].to_list() == ["hello, world", "multi\nline"]
    assert got.quarantine.select("row", "reason").rows() == [(2, "empty 'content'")]


def test_parquet_with_mapping_and_wrong_columns(tmp_path):
    f = tmp_path / "docs.parquet"
    pl.DataFrame({"article": ["p one", "p two", None], "n": [1, 2, 3]}).write_parquet(f)
    got = read_source_file(src(f, "parquet", fields={"text": "article"}), str(f), "en")
    assert got.rows["text"].to_list() == ["p one", "p two"]
    assert got.quarantine.select("row", "reason").rows() == [(3, "empty 'article'")]

    wrong = read_source_file(src(f, "parquet"), str(f), "en")  # looks for column `text`
    assert wrong.rows.is_empty()
    assert len(wrong.quarantine) == 1
    assert wrong.quarantine["row"][0] is None
    assert "no column 'text'" in wrong.quarantine["reason"][0]
    assert "article" in wrong.quarantine["reason"][0]  # says what it has instead


def test_unparseable_parquet_is_quarantined(tmp_path):
    f = tmp_path / "broken.parquet"
    f.write_bytes(b"PAR1 definitely not parquet")
    got = read_source_file(src(f, "parquet"), str(f), "en")
    assert got.rows.is_empty()
    assert "cannot parse Parquet" in got.quarantine["reason"][0]


ANNOTATED = [
    {"question": "What is the boiling point of water at sea level?", "answer": "100 °C.", "persona": "Be exact.",
     "passage": "At sea level water boils at 100 °C.", "annotator": "ann-1"},
    {"question": "Summarise:\n\"Two lines,\nwith a comma\"", "answer": "A short quoted text.", "persona": "",
     "passage": "", "annotator": "ann-2"},
    {"question": "Left blank", "answer": "  ", "persona": "", "passage": "", "annotator": "ann-1"},
    {"question": "", "answer": "No question", "persona": "", "passage": "", "annotator": "ann-3"},
    {"question": "What is the boiling point of water at sea level?", "answer": "100 °C.", "persona": "Be exact.",
     "passage": "On Everest water boils at about 70 °C; at sea level at 100 °C.", "annotator": "ann-2"},
]


MAPPING = {"prompt": "question", "response": "answer", "system": "persona", "context": "passage"}


def _annotator_file(tmp_path: Path, kind: str, frame: pl.DataFrame | None = None) -> Path:
    frame = pl.DataFrame(ANNOTATED) if frame is None else frame
    f = tmp_path / f"annotated.{kind}"
    if kind == "csv":
        frame.write_csv(f)
    else:
        frame.write_parquet(f)
    return f


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_annotator_table_becomes_pairs(tmp_path, kind):
    f = _annotator_file(tmp_path, kind)
    s = src(f, kind, fields=MAPPING, origin="human", license="CC-BY-4.0")
    assert s.table == "pairs"
    got = read_source_file(s, str(f), "en")
    assert got.table == "pairs" and got.rows.schema == PAIRS
    assert got.rows.select("prompt", "response", "system", "context").rows() == [
        ("What is the boiling point of water at sea level?", "100 °C.", "Be exact.",
         "At sea level water boils at 100 °C."),
        ("Summarise:\n\"Two lines,\nwith a comma\"", "A short quoted text.", None, None),
        ("What is the boiling point of water at sea level?", "100 °C.", "Be exact.",
         "On Everest water boils at about 70 °C; at sea level at 100 °C."),
    ]
    assert plain_turns(got.rows["messages"][0].to_list()) == [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "What is the boiling point of water at sea level?"},
        {"role": "assistant", "content": "100 °C."},
    ]
    assert [m["role"] for m in got.rows["messages"][1].to_list()] == ["user", "assistant"]
    assert set(got.rows["origin"]) == {"human"}
    assert got.rows["task"].null_count() == 3
    assert got.quarantine.select("row", "reason").rows() == [(3, "empty 'answer'"), (4, "empty 'question'")]
    ids = got.rows["id"].to_list()
    assert len(set(ids)) == 3  # same turns grounded in a different passage is a different pair
    assert read_source_file(s, str(f), "en").rows["id"].to_list() == ids
    assert set(got.rows["source"]) == {"src"} and set(got.rows["license"]) == {"CC-BY-4.0"}


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_annotator_table_missing_mapped_column(tmp_path, kind):
    f = _annotator_file(tmp_path, kind, pl.DataFrame(ANNOTATED).drop("passage", "answer"))
    got = read_source_file(src(f, kind, fields=MAPPING, origin="human"), str(f), "en")
    assert got.table == "pairs" and got.rows.is_empty() and got.rows.schema == PAIRS
    assert len(got.quarantine) == 1 and got.quarantine["row"][0] is None
    reason = got.quarantine["reason"][0]
    assert "no column 'answer', 'passage'" in reason and "question" in reason


def test_annotator_table_minimal_mapping_and_imported_default(tmp_path):
    f = _annotator_file(tmp_path, "csv")
    s = src(f, "csv", fields={"prompt": "question", "response": "answer"})
    got = read_source_file(s, str(f), "en")
    assert len(got.rows) == 3 and set(got.rows["origin"]) == {"imported"}
    assert got.rows["system"].null_count() == got.rows["context"].null_count() == 3
    assert got.rows["id"].n_unique() == 2  # without the passage, rows 1 and 5 are the same pair
    # pairs without a context keep the id scheme of the other pair formats
    pc = jsonl(tmp_path / "pc.jsonl", [{"prompt": ANNOTATED[0]["question"], "completion": ANNOTATED[0]["answer"]}])
    assert read_source_file(src(pc, "prompt-completion"), str(pc), "en").rows["id"][0] == got.rows["id"][0]
