"""Letter case: `case_mode()` tells ALL-CAPS and all-lower-case text from normal text, and `truecase()` rewrites
such text (same length, so offsets hold) for the NER model, which finds almost no names without capital letters.

Not a recognizer: a helper of the scrubber (`tasks/privacy/pii.py`) and of the person rules.
"""

from __future__ import annotations

import re

from pairforge.tasks.privacy.recognizers.lexicon import HONORIFICS, NON_NAME_WORDS, PARTICLES, WORD, Lexicon

_NON_LETTER = re.compile(r"[\W\d_]+")


def case_mode(text: str) -> str:
    """'upper' (mostly capitals), 'lower' (no capitals but a lone "I"), or 'normal'."""
    letters = _NON_LETTER.sub("", text)  # one string, not a list of one-letter strings (called twice per text)
    if len(letters) < 6:
        return "normal"
    upper = sum(map(str.isupper, letters))
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
    for m in WORD.finditer(low):
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

