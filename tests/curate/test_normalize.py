"""tasks.curate.normalize: mojibake repair, Unicode form, control characters, whitespace and case over Polars frames."""

from __future__ import annotations

import json
import unicodedata

import ftfy
import polars as pl
import pytest
import trafilatura

from pairforge.tasks.core.recipe import CleanOptions
from pairforge.tasks.core.schema import DOCUMENTS, PAIRS
from pairforge.tasks.curate.normalize import fix_text_series, normalize_frame
from tests.conftest import CORPORA
from tests.ingest.helpers import plain_turns


def docs(*texts: str) -> pl.DataFrame:
    return pl.DataFrame(
        [{"id": f"d{i}", "doc_id": f"d{i}", "text": t, "source": "s", "uri": "u", "license": "MIT", "lang": "en"}
         for i, t in enumerate(texts)],
        schema=DOCUMENTS, orient="row",
    )


def pair(prompt: str, response: str, system: str | None = None, i: int = 0) -> dict:
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    return {"id": f"p{i}", "doc_id": f"p{i}", "prompt": prompt, "response": response, "messages": messages,
            "system": system, "source": "s", "uri": "u", "license": "MIT", "lang": "en", "origin": "imported"}


def pairs(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=PAIRS, orient="row")


# ---- normalize ---------------------------------------------------------------------------------

DECOMPOSED = "Cafe\u0301 na\u0131\u0308ve"  # e + combining acute; dotless i + combining diaeresis


def test_unicode_nfc_and_nfkc():
    kept, _ = normalize_frame(docs(DECOMPOSED, "ﬁne ①"), "documents", CleanOptions())
    assert kept["text"].to_list() == [unicodedata.normalize("NFC", DECOMPOSED), "ﬁne ①"]
    assert kept["text"][0].startswith("Café")  # composed: one code point
    kept, _ = normalize_frame(docs("ﬁne ①"), "documents", CleanOptions(unicode_form="NFKC"))
    assert kept["text"].to_list() == ["fine 1"]


def test_control_and_zero_width_characters_removed_but_tab_and_newline_kept():
    # fix_text off: ftfy would read the C1 character \x85 as the Windows-1252 byte it usually is (see below)
    kept, _ = normalize_frame(
        docs("a\x00b\x07c\x1bd\x7fe\x85f", "zero\u200bwidth\ufeff", "tab\there\nline"), "documents",
        CleanOptions(collapse_whitespace=False, fix_text=False),
    )
    assert kept["text"].to_list() == ["abcdef", "zerowidth", "tab\there\nline"]


def test_control_characters_kept_when_disabled():
    kept, _ = normalize_frame(docs("a\x07b"), "documents", CleanOptions(strip_control_chars=False))
    assert kept["text"].to_list() == ["a\x07b"]


def test_whitespace():
    text = "  lots   of\t\tspace\u00a0here \r\nwindows\rmac  \n\n\n\n\nfar   away  "
    kept, _ = normalize_frame(docs(text), "documents", CleanOptions())
    assert kept["text"].to_list() == ["lots of space here\nwindows\nmac\n\nfar away"]
    kept, _ = normalize_frame(docs(text), "documents", CleanOptions(collapse_whitespace=False))
    assert "lots   of" in kept["text"][0] and "\r" not in kept["text"][0]  # line endings always unified


def test_rows_too_short_after_cleaning_are_rejected_with_reason():
    df = docs("  \u200b \x00 ", "ok", "long enough text")
    kept, rejected = normalize_frame(df, "documents", CleanOptions(min_chars=1))
    assert kept["id"].to_list() == ["d1", "d2"]
    assert rejected["id"].to_list() == ["d0"]
    assert rejected["reason"].to_list() == ["shorter than 1 characters after normalisation"]

    kept, rejected = normalize_frame(df, "documents", CleanOptions(min_chars=5))
    assert kept["id"].to_list() == ["d2"]
    assert rejected["id"].to_list() == ["d0", "d1"]
    assert set(rejected["reason"]) == {"shorter than 5 characters after normalisation"}
    assert kept.columns == df.columns  # no helper columns leak into kept rows


def test_pairs_normalise_prompt_response_system_and_every_message():
    df = pairs(pair("  What\u200b   is  Cafe\u0301? ", "It\x07 is\n\n\n\na place.", system=" Be\tkind. ", i=0),
               pair("fine", "also fine", i=1))
    kept, rejected = normalize_frame(df, "pairs", CleanOptions())
    assert rejected.is_empty()
    row = kept.row(0, named=True)
    assert row["prompt"] == "What is Café?"
    assert row["response"] == "It is\n\na place."
    assert row["system"] == "Be kind."
    assert plain_turns(row["messages"]) == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "What is Café?"},
        {"role": "assistant", "content": "It is\n\na place."},
    ]
    assert kept.row(1, named=True)["system"] is None  # null stays null
    assert kept.schema == df.schema


def test_pairs_rejected_when_prompt_or_response_becomes_empty():
    df = pairs(pair("\u200b  ", "answer", i=0), pair("question", " \x00 ", i=1), pair("q", "a", i=2))
    kept, rejected = normalize_frame(df, "pairs", CleanOptions())
    assert kept["id"].to_list() == ["p2"]
    assert sorted(rejected["id"].to_list()) == ["p0", "p1"]
    assert rejected["reason"].str.starts_with("shorter than").all()




# ---- ftfy and lowercasing ---------------------------------------------------------------------

MOJIBAKE = "The Mona Lisa doesnÃ¢â‚¬â„¢t have eyebrows; cafÃ© â€œcrÃ¨meâ€\x9d"
REPAIRED = "The Mona Lisa doesn’t have eyebrows; café “crème”"


@pytest.fixture(scope="module")
def page_texts() -> list[str]:
    """Main text of the 50 shared web pages (en, de, fr, es): real, correctly encoded, mostly non-ASCII."""
    manifest = json.loads((CORPORA / "html" / "manifest.json").read_text())
    texts = [trafilatura.extract((CORPORA / "html" / m["file"]).read_text(errors="replace")) for m in manifest]
    return [t for t in texts if t]


def test_mojibake_repaired_in_documents_and_kept_without_fix_text():
    kept, _ = normalize_frame(docs(MOJIBAKE, "plain ascii"), "documents", CleanOptions())
    assert kept["text"].to_list() == [REPAIRED, "plain ascii"]
    kept, _ = normalize_frame(docs(MOJIBAKE), "documents", CleanOptions(fix_text=False))
    assert "Ã" in kept["text"][0]


def test_c1_characters_read_as_windows_1252():
    kept, _ = normalize_frame(docs("\x93quoted\x94 and \x85"), "documents", CleanOptions())
    assert kept["text"].to_list() == ["“quoted” and …"]


def test_real_pages_round_trip_through_mojibake(page_texts):
    """Text of real pages encoded as UTF-8 and misread as Windows-1252 comes back exactly as it was."""
    import ftfy.bad_codecs  # noqa: F401  registers sloppy-windows-1252 (bytes 1252 leaves undefined read as Latin-1)

    non_ascii = [t for t in page_texts if not t.isascii()]
    assert len(non_ascii) >= 40
    broken = [t.encode("utf-8").decode("sloppy-windows-1252") for t in non_ascii]
    assert all("Ã" in b or "â" in b or "Â" in b for b in broken)
    opts = CleanOptions(collapse_whitespace=False)
    fixed, _ = normalize_frame(docs(*broken), "documents", opts)
    expected, _ = normalize_frame(docs(*non_ascii), "documents", opts.model_copy(update={"fix_text": False}))
    same = sum(a == b for a, b in zip(fixed["text"], expected["text"], strict=True))
    assert same == len(non_ascii), f"{same}/{len(non_ascii)} pages repaired"


def test_correct_text_is_left_alone(page_texts):
    on, _ = normalize_frame(docs(*page_texts), "documents", CleanOptions())
    off, _ = normalize_frame(docs(*page_texts), "documents", CleanOptions(fix_text=False))
    assert on["text"].to_list() == off["text"].to_list()


def test_ftfy_runs_only_on_non_ascii_values(monkeypatch):
    seen: list[str] = []
    real = ftfy.fix_text

    def spy(text, config=None):
        seen.append(text)
        return real(text, config)

    monkeypatch.setattr(ftfy, "fix_text", spy)
    s = pl.Series(["ascii only", None, "cafÃ©", "more ascii", "naïve"])
    assert fix_text_series(s).to_list() == ["ascii only", None, "café", "more ascii", "naïve"]
    assert seen == ["cafÃ©", "naïve"]
    seen.clear()
    assert fix_text_series(pl.Series(["a", "b"], dtype=pl.String)).to_list() == ["a", "b"]
    assert seen == []


def test_mojibake_repaired_in_every_pair_field_and_message():
    df = pairs(pair("Was ist ein CafÃ©?", "Ein CafÃ© ist â€œgemÃ¼tlichâ€\x9d.", system="Sei nett, bitte Ã¼ben.", i=0),
               pair("plain", "also plain", i=1))
    df = df.vstack(pairs({**pair("x", "y", i=2), "messages": []}))
    kept, rejected = normalize_frame(df, "pairs", CleanOptions())
    assert rejected.is_empty()
    row = kept.row(0, named=True)
    assert (row["prompt"], row["response"], row["system"]) == (
        "Was ist ein Café?", "Ein Café ist “gemütlich”.", "Sei nett, bitte üben.")
    assert [m["content"] for m in row["messages"]] == [row["system"], row["prompt"], row["response"]]
    assert kept.row(1, named=True)["messages"][1]["content"] == "also plain"
    assert kept.row(2, named=True)["messages"] == []  # an empty conversation stays empty
    assert kept.schema == df.schema
    assert kept["id"].to_list() == ["p0", "p1", "p2"]


def test_lowercase_documents_and_pairs():
    kept, _ = normalize_frame(docs("Hello WORLD, Ärger in Köln"), "documents", CleanOptions(lowercase=True))
    assert kept["text"].to_list() == ["hello world, ärger in köln"]
    kept, _ = normalize_frame(docs("Hello"), "documents", CleanOptions())
    assert kept["text"].to_list() == ["Hello"]  # off by default
    kept, _ = normalize_frame(pairs(pair("What IS This?", "A Test.", system="Be BRIEF.")), "pairs",
                              CleanOptions(lowercase=True))
    row = kept.row(0, named=True)
    assert (row["prompt"], row["response"], row["system"]) == ("what is this?", "a test.", "be brief.")
    assert [m["content"] for m in row["messages"]] == ["be brief.", "what is this?", "a test."]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]


def test_fix_text_is_batched_not_per_row(monkeypatch):
    """One ftfy call per non-ASCII value, and the message contents of all rows go through one Series call."""
    import pairforge.tasks.curate.normalize as normalize

    batches: list[int] = []
    real = normalize.fix_text_series

    def spy(s, strip_control_chars=True):
        batches.append(len(s))
        return real(s, strip_control_chars)

    monkeypatch.setattr(normalize, "fix_text_series", spy)
    rows = [pair(f"Frage {i}: CafÃ©?", f"Antwort {i}", i=i) for i in range(50)]
    kept, _ = normalize_frame(pairs(*rows), "pairs", CleanOptions())
    assert kept["prompt"].to_list() == [f"Frage {i}: Café?" for i in range(50)]
    assert all(m[0]["content"].endswith("Café?") for m in kept["messages"])
    assert max(batches) == 100  # every user and assistant message at once
    assert len(batches) <= 5  # prompt, response, system, context, messages


def test_unicode_normalisation_after_repair_nfkc():
    kept, _ = normalize_frame(docs("ï¬\x81ne"), "documents", CleanOptions(unicode_form="NFKC"))
    assert kept["text"].to_list() == ["fine"]  # mojibake of the ligature, repaired, then folded
    assert unicodedata.is_normalized("NFKC", kept["text"][0])
