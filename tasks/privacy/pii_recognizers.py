"""pairforge's own Presidio recognizers, and the word lists and case handling they share.

Presidio's predefined recognizers, with the small English spaCy model, miss about a third of direct identifiers.
These fill the gaps, each as a Presidio `EntityRecognizer` (usable in any AnalyzerEngine):

- `PersonRulesRecognizer`  PERSON from honorifics ("Mr. John Smith", "Dr. Li", "Frau Weber"), cue phrases ("my
  name is", "Dear", "Regards,", "Name:", "said"), census name lists, in any letter case.
- `StreetAddressRecognizer`  STREET_ADDRESS: a grammar of postal lines (number + street + type, continental
  "Lindenstraße 5" / "Calle Mayor 3" / "48 rue Descartes" forms, secondary units, city / region / postcode /
  country tails, multi-line address blocks, "the corner of A and B", a postcode after "ZIP:").
- `MultiRegionPhoneRecognizer`  PHONE_NUMBER in the written forms of many regions (+CC, 00CC, trunk-0 national
  numbers, NANP, extensions), with context words in several languages; plain digit groups need context.
- `SecretRecognizer`  SECRET: private key blocks, well-known API key/token formats, bearer tokens, credentials in
  URLs, and the value of `password=...` / `api_key: ...` style pairs.
- `DriverLicenseRecognizer`  US_DRIVER_LICENSE: state formats, only next to a licence context word.
- `AgeRecognizer`  AGE (a quasi-identifier, off by default): "aged 34", "34 years old", "Age: 34".

Context is judged by each recognizer itself (words on the same line, before or after the value), so results are
marked as already context-enhanced and Presidio's generic enhancer leaves them alone.

`truecase()` rewrites ALL-CAPS or all-lower-case text (same length, so offsets hold) for the NER model, which
finds almost no names without capital letters.
"""

from __future__ import annotations

import json
import re
import threading
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from presidio_analyzer import EntityRecognizer, RecognizerResult

from pairforge.tasks.data import DATA

ENHANCED = RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY

# ---------------------------------------------------------------------------------------------------------------
# word lists
# ---------------------------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------------------------
# letter case
# ---------------------------------------------------------------------------------------------------------------

_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")


def case_mode(text: str) -> str:
    """'upper' (mostly capitals), 'lower' (no capitals but a lone "I"), or 'normal'."""
    letters = _LETTER.findall(text)
    if len(letters) < 6:
        return "normal"
    upper = sum(c.isupper() for c in letters)
    if upper >= 0.75 * len(letters):
        return "upper"
    if upper == 0 or (upper <= 3 and not re.search(r"[A-Z](?![\s'’])|(?<=\w)[A-Z]", text.replace(" I ", " i "))):
        return "lower"
    return "normal"


def _same_len(s: str, fn) -> str:
    out = fn(s)
    return out if len(out) == len(s) else "".join(c if len(fn(c)) != 1 else fn(c) for c in s)


def truecase(text: str, lexicon: Lexicon) -> str:
    """A same-length rewrite of ALL-CAPS / lower-case text with capitals where English would have them: sentence
    starts, "I", names from the lists, words the dictionary does not know (names and places, mostly), and a
    surname after a capitalised first name or an honorific."""
    low = _same_len(text, str.lower)
    chars = list(low)
    prev_cap = False
    prev_end = 0
    for m in _WORD.finditer(low):
        w = m.group()
        gap = low[prev_end : m.start()]
        start_of_sentence = prev_end == 0 or bool(re.search(r"[.!?:\n]", gap))
        base = w.split("'")[0].split("’")[0]
        cap = (
            start_of_sentence
            or w == "i"
            or lexicon.first_name(base)
            or (len(base) >= 3 and not lexicon.common(base) and base not in PARTICLES)
            or (prev_cap and base in lexicon.last and gap.strip() in ("", "."))
        )
        is_name_cap = cap and not start_of_sentence or lexicon.first_name(base) or base in HONORIFICS
        if cap:
            chars[m.start()] = _same_len(chars[m.start()], str.upper)
        prev_cap = bool(is_name_cap) and w not in NON_NAME_WORDS
        prev_end = m.end()
    return "".join(chars)


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------


def _result(entity: str, start: int, end: int, score: float, name: str) -> RecognizerResult:
    return RecognizerResult(entity, start, end, score, recognition_metadata={
        ENHANCED: True, RecognizerResult.RECOGNIZER_NAME_KEY: name})  # fmt: skip


def _line_around(text: str, start: int, end: int, before: int = 40, after: int = 25) -> tuple[str, str]:
    """(text before, text after) the span, within its line(s) and a few characters; lower case."""
    a = text.rfind("\n", 0, max(0, start - 1))
    lo = max(a + 1 if a >= 0 else 0, start - before)
    if start - lo < 8 and a > 0:  # the value opens a line: the label may be on the line above ("Phone:\n...")
        lo = max(0, start - before)
    b = text.find("\n", end)
    hi = min(b if b >= 0 else len(text), end + after)
    return text[lo:start].lower(), text[end:hi].lower()


# ---------------------------------------------------------------------------------------------------------------
# phone numbers
# ---------------------------------------------------------------------------------------------------------------

PHONE_CONTEXT = re.compile(
    r"(?<![a-z])(?:phone|telephone|tel|tlf|tfno|mobile|mob|cell|cellphone|call|calls|called|calling|ring|rang|"
    r"fax|office|desk|direct|dial|whatsapp|sms|text me|contact|number|no\.|hotline|landline|reach|"
    r"telefon|telefonnummer|handy|mobil|rufnummer|anrufen|rufen|erreichbar|"
    r"tel[ée]fono|m[óo]vil|celular|llame|llama|llamas|ll[aá]mame|ll[aá]manos|llamar|contacto|ruf|rufe|ruft|"
    r"t[ée]l[ée]phone|portable|appelez|appeler|telefone|telemovel|telefonino|cellulare)(?![a-z])"
)
_SEP = r"[ \t.\-/]"
PHONE_PATTERNS = [
    # +CC or 00CC, optional (0) or (area), 2-5 groups: +44 20 7946 0958, 0049 (0)30 1234567, +1-944-435-4352x047
    ("intl", re.compile(
        r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}" + _SEP + r"?(?:\(0?\d{0,4}\)" + _SEP + r"?)?\d{1,5}"
        r"(?:" + _SEP + r"?\d{1,5}){1,5}(?:\s*(?:x|ext\.?|extension|ext)\s*\d{1,6})?(?![\w])"), 0.65),
    # NANP: (415) 555-0123, 415-555-0123, 415.555.0123 x12, 1-800-555-0199
    ("nanp", re.compile(
        r"(?<![\w+])(?:1" + _SEP + r")?(?:\(\d{3}\)\s?|\d{3}" + _SEP + r")\d{3}" + _SEP + r"\d{4}"
        r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?(?![\w])"), 0.6),
    # trunk-0 national and parenthesised area codes: 030 1234 567, (07) 5331 0577, 027 896 92 86, 07700 900123
    ("national", re.compile(
        r"(?<![\w+])(?:\(0?\d{1,4}\)\s?|0\d{1,4}" + _SEP + r")\d{2,5}(?:" + _SEP + r"?\d{2,5}){0,3}"
        r"(?:\s*(?:x|ext\.?)\s*\d{1,6})?(?![\w])"), 0.45),
    # plain digit groups (21 212 133 2727, 69 987 88 37, 041-412-293): a phone only next to a context word
    ("groups", re.compile(r"(?<![\w+])\d{2,5}(?:" + _SEP + r"\d{2,5}){2,4}(?![\w])"), 0.2),
]  # fmt: skip
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")
_SSN_LIKE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_IP_LIKE = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")


class MultiRegionPhoneRecognizer(EntityRecognizer):
    """Phone numbers as written in many regions; 7 to 15 digits; dates, IPs, SSNs and card-like runs excluded."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(supported_entities=["PHONE_NUMBER"], name="PairforgePhoneRecognizer",
                         supported_language=supported_language)  # fmt: skip

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        found: dict[tuple[int, int], float] = {}
        for _, pattern, base in PHONE_PATTERNS:
            for m in pattern.finditer(text):
                value = m.group().rstrip(".-/ ")
                start, end = m.start(), m.start() + len(value)
                core = re.split(r"\s*(?:x|ext\.?|extension)\s*\d", value)[0]
                digits = sum(c.isdigit() for c in core)
                if not 7 <= digits <= 15 or _DATE_LIKE.match(core) or _SSN_LIKE.match(core) or _IP_LIKE.match(core):
                    continue
                if re.fullmatch(r"\d{4}(?: \d{4}){3}|\d{4}(?:-\d{4}){3}", core):  # a card number's layout
                    continue
                before, after = _line_around(text, start, end)
                score = base + (0.35 if PHONE_CONTEXT.search(before[-40:]) or PHONE_CONTEXT.search(after[:15]) else 0)
                if re.search(r"(?:card|iban|account|konto|cuenta|ssn|social security|license|licence|zip|"
                             r"postcode|order|invoice|ref|id)\W{0,12}$", before):  # fmt: skip
                    score -= 0.3
                if score >= 0.5 and found.get((start, end), 0) < score:
                    found[(start, end)] = min(score, 1.0)
        return [_result("PHONE_NUMBER", s, e, sc, self.name) for (s, e), sc in found.items()]


# ---------------------------------------------------------------------------------------------------------------
# secrets
# ---------------------------------------------------------------------------------------------------------------

SECRET_PATTERNS = [
    re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY"
               r"(?: BLOCK)?-----"),
    re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    re.compile(r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})"),
    re.compile(r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_-])xox[abprse]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?<![A-Za-z0-9_])(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}"),
    re.compile(r"(?<![A-Za-z0-9_-])sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}"),
    re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?<![A-Za-z0-9_-])(?:hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}|SG\.[\w-]{20,}\.[\w-]{20,}|"
               r"SK[0-9a-f]{32}|AC[0-9a-f]{32}|ya29\.[0-9A-Za-z_-]{20,})"),
]  # fmt: skip
# the value after a credential-ish key: password=..., "api_key": "...", DB_PASSWORD: ..., Passwort: ...
SECRET_KV = re.compile(
    r"(?i)(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_.-])*(?:password|passwd|pwd|pass|passphrase|passcode|secret|"
    r"client[_-]?secret|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|secret[_-]?key|private[_-]?key|auth[_-]?token|"
    r"access[_-]?token|refresh[_-]?token|token|bearer|credentials?|passwort|kennwort|contrase(?:ñ|n)a|clave|"
    r"mot[ _]de[ _]passe)(?:[_.-][A-Za-z0-9]+)*"
    r"[\"']?\s*(?:=>|:=|=|:)\s*(?:\"([^\"\n]{4,200})\"|'([^'\n]{4,200})'|([^\s\"',;}{)(]{4,200}))"
)
BEARER = re.compile(r"(?i)\b(?:bearer|token|basic)\s+([A-Za-z0-9._~+/-]{16,}=*)")
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:([^\s:/@]{3,})@")
_SECRET_VALUE_STOP = frozenset(
    """none null true false required optional string yes no changeme example xxx xxxx xxxxx redacted hidden
    secret password token your_password your_token""".split()
)


class SecretRecognizer(EntityRecognizer):
    """API keys, tokens, private key blocks, and the values of credential keys. Key names stay; values go."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(supported_entities=["SECRET"], name="PairforgeSecretRecognizer",
                         supported_language=supported_language)  # fmt: skip

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        out = []
        if "-----BEGIN" in text or any(c.isdigit() for c in text) or "=" in text or ":" in text:
            for p in SECRET_PATTERNS:
                out += [_result("SECRET", m.start(), m.end(), 0.95, self.name) for m in p.finditer(text)]
        for m in SECRET_KV.finditer(text):
            g = next(i for i in (1, 2, 3) if m.group(i) is not None)
            value = m.group(g)
            if value.lower() in _SECRET_VALUE_STOP or value.startswith(("<", "$", "{", "%", "*")):
                continue
            if g == 3 and not re.search(r"[\d\W_]", value) and len(value) < 8:
                continue  # "password: please" - a plain short word is prose, not a value
            out.append(_result("SECRET", m.start(g), m.end(g), 0.85, self.name))
        for p in (BEARER, URL_CREDENTIALS):
            out += [_result("SECRET", m.start(1), m.end(1), 0.85, self.name) for m in p.finditer(text)]
        return out


# ---------------------------------------------------------------------------------------------------------------
# US driver's licence
# ---------------------------------------------------------------------------------------------------------------

DL_CONTEXT = re.compile(
    r"(?i)(?:driver'?s?'?\s*(?:license|licence|lic\.?)|driving\s+licen[cs]e|\bDL\b|\bD\.L\.|\blicen[cs]e\b|"
    r"führerschein|licencia de conducir|permis de conduire)"
    r"(?:\s*(?:no\.?|nr\.?|number|num\.?|#|id))?(?:\s*(?:is|was|:|#|=|-))?\s*"
)
DL_VALUE = re.compile(
    r"(?<![\w-])(?:[A-Z]{1,2}\d{4,14}|[A-Z]\d{3}-\d{3}-\d{2}-\d{3}-\d|[A-Z]\d{3}-\d{4}-\d{4}|\d{3} \d{3} \d{3}|"
    r"\d{6,12}|[A-Z]{1,3}-?\d{2,3}-?\d{2,4}-?\d{0,4}|\d{2}[A-Z]{3}\d{5})(?![\w-])"
)


class DriverLicenseRecognizer(EntityRecognizer):
    """US driver's licence numbers in state formats, only within a few words after a licence context word."""

    def __init__(self, supported_language: str = "en"):
        super().__init__(supported_entities=["US_DRIVER_LICENSE"], name="PairforgeDriverLicenseRecognizer",
                         supported_language=supported_language)  # fmt: skip

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        out = []
        for c in DL_CONTEXT.finditer(text):
            m = DL_VALUE.match(text, c.end())
            if m and sum(ch.isdigit() for ch in m.group()) >= 4:
                out.append(_result("US_DRIVER_LICENSE", m.start(), m.end(), 0.75, self.name))
        return out


# ---------------------------------------------------------------------------------------------------------------
# age (quasi-identifier)
# ---------------------------------------------------------------------------------------------------------------

AGE_PATTERNS = [
    re.compile(r"(?i)\b(?:aged?|age:|alter:?|edad:?|âge:?)\s*(\d{1,3})\b"),
    re.compile(r"(?i)\b(\d{1,3})[- ](?:years?|yrs?)[- ]old\b"),
    re.compile(r"(?i)\b(\d{1,3})\s*(?:jahre alt|años|ans)\b"),
]


class AgeRecognizer(EntityRecognizer):
    def __init__(self, supported_language: str = "en"):
        super().__init__(supported_entities=["AGE"], name="PairforgeAgeRecognizer",
                         supported_language=supported_language)  # fmt: skip

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        return [_result("AGE", m.start(1), m.end(1), 0.9, self.name)
                for p in AGE_PATTERNS for m in p.finditer(text) if int(m.group(1)) <= 125]  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------
# street addresses
# ---------------------------------------------------------------------------------------------------------------

STREET_TYPES = (
    r"street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl|terrace|ter|terr|close|"
    r"crescent|cres|square|sq|parkway|pkwy|highway|hwy|circle|cir|trail|trl|row|mews|grove|gardens|gdns|walk|alley|"
    r"path|pike|plaza|loop|point|ridge|heights|hts|hill|park|expressway|freeway|turnpike|wharf|quay|green|gate|"
    r"broadway"
)
# streets whose type is fused to the name or a suffix: Lindenstraße, Nassaustraat, aðalgata, Auerstrasse
FUSED_TYPES = (
    r"stra(?:ss|ß)e|str\.|gasse|weg|platz|allee|ring|damm|ufer|chaussee|steig|pfad|markt|graben|"
    r"straat|laan|gracht|plein|kade|singel|dreef|steeg|dijk|"
    r"vej|gade|gatan|gata|gate|vägen|veien|vegen|torget|tie|katu|polku|utca|útja|út|tér|"
    r"ulica|ulice|náměstí|namesti|třída|trida|cesta|aleja|gürtel"
)
# streets named after a type word in front: Calle Mayor 3, 48 rue Descartes, Via Roma 12, Plaza del Sol
PREFIX_TYPES = (
    r"calle|c/|avenida|avda\.?|av\.|paseo|plaza|pza\.?|carrer|camino|carretera|ronda|rambla|travesía|rua|praça|"
    r"travessa|rue|avenue|boulevard|bd|chemin|allée|impasse|quai|place|via|viale|piazza|corso|largo|vicolo|"
    r"ulica|ul\.|aleja|al\.|am|an der|auf der|auf dem|im|zum|zur|πλατεία|οδός|λεωφόρος"
)
_NUM = r"\d{1,6}[A-Za-z]?(?:[ \t]?[-/][ \t]?\d{1,5}[A-Za-z]?)?"
_W = r"[^\W\d_][\w'’.\-]*"  # a word of a street name (letters first; may carry a dot: "N.", "rkp.")
_SECONDARY = (
    r"(?i:(?:(?:apt\.?|apartment|suite|ste\.?|unit|flat|fl\.?|floor|room|rm\.?|bldg\.?|building|dept\.?|no\.?|"
    r"piso|puerta|planta|escalera|esc\.?|bajo|wohnung|whg\.?|etage|stock|app\.?|appartement|bâtiment|bat\.?|"
    r"c/o)(?![^\W\d_])|#)\s*(?:[\w-]{0,5}\d[\w-]{0,5}|[A-Za-z]\b)\.?|\d{1,2}\s?[º°ª](?:\s?[A-Za-z])?|\d{1,2}(?:st|nd|rd|th)\s+floor)"
)
_POSTCODE = (
    r"\d{5}(?:-\d{4})?|\d{4}\s?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|\d{3}\s?\d{2}|"
    r"\d{2}-\d{3}|\d{4}"
)
_STATE = r"[A-Z]{2,3}"

_STREET_LEAD = rf"(?<![\w-])(?:(?:{_NUM})[ \t]+)?"  # a flat or building number before the house number
_DIRECTION = r"(?:n|s|e|w|ne|nw|se|sw|north|south|east|west)"
STREET_LINES = [
    # 1. number, words, street type: 221B Baker Street, 19 1755 Nelson Mandela Drive, 23 8 wressle road
    re.compile(rf"(?i){_STREET_LEAD}(?:{_NUM})[ \t]+(?:{_DIRECTION}\.?[ \t]+)?(?:{_W}[ \t]+){{0,4}}?"
               rf"(?:{STREET_TYPES})\b\.?(?:[ \t]+(?:{STREET_TYPES})\b\.?)?(?:[ \t]+{_DIRECTION}\b\.?)?(?![\w])"),
    # 2. fused: Lindenstraße 5, Nassaustraat 123, 45 aðalgata 37
    re.compile(rf"(?i){_STREET_LEAD}(?:{_W}[ \t]+){{0,2}}?[^\W\d_][\w'’\-]*(?:{FUSED_TYPES})(?:[ \t]+{_NUM})?"
               rf"(?![\w])"),
    # 3. type in front: Calle de Alcalá 63, 48 rue Descartes, Πλατεία Μαβίλη 170
    re.compile(rf"(?i)(?<![\w-])(?:(?:{_NUM})[ \t]+){{0,2}}(?:{PREFIX_TYPES})[ \t]+"
               rf"(?:(?:{_W}[ \t]+){{0,4}}?{_W}[ \t]+{_NUM}|(?:{_W}[ \t]+){{0,3}}{_W})(?![\w])"),
]
# number, words, number (06 Reyes Católicos 17, 87 Jakobi 69): an address only with context or a postal tail
WEAK_STREET = re.compile(
    rf"(?<![\w-])(?:{_NUM}[ \t]+)?{_NUM}[ \t]+(?:{_W}[ \t]+){{0,3}}?{_W}[ \t]+\d{{1,5}}[A-Za-z]?\b\.?"
)
# a line that starts with a number right after "address(es)": an address whatever its street looks like
CUE_CHUNK = re.compile(r"(?i)\b(?:address(?:es)?|addr\.?|anschrift|adresse|direcci[óo]n|domicilio)\b[^\n\d]{0,25}?"
                       r"(\d{1,6}[^\n,;!?]{2,60})")
# Kapelaniestraat 88 / Whittaker Street with no number: part of an address only at "the corner of ... and ..."
STREET_NAME = rf"(?:(?:{_W}[ \t]+){{0,3}}?{_W}[ \t]+(?:{STREET_TYPES})\b\.?|{_W}(?:{FUSED_TYPES})(?:[ \t]+{_NUM})?)"
CORNER = re.compile(rf"(?i)\b(?:the[ \t]+)?corner[ \t]+of[ \t]+{STREET_NAME}[ \t]+(?:and|&|y|und)[ \t]+{STREET_NAME}")
ADDRESS_CONTEXT = re.compile(
    r"(?i)(?:address(?:es)?|addr|live[sd]?\s+(?:at|in|on)|living\s+at|resides?\s+at|located\s+at|is\s+at|"
    r"moved\s+to|move\s+to|ship(?:ping)?\s+to|send\s+(?:it\s+|the\s+\w+\s+)?to|deliver(?:y|ed)?\s+to|"
    r"return\s+to|mail(?:ing)?\s+to|post\s+to|billing|shipping|residence|domicile|home|street|"
    r"adresse|anschrift|wohnhaft|wohne|dirección|direccion|domicilio|vivo\s+en|calle)\W{0,20}$"
)
ZIP_CONTEXT = re.compile(r"(?i)\b(?:zip(?:\s*code)?|postcode|post\s*code|postal\s*code|plz|c[óo]digo\s+postal|cp)"
                         r"\s*[:#]?\s*$")  # fmt: skip
_TW = r"[^\W\d_][\w'’\-]*"  # a word of a city, region or country: no dots ("Barcelona. Para" is two sentences)
# one address component after a street line, up to the next separator
_TAIL_PART = re.compile(
    rf"^(?P<sep>\s*,\s*|\s*\n(?:[ \t]*\n)?[ \t]*(?:[^\w\s\n]{{1,4}}[ \t]+)?|[ \t]+)"
    rf"(?P<part>{_SECONDARY}"
    rf"|(?:{_TW}[ \t]+){{0,3}}{_TW}\.?(?:[ \t]*,?[ \t]*(?:{_STATE}|{_TW}))?[ \t]+(?:{_POSTCODE})"  # City ST 12345
    rf"|(?:{_POSTCODE})(?:[ \t]+(?:{_TW}[ \t]*){{1,3}})?"  # 10437 Berlin
    rf"|{_TW}(?:[ \t\-]+{_TW}){{0,3}}(?:[ \t]+\(\w[\w ]*\))?(?:[ \t]+\d{{1,3}})?"  # City / Country / State
    rf")(?![ \t]*[:@=])"
)


_LEAD_WORD = re.compile(r"([^\W\d_][\w'’\-]*)[ \t]+")
_PREFIX_WORDS = frozenset(re.sub(r"\\.|\?", "", PREFIX_TYPES).split("|")) | {"the", "corner"}


class StreetAddressRecognizer(EntityRecognizer):
    """Postal addresses: a street line (strong pattern, or a weak one with context or a postal tail) extended over
    what follows it on the same or the next lines (unit, city, region, postcode, country)."""

    STOP_WORDS = frozenset(
        """for in case and but if or the a an to please it its it's is was will would can could should with
        which that this there their they i we you he she serves instead thanks thx not by from at on via as
        because so then when while until after before under near next phone tel email fax mobile""".split()
    )

    def __init__(self, lexicon: Lexicon | None = None, supported_language: str = "en"):
        super().__init__(supported_entities=["STREET_ADDRESS"], name="PairforgeStreetAddressRecognizer",
                         supported_language=supported_language)  # fmt: skip
        self.lex = lexicon

    LEAD_STOP = frozenset(
        """address adresse anschrift dirección direccion domicilio is ist sind meine mein die der das ein eine unter
        es mi su en el los las y con para a al lives live lived living on at in to""".split()
    )

    def _trim_lead(self, text: str, start: int, end: int) -> int:
        """Drop ordinary words a match picked up in front of the street ("lives on Nassaustraat 123")."""
        while True:
            m = _LEAD_WORD.match(text, start, end)
            if not m:
                return start
            low = m.group(1).lower()
            if low in _PREFIX_WORDS or not (low in self.STOP_WORDS or low in self.LEAD_STOP
                                            or (self.lex and self.lex.common(low))):
                return start
            start += m.end() - m.start()

    def load(self) -> None:
        pass

    def _tail(self, text: str, end: int, max_parts: int = 6) -> tuple[int, bool]:
        """Extend over address components after `end`; (new end, saw a postcode or unit)."""
        strong = False
        lines = 0
        for _ in range(max_parts):
            m = _TAIL_PART.match(text[end : end + 120])
            if not m:
                break
            part = m.group("part")
            sep = m.group("sep")
            cut = next((w.start() for w in re.finditer(r"[^\W\d_]+", part) if w.group().lower() in self.STOP_WORDS
                        and not (w.group().isupper() and len(w.group()) <= 3)), None)
            if cut is not None:
                # keep what comes before a stop word ("Canada for post mail", "80815. It serves")
                keep = part[:cut].rstrip(" \t,.")
                is_code = re.fullmatch(rf"(?:{_POSTCODE})", keep) is not None
                if keep and (is_code or "\n" not in sep and re.search(r"[^\W\d_]{2}", keep)):
                    end += m.start("part") + len(keep)
                break
            is_code = bool(re.search(rf"(?:^|\s)(?:{_POSTCODE})$", part)) or bool(re.match(_SECONDARY, part, re.I))
            if "\n" in sep:
                lines += 1
                if lines > 5:
                    break
                if not is_code and len(part) > 40:
                    break
            elif sep.strip() == "" and not (is_code or strong and part[:1].isupper()):
                break  # a space only: "Apt. 584 HEILIGENBRUNN France" goes on after a unit or postcode, nothing else
            strong |= is_code
            last = re.search(r"([^\W\d_]+)\.$", part)
            if last and len(last.group(1)) > 3:  # "Barcelona." ends the sentence, and the address
                end += m.end() - 1
                break
            end += m.end()
        return end, strong

    def analyze(self, text, entities, nlp_artifacts=None):
        if not any(c.isdigit() for c in text):
            return []
        out: list[RecognizerResult] = []
        spans: list[tuple[int, int, float]] = []
        for m in CORNER.finditer(text):
            spans.append((m.start(), m.end(), 0.8))
        for m in CUE_CHUNK.finditer(text):
            start, end = m.start(1), m.end(1)
            end = start + len(m.group(1).rstrip(" .\t"))
            new_end, _ = self._tail(text, end)
            spans.append((start, new_end, 0.7))
        for pattern, strong in [*((p, True) for p in STREET_LINES), (WEAK_STREET, False)]:
            for m in pattern.finditer(text):
                start, end = m.start(), m.end()
                start = self._trim_lead(text, start, end)
                value = text[start:end]
                if not re.search(r"\d", value) and not re.search(rf"(?i)\b(?:{STREET_TYPES})\b|{FUSED_TYPES}", value):
                    continue
                if not re.search(r"\d", value) and not strong:
                    continue
                # leading unit: "Flat 8, 213 Sandpiper Lane", "Apt 4, ..."
                lead = re.search(rf"(?i)(?:{_SECONDARY})\s*,?\s*$", text[max(0, start - 16) : start])
                if lead:
                    start = max(0, start - 16) + lead.start()
                new_end, tail_strong = self._tail(text, end)
                before = text[max(0, start - 60) : start]
                context = bool(ADDRESS_CONTEXT.search(before))
                if strong:
                    has_num = bool(re.search(r"\d", value))
                    score = 0.8 if has_num else (0.6 if context or tail_strong else 0.3)
                else:
                    score = 0.75 if (context or tail_strong) else 0.3
                if score >= 0.5:
                    spans.append((start, new_end, score))
        # a postcode after "ZIP:" on its own
        for m in re.finditer(rf"(?<![\w-])(?:{_POSTCODE})(?![\w-])", text):
            if ZIP_CONTEXT.search(text[max(0, m.start() - 20) : m.start()]):
                spans.append((m.start(), m.end(), 0.7))
        for start, end, score in spans:
            while end > start and text[end - 1] in " \t\n,;:":
                end -= 1
            out.append(_result("STREET_ADDRESS", start, end, score, self.name))
        return out


# ---------------------------------------------------------------------------------------------------------------
# person names
# ---------------------------------------------------------------------------------------------------------------

_STRONG_CUES = re.compile(
    r"(?i)(?:\bmy\s+name\s+is|\bname\s+is|\bname's|\bnamed|\bcall\s+me|\bcalls\s+me|\bit'?s\s+me,?|\b(?:full|first|last|given|family|maiden|middle|sur|nick|user)\s*name(?:\s+is|\s*[:?=-])?|"
    r"\bname\s*[:=-]|\bname(?=\s+[A-Z])|"
    r"\b(?:dear|hi|hello|hey|hiya|greetings|hallo|servus|moin|hola|buenos\s+d[ií]as|bonjour|salut|ciao|olá|ola|"
    r"liebe[rs]?|estimad[oa]s?|querid[oa]s?|sehr\s+geehrte[rs]?|cher|chère)\b|"
    r"\b(?:name\s+on\s+card|card\s*holder|account\s+holder|contact\s+person|emergency\s+contact|contact|applicant|"
    r"patient(?:\s+name)?|customer(?:\s+name)?|client(?:\s+name)?|employee(?:\s+name)?|tenant|landlord|owner|"
    r"from|to|cc|attn|signed|signature|author|nombre|apellidos?|titular|kontakt|ansprechpartner(?:in)?|"
    r"nom|prénom|vorname|nachname|recipient|sender|beneficiary|payee|guest|passenger|student|user)\s*:|"
    r"\b(?:thanks|thank\s+you|thx|ty|cheers|regards|best|best\s+wishes|kind\s+regards|best\s+regards|warm\s+regards|"
    r"sincerely|yours(?:\s+truly|\s+sincerely)?|love|xoxo|bye|take\s+care|grüße|gruß|viele\s+grüße|liebe\s+grüße|"
    r"mit\s+freundlichen\s+grüßen|lg|vg|saludos|un\s+saludo|atentamente|cordialmente|cordialement|bisous|"
    r"abrazos|besos)\s*[,!.]?\s*\n?\s*-*\s*|"
    r"\bmy\s+(?:wife|husband|partner|son|daughter|kid|child|mother|mom|mum|father|dad|brother|sister|friend|boss|"
    r"colleague|coworker|co-worker|neighbou?r|manager|landlord|tenant|uncle|aunt|cousin|grandma|grandmother|"
    r"grandpa|grandfather|niece|nephew|fianc[ée]e?|girlfriend|boyfriend|roommate|flatmate|student|teacher|doctor|"
    r"lawyer|baby|twin|stepson|stepdaughter|ex)(?:'s\s+name\s+is)?\s*,?)\s*$"
)
# verbs of talking and meeting: a name-like word after one is a name, whatever the NER model called it
_MEDIUM_CUES = re.compile(
    r"(?i)(?:\b(?:said|says|asked|asks|told|tells|replied|replies|wrote|writes|shouted\s+at|shouted|yelled\s+at|"
    r"according\s+to|spoke\s+(?:with|to)|speak\s+(?:with|to)|talked?\s+(?:with|to)|met\s+with|met|married|"
    r"thanked|emailed|texted|phoned|called|ask|tell|ring|email|introducing|welcome|meet|congratulations|congrats|"
    r"reach|visited|interviewed|hired|fired|promoted|invited|note\s+from|message\s+from|i\s+am|i'm|this\s+is|"
    r"sagte|schrieb|fragte|dijo|escribió|preguntó)\s*)$"
)
_WEAK_CUES = re.compile(r"(?i)(?:\b(?:with|by|and|from|for|to|starring|featuring|feat\.)\s*)$")
_CUE_AFTER = re.compile(
    r"(?i)^(?:\s*,?\s*(?:said|says|asked|replied|wrote|shouted|yelled|whispered|explained|added|told|"
    r"sagte|schrieb|dijo|escribió|called|calls|phoned|rang|emailed)\b|\s+here\b|\s+speaking\b|"
    r"\s+(?:lives|lived|works|worked|was\s+born|grew\s+up|turned\s+\d|turns\s+\d|and\s+i\b)|\s+\(\d{1,3}\)|"
    r"'s\s+(?:kid|son|daughter|wife|husband|mother|"
    r"father|mom|dad|brother|sister|friend|address|phone|email|number|account|car|house|birthday|phone))"
)


_VOCATIVE = re.compile(r"(?i)^,\s+(?:can|could|would|will|please|do|did|are|is|have|thanks|thank|i|we|you)\b")
# a CSV-like header with a name column: the values under it are names
_CSV_NAME_HEADER = re.compile(r"(?im)^[ \t]*((?:[\w .-]*[,;\t|])*)[ \t]*(?:full[ _]?)?name[ \t]*(?=[,;\t|]|$)")


_LAST_FIRST_ROW = re.compile(
    r"(?m)^[ \t]*([A-Z][^\W\d_]+(?:-[A-Z][^\W\d_]+)?),[ \t]*([A-Z][^\W\d_]+)[ \t]*(?:[|;\t]|$)"
)


@dataclass
class _Tok:
    start: int
    end: int
    text: str
    low: str
    sent_start: bool


class PersonRulesRecognizer(EntityRecognizer):
    """Names the NER model misses: honorifics, cue phrases, census name lists, all letter cases. Reads the spaCy doc
    in the NlpArtifacts (when there is one) to leave alone words it tagged as places, organisations or dates."""

    def __init__(self, lexicon: Lexicon, supported_language: str = "en"):
        super().__init__(supported_entities=["PERSON"], name="PairforgePersonRulesRecognizer",
                         supported_language=supported_language)  # fmt: skip
        self.lex = lexicon

    def load(self) -> None:
        pass

    def _tokens(self, text: str) -> list[_Tok]:
        toks = []
        prev_end = 0
        for m in _WORD.finditer(text):
            w = m.group()
            end = m.end()
            if w.endswith(("'s", "’s")) and len(w) > 3:
                w, end = w[:-2], end - 2
            gap = text[prev_end : m.start()]
            sent = not toks or bool(re.search(r"[.!?:;\n\"“(]", gap))
            if toks and re.fullmatch(r"\.\s+", gap) and (len(toks[-1].text) == 1 or toks[-1].low in HONORIFICS):
                sent = False  # "J. Smith", "Dr. Li": no sentence break
            toks.append(_Tok(m.start(), end, w, w.lower(), sent))
            prev_end = m.end()
        return toks

    def _name_like(self, t: _Tok, mode: str, strength: str, text: str) -> bool:
        """Could `t` be part of a name? strength: 'strong' (after an honorific or a strong cue), 'weak', 'bare';
        mode: the text's letter case (`case_mode`)."""
        low = t.low
        if low in NON_NAME_WORDS or low in GENERIC_ADDRESSEES or len(low) < 2 and not t.text.isupper():
            return False
        if low in HONORIFICS or low in ROLE_TITLES:
            return False
        lex = self.lex
        known = lex.known_name(low)
        common = lex.common(low)
        cap = t.text[:1].isupper() and (mode != "normal" or not t.text[1:].isupper() or len(t.text) <= 2)
        label = common and not known and re.match(r"[ \t]*:", text[t.end : t.end + 3]) is not None  # "Address:"
        if strength == "strong" and not label:  # after "my name is", "Dear", "Name:": anything but plain words
            return (cap or not common and len(low) >= 3) if mode == "normal" else (known or not common)
        if mode == "normal":
            if strength == "weak":
                return cap and (known or not common)
            return cap and known and not common
        return not common and len(low) >= 3  # upper / lower text: letter case says nothing

    def analyze(self, text, entities, nlp_artifacts=None):
        mode = case_mode(text)
        # outside English the dictionary knows nothing: only honorifics, strong cues and "Firstname Name" pairs
        lang = getattr(nlp_artifacts, "text_language", "en")
        english = lang == "en"
        nouns_capitalised = lang in ("de", "lb")  # German capitalises every noun: capitals say nothing there
        toks = self._tokens(text)
        if not toks:
            return []
        # NER entities that are not people: places block the weak rules; other labels block the list rules only
        # (the small model calls many unknown names ORG, GPE or even TIME)
        places, others = [], []
        doc = getattr(nlp_artifacts, "tokens", None) if nlp_artifacts is not None else None
        if doc is not None and hasattr(doc, "ents"):
            for e in doc.ents:
                if e.label_ in ("GPE", "LOC", "FAC", "NORP"):
                    places.append((e.start_char, e.end_char))
                elif e.label_ not in ("PERSON", "PER", "CARDINAL", "ORDINAL", "QUANTITY", "PERCENT"):
                    others.append((e.start_char, e.end_char))

        places.sort()
        others.sort()
        place_starts, other_starts = [a for a, _ in places], [a for a, _ in others]

        def in_any(t: _Tok, spans: list[tuple[int, int]]) -> bool:
            starts = place_starts if spans is places else other_starts
            k = bisect_right(starts, t.start) - 1  # NER entities do not overlap: only the last one starting before
            return k >= 0 and spans[k][1] >= t.end

        def is_blocked(t: _Tok) -> bool:
            return in_any(t, places) or in_any(t, others)

        found: list[tuple[int, int, float]] = []
        n = len(toks)

        def grab(i: int, strength: str, max_len: int = 4) -> int:
            """Index after the name starting at token i (i itself when there is none)."""
            j, taken = i, 0
            while j < n and taken < max_len:
                t = toks[j]
                if j > i:
                    gap = text[toks[j - 1].end : t.start]
                    prev = toks[j - 1]
                    after_initial = len(prev.text) == 1 and prev.text.isupper()
                    if not (re.fullmatch(r"[ \t]+", gap) or (after_initial and re.fullmatch(r"\.[ \t]*", gap))):
                        break
                if j > i and t.low in PARTICLES and j + 1 < n and self._name_like(toks[j + 1], mode, strength, text):
                    j += 1
                    continue
                initial = len(t.text) == 1 and t.text.isupper() and text[t.end : t.end + 1] == "."
                if initial and j + 1 < n:
                    j += 1
                    taken += 1
                    continue
                later = "weak" if strength == "bare" else strength  # words after the first one
                if not self._name_like(t, mode, strength if j == i else later, text):
                    break
                j += 1
                taken += 1
            while j > i and (toks[j - 1].low in PARTICLES or len(toks[j - 1].text) == 1):
                j -= 1
            return j

        i = 0
        while i < n:
            t = toks[i]
            before = text[max(0, t.start - 60) : t.start]
            # 1. honorific / role title + name
            if t.low in HONORIFICS or t.low in ROLE_TITLES:
                gap_ok = i + 1 < n and re.fullmatch(r"\.?[ \t]+", text[t.end : toks[i + 1].start] or "")
                if gap_ok and (t.low in HONORIFICS or t.text[0].isupper()):
                    strength = "strong" if t.low in HONORIFICS else "weak"
                    j = grab(i + 1, strength, 3)
                    if j > i + 1:
                        found.append((toks[i + 1].start, toks[j - 1].end, 0.85 if strength == "strong" else 0.7))
                        i = j
                        continue
            # 2. cue phrase before the name
            cue = None
            if _STRONG_CUES.search(before):
                cue = "strong"
            elif english and _MEDIUM_CUES.search(before):
                cue = "weak"
            elif english and _WEAK_CUES.search(before) and not is_blocked(t):
                cue = "weak"
            if cue:
                j = grab(i, cue)
                if j > i:
                    found.append((t.start, toks[j - 1].end, 0.8 if cue == "strong" else 0.65))
                    i = j
                    continue
            # 3. cue after the name: "Ximena here", "Honoré said", "Sumaya's kid"
            if english and self._name_like(t, mode, "weak", text):
                j = grab(i, "weak")
                after = text[toks[j - 1].end : toks[j - 1].end + 25] if j > i else ""
                vocative = i == 0 and _VOCATIVE.match(after)  # "Marisca, can I please speak to your boss?"
                if j > i and (_CUE_AFTER.match(after) or vocative):
                    found.append((t.start, toks[j - 1].end, 0.65))
                    i = j
                    continue
            # 4. the lists: a first name (+ more name words), a rare surname, an unknown word before a surname,
            # two unknown capitalised words mid-sentence ("meant for Hamza Okonkwo")
            if not in_any(t, places):
                low = t.low
                cap = t.text[:1].isupper() or mode != "normal"
                nxt = toks[i + 1] if i + 1 < n and re.fullmatch(r"[ \t]+", text[t.end : toks[i + 1].start]) else None
                nxt_cap = nxt is not None and (nxt.text[:1].isupper() and not nxt.text.isupper() or mode != "normal")
                if cap and self.lex.first_name(low) and len(low) >= 3:
                    j = grab(i + 1, "weak", 3)
                    single_ok = english and (not t.sent_start or not self.lex.common(low)) or j > i + 1
                    if single_ok and not (mode != "normal" and self.lex.common(low) and j == i + 1):
                        found.append((t.start, toks[j - 1].end if j > i + 1 else t.end, 0.7 if j > i + 1 else 0.6))
                        i = max(j, i + 1)
                        continue
                elif not cap or is_blocked(t) or nouns_capitalised or self.lex.common(low) or len(low) < 3:
                    pass
                elif nxt_cap and nxt.low in self.lex.last and not self.lex.common(nxt.low):
                    found.append((t.start, nxt.end, 0.6))  # an unknown word before a list surname: "Evander Garcia"
                    i += 2
                    continue
                elif english and low in self.lex.last and low not in AMBIGUOUS_FIRST and (
                        mode == "normal" or len(low) >= 4):
                    j = grab(i + 1, "weak", 2)
                    found.append((t.start, toks[j - 1].end if j > i + 1 else t.end, 0.6))
                    i = max(j, i + 1)
                    continue
                elif (english and mode == "normal" and not t.sent_start and nxt_cap and len(nxt.low) >= 3
                      and not self.lex.common(nxt.low) and not is_blocked(nxt) and not in_any(nxt, places)):
                    found.append((t.start, nxt.end, 0.55))
                    i += 2
                    continue
            i += 1
        # "Elif and Raymond": an unknown capitalised word joined to a found name by "and" / "&" / "or"
        spans = {(a, b) for a, b, _ in found}
        starts, ends = {a for a, _ in spans}, {b for _, b in spans}
        for k, t in enumerate(toks):
            if (t.start, t.end) in spans or not t.text[:1].isupper() or self.lex.common(t.low) or len(t.low) < 3:
                continue
            if in_any(t, places) or not english:
                continue
            m = re.match(r"[ \t]+(?:and|&|or|und|y)[ \t]+", text[t.end :])
            if m and t.end + m.end() in starts:
                found.append((t.start, t.end, 0.6))
            m = re.search(r"(?:and|&|or|und|y)[ \t]+$", text[max(0, t.start - 6) : t.start])
            if m and k > 0 and toks[k - 1].end in ends:
                found.append((t.start, t.end, 0.6))
        # "Last, First | ..." at the start of a record line
        for m in _LAST_FIRST_ROW.finditer(text):
            words = [m.group(1), m.group(2)]
            if all(not self.lex.common(w.lower()) or self.lex.known_name(w.lower()) for w in words):
                found.append((m.start(1), m.end(2), 0.65))
        for h in _CSV_NAME_HEADER.finditer(text):
            col = len(re.findall(r"[,;\t|]", h.group(1)))
            line_end = text.find("\n", h.start())
            sep = re.search(r"[,;\t|]", text[h.start() : line_end if line_end >= 0 else len(text)])
            if not sep:
                continue
            pos = text.find("\n", h.end())
            while pos >= 0:
                line_end = text.find("\n", pos + 1)
                line = text[pos + 1 : line_end if line_end >= 0 else len(text)]
                cells = line.split(sep.group())
                if len(cells) <= col:
                    break
                cell_start = pos + 1 + sum(len(c) + 1 for c in cells[:col])
                cell = cells[col].strip()
                if re.search(r"[^\W\d_]{2}", cell) and "@" not in cell:
                    lead = len(cells[col]) - len(cells[col].lstrip())
                    found.append((cell_start + lead, cell_start + lead + len(cell), 0.7))
                pos = line_end
        return [_result("PERSON", s, e, sc, self.name) for s, e, sc in found]


def username_results(text: str) -> list[RecognizerResult]:
    """`user=robert`, `username: jane.doe`: a login name identifies a person."""
    out = []
    for m in re.finditer(r"(?i)\b(?:user(?:name)?|login|uid|user_id|handle)\s*[:=]\s*([\w.@-]{2,64})", text):
        if m.group(1).lower() not in {"root", "admin", "administrator", "guest", "user", "test", "postgres",
                                      "ubuntu", "nobody", "none", "null", "anonymous"}:  # fmt: skip
            out.append(_result("PERSON", m.start(1), m.end(1), 0.7, "PairforgeUsernameRule"))
    return out


@lru_cache(maxsize=1)
def fake_values() -> dict[str, list[str]]:
    """Small hand-written pools for `operator: fake` (invented values; streets and numbers are built around them)."""
    return {
        "first": """Avery Blake Casey Devon Elliot Finley Harper Jordan Kendall Logan Morgan Parker Quinn Reese Rowan
        Sawyer Skyler Taylor Emerson Hayden Jamie Kai Lane Marlow Noel Oakley Peyton Remy Sage Tatum""".split(),
        "last": """Ashford Bellamy Calloway Davenport Ellery Fairbanks Garrick Holloway Ingram Jessop Kendrick Lowell
        Merriman Northcott Oakes Prescott Quimby Radcliffe Stanton Thorne Underwood Vance Whitaker Yardley Ziegler
        Barlow Corwin Dunmore Everly Fenwick""".split(),
        "street": """Alder Birch Chestnut Dogwood Elm Fir Hawthorn Linden Magnolia Oak Poplar Rowan Spruce Sycamore
        Walnut""".split(),
        "street_type": ["Street", "Avenue", "Road", "Lane", "Drive", "Court"],
        "city": ["Millbrook", "Eastvale", "Northfield", "Westbury", "Southport", "Lakeside", "Fairhaven", "Brookton"],
    }
