"""tasks.curate.filters: Gopher, C4 and FineWeb rules and token bounds on real news, Wikipedia and crafted bad
documents."""

from __future__ import annotations

import bz2
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from types import SimpleNamespace

import polars as pl
import pytest

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import (
    C4Rules,
    FilterOptions,
    FineWebRules,
    GopherQuality,
    GopherRepetition,
    TokenBounds,
)
from pairforge.tasks.core.schema import DOCUMENTS, PAIRS
from pairforge.tasks.core.shards import Shard, apply_row_stage
from pairforge.tasks.curate.filters import ROWS, TEXT, WORD, evaluate, filter_frame, ngram_stats, stop_words
from pairforge.tasks.data import DATA
from pairforge.tasks.publish.tokenizer import get_tokenizer
from tests.conftest import CORPORA

ON = FilterOptions(enabled=True)
LEE = [line.strip() for line in (CORPORA / "text" / "lee_background.cor").read_text(encoding="utf-8").splitlines()]
# a real article that passes every default rule (checked below); crafted documents start from it
ARTICLE = LEE[0]


def docs(*texts: str, lang: str = "en") -> pl.DataFrame:
    return pl.DataFrame(
        [{"id": f"d{i}", "doc_id": f"d{i}", "text": t, "source": "s", "uri": "u", "license": "MIT", "lang": lang}
         for i, t in enumerate(texts)],
        schema=DOCUMENTS, orient="row",
    )


def broken_rules(text: str, opts: FilterOptions = ON, lang: str = "en") -> list[str]:
    work, names = evaluate(docs(text, lang=lang), "documents", opts)
    return [n for n in names if work[n][0]]


def sentences(text: str) -> list[str]:
    return re.findall(r"[^.!?]+[.!?]", text)


def test_article_passes_every_rule():
    assert broken_rules(ARTICLE) == []


def test_lee_news_mostly_pass_the_default_rules():
    df = docs(*LEE)
    work, names = evaluate(df, "documents", ON)
    pass_rates = {n: 1 - work[n].mean() for n in names}
    kept, rejected = filter_frame(df, "documents", ON)
    share = len(kept) / len(df)
    print(f"\nlee_background: {len(kept)}/{len(df)} documents pass ({share:.1%}); rejected: "
          f"{dict(rejected['reason'].value_counts().iter_rows())}")
    for name, rate in pass_rates.items():
        print(f"  {rate:7.2%}  {name}")
    assert share >= 0.95
    assert all(rate >= 0.98 for rate in pass_rates.values()), pass_rates
    assert len(kept) + len(rejected) == len(df)
    assert kept["text"].to_list() == [t for t in LEE if t in set(kept["text"])]  # no C4 edits on clean news


@pytest.fixture(scope="module")
def wiki_texts() -> list[str]:
    """Plain text of the first 50 articles of the shared Wikipedia dump (templates and markup stripped crudely)."""
    import mwparserfromhell

    root = ET.fromstring(bz2.open(CORPORA / "text" / "enwiki-shortened.xml.bz2").read())
    ns = root.tag.split("}")[0] + "}"
    texts = []
    for page in root.iter(f"{ns}page"):
        wikitext = page.findtext(f"{ns}revision/{ns}text") or ""
        if page.find(f"{ns}redirect") is not None or wikitext.lower().startswith("#redirect"):
            continue
        texts.append(re.sub(r"\n{3,}", "\n\n", mwparserfromhell.parse(wikitext).strip_code()).strip())
        if len(texts) == 50:
            break
    return texts


def test_wikipedia_articles(wiki_texts):
    kept, rejected = filter_frame(docs(*wiki_texts), "documents", ON)
    print(f"\nwikipedia: {len(kept)}/{len(wiki_texts)} pass; {dict(rejected['reason'].value_counts().iter_rows())}")
    assert len(kept) / len(wiki_texts) >= 0.7
    for row in rejected.iter_rows(named=True):  # each reason is true of the text it names
        if row["reason"] == "c4: contains '{'":
            assert "{" in row["text"]


# ---- crafted documents: each trips the rule it was made for ----------------------------------------


def test_lorem_ipsum():
    assert broken_rules(ARTICLE + " Lorem ipsum dolor sit amet.") == ["c4: contains 'lorem ipsum'"]
    filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt. " * 8
    _, rejected = filter_frame(docs(filler), "documents", ON)
    assert rejected["reason"].to_list() == ["c4: contains 'lorem ipsum'"]


def test_curly_brace_code():
    assert broken_rules(f"{ARTICLE} The form showed {{name}} instead of a name.") == ["c4: contains '{'"]


def test_javascript_and_cookie_lines_removed_from_kept_text():
    noisy = "\n".join(["Please enable JavaScript to view this page.", ARTICLE,
                       "This website uses cookies. Read our Cookie Policy.", "Terms of Use | Privacy Policy"])
    kept, rejected = filter_frame(docs(noisy), "documents", ON)
    assert rejected.is_empty()
    assert kept["text"].to_list() == [ARTICLE]
    assert kept.columns == list(DOCUMENTS)


def test_document_of_boilerplate_lines_only_is_rejected_not_emptied():
    only = "We use cookies to improve your experience.\nJavaScript is required.\nPrivacy Policy"
    kept, rejected = filter_frame(docs(only), "documents", ON)
    assert kept.is_empty()
    assert rejected["reason"].to_list() == ["c4: no text left after line removal"]
    assert rejected["text"].to_list() == [only]  # rejected rows keep the text they arrived with


def test_repeated_lines():
    lines = [*sentences(ARTICLE)[:4], *["Click here to subscribe to our newsletter today."] * 6]
    text = "\n".join(lines)
    assert broken_rules(text)[0] == "gopher_repetition: more than 30% of lines repeated"
    _, rejected = filter_frame(docs(text), "documents", ON)
    assert rejected["reason"].to_list() == ["gopher_repetition: more than 30% of lines repeated"]


def test_most_frequent_bigram():
    spam = " ".join(["cheap watches"] * 40)
    assert broken_rules(f"{ARTICLE} {spam}")[0] == (
        "gopher_repetition: most frequent 2-gram holds more than 20% of characters")


def test_repeated_long_ngrams():
    copied = " ".join(s.strip() for s in sentences(ARTICLE)[:4])  # a third of the article, pasted again
    limits = {5: 15, 6: 14, 7: 13, 8: 12, 9: 11, 10: 10}
    assert broken_rules(f"{ARTICLE} {copied}") == [
        f"gopher_repetition: repeated {n}-grams hold more than {pct}% of characters" for n, pct in limits.items()]
    # with the 5-10-gram rules off, the same document passes
    opts = ON.model_copy(update={"gopher_repetition": GopherRepetition(max_dup_ngram_char_fraction={})})
    assert broken_rules(f"{ARTICLE} {copied}", opts) == []


def reference_ngram_stats(text: str, n: int) -> tuple[int, int]:
    """The documented definitions, one document at a time: (count x characters of the most frequent n-gram if
    it occurs twice or more, characters of the words covered by a repeat occurrence of an n-gram)."""
    words = re.findall(WORD, text)
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    counts = Counter(grams)
    top = max(((c, len(" ".join(g))) for g, c in counts.items() if c >= 2), default=(0, 0))
    seen, covered = set(), set()
    for i, g in enumerate(grams):
        if g in seen:
            covered.update(range(i, i + n))
        seen.add(g)
    return top[0] * top[1], sum(len(words[i]) for i in covered)


def test_vectorised_ngram_stats_match_a_per_document_reference(wiki_texts):
    texts = [*LEE[:100], *wiki_texts[:20], "", "one", f"{ARTICLE} {ARTICLE}", "a a a a a a a a b a a a a"]
    df = docs(*texts).with_columns(pl.col("text").alias(TEXT))
    stats = ngram_stats(df, [2, 3, 4], [5, 10])
    for n in (2, 3, 4, 5, 10):
        expected = [reference_ngram_stats(t, n) for t in texts]
        if n <= 4:
            assert stats[f"_f_top{n}"].to_list() == [top for top, _ in expected], n
        else:
            assert stats[f"_f_dup{n}"].to_list() == [dup for _, dup in expected], n
    assert stats["_f_dup5"][len(texts) - 2] > 0.45 * len(ARTICLE)  # the pasted copy


def test_hashtag_soup():
    text = " ".join(f"#{w}" for w in ARTICLE.split())
    assert broken_rules(text) == ["gopher_quality: more than 0.1 '#' per word"]


def test_symbol_soup():
    soup = " ".join(f"{w} %%& ++ @@ ==" for w in ARTICLE.split()[:80])
    assert broken_rules(soup)[0] == "gopher_quality: fewer than 80% of words contain a letter"
    assert "gopher_quality: fewer than 80% of words contain a letter" in broken_rules(soup)


def test_ellipsis_lines_and_bullets():
    parts = sentences(ARTICLE)
    trailing = "\n".join(s.rstrip(".") + "..." for s in parts)
    assert broken_rules(trailing) == ["gopher_quality: more than 30% of lines end with an ellipsis"]
    bullets = "\n".join(f"• {s.strip()}" for s in parts)
    assert broken_rules(bullets) == ["gopher_quality: more than 90% of lines start with a bullet"]


def test_too_few_words_and_disabled_threshold():
    short = " ".join(sentences(ARTICLE)[:2])
    assert broken_rules(short) == ["gopher_quality: fewer than 50 words"]
    opts = ON.model_copy(update={"gopher_quality": GopherQuality(min_words=None)})
    assert broken_rules(short, opts) == []


def test_stop_words_use_the_rows_language():
    german = ("Die Bundesregierung hat am Mittwoch beschlossen, die Steuern für kleine und mittlere Unternehmen "
              "im kommenden Jahr deutlich zu senken. Der Finanzminister sagte, das Paket sei mit den Ländern "
              "abgestimmt und werde die Wirtschaft nach einem schwierigen Winter stärken. Kritiker aus der "
              "Opposition bemängeln dagegen, dass die Entlastung vor allem großen Betrieben zugutekomme und "
              "die Kommunen am Ende die Rechnung bezahlen müssten. Eine Entscheidung im Parlament wird für den "
              "Herbst erwartet.")
    assert broken_rules(german, lang="de") == []
    assert broken_rules(german, lang="en") == ["gopher_quality: fewer than 2 stop words"]
    assert "pl" not in stop_words()
    assert broken_rules(german, lang="pl") == []  # no list for Polish: the rule does not apply
    assert broken_rules(german, lang="de-AT") == []  # region subtags use the language's list


def test_fineweb_rules():
    parts = [s.strip() for s in sentences(ARTICLE)]
    no_punct = "\n".join(s.rstrip(".") for s in parts)
    assert broken_rules(no_punct) == ["fineweb: fewer than 12% of lines end in punctuation"]
    words = ARTICLE.split()
    listy = "\n".join(" ".join(words[i:i + 3]) for i in range(0, len(words), 3))
    assert "fineweb: 67% or more of lines have at most 30 characters" in broken_rules(listy)
    only_breaks = ON.model_copy(update={
        "fineweb": FineWebRules(min_line_punct_ratio=None, max_short_line_ratio=None),
        "gopher_quality": GopherQuality(max_ellipsis_lines_ratio=None)})
    assert broken_rules(listy, only_breaks) == ["fineweb: more than 0.3 line breaks per word"]
    twice = "\n".join([*parts, parts[0]])
    assert broken_rules(twice) == ["fineweb: duplicated lines hold 1% or more of characters"]


def test_c4_line_options_and_min_sentences():
    opts = ON.model_copy(update={"c4": C4Rules(drop_lines_without_terminal_punctuation=True, min_words_per_line=3,
                                               min_sentences=5)})
    menu = "Home\nNews | Sport | Weather\n" + ARTICLE + "\nRead more\nShare this article on"
    kept, _ = filter_frame(docs(menu), "documents", opts)
    assert kept["text"].to_list() == [ARTICLE]
    assert len(sentences(ARTICLE)) >= 5
    three = " ".join(sentences(ARTICLE)[:3])
    _, rejected = filter_frame(docs(three), "documents",
                               opts.model_copy(update={"gopher_quality": GopherQuality(min_words=None)}))
    assert rejected["reason"].to_list() == ["c4: fewer than 5 sentences"]


def test_token_bounds_counted_with_the_local_tokenizer():
    n = get_tokenizer().count([ARTICLE])[0]
    assert n > 50

    def reasons(bounds: TokenBounds) -> list[str]:
        _, rejected = filter_frame(docs(ARTICLE), "documents", ON.model_copy(update={"tokens": bounds}))
        return rejected["reason"].to_list()

    assert reasons(TokenBounds(min_tokens=n, max_tokens=n)) == []
    assert reasons(TokenBounds(max_tokens=n - 1)) == [f"tokens: more than {n - 1} tokens"]
    assert reasons(TokenBounds(min_tokens=n + 1)) == [f"tokens: fewer than {n + 1} tokens"]
    # a row another rule rejects keeps that rule as its reason
    _, rejected = filter_frame(docs("Too short to count."), "documents",
                               ON.model_copy(update={"tokens": TokenBounds(min_tokens=1000)}))
    assert rejected["reason"].to_list() == ["gopher_quality: fewer than 50 words"]


def test_every_rule_set_can_be_switched_off():
    off = FilterOptions(enabled=True, gopher_quality=GopherQuality(enabled=False),
                        gopher_repetition=GopherRepetition(enabled=False), c4=C4Rules(enabled=False),
                        fineweb=FineWebRules(enabled=False))
    kept, rejected = filter_frame(docs("Lorem ipsum {", "x"), "documents", off)
    assert len(kept) == 2 and rejected.is_empty()


# ---- pairs, tables, the task ------------------------------------------------------------------------


def pairs_frame(*rows: tuple[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"id": f"p{i}", "doc_id": f"p{i}", "prompt": p, "response": r, "source": "s", "license": "MIT",
          "lang": "en", "origin": "imported", "task": "qa",
          "messages": [{"role": "user", "content": p}, {"role": "assistant", "content": r}]}
         for i, (p, r) in enumerate(rows)],
        schema=PAIRS, orient="row",
    )


def test_pairs_are_judged_on_prompt_and_response_and_never_edited():
    parts = sentences(ARTICLE)
    prompt = "Summarise this report. Privacy Policy\n" + " ".join(parts[:2])
    good = (prompt, " ".join(parts[2:]))
    bad = ("What does lorem ipsum mean?", " ".join(parts))
    opts = FilterOptions(enabled=True, tables=["pairs"])
    kept, rejected = filter_frame(pairs_frame(good, bad), "pairs", opts)
    assert kept["prompt"].to_list() == [prompt]  # the policy line counted as removed, the pair left as it is
    assert rejected["reason"].to_list() == ["c4: contains 'lorem ipsum'"]
    # pairs are not filtered unless listed in `tables`
    kept, rejected = filter_frame(pairs_frame(good, bad), "pairs", ON)
    assert len(kept) == 2 and rejected.is_empty()


def test_filter_shard_writes_kept_and_rejected(tmp_path):
    work = str(tmp_path / "work")
    df = docs(ARTICLE, "Lorem ipsum dolor sit amet.", "Cookie policy\n" + LEE[1])
    uri = str(tmp_path / "in.parquet")
    storage.write_parquet(df, uri)
    res = apply_row_stage.fn("filters", Shard("documents", "src-0", uri, len(df)), ON, work)
    assert res.rejected == {"c4: contains 'lorem ipsum'": 1}
    assert res.shard.rows == 2 and res.shard.lineage
    kept = storage.read_parquet(res.shard.uri)
    assert kept["text"].to_list() == [ARTICLE, LEE[1]]
    rejected = storage.read_parquet(str(tmp_path / "work" / "rejected" / "documents" / "filters-src-0.parquet"))
    assert rejected["id"].to_list() == ["d1"] and rejected["reason"].to_list() == ["c4: contains 'lorem ipsum'"]
    # the stage applies to the tables the recipe names (the build passes the others through)
    assert ROWS.tables(SimpleNamespace(filters=ON)) == ON.tables
    assert ROWS.options(SimpleNamespace(filters=ON.model_copy(update={"enabled": False}))) is None


def test_stop_word_lists_are_well_formed():
    data = json.loads((DATA / "stopwords.json").read_text(encoding="utf-8"))
    assert data["source"]
    assert sorted(data["languages"]["en"]) == sorted(["the", "be", "to", "of", "and", "that", "have", "with"])
    for lang, words in data["languages"].items():
        assert words == [w.lower() for w in words] and len(set(words)) == len(words), lang
        assert all(re.fullmatch(r"\w+", w) for w in words), lang
    assert stop_words()["de"] == frozenset(data["languages"]["de"])
