"""tasks.curate.langid: lingua language identification and routing, on the 50 shared web pages and crafted rows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
import trafilatura

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import LangIDOptions
from pairforge.tasks.core.schema import DOCUMENTS, PAIRS
from pairforge.tasks.core.shards import Shard, apply_row_stage
from pairforge.tasks.curate.filters import stop_words
from pairforge.tasks.curate.langid import ROWS, detector_codes, get_detector, identify_frame
from tests.conftest import CORPORA

# The manifest's `lang` is the page's <html lang> attribute, which is wrong on these pages: their main text
# is German or Spanish (read by hand; each is also checked against stop-word counts below).
MISLABELLED = {
    "pages/hr-innovation.org.enterprise.html": "de",  # "HR Innovation in einer Enterprise 2.0 ..."
    "pages/feuerwehrtaucher-oldenburg.de.ausbildung.html": "de",  # "Die Bootsführerausbildung in der Feuerwehr"
    "pages/boxen1.com-ring-ruckkehr.html": "de",  # "steigt am bevorstehenden Wochenende wieder in den Ring"
    "pages/simplyscience.ch.erdoel.html": "de",  # "Wie entsteht Erdöl?"
    "pages/ahlen.de.reparaturcafe.html": "de",  # "Ins Reparaturcafé kann jeder ..."
    "pages/100noticias.com-millones.html": "es",  # "Nicaragua cerró 2021 con una deuda externa ..."
    "pages/springer.com-produkte.html": "de",  # "Acht Produkte mit Sustainable Award in Finance prämiert"
}
PAGE_LANGS = ["en", "de", "fr", "es"]


def docs(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"id": f"d{i}", "doc_id": f"d{i}", "text": t, "source": "s", "uri": "u", "license": "MIT", "lang": lang}
         for i, (t, lang) in enumerate(rows)],
        schema=DOCUMENTS, orient="row",
    )


def pairs(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"id": f"p{i}", "doc_id": f"p{i}", "prompt": p, "response": r, "task": task, "source": "s",
          "license": "MIT", "lang": "en", "origin": "imported",
          "messages": [{"role": "user", "content": p}, {"role": "assistant", "content": r}]}
         for i, (p, r, task) in enumerate(rows)],
        schema=PAIRS, orient="row",
    )


@pytest.fixture(scope="module")
def pages() -> pl.DataFrame:
    manifest = json.loads((CORPORA / "html" / "manifest.json").read_text())
    rows = []
    for m in manifest:
        text = trafilatura.extract((CORPORA / "html" / m["file"]).read_text(encoding="utf-8", errors="replace"))
        rows.append({"file": m["file"], "manifest": m["lang"], "gold": MISLABELLED.get(m["file"], m["lang"]),
                     "text": text or ""})
    return pl.DataFrame(rows)


def stop_word_language(text: str) -> str:
    """The page language with the highest share of its stop words in the text (evidence independent of lingua)."""
    words = Counter(re.findall(r"[^\W\d_]+", text.lower()))
    total = max(1, sum(words.values()))
    lists = stop_words()
    return max(PAGE_LANGS, key=lambda lang: sum(words[w] for w in lists[lang]) / total)


def test_gold_labels_agree_with_stop_word_evidence(pages):
    assert len(pages) == 50 and (pages["text"].str.len_chars() > 200).all()
    evidence = [stop_word_language(t) for t in pages["text"]]
    assert evidence == pages["gold"].to_list()
    assert set(MISLABELLED) <= set(pages["file"])


def test_fifty_pages_identified(pages):
    df = docs(*[(t, "en") for t in pages["text"]])
    codes = detector_codes(LangIDOptions(), PAGE_LANGS)
    started = time.perf_counter()
    get_detector(codes)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    kept, rejected = identify_frame(df, "documents", LangIDOptions(), PAGE_LANGS)
    detect_s = time.perf_counter() - started
    assert rejected.is_empty()
    found = kept["lang"].to_list()
    correct = sum(f == g for f, g in zip(found, pages["gold"], strict=True))
    vs_manifest = sum(f == g for f, g in zip(found, pages["manifest"], strict=True))
    chars = df["text"].str.slice(0, LangIDOptions().max_chars).str.len_chars().sum()
    print(f"\nlangid: {correct}/50 correct ({correct / 50:.0%}); {vs_manifest}/50 agree with the manifest's html "
          f"lang; detector for {len(codes)} languages loaded in {load_s:.2f} s; 50 pages in {detect_s:.3f} s "
          f"({chars / detect_s / 1e6:.1f} M chars/s)")
    assert correct / 50 >= 0.95
    assert (kept["lang_score"] >= 0.5).all()
    disagreements = {f for f, x, m in zip(pages["file"], found, pages["manifest"], strict=True) if x != m}
    assert disagreements <= set(MISLABELLED)
    # the default prefix (300 characters) decides every page as 2,000 did, with the same confidence
    wide, _ = identify_frame(df, "documents", LangIDOptions(max_chars=2000), PAGE_LANGS)
    assert wide["lang"].to_list() == found
    assert (wide["lang_score"] - kept["lang_score"]).abs().max() < 1e-6


def test_detector_built_once_per_candidate_set():
    opts = LangIDOptions()
    assert detector_codes(opts, ["en"]) == detector_codes(opts.model_copy(update={
        "candidates": list(reversed(opts.candidates))}), ["EN"])
    assert get_detector(detector_codes(opts, ["en"])) is get_detector(detector_codes(opts, ["en-GB"]))
    small = detector_codes(LangIDOptions(candidates=["de"]), ["en"])
    assert small == ("de", "en")
    assert get_detector(small) is not get_detector(detector_codes(opts, ["en"]))
    # shards mapped onto threads share one detector
    with ThreadPoolExecutor(4) as pool:
        built = list(pool.map(get_detector, [("es", "it")] * 4))
    assert all(d is built[0] for d in built)


GERMAN = ("Die Bundesregierung hat am Mittwoch beschlossen, die Steuern für kleine und mittlere Unternehmen im "
          "kommenden Jahr deutlich zu senken.")
ENGLISH = "The government decided on Wednesday to cut taxes for small and medium-sized businesses next year."


def test_routing_by_recipe_languages():
    df = docs((GERMAN, "en"), (ENGLISH, "en"), ("OK", "en"), ("Taxi", "de"), ("", "en"), ("42 !!", "fr"))
    kept, rejected = identify_frame(df, "documents", LangIDOptions(), ["en"])
    assert rejected["id"].to_list() == ["d0"]
    assert rejected["reason"].to_list() == ["language de not in recipe languages (en)"]
    assert rejected["lang"].to_list() == ["de"] and rejected["lang_score"][0] > 0.9
    by_id = {r["id"]: r for r in kept.iter_rows(named=True)}
    assert by_id["d1"]["lang"] == "en" and by_id["d1"]["lang_score"] > 0.9
    # tiny, ambiguous texts: uncertain, so they keep their source's language and are not routed
    assert (by_id["d2"]["lang"], by_id["d3"]["lang"]) == ("en", "de")
    assert by_id["d2"]["lang_score"] < 0.5 and by_id["d3"]["lang_score"] < 0.5
    # no letters, nothing to identify
    assert (by_id["d4"]["lang"], by_id["d4"]["lang_score"]) == ("en", 0.0)
    assert (by_id["d5"]["lang"], by_id["d5"]["lang_score"]) == ("fr", 0.0)
    assert kept.columns == df.columns and rejected.columns == [*df.columns, "reason"]

    kept, rejected = identify_frame(df, "documents", LangIDOptions(), ["en", "de"])
    assert rejected.is_empty()
    assert kept.filter(pl.col("id") == "d0")["lang"].to_list() == ["de"]

    # a stricter threshold leaves the German row uncertain too
    kept, rejected = identify_frame(df, "documents", LangIDOptions(min_confidence=1.0), ["en"])
    assert rejected.is_empty()
    assert kept.filter(pl.col("id") == "d0")["lang"].to_list() == ["en"]


def test_text_cut_to_max_chars():
    mixed = ENGLISH * 3 + " " + GERMAN * 10  # English first, then a lot of German
    kept, _ = identify_frame(docs((mixed, "en")), "documents", LangIDOptions(max_chars=250), ["en", "de"])
    assert kept["lang"].to_list() == ["en"]
    kept, _ = identify_frame(docs((mixed, "en")), "documents", LangIDOptions(max_chars=5000), ["en", "de"])
    assert kept["lang"].to_list() == ["de"]


def test_a_row_is_read_further_before_it_is_rejected():
    """A reference in another language at the start of an English document (a real one, from the shared Wikipedia
    dump) fills most of the 300-character prefix: the row is read up to 4 x max_chars before it is rejected, and
    kept; a document that is French throughout is still rejected."""
    reference = ("L’influence de la philosophie schopenhauerienne dans la vie et l’oeuvre de Richard Wagner; et, "
                 "Qu’est-ce qui séduit, obsède, magnétise le philosophe dans l’art des sons? deux études en "
                 "esthétique musicale, Université du Québec à Montréal, Département de musique, 2000.")
    french = ("Le gouvernement a décidé mercredi de réduire les impôts des petites et moyennes entreprises l’an "
              "prochain, et l’opposition a fait savoir qu’elle ne s’y opposerait pas. ")
    english = ("The composer spent the winter in Zurich, where he finished the second act and wrote to his publisher "
               "almost every week. His letters from that year describe long walks by the lake, quarrels with the "
               "theatre management and a growing interest in the philosopher's writings on music. Critics who heard "
               "the first performance were divided: some praised the orchestration, others found the libretto far "
               "too long. Within a decade the opera was staged in most of the major houses of Europe, and the "
               "arguments about it filled the newspapers of several countries.")
    df = docs((f"{reference} {english}", "en"), (french * 8, "en"))
    opts = LangIDOptions()
    assert opts.max_chars == 300
    # read on its first 300 characters alone, the English document is French
    prefix_only, _ = identify_frame(docs((df["text"][0][:opts.max_chars], "en")), "documents", opts, ["en"])
    assert prefix_only.is_empty()
    kept, rejected = identify_frame(df, "documents", opts, ["en"])
    assert kept["id"].to_list() == ["d0"] and kept["lang"].to_list() == ["en"] and kept["lang_score"][0] > 0.9
    assert rejected["id"].to_list() == ["d1"] and rejected["lang"].to_list() == ["fr"]


def test_pairs_use_prompt_and_response_and_skip_translation():
    df = pairs(
        ("Was beschließt die Bundesregierung?", GERMAN, "qa"),
        ("Translate into German: " + ENGLISH, GERMAN, "translation"),
        ("What did the government decide?", ENGLISH, "qa"),
    )
    kept, rejected = identify_frame(df, "pairs", LangIDOptions(), ["en"])
    assert rejected["id"].to_list() == ["p0"]
    assert rejected["reason"].to_list() == ["language de not in recipe languages (en)"]
    skipped = kept.filter(pl.col("id") == "p1").row(0, named=True)
    assert skipped["lang"] == "en" and skipped["lang_score"] is None  # not identified
    assert kept.filter(pl.col("id") == "p2")["lang_score"][0] > 0.9
    assert kept.schema == df.schema

    kept, rejected = identify_frame(df, "pairs", LangIDOptions(skip_tasks=[]), ["en"])
    assert sorted(rejected["id"].to_list()) == ["p0", "p1"]


def test_punctuation_splits_words_as_lingua_does():
    # the demo chat: with "!" removed the words ran together ("bananaEat") and lingua read Swedish at 0.51,
    # over min_confidence; split at the "!" the row scores as lingua scores the raw text (sv 0.39, kept)
    df = pairs(("I'm hungry.", "Eat a banana!" * 20, "chat"))
    kept, rejected = identify_frame(df, "pairs", LangIDOptions(), ["en"])
    assert rejected.is_empty() and kept["id"].to_list() == ["p0"]


def test_tables_not_listed_pass_through_and_unknown_recipe_language_never_routes():
    df = docs((GERMAN, "en"))
    kept, rejected = identify_frame(df, "documents", LangIDOptions(tables=["pairs"]), ["en"])
    assert kept.equals(df) and rejected.is_empty()
    # "tlh" is no lingua language: German text might be Klingon as far as the detector knows
    kept, rejected = identify_frame(df, "documents", LangIDOptions(), ["en", "tlh"])
    assert rejected.is_empty()
    assert kept["lang"].to_list() == ["de"] and kept["lang_score"][0] > 0.9


def test_langid_shard_writes_kept_and_rejected(tmp_path):
    work = str(tmp_path / "work")
    uri = str(tmp_path / "in.parquet")
    storage.write_parquet(docs((GERMAN, "en"), (ENGLISH, "en")), uri)
    res = apply_row_stage.fn("langid", Shard("documents", "src-0", uri, 2), (LangIDOptions(), ["en"]), work)
    assert res.rejected == {"language de not in recipe languages (en)": 1}
    kept = storage.read_parquet(res.shard.uri)
    assert kept["id"].to_list() == ["d1"] and res.shard.rows == 1
    assert res.rejected_uri == str(tmp_path / "work" / "rejected" / "documents" / "langid-src-0.parquet")
    assert storage.read_parquet(res.rejected_uri)["id"].to_list() == ["d0"]
    # the stage reads its options from the recipe, and is off when langid is
    recipe = SimpleNamespace(langid=LangIDOptions(tables=["documents"]), languages=["en"])
    assert ROWS.tables(recipe) == ["documents"] and ROWS.options(recipe) == (recipe.langid, ["en"])
    recipe.langid = LangIDOptions(enabled=False)
    assert ROWS.options(recipe) is None


def test_urls_do_not_sway_the_detector():
    """A real case from the Self-Instruct tasks: an English request answered with Spotify links read as German."""
    prompt = ("Choose Spotify playlists that match the given mood. Provide a link to these playlists for easy "
              "access.\n\nFeeling Good")
    response = ("- https://open.spotify.com/playlist/37i9dQZF1DX9XIFQuFvzM4\n"
                "- https://open.spotify.com/playlist/37i9dQZF1DXcEKFjZJYZcc")
    kept, rejected = identify_frame(pairs((prompt, response, "instruction")), "pairs", LangIDOptions(), ["en"])
    assert rejected.is_empty()
    assert kept["lang"].to_list() == ["en"] and kept["lang_score"][0] > 0.9
    kept, _ = identify_frame(docs((f"Mail info@example.org or see www.example.com/über. {GERMAN}", "en")),
                             "documents", LangIDOptions(), ["en", "de"])
    assert kept["lang"].to_list() == ["de"]


def test_default_candidates_still_reject_the_languages_left_out():
    """Danish and Czech are no default candidates (each Latin-script candidate costs detection time): their texts
    read as other candidates and are rejected all the same, like Tagalog (as Indonesian) and Azerbaijani (as
    Turkish), which never were candidates. Real words from faker's per-locale word lists."""
    from faker import Faker

    opts = LangIDOptions()
    assert {"da", "cs"}.isdisjoint(opts.candidates) and len(opts.candidates) == 23
    rows = []
    for locale in ("da_DK", "cs_CZ", "tl_PH", "az_AZ", "vi_VN", "pl_PL"):
        fake = Faker(locale)
        fake.seed_instance(7)
        rows += [(" ".join(fake.words(nb=80)), "en") for _ in range(5)]
    kept, rejected = identify_frame(docs(*rows), "documents", opts, ["en"])
    assert kept.is_empty() and len(rejected) == 30
    assert (rejected["lang_score"] >= 0.5).all() and "en" not in rejected["lang"].to_list()
    # with Danish asked for, Danish text is recognised as such
    kept, _ = identify_frame(docs(*rows[:5]), "documents", opts, ["en", "da"])
    assert kept["lang"].to_list() == ["da"] * 5


def test_long_texts_load_only_the_trigram_models():
    """The detector is not preloaded: lingua scores a text of 120+ characters on trigrams alone, so a corpus of long
    documents never loads the other n-gram models (preloading all of them for the default candidates took 8-16 s
    and ~0.6 GB per process)."""
    code = """
import polars as pl
from pairforge.tasks.core.recipe import LangIDOptions
from pairforge.tasks.core.schema import DOCUMENTS
from pairforge.tasks.curate.langid import identify_frame
# a league table first: 300 characters of it leave lingua (which drops digits and punctuation) under 120, which
# loaded every n-gram model when the prefix was cut before cleaning (peak 492 MB)
text = "1. Arsenal 38 26 9 3 73 26 +47 87 2. Liverpool 38 25 7 6 64 25 +39 82 " * 4 + (
    "The government decided on Wednesday to cut taxes for small and medium-sized businesses next year. "
    "Die Bundesregierung hat am Mittwoch beschlossen, die Steuern zu senken. ") * 3
df = pl.DataFrame([{"id": str(i), "doc_id": str(i), "text": text, "source": "s", "uri": "u", "license": "MIT",
                    "lang": "en"} for i in range(20)], schema=DOCUMENTS, orient="row")
identify_frame(df, "documents", LangIDOptions(), ["en", "de"])
before = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) // 1024
identify_frame(df.with_columns(pl.lit("Tax cuts for small firms").alias("text")), "documents", LangIDOptions(), ["en"])
after = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) // 1024
print(before, after)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    long_only, with_short = map(int, out.stdout.split()[-2:])
    assert long_only < 450, long_only  # polars, lingua and 15 Latin-script trigram models
    assert with_short > long_only + 100  # a short text loads the other n-gram models, on first use only
