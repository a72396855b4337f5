"""STREET_ADDRESS: a grammar of postal lines (number + street + type, continental "Lindenstraße 5" / "Calle Mayor 3" /
"48 rue Descartes" forms, secondary units, city / region / postcode / country tails, multi-line address blocks,
"the corner of A and B", a postcode after "ZIP:")."""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult

from pairforge.tasks.privacy.recognizers.base import Recognizer

STREET_TYPES = (
    r"street|st|avenue|ave|av|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl|terrace|ter|terr|close|"
    r"crescent|cres|square|sq|parkway|pkwy|highway|hwy|circle|cir|trail|trl|row|mews|grove|gardens|gdns|walk|alley|"
    r"path|pike|plaza|loop|point|ridge|heights|hts|hill|park|expressway|freeway|turnpike|wharf|quay|green|gate|"
    r"broadway"
)
# streets whose type is fused to the name or a suffix: Lindenstraße, Nassaustraat, aðalgata, Auerstrasse
FUSED_TYPES = (
    r"stra(?:ss|ß)e|str\.|gasse|weg|platz|allee|ring|damm|ufer|chaussee|steig|pfad|markt|graben|"
    r"straat|laan|gracht|plein|kade|singel|dreef|steeg|dijk|"
    r"vej|gade|gatan|gata|gate|vägen|veien|vegen|torget|tie|katu|polku|utca|útja|út|tér|"
    r"ulica|ulice|náměstí|namesti|třída|trida|cesta|aleja|gürtel"
)
# streets named after a type word in front: Calle Mayor 3, 48 rue Descartes, Via Roma 12, Plaza del Sol
PREFIX_TYPES = (
    r"calle|c/|avenida|avda\.?|av\.|paseo|plaza|pza\.?|carrer|camino|carretera|ronda|rambla|travesía|rua|praça|"
    r"travessa|rue|avenue|boulevard|bd|chemin|allée|impasse|quai|place|via|viale|piazza|corso|largo|vicolo|"
    r"ulica|ul\.|aleja|al\.|am|an der|auf der|auf dem|im|zum|zur|πλατεία|οδός|λεωφόρος"
)
_NUM = r"\d{1,6}[A-Za-z]?(?:[ \t]?[-/][ \t]?\d{1,5}[A-Za-z]?)?"
_W = r"[^\W\d_][\w'’.\-]*"  # a word of a street name (letters first; may carry a dot: "N.", "rkp.")
_SECONDARY = (
    r"(?i:(?:(?:apt\.?|apartment|suite|ste\.?|unit|flat|fl\.?|floor|room|rm\.?|bldg\.?|building|dept\.?|no\.?|"
    r"piso|puerta|planta|escalera|esc\.?|bajo|wohnung|whg\.?|etage|stock|app\.?|appartement|bâtiment|bat\.?|"
    r"c/o)(?![^\W\d_])|#)\s*(?:[\w-]{0,5}\d[\w-]{0,5}|[A-Za-z]\b)\.?|\d{1,2}\s?[º°ª](?:\s?[A-Za-z])?|\d{1,2}(?:st|nd|rd|th)\s+floor)"
)
_POSTCODE = (
    r"\d{5}(?:-\d{4})?|\d{4}\s?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|\d{3}\s?\d{2}|"
    r"\d{2}-\d{3}|\d{4}"
)
_STATE = r"[A-Z]{2,3}"

_STREET_LEAD = rf"(?<![\w-])(?:(?:{_NUM})[ \t]+)?"  # a flat or building number before the house number
_DIRECTION = r"(?:n|s|e|w|ne|nw|se|sw|north|south|east|west)"
STREET_LINES = [
    # 1. number, words, street type: 221B Baker Street, 19 1755 Nelson Mandela Drive, 23 8 wressle road
    re.compile(rf"(?i){_STREET_LEAD}(?:{_NUM})[ \t]+(?:{_DIRECTION}\.?[ \t]+)?(?:{_W}[ \t]+){{0,4}}?"
               rf"(?:{STREET_TYPES})\b\.?(?:[ \t]+(?:{STREET_TYPES})\b\.?)?(?:[ \t]+{_DIRECTION}\b\.?)?(?![\w])"),
    # 2. fused: Lindenstraße 5, Nassaustraat 123, 45 aðalgata 37
    re.compile(rf"(?i){_STREET_LEAD}(?:{_W}[ \t]+){{0,2}}?[^\W\d_][\w'’\-]*(?:{FUSED_TYPES})(?:[ \t]+{_NUM})?"
               rf"(?![\w])"),
    # 3. type in front: Calle de Alcalá 63, 48 rue Descartes, Πλατεία Μαβίλη 170
    re.compile(rf"(?i)(?<![\w-])(?:(?:{_NUM})[ \t]+){{0,2}}(?:{PREFIX_TYPES})[ \t]+"
               rf"(?:(?:{_W}[ \t]+){{0,4}}?{_W}[ \t]+{_NUM}|(?:{_W}[ \t]+){{0,3}}{_W})(?![\w])"),
]
# number, words, number (06 Reyes Católicos 17, 87 Jakobi 69): an address only with context or a postal tail
WEAK_STREET = re.compile(
    rf"(?<![\w-])(?:{_NUM}[ \t]+)?{_NUM}[ \t]+(?:{_W}[ \t]+){{0,3}}?{_W}[ \t]+\d{{1,5}}[A-Za-z]?\b\.?"
)
# a line that starts with a number right after "address(es)": an address whatever its street looks like
CUE_CHUNK = re.compile(r"(?i)\b(?:address(?:es)?|addr\.?|anschrift|adresse|direcci[óo]n|domicilio)\b[^\n\d]{0,25}?"
                       r"(\d{1,6}[^\n,;!?]{2,60})")
# Kapelaniestraat 88 / Whittaker Street with no number: part of an address only at "the corner of ... and ..."
STREET_NAME = rf"(?:(?:{_W}[ \t]+){{0,3}}?{_W}[ \t]+(?:{STREET_TYPES})\b\.?|{_W}(?:{FUSED_TYPES})(?:[ \t]+{_NUM})?)"
CORNER = re.compile(rf"(?i)\b(?:the[ \t]+)?corner[ \t]+of[ \t]+{STREET_NAME}[ \t]+(?:and|&|y|und)[ \t]+{STREET_NAME}")
ADDRESS_CONTEXT = re.compile(
    r"(?i)(?:address(?:es)?|addr|live[sd]?\s+(?:at|in|on)|living\s+at|resides?\s+at|located\s+at|is\s+at|"
    r"moved\s+to|move\s+to|ship(?:ping)?\s+to|send\s+(?:it\s+|the\s+\w+\s+)?to|deliver(?:y|ed)?\s+to|"
    r"return\s+to|mail(?:ing)?\s+to|post\s+to|billing|shipping|residence|domicile|home|street|"
    r"adresse|anschrift|wohnhaft|wohne|dirección|direccion|domicilio|vivo\s+en|calle)\W{0,20}$"
)
ZIP_CONTEXT = re.compile(r"(?i)\b(?:zip(?:\s*code)?|postcode|post\s*code|postal\s*code|plz|c[óo]digo\s+postal|cp)"
                         r"\s*[:#]?\s*$")  # fmt: skip
_TW = r"[^\W\d_][\w'’\-]*"  # a word of a city, region or country: no dots ("Barcelona. Para" is two sentences)
# one address component after a street line, up to the next separator
_TAIL_PART = re.compile(
    rf"^(?P<sep>\s*,\s*|\s*\n(?:[ \t]*\n)?[ \t]*(?:[^\w\s\n]{{1,4}}[ \t]+)?|[ \t]+)"
    rf"(?P<part>{_SECONDARY}"
    rf"|(?:{_TW}[ \t]+){{0,3}}{_TW}\.?(?:[ \t]*,?[ \t]*(?:{_STATE}|{_TW}))?[ \t]+(?:{_POSTCODE})"  # City ST 12345
    rf"|(?:{_POSTCODE})(?:[ \t]+(?:{_TW}[ \t]*){{1,3}})?"  # 10437 Berlin
    rf"|{_TW}(?:[ \t\-]+{_TW}){{0,3}}(?:[ \t]+\(\w[\w ]*\))?(?:[ \t]+\d{{1,3}})?"  # City / Country / State
    rf")(?![ \t]*[:@=])"
)


_LEAD_WORD = re.compile(r"([^\W\d_][\w'’\-]*)[ \t]+")
_PREFIX_WORDS = frozenset(re.sub(r"\\.|\?", "", PREFIX_TYPES).split("|")) | {"the", "corner"}


class StreetAddressRecognizer(Recognizer):
    """Postal addresses: a street line (strong pattern, or a weak one with context or a postal tail) extended over
    what follows it on the same or the next lines (unit, city, region, postcode, country). Ordinary words in front
    of a street are dropped (the lexicon's dictionary, when given, knows more of them)."""

    ENTITY = "STREET_ADDRESS"
    NAME = "PairforgeStreetAddressRecognizer"

    STOP_WORDS = frozenset(
        """for in case and but if or the a an to please it its it's is was will would can could should with
        which that this there their they i we you he she serves instead thanks thx not by from at on via as
        because so then when while until after before under near next phone tel email fax mobile""".split()
    )

    LEAD_STOP = frozenset(
        """address adresse anschrift dirección direccion domicilio is ist sind meine mein die der das ein eine unter
        es mi su en el los las y con para a al lives live lived living on at in to""".split()
    )

    def _trim_lead(self, text: str, start: int, end: int) -> int:
        """Drop ordinary words a match picked up in front of the street ("lives on Nassaustraat 123")."""
        while True:
            m = _LEAD_WORD.match(text, start, end)
            if not m:
                return start
            low = m.group(1).lower()
            if low in _PREFIX_WORDS or not (low in self.STOP_WORDS or low in self.LEAD_STOP
                                            or (self.lex and self.lex.common(low))):
                return start
            start += m.end() - m.start()

    def _tail(self, text: str, end: int, max_parts: int = 6) -> tuple[int, bool]:
        """Extend over address components after `end`; (new end, saw a postcode or unit)."""
        strong = False
        lines = 0
        for _ in range(max_parts):
            m = _TAIL_PART.match(text[end : end + 120])
            if not m:
                break
            part = m.group("part")
            sep = m.group("sep")
            cut = next((w.start() for w in re.finditer(r"[^\W\d_]+", part) if w.group().lower() in self.STOP_WORDS
                        and not (w.group().isupper() and len(w.group()) <= 3)), None)
            if cut is not None:
                # keep what comes before a stop word ("Canada for post mail", "80815. It serves")
                keep = part[:cut].rstrip(" \t,.")
                is_code = re.fullmatch(rf"(?:{_POSTCODE})", keep) is not None
                if keep and (is_code or "\n" not in sep and re.search(r"[^\W\d_]{2}", keep)):
                    end += m.start("part") + len(keep)
                break
            is_code = bool(re.search(rf"(?:^|\s)(?:{_POSTCODE})$", part)) or bool(re.match(_SECONDARY, part, re.I))
            if "\n" in sep:
                lines += 1
                if lines > 5:
                    break
                if not is_code and len(part) > 40:
                    break
            elif sep.strip() == "" and not (is_code or strong and part[:1].isupper()):
                break  # a space only: "Apt. 584 HEILIGENBRUNN France" goes on after a unit or postcode, nothing else
            strong |= is_code
            last = re.search(r"([^\W\d_]+)\.$", part)
            if last and len(last.group(1)) > 3:  # "Barcelona." ends the sentence, and the address
                end += m.end() - 1
                break
            end += m.end()
        return end, strong

    def analyze(self, text, entities, nlp_artifacts=None):
        if not any(c.isdigit() for c in text):
            return []
        out: list[RecognizerResult] = []
        spans: list[tuple[int, int, float]] = []
        for m in CORNER.finditer(text):
            spans.append((m.start(), m.end(), 0.8))
        for m in CUE_CHUNK.finditer(text):
            start, end = m.start(1), m.end(1)
            end = start + len(m.group(1).rstrip(" .\t"))
            new_end, _ = self._tail(text, end)
            spans.append((start, new_end, 0.7))
        for pattern, strong in [*((p, True) for p in STREET_LINES), (WEAK_STREET, False)]:
            for m in pattern.finditer(text):
                start, end = m.start(), m.end()
                start = self._trim_lead(text, start, end)
                value = text[start:end]
                if not re.search(r"\d", value) and not re.search(rf"(?i)\b(?:{STREET_TYPES})\b|{FUSED_TYPES}", value):
                    continue
                if not re.search(r"\d", value) and not strong:
                    continue
                # leading unit: "Flat 8, 213 Sandpiper Lane", "Apt 4, ..."
                lead = re.search(rf"(?i)(?:{_SECONDARY})\s*,?\s*$", text[max(0, start - 16) : start])
                if lead:
                    start = max(0, start - 16) + lead.start()
                new_end, tail_strong = self._tail(text, end)
                before = text[max(0, start - 60) : start]
                context = bool(ADDRESS_CONTEXT.search(before))
                if strong:
                    has_num = bool(re.search(r"\d", value))
                    score = 0.8 if has_num else (0.6 if context or tail_strong else 0.3)
                else:
                    score = 0.75 if (context or tail_strong) else 0.3
                if score >= 0.5:
                    spans.append((start, new_end, score))
        # a postcode after "ZIP:" on its own
        for m in re.finditer(rf"(?<![\w-])(?:{_POSTCODE})(?![\w-])", text):
            if ZIP_CONTEXT.search(text[max(0, m.start() - 20) : m.start()]):
                spans.append((m.start(), m.end(), 0.7))
        for start, end, score in spans:
            while end > start and text[end - 1] in " \t\n,;:":
                end -= 1
            out.append(self.result(start, end, score))
        return out

