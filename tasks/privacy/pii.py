"""PII scrubbing: Presidio recognizers over one batched spaCy pass, with our own rules, resolution and splice.

`Scrubber` is built once per process and option set (`get_scrubber`); `scrub_frame` sends every text of a Polars
frame (plain string columns, `messages[].content` and the strings inside `messages[].tool_calls` arguments)
through one `scrub()` call, each row one document.

What it finds (see tasks/privacy/recognizers/): Presidio's predefined recognizers for the chosen entities, spaCy NER
for names (on a truecased copy when a text is ALL CAPS or lower case), pairforge's person rules (honorifics, cue
phrases, census name lists), a street-address grammar, multi-region phone formats, secrets and US driver's
licences. Then, per document: overlapping findings are merged (the longer entity names the merged span), and every
value found once is looked for again everywhere in the document (a "Smith" found as part of "John Smith" is a
PERSON wherever it appears). Texts in a language without an NER model (`pii.ner_models`) get the pattern and rule
recognizers only, and the counts say so (`no_ner:<lang>`: documents).

Raw PII values are never logged or stored: only counts per entity type leave this module.

This module imports no Prefect: the stage's worker processes import it (and spaCy, Presidio) and nothing else; the
stage's task is in pii_stage.py.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import re
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterator

import orjson
import polars as pl

from pairforge.tasks.core import storage
from pairforge.tasks.core.recipe import DEFAULT_NER_MODELS, PIIOptions
from pairforge.tasks.core.tools import argument_texts
from pairforge.tasks.privacy import recognizers
from pairforge.tasks.privacy.fake_pools import fake_values
from pairforge.tasks.privacy.recognizers.casing import case_mode, truecase
from pairforge.tasks.privacy.recognizers.lexicon import (
    HONORIFICS,
    NON_NAME_WORDS,
    PARTICLES,
    ROLE_TITLES,
    get_lexicon,
)

log = logging.getLogger(__name__)

MODEL_NAME = DEFAULT_NER_MODELS["en"]  # the offline re-upload of en_core_web_sm (see NOTES.md)
ANALYSIS_LANGUAGE = "en"  # recognizers are registered once under this code; their context words cover several
DENY_ENTITY = "CUSTOM_DENY"
NO_NER = "no_ner:"  # counts key prefix: documents in a language without an NER model
# spaCy labels that are not PII; ignoring them also stops Presidio's per-entity "not mapped" warnings
NON_PII_LABELS = [
    "ORGANIZATION", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY",
    "WORK_OF_ART",
]  # fmt: skip
ENTITY_MAPPING = {
    "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION", "GPE": "LOCATION",
    "ORG": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME", "MISC": "MISC",
}  # fmt: skip
NER_ENTITIES = {"PERSON", "LOCATION", "ORGANIZATION", "DATE_TIME", "NRP"}
# Texts are analysed in pieces of at most this many characters, cut at a line break or sentence end when there is
# one: spaCy's NER needs ~1 GB per 100k chars, and Presidio's context enhancer scans every token of the piece for
# every finding (quadratic: a 100k-char text took 10 s, in 10k pieces 2 s). The second pass still spans the text.
MAX_CHUNK_CHARS = 10_000
NLP_BATCH_CHARS = 20_000  # characters per nlp.pipe batch (see Scrubber._docs)
NAME_TOKEN = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

_DIGIT = re.compile(r"\d")
_URL_USER = re.compile(r"://[^\s/@]*:$")
_tld_patched = False
RULES_NAME_KEY = "recognizer_name"  # presidio's RecognizerResult.RECOGNIZER_NAME_KEY

Finding = tuple[int, int, str, float]  # (start, end, entity_type, score)


class _NoDebug(logging.Filter):
    """Presidio logs the words around each finding at DEBUG ("Context list is: ..."): raw text. Drop those records
    so that no log level, however verbose, can write PII."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _quiet_presidio_debug() -> None:
    presidio_log = logging.getLogger("presidio-analyzer")
    if not any(isinstance(f, _NoDebug) for f in presidio_log.filters):
        presidio_log.addFilter(_NoDebug())


def _patch_tldextract() -> None:
    """Presidio's email recognizer calls `tldextract.extract`, which tries to download the public suffix list
    (offline here: long tracebacks, then the bundled snapshot). Point it at an extractor that only uses the
    snapshot. A TLDExtract instance has no `.extract` method, so wrap it in a namespace."""
    global _tld_patched
    if _tld_patched:
        return
    import tldextract
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    email_recognizer.tldextract = types.SimpleNamespace(extract=tldextract.TLDExtract(suffix_list_urls=()))
    _tld_patched = True


def model_ops():
    """A context in which spaCy pipelines are built to multiply matrices with numpy (OpenBLAS, one thread) instead
    of thinc's default BLIS: BLIS chooses its kernels by CPU model and falls back to portable C on models it does not
    know (this machine's AMD EPYC: 'generic', ~3x slower at the NER's layer sizes), while OpenBLAS dispatches on CPU
    features. Same entities (600 bench documents, 35,802 of them), NER -25 % CPU. One thread: a scrubber runs per
    core, and more BLAS threads only spin (CPU 10.3 vs 8.1 s for the same NER work)."""
    from thinc.api import use_ops
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")  # for the process: numpy has loaded its OpenBLAS already
    return use_ops("numpy", use_blis=False)


def nlp_configuration(options: PIIOptions, languages: list[str] | None = None) -> dict:
    """The explicit Presidio NLP engine configuration (never the default, which downloads en_core_web_lg).
    One spaCy model per language of `options.ner_models` (or of those, only `languages`); English is always there
    (the person rules use its dictionary)."""
    models = dict(options.ner_models)
    models.setdefault("en", MODEL_NAME)
    if languages is not None:
        models = {lang: name for lang, name in models.items() if lang in languages or lang == "en"}
    wanted = set(options.entities) | set(options.quasi_identifiers)
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": lang, "model_name": name} for lang, name in models.items()],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": ENTITY_MAPPING,
            "labels_to_ignore": [x for x in [*NON_PII_LABELS, "MISC"] if x not in wanted],
        },
    }


def _check_models(models: dict[str, str]) -> None:
    import spacy

    for lang, name in models.items():
        if not spacy.util.is_package(name) and not os.path.isdir(name):
            raise ValueError(f"pii.ner_models: spaCy model {name!r} for language {lang!r} is not installed")


def _min_phone_digits(regions) -> int:
    from phonenumbers import PhoneMetadata

    metas = [PhoneMetadata.metadata_for_region(r) for r in regions]
    return min((min(m.general_desc.possible_length) for m in metas if m), default=1)


def _chunks(text: str, size: int | None = None) -> list[tuple[int, str]]:
    """(offset, piece) pieces of at most `size` chars, cut after a line break, else a sentence end, else
    whitespace, when there is one in the last fifth of the piece."""
    size = size or MAX_CHUNK_CHARS
    out, start = [], 0
    while len(text) - start > size:
        floor = start + size * 4 // 5
        cut = text.rfind("\n", floor, start + size)
        if cut < 0:
            dot = text.rfind(". ", floor, start + size - 1)
            cut = dot + 1 if dot >= 0 else -1
        if cut < 0:
            cut = max(text.rfind(" ", start, start + size), text.rfind("\n", start, start + size))
        end = cut + 1 if cut > start else start + size
        out.append((start, text[start:end]))
        start = end
    out.append((start, text[start:]))
    return out


@functools.cache
def _artifacts_class() -> type:
    """(Made on first use: presidio is imported only when a scrubber is built.)"""
    from presidio_analyzer.nlp_engine import NlpArtifacts

    class Artifacts(NlpArtifacts):
        """Presidio's NlpArtifacts with its `keywords` made when first read: Presidio computes them for every text
        (a stop-word check per word), but only its context enhancer reads them, for texts with findings."""

        def __init__(self, entities, tokens, tokens_indices, lemmas, nlp_engine, scores):
            self.entities, self.tokens, self.tokens_indices, self.lemmas = entities, tokens, tokens_indices, lemmas
            self.nlp_engine = nlp_engine
            self.scores = scores if scores else [0.85] * len(entities)
            self._keywords = None

        @property
        def keywords(self):
            if self._keywords is None:
                self._keywords = NlpArtifacts.set_keywords(self.nlp_engine, self.lemmas, ANALYSIS_LANGUAGE)
            return self._keywords

        @keywords.setter
        def keywords(self, value):
            self._keywords = value

    return Artifacts


class Scrubber:
    """Finds PII with Presidio and pairforge's rules, replaces it per `PIIOptions.operator`. Build once
    (`get_scrubber`), reuse; thread-safe."""

    def __init__(self, options: PIIOptions):
        from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer

        from pairforge.tasks.privacy.recognizers.person import PersonRulesRecognizer

        _patch_tldextract()
        _quiet_presidio_debug()
        self.options = options
        self.lang = options.language
        self.allow = {v.strip().casefold() for v in options.allow_list}
        _check_models({m["lang_code"]: m["model_name"] for m in nlp_configuration(options)["models"]})
        # English only at first: another language's model loads when a row in that language comes (`_ner`)
        with model_ops():
            engine = NlpEngineProvider(nlp_configuration=nlp_configuration(options, ["en"])).create_engine()
        self.nlp_engine = engine
        self.ner_models = dict(options.ner_models)  # languages with names by NER -> model name
        self.ner: dict = {}  # of those, the loaded pipelines
        self.disabled: dict[str, list[str]] = {}
        self.nlp = engine.get_nlp("en")
        self.lexicon = get_lexicon(self.nlp)
        import spacy

        self.tokenizer = spacy.blank("xx").tokenizer  # for texts without an NER model: tokens only

        # Only the recognizers for the chosen entities: each extra one costs time on every text.
        wanted = set(options.entities) | set(options.quasi_identifiers)
        registry = RecognizerRegistry(supported_languages=[ANALYSIS_LANGUAGE])
        presidio_log = logging.getLogger("presidio-analyzer")
        level = presidio_log.level
        presidio_log.setLevel(logging.ERROR)  # one "language not supported" warning per foreign recognizer
        try:
            registry.load_predefined_recognizers(languages=[ANALYSIS_LANGUAGE], nlp_engine=engine)
        finally:
            presidio_log.setLevel(level)
        keep = []
        replaced = recognizers.replaced()
        for r in registry.recognizers:
            if type(r).__name__ in replaced:
                continue  # e.g. UsLicenseRecognizer: pairforge's DriverLicenseRecognizer stands in for it
            hits = [e for e in r.supported_entities if e in wanted]
            if hits:
                r.supported_entities = hits  # e.g. the spaCy recognizer: PERSON only, not DATE_TIME/NRP too
                keep.append(r)
        own = recognizers.build(wanted, self.lexicon, ANALYSIS_LANGUAGE)  # the registry, in its order
        self.rules_name = PersonRulesRecognizer.NAME
        keep += [r for r in own if not r.AFTER_ANALYZER]
        self.after = [r for r in own if r.AFTER_ANALYZER]  # run on each text after the analyzer (see base.py)
        supported = {e for r in [*keep, *self.after] for e in r.supported_entities}
        missing = sorted(wanted - supported)
        if missing:
            raise ValueError(f"pii.entities: no recognizer for {', '.join(missing)}")
        self.entities = sorted(wanted)
        if options.deny_list:
            keep.append(
                PatternRecognizer(
                    supported_entity=DENY_ENTITY, deny_list=options.deny_list, supported_language=ANALYSIS_LANGUAGE
                )
            )
            self.entities.append(DENY_ENTITY)
        registry.recognizers = keep
        self.analyzer = AnalyzerEngine(
            registry=registry, nlp_engine=engine, supported_languages=[ANALYSIS_LANGUAGE]
        )
        self.needs_ner = bool(wanted & NER_ENTITIES) and any(isinstance(r, SpacyRecognizer) for r in keep)
        if "en" in self.ner_models:
            self._ner("en")
        # python-phonenumbers scans every text once per region (~40% of the analysis time). A text with fewer
        # digits than the shortest valid number of those regions cannot hold one: skip that recognizer there.
        phone = [r for r in keep if isinstance(r, PhoneRecognizer)]
        self.min_phone_digits = min((_min_phone_digits(r.supported_regions) for r in phone), default=0)
        self.entities_no_phone = [e for e in self.entities if e != "PHONE_NUMBER"]
        self.entities_no_digits = [e for e in self.entities if e in NER_ENTITIES | {DENY_ENTITY, "EMAIL_ADDRESS",
                                                                                     "SECRET", "URL",
                                                                                     "STREET_ADDRESS"}]  # fmt: skip
        self._lock = threading.Lock()  # Prefect runs tasks in threads; spaCy and Presidio are not thread-safe
        log.debug("PII scrubber: entities %s, NER languages %s", self.entities, sorted(self.ner_models))

    def _ner(self, lang: str):
        """The spaCy pipeline for `lang` (one of `ner_models`), loaded on first use: a French model costs nothing
        until a French row comes."""
        nlp = self.ner.get(lang)
        if nlp is None:
            import spacy

            engine_nlp = self.nlp_engine.nlp
            with model_ops():
                nlp = engine_nlp.get(lang) or spacy.load(self.ner_models[lang])
            engine_nlp[lang] = nlp
            self.lexicon.add_language(lang, nlp)  # its dictionary: ordinary words are no names there either
            self.disabled[lang] = self._unneeded_pipes(nlp, self.needs_ner)
            self.ner[lang] = nlp
        return nlp

    @staticmethod
    def _unneeded_pipes(nlp, needs_ner: bool) -> list[str]:
        """spaCy components that Presidio does not need: everything but NER (and what NER listens to), or
        everything but the tokenizer when no NER entity is wanted. Parser, tagger and lemmatizer halve the
        speed; lemmas are replaced by lower-cased tokens, which Presidio's substring context matching treats
        almost the same ("numbers" contains the context word "number"); same findings on the PII corpus."""
        if not needs_ner:
            return list(nlp.pipe_names)
        keep = {"ner", "entity_ruler", "span_ruler"}
        if "ner" in nlp.pipe_names:
            ner = nlp.get_pipe("ner")
            if any(node.name == "tok2vec-listener" for node in ner.model.walk()):
                keep |= {"tok2vec", "transformer"}  # this model's NER shares an embedding layer
        return [name for name in nlp.pipe_names if name not in keep]

    def _artifacts(self, doc, with_entities: bool):
        eng = self.nlp_engine
        if with_entities:
            ents = list(eng._get_entities(doc))
            ents, scores = eng._get_updated_entities(ents, eng._get_scores_for_entities(doc))
        else:
            ents, scores = [], []
        # offsets and lower-cased forms read as arrays: iterating a doc makes a Python Token per word (~5 % of the
        # stage on long documents, twice over)
        from spacy.attrs import IDX, LOWER

        cols = doc.to_array([IDX, LOWER]).tolist() if len(doc) else []
        strings = doc.vocab.strings
        return _artifacts_class()(ents, doc, [c[0] for c in cols], [strings[c[1]] for c in cols], eng, scores)

    def _docs(self, pieces: list[tuple[int, int, str, str]]) -> Iterator[tuple[int, object]]:
        """(piece number, spaCy doc), yielded as they are made so that each is analysed and dropped before the next
        batch: NER for languages with a model (on a truecased copy of ALL-CAPS or lower-case English), the bare
        tokenizer for the rest. The pieces of one text come in order. An nlp.pipe batch holds at most
        `options.batch_size` pieces and NLP_BATCH_CHARS characters: spaCy's NER needs ~9 KB per token of a batch
        while it runs (2,000 documents of 3,500 characters, 30 a batch: +315 MB at 256 pieces, +43 MB at 4)."""
        by_lang: dict[str, list[int]] = {}
        for k, (_, _, piece, lang) in enumerate(pieces):
            if lang in self.ner_models and self.needs_ner:
                by_lang.setdefault(lang, []).append(k)
            else:
                yield k, self.tokenizer(piece)
        for lang, idx in by_lang.items():
            nlp = self._ner(lang)
            group: list[int] = []
            chars = 0
            for n, k in enumerate(idx):
                group.append(k)
                chars += len(pieces[k][2])
                if n + 1 < len(idx) and len(group) < self.options.batch_size and (
                        chars + len(pieces[idx[n + 1]][2]) <= NLP_BATCH_CHARS):
                    continue
                texts = [truecase(pieces[g][2], self.lexicon) if lang == "en" and case_mode(pieces[g][2]) != "normal"
                         else pieces[g][2] for g in group]
                yield from zip(group, nlp.pipe(texts, batch_size=len(group), disable=self.disabled[lang]), strict=True)
                group, chars = [], 0

    def find(
        self, texts: list[str | None], langs: list[str | None] | None = None, groups: list | None = None
    ) -> list[list[Finding]]:
        """Accepted findings per text, as (start, end, entity_type, score), sorted by start, not overlapping.
        `langs`: each text's language (default `options.language`); `groups`: texts with the same group key are one
        document (the second pass looks across them; default: each text its own document)."""
        langs = [lang or self.lang for lang in (langs or [None] * len(texts))]
        pieces = [(i, off, piece, langs[i]) for i, t in enumerate(texts) if t for off, piece in _chunks(t)]
        found: list[list[Finding]] = [[] for _ in texts]
        for k, doc in self._docs(pieces):
            i, off, piece, lang = pieces[k]
            digits = len(_DIGIT.findall(piece))
            if digits == 0:
                entities = self.entities_no_digits
            elif digits < self.min_phone_digits:
                entities = self.entities_no_phone
            else:
                entities = self.entities
            artifacts = self._artifacts(doc, with_entities=lang in self.ner_models and self.needs_ner)
            artifacts.text_language = lang  # read by the person rules
            results = self.analyzer.analyze(
                text=piece, language=ANALYSIS_LANGUAGE, entities=sorted(set(entities)),
                score_threshold=self.options.threshold, nlp_artifacts=artifacts,
            )  # fmt: skip
            for after in self.after:
                results += [r for r in after.analyze(piece, entities, artifacts) if r.score >= self.options.threshold]
            for r in results:
                start, end = r.start, r.end
                while start < end and piece[start].isspace():
                    start += 1
                while end > start and piece[end - 1].isspace():
                    end -= 1
                rule = r.recognition_metadata.get(RULES_NAME_KEY) == self.rules_name
                if r.entity_type == "PERSON" and not rule:  # the person rules' spans are names already
                    start, end = self._clean_person(piece, start, end, lang)
                elif r.entity_type == "EMAIL_ADDRESS" and _URL_USER.search(piece[max(0, start - 80) : start]):
                    continue  # "https://user:password@host": the password is a SECRET, the host stays
                if end <= start:
                    continue
                if r.entity_type != DENY_ENTITY and piece[start:end].casefold() in self.allow:
                    continue
                found[i].append((start + off, end + off, r.entity_type, r.score))
        members: dict = {}
        for i, key in enumerate(groups if groups is not None else range(len(texts))):
            members.setdefault(key, []).append(i)
        for idx in members.values():
            if self.options.second_pass:
                self._second_pass(texts, found, idx)
            for i in idx:
                found[i] = _resolve_overlaps(found[i], texts[i])
        return found

    def _clean_person(self, text: str, start: int, end: int, lang: str = "en") -> tuple[int, int]:
        """Trim a PERSON finding to a name: the NER model's spans can run over a line break or a column gap
        ("Jane Doe\nAddress", "JANE DOE   DOB"), start with digits ("1042,Jane Doe") or a title ("Mme Leblanc"). A span
        with no word that could be a name (only adjectives, verbs, function words, months: "Irish", "September 3") is
        dropped: (start, start). Other languages than English are trimmed with their own ordinary words."""
        value = text[start:end]
        if re.search(r"[!?]", value):  # "banana!Eat a banana!Eat": no name holds these
            return start, start
        value = re.split(r"\n|\t| {2,}", value, maxsplit=1)[0]
        lead = re.match(r"[\W\d_]*", value)
        skip = lead.end() if lead else 0
        value = value[skip:].rstrip(" ,;:-'\"”)(")
        if value.endswith(("'s", "’s")) and len(value) > 3:  # "Yefremova's": the name without its ending
            value = value[:-2]
        start += skip
        lex = self.lexicon
        # a leading title stays ("Mme <PERSON>", "Detective <PERSON>"), as after the person rules
        while (m := re.match(r"([^\W\d_]+)\.?[ \t]+(?=\S)", value)) and (
                m.group(1).lower() in HONORIFICS or m.group(1).lower() in ROLE_TITLES and m.group(1)[:1].isupper()):
            value, start = value[m.end() :], start + m.end()
        if lang != "en":
            return self._clean_foreign(value, start, lang)
        # leading and trailing ordinary words the model took in ("Later Smith", "Smith said")
        while (m := re.match(r"([^\W\d_]+)[ \t]+", value)) and self._plain_word(m.group(1)):
            value, start = value[m.end() :], start + m.end()
        while (m := re.search(r"[ \t]+([^\W\d_]+)$", value)) and self._plain_word(m.group(1)):
            value = value[: m.start()]
        if not any(len(w) > 1 and (w.lower() not in lex.nonnoun or w.lower() in lex.first)
                   and w.lower() not in NON_NAME_WORDS for w in NAME_TOKEN.findall(value)):  # fmt: skip
            return start, start
        return start, start + len(value)

    def _clean_foreign(self, value: str, start: int, lang: str) -> tuple[int, int]:
        """`_clean_person` for a language other than English: leading words of that language's dictionary unless the
        name lists know them ("Bonjour Liliane", "Veuillez"), and trailing ones written in lower case ("Leblanc
        habite") go; a span left without a capitalised or unknown word is dropped."""
        lex = self.lexicon
        normal = case_mode(value) == "normal" or len(value) < 12

        def plain(word: str, lead: bool) -> bool:
            low = word.lower()
            if low in PARTICLES and not lead:
                return False
            if not lex.common_in(lang, low) or lex.given_name(low):
                return False
            return lead or not normal or word[:1].islower()

        while (m := re.match(r"([^\W\d_]+)(?:[ \t]+|['’](?=\w))", value)) and plain(m.group(1), True):
            value, start = value[m.end() :], start + m.end()
        while (m := re.search(r"[ \t]+([^\W\d_]+)$", value)) and plain(m.group(1), False):
            value = value[: m.start()]
        words = [w for w in NAME_TOKEN.findall(value) if len(w) > 1 and w.lower() not in NON_NAME_WORDS]
        if not any((w[:1].isupper() or not normal) and not (lex.common_in(lang, w.lower()) and w[:1].islower())
                   and (not lex.common_in(lang, w.lower()) or lex.name_word(w.lower()) or w[:1].isupper())
                   for w in words) or all(lex.common_in(lang, w.lower()) and not lex.name_word(w.lower())
                                          and len(words) == 1 for w in words):  # fmt: skip
            return start, start
        return start, start + len(value)

    def _plain_word(self, word: str) -> bool:
        low = word.lower()
        return (low in self.lexicon.nonnoun or low in NON_NAME_WORDS) and low not in self.lexicon.first and (
            low not in HONORIFICS)

    def _second_pass(self, texts: list[str | None], found: list[list[Finding]], idx: list[int]) -> None:
        """Every value found once in a document is a finding wherever else it appears in that document; for names,
        each word of the name too ("Smith" after "John Smith"), except ordinary words written in lower case."""
        exact: dict[str, str] = {}  # value -> entity
        words: dict[str, bool] = {}  # name word (casefolded) -> match case-insensitively
        for i in idx:
            text = texts[i]
            for start, end, entity, _ in found[i]:
                value = text[start:end]
                if len(value.strip()) < 3 or value.casefold() in self.allow:
                    continue
                exact.setdefault(value, entity)
                if entity == "PERSON":
                    for w in NAME_TOKEN.findall(value):
                        if w.endswith(("'s", "’s")) and len(w) > 3:  # "Yefremova's": the name is "Yefremova"
                            w = w[:-2]
                        low = w.casefold()
                        lowercase_word = not w[0].isupper() and self.lexicon.common(low)  # "banana", not "sarah"
                        if (len(w) < 3 or lowercase_word or low in HONORIFICS or low in NON_NAME_WORDS
                                or low in self.allow):
                            continue
                        # an ordinary word ("Will", "Rose") only where it is written as a name
                        words[w if self.lexicon.common(low) else low] = not self.lexicon.common(low)
        if not exact:
            return
        patterns = []
        if words:
            insensitive = [re.escape(w) for w, ci in words.items() if ci]
            sensitive = [re.escape(w) for w, ci in words.items() if not ci]
            if insensitive:
                patterns.append((re.compile(rf"(?<!\w)(?:{'|'.join(insensitive)})(?!\w)", re.I), "PERSON"))
            if sensitive:
                patterns.append((re.compile(rf"(?<!\w)(?:{'|'.join(sensitive)})(?!\w)"), "PERSON"))
        values = sorted(exact, key=len, reverse=True)
        patterns.append((re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in values)), None))
        for i in idx:
            text = texts[i]
            if not text:
                continue
            extra = []
            for pattern, entity in patterns:
                for m in pattern.finditer(text):
                    extra.append((m.start(), m.end(), entity or exact[m.group()], 0.5))
            found[i] += extra

    def scrub(
        self, texts: list[str | None], langs: list[str | None] | None = None, groups: list | None = None
    ) -> tuple[list[str | None], Counter]:
        """Scrub a batch; same order, None stays None, empty stays empty. Returns (texts, counts per entity type,
        plus `no_ner:<lang>`: documents whose language has no NER model)."""
        salt = os.environ.get(self.options.hash_salt_env, "")
        counts: Counter = Counter()
        out: list[str | None] = list(texts)
        with self._lock:
            found = self.find(texts, langs, groups)
        langs = [lang or self.lang for lang in (langs or [None] * len(texts))]
        keys = list(groups) if groups is not None else list(range(len(texts)))
        tables: dict = {}
        seen_docs: set = set()
        for i, (text, spans) in enumerate(zip(texts, found, strict=True)):
            if text and self.needs_ner and langs[i] not in self.ner_models and keys[i] not in seen_docs:
                seen_docs.add(keys[i])
                counts[NO_NER + langs[i]] += 1
            if not spans:
                continue
            table = tables.setdefault(keys[i], Pseudonyms())
            parts, pos = [], 0
            for start, end, entity, _ in spans:
                parts.append(text[pos:start])
                parts.append(self._replacement(entity, text[start:end], salt, table))
                pos = end
                counts[entity] += 1
            parts.append(text[pos:])
            out[i] = "".join(parts)
        return out, counts

    def _replacement(self, entity: str, value: str, salt: str, table: Pseudonyms) -> str:
        op = self.options.operator
        if op == "replace":
            return f"<{entity}>"
        if op == "mask":
            return "*" * len(value)
        if op == "hash":
            return f"<{entity}:{hashlib.sha256((salt + value).encode()).hexdigest()[:12]}>"
        if op == "pseudonym":
            return f"<{entity}_{table.number(entity, value)}>"
        if op == "fake":
            return fake_value(entity, value, table.canonical(entity, value), salt)
        return ""  # redact


class Pseudonyms:
    """Per-document numbering of values by entity type: the same value gets the same number; a name that is part
    of an earlier name ("Smith" after "John Smith") gets that name's number."""

    def __init__(self):
        self.entries: dict[str, list[tuple[str, frozenset[str], str]]] = {}  # entity -> [(key, words, canonical)]

    @staticmethod
    def _key(value: str) -> str:
        return " ".join(value.casefold().split())

    def _find(self, entity: str, value: str) -> int:
        entries = self.entries.setdefault(entity, [])
        key = self._key(value)
        for n, (k, _, _) in enumerate(entries):
            if k == key:
                return n
        if entity == "PERSON":
            words = frozenset(w.casefold() for w in NAME_TOKEN.findall(value)) - HONORIFICS
            if words:
                hits = [n for n, (_, ws, _) in enumerate(entries) if words <= ws]
                if len(hits) == 1:
                    return hits[0]
        entries.append((key, frozenset(w.casefold() for w in NAME_TOKEN.findall(value)), value))
        return len(entries) - 1

    def number(self, entity: str, value: str) -> int:
        return self._find(entity, value) + 1

    def canonical(self, entity: str, value: str) -> str:
        n = self._find(entity, value)
        return self.entries[entity][n][2]


def _stream(salt: str, *parts: str):
    """An endless stream of pseudo-random bytes keyed by the salt: HMAC-SHA256 over the parts and a counter."""
    key = (salt or "pairforge").encode()
    msg = "\x00".join(parts).encode()
    n = 0
    while True:
        yield from hmac.new(key, msg + n.to_bytes(4, "big"), hashlib.sha256).digest()
        n += 1


def _like(template: str, fake: str) -> str:
    """Give `fake` the letter case of `template` (ALL CAPS, lower case, or as is)."""
    if template.isupper():
        return fake.upper()
    if template.islower():
        return fake.lower()
    return fake


def _luhn(digits: str) -> str:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def fake_value(entity: str, value: str, canonical: str, salt: str, attempt: int = 0) -> str:
    """A realistic invented value for `value` (never the value itself), the same for the same value and salt.
    Names are faked word by word from the document's canonical form, so "Smith" and "John Smith" agree."""
    pools = fake_values()
    out = _fake(entity, value, canonical, salt, pools, attempt)
    if out.casefold() == value.casefold() and attempt < 5:
        return fake_value(entity, value, canonical, salt, attempt + 1)
    return out


def _fake(entity: str, value: str, canonical: str, salt: str, pools: dict, attempt: int) -> str:
    rnd = _stream(salt, entity, canonical.casefold(), str(attempt))

    def pick(pool: list[str]) -> str:
        return pool[(next(rnd) << 8 | next(rnd)) % len(pool)]

    def digits_like(s: str) -> str:
        return "".join(str(next(rnd) % 10) if c.isdigit() else c for c in s)

    if entity == "PERSON":
        words = NAME_TOKEN.findall(canonical)
        fake_words = {}
        for n, w in enumerate(words):
            wr = _stream(salt, "PERSON-word", w.casefold(), str(attempt))
            pool = pools["first"] if n == 0 and len(words) > 1 else pools["last"]
            fake_words[w.casefold()] = pool[(next(wr) << 8 | next(wr)) % len(pool)]
        return NAME_TOKEN.sub(lambda m: _like(m.group(), fake_words.get(m.group().casefold(), pick(pools["last"]))),
                              value)  # fmt: skip
    if entity == "EMAIL_ADDRESS":
        return f"{pick(pools['first']).lower()}.{pick(pools['last']).lower()}@example.{pick(['com', 'org', 'net'])}"
    if entity in ("PHONE_NUMBER", "US_DRIVER_LICENSE", "AGE"):
        return digits_like(value)
    if entity == "CREDIT_CARD":
        raw = [c for c in value if c.isdigit()]
        body = value[0] + "".join(str(next(rnd) % 10) for _ in raw[1:-1])
        new = iter(body + _luhn(body))
        return "".join(next(new) if c.isdigit() else c for c in value)
    if entity == "IBAN_CODE":
        raw = value.replace(" ", "").upper()
        bban = "".join(str(next(rnd) % 10) if c.isdigit() else c for c in raw[4:])
        check = 98 - int("".join(str(int(c, 36)) for c in bban + raw[:2] + "00")) % 97
        new = f"{raw[:2]}{check:02d}{bban}"
        return " ".join(new[i : i + 4] for i in range(0, len(new), 4)) if " " in value else new
    if entity == "US_SSN":
        return f"9{next(rnd) % 100:02d}-{next(rnd) % 90 + 10:02d}-{(next(rnd) << 8 | next(rnd)) % 9000 + 1000:04d}"
    if entity == "IP_ADDRESS":
        if ":" in value:
            return f"2001:db8::{(next(rnd) << 8 | next(rnd)):x}"
        return f"{pick(['192.0.2', '198.51.100', '203.0.113'])}.{next(rnd) % 254 + 1}"
    if entity == "STREET_ADDRESS":
        street = f"{(next(rnd) << 8 | next(rnd)) % 9000 + 100} {pick(pools['street'])} {pick(pools['street_type'])}"
        return _like(value, f"{street}, {pick(pools['city'])}" if ("," in value or "\n" in value) else street)
    return f"<{entity}>"  # secrets and everything else: a placeholder, never a look-alike


def _resolve_overlaps(found: list[Finding], text: str | None = None) -> list[Finding]:
    """Merge overlapping findings into one span covering them all; the longest finding (then the highest score)
    names it. Adjacent names ("Mary" + "Smith" found apart) become one. Sorted by start."""
    if len(found) < 2:
        return sorted(found)
    out: list[Finding] = []
    cluster: list[Finding] = []
    end = -1
    for f in sorted(found):
        if cluster and f[0] < end:
            cluster.append(f)
            end = max(end, f[1])
            continue
        if cluster:
            out.append(_merge(cluster, end))
        cluster, end = [f], f[1]
    out.append(_merge(cluster, end))
    if text is None:
        return out
    joined: list[Finding] = []
    for f in out:
        if joined and joined[-1][2] == f[2] == "PERSON" and re.fullmatch(r"[ \t]", text[joined[-1][1] : f[0]]):
            p = joined[-1]
            joined[-1] = (p[0], f[1], "PERSON", max(p[3], f[3]))
        else:
            joined.append(f)
    return joined


def _merge(cluster: list[Finding], end: int) -> Finding:
    best = max(cluster, key=lambda f: (f[1] - f[0], f[3]))
    return (cluster[0][0], end, best[2], max(f[3] for f in cluster))


_cache: dict[str, Scrubber] = {}
_cache_lock = threading.Lock()


def get_scrubber(options: PIIOptions) -> Scrubber:
    """The process-wide Scrubber for these options (built on first use, about 1 s)."""
    key = options.model_dump_json()
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Scrubber(options)
        return _cache[key]


def is_messages(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct) and "content" in dtype.inner.to_schema()


def scrub_frame(df: pl.DataFrame, columns: list[str], options: PIIOptions) -> tuple[pl.DataFrame, Counter]:
    """Scrub string columns and `messages[].content` of `df` in one batch; row order and other columns kept.
    Each row is one document (pseudonyms and the second pass span its prompt, response and messages); its
    `lang` column, when there is one, picks the NER model (none: patterns only, counted as `no_ner:<lang>`).

    Tool use: the string values inside `messages[].tool_calls` arguments are scrubbed too (what a model learns to
    send to a tool; tool results are `tool` turns' content), the JSON put back together (tasks.core.tools)."""
    texts: list[str | None] = []
    rows: list[int] = []  # the row of each text
    plan = []  # (column, flat struct series or None, first text index, count, tool-call arguments or None)
    row_ids = pl.int_range(0, len(df), eager=True)
    for col in columns:
        s = df.get_column(col)
        calls = None
        if is_messages(s.dtype):
            flat = s.explode(empty_as_null=False, keep_nulls=False)  # real messages only
            values = flat.struct.field("content").to_list()
            ids = row_ids.repeat_by(s.list.len().fill_null(0)).explode(empty_as_null=False, keep_nulls=False)
            ids = ids.to_list()
            rows.extend(ids)
            if "tool_calls" in s.dtype.inner.to_schema():
                calls = _call_texts(flat.struct.field("tool_calls").to_list())
                for k, found, _ in calls:
                    values += found
                    rows.extend([ids[k]] * len(found))
        elif s.dtype == pl.String:
            flat, values = None, s.to_list()
            rows.extend(range(len(df)))
        else:
            raise TypeError(f"scrub_frame: column {col!r} is {s.dtype}, expected String or List(Struct{{content}})")
        plan.append((col, flat, len(texts), len(values), calls))
        texts.extend(values)
    if not texts:
        return df, Counter()
    langs = None
    if "lang" in df.columns and df.schema["lang"] == pl.String:
        row_langs = df.get_column("lang").to_list()
        langs = [row_langs[r] for r in rows]
    scrubbed, counts = get_scrubber(options).scrub(texts, langs=langs, groups=rows)
    new_cols = []
    for col, flat, start, n, calls in plan:
        if flat is None:
            new_cols.append(pl.Series(col, scrubbed[start : start + n], dtype=pl.String))
            continue
        n_content = len(flat)
        fields = {"content": pl.Series("content", scrubbed[start : start + n_content], dtype=pl.String)}
        if calls:
            tool_calls = flat.struct.field("tool_calls").to_list()
            at = start + n_content
            for k, found, put_back in calls:
                tool_calls[k] = orjson.dumps(put_back(scrubbed[at : at + len(found)])).decode()
                at += len(found)
            fields["tool_calls"] = pl.Series("tool_calls", tool_calls, dtype=pl.String)
        new_cols.append(_rebuild_lists(df.get_column(col), flat, fields))
    return df.with_columns(new_cols), counts


def _call_texts(tool_calls: list[str | None]) -> list[tuple[int, list[str], Callable]]:
    """(message index, strings inside its calls' arguments, put-back function) for messages with tool calls."""
    out = []
    for k, text in enumerate(tool_calls):
        if text:
            found, put_back = argument_texts(orjson.loads(text))
            if found:
                out.append((k, found, put_back))
    return out


def _rebuild_lists(orig: pl.Series, flat: pl.Series, fields: dict[str, pl.Series]) -> pl.Series:
    """Put new field values (contents, tool calls) into the exploded messages, then regroup them into the rows."""
    name = orig.name
    flat = flat.to_frame().select(pl.col(name).struct.with_fields(**fields)).to_series()
    lens = orig.list.len()
    rows = pl.int_range(0, len(orig), eager=True).alias("_r")
    grouped = (
        pl.DataFrame(
            {"_r": rows.repeat_by(lens.fill_null(0)).explode(empty_as_null=False, keep_nulls=False), name: flat}
        )
        .group_by("_r", maintain_order=True)
        .agg(pl.col(name))
    )
    # rows without messages are missing from `grouped`: give back [] or null as they were
    return (
        pl.DataFrame({"_r": rows, "_n": lens})
        .join(grouped, on="_r", how="left", maintain_order="left")
        .select(
            pl.when(pl.col("_n").is_null())
            .then(None)
            .when(pl.col("_n") == 0)
            .then(pl.lit([], dtype=orig.dtype))
            .otherwise(pl.col(name))
            .alias(name)
        )
        .to_series()
    )


def scrub_records(records: list[dict], fields: list[str], options: PIIOptions) -> Counter:
    """Scrub `fields` of JSON records in place, in one batch: strings, and `content` of lists of messages (with the
    strings inside their `tool_calls` arguments). Each record is one document; a string `lang` field picks its
    language."""
    texts: list[str] = []
    groups: list[int] = []
    langs: list[str | None] = []
    put: list[tuple[int, int, Callable[[list[str]], object]]] = []  # (first text, count, puts the new texts back)

    def take(values: list[str], put_back: Callable[[list[str]], object], n: int, lang: str | None) -> None:
        put.append((len(texts), len(values), put_back))
        texts.extend(values)
        groups.extend([n] * len(values))
        langs.extend([lang] * len(values))

    def setter(obj: dict, key: str) -> Callable[[list[str]], object]:
        return lambda new: obj.__setitem__(key, new[0])

    for n, rec_ in enumerate(records):
        lang = rec_.get("lang") if isinstance(rec_.get("lang"), str) else None
        for f in fields:
            value = rec_.get(f)
            if isinstance(value, str):
                take([value], setter(rec_, f), n, lang)
            elif isinstance(value, list):
                for m in value:
                    if isinstance(m, dict) and isinstance(m.get("content"), str):
                        take([m["content"]], setter(m, "content"), n, lang)
                    if isinstance(m, dict) and isinstance(m.get("tool_calls"), list):
                        take(*argument_texts(m["tool_calls"]), n, lang)
    scrubbed, counts = get_scrubber(options).scrub(texts, langs=langs, groups=groups)
    for start, count, put_back in put:
        put_back(scrubbed[start : start + count])
    return counts


def scrub_jsonl(data: bytes, fields: list[str], options: PIIOptions) -> tuple[bytes, Counter]:
    """Scrub a JSONL file's fields (default: every top-level string field); order and other fields kept."""
    import orjson

    records = []
    for n, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"line {n}: broken JSON ({str(e).split(':')[0]})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"line {n}: expected a JSON object")
        records.append(obj)
    if not fields:
        fields = sorted({k for r in records for k, v in r.items() if isinstance(v, str)})
    missing = [f for f in fields if not any(f in r for r in records)]
    if missing:
        raise ValueError(f"no field {', '.join(map(repr, missing))} in any row")
    counts = scrub_records(records, fields, options)
    return b"".join(orjson.dumps(r) + b"\n" for r in records), counts


def scrub_parquet(data: bytes, fields: list[str], options: PIIOptions) -> tuple[bytes, Counter]:
    """Scrub a Parquet file's columns (default: every string column and messages list)."""
    import io

    df = pl.read_parquet(io.BytesIO(data))
    if not fields:
        fields = [c for c, t in df.schema.items() if t == pl.String or is_messages(t)]
    missing = [f for f in fields if f not in df.columns]
    if missing:
        raise ValueError(f"no column {', '.join(map(repr, missing))} (has: {', '.join(df.columns)})")
    out, counts = scrub_frame(df, fields, options)
    return storage.parquet_bytes(out), counts
