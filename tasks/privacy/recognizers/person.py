"""PERSON from honorifics ("Mr. John Smith", "Dr. Li", "Frau Weber"), cue phrases ("my name is", "Dear",
"Regards,", "Name:", "said"), census name lists, in any letter case. Needs the lexicon (`lexicon.get_lexicon`)."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from pairforge.tasks.privacy.recognizers.base import Recognizer
from pairforge.tasks.privacy.recognizers.casing import case_mode
from pairforge.tasks.privacy.recognizers.lexicon import (
    AMBIGUOUS_FIRST,
    GENERIC_ADDRESSEES,
    HONORIFICS,
    NON_NAME_WORDS,
    PARTICLES,
    ROLE_TITLES,
    WORD,
)

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


class PersonRulesRecognizer(Recognizer):
    """Names the NER model misses: honorifics, cue phrases, census name lists, all letter cases. Reads the spaCy doc
    in the NlpArtifacts (when there is one) to leave alone words it tagged as places, organisations or dates."""

    ENTITY = "PERSON"
    NAME = "PairforgePersonRulesRecognizer"

    def _tokens(self, text: str) -> list[_Tok]:
        toks = []
        prev_end = 0
        for m in WORD.finditer(text):
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
        return [self.result(s, e, sc) for s, e, sc in found]

