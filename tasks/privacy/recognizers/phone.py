"""PHONE_NUMBER as people write them in many regions, scored by what the digits look like and by the words around.

Every run of 7-15 digits written the way phone numbers are (`+`, `00`, `(area)`, spaces, dots, dashes, slashes,
an extension) is a candidate. Its score adds up:

- form: international (`+CC`, `00CC`, `(+CC)`) and valid or possible for its country (python-phonenumbers); a
  national number valid in one of `REGIONS` (the EU, the UK, EFTA, India, Brazil, Australia, Japan, US/CA and
  other large countries) and grouped exactly as that region formats its numbers ("06 12 50 93 06" in France,
  "(11) 2336-5725" in Brazil, "030 874492" in Germany), or with a trunk 0 and other groupings, or a parenthesised
  area code; checked against the regions' phonenumbers metadata, compiled once into regexes;
- context (`cues.py`): a phone word before it in one of several languages ("Tel.", "call me on", "Fax:", "Handy",
  "appelez le", "llámame al", "M:"), a phone word after it ("(mobile)"), the header of its table column, a heading
  over its list, the question or label line it answers, an e-mail address on the same line, another phone number
  next to it;
- against: an order/invoice/account/ISBN/card word nearer than any phone word, a date, a year range, an IP
  address, an SSN, a decimal or thousands-grouped amount, a currency or unit next to it, a postcode before a
  place name or after a state ("4571-591 Fátima", "CA 94105-1234").

A number with a phone word right before it is found in any grouping, as one unbroken run or as a bare subscriber
number ("Phone: 467 3395", "Fax: 9498777106", "call me on 9472 7916"); without context, only numbers whose form
says "phone" are ("+44 20 7946 0958", "0688 872 49 99", "(415) 555-0123"). Stands in for Presidio's
`PhoneRecognizer`, whose phonenumbers scan of every text per region cost ~40 % of the analysis time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pairforge.tasks.privacy.recognizers.cues as cues
from pairforge.tasks.privacy.recognizers.base import Recognizer

REGIONS = (
    # EU
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    # the rest of Europe
    "GB", "CH", "NO", "IS", "LI", "RS", "UA", "TR", "RU",
    # the Americas, Asia-Pacific, Africa, the Middle East
    "US", "CA", "MX", "BR", "AR", "CO", "CL", "PE", "IN", "PK", "CN", "HK", "TW", "JP", "KR", "PH", "VN", "TH",
    "MY", "SG", "ID", "AU", "NZ", "ZA", "NG", "KE", "EG", "MA", "IL", "AE", "SA",
)  # fmt: skip
MIN_DIGITS, MAX_DIGITS = 7, 15
THRESHOLD = 0.5  # a candidate scoring below this is not reported (the scrubber's default threshold too)

_EXT = r"[ \u00a0]?(?:x|ext\.?|extn\.?|extension|poste|durchwahl|dw\.?|int\.?)[ \u00a0]?\d{1,6}"
CANDIDATE = re.compile(
    r"(?<![\w+\-./])(?<!\d[ .\-/])"  # not inside a word, a longer number, a decimal or a path
    r"(?=[\d(+][\d()+ .\-/\u00a0]{6})"  # seven phone characters ahead (most numbers in prose stop here)
    r"(?:\+\s?\(?|\(\s?\+?\s?(?=\d))?"  # +, +(, ( or (+
    r"\d(?:\d|[ .\-/\u00a0]{1,2}(?=\d|\(\d)|\)[ \u00a0]?[.\-/]?[ \u00a0]?(?=\d)|\((?=\d))*"
    rf"(?:{_EXT})?"  # extension
    r"(?!\w|:\d)",  # nor the date of a time stamp ("2023-04-02 10:15")
    re.I,
)
_EXTENSION = re.compile(_EXT + "$", re.I)
_DIGITS = re.compile(r"\d+")
_DMY = re.compile(r"(\d{1,2})([./\- ])(\d{1,2})\2(\d{4}|\d{2})")
_YMD = re.compile(r"(\d{4})([./\-])(\d{1,2})\2(\d{1,2})")
_YEARS = re.compile(r"(?:1[5-9]|20)\d\d ?[-/] ?(?:1[5-9]|20)\d\d")  # 1979-1989, 2000/2001
_NANP_SHAPE = re.compile(r"(?:\+?1[-. ]?|001[-. ]?)?(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}")
_AREA_CODE = re.compile(r"\(0?[-\s]?\d{1,5}\)[ \u00a0]?[.\-/]?[ \u00a0]?\d|^\(?\d{1,5}\)?[ \u00a0]?/[ \u00a0]?\d{3}")
_PAREN_CC = re.compile(r"\([1-9]\d{0,2}\)")
_PAREN_GROUP = re.compile(r"\([^)]*\)[ \u00a0]?")
_INTL_00 = re.compile(r"^\D*0\D*0")
_IP = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)")
_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
_MONEY_BEFORE = re.compile(
    r"(?:[$€£¥₹₽₩]|\b(?:usd|eur|gbp|chf|inr|rs\.?|r\$|kr|sek|nok|dkk|pln|czk|huf|jpy|aud|cad|brl|mxn|zar))\s?$", re.I
)
_UNIT_AFTER = re.compile(
    r"\s?(?:[$€£¥₹%‰°]|(?:usd|eur|euros?|dollars?|pounds?|yen|yuan|rupees?|reais|francs?|kr|kronor|kroner|z[łl]|"
    r"people|persons|inhabitants|residents|habitants|einwohner|habitantes|abitanti|inwoners|km|kg|mi|miles|m²|"
    r"km²|sq|tons?|tonnes?|barrels|votes|copies|units|views|visitors|times|years|bytes|kb|mb|gb|hz|mhz|ghz)\b)",
    re.I,
)
_IN_URL = re.compile(r"(?:://|www\.|doi:|[?&=/])[^\s]*$", re.I)  # the candidate ends a URL, query or path token
_POSTCODE = re.compile(r"\d{4}-\d{3}|\d{5}-\d{3}|\d{3}-\d{4}|\d{5}-\d{4}")  # PT, BR, JP, US ZIP+4
_PLACE_AFTER = re.compile(r"[ \t]+[^\W\d_]{3,}")
_STATE_BEFORE = re.compile(r"(?<![^\W\d_])[A-Z]{2},?[ \t]+$")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+\.[\w.\-]+")
_CONNECTOR = re.compile(
    r"[\s,;/|]*(?:or|oder|ou|o|of|og|eller|and|und|et|y|e|alt\.?|bzw\.?)?[\s,;/|]*(?:[^\W\d_]+[:.,]?\s*){0,2}$", re.I
)  # what may stand between two numbers of one contact: "X / Y", "X or Y", "X, office Y"


@dataclass(frozen=True)
class _Format:
    leading: re.Pattern | None
    pattern: re.Pattern
    national: str  # the format with the national-prefix rule applied (phonenumbers' NATIONAL format)
    plain: str  # the format without the national prefix


@dataclass(frozen=True)
class _Region:
    code: str
    trunk: str | None
    lengths: frozenset[int]
    valid: re.Pattern
    formats: tuple[_Format, ...]


def _py(fmt: str) -> str:
    return re.sub(r"\$(\d)", r"\\\1", fmt)


@lru_cache(maxsize=1)
def _regions() -> tuple[_Region, ...]:
    """Each region's valid-number patterns, lengths and national formats from phonenumbers' metadata."""
    from phonenumbers import PhoneMetadata

    out = []
    for code in REGIONS:
        md = PhoneMetadata.metadata_for_region(code)
        if md is None:
            continue
        descs = [md.fixed_line, md.mobile, md.toll_free, md.premium_rate, md.shared_cost, md.personal_number,
                 md.voip, md.uan, md.pager]  # fmt: skip
        patterns = [d.national_number_pattern for d in descs if d is not None and d.national_number_pattern]
        formats = []
        for f in md.number_format:
            rule = f.national_prefix_formatting_rule
            plain = _py(f.format)
            national = plain
            if rule and md.national_prefix:
                national = plain.replace("\\1", _py(rule).replace("$NP", md.national_prefix).replace("$FG", "\\1"), 1)
            leading = re.compile(f.leading_digits_pattern[-1]) if f.leading_digits_pattern else None
            formats.append(_Format(leading, re.compile(f.pattern), national, plain))
        out.append(_Region(code, md.national_prefix or None, frozenset(md.general_desc.possible_length),
                           re.compile("|".join(f"(?:{p})" for p in patterns)), tuple(formats)))  # fmt: skip
    return tuple(out)


_SKELETON = re.compile(r"\d+")


def _groups(s: str) -> tuple[int, ...]:
    return tuple(len(g) for g in _DIGITS.findall(s))


@lru_cache(maxsize=4096)
def national_form(
    digits: str, groups: tuple[int, ...], skeleton: str = "", uniform: bool = True
) -> tuple[bool, bool, bool]:
    """(valid, trunk, formatted): a valid national number of one of REGIONS; written with that region's trunk
    prefix (0, 8, 1, 06); grouped as that region writes it: digit groups of the same lengths, with one kind of
    separator (`uniform`) or the region's own (`skeleton`: the written number with each digit group as "9")."""
    valid = trunk = False
    for r in _regions():
        had_trunk = bool(r.trunk) and digits.startswith(r.trunk)
        nsn = digits[len(r.trunk) :] if had_trunk and r.trunk else digits
        if len(nsn) not in r.lengths or not r.valid.fullmatch(nsn):
            continue
        valid, trunk = True, trunk or had_trunk
        if len(groups) < 2:
            continue
        for f in r.formats:
            if f.leading is not None and not f.leading.match(nsn):
                continue
            m = f.pattern.fullmatch(nsn)
            if not m:
                continue
            plain, national = m.expand(f.plain), m.expand(f.national)
            if had_trunk:
                t, lengths = len(r.trunk or ""), _groups(plain)
                forms = {(t, *lengths), (lengths[0] + t, *lengths[1:]), _groups(national)}
            else:
                forms = {_groups(plain)}
            if groups in forms and (uniform or skeleton in (_SKELETON.sub("9", national), _SKELETON.sub("9", plain))):
                return True, had_trunk, True
            break  # phonenumbers formats with the first format that applies
    return valid, trunk, False


@lru_cache(maxsize=4096)
def international_form(digits: str) -> float:
    """Form score of an international number (digits after + or 00): valid 0.85, possible 0.7, a known country
    code and 8-15 digits 0.55, else 0.3."""
    import phonenumbers

    try:
        num = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return 0.3
    if phonenumbers.is_valid_number(num):
        return 0.85
    if phonenumbers.is_possible_number(num):
        return 0.7
    if phonenumbers.region_code_for_country_code(num.country_code) != "ZZ" and 8 <= len(digits) <= 15:
        return 0.55  # a known country code, then about as many digits as a number has: +54 9 3626 0181
    return 0.3


def _is_date(s: str) -> bool:
    if m := _DMY.fullmatch(s):
        a, b, y = int(m.group(1)), int(m.group(3)), m.group(4)
        return (1 <= a <= 31 and 1 <= b <= 12 or 1 <= a <= 12 and 1 <= b <= 31) and (len(y) == 2 or y[:2] in _CENTURIES)
    if m := _YMD.fullmatch(s):
        return m.group(1)[:2] in _CENTURIES and 1 <= int(m.group(3)) <= 12 and 1 <= int(m.group(4)) <= 31
    return _YEARS.fullmatch(s) is not None


_CENTURIES = {"15", "16", "17", "18", "19", "20", "21"}


def form_score(value: str) -> float:
    """How much the written number alone says "phone" (0 = not a phone at all, see the module docstring)."""
    main = _EXTENSION.sub("", value).strip()
    compact = main.replace("\u00a0", " ")
    if _is_date(compact) or _IP.fullmatch(compact) or _SSN.fullmatch(compact):
        return 0.0
    nanp = 0.55 if _NANP_SHAPE.fullmatch(compact) else 0.0  # 555-123-4567, (555)123-4567, +1-555-123-4567
    intl = compact.lstrip("( ").startswith("+")
    body = compact.replace("(0)", "") if intl else compact
    digits = "".join(_DIGITS.findall(body))
    if digits.startswith("00") and not digits.startswith("000"):
        intl, digits, body = True, digits[2:], _INTL_00.sub("", body, count=1)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return 0.0
    if intl:
        return max(nanp, international_form(digits))
    groups = _groups(body)
    seps = set(re.sub(r"[\d()]", "", body))
    if len(groups) == 2 and seps == {"."} and digits[0] != "0":  # 3.14159: a decimal unless a phone word says so
        return 0.1
    if set(digits) <= {"0", "1"}:  # 1101010, 010 0000: binary
        return 0.1
    # one kind of separator between the groups ("06 12 50 93 06", "06.12.50.93.06"), or the area code in
    # parentheses ("(11) 2336-5725"), or the region's own mix ("8 (301) 123-45-67"): 11.830-32 is a reference
    outside = _PAREN_GROUP.sub(" ", body)
    uniform = len(set(re.sub(r"[\d()]", "", outside))) <= 1
    valid, trunk, formatted = national_form(digits, groups, _SKELETON.sub("9", body.strip()), uniform)
    area = _AREA_CODE.search(body) is not None  # (0-613) 97731, 8 (246) 281-9482, 030/1234567, 30/166 1318
    short_group = min(_groups(outside)[1:], default=9) < 2  # 0202 988 25 6: a digit left over
    if body.startswith("(") and _PAREN_CC.match(body) and international_form(digits) >= 0.7:
        score = 0.6  # (351) 968 301 661: the country code in parentheses
    elif formatted and len(groups) >= 2 and not short_group:
        score = 0.6
    elif valid and (trunk or area) and 2 <= len(groups) <= 5 and len(digits) >= 8 and not short_group:
        score = 0.5
    elif valid and trunk and len(groups) == 1 and 9 <= len(digits) <= 11:  # 0612345678: a trunk prefix, no gaps
        score = 0.5
    elif valid and trunk:
        score = 0.4
    elif valid:
        score = 0.35
    else:
        score = 0.25
    thousands = len(groups) >= 3 and len(seps) == 1 and seps <= {" ", "."} and groups[0] <= 3 and digits[0] != "0"
    thousands = thousands and "(" not in body
    if thousands and all(g == 3 for g in groups[1:]):  # 1 234 567, 12.345.678: an amount as often as a phone
        score -= 0.25
    return max(score, nanp)


def context_score(text: str, start: int, end: int, table_cache: dict | None = None) -> float | None:
    """What the words around add (phone words, table header, heading, e-mail on the line); None: the nearest
    cue says this number is something else (an order, an account, a card, an amount)."""
    if _MONEY_BEFORE.search(text, max(0, start - 6), start) or _UNIT_AFTER.match(text, end):
        return None
    header, cell = cues.table_cell(text, start, end, table_cache)
    cue = cues.cue_before(text, start, floor=cell)
    near = cue.distance <= 30
    if cue.kind in ("other", "card") and near:
        return None
    if not (cue.kind in ("phone", "label") and near) and _POSTCODE.fullmatch(text, start, end):
        if _PLACE_AFTER.match(text, end) or _STATE_BEFORE.search(text, max(0, start - 6), start):
            return None  # 4571-591 Fátima, 01310-100 São Paulo, CA 94105-1234: a postcode
    bonus = 0.0
    if cue.kind in ("phone", "label"):
        bonus = 0.45 if near else 0.3
    elif cue.kind == "phone_weak":
        bonus = 0.25 if near else 0.15
    elif cue.kind == "payment" and near:
        bonus = -0.3
    if bonus < 0.45 and cues.cue_after(text, end):
        bonus = 0.45
    if not cue.kind and bonus < 0.25 and cues.kind_above(text, start) in ("phone", "phone_weak"):
        bonus = 0.25  # the question it answers: "What is the best number to reach you?\nUser: 212772075"
    if header:
        kind = cues.classify(header)
        if kind in ("other", "card"):
            return None
        if kind in ("phone", "phone_weak", "label"):
            bonus = max(bonus, 0.45)
    if bonus < 0.25:
        heading = cues.block_heading(text, start)
        if heading and cues.classify(heading) in ("phone", "phone_weak"):
            bonus = 0.25
    if bonus < 0.2:
        a, b = cues.line_bounds(text, start, end)
        if _EMAIL.search(text, a, b):
            bonus = 0.2
    return bonus


def find_phones(text: str) -> list[tuple[int, int, float]]:
    """(start, end, score) of every phone number in `text` scoring at least THRESHOLD."""
    scored: list[tuple[int, int, float]] = []
    table_cache: dict = {}
    for m in CANDIDATE.finditer(text):
        value = m.group()
        start, end = m.start(), m.end()
        if value.startswith("(") and ")" not in value:
            start, value = start + 1, value[1:]
        if value.count("(") > value.count(")"):  # "85,458 (2014": stop before the unclosed parenthesis
            value = value[: value.rfind("(")].rstrip(" .-/\u00a0")
            end = start + len(value)
        if start and text[start - 1] == "," and start > 1 and text[start - 2].isdigit():
            continue  # the rest of 85,458,000
        if _IN_URL.search(text, max(0, start - 80), start):
            continue  # a path or query of a link, a DOI
        form = form_score(value)
        if form <= 0:
            continue
        ctx = context_score(text, start, end, table_cache)
        if ctx is None:
            continue
        scored.append((start, end, form + ctx))
    # numbers listed next to a phone number are phone numbers too ("+353 85 091 7030 / 63 743 553"; "0131544849 /
    # 260 0465": two phone-like numbers side by side)
    out = []
    for i, (s, e, score) in enumerate(scored):
        if THRESHOLD > score >= 0.3:
            for j in (i - 1, i + 1):
                if not 0 <= j < len(scored) or scored[j][2] < 0.35:
                    continue
                s2, e2, other = scored[j]
                gap = text[e2:s] if j < i else text[e:s2]
                if len(gap) <= 30 and "\n" not in gap and _CONNECTOR.match(gap):
                    score += 0.2 if other >= THRESHOLD else 0.15
                    break
        if score >= THRESHOLD:
            out.append((s, e, score))
    return out


class MultiRegionPhoneRecognizer(Recognizer):
    """Phone numbers of many regions by form and context (see the module docstring)."""

    ENTITY = "PHONE_NUMBER"
    NAME = "PairforgePhoneRecognizer"
    REPLACES = ("PhoneRecognizer",)

    def analyze(self, text, entities, nlp_artifacts=None):
        return [self.result(s, e, min(score, 1.0)) for s, e, score in find_phones(text)]
