"""PERSON from honorifics ("Mr. John Smith", "Dr. Li", "Frau Weber"), cue phrases in several languages ("my name is",
"Dear", "Regards,", "Name:", "said", "mein Name ist", "au nom de"), name lists (US census, and given and family names of
many cultures), lists and coordinations of names ("Our founders: Kónya, Becker and Vasquez"), speaker labels in
dialogue ("Ubul: What a wife."), initials with or without a full stop ("Ravil G Yefimov"), possessives, name columns
of tables, in any letter case. Needs the lexicon (`lexicon.get_lexicon`)."""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from dataclasses import dataclass

from pairforge.tasks.privacy.recognizers.base import Recognizer
from pairforge.tasks.privacy.recognizers.casing import case_mode
from pairforge.tasks.privacy.recognizers.lexicon import (
    AMBIGUOUS_FIRST,
    GENERIC_ADDRESSEES,
    HONORIFICS,
    INITIAL_HONORIFICS,
    NON_NAME_WORDS,
    PARTICLES,
    PEOPLE_NOUNS,
    ROLE_TITLES,
    WORD,
)

# Cue phrases, tried where words start (`_cue_spans`): a cue ending where a word starts marks that word.
_STRONG_CUES = re.compile(
    r"(?im)(?:\bmy\s+name\s+is|\bname\s+(?:is|was)|\bname's|\bcall\s+me|\bcalls\s+me|\bit'?s\s+me,?|\b(?:full|first|last|given|family|maiden|middle|sur|nick|user)\s*name(?:\s+is|\s*[:?=-])?|"
    r"\bname\s*[:=-]|(?<![^\W\d_] )(?<![^\W\d_])name(?=\s+[A-Z])|"
    r"\b(?:hi|hey|hello|hiya|yo|ok|oh)\s*,?\s+it'?s|"
    r"\bmein\s+name\s+ist|\bich\s+heiße|\bje\s+m['’]appelle|\bmoi\s+c['’]est|\bme\s+llamo|\bmi\s+nombre\s+es|"
    r"\bmi\s+chiamo|\bo\s+meu\s+nome\s+é|\bmijn\s+naam\s+is|"
    r"\b(?:reply\s+to|reference\s+for|statement\s+of|on\s+behalf\s+of|au\s+nom\s+de|à\s+l['’]ordre\s+de|"
    r"de\s+la\s+part\s+de|a\s+nombre\s+de|de\s+parte\s+de|im\s+namen\s+von|zu\s+händen(?:\s+von)?|care\s+of)\b|"
    r"\bc/o\b|\bz\.\s*hd\.?|\bgez\.|"
    r"\b(?:dear|hi|hello|hey|hiya|greetings|hallo|servus|moin|hola|buenos\s+d[ií]as|bonjour|salut|ciao|olá|ola|"
    r"liebe[rs]?|estimad[oa]s?|querid[oa]s?|sehr\s+geehrte[rs]?|cher|chère)\b|"
    r"\b(?:name\s+on\s+card|card\s*holder|account\s+holder|contact\s+persons?|emergency\s+contacts?|contact|applicant|"
    r"patient(?:\s+name)?|customer(?:\s+name)?|client(?:\s+name)?|employee(?:\s+name)?|tenant|landlord|owner|"
    r"from|to|cc|attn|attention|signed|signature|author|nombre|apellidos?|titular|kontakt|ansprechpartner(?:in)?|"
    r"nom|prénom|vorname|nachname|recipient|sender|beneficiary|payee|guest|passenger|student|user|consignee|"
    r"next\s+of\s+kin|witness|caller|speaker|interviewee|candidate|driver|buyer|seller|member|volunteer|"
    r"(?:posted|submitted|requested|approved|prepared|reviewed|written|signed|reported|assigned)\s+(?:by|to)|"
    r"inhaber(?:in)?|absender|empfänger(?:in)?|kunde|kundin|mieter(?:in)?|teilnehmer(?:in)?|verantwortlich|"
    r"expéditeur|destinataire|titulaire|locataire|auteur|remitente|destinatario|cliente|inquilin[oa]|autor(?:in|a)?|"
    r"(?:invoice|delivery|shipping|billing|postal|mailing|home)\s+address|ship\s+to|bill\s+to|deliver\s+to|sold\s+to|"
    r"lieferadresse|rechnungsadresse|lieferanschrift|adresse\s+de\s+(?:livraison|facturation)|"
    r"dirección\s+de\s+(?:envío|entrega|facturación))\s*:|"
    r"\b(?:thanks|thank\s+you|thx|ty|kind\s+regards|best\s+regards|warm\s+regards|best\s+wishes|"
    r"mit\s+freundlichen\s+grüßen|viele\s+grüße|liebe\s+grüße|un\s+saludo|bien\s+à\s+vous)\s*[,!.]?\s*\n?\s*-*\s*|"
    r"\b(?:cheers|regards|best|sincerely|yours(?:\s+truly|\s+sincerely)?|love|xoxo|bye|take\s+care|grüße|gruß|lg|vg|"
    r"saludos|atentamente|cordialmente|cordialement|bisous|abrazos|besos|amitiés)(?:\s*[,!.]|[ \t]*\n)\s*-*\s*|"
    r"\bmy\s+(?:wife|husband|partner|son|daughter|kid|child|mother|mom|mum|father|dad|brother|sister|friend|boss|"
    r"colleague|coworker|co-worker|neighbou?r|manager|landlord|tenant|uncle|aunt|cousin|grandma|grandmother|"
    r"grandpa|grandfather|niece|nephew|fianc[ée]e?|girlfriend|boyfriend|roommate|flatmate|student|teacher|doctor|"
    r"lawyer|baby|twin|stepson|stepdaughter|ex)(?:'s\s+name\s+is)?\s*,?)[ \t]*\n?[ \t]*"
)
# a dash before a name at the end of a message: "DM me or call 07400 492789. - Mlungisi"
_DASH_SIGNOFF = re.compile(
    r"(?m)(?<=[.!?)])[ \t]+[-–—~]{1,2}[ \t]*(?=[^\W\d_]+(?:['’\-][^\W\d_]+)*(?:[ \t]+[^\W\d_]+)?[ \t]*$)"
)
# verbs of talking and meeting: a name-like word after one is a name, whatever the NER model called it
_MEDIUM_CUES = re.compile(
    r"(?i)\b(?:said|says|asked|asks|told|tells|replied|replies|wrote|writes|shouted\s+at|shouted|yelled\s+at|"
    r"according\s+to|spoke\s+(?:with|to)|speak\s+(?:with|to)|talked?\s+(?:with|to)|met\s+with|met|married|"
    r"thanked|emailed|texted|phoned|called|ask|tell|ring|email|introducing|welcome|meet|congratulations|congrats|"
    r"reach|visited|interviewed|hired|fired|promoted|invited|note\s+from|message\s+from|i\s+am|i'm|this\s+is|named|"
    r"sagte|schrieb|fragte|dijo|escribió|preguntó)\s*|"
    r"\b(?:you|sorry|bye|night|morning|evening|welcome\s+back)[ \t]*,?[ \t]+(?=[^\W\d_]+[ \t]*[?!])"
)
_WEAK_CUES = re.compile(r"(?i)\b(?:with|by|from|for|to|starring|featuring|feat\.)\s*")  # ("and": see _lists)
# other languages: after these a known name (census or world lists) is a name, nothing else
_FOREIGN_CUES = re.compile(
    r"(?i)\b(?:a\s+dit|dit|a\s+écrit|écrit|contactez|contacter|appelez|appeler|écrivez\s+à|chez|avec|pour|"
    r"j['’]ai\s+(?:eu|vu|croisé|rencontré|appelé)|rencontré|croisé|de|"
    r"sagte|schrieb|fragte|hatte|habe|traf|getroffen|mit|bei|an|von|für|erreichen|ich\s+bin|"
    r"dijo|escribió|preguntó|con|para|llama\s+a|habla\s+con|hablé\s+con|soy|je\s+suis|sono|ik\s+ben|"
    r"ha\s+detto|per|da|met|van|voor|com|disse|bitte|kontaktieren\s+sie|rufen\s+sie|anrufen\s+bei)\s+"
)
_CUE_AFTER = re.compile(
    r"(?i)^(?:\s*,?\s*(?:said|says|asked|replied|wrote|shouted|yelled|whispered|explained|added|told|"
    r"sagte|schrieb|dijo|escribió|called|calls|phoned|rang|emailed)\b|\s+here\b|\s+speaking\b|"
    r"\s+(?:lives|lived|works|worked|was\s+born|grew\s+up|turned\s+\d|turns\s+\d|and\s+i\b)|\s+\(\d{1,3}\)|"
    r"\s+(?:has\s+)?(?:joined|left)\s+(?:the\s+)?(?:chat|room|channel|call|meeting|conversation|group)|"
    r"\s+is\s+typing|\s+(?:reacted|replied|changed\s+the)\b|"
    r",?\s+(?:born|geboren|geb\.|née?|nacid[oa]|nat[oa])\b|"
    r"'s\s+(?:kid|son|daughter|wife|husband|mother|"
    r"father|mom|dad|brother|sister|friend|address|phone|email|number|account|car|house|birthday|phone))"
)


_VOCATIVE = re.compile(r"(?i)^,\s+(?:can|could|would|will|please|do|did|are|is|have|thanks|thank|i|we|you)\b")
# a CSV-like header with columns of names: the values under them are names
_NAME_COLUMN = re.compile(
    r"(?i)(?:full[ _]?)?name|first(?:[ _]?name)?|last(?:[ _]?name)?|surname|given[ _]?names?|family[ _]?name|"
    r"forename|customer|client|contact|person|employee|author|guest|patient|tenant|nom|prénom|vorname|nachname|"
    r"nombre|apellidos?|cognome|nome"
)
_TABLE_SEP = re.compile(r"[,;\t|]")
# "Last, First" (or "De Backer, Ubaid") at the start of a record line, before a field separator or the line end
_LAST_FIRST_ROW = re.compile(
    r"(?m)^[ \t]*((?:(?:de|van|von|der|den|le|la|da|di|del|du|o|ó|mac|mc)[ \t]+){0,2}[^\W\d_]+(?:-[^\W\d_]+)?),[ \t]*"
    r"([^\W\d_]+(?:[ -][^\W\d_]+)?)[ \t]*(?:[|;\t]|$)",
    re.IGNORECASE,
)
_NAME_WORD = r"[^\W\d_]+(?:['’\-][^\W\d_]+)*"  # letters, with inner apostrophes or hyphens ("Peter-Michael")
# a speaker label at the start of a line: "Ubul: What a wife.", "Tarmo (agent): ...", "A (Isak): ...", "Kiss Péter:"
_SPEAKER = re.compile(
    r"(?m)^[ \t]*(?:[-*>•][ \t]*)?(?:\[[^\]\n]{1,20}\][ \t]*)?"
    r"(" + _NAME_WORD + r"(?:[ \t]+" + _NAME_WORD + r"\.?){0,2})[ \t]*(\([^()\n]{1,30}\))?[ \t]*:[ \t]+(?=\S)"
)
# separators between the items of a list of names
_LIST_SEP = re.compile(
    r"(?i)[ \t]*(?:\([^()\n]{1,40}\)[ \t]*)?(?:(?:[,;][ \t]+|[/&+][ \t]*)"
    r"(?:(?:and|und|et|y|e|og|och|en|i|és|ve|or|oder|ou|o|plus|sowie)[ \t]+)?|"
    r"(?:and|und|et|y|e|ed|og|och|en|i|és|ve|or|oder|ou|o|plus|sowie|&)[ \t]+)"
)
_PEOPLE_LABEL = re.compile(
    r"(?i)(?:\b(?:" + "|".join(sorted((re.escape(w) for w in PEOPLE_NOUNS), key=len, reverse=True)) + r")\b"
    r"(?:[ \t]+(?:list|of\s+\w+))?[ \t]*[:(]|\bwe\s+thank|\bthanks\s+to|\bjoined\s+by|\bnous\s+remercions|"
    r"\bwir\s+danken|\bagradecemos\s+a)[ \t]*(?:the\s+|les\s+|die\s+|los\s+)?$"
)
_SENT_GAP = re.compile(r"[.!?:;\n\"“(]")
_DOT_GAP = re.compile(r"\.\s+")
_SPACES = re.compile(r"[ \u00a0]")  # between the words of a name: one space (more is a column gap)
_INITIAL_GAP = re.compile(r"\.?[ \t]*")
_HONORIFIC_GAP = re.compile(r"\.?[ \t]+")
# surname endings of many languages (Slavic, Baltic, Romanian, Turkish, Caucasian, Nordic, Greek...): an unknown
# capitalised word with one of these is name-shaped even when no list has it
_SURNAME_END = re.compile(
    r"(?:ov|ova|ev|eva|ovna|evna|ovich|evich|ski|ska|sky|skaya|cki|cka|wicz|owicz|ewicz|vić|vic|ić|ović|čić|enko|"
    r"chuk|czuk|escu|eanu|oğlu|oglu|zadə|zade|yan|yants|ishvili|shvili|adze|aitis|aitė|ytė|ienė|iūtė|auskas|"
    r"dóttir|dottir|sson|poulos|akis|idis|ópoulos)$"
)


@dataclass(slots=True)
class _Tok:
    start: int
    end: int
    text: str
    low: str
    sent_start: bool


class _CueGate:
    """Which three-character beginnings can start a match of a cue pattern, decided once per beginning by a partial
    match (the `regex` module): a match at a word needs its first three characters to be the beginning of some match,
    so a word whose beginning cannot be one is not tried (most words: "the", "Gov", "198"). Only skips, never adds:
    what matches is still the pattern's `re` match."""

    def __init__(self, pattern: re.Pattern):
        import regex

        self.partial = regex.compile(pattern.pattern)  # the cue patterns carry their flags inline
        self.known: dict[str, bool] = {}

    def __call__(self, head: str) -> bool:
        ok = self.known.get(head)
        if ok is None:
            if len(self.known) > 100_000:
                self.known.clear()
            ok = self.known[head] = self.partial.match(head, partial=True) is not None
        return ok


@functools.cache
def _gate(pattern: re.Pattern) -> _CueGate:
    return _CueGate(pattern)


def _cue_spans(pattern: re.Pattern, text: str, starts: list[int]) -> list[tuple[int, int]]:
    """(start, end) of the cues that begin at a word (`starts`): every cue starts with a word, so the pattern is tried
    there only, not at every character (a scan of the whole text per pattern cost more than all the rest), and only
    where the word's beginning can start a cue (`_CueGate`)."""
    gate = _gate(pattern)
    out = []
    for pos in starts:
        if gate(text[pos : pos + 3]) and (m := pattern.match(text, pos)):
            out.append((pos, m.end()))
    return out


class PersonRulesRecognizer(Recognizer):
    """Names the NER model misses: honorifics, cue phrases, name lists, lists of names, speaker labels, all letter
    cases. Reads the spaCy doc in the NlpArtifacts (when there is one) to leave alone words it tagged as places,
    organisations or dates, and to extend its PERSON findings to the lists they stand in."""

    ENTITY = "PERSON"
    NAME = "PairforgePersonRulesRecognizer"
    # its findings join the NER model's in the overlap resolution as they are: Presidio's duplicate removal would
    # keep the model's span of the same name ("Kiss Péter", then trimmed of the word "Kiss") instead
    AFTER_ANALYZER = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._common: dict[tuple[str, str], bool] = {}

    def _tokens(self, text: str) -> list[_Tok]:
        toks = []
        prev_end = 0
        for m in WORD.finditer(text):
            w = m.group()
            start, end = m.span()
            gap = text[prev_end:start]
            prev_end = end
            if w.endswith(("'s", "’s")) and len(w) > 3:
                w, end = w[:-2], end - 2
            if not toks:
                sent = True
            elif gap == " ":  # (most gaps: no sentence break)
                sent = False
            elif _DOT_GAP.fullmatch(gap) and (len(toks[-1].text) == 1 or toks[-1].low in HONORIFICS):
                sent = False  # "J. Smith", "Dr. Li": no sentence break
            else:
                sent = _SENT_GAP.search(gap) is not None
            toks.append(_Tok(start, end, w, w.lower(), sent))
        return toks

    def common(self, low: str, lang: str = "en") -> bool:
        """An ordinary word of English or of `lang` (cached: the suffix rules of `Lexicon.common` are slow)."""
        key = (low, lang)
        hit = self._common.get(key)
        if hit is None:
            if len(self._common) > 200_000:
                self._common.clear()
            hit = self._common[key] = self.lex.common_in(lang, low)
        return hit

    def _known(self, low: str, lang: str) -> bool:
        """A name of the lists: census first/last names, or a world given/family name that is no ordinary word (in
        another language than English, no ordinary word of that language either: "der" is a census surname)."""
        if lang != "en":
            return (self.lex.known_name(low) or self.lex.name_word(low)) and low not in AMBIGUOUS_FIRST and (
                not self.common(low, lang))
        if self.lex.known_name(low):  # a census surname that is a word too ("Minister", "State") is no evidence
            return not self.common(low) or low in self.lex.first
        return low not in AMBIGUOUS_FIRST and self.lex.name_word(low) and not self.common(low, lang)

    def _name_like(self, t: _Tok, mode: str, strength: str, text: str, lang: str = "en") -> bool:
        """Could `t` be part of a name? strength: 'strong' (after an honorific or a strong cue), 'weak', 'bare', or
        'known' (only a name of the lists); mode: the text's letter case (`case_mode`)."""
        low = t.low
        if low in NON_NAME_WORDS or low in GENERIC_ADDRESSEES or len(low) < 2 and not t.text.isupper():
            return False
        if low in HONORIFICS or low in ROLE_TITLES:
            return False
        known = self._known(low, lang)
        common = self.common(low, lang)
        cap = t.text[:1].isupper() and (mode != "normal" or not t.text[1:].isupper() or len(t.text) <= 2)
        label = common and not known and re.match(r"[ \t]*:", text[t.end : t.end + 3]) is not None  # "Address:"
        if strength == "known":
            return (cap or mode != "normal") and known
        if strength == "cap":  # after a given name: a capitalised word that is no ordinary word ("Samson Davydov")
            return (cap or mode != "normal") and (known or not common and len(low) >= 2)
        if strength == "strong" and not label:  # after "my name is", "Dear", "Name:": anything but plain words
            if lang != "en":  # no full dictionary there: letter case, or the lists in ALL-CAPS / lower-case text
                return cap if mode == "normal" else known or not common and t.sent_start
            if mode == "normal":
                return cap or not common and len(low) >= 3
            return known and low not in self.lex.nonnoun or not common  # "JOHN SMITH", not "call me back"
        if mode == "normal":
            if strength == "weak":  # (a sentence's first word that is an adverb, verb or adjective: "Later Smith")
                return cap and (known and not (t.sent_start and low in self.lex.nonnoun)
                                or not common and lang not in ("de", "lb"))
            return cap and known and not common
        return not common and len(low) >= 3  # upper / lower text: letter case says nothing

    def _name_shaped(self, t: _Tok, mode: str, lang: str) -> bool:
        """A word that could be a name in a list of names: capitalised (any case in ALL-CAPS / lower-case text), not
        an ordinary word unless the lists know it as a name."""
        if mode == "normal" and not (t.text[:1].isupper() and (not t.text.isupper() or len(t.text) <= 3)):
            return False  # (first: most words of a normally cased text stop here)
        low = t.low
        if low in NON_NAME_WORDS or low in HONORIFICS or low in ROLE_TITLES or low in GENERIC_ADDRESSEES:
            return False
        if len(low) < 2:
            return False
        return (not self.common(low, lang) or self.lex.first_name(low) or self.lex.given_name(low, lang)
                or self.lex.name_word(low) and low not in self.lex.nonnoun)  # "LE ROUX", not "Prime Minister"

    def analyze(self, text, entities, nlp_artifacts=None):
        mode = case_mode(text)
        lang = getattr(nlp_artifacts, "text_language", "en") or "en"
        english = lang == "en"
        toks = self._tokens(text)
        if not toks:
            return []
        # NER entities that are not people: places block the weak rules; other labels block the list rules only
        # (the small model calls many unknown names ORG, GPE or even TIME)
        places, others, people = [], [], []
        doc = getattr(nlp_artifacts, "tokens", None) if nlp_artifacts is not None else None
        if doc is not None and hasattr(doc, "ents"):
            for e in doc.ents:
                if e.label_ in ("GPE", "LOC", "FAC", "NORP"):
                    places.append((e.start_char, e.end_char))
                elif e.label_ in ("PERSON", "PER"):
                    people.append((e.start_char, e.end_char))
                elif e.label_ not in ("CARDINAL", "ORDINAL", "QUANTITY", "PERCENT"):
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
            # lower-case or ALL-CAPS text in a language without a dictionary: letter case and the word list say
            # nothing, so a name takes at most one word that no name list has ("andrzej adamiuk", not "andrzej
            # adamiuk letzten samstag")
            unlisted_left = 1 if mode != "normal" and not english and len(self.lex.words_of(lang)) < 5000 else None
            while j < n and taken < max_len:
                t = toks[j]
                if j > i:
                    gap = text[toks[j - 1].end : t.start]
                    prev = toks[j - 1]
                    after_initial = len(prev.text) == 1 and prev.text.isupper()
                    if not (_SPACES.fullmatch(gap) or (after_initial and _INITIAL_GAP.fullmatch(gap))):
                        break
                if j > i and t.low in PARTICLES and j + 1 < n and self._name_like(toks[j + 1], mode, strength, text,
                                                                                   lang):  # fmt: skip
                    j += 1
                    continue
                # an initial: "J. Smith", or "Ravil G Yefimov" (a capital letter alone between two name words)
                initial = len(t.text) == 1 and t.text.isupper() and (
                    text[t.end : t.end + 1] == "." or mode == "normal" and j + 1 < n
                    and _SPACES.fullmatch(text[t.end : toks[j + 1].start]) is not None
                    and self._name_like(toks[j + 1], mode, "weak", text, lang))  # fmt: skip
                if initial and j + 1 < n:
                    j += 1
                    taken += 1
                    continue
                later = {"bare": "weak", "known": "cap"}.get(strength, strength)  # words after the first one
                st = strength if j == i else later
                if j > i and len(toks[j - 1].text) == 1 and st in ("known", "weak", "bare"):
                    st = "cap"  # after an initial: "Harry M. Kroker"
                surname = (j > i and st in ("weak", "bare") and t.low in self.lex.last and t.low not in self.lex.nonnoun
                           and (t.text[:1].isupper() or mode != "normal"))  # "Arne Strand", "Ronnie Lynch"
                if not surname and not self._name_like(t, mode, st, text, lang):
                    break
                if unlisted_left is not None and not self.lex.any_name(t.low):
                    if unlisted_left == 0:
                        break
                    unlisted_left -= 1
                j += 1
                taken += 1
            while j > i and (toks[j - 1].low in PARTICLES or len(toks[j - 1].text) == 1):
                j -= 1
            return j

        word_starts = [t.start for t in toks]
        cue_spans = _cue_spans(_STRONG_CUES, text, word_starts)
        strong_at = {e for _, e in cue_spans} | {m.end() for m in _DASH_SIGNOFF.finditer(text)}
        cue_starts = [a for a, _ in cue_spans]

        def in_cue(t: _Tok) -> bool:
            """Is the word part of a strong cue ("Viele Grüße", "Hallo")?"""
            k = bisect_right(cue_starts, t.start) - 1
            return k >= 0 and cue_spans[k][1] > t.start
        medium_at = {e for _, e in _cue_spans(_MEDIUM_CUES, text, word_starts)} if english else set()
        weak_at = {e for _, e in _cue_spans(_WEAK_CUES, text, word_starts)} if english else set()
        foreign_at = set() if english else {e for _, e in _cue_spans(_FOREIGN_CUES, text, word_starts)}
        i = 0
        while i < n:
            t = toks[i]
            # 1. honorific / role title + name
            if t.low in HONORIFICS or t.low in ROLE_TITLES or t.low in INITIAL_HONORIFICS:
                gap = text[t.end : toks[i + 1].start] if i + 1 < n else ""
                gap_ok = _HONORIFIC_GAP.fullmatch(gap) and (t.low not in INITIAL_HONORIFICS or gap.startswith("."))
                if gap_ok and (t.low not in ROLE_TITLES or t.text[0].isupper()):
                    strength = "weak" if t.low in ROLE_TITLES else "strong"
                    j = grab(i + 1, strength, 3)
                    if j > i + 1:
                        found.append((toks[i + 1].start, toks[j - 1].end, 0.85 if strength == "strong" else 0.7))
                        i = j
                        continue
            # 2. cue phrase before the name
            cue = None
            if t.start in strong_at:
                cue = "strong"
            elif t.start in medium_at and (not in_any(t, places) or self._given_not_place(
                    toks, i, text, places, place_starts, lang, world=True)):  # ("according to Jenin")
                cue = "weak"
            elif t.start in weak_at and (not is_blocked(t) or self._strong_shape(toks, i, text, mode, lang)):
                cue = "weak"
            elif t.start in foreign_at and not is_blocked(t):
                cue = "known"
            if cue:
                j = grab(i, cue)
                if j == i and cue == "weak" and mode == "normal" and t.text[:1].isupper() and i + 1 < n:
                    # a name that is also a word, then a surname: "Review by Tore Engström", "I'm Cornel Ene"
                    nxt = toks[i + 1]
                    if (_SPACES.fullmatch(text[t.end : nxt.start]) and self.lex.name_word(t.low)
                            and t.low not in NON_NAME_WORDS and nxt.text[:1].isupper() and len(nxt.low) >= 2
                            and not self.common(nxt.low, lang) and not is_blocked(nxt)):
                        j = i + 2
                if j == i and cue == "known" and mode == "normal" and i + 1 < n:
                    # two capitalised words after a cue, neither an ordinary word: "an Ervaniye Gülen"
                    nxt = toks[i + 1]
                    if (_SPACES.fullmatch(text[t.end : nxt.start]) and t.text[:1].isupper() and nxt.text[:1].isupper()
                            and not t.text.isupper() and not nxt.text.isupper() and len(t.low) >= 2
                            and len(nxt.low) >= 2 and not self.common(t.low, lang) and not self.common(nxt.low, lang)):
                        j = i + 2
                if j > i:
                    score = {"strong": 0.8, "weak": 0.65 if t.start in medium_at else 0.64}.get(cue, 0.64)
                    found.append((t.start, toks[j - 1].end, score))
                    i = j
                    continue
            if in_cue(t):  # a word of a cue phrase is none of a name: "Hola", "Querida" are given names too
                i += 1
                continue
            if mode == "normal" and not t.text[:1].isupper():
                i += 1  # rules 3 and 4 need a capital in a normally cased text (most words: skip their lookups)
                continue
            # 3. cue after the name: "Ximena here", "Honoré said", "Sumaya's kid"
            if (english or t.text[:1].isupper()) and self._name_like(t, mode, "weak" if english else "cap", text, lang):
                j = grab(i, "weak" if english else "cap")
                after = text[toks[j - 1].end : toks[j - 1].end + 25] if j > i else ""
                vocative = i == 0 and _VOCATIVE.match(after)  # "Marisca, can I please speak to your boss?"
                if j > i and (_CUE_AFTER.match(after) or vocative):
                    found.append((t.start, toks[j - 1].end, 0.65))
                    i = j
                    continue
            # 4. the lists: a first name (+ more name words), a rare surname, an unknown word before a surname,
            # two unknown capitalised words mid-sentence ("meant for Hamza Okonkwo")
            # (the small English model calls many foreign given names places: "did Máté ever", "Ivana": GPE; a
            # place that is also a given name is in the English dictionary: "Florence", "Sofia", "Victoria")
            low = t.low
            if not in_any(t, places) or self._given_not_place(toks, i, text, places, place_starts, lang):
                cap = t.text[:1].isupper() or mode != "normal"
                nxt = toks[i + 1] if i + 1 < n and _SPACES.fullmatch(text[t.end : toks[i + 1].start]) else None
                nxt_cap = nxt is not None and (nxt.text[:1].isupper() and not nxt.text.isupper() or mode != "normal")
                common = self.common(low, lang)
                # (outside English a census first name that is a word of the language is none: "Dann kam")
                given = (self.lex.first_name(low) and (english or not common)
                         or self.lex.given_name(low, lang) and not common)
                if (cap and mode == "normal" and english and common and nxt_cap and self.lex.name_word(low)
                        and low not in NON_NAME_WORDS and len(nxt.low) >= 4 and _SURNAME_END.search(nxt.low)
                        and not self.common(nxt.low)):
                    found.append((t.start, nxt.end, 0.6))  # "Marin Stănescu": a name-word before a surname ending
                    i += 2
                    continue
                if cap and len(low) >= 3 and given:
                    j = grab(i + 1, "weak" if english else "cap", 3) if nxt is not None else i + 1
                    if english:
                        single_ok = not t.sent_start or not self.lex.common(low)
                    else:  # a given name alone: before a verb (a word in lower case) or mid-sentence, not after an
                        # article or an adjective ("den ersten Roman")
                        after_low = nxt is not None and nxt.text[:1].islower() and nxt.low not in PARTICLES
                        prev = toks[i - 1] if i > 0 and not t.sent_start else None
                        after_article = prev is not None and (prev.low in _ARTICLES or lang == "de"
                                                              and prev.text.islower() and prev.low.endswith(_DE_ADJ))
                        single_ok = mode == "normal" and not after_article and (
                            after_low or not t.sent_start and not common)
                    if not english and j == i + 1 and self.lex.common(low) and not self.lex.first_name(low):
                        single_ok = False  # "Name", "Hand": a German noun can be an English word and a given name
                    if (single_ok or j > i + 1) and not (mode != "normal" and common and j == i + 1):
                        found.append((t.start, toks[j - 1].end if j > i + 1 else t.end, 0.7 if j > i + 1 else 0.6))
                        i = max(j, i + 1)
                        continue
                elif (not english and mode == "normal" and cap and nxt_cap and not common and len(low) >= 3
                      and nxt.start not in strong_at and not in_cue(t)
                      and not self.common(nxt.low, lang) and len(nxt.low) >= 2 and self.lex.any_name(low)
                      and (self.lex.any_name(nxt.low) or _SURNAME_END.search(nxt.low)
                           or not nxt.low.endswith(_NOUN_ENDINGS))):
                    j = grab(i + 1, "cap", 3)  # a name of the lists, then a capitalised word: "Szymon Kusik"
                    found.append((t.start, toks[j - 1].end, 0.6))
                    i = j
                    continue
                elif not cap or is_blocked(t) or lang in ("de", "lb") or common or len(low) < 3:
                    pass
                elif nxt_cap and self._known(nxt.low, lang) and not self.common(nxt.low, lang) and (
                        nxt.low in self.lex.last or self.lex.name_word(nxt.low)):
                    found.append((t.start, nxt.end, 0.6))  # an unknown word before a list surname: "Evander Garcia"
                    i += 2
                    continue
                elif english and low in self.lex.last and low not in AMBIGUOUS_FIRST and (
                        mode == "normal" or len(low) >= 4):
                    j = grab(i + 1, "weak", 2) if nxt is not None else i + 1
                    found.append((t.start, toks[j - 1].end if j > i + 1 else t.end, 0.6))
                    i = max(j, i + 1)
                    continue
                elif (english and mode == "normal" and not t.sent_start and nxt_cap and len(nxt.low) >= 3
                      and not self.common(nxt.low) and not is_blocked(nxt) and not in_any(nxt, places)):
                    found.append((t.start, nxt.end, 0.55))
                    i += 2
                    continue
                elif (english and mode == "normal" and nxt is not None and len(nxt.text) == 1 and nxt.text.isupper()
                      and i + 2 < n and _INITIAL_GAP.fullmatch(text[nxt.end : toks[i + 2].start])
                      and toks[i + 2].text[:1].isupper() and len(toks[i + 2].low) >= 3
                      and not self.common(toks[i + 2].low) and not is_blocked(toks[i + 2])):
                    found.append((t.start, toks[i + 2].end, 0.6))  # "a Ravil G Yefimov concert"
                    i += 3
                    continue
            i += 1
        found += self._speakers(text, toks, mode, lang)
        found += self._name_lines(text, toks, mode, lang)
        found += self._lists(text, toks, mode, lang, found, people, in_any, places, others, in_cue)
        # "Last, First | ..." at the start of a record line
        for m in _LAST_FIRST_ROW.finditer(text):
            words = [w for w in re.findall(r"[^\W\d_]+", m.group(1) + " " + m.group(2)) if w.lower() not in PARTICLES]
            shaped = all(w[:1].isupper() for w in words) or mode != "normal"
            if shaped and words and all(not self.common(w.lower(), lang) or self.lex.known_name(w.lower())
                                        or self.lex.name_word(w.lower()) for w in words):  # fmt: skip
                found.append((m.start(1), m.end(2), 0.65))
        found += self._table_columns(text)
        return [self.result(s, e, sc) for s, e, sc in (self._tidy(text, f) for f in found) if e > s]

    @staticmethod
    def _tidy(text: str, f: tuple[int, int, float]) -> tuple[int, int, float]:
        """A finding without leading titles ("Minister", "Dr."); none when no word of it can be a name ("January")."""
        s, e, sc = f
        while (m := re.match(r"([^\W\d_]+)\.?[ \t]+(?=\S)", text[s:e])) and (
                m.group(1).lower() in HONORIFICS or m.group(1).lower() in ROLE_TITLES and m.group(1)[:1].isupper()):
            s += m.end()
        words = [w.lower() for w in WORD.findall(text[s:e]) if len(w) > 1]
        if not words or all(w in NON_NAME_WORDS or w in HONORIFICS or w in ROLE_TITLES for w in words):
            return s, s, sc
        return s, e, sc

    def _given_not_place(self, toks, i, text, places, place_starts, lang, world: bool = False) -> bool:
        """A given name the NER model called a place: the place is this one word, no place preposition comes before
        it ("in Angola") and no capitalised word after it ("Hong Kong"), and it is no English word ("Florence")."""
        t = toks[i]
        # a census first name; a world given name only after a cue (the world lists hold country and place names
        # among their given names: "Angola")
        if self.common(t.low) or not (self.lex.first_name(t.low) or world and self.lex.given_name(t.low, lang)):
            return False
        k = bisect_right(place_starts, t.start) - 1
        if k < 0 or places[k] != (t.start, t.end):
            return False
        if i > 0 and toks[i - 1].low in _PLACE_PREPOSITIONS:
            return False
        return not (i + 1 < len(toks) and toks[i + 1].text[:1].isupper()
                    and _SPACES.fullmatch(text[t.end : toks[i + 1].start]))

    def _strong_shape(self, toks: list[_Tok], i: int, text: str, mode: str, lang: str) -> bool:
        """Does a name start at token i whatever the NER model says: a known given name, or a capitalised word then
        an initial ("Kosisochukwu U. Ezeugo")?"""
        t = toks[i]
        if mode != "normal" or not t.text[:1].isupper():
            return False
        if self.lex.first_name(t.low) and not self.common(t.low, lang):  # (census: see _given_not_place)
            return True
        if i + 2 < len(toks):
            ini, nxt = toks[i + 1], toks[i + 2]
            return (len(ini.text) == 1 and ini.text.isupper() and _SPACES.fullmatch(text[t.end : ini.start]) is not None
                    and _INITIAL_GAP.fullmatch(text[ini.end : nxt.start]) is not None and nxt.text[:1].isupper())
        return False

    def _name_lines(self, text: str, toks: list[_Tok], mode: str, lang: str) -> list[tuple[int, int, float]]:
        """A line that opens with a full name and goes on with contact data or nothing: "Robert Price
        (rprice@example.com)", "Johannes de Wit, +31 ...", "Else Gundersen 05 94 09 43", a name above an address."""
        if mode != "normal":
            return []
        out = []
        n = len(toks)
        for i, t in enumerate(toks):
            if not t.text[:1].isupper():
                continue
            line_start = text.rfind("\n", 0, t.start) + 1
            if text[line_start : t.start].strip() or _STRONG_CUES.match(text, t.start):
                continue  # (not "Hallo Amara," nor "Best regards")
            j, words = i, []
            while j < n and len(words) < 4:
                w = toks[j]
                if j > i:
                    gap = text[toks[j - 1].end : w.start]
                    if not (_SPACES.fullmatch(gap) or len(toks[j - 1].text) == 1 and _INITIAL_GAP.fullmatch(gap)):
                        break
                if w.low in PARTICLES and j > i:
                    j += 1
                    continue
                if not w.text[:1].isupper() or w.low in NON_NAME_WORDS or w.low in ROLE_TITLES or (
                        w.low in HONORIFICS or w.low in GENERIC_ADDRESSEES):
                    break
                if len(w.text) > 1:
                    words.append(w)
                j += 1
            while j > i and (toks[j - 1].low in PARTICLES or len(toks[j - 1].text) == 1):
                j -= 1
            if len(words) < 2 or j <= i:
                continue
            rest = text[toks[j - 1].end : text.find("\n", toks[j - 1].end) % (len(text) + 1)]
            if not re.match(r"[ \t]*(?:$|[(<,;|]|[+\d])", rest):
                continue
            first, last = words[0].low, words[-1].low
            named = self.lex.given_name(first, lang) and not self.common(first, lang) or (
                self.lex.any_name(first) and self.lex.any_name(last) and not self.common(last, lang))
            if named and not any(self.common(w.low, lang) and not self.lex.name_word(w.low) for w in words[1:]):
                out.append((t.start, toks[j - 1].end, 0.65))
        return out

    def _speakers(self, text: str, toks: list[_Tok], mode: str, lang: str) -> list[tuple[int, int, float]]:
        """Speaker labels of a dialogue: a label that is a known name, or that speaks more than once in turn with
        others, or that is followed by a role in brackets ("Tarmo (agent):"); a name in brackets after a role
        ("A (Isak):")."""
        labels = []  # (start, end, words, paren start, paren end)
        for m in _SPEAKER.finditer(text):
            words = m.group(1).split()
            labels.append((m.start(1), m.end(1), words, m.start(2), m.end(2)))
        if not labels:
            return []
        count: dict[str, int] = {}
        for _, _, words, _, _ in labels:
            key = " ".join(words).casefold()
            count[key] = count.get(key, 0) + 1
        turns = len(count) >= 2  # at least two different speakers
        out, maybe = [], []
        for start, end, words, p_start, p_end in labels:
            lows = [w.lower().rstrip(".") for w in words]
            paren = text[p_start + 1 : p_end - 1].strip() if p_start >= 0 else ""
            if paren and all(w.lower() in ROLE_TITLES or w.lower() in ("q", "a", "answer", "question", "reply")
                             or self.common(w.lower(), lang) for w in words):  # fmt: skip
                # "A (Isak):", "Customer (Maria Lopez):": the name is in the brackets
                inner = re.findall(r"[^\W\d_]+", paren)
                if inner and len(inner) <= 4 and all(w.lower() not in NON_NAME_WORDS and w.lower() not in ROLE_TITLES
                                                     for w in inner) and (
                        mode != "normal" and all(not self.common(w.lower(), lang) for w in inner)
                        or mode == "normal" and all(w[:1].isupper() for w in inner)):
                    out.append((p_start + 1 + (len(text[p_start + 1 : p_end - 1]) -
                                               len(text[p_start + 1 : p_end - 1].lstrip())), p_end - 1, 0.65))
                continue
            if any(w in NON_NAME_WORDS or w in HONORIFICS or w in ROLE_TITLES for w in lows):
                continue  # (a title's name is the honorific rule's: "Sr. Fontaine")
            if _STRONG_CUES.match(text, start):
                continue  # a greeting or a field: "Estimado Sr. Fontaine:", "Contact person:"
            if mode == "normal" and not all(w[:1].isupper() or w.lower() in PARTICLES for w in words):
                continue
            if mode == "normal" and any(len(w) > 3 and w.isupper() for w in words):
                continue  # "NOTE:", "URGENT:"
            name_words = [w for w in lows if w not in PARTICLES]
            known = [w for w in name_words
                     if self._known(w, lang) and not self.common(w, lang) or self.lex.given_name(w, lang)]
            plain = [w for w in name_words if self.common(w, lang) and w not in known]
            unknown = [w for w in name_words if w not in known and w not in plain]
            if not name_words or any(len(w) < 2 for w in name_words) or name_words[0] in _FIELD_LABELS:
                continue
            key = " ".join(words).casefold()
            role_paren = bool(paren) and all(w.lower() in ROLE_TITLES or self.common(w.lower(), lang)
                                             for w in paren.split())  # fmt: skip
            if known and not plain:
                ok = True  # "Élodie :", "Kosisochukwu Ezeugo:"
            elif known and len(known) + len(unknown) >= len(plain) and len(name_words) >= 2:
                ok = True  # "Kiss Péter:" (a plain word with a given name)
            elif not plain and (turns and count[key] >= 2 or role_paren or len(labels) >= 2 and turns
                                and any(_SURNAME_END.search(w) for w in unknown)):  # fmt: skip
                ok = True  # "Bonu: ...\nÉmile: ...\nBonu: ty", "Mehrimoh (visitor):"
            elif not plain and turns and len(name_words) == 1 and len(labels) >= 2 and lows[0] not in PEOPLE_NOUNS:
                # a dialogue of unknown one-word labels: each a name unless it is a field ("Tel", "Fax") or what
                # follows is no speech ("Docker: 24.0")
                line_end = text.find("\n", end)
                said = text[end : line_end if line_end >= 0 else len(text)]
                ok = (len(name_words[0]) >= 3 and name_words[0] not in _FIELD_LABELS
                      and re.search(r"[^\W\d_]{2}", said) is not None)
            else:
                ok = False
            is_given = len(name_words) == 1 and (name_words[0] in self.lex.first or self.lex.name_word(name_words[0]))
            if not ok and role_paren and is_given:
                ok = True  # "Joy (agent):": a given name that is also a word, with its role
            if ok:
                out.append((start, end, 0.7))
            elif len(name_words) == 1 and len(name_words[0]) >= 2 and name_words[0] not in PEOPLE_NOUNS and (
                    is_given or not plain):
                maybe.append((start, end, 0.6))
        # in a dialogue with named speakers, the other one-word labels are speakers too ("Jan:", "ørni: 0412...")
        return out + maybe if out else out

    def _lists(self, text, toks, mode, lang, found, people, in_any, places, others, in_cue
               ) -> list[tuple[int, int, float]]:
        """Lists and coordinations of names: items (1-4 name words, initials, particles) joined by commas, "and",
        "und", "et", "y"... A list is one of names when a people noun introduces it ("Our founders:", "Présents :"),
        when one of its items was found as a name (by the NER model or the rules above), or when one item starts with
        a known given name; then each name-shaped item is a name."""
        n = len(toks)
        items: list[tuple[int, int]] = []  # token index ranges [a, b)
        i = 0
        while i < n:
            t = toks[i]
            if not (self._name_shaped(t, mode, lang) or len(t.text) == 1 and t.text.isupper() and mode == "normal"):
                i += 1
                continue
            j = i + 1
            while j < n and j - i < 5:
                gap = text[toks[j - 1].end : toks[j].start]
                nxt = toks[j]
                if not (_SPACES.fullmatch(gap) or len(toks[j - 1].text) == 1 and _INITIAL_GAP.fullmatch(gap)
                        or gap == "-"):
                    break
                if nxt.low in PARTICLES and j + 1 < n:
                    j += 1
                    continue
                if not (self._name_shaped(nxt, mode, lang) or len(nxt.text) == 1 and nxt.text.isupper()):
                    break
                j += 1
            while j > i + 1 and toks[j - 1].low in PARTICLES:
                j -= 1
            items.append((i, j))
            i = j
        if len(items) < 2:
            return []
        # evidence: the model's names and the rules' surer findings (not a word after "and" / "with")
        found_spans = [(a, b) for a, b, sc in found if sc >= 0.65] + people
        out = []
        k = 0
        while k < len(items):
            chain = [items[k]]
            while k + 1 < len(items):
                a_end = toks[chain[-1][1] - 1].end
                b_start = toks[items[k + 1][0]].start
                if not _LIST_SEP.fullmatch(text[a_end:b_start]):
                    break
                chain.append(items[k + 1])
                k += 1
            k += 1
            if len(chain) < 2:
                continue
            if len(chain) == 2 and text[toks[chain[0][1] - 1].end : toks[chain[1][0]].start].strip() == ",":
                # "A, B" alone is a list, a "Last, First" or an apposition ("The Attorney-General, Daryl Williams"):
                # both parts must look like names
                if not all(any(self.lex.any_name(t.low) or _SURNAME_END.search(t.low) for t in toks[a:b])
                           for a, b in chain):  # fmt: skip
                    continue
            spans = [(toks[a].start, toks[b - 1].end) for a, b in chain]
            line_start = text.rfind("\n", 0, spans[0][0]) + 1
            before = text[max(line_start, spans[0][0] - 60) : spans[0][0]]
            labelled = _PEOPLE_LABEL.search(before) is not None
            has_found = any(fa < e and s < fb for s, e in spans for fa, fb in found_spans)
            given = [self.lex.given_name(toks[a].low, lang) and not self.common(toks[a].low, lang) for a, _ in chain]
            has_given = any(given)
            if not (labelled or has_found or has_given):
                continue
            # the small English model calls many foreign given names places ("Francine and Constança": GPE)
            names_in_places = sum(given) >= 1 and all(b - a == 1 for a, b in chain)
            for (a, b), (s, e), is_given in zip(chain, spans, given, strict=True):
                words = [t for t in toks[a:b] if len(t.text) > 1 and t.low not in PARTICLES]
                if not words or any(in_cue(t) for t in words):  # "Viele Grüße, Heather Wojcik"
                    continue
                if not labelled and any(in_any(t, places) or in_any(t, others) for t in words) and not any(
                        fa < e and s < fb for fa, fb in found_spans) and not (names_in_places and is_given):
                    continue  # a place or organisation in a list with names: kept
                if not labelled and all(self.common(t.low, lang) for t in words):
                    continue
                if not labelled and (lang in ("de", "lb") or mode != "normal") and not any(
                        self.lex.any_name(t.low) or _SURNAME_END.search(t.low) for t in words):
                    continue  # German capitalises every noun: "Mit freundlichen Grüßen, Jonas Becker"
                out.append((s, e, 0.7 if labelled else 0.6))
        return out

    def _table_columns(self, text: str) -> list[tuple[int, int, float]]:
        """Values under a header cell that names people ("name", "first", "last", "customer", "Nachname")."""
        out = []
        pos = 0
        while True:
            line_end = text.find("\n", pos)
            line = text[pos : line_end if line_end >= 0 else len(text)]
            sep = _TABLE_SEP.search(line)
            if sep and line.count(sep.group()) >= 1:
                cells = [c.strip() for c in line.split(sep.group())]
                cols = [c for c, cell in enumerate(cells) if _NAME_COLUMN.fullmatch(cell)]
                if cols and len(cells) >= 2 and all(len(c) <= 30 for c in cells):
                    out += self._column_values(text, line_end, sep.group(), cols)
            if line_end < 0:
                return out
            pos = line_end + 1

    @staticmethod
    def _column_values(text: str, pos: int, sep: str, cols: list[int]) -> list[tuple[int, int, float]]:
        out = []
        while pos >= 0:
            line_end = text.find("\n", pos + 1)
            line = text[pos + 1 : line_end if line_end >= 0 else len(text)]
            cells = line.split(sep)
            if len(cells) <= max(cols):
                break
            for col in cols:
                cell_start = pos + 1 + sum(len(c) + 1 for c in cells[:col])
                cell = cells[col].strip()
                if re.search(r"[^\W\d_]{2}", cell) and "@" not in cell and not re.search(r"\d", cell):
                    lead = len(cells[col]) - len(cells[col].lstrip())
                    out.append((cell_start + lead, cell_start + lead + len(cell), 0.7))
            pos = line_end
        return out


# articles and determiners: a capitalised word after one is a noun, not a name ("den Roman", "le Moulin")
_ARTICLES = frozenset(
    """der die das den dem des ein eine einen einem einer eines kein keine keinen le la les un une du des au aux el
    los las una unos unas il lo gli uno het een o os um uma the a an this that""".split()
)
_PLACE_PREPOSITIONS = frozenset("in of from to at near into across throughout via de du des von aus nach en à".split())
_DE_ADJ = ("en", "er", "es", "em", "e")  # German adjective endings ("den ersten Roman")
# noun endings of German, French, Spanish, Italian (a capitalised word with one is a noun, not a surname)
_NOUN_ENDINGS = ("ung", "heit", "keit", "schaft", "tion", "tät", "ment", "nis", "tum", "chen", "lein", "ität", "ismus",
                 "ión", "dad", "eza", "mente", "zione", "tà", "age", "ure", "ance", "ence")
# one-word line labels of forms and headers that are not speakers, in several languages
_FIELD_LABELS = frozenset(
    """tel fax mob cell iban bic swift url id ref nr no re fwd cc bcc ps nb faq tldr eta pin otp ssn dob vat ust
    uid ip mac os cpu gpu ram api sdk cli env username userid login passwd pwd email mail""".split()
)
