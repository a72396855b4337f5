"""Licence policy: which sources a recipe may use, and what the output's licence obliges its users to do.

`LICENSES` knows the common data and software licences by SPDX id (matched case-insensitively; spaces
count as dashes, so `CC BY-NC 4.0` is `CC-BY-NC-4.0`) with the properties that matter for a training
set: non-commercial, share-alike (copyleft), no-derivatives, attribution, public domain, use-based
restrictions (RAIL). `unknown`, `NOASSERTION`, `NONE`, an empty value and unlisted ids are unknown.
SPDX expressions (`MIT OR Apache-2.0`, `CC-BY-4.0 AND MIT`, `GPL-2.0-only WITH Classpath-exception-2.0`)
are read too: a source passes when one alternative passes.

Rules, in order (`license_policy` in the recipe; a refused source stops the run before any work):
1. an id in `deny` is refused;
2. no-derivatives (ND) licences are always refused: a training set is a derivative;
3. when `allow` is not empty, ids outside it are refused;
4. unknown ids are refused unless `allow_unknown` or listed in `allow` (the owner reviewed them);
5. non-commercial licences are refused when `commercial_use` is true;
6. share-alike licences are refused when `allow_share_alike` is false.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Licence ids the Hugging Face Hub knows (https://huggingface.co/docs/hub/repositories-licenses).
HF_LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m
afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5
cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0
cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0
cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
lgpl-2.1 lgpl-3.0 isc lppl-1.3c ms-pl mpl-2.0 odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib
pddl unknown other
""".split())

MISSING = frozenset({"", "unknown", "noassertion", "none"})


@dataclass(frozen=True)
class License:
    spdx: str
    hf: str | None = None  # the Hub's id for it; None: "other"
    attribution: bool = False
    share_alike: bool = False
    non_commercial: bool = False
    no_derivatives: bool = False
    public_domain: bool = False
    use_restrictions: bool = False  # RAIL licences: use-based restrictions that must be passed on
    family: str = ""  # share-alike family: two different families may not be combinable


def _table() -> dict[str, License]:
    out: dict[str, License] = {}

    def add(spdx: str, hf: str | None = "", **props: Any) -> None:
        hf = spdx.lower() if hf == "" else hf
        out[spdx.lower()] = License(spdx, hf if hf in HF_LICENSES else None, **props)

    for v in ("1.0", "2.0", "2.5", "3.0", "4.0"):
        add(f"CC-BY-{v}", attribution=True)
        add(f"CC-BY-SA-{v}", attribution=True, share_alike=True, family="CC-BY-SA")
        add(f"CC-BY-NC-{v}", attribution=True, non_commercial=True)
        add(f"CC-BY-NC-SA-{v}", attribution=True, non_commercial=True, share_alike=True, family="CC-BY-NC-SA")
        add(f"CC-BY-ND-{v}", attribution=True, no_derivatives=True)
        add(f"CC-BY-NC-ND-{v}", attribution=True, non_commercial=True, no_derivatives=True)
    for spdx, hf in (("CC0-1.0", "cc0-1.0"), ("PDDL-1.0", "pddl"), ("Unlicense", "unlicense"), ("CC-PDDC", None),
                     ("WTFPL", "wtfpl"), ("0BSD", None)):
        add(spdx, hf, public_domain=True)
    add("ODC-By-1.0", "odc-by", attribution=True)
    add("ODbL-1.0", "odbl", attribution=True, share_alike=True, family="ODbL")
    add("CDLA-Permissive-1.0", attribution=True)
    add("CDLA-Permissive-2.0", attribution=True)
    add("CDLA-Sharing-1.0", attribution=True, share_alike=True, family="CDLA-Sharing")
    for spdx, hf in (("MIT", "mit"), ("Apache-2.0", "apache-2.0"), ("BSD-2-Clause", "bsd-2-clause"),
                     ("BSD-3-Clause", "bsd-3-clause"), ("BSD-3-Clause-Clear", "bsd-3-clause-clear"), ("ISC", "isc"),
                     ("Zlib", "zlib"), ("BSL-1.0", "bsl-1.0"), ("PostgreSQL", "postgresql"), ("AFL-3.0", "afl-3.0"),
                     ("Artistic-2.0", "artistic-2.0"), ("ECL-2.0", "ecl-2.0"), ("MS-PL", "ms-pl"), ("NCSA", "ncsa"),
                     ("Etalab-2.0", "etalab-2.0"), ("OFL-1.1", "ofl-1.1")):
        add(spdx, hf, attribution=True)
    copyleft = {"GPL-2.0": "gpl-2.0", "GPL-3.0": "gpl-3.0", "LGPL-2.1": "lgpl-2.1", "LGPL-3.0": "lgpl-3.0",
                "AGPL-3.0": "agpl-3.0", "GFDL-1.1": "gfdl", "GFDL-1.2": "gfdl", "GFDL-1.3": "gfdl"}
    for base, hf in copyleft.items():
        family = base.split("-")[0]
        for suffix in ("", "-only", "-or-later", "+"):  # the bare and "+" forms are deprecated SPDX ids
            add(base + suffix, hf, attribution=True, share_alike=True, family=family)
    for spdx, hf in (("MPL-2.0", "mpl-2.0"), ("EPL-1.0", "epl-1.0"), ("EPL-2.0", "epl-2.0"), ("EUPL-1.1", "eupl-1.1"),
                     ("EUPL-1.2", "eupl-1.2"), ("OSL-3.0", "osl-3.0")):
        add(spdx, hf, attribution=True, share_alike=True, family=spdx.split("-")[0])
    for spdx, hf in (("OpenRAIL", "openrail"), ("OpenRAIL-M", "openrail"), ("OpenRAIL++", "openrail++"),
                     ("CreativeML-OpenRAIL-M", "creativeml-openrail-m"),
                     ("BigScience-OpenRAIL-M", "bigscience-openrail-m"), ("BigCode-OpenRAIL-M", "bigcode-openrail-m"),
                     ("BigScience-BLOOM-RAIL-1.0", "bigscience-bloom-rail-1.0")):
        add(spdx, hf, attribution=True, use_restrictions=True)
    return out


LICENSES = _table()


def normalize_id(license_id: str) -> str:
    """`CC BY-NC 4.0` -> `cc-by-nc-4.0`: the lookup key of one licence id."""
    return re.sub(r"[\s_]+", "-", license_id.strip()).lower()


def lookup(license_id: str) -> License | None:
    """The licence an id names, or None when it is unknown (missing, NOASSERTION or not listed)."""
    return LICENSES.get(normalize_id(license_id))


_KEYWORDS = {"and", "or", "with"}


def alternatives(expression: str) -> list[list[str]]:
    """An SPDX licence expression as alternatives (OR), each a list of ids that all apply (AND).

    `WITH <exception>` is dropped (exceptions only grant more). A single id, with spaces or not, is one
    alternative of one id; an expression that does not parse is kept whole (and is then unknown)."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression or "")
    if not any(t.lower() in _KEYWORDS or t in "()" for t in tokens):
        return [[expression or ""]]
    pos = 0

    def peek() -> str | None:
        return tokens[pos].lower() if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom() -> list[list[str]]:
        if peek() == "(":
            take()
            inner = any_of()
            if take() != ")":
                raise ValueError
            return inner
        token = take()
        if token.lower() in _KEYWORDS or token == ")":
            raise ValueError
        if peek() == "with":
            take()
            take()
        return [[token]]

    def all_of() -> list[list[str]]:
        alts = atom()
        while peek() == "and":
            take()
            right = atom()
            alts = [a + b for a in alts for b in right]
        return alts

    def any_of() -> list[list[str]]:
        alts = all_of()
        while peek() == "or":
            take()
            alts += all_of()
        return alts

    try:
        out = any_of()
        if pos != len(tokens):
            raise ValueError
        return out
    except (ValueError, IndexError):
        return [[expression]]


def _get(policy: Any, key: str) -> Any:
    return policy.get(key) if isinstance(policy, dict) else getattr(policy, key)


def term_problem(license_id: str, policy: Any) -> str | None:
    """Why `policy` refuses one licence id, or None when it accepts it."""
    key = normalize_id(license_id)
    deny = {normalize_id(x) for x in _get(policy, "deny") or []}
    allow = {normalize_id(x) for x in _get(policy, "allow") or []}
    lic = lookup(license_id)
    shown = lic.spdx if lic else license_id
    if key in deny:
        return f"licence {shown} is in license_policy.deny"
    if lic and lic.no_derivatives:
        return f"licence {shown} forbids derivatives (ND) and a training dataset is a derivative work"
    if allow and key not in allow:
        return f"licence {shown} is not in license_policy.allow ({', '.join(sorted(_get(policy, 'allow')))})"
    if lic is None and key not in allow and not _get(policy, "allow_unknown"):
        if key in MISSING:
            return (f"has no licence ({license_id or 'empty'}) and license_policy.allow_unknown is false "
                    "(refused by default)")
        return (f"licence {license_id} is not a known SPDX id and license_policy.allow_unknown is false "
                "(after review, list it in license_policy.allow)")
    if lic and lic.non_commercial and _get(policy, "commercial_use"):
        return f"licence {shown} is non-commercial and license_policy.commercial_use is true"
    if lic and lic.share_alike and not _get(policy, "allow_share_alike"):
        return f"licence {shown} is share-alike and license_policy.allow_share_alike is false"
    return None


def _restrictiveness(terms: list[str]) -> tuple:
    lics = [lookup(t) for t in terms]
    return (sum(lic is None for lic in lics), sum(bool(lic and lic.non_commercial) for lic in lics),
            sum(bool(lic and lic.share_alike) for lic in lics), sum(bool(lic and lic.attribution) for lic in lics))


def choose_terms(expression: str, policy: Any | None) -> tuple[list[str] | None, str | None]:
    """(the alternative of `expression` the dataset uses, None) or (None, why every alternative is refused).

    Among accepted alternatives the least restrictive wins (unknown, then non-commercial, share-alike,
    attribution terms counted)."""
    alts = alternatives(expression)
    problems = []
    accepted = []
    for terms in alts:
        found = [p for t in terms if policy is not None and (p := term_problem(t, policy))]
        (problems if found else accepted).append(found[0] if found else terms)
    if accepted:
        return min(accepted, key=_restrictiveness), None
    if len(alts) == 1:
        return None, problems[0]
    return None, f"licence {expression}: no alternative is allowed ({'; '.join(dict.fromkeys(problems))})"


def _field(source: Any, key: str) -> Any:
    return source.get(key) if isinstance(source, dict) else getattr(source, key)


def policy_problems(policy: Any, sources: list[Any]) -> list[str]:
    """One message per refused source: `sources.<i> (<name>): <rule>`."""
    out = []
    for i, src in enumerate(sources):
        _, problem = choose_terms(_field(src, "license") or "", policy)
        if problem:
            out.append(f"sources.{i} ({_field(src, 'name')}): {problem}")
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "unknown"


def license_summary(sources: list[Any], policy: Any | None = None) -> dict:
    """The output's licence constraints, for the manifest (`license`) and the dataset card.

    `sources` are recipe sources or manifest entries (name, license). The constraints are the union of
    the sources' terms: non-commercial if any source is, share-alike inherited from every share-alike
    source, attribution for every source that requires it, and unknown terms named for review."""
    rows, hf_ids, other = [], [], []
    for src in sources:
        expression = _field(src, "license") or ""
        terms, _ = choose_terms(expression, policy)
        terms = terms or alternatives(expression)[0]  # refused under the policy: describe its first alternative
        lics = [lookup(t) for t in terms]
        row = {"name": _field(src, "name"), "license": expression,
               "terms": [lic.spdx if lic else t for t, lic in zip(terms, lics, strict=True)], "known": all(lics)}
        for prop in ("attribution", "share_alike", "non_commercial", "no_derivatives", "public_domain",
                     "use_restrictions"):
            row[prop] = any(getattr(lic, prop) for lic in lics if lic)
        row["families"] = sorted({lic.family for lic in lics if lic and lic.family})
        rows.append(row)
        for t, lic in zip(terms, lics, strict=True):
            if lic and lic.hf:
                hf_ids.append(lic.hf)
            else:
                other.append(lic.spdx if lic else (t or "unknown"))

    def names(prop: str) -> list[str]:
        return [r["name"] for r in rows if r[prop]]

    non_commercial = names("non_commercial")
    share_alike = [{"source": r["name"], "license": r["license"]} for r in rows if r["share_alike"]]
    attribution = [{"source": r["name"], "license": r["license"]} for r in rows if r["attribution"]]
    unknown = [{"source": r["name"], "license": r["license"]} for r in rows if not r["known"]]
    restricted = names("use_restrictions")
    families = sorted({f for r in rows for f in r["families"]})

    def listed(items: list[dict]) -> str:
        return ", ".join(f"{x['source']} ({x['license']})" for x in items)

    constraints = []
    if non_commercial:
        constraints.append("non-commercial use only, from " + listed(
            [{"source": r["name"], "license": r["license"]} for r in rows if r["non_commercial"]]))
    if share_alike:
        constraints.append("share-alike: the dataset and works made from it must be shared under the same "
                           f"licence, inherited from {listed(share_alike)}")
    if len(families) > 1:
        constraints.append(f"share-alike licences of different families ({', '.join(families)}) may not be "
                           "combinable in one work: review before publishing")
    if attribution:
        constraints.append(f"attribution required for {listed(attribution)}")
    if restricted:
        constraints.append(f"use-based restrictions (RAIL) must be passed on, from {', '.join(restricted)}")
    if unknown:
        constraints.append(f"licence terms unknown for {listed(unknown)}: review before use")
    if not constraints:
        constraints.append("no conditions: every source is in the public domain or dedicated to it")

    distinct = sorted(set(hf_ids) | ({"other"} if other else set()))
    summary = {
        "sources": rows,
        "non_commercial": bool(non_commercial),
        "commercial_use_allowed": not non_commercial and not unknown,
        "share_alike": share_alike,
        "attribution": attribution,
        "unknown": unknown,
        "use_restrictions": restricted,
        "constraints": constraints,
        "hf_license": distinct[0] if len(distinct) == 1 else distinct or ["unknown"],
    }
    if other:
        summary["hf_license_name"] = _slug("-and-".join(dict.fromkeys(other)))
    if policy is not None:
        summary["policy"] = {k: _get(policy, k) for k in ("allow", "deny", "commercial_use", "allow_share_alike",
                                                          "allow_unknown")}
    return summary
