"""The dataset card: `README.md` of every version, in the Hugging Face dataset-card format.

YAML metadata first (licence, languages, task categories, size category, pretty name, tags, and
`configs` with `data_files` per split so the Hub and `datasets.load_dataset(<version folder>)` find the
splits), then a datasheet (Gebru et al., "Datasheets for Datasets"): motivation and intended use,
sources and licences, processing steps with their parameters, PII handling, filtering and rejections,
splits (with the pairs' token statistics per split, in the tokenizer the manifest names), validation,
composition and bias, limitations, erasure requests and a changelog.

Everything comes from the manifest (counts, reasons, options), never from rows: the card holds no
row text. `render_card(manifest, previous)` is also what the flow publishes as a markdown artifact.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from pairforge.tasks.core.schema import SPLITS
from pairforge.tasks.core.stages import CARD_STEPS

# our task -> Hugging Face task categories (https://huggingface.co/tasks)
TASK_CATEGORIES = {
    "qa": ["question-answering"],
    "instruction": ["text-generation"],
    "chat": ["text-generation"],
    "summarization": ["summarization"],
    "translation": ["translation"],
    "classification": ["text-classification"],
}
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"), (10**10, "1B<n<10B"),
                   (10**11, "10B<n<100B"), (10**12, "100B<n<1T")]
DATA_TABLES = ("pairs", "documents")  # pairs is the default config
# recipe keys that hold values which may themselves be personal data: the card shows how many, not which
SENSITIVE_OPTIONS = {("pii", "allow_list"), ("pii", "deny_list")}
# stage stats the flow records in the manifest (besides those with their own section)
EXTRA_STATS = [("dedup", "Deduplication"), ("augment", "Augmentation")]


def size_category(rows: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if rows < limit), "n>1T")


def _rows(manifest: dict, table: str) -> dict[str, int]:
    rows = manifest.get("tables", {}).get(table, {}).get("rows", {})
    return {s: int(rows.get(s, 0) or 0) for s in SPLITS}


def _license(manifest: dict) -> dict:
    """The manifest's licence summary, or one computed from its sources (older manifests have none)."""
    if manifest.get("license"):
        return manifest["license"]
    from pairforge.tasks.ingest.licenses import license_summary

    return license_summary(manifest.get("sources", []))


def card_metadata(manifest: dict) -> dict:
    """The YAML front matter of the card (Hugging Face dataset-card metadata)."""
    lic = _license(manifest)
    # a split without rows is left out: `datasets` refuses a declared split that holds no data
    tables = [t for t in DATA_TABLES if t in manifest.get("tables", {}) and any(_rows(manifest, t).values())]
    configs = []
    for table in tables:
        files = [{"split": s, "path": f"{table}/{s}-*.parquet"} for s, n in _rows(manifest, table).items() if n]
        configs.append({"config_name": table, **({"default": True} if table == tables[0] else {}),
                        "data_files": files})
    main = tables[0] if tables else None
    total = sum(_rows(manifest, main).values()) if main else 0
    tags = ["pairforge", manifest.get("task") or "text"]
    if _generated(manifest):
        tags.append("synthetic")
    if (manifest.get("recipe") or {}).get("pii", {}).get("enabled", bool(manifest.get("stats", {}).get("pii"))):
        tags.append("pii-scrubbed")
    meta: dict[str, Any] = {
        "pretty_name": manifest["dataset"].replace("-", " ").title(),
        "license": lic.get("hf_license") or "unknown",
    }
    if lic.get("hf_license_name"):
        meta["license_name"] = lic["hf_license_name"]
    meta |= {
        "language": list(manifest.get("languages") or []),
        "task_categories": TASK_CATEGORIES.get(manifest.get("task") or "", ["text-generation"]),
        "size_categories": [size_category(total)],
        "tags": list(dict.fromkeys(tags)),
        "configs": configs,
    }
    return meta


def _generated(manifest: dict) -> bool:
    """Whether the version holds pairs a model or template made (from the recipe, else the stage counts)."""
    if (manifest.get("recipe") or {}).get("generate", {}).get("generators"):
        return True
    return any(s.get("stage") == "generate" and s.get("rows_out", 0) > s.get("rows_in", 0)
               for s in manifest.get("stats", {}).get("stages", []))


# ---- markdown helpers --------------------------------------------------------------------------


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) if isinstance(
        value, (dict, list)) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]], right: int = 0) -> list[str]:
    """A markdown table; the last `right` columns are right-aligned (numbers)."""
    align = ["---"] * (len(header) - right) + ["---:"] * right
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return out + [""]


def _counts(title: str, label: str, counts: dict | None, empty: str) -> list[str]:
    if not counts:
        return [f"{title}: {empty}", ""] if title else [empty, ""]
    rows = sorted(counts.items(), key=lambda kv: (-_number(kv[1]), kv[0]))
    return ([f"{title}:", ""] if title else []) + _table([label, "rows"], [[k, v] for k, v in rows], right=1)


def _number(v: Any) -> float:
    return v if isinstance(v, (int, float)) else 0


def _option(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_option(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_option(v) for v in value) + "]"
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _options(step: str, options: Any) -> str:
    if not isinstance(options, dict):
        return f"`{_option(options)}`"
    parts = []
    for key, value in options.items():
        if (step, key) in SENSITIVE_OPTIONS:
            # the flow publishes these as "N values, not published"; older manifests hold the list
            parts.append(f"`{key}`: {value if isinstance(value, str) else f'{len(value or [])} value(s), not shown'}")
        else:
            parts.append(f"`{key}={_option(value)}`")
    return ", ".join(parts)


def _stats_section(value: Any) -> list[str]:
    """Stats a stage reported (counts or nested counts), as a table or a list."""
    if isinstance(value, dict) and value and all(isinstance(v, (int, float)) for v in value.values()):
        return _table(["key", "value"], [[k, v] for k, v in value.items()], right=1)
    if isinstance(value, dict) and value and all(
            isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()) for v in value.values()):
        columns = list(dict.fromkeys(c for v in value.values() for c in v))
        return _table(["", *columns], [[k, *(v.get(c, "") for c in columns)] for k, v in value.items()],
                      right=len(columns))
    if isinstance(value, dict):
        return [f"- {k}: {_option(v)}" for k, v in value.items()] + [""]
    return [f"- {_option(value)}", ""]


# ---- sections ----------------------------------------------------------------------------------


def _summary(m: dict, lic: dict) -> list[str]:
    totals = {t: sum(_rows(m, t).values()) for t in DATA_TABLES if t in m.get("tables", {})}
    out = [f"# {m['dataset']}", "", m.get("description") or f"A {m.get('task') or ''} dataset built with pairforge.",
           "", f"- **Version:** `{m['version']}` (created {m.get('created_at', '?')})"]
    out += ["- **Rows:** " + ", ".join(f"{n} {t}" for t, n in totals.items())] if totals else []
    out += [f"- **Task:** {m.get('task', '?')}; **languages:** {', '.join(m.get('languages') or []) or '?'}",
            f"- **Licence constraints:** {'; '.join(lic.get('constraints', [])) or 'none recorded'}", ""]
    return out


def _motivation(m: dict, lic: dict) -> list[str]:
    task = m.get("task") or "text"
    out = ["## Motivation and intended use", "",
           m.get("description") or "No description was given in the recipe.", "",
           f"Intended use: training, fine-tuning and evaluating language models for the `{task}` task "
           f"({', '.join(TASK_CATEGORIES.get(task, ['text-generation']))}).",
           "Out of scope: identifying, profiling or contacting people; uses the licence terms below do not allow."]
    if lic.get("non_commercial"):
        out.append("**Non-commercial:** at least one source is licensed for non-commercial use only, so this "
                   "dataset may not be used commercially.")
    return out + [""]


def _sources(m: dict, lic: dict) -> list[str]:
    read = m.get("stats", {}).get("sources", {})
    out = ["## Sources and licences", ""]
    rows = [[s["name"], s.get("format", ""), s.get("license", ""), read.get(s["name"], {}).get("rows", ""),
             read.get(s["name"], {}).get("quarantined", ""), f"`{s.get('uri', '')}`"] for s in m.get("sources", [])]
    out += _table(["source", "format", "licence", "rows read", "quarantined", "uri"], rows) if rows else \
        ["No sources recorded.", ""]
    out += ["Licence of the output (the union of the sources' terms):", ""]
    out += [f"- {c}" for c in lic.get("constraints", [])] + [""]
    hf = lic.get("hf_license")
    out += [f"Hub licence id(s): {', '.join(hf) if isinstance(hf, list) else hf}"
            + (f" (other: `{lic['hf_license_name']}`)" if lic.get("hf_license_name") else ""), ""]
    if lic.get("policy"):
        out += [f"Licence policy applied: {_options('license_policy', lic['policy'])}", ""]
    return out


def _processing(m: dict) -> list[str]:
    stats = m.get("stats", {})
    out = ["## Collection and processing", ""]
    if stats.get("stages"):
        out += ["Rows per stage:", ""]
        out += _table(["stage", "table", "rows in", "rows out"],
                      [[s["stage"], s["table"], s["rows_in"], s["rows_out"]] for s in stats["stages"]], right=2)
    if stats.get("llm"):
        out += ["Model requests (generation and judging):", ""] + _stats_section(stats["llm"])
    recipe = m.get("recipe")
    if not recipe:
        return out + [f"The resolved recipe is not recorded in this manifest; its sha256 is "
                      f"`{m.get('recipe_sha256', '?')}`.", ""]
    out += ["Steps and their parameters (from the resolved recipe):", ""]
    if recipe.get("sample_rows"):
        out.append(f"- **Sampling:** at most {recipe['sample_rows']} rows per source (a trial build)")
    for key, title in CARD_STEPS:
        options = recipe.get(key)
        if isinstance(options, dict) and options.get("enabled") is False:
            out.append(f"- **{title}** (`{key}`): off")
        elif key in recipe:
            out.append(f"- **{title}** (`{key}`): {_options(key, options)}")
    return out + [""]


def _pii(m: dict) -> list[str]:
    stats = m.get("stats", {})
    pii = (m.get("recipe") or {}).get("pii", {})
    out = ["## Personal data (PII) handling", ""]
    if pii:
        if not pii.get("enabled", True):
            out += ["PII scrubbing was **off** for this build: rows may contain personal data.", ""]
        else:
            out += [f"Scrubbed with Presidio recognizers and pairforge's own rules; operator `{pii.get('operator')}`, "
                    f"threshold {pii.get('threshold')}, entities: {', '.join(pii.get('entities', []))}"
                    + (f", quasi-identifiers: {', '.join(pii['quasi_identifiers'])}" if pii.get(
                        "quasi_identifiers") else "; quasi-identifiers (places, dates, organisations) kept") + ".",
                    ""]
    out += _counts("Findings replaced, per entity type", "entity", stats.get("pii"), "none recorded")
    by_source = stats.get("pii_by_source") or {}
    if by_source:
        entities = sorted({e for counts in by_source.values() for e in counts})
        out += ["Per source:", ""]
        out += _table(["source", *entities], [[s, *(c.get(e, 0) for e in entities)] for s, c in by_source.items()],
                      right=len(entities))
    if stats.get("no_ner"):
        out += [f"Documents scrubbed by patterns only (no name model for their language): "
                f"{', '.join(f'{k}: {v}' for k, v in stats['no_ner'].items())}.", ""]
    return out


def _annotation(m: dict) -> list[str]:
    """Human annotation: guidelines, annotators, overlap, agreement per task kind, gold accuracy, resolution."""
    ann = (m.get("stats") or {}).get("annotation") or {}
    if not ann:
        return []
    out = ["## Human annotation", "",
           f"{ann.get('selected', 0)} pairs went to people in Label Studio, {ann.get('overlap')} annotators per item, "
           f"with {ann.get('gold_items', 0)} gold items (known answers) mixed in to score the annotators. Annotators "
           "are identified by a salted hash only.", ""]
    rows = []
    for kind, s in (ann.get("kinds") or {}).items():
        acc = s.get("gold_accuracy") or {}
        three = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        rows.append([kind, s["items"], s["annotators"], s["excluded_annotators"], three(s.get("alpha")),
                     three(s.get("alpha_all")), three(s.get("kappa")),
                     f"{acc['min']:.2f} / {acc['median']:.2f} / {acc['max']:.2f}" if acc else "-",
                     s["resolved"], s.get("adjudicated", 0), s["adjudicate"], s["rejected"]])
    out += _table(["task", "items", "annotators", "excluded (gold accuracy)", "alpha (kept annotators)",
                   "alpha (all)", "Fleiss kappa", "gold accuracy min / median / max", "resolved",
                   "of them by adjudication", "awaiting adjudication", "rejected"], rows, right=11)
    if ann.get("guidelines"):
        out += ["Guidelines given to the annotators:", "", *[f"> {line}" for line in ann["guidelines"].splitlines()],
                ""]
    return out


def _filtering(m: dict) -> list[str]:
    stats = m.get("stats", {})
    out = ["## Quality filtering and rejections", ""]
    out += _counts("Quarantined input rows (unreadable or malformed), per reason", "reason", stats.get("quarantine"),
                   "none")
    out += _counts("Rejected rows, per stage and reason", "reason", stats.get("rejected"), "none")
    for key, title in EXTRA_STATS:
        if stats.get(key):
            out += [f"{title}:", ""] + _stats_section(stats[key])
    dropped = {t: info.get("exact_duplicates_dropped", 0) for t, info in m.get("tables", {}).items()}
    if any(dropped.values()):
        out += [f"Exact duplicate ids dropped at export: {', '.join(f'{t} {n}' for t, n in dropped.items() if n)}.",
                ""]
    if stats.get("dead_letter"):
        out += [f"Model requests that failed for good (dead-letter table): {stats['dead_letter']}.", ""]
    return out


def _splits(m: dict) -> list[str]:
    out = ["## Splits and sizes", ""]
    rows = []
    for table in m.get("tables", {}):
        counts = _rows(m, table)
        files = [f for f in m.get("files", []) if f.get("table") == table and f.get("split")]
        rows.append([table, *counts.values(), sum(counts.values()), len(files), sum(f["bytes"] for f in files)])
    out += _table(["table", *SPLITS, "total", "files", "bytes"], rows, right=6) if rows else ["No tables.", ""]
    split = (m.get("recipe") or {}).get("split")
    if split:
        out += [f"Rows are assigned by a keyed hash of `{split.get('group_by', 'doc_id')}` (seed {split.get('seed')}),"
                " so every pair made from one document lands in the same split"
                + (f", stratified by `{split['stratify_by']}`" if split.get("stratify_by") else "") + ".", ""]
    others = sorted({f["table"] for f in m.get("files", []) if f.get("split") and f.get("table") not in m.get(
        "tables", {})})
    if others:
        out += [f"Training files beside the Parquet shards: {', '.join(others)} (one file per pairs shard).", ""]
    return out + _tokens(m)


TOKEN_STATS = ("rows", "total", "mean", "p50", "p95", "max")


def _tokens(m: dict) -> list[str]:
    """Token counts of the pairs per split (their `tokens` column), in the tokenizer the manifest names."""
    tokens = (m.get("tables", {}).get("pairs") or {}).get("tokens")
    if not tokens:
        return []
    rows = [[split, *(stats.get(k, "") for k in TOKEN_STATS)] for split, stats in tokens.get("splits", {}).items()]
    return ([f"Tokens per pair (its conversation in the chat template; percentiles by nearest rank), counted with "
             f"`{tokens.get('tokenizer', '?')}`:", ""]
            + _table(["split", "pairs", "total tokens", "mean", "p50", "p95", "max"], rows, right=6))


def _validation(m: dict) -> list[str]:
    results = m.get("stats", {}).get("validation") or {}
    out = ["## Validation", ""]
    if not results:
        return out + ["No expectation results recorded for this version (validation was off).", ""]
    rows = []
    for table, summary in results.items():
        failed = [f"{r['type']} ({r.get('severity')}, {r.get('unexpected_count', 0)} rows)"
                  for r in summary.get("results", []) if not r.get("success")]
        rows.append([table, summary.get("rows", ""), len(summary.get("results", [])), summary.get("success"),
                     summary.get("critical_success"), "; ".join(failed) or "-"])
    out += _table(["table", "rows", "expectations", "all passed", "critical passed", "failed"], rows)
    if m.get("erasure"):
        out += ["These results are from the build before the erasure below; `pairforge validate` re-runs them.", ""]
    return out


def _composition(m: dict) -> list[str]:
    out = ["## Composition and bias", ""]
    stats = m.get("stats", {})
    if not stats.get("composition"):
        return out + ["No composition report in this version (the composition step did not run).", ""]
    try:
        from pairforge.tasks.publish.composition import composition_markdown

        report = composition_markdown(stats).strip()
        if report.startswith("## "):  # it may bring its own title: the card keeps one
            report = report.split("\n", 1)[1].strip() if "\n" in report else ""
        return out + [report or "The composition report is empty.", ""]
    except Exception:  # the report module is missing or cannot read these stats: show the counts as they are
        return out + _stats_section(stats["composition"])


def _limitations(m: dict, lic: dict) -> list[str]:
    recipe = m.get("recipe") or {}
    out = ["## Known limitations", "",
           "- PII scrubbing is automatic: it lowers the amount of personal data but cannot guarantee none is left "
           "(names and street addresses are the hardest). Report any personal data you find (see below).",
           "- Rows keep the biases, errors and opinions of their sources; the composition report counts, it does "
           "not correct. Its term counts match words, not meaning: a phrase can count in two categories "
           "(\"African American\" also counts as \"American\") and a word's other senses count too."]
    if _generated(m):
        generators = recipe.get("generate", {}).get("generators") or []
        kinds = ", ".join(dict.fromkeys(g.get("kind", "?") for g in generators))
        model = recipe.get("generate", {}).get("model") or "a language model (or a template)"
        out.append(f"- Generated pairs{f' ({kinds})' if kinds else ''} were written by {model} and may be wrong; "
                   "the `generator` column names the model, `origin` tells generated from imported rows.")
    if recipe.get("sample_rows"):
        out.append(f"- Trial build: at most {recipe['sample_rows']} rows per source were read.")
    if lic.get("unknown"):
        out.append("- Some sources have unknown licence terms (see above).")
    if len(m.get("languages") or []) == 1:
        out.append(f"- Monolingual ({m['languages'][0]}): not suited to other languages.")
    return out + [""]


def _provenance(m: dict) -> list[str]:
    code = m.get("code_version") or {}
    commit = code.get("git_commit")
    return ["## Provenance", "",
            "Every row carries its `source`, source `uri`, `license`, `retrieved_at` (when the source was read) "
            "and `pipeline_version`; pairs also carry `doc_id` (the document they were made from), `origin`, "
            "`generator` (the model that wrote them, if any) and `augmented_from`.", "",
            f"- Recipe sha256: `{m.get('recipe_sha256', '?')}`",
            f"- Code: pairforge {code.get('pairforge') or m.get('pipeline_version', '?')}"
            + (f", git commit `{commit}`" + (" (with uncommitted changes)" if code.get("git_dirty") else "")
               if commit else ""),
            "- Files and their sha256: `manifest.json` (`pairforge validate <version>` checks them)", ""]


def _erasure(m: dict) -> list[str]:
    out = ["## Requesting erasure", "",
           "To have a person's data removed, send the dataset owner the text to look for (such as an e-mail "
           "address), the source, or a document id. The owner runs:", "",
           "```",
           "pairforge erase <dataset folder> --contains \"<text>\" --requested-by \"<who>\" --reason \"<ticket>\"",
           "```", "",
           "which writes a new version without the matching rows and everything derived from them (pairs made "
           "from an erased document, augmented copies, training files), logs the request in `erasure/log.jsonl` "
           "(criteria as sha256, never the values) and moves `LATEST`; `--delete-superseded` also deletes the "
           "older versions that still hold matches, and `pairforge gc <dataset folder> --keep N` applies retention. "
           "Later builds leave the erased rows out even when the sources still hold them, and drop edited copies "
           "of them where the table is deduplicated.",
           ""]
    erasure = m.get("erasure")
    if erasure:
        removed = erasure.get("removed", {})
        out += [f"This version is `{erasure.get('erased_from')}` with an erasure applied on {erasure.get('at')} "
                f"(criteria: {len(erasure.get('criteria', []))}): "
                + (", ".join(f"{k} {v}" for k, v in removed.items()) or "no rows") + " removed.", ""]
    return out


def _changelog(m: dict, previous: dict | None) -> list[str]:
    out = ["## Changelog", ""]
    if previous is None:
        return out + ["First version of this dataset (no earlier complete version to compare with).", ""]
    out += [f"Compared with `{previous.get('version')}` (created {previous.get('created_at', '?')}):", ""]
    rows = []
    for table in dict.fromkeys([*m.get("tables", {}), *previous.get("tables", {})]):
        now, before = _rows(m, table), _rows(previous, table)
        for split in SPLITS:
            if now[split] or before[split]:
                rows.append([table, split, before[split], now[split], f"{now[split] - before[split]:+d}"])
    out += _table(["table", "split", "before", "now", "change"], rows, right=3) if rows else []
    names_now = {s["name"]: s for s in m.get("sources", [])}
    names_before = {s["name"]: s for s in previous.get("sources", [])}
    added, removed = sorted(names_now.keys() - names_before.keys()), sorted(names_before.keys() - names_now.keys())
    relicensed = sorted(n for n in names_now.keys() & names_before.keys()
                        if names_now[n].get("license") != names_before[n].get("license"))
    out.append(f"- Sources added: {', '.join(added) or 'none'}; removed: {', '.join(removed) or 'none'}"
               + (f"; licence changed: {', '.join(relicensed)}" if relicensed else ""))
    same = m.get("recipe_sha256") == previous.get("recipe_sha256")
    out.append(f"- Recipe: {'unchanged' if same else 'changed'} (sha256 `{str(m.get('recipe_sha256'))[:12]}` "
               f"{'=' if same else 'vs'} `{str(previous.get('recipe_sha256'))[:12]}`)")
    if m.get("pipeline_version") != previous.get("pipeline_version"):
        out.append(f"- pairforge {previous.get('pipeline_version')} -> {m.get('pipeline_version')}")
    erasure = m.get("erasure")
    if erasure:
        removed = erasure.get("removed", {})
        out.append("- Erasure: " + (", ".join(f"{k} {v}" for k, v in removed.items()) or "no rows") + " removed")
    return out + [""]


def render_card(manifest: dict, previous: dict | None = None) -> str:
    """The dataset card (`README.md`) of a version: YAML metadata, then the datasheet sections."""
    lic = _license(manifest)
    front = yaml.safe_dump(card_metadata(manifest), sort_keys=False, allow_unicode=True, width=1000)
    body = (_summary(manifest, lic) + _motivation(manifest, lic) + _sources(manifest, lic) + _processing(manifest)
            + _pii(manifest) + _annotation(manifest) + _filtering(manifest) + _splits(manifest) + _validation(manifest)
            + _composition(manifest) + _limitations(manifest, lic) + _provenance(manifest) + _erasure(manifest)
            + _changelog(manifest, previous))
    return f"---\n{front}---\n\n" + "\n".join(body).rstrip() + "\n"
