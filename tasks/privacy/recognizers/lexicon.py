"""The words the person and address rules judge by: honorifics, titles, name particles, words that are nobody's
name, census first and last names, and an English dictionary (`Lexicon`, built once by `get_lexicon`).

Not a recognizer: a helper shared by `person`, `street_address`, `casing` and the scrubber (`tasks/privacy/pii.py`).
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from pairforge.tasks.data import DATA

# a word: letters, with inner apostrophes or hyphens ("O'Brien", "Jean-Luc")
WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

HONORIFICS = frozenset(
    """mr mrs ms miss mx dr prof sir dame madam madame mme mlle lady lord rev fr herr frau hr sr sra srta señor
    señora señorita don doña dona signor signora sig monsieur mister missus mevrouw mevr dhr pan pani frl dra
    pr""".split()
)
# one-letter honorifics, only with their full stop ("M. Dupont")
INITIAL_HONORIFICS = frozenset({"m"})
# occupational and family titles: a capitalised name-like word after one is a name
ROLE_TITLES = frozenset(
    """detective det officer agent inspector sergeant sgt captain capt lieutenant lt judge justice senator
    congressman congresswoman governor mayor president professor doctor nurse coach pastor reverend father sister
    brother uncle aunt auntie grandma grandpa granny cousin saint
    caller customer client patient applicant candidate tenant landlord landlady student employee colleague witness
    victim suspect passenger guest author reviewer moderator member user consignee recipient sender beneficiary
    cardholder holder founder cofounder chair chairman chairwoman chairperson speaker volunteer neighbour neighbor
    friend teammate roommate flatmate intern manager engineer analyst teacher
    kunde kundin inhaber inhaberin kollege kollegin mieter mieterin vermieter vermieterin patientin bewerber
    bewerberin zeuge zeugin gründer gründerin titulaire locataire propriétaire cliente collègue témoin candidat
    candidate fondateur fondatrice inquilino inquilina titular testigo fundador fundadora""".split()
)
# plural people nouns: a list after one ("Our founders: A, B and C", "Présents : ...") is a list of people
PEOPLE_NOUNS = frozenset(
    """founders cofounders co-founders partners members attendees participants present absent apologies guests
    invitees speakers panelists panellists panel judges winners authors editors contributors cast crew team staff
    employees colleagues friends students candidates applicants directors board committee trustees officers
    signatories witnesses organisers organizers hosts volunteers contacts recipients interviewees players
    coaches referees nominees finalists laureates reviewers moderators admins owners tenants parents children
    kids siblings thanks acknowledgements acknowledgments
    gründer gründerinnen anwesend anwesende entschuldigt abwesend teilnehmer teilnehmende teilnehmerinnen gäste
    mitglieder vorstand autoren autorinnen referenten sprecher kollegen kolleginnen mitarbeiter mitarbeitende
    eltern kinder geschwister zeugen gewinner
    fondateurs fondatrices présents présentes excusés excusées absents invités invitées membres participants
    auteurs autrices intervenants collègues témoins gagnants enfants parents associés
    fundadores presentes ausentes invitados invitadas miembros participantes asistentes autores autoras ponentes
    colegas testigos ganadores hijos padres socios""".split()
)
# name particles allowed inside a name: "Ludwig van Beethoven", "Maria de la Cruz"
PARTICLES = frozenset("van von der den de del della di da dos das du la le bin ibn al el ter ten zu ó o mac mc ni nic"
                      " ua af av bint".split())
# capitalised words that follow "Dear"/"Hi" etc. but are nobody's name
GENERIC_ADDRESSEES = frozenset(
    """all everyone everybody team there sir madam madame customer customers client friend friends colleague
    colleagues guys folks user users admin support sales hiring manager committee member members reader readers
    world mom mum dad you again bot damen herren mesdames messieurs señores señoras signori signore""".split()
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


_FOLD_EXTRA = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss",
                             "ı": "i", "ə": "e", "ħ": "h", "ŋ": "n"})  # fmt: skip


@lru_cache(maxsize=200_000)
def fold(word: str) -> str:
    """Lower case without accents ("Vávra" -> "vavra"): how the world name lists are stored and looked up
    (tasks/data/build_world_names.py folds the same way)."""
    low = word.casefold()
    if low.isascii():
        return low
    low = low.translate(_FOLD_EXTRA)
    return "".join(c for c in unicodedata.normalize("NFKD", low) if not unicodedata.combining(c))


@dataclass(frozen=True)
class Lexicon:
    first: frozenset[str]
    last: frozenset[str]
    words: frozenset[str]  # English dictionary words (lower case): WordNet lemmas of the spaCy model + stop words
    nonnoun: frozenset[str] = frozenset()  # of those: adjectives, verbs, adverbs, stop words ("Irish", "said")
    # names of many cultures (tasks/data/world_names.json, folded): given and family names from Wikidata, and a
    # broad untyped list (`other`) that is only trusted next to other evidence
    given: frozenset[str] = frozenset()
    family: frozenset[str] = frozenset()
    other: frozenset[str] = frozenset()
    # other languages' ordinary words (lower case): stop words, plus a dictionary where a loaded spaCy model has
    # one (French); filled on first use by `words_of`
    foreign: dict = field(default_factory=dict, compare=False, hash=False)

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

    def given_name(self, low: str, lang: str = "en") -> bool:
        """A first name of the census or of the world list (any culture), not an ordinary word of `lang`; a
        hyphenated one ("Peter-Michael") when each part is one."""
        if low in AMBIGUOUS_FIRST:
            return False
        if low in self.first:
            return True
        f = fold(low)
        if "-" in f and f not in self.given:
            return all(self.given_name(part, lang) for part in low.split("-") if part)
        return (f in self.given or f in self.first) and not self.common_in(lang, low)

    def name_word(self, low: str) -> bool:
        """A given or family name of any list (census, world), ordinary English word or not."""
        f = fold(low)
        return f in self.first or f in self.last or f in self.given or f in self.family

    def any_name(self, low: str) -> bool:
        """`name_word`, or a word of the broad list: supporting evidence only."""
        return self.name_word(low) or fold(low) in self.other

    def words_of(self, lang: str) -> frozenset[str]:
        """Ordinary words of a language, lower case: the English dictionary for en; elsewhere spaCy's stop words of
        that language plus the dictionary of its NER model when one was registered (`add_language`)."""
        if lang == "en":
            return self.words
        got = self.foreign.get(lang)
        if got is None:
            got = frozenset(_stop_words(lang))
            self.foreign[lang] = got
        return got

    def add_language(self, lang: str, nlp) -> None:
        """Register the dictionary inside a language's spaCy pipeline (its lemmatizer's tables), e.g. French."""
        if lang == "en" or lang in self.foreign and len(self.foreign[lang]) > 5000:
            return
        words = set(_stop_words(lang)) | _lemma_words(nlp)[0]
        self.foreign[lang] = frozenset(words)
        lookups = nlp.get_pipe("lemmatizer").lookups if "lemmatizer" in nlp.pipe_names else None
        if lookups is not None and lookups.has_table("lemma_lookup"):  # every inflected form ("habite")
            self.foreign[lang + ":forms"] = lookups.get_table("lemma_lookup")

    def common_in(self, lang: str, low: str) -> bool:
        """An ordinary word of `lang`: its dictionary or stop words (English for en; elsewhere English words do not
        count: "Samson" and "Clemens" are in the English dictionary, and a German text's nouns are capitalised)."""
        if lang == "en":
            return self.common(low)
        if low in NON_NAME_WORDS or low in self.words_of(lang):  # (English words are no evidence in another language)
            return True
        forms = self.foreign.get(lang + ":forms")
        return forms is not None and low in forms


def _stop_words(lang: str) -> set[str]:
    try:
        import spacy

        return {w.lower() for w in spacy.util.get_lang_class(lang).Defaults.stop_words}
    except Exception:  # a language spaCy does not know
        return set()


def _lemma_words(nlp) -> tuple[set[str], set[str]]:
    """(all words, non-nouns) of the lookup tables of a pipeline's lemmatizer: lemma_index by part of speech and the
    irregular forms of lemma_exc."""
    words: set[str] = set()
    nonnoun: set[str] = set()
    if nlp is None or "lemmatizer" not in nlp.pipe_names:
        return words, nonnoun
    lookups = nlp.get_pipe("lemmatizer").lookups
    from spacy.strings import hash_string

    noun = hash_string("noun")
    for table in ("lemma_index", "lemma_exc"):  # lemmas, and irregular forms ("said", "children")
        if lookups.has_table(table):
            index = lookups.get_table(table)
            for key in index.keys():
                if table == "lemma_exc":
                    entries = [w for form, lemmas in index[key].items() for w in [form, *lemmas] if w.isalpha()]
                else:
                    entries = [w for w in index[key] if w.isalpha()]
                words.update(entries)
                if key != noun:
                    nonnoun.update(entries)
    return words, nonnoun


_lexicon: Lexicon | None = None
_lexicon_lock = threading.Lock()


def get_lexicon(nlp=None) -> Lexicon:
    """Census names (tasks/data/census_names.json), names of many cultures (world_names.json) and an English
    dictionary: the WordNet lemma index inside the spaCy model's lemmatizer (nouns, verbs, adjectives, adverbs) plus
    spaCy's stop words. Built once."""
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
            world = json.loads((DATA / "world_names.json").read_text(encoding="utf-8"))
            _lexicon = Lexicon(first=frozenset(names["first"]), last=frozenset(names["last"]),
                               words=frozenset(words), nonnoun=frozenset(nonnoun), given=frozenset(world["given"]),
                               family=frozenset(world["family"]), other=frozenset(world["other"]))  # fmt: skip
        return _lexicon

