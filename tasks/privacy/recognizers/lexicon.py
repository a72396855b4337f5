"""The words the person and address rules judge by: honorifics, titles, name particles, words that are nobody's
name, census first and last names, and an English dictionary (`Lexicon`, built once by `get_lexicon`).

Not a recognizer: a helper shared by `person`, `street_address`, `casing` and the scrubber (`tasks/privacy/pii.py`).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass

from pairforge.tasks.data import DATA

# a word: letters, with inner apostrophes or hyphens ("O'Brien", "Jean-Luc")
WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

HONORIFICS = frozenset(
    """mr mrs ms miss mx dr prof sir dame madam madame mme mlle lady lord rev fr herr frau hr sr sra srta señor
    señora señorita don doña dona signor signora sig monsieur mister missus mevrouw mevr dhr pan pani""".split()
)
# occupational and family titles: a capitalised name-like word after one is a name
ROLE_TITLES = frozenset(
    """detective det officer agent inspector sergeant sgt captain capt lieutenant lt judge justice senator
    congressman congresswoman governor mayor president professor doctor nurse coach pastor reverend father sister
    brother uncle aunt auntie grandma grandpa granny cousin saint""".split()
)
# name particles allowed inside a name: "Ludwig van Beethoven", "Maria de la Cruz"
PARTICLES = frozenset("van von der den de del della di da dos das du la le bin ibn al el ter ten zu".split())
# capitalised words that follow "Dear"/"Hi" etc. but are nobody's name
GENERIC_ADDRESSEES = frozenset(
    """all everyone everybody team there sir madam madame customer customers client friend friends colleague
    colleagues guys folks user users admin support sales hiring manager committee member members reader readers
    world mom mum dad you again bot""".split()
)
# first names that are ordinary English words as well; kept out of the rules that trust a first name on its own
AMBIGUOUS_FIRST = frozenset(
    """will may mark bill frank grant rose joy hope june april august guy jack ray dawn grace faith rich sandy art
    max dean lane dale glen glenn chase carter mason hunter angel amber crystal ruby pearl holly daisy iris ivy
    violet hazel penny misty brandy sue pat jan lee gene ken don ben sam tom bob ted nick rex earl earnest noble
    major king prince princess queen baron sterling jean robin summer autumn winter spring sky star sunny honey
    candy ginger olive cherry sherry stormy dusty rusty buddy buck bud chuck cliff dick drew jimmy jerry lance
    marshall warren wade cole miles price rod pierce reed heath forest clay chance cash duke hank jewel lacy merry
    patience charity constance felicity liberty destiny harmony melody trinity verity virginia georgia florida
    dakota india china paris kenya jordan houston dallas denver austin lincoln milan venice verona sydney geneva
    florence orlando cleveland columbus trinidad israel asia america an in so ok see long young many man love lady
    miss son sun moon song era echo eve genesis numbers page marine royal golden young will unity early said
    else""".split()
)
NON_NAME_WORDS = frozenset(
    """i me my mine we us our you your he him his she her they them their it its this that these those a an the
    and or but if then so to of in on at by for with from as is are was were be been am do does did have has had
    not no yes ok okay please thanks thank hi hello hey dear regards best cheers yours sincerely
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
    september october november december i'm i've i'll i'd it's he's she's that's there's let's don't can't won't
    isn't didn't doesn't""".split()
)


@dataclass(frozen=True)
class Lexicon:
    first: frozenset[str]
    last: frozenset[str]
    words: frozenset[str]  # English dictionary words (lower case): WordNet lemmas of the spaCy model + stop words
    nonnoun: frozenset[str] = frozenset()  # of those: adjectives, verbs, adverbs, stop words ("Irish", "said")

    def common(self, low: str) -> bool:
        """An English dictionary word (or a plain inflection of one)."""
        if low in self.words:
            return True
        for suffix, repl in (("'s", ""), ("’s", ""), ("s", ""), ("es", ""), ("ies", "y"), ("ed", ""), ("ed", "e"),
                             ("ing", ""), ("ing", "e"), ("ly", ""), ("er", ""), ("est", "")):  # fmt: skip
            if low.endswith(suffix) and len(low) - len(suffix) >= 3 and low[: -len(suffix)] + repl in self.words:
                return True
        return False

    def first_name(self, low: str) -> bool:
        """A census first name that is not also an ordinary word."""
        return low in self.first and low not in AMBIGUOUS_FIRST

    def known_name(self, low: str) -> bool:
        return (low in self.first or low in self.last) and low not in AMBIGUOUS_FIRST


_lexicon: Lexicon | None = None
_lexicon_lock = threading.Lock()


def get_lexicon(nlp=None) -> Lexicon:
    """Census names (tasks/data/census_names.json) and an English dictionary: the WordNet lemma index inside the
    spaCy model's lemmatizer (nouns, verbs, adjectives, adverbs) plus spaCy's stop words. Built once."""
    global _lexicon
    with _lexicon_lock:
        if _lexicon is None:
            names = json.loads((DATA / "census_names.json").read_text(encoding="utf-8"))
            words: set[str] = set()
            nonnoun: set[str] = set()
            if nlp is None:
                import spacy

                from pairforge.tasks.core.recipe import DEFAULT_NER_MODELS

                nlp = spacy.load(DEFAULT_NER_MODELS["en"], disable=["tok2vec", "tagger", "parser", "ner"])
            if "lemmatizer" in nlp.pipe_names:
                lookups = nlp.get_pipe("lemmatizer").lookups
                from spacy.strings import hash_string

                noun = hash_string("noun")
                for table in ("lemma_index", "lemma_exc"):  # lemmas, and irregular forms ("said", "children")
                    if lookups.has_table(table):
                        index = lookups.get_table(table)
                        for key in index.keys():
                            entries = [w for w in index[key] if w.isalpha()]
                            words.update(entries)
                            if key != noun:
                                nonnoun.update(entries)
            from spacy.lang.en.stop_words import STOP_WORDS

            words |= set(STOP_WORDS) | NON_NAME_WORDS
            nonnoun |= set(STOP_WORDS) | NON_NAME_WORDS
            _lexicon = Lexicon(first=frozenset(names["first"]), last=frozenset(names["last"]),
                               words=frozenset(words), nonnoun=frozenset(nonnoun))  # fmt: skip
        return _lexicon

