"""Labelled PII evaluation sets for the scrubber (issue 14), made from seeded generators.

    .venv/bin/python tests/data/pii_eval/make_sets.py           # rewrite every set and its holdout
    .venv/bin/python tests/data/pii_eval/make_sets.py --check   # exit 1 if a file differs from what this makes

(It runs itself with PYTHONHASHSEED=0: some Faker lists are built from sets, so their order follows the hash seed.)

SEALED PART. Every set has a second file made with another seed, holdout/<set>-holdout.json, which also draws on
templates that the main file never uses (every fifth template of a list is held back for it). Sessions that tune the
recognizers must not open the holdout files, and should not read this script's templates either: tune on the
scores `pairforge bench pii-quality` prints (and, at most, on misses found in the main files), then check the
holdout scores. A rule that fixes one template is not a fix. This script was written without reading the recognizers
or the older gold sets' templates (tests/data/make_pii_gold.py).

The sets, each its own file so that results are reported per set:
- templates-a: customer-support chats, text messages, forum posts, dialogue transcripts with speaker labels.
- templates-b: e-mails with signatures, shipping and order forms, CVs, meeting notes, CSV/TSV records, lists of names,
  possessives and initials, lower-case and ALL-CAPS text, multi-line postal addresses with the postcode on its own line.
- faker-locales: Faker's own formats (`name()`, `phone_number()`, `address()`, `street_address()`,
  `credit_card_number()` of 12-19 digits, `email()`, `iban()`) of many locales, in locale-neutral English sentences,
  with a cue ("call me on", "ship to", "card number") or without one.
- phonenumbers-formats: numbers built on the `phonenumbers` metadata's example numbers of ~55 regions (the last digits
  changed, still valid for the region and type), written NATIONAL, INTERNATIONAL, E.164, 00-international,
  "+CC (0) ..." and in other people's groupings ("699 956 915", "0688 872 49 99", "9472 7916"), with or without a cue.
- fr, de: sentences written in French / German with names, phone numbers and addresses in that language's formats
  (metadata.lang fr / de, so the scrubber runs its pipeline for that language): recall per language.

Format: presidio-research's JSON (a list of {full_text, masked, spans: [{entity_type, entity_value, start_position,
end_position}], template_id, metadata}). Labels: the direct identifiers PERSON, EMAIL_ADDRESS, PHONE_NUMBER,
CREDIT_CARD, IBAN_CODE, US_SSN, IP_ADDRESS, ADDRESS, US_DRIVER_LICENSE (scored on removal) and the quasi-identifiers
LOCATION, ORGANIZATION, DATE_TIME (kept by default; scored on survival). Conventions:
- a PERSON span is the name only: honorifics ("Dr.", "Mme", "Herr") and a possessive ("'s", German "s") stay outside;
- an ADDRESS span is the address as written together: street and number, unit, PO box, postcode, city, state and
  country when they are part of it, on one line or several; a city or country on its own is LOCATION;
- card numbers include some that fail the Luhn check (a mistyped card number is still a card number);
- every value is invented here or comes from Faker / phonenumbers example data.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import warnings
from collections import Counter
from pathlib import Path

import phonenumbers as pn
from faker import Faker
from phonenumbers import PhoneNumberFormat as PNF
from phonenumbers import PhoneNumberType as PNT

HERE = Path(__file__).resolve().parent
HOLDOUT_DIR = HERE / "holdout"
SEED = 14  # issue 14; the holdout files use SEED + 1
FAKER_VERSION = "40.63.0"  # the files were made with these (requirements-dev.lock); other versions draw other values
PHONENUMBERS_VERSION = "9.0.43"
HOLD_BACK_EVERY = 5  # every fifth template of a list appears in the holdout file only
# set -> (records in the main file, records in the holdout file)
SIZES = {
    "templates-a": (300, 300),
    "templates-b": (300, 300),
    "faker-locales": (360, 360),
    "phonenumbers-formats": (300, 300),
    "fr": (240, 240),
    "de": (240, 240),
}
DIRECT = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "ADDRESS",
          "US_DRIVER_LICENSE")  # fmt: skip
QUASI = ("LOCATION", "ORGANIZATION", "DATE_TIME")

warnings.filterwarnings("ignore", message=".*locale is deprecated.*")


# --------------------------------------------------------------------------------------------------------------------
# records: a list of (text, label or None) pieces becomes full_text + spans + masked


def make_record(pieces: list[tuple[str, str | None]], template_id: int, metadata: dict,
                case: str | None = None) -> dict:  # fmt: skip
    text, masked, spans = [], [], []
    pos = 0
    for piece, label in pieces:
        if case == "lower" and label != "IBAN_CODE":  # nobody writes an IBAN in lower case
            piece = piece.lower()
        elif case == "upper":
            piece = piece.upper()
        if not piece:
            continue
        if label:
            assert piece == piece.strip() and piece, f"span with outer spaces: {piece!r}"
            spans.append({"entity_type": label, "entity_value": piece, "start_position": pos,
                          "end_position": pos + len(piece)})  # fmt: skip
            masked.append("{{" + label + "}}")
        else:
            masked.append(piece)
        text.append(piece)
        pos += len(piece)
    return {"full_text": "".join(text), "masked": "".join(masked), "spans": spans, "template_id": template_id,
            "metadata": {**metadata, **({"case": case} if case else {})}}  # fmt: skip


SLOT = re.compile(r"\{([a-z_]+)(\d?)\}")


def render(template: str, fill) -> list[tuple[str, str | None]]:
    """Pieces of a template: literal text between {slot}s, each slot's pieces from fill(kind). A slot written twice
    ({first} ... {first}) is the same value both times; {first2} is another one."""
    pieces: list[tuple[str, str | None]] = []
    values: dict[str, list] = {}
    pos = 0
    for m in SLOT.finditer(template):
        pieces.append((template[pos : m.start()], None))
        if m.group(0) not in values:
            values[m.group(0)] = fill(m.group(1))
        pieces.extend(values[m.group(0)])
        pos = m.end()
    pieces.append((template[pos:], None))
    return pieces


def template_order(rng: random.Random, templates: list, holdout: bool, n: int) -> list[int]:
    """n template indexes, each usable template about as often as the others (shuffled rounds). The main file never
    uses the held-back templates (every HOLD_BACK_EVERY-th); the holdout file uses all of them."""
    usable = [i for i in range(len(templates)) if holdout or i % HOLD_BACK_EVERY != HOLD_BACK_EVERY - 1]
    order: list[int] = []
    while len(order) < n:
        batch = usable[:]
        rng.shuffle(batch)
        order += batch
    return order[:n]


class Ctx:
    """The random source of one file, and its Faker instances (each seeded from it, in order of first use)."""

    def __init__(self, name: str, seed: int) -> None:
        self.rng = random.Random(f"{name}/{seed}")
        self._fakers: dict[str, Faker] = {}

    def faker(self, locale: str) -> Faker:
        if locale not in self._fakers:
            f = Faker(locale)
            f.seed_instance(self.rng.randrange(2**31))
            self._fakers[locale] = f
        return self._fakers[locale]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(seq)

    def weighted(self, options: dict):
        return self.rng.choices(list(options), weights=list(options.values()))[0]


# --------------------------------------------------------------------------------------------------------------------
# names

_CYR = dict(zip("абвгдезийклмнопрстуфхцчшщъыьэюяіїєґ",
                "a b v g d e z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya i yi ye g".split(),
                strict=True))  # fmt: skip
_CYR.update({"ё": "yo", "ж": "zh", "ʼ": "", "'": ""})


def translit(word: str) -> str:
    """Cyrillic -> Latin (BGN-like: Е at the start of a word or after a vowel is Ye: Yefremova)."""
    out = []
    for i, ch in enumerate(word):
        low = ch.lower()
        if low == "е" and (i == 0 or word[i - 1].lower() in "аеёиоуыэюяіїє -"):
            lat = "ye"
        else:
            lat = _CYR.get(low, ch).replace("_", "")
        out.append(lat.capitalize() if ch.isupper() else lat)
    return "".join(out)


# Latin-script locales with their own name lists; Cyrillic ones transliterated; Japanese/Chinese romanised
NAME_LOCALES = ["en_US", "en_GB", "en_IN", "en_NZ", "en_IE", "en_NG", "en_KE", "en_PK", "de_DE", "de_AT", "de_CH",
                "fr_FR", "fr_CH", "fr_CA", "es_ES", "es_MX", "es_AR", "es_CO", "it_IT", "nl_NL", "nl_BE", "pl_PL",
                "pt_BR", "pt_PT", "cs_CZ", "sk_SK", "hu_HU", "sv_SE", "da_DK", "no_NO", "fi_FI", "ro_RO", "hr_HR",
                "sl_SI", "tr_TR", "id_ID", "yo_NG", "ig_NG", "ha_NG", "zu_ZA", "sw", "tw_GH", "lt_LT", "lv_LV",
                "et_EE", "is_IS", "ga_IE", "az_AZ", "uz_UZ", "ru_RU", "uk_UA", "bg_BG", "ja_JP", "zh_CN",
                "zh_TW"]  # fmt: skip
CYRILLIC_LOCALES = {"ru_RU", "uk_UA", "bg_BG"}
ROMANISED_LOCALES = {"ja_JP", "zh_CN", "zh_TW"}
FAMILY_FIRST = {"hu_HU"}


def _tidy_name(s: str) -> str:
    s = s.replace("’", "'")
    return s.title() if s.isupper() else s


def name_parts(ctx: Ctx, locale: str) -> tuple[str, str, str]:
    """(given, family, a middle initial's letter) of one invented person of `locale`."""
    f = ctx.faker(locale)
    if locale in ROMANISED_LOCALES:
        given, family, other = f.first_romanized_name(), f.last_romanized_name(), f.first_romanized_name()
    elif locale in CYRILLIC_LOCALES:
        given, family = translit(f.first_name()), translit(f.last_name())
        other = translit(f.middle_name()) if hasattr(f, "middle_name") else translit(f.first_name())
    else:
        given, family, other = f.first_name(), f.last_name(), f.first_name()
    return _tidy_name(given), _tidy_name(family), _tidy_name(other)[:1].upper() or "A"


def person(ctx: Ctx, style: str = "full", locales: list[str] | None = None) -> str:
    locale = ctx.pick(locales or NAME_LOCALES)
    given, family, initial = name_parts(ctx, locale)
    if style == "first":
        return given
    if style == "last":
        return family
    if style == "caps_last":
        return family.upper()
    if style == "comma":
        return f"{family}, {given}"
    if style == "initials":  # Faina D. Yefremova / Ravil G Yefimov / F. Yefremova / F. D. Yefremova
        return ctx.weighted({f"{given} {initial}. {family}": 4, f"{given} {initial} {family}": 3,
                             f"{given[0]}. {family}": 2, f"{given[0]}. {initial}. {family}": 1})  # fmt: skip
    if locale in FAMILY_FIRST or (locale in ROMANISED_LOCALES and ctx.chance(0.3)):
        return f"{family} {given}"
    if ctx.chance(0.12):
        return f"{given} {initial}. {family}"
    return f"{given} {family}"


# --------------------------------------------------------------------------------------------------------------------
# phone numbers

PHONE_REGIONS = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
                 "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "GB", "IN", "BR", "AU", "JP", "US", "CA",
                 "CH", "NO", "IS", "TR", "MX", "AR", "ZA", "NG", "KE", "SG", "NZ", "IL", "AE", "PH", "ID", "RU", "UA",
                 "KR", "EG", "MA", "CO", "CL", "CN"]  # fmt: skip
EU_AND_MAJOR = ["FR", "DE", "ES", "IT", "NL", "PL", "CZ", "HU", "SE", "PT", "AT", "BE", "DK", "FI", "IE", "GR", "RO",
                "GB", "IN", "BR", "AU", "JP", "US", "CA", "CH"]  # fmt: skip


def region_number(ctx: Ctx, region: str, ntype: int = PNT.MOBILE) -> pn.PhoneNumber:
    """A valid number of `region` and type, made from the metadata's example number with its last digits changed."""
    example = pn.example_number_for_type(region, ntype) or pn.example_number_for_type(region, PNT.FIXED_LINE)
    nsn = pn.national_significant_number(example)
    keep = max(2, len(nsn) - 6)
    wanted = {pn.number_type(example), PNT.FIXED_LINE_OR_MOBILE}
    for _ in range(200):
        digits = nsn[:keep] + "".join(str(ctx.rng.randrange(10)) for _ in range(len(nsn) - keep))
        number = pn.parse(f"+{example.country_code}{digits}")
        if pn.is_valid_number(number) and pn.number_type(number) in wanted and digits != nsn:
            return number
    return example


# digit groupings people write, by number of digits
GROUPINGS = {
    6: [[3, 3], [2, 2, 2]], 7: [[3, 4], [3, 2, 2]], 8: [[4, 4], [2, 2, 2, 2], [3, 3, 2], [4, 2, 2]],
    9: [[3, 3, 3], [3, 2, 2, 2], [2, 3, 2, 2], [4, 5]], 10: [[4, 3, 3], [3, 3, 4], [4, 3, 2, 1], [2, 2, 2, 2, 2],
    [4, 6], [3, 3, 2, 2], [4, 3, 3]], 11: [[4, 3, 4], [5, 6], [3, 4, 4], [4, 3, 2, 2], [3, 2, 2, 2, 2]],
    12: [[4, 4, 4], [3, 3, 3, 3], [2, 4, 3, 3], [4, 8]], 13: [[4, 3, 3, 3], [5, 4, 4], [3, 3, 3, 4]],
}  # fmt: skip


def group_digits(ctx: Ctx, digits: str, paren_first: bool = False) -> str:
    options = GROUPINGS.get(len(digits)) or [[3] * (len(digits) // 3) + ([len(digits) % 3] if len(digits) % 3 else [])]
    sizes = ctx.pick(options)
    groups, i = [], 0
    for size in sizes:
        groups.append(digits[i : i + size])
        i += size
    if i < len(digits):
        groups[-1] += digits[i:]
    sep = ctx.weighted({" ": 6, "-": 2, ".": 1})
    if paren_first and len(groups) > 1:
        return f"({groups[0]}) " + sep.join(groups[1:])
    if ctx.chance(0.1) and len(groups) > 2:
        return groups[0] + "/" + " ".join(groups[1:])
    return sep.join(groups)


def national_digits(number: pn.PhoneNumber) -> str:
    """The number as dialled at home: trunk prefix + national significant number (0612345678, 2015550123)."""
    return re.sub(r"\D", "", pn.format_number(number, PNF.NATIONAL))


def format_phone(ctx: Ctx, number: pn.PhoneNumber, style: str) -> str:
    cc = number.country_code
    nsn = pn.national_significant_number(number)
    if style == "national":
        return pn.format_number(number, PNF.NATIONAL)
    if style == "international":
        return pn.format_number(number, PNF.INTERNATIONAL)
    if style == "e164":
        return pn.format_number(number, PNF.E164)
    if style == "intl00":
        return "00" + pn.format_number(number, PNF.INTERNATIONAL)[1:]
    if style == "intl_trunk":  # +44 (0)20 7946 0958
        national = pn.format_number(number, PNF.NATIONAL)
        if national.startswith("0"):
            return f"+{cc} (0){national[1:].lstrip('(').replace(')', '')}"
        return pn.format_number(number, PNF.INTERNATIONAL)
    if style == "grouped":  # someone else's grouping of the digits dialled at home
        return group_digits(ctx, national_digits(number), paren_first=ctx.chance(0.15))
    if style == "grouped_intl":
        return f"+{cc} " + group_digits(ctx, nsn)
    if style == "compact":
        return national_digits(number)
    if style == "local":  # the subscriber part only (7 or 8 digits), as written between neighbours
        tail = nsn[-8:] if len(nsn) >= 10 and ctx.chance(0.4) else nsn[-7:]
        return group_digits(ctx, tail)
    raise ValueError(style)


PHONE_STYLES = {"national": 5, "international": 4, "e164": 1, "intl00": 1, "intl_trunk": 1, "grouped": 4,
                "grouped_intl": 1, "compact": 2, "local": 1}  # fmt: skip
FAKER_PHONE_LOCALES = ["en_US", "en_GB", "en_AU", "en_IN", "en_CA", "en_NZ", "de_DE", "de_AT", "de_CH", "fr_FR",
                       "fr_CH", "es_ES", "es_MX", "it_IT", "nl_NL", "nl_BE", "pl_PL", "pt_BR", "pt_PT", "cs_CZ",
                       "sk_SK", "hu_HU", "sv_SE", "da_DK", "no_NO", "fi_FI", "ro_RO", "hr_HR", "tr_TR", "ja_JP",
                       "id_ID", "el_GR", "uk_UA"]  # fmt: skip


def phone(ctx: Ctx, faker_share: float = 0.35, regions: list[str] | None = None) -> str:
    """A phone number of many origins: Faker's own format for a locale, or a region's number in a chosen format."""
    if ctx.chance(faker_share):
        return ctx.faker(ctx.pick(FAKER_PHONE_LOCALES)).phone_number()
    region = ctx.pick(regions or EU_AND_MAJOR)
    number = region_number(ctx, region, PNT.MOBILE if ctx.chance(0.55) else PNT.FIXED_LINE)
    return format_phone(ctx, number, ctx.weighted(PHONE_STYLES))


# --------------------------------------------------------------------------------------------------------------------
# addresses

ADDRESS_LOCALES = ["en_US", "en_GB", "en_AU", "en_IN", "en_CA", "en_NZ", "en_IE", "de_DE", "de_AT", "de_CH",
                   "fr_FR", "fr_CH", "fr_CA", "es_ES", "es_MX", "es_AR", "es_CO", "it_IT", "nl_NL", "nl_BE", "pl_PL",
                   "pt_BR", "pt_PT", "cs_CZ", "sk_SK", "hu_HU", "sv_SE", "da_DK", "no_NO", "fi_FI", "ro_RO", "hr_HR",
                   "sl_SI", "id_ID", "tr_TR", "lt_LT", "is_IS", "zu_ZA", "en_NG"]  # fmt: skip


def _lines(address: str) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip(" ,") for line in address.splitlines() if line.strip(" ,")]


def address(ctx: Ctx, style: str, locales: list[str] | None = None) -> str:
    """An address of a locale: full on one line, multi-line, street only, unit, PO box, military, street corner."""
    f = ctx.faker(ctx.pick(locales or ADDRESS_LOCALES))
    us = ctx.faker("en_US")
    if style == "full":
        return ", ".join(_lines(f.address()))
    if style == "lines":
        lines = _lines(f.address())
        if len(lines) == 1:
            lines.append(f.city())
        return "\n".join(lines)
    if style == "street":
        return _lines(f.street_address())[0]
    if style == "postcode_line":  # street / city / postcode, each on its own line
        return "\n".join([_lines(f.street_address())[0], f.city(), f.postcode()])
    if style == "unit":
        return ctx.weighted({us.secondary_address(): 4, f"Flat {ctx.rng.randint(1, 60)}": 1,
                             f"Unit {ctx.rng.randint(1, 40)}{ctx.pick('ABCD')}": 1,
                             f"apt. {ctx.rng.randint(100, 999)}": 1})  # fmt: skip
    if style == "street_unit":
        return f"{_lines(f.street_address())[0]}, {address(ctx, 'unit')}"
    if style == "pobox":
        box = ctx.rng.randint(10, 9999)
        return ctx.weighted({f"P.O. Box {box}, {us.city()}, {us.state_abbr()} {us.postcode()}": 2,
                             f"PO Box {box}": 1, f"PO Box {box}\n{f.city()} {f.postcode()}": 1})  # fmt: skip
    if style == "military":
        kind = ctx.pick(["apo", "dpo", "ship"])
        state, code = us.military_state(), us.postcode()
        if kind == "apo":
            return f"{us.military_apo()}{ctx.pick([' ', chr(10)])}APO {state} {code}"
        if kind == "dpo":
            return f"{us.military_dpo()}{ctx.pick([' ', chr(10)])}DPO {state} {code}"
        return f"{us.military_ship()} {us.last_name()}\nFPO {state} {code}"
    if style == "corner":  # the X and Y of "at the corner of X and Y"
        g = ctx.faker(ctx.pick(locales or ADDRESS_LOCALES))
        first = _lines(f.street_address())[0] if ctx.chance(0.5) else f.street_name()
        return f"{first} and {g.street_name()}"
    raise ValueError(style)


# --------------------------------------------------------------------------------------------------------------------
# cards, bank accounts, national numbers, network addresses, quasi-identifiers

CARD_TYPES = ["visa16", "visa16", "visa13", "visa19", "mastercard", "mastercard", "amex", "discover", "diners",
              "jcb15", "jcb16", "maestro"]  # fmt: skip


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def card(ctx: Ctx, bad_luhn: float = 0.2) -> str:
    """12-19 digits, grouped as printed (4-4-4-4, amex 4-6-5) or not; some fail the Luhn check (typos)."""
    digits = ctx.faker("en_US").credit_card_number(card_type=ctx.pick(CARD_TYPES))
    if ctx.chance(bad_luhn):
        digits = digits[:-1] + str((int(digits[-1]) + ctx.rng.randint(1, 9)) % 10)
        assert not luhn_ok(digits)
    style = ctx.weighted({"plain": 4, "space4": 4, "dash4": 2})
    if style == "plain":
        return digits
    sep = " " if style == "space4" else "-"
    if len(digits) == 15 and digits[0] == "3":
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    return sep.join(digits[i : i + 4] for i in range(0, len(digits), 4))


IBAN_LOCALES = ["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL", "cs_CZ", "en_GB", "pt_PT", "fi_FI", "de_AT",
                "de_CH", "nl_BE", "sk_SK", "ro_RO", "hu_HU", "da_DK", "no_NO", "sv_SE"]  # fmt: skip


def iban(ctx: Ctx, locales: list[str] | None = None) -> str:
    code = ctx.faker(ctx.pick(locales or IBAN_LOCALES)).iban()
    if ctx.chance(0.45):
        return " ".join(code[i : i + 4] for i in range(0, len(code), 4))
    return code


def ssn(ctx: Ctx) -> str:
    value = ctx.faker("en_US").ssn()
    return ctx.weighted({value: 6, value.replace("-", " "): 1, value.replace("-", ""): 1})


def ip(ctx: Ctx) -> str:
    f = ctx.faker("en_US")
    return ctx.weighted({f.ipv4_public(): 6, f.ipv6(): 2, f.ipv4_private(): 1})


def driver_license(ctx: Ctx) -> str:
    r = ctx.rng
    d = lambda n: "".join(str(r.randrange(10)) for _ in range(n))  # noqa: E731
    letter = lambda: r.choice("ABCDEFGHJKLMNPRSTWY")  # noqa: E731
    return ctx.pick([f"{letter()}{d(7)}", f"{d(3)} {d(3)} {d(3)}", f"{letter()}{d(3)}-{d(3)}-{d(2)}-{d(3)}-{d(1)}",
                     f"{d(8)}", f"{letter()}{d(3)}-{d(4)}-{d(4)}", f"{letter()}{d(12)}", f"{d(9)}"])  # fmt: skip


def email(ctx: Ctx, locales: list[str] | None = None) -> str:
    return ctx.faker(ctx.pick(locales or ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pl_PL",
                                          "pt_BR", "sv_SE", "en_IN"])).email()  # fmt: skip


MONTHS = {
    "en": "January February March April May June July August September October November December".split(),
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember".split(),
}


def date(ctx: Ctx, lang: str = "en") -> str:
    r = ctx.rng
    day, month, year = r.randint(1, 28), MONTHS[lang][r.randrange(12)], r.randint(2015, 2025)
    if lang == "en":
        return ctx.pick([f"{day} {month} {year}", f"{month} {day}, {year}", f"{month} {day}"])
    if lang == "fr":
        return ctx.pick([f"{day} {month} {year}", f"{day} {month}"])
    return ctx.pick([f"{day}. {month} {year}", f"{day}. {month}"])


# --------------------------------------------------------------------------------------------------------------------
# slot kinds shared by the English template sets


def english_fill(ctx: Ctx, phone_faker_share: float):
    def names(style: str, k: int) -> list:
        out: list[tuple[str, str | None]] = []
        for i in range(k):
            if i:
                out.append((" and " if i == k - 1 else ", ", None))
            out.append((person(ctx, style), "PERSON"))
        return out

    kinds = {
        "name": lambda: [(person(ctx, "full"), "PERSON")],
        "first": lambda: [(person(ctx, "first"), "PERSON")],
        "last": lambda: [(person(ctx, "last"), "PERSON")],
        "iname": lambda: [(person(ctx, "initials"), "PERSON")],
        "cname": lambda: [(person(ctx, "comma"), "PERSON")],
        "names": lambda: names("full", ctx.rng.randint(2, 4)),
        "lasts": lambda: names("last", ctx.rng.randint(2, 4)),
        "firsts": lambda: names("first", ctx.rng.randint(2, 3)),
        "phone": lambda: [(phone(ctx, phone_faker_share), "PHONE_NUMBER")],
        "email": lambda: [(email(ctx), "EMAIL_ADDRESS")],
        "addr": lambda: [(address(ctx, ctx.weighted({"full": 6, "street_unit": 1, "pobox": 1, "military": 1})),
                          "ADDRESS")],
        "addrml": lambda: [(address(ctx, ctx.weighted({"lines": 5, "postcode_line": 2, "military": 1, "pobox": 1})),
                            "ADDRESS")],
        "street": lambda: [(address(ctx, "street"), "ADDRESS")],
        "unit": lambda: [(address(ctx, "unit"), "ADDRESS")],
        "corner": lambda: [(address(ctx, "corner"), "ADDRESS")],
        "card": lambda: [(card(ctx), "CREDIT_CARD")],
        "iban": lambda: [(iban(ctx), "IBAN_CODE")],
        "ssn": lambda: [(ssn(ctx), "US_SSN")],
        "ip": lambda: [(ip(ctx), "IP_ADDRESS")],
        "dl": lambda: [(driver_license(ctx), "US_DRIVER_LICENSE")],
        "city": lambda: [(ctx.faker(ctx.pick(ADDRESS_LOCALES)).city(), "LOCATION")],
        "country": lambda: [(ctx.faker("en_US").country(), "LOCATION")],
        "org": lambda: [(ctx.faker(ctx.pick(["en_US", "en_GB", "de_DE", "fr_FR", "nl_NL"])).company(),
                         "ORGANIZATION")],
        "date": lambda: [(date(ctx), "DATE_TIME")],
    }
    return lambda kind: kinds[kind]()


# --------------------------------------------------------------------------------------------------------------------
# templates-a: chats, text messages, forum posts, dialogue transcripts (speaker labels)

TEMPLATES_A = [
    "hey its {first} again, can u call me back on {phone}? battery dying",
    "{first}: hi, I ordered the blue kettle last week and it still hasn't arrived\nAgent: Sorry to hear that, {first}! "
    "Can you confirm the delivery address?\n{first}: {addr}",
    "Posted by {name} on {date}\nRe: noisy neighbours\nWe had the same problem. Just call the council on {phone} and "
    "they'll send someone round.",
    "Your parcel could not be delivered today. Reply STOP to stop receiving messages to {phone}",
    "{first}: lol did you see the cake\n{first2}: I made it!!\n{first}: it looks amazing",
    "Customer: my card {card} was charged twice for the same order\nSupport: I'm sorry about that. I've refunded the "
    "second charge, it may take a few days to show.",
    "thx {first}!! send the money to {iban} and text me when it's done",
    "Chat transcript\n{first} (visitor): I can't log in, my IP is {ip} if that helps\n{first2} (agent): Thanks, I've "
    "unblocked it. Try again now.",
    "Anyone selling a second-hand bike? DM me or call {phone}. - {first}",
    "Hi {first}, this is {name} from the dental practice reminding you of your appointment tomorrow at nine. Call "
    "{phone} to reschedule.",
    "moving out of {addr} on friday, need two people to help carry stuff. will pay in pizza",
    "{name} wrote:\n> does anyone have the number for the night pharmacy?\nit's {phone}, open till midnight",
    "{first} joined the chat.\n{first}: hello? my order went to the wrong address. it should go to {street}, {unit}",
    "Agent: The social security number you gave us, {ssn}, does not match our records. Please call {phone} so we can "
    "sort it out.",
    "my licence number is {dl}, the officer wrote it down wrong on the ticket",
    "Q: Where can I get passport photos done?\nA ({first}): the print shop on {street} does them for five bucks",
    "ok so {first} and {first2} are coming, {first3} maybe. meet at {addr} at 7",
    "From: {phone}\nrunning late, tell {first} to start without me",
    "Caller {name}, callback {phone}. Issue: router keeps restarting. Public IP {ip}.",
    "{first}> anyone else's wifi down?\n{first2}> yeah since noon\n{first}> called them on {phone}, they said two "
    "hours",
    "Thanks for shopping with us, {first}! Your order will be shipped to {addr}.",
    "Review by {name}: Great service, the driver even carried the boxes up to the third floor. Five stars.",
    "whats ur email? mine is {email}",
    "Moderator note: {name} has been banned for posting someone else's phone number ({phone}) without consent.",
    "pls update my card on file, the new one is {card}",
    "Interviewer: Could you state your name for the record?\n{name}: Yes, it's {name}.\nInterviewer: And your current "
    "address?\n{name}: {addr}.",
    "Lost dog near {street}! Answers to Biscuit. If found please ring {phone} or {phone2}.",
    "hi its {first} from upstairs, the parcel for {name} got left with me",
    "{first}: can you send me the plumber's number?\n{first2}: {phone}\n{first}: ty",
    "Call me on {phone} after six. {first}",
    "Patient {name} asked if we could send the results to {email} instead of by post.",
    "Your driver {first} is on the way in a silver hatchback. Contact: {phone}",
    "Just moved to {city}! New address is {addr}, come and visit",
    "Bot: To verify your identity, please enter the last four digits of your card.\nUser: here's the whole thing "
    "{card}\nBot: Please never share your full card number in chat.",
    "{first}: what's the wifi password\n{first2}: ask {first3}, she set it up",
    "Account holder {name}, IBAN {iban}. Please confirm the standing order.",
    "I'm {name} and I've been a member of this forum since 2011. Ask me anything about beekeeping!",
    "Hi all, {name} here. My work phone is {phone} and my mobile is {phone2}.",
    "Reply to {first}: honestly just go to the repair cafe at {street}, they fixed my toaster",
    "omg {first} ur at {addr}?? thats like five minutes from me",
    "Security alert: a new sign-in to your account from {ip}. If this wasn't you, call {phone}.",
    "Caller said her name was {name}, gave her social as {ssn}, and asked for the balance of the joint account.",
    "Thread: best pizza in town\n{first}: the place on the corner of {corner}, hands down\n{first2}: overrated imo",
    "{first}: What a day.\n{first2}: Tell me about it.\n{first}: The train broke down twice.",
    "Support: Can I take a contact number in case we get cut off?\n{first}: sure, {phone}",
    "New message from {name}: are we still on for Saturday?",
    "{first}: did {first2} ever pay you back?\n{first3}: nope, still waiting",
    "Reminder: {name}'s leaving drinks are on Thursday, upstairs at the usual place.",
    "Customer {name} reports that the login page is blocked from {ip}. Ticket passed to the network team.",
    "Officer: Licence and registration please.\nDriver: Here you go. The licence number is {dl}.",
    "can someone check if {email} is still the right address for the treasurer?",
    "{first}: my new number is {phone}, delete the old one\n{first2}: done 👍",
    "Hello {first}, your verification code has been sent to {phone}. Do not share it with anyone.",
    "Posted by {first} from {city}: my neighbour {name} keeps parking across our driveway.",
    "Please mail the signed form to {addr}. Thanks, {first}",
    "SSN on the application ({ssn}) doesn't match the one on file. Can you call the applicant, {name}, on {phone}?",
    "wire it to {iban}, reference is the invoice number",
    "Bot: What is the best number to reach you?\nUser: {phone} (mobile)\nBot: Thanks! And your e-mail?\nUser: {email}",
    "DL# {dl}, exp. next year. Customer {name} will pick the car up at noon.",
    "Can anyone recommend a vet near {street}? Our cat {first}'s been off her food.",
    "Agent: For the rental I'll need your driver's license number.\n{first}: sure, it's {dl}",
    "we got a login from {ip} at 3am, was that you {first}?",
    "Found a wallet on the bus with a driver's licence, number {dl}, name {name}. Handed it in at the station.",
]

# --------------------------------------------------------------------------------------------------------------------
# templates-b: e-mails and signatures, forms, CVs, minutes, CSV/TSV, lists, possessives, initials, case

TEMPLATES_B = [
    "Dear {first},\n\nPlease find attached the signed lease. Let me know if anything is missing.\n\nKind regards,\n"
    "{name}\n{org}\nTel. {phone}\n{email}",
    "ORDER CONFIRMATION\nShip to:\n{name}\n{addrml}\nPhone: {phone}",
    "CURRICULUM VITAE\n\n{name}\n{addrml}\n{phone} | {email}\n\nEXPERIENCE\n2016-2021  Warehouse supervisor, {org}\n\n"
    "REFERENCES\n{name2} ({phone2})",
    "Minutes of the committee meeting, {date}\nPresent: {names}\nApologies: {name}\nAction: {iname} to contact the "
    "landlord before the next meeting.",
    "name,phone,city\n{name},{phone},{city}\n{name2},{phone2},{city2}",
    "id\tcustomer\tcard\n1041\t{name}\t{card}\n1042\t{name2}\t{card2}",
    "Our founders: {lasts}.",
    "We thank {names} for their comments on an earlier draft of this report.",
    "{name}'s application was received on {date} and has been passed to the panel.",
    "Tickets for a {iname} concert went on sale this morning and sold out within an hour.",
    "Invoice address:\n{name}\n{addrml}",
    "^U please deliver to {addr} before noon. contact {name} on {phone}.",
    "Fax: {phone}\nTel: {phone2}\nAttn: {name}",
    "Re: reference for {name}\n\nTo whom it may concern,\n\nI have known {first} for six years as a colleague. {first} "
    "can be reached at {email}.",
    "Speakers: Prof. {name}, Dr. {name2} and Ms. {name3}.",
    "Card number: {card}\nCardholder: {name}\nBilling address: {addr}",
    "Employee record\nName: {cname}\nSSN: {ssn}\nDriver's licence: {dl}\nHome: {addr}",
    "From: {name} <{email}>\nTo: {name2} <{email2}>\nSubject: Friday\n\nHi {first}, can we move the call to 3pm? My "
    "line is {phone}.\n\nBest,\n{first2}",
    "Returns form | Customer: {name} | Refund to IBAN: {iban} | Reason: wrong size",
    "^L the new tenants at {street} are {name} and her brother",
    "^U packing slip\n{name}\n{addrml}",
    "Witness statement of {name}, of {addr}, taken on {date}.",
    "Contact persons: {iname} (sales), {iname2} (logistics).",
    "Board of directors: {name} (chair); {name2}; {name3}; {name4} (treasurer).",
    "In attendance were {names}, together with {name}'s assistant.",
    "{name}\nHead of Operations, {org}\nM: {phone} | T: {phone2}\n{addr}",
    "Consignee: {name}\nAddress: {addrml}\nTel.: {phone}\nOrder placed from IP {ip}",
    "Forwarding address for {name}: {addr}",
    "The incident happened at the corner of {corner}, according to {name}.",
    "Server logs show sign-ins for {email} from {ip} and {ip2}.",
    "Payroll change: {name}, new IBAN {iban}, effective {date}.",
    "Previously at {org}, {name} led the team that rebuilt the billing system.",
    "Mail for the unit goes to {addr}, attention {name}.",
    "Next of kin: {name} (sister), {phone}",
    "Bank transfer to {name}, IBAN {iban}, reference RENT MARCH.",
    "last,first,email\n{last},{first},{email}\n{last2},{first2},{email2}\n{last3},{first3},{email3}",
    "The panel ({firsts}) will announce the results next week.",
    "^U name: {name}\naddress: {addr}\nssn: {ssn}",
    "^L notes from the call: {name} says the boiler at {addr} is still broken, call back on {phone}",
    "Please return the signed copy to {name}, {addrml}",
    "Shipping label\nTO: {name}\n{addrml}\nFROM: {name2}\n{addrml2}",
    "{name} (born {date}) joined the company as an apprentice.",
    "Subject: card declined\n\nHello,\n\nmy card {card} was declined at checkout. The billing address is {addr}."
    "\n\nThanks,\n{name}",
    "Applicant: {cname}\nDate of birth: {date}\nLicence no.: {dl}\nSocial security no.: {ssn}",
    "Authors: {iname}, {iname2} and {iname3}",
    "Dear Mr {last},\n\nThank you for your letter of {date}. We have updated your address to {addr}.\n\nYours "
    "sincerely,\n{name}",
    "{last}, {first}\t{phone}\t{email}",
    "^U attn: {name}\n{addrml}",
    "We were joined by {name}'s team from {org} and by {name2}.",
    "The winners are {names}. Congratulations to all of them!",
    "Remittance advice\nPayee: {name}\nAccount: {iban}\nAmount: 1,250.00",
    "Hi {first},\n\nThe courier will collect the boxes from {addr} on Monday.\n\nCheers,\n{name}\nMobile {phone}",
    "Guest list: {firsts}, plus {name} and partner",
    "Postal address:\n{addrml}\nDelivery instructions: leave with the neighbour at {unit}",
    "The account was opened by {iname} from {ip} on {date}.",
    "^L meeting notes - {name} and {name2} will visit {street} next week to look at the damp",
    "Dr. {last} will see you now.",
    "Signed for by {name} at {addr} ({date}).",
    "Emergency contacts\n1. {name}, {phone}\n2. {name2}, {phone2}",
    "The lease is in {name}'s name, the deposit came from {name2}'s account ({iban}).",
    "Audit trail: {email} changed the password from {ip}; {name} approved the change.",
    "Access granted to {ip} and {ip2} until {date}.",
]

# --------------------------------------------------------------------------------------------------------------------
# faker-locales: Faker's own full formats per locale, in locale-neutral English sentences

FAKER_LOCALES = ["en_US", "en_GB", "en_IN", "en_AU", "en_CA", "en_NZ", "en_IE", "de_DE", "de_AT", "de_CH", "fr_FR",
                 "fr_CH", "es_ES", "es_MX", "it_IT", "nl_NL", "nl_BE", "pl_PL", "pt_BR", "pt_PT", "cs_CZ", "sk_SK",
                 "hu_HU", "sv_SE", "da_DK", "no_NO", "fi_FI", "ro_RO", "hr_HR", "tr_TR", "ja_JP", "zh_CN", "ru_RU",
                 "id_ID", "vi_VN", "en_NG", "zu_ZA", "lt_LT"]  # fmt: skip
# Faker formats that are not in Latin script: names romanised/transliterated, addresses left out
NO_ADDRESS = {"ja_JP", "zh_CN", "ru_RU"}

FAKER_TEMPLATES = [
    # with a cue
    "My name is {name}.",
    "My name is {name} and I live at {street}.",
    "Please call me on {phone} after lunch.",
    "Fax: {phone}",
    "Phone: {phone}",
    "You can reach {name} at {phone}.",
    "Ship to: {addr}",
    "Ship the replacement to {addr}, please.",
    "She lives at {street}.",
    "He lives at {addr} with his parents.",
    "Card number: {card}",
    "I paid with card number {card}.",
    "Send the invoice to {email}.",
    "Billing address: {addr}",
    "Mobile: {phone}",
    "Our new office is at {addr}.",
    "The package for {name} was left at {street}.",
    "Contact person: {name}, tel. {phone}",
    "Please update the card on file to {card}.",
    "{name} can be reached at {email} or on {phone}.",
    "Home address:\n{addrml}",
    "Stop sending messages to {phone}.",
    "Transfer the deposit to IBAN {iban}.",
    "Bank account (IBAN): {iban}",
    "The account holder is {name}.",
    "Return address: {addr}",
    "Hello, this is {name} calling about the flat.",
    "Text me at {phone} when you arrive.",
    "Deliver to {name}, {addr}.",
    "Please charge the card {card} for the remaining balance.",
    "Her mobile number is {phone}.",
    # without one
    "{name}",
    "{name}\n{addrml}",
    "{name} {phone}",
    "{addr}",
    "{phone}",
    "Thanks, {name}!",
    "{name} ({email})",
    "I met {name} yesterday at the station.",
    "{card}",
    "{name} said the meeting is at {street} on Monday.",
    "{name}, {phone}, {email}",
    "{street}",
    "Meet me at {street} at noon.",
    "{name} and {name2} are getting married in June.",
    "{name}: I'll be late, sorry.",
    "{name}\n{iban}",
]


def _strip_honorifics(f: Faker, full: str) -> tuple[str, str, str]:
    """Faker's name() may carry a title ("Dr.", "Herr", "pani") or a suffix ("MD", "B.Sc."): (before, name, after)."""
    prov = next(p for p in f.providers if "person" in type(p).__module__)
    titles = set()
    for attr in ("prefixes_female", "prefixes_male", "prefixes_nonbinary", "prefixes", "suffixes_female",
                 "suffixes_male", "suffixes_nonbinary", "suffixes"):  # fmt: skip
        titles.update(getattr(prov, attr, ()) or ())
    titles = {t for t in titles if t and not t.islower() and t not in ("Le",)}  # "de", "van", "Le": part of the name
    before, after, words = [], [], full.split(" ")
    changed = True
    while changed and len(words) > 1:
        changed = False
        for t in sorted(titles, key=len, reverse=True):
            tw = t.split(" ")
            if words[: len(tw)] == tw and len(words) > len(tw):
                before += tw
                words = words[len(tw) :]
                changed = True
            elif words[-len(tw) :] == tw and len(words) > len(tw):
                after = tw + after
                words = words[: -len(tw)]
                changed = True
    return " ".join(before), " ".join(words), " ".join(after)


def faker_fill(ctx: Ctx, locale: str):
    f = ctx.faker(locale)
    known = next(p for p in f.providers if "credit_card" in type(p).__module__).credit_card_types
    card_types = [t for t in CARD_TYPES if t in known] or sorted(known)  # a locale may have card types of its own

    def name() -> list:
        if locale in ROMANISED_LOCALES:
            given, family = f.first_romanized_name(), f.last_romanized_name()
            return [(f"{given} {family}" if ctx.chance(0.6) else f"{family} {given}", "PERSON")]
        if locale in CYRILLIC_LOCALES:
            before, full, after = _strip_honorifics(f, f.name())
            full = " ".join(translit(w) for w in full.split(" "))
        else:
            before, full, after = _strip_honorifics(f, f.name())
        out = [(before + " ", None)] if before else []
        out.append((full, "PERSON"))
        return out + ([(" " + after, None)] if after else [])

    def addr(multiline: bool) -> list:
        lines = _lines(f.address())
        return [("\n".join(lines) if multiline else ", ".join(lines), "ADDRESS")]

    kinds = {
        "name": name,
        "phone": lambda: [(f.phone_number(), "PHONE_NUMBER")],
        "addr": lambda: addr(multiline=ctx.chance(0.25)),
        "addrml": lambda: addr(multiline=True),
        "street": lambda: [(_lines(f.street_address())[0], "ADDRESS")],
        "card": lambda: [(f.credit_card_number(card_type=ctx.pick(card_types)), "CREDIT_CARD")],
        "email": lambda: [(f.email(), "EMAIL_ADDRESS")],
        "iban": lambda: [(f.iban(), "IBAN_CODE")],
    }
    return lambda kind: kinds[kind]()


def make_faker_locales(ctx: Ctx, n: int, holdout: bool, set_name: str) -> list[dict]:
    order = template_order(ctx.rng, FAKER_TEMPLATES, holdout, n)
    records = []
    for i, t in enumerate(order):
        template = FAKER_TEMPLATES[t]
        kinds = {m.group(1) for m in SLOT.finditer(template)}
        locales = [loc for loc in FAKER_LOCALES if not (kinds & {"addr", "addrml", "street"} and loc in NO_ADDRESS)]
        locale = locales[(i + ctx.rng.randrange(len(locales))) % len(locales)]
        pieces = render(template, faker_fill(ctx, locale))
        cue = not template.startswith("{") or ":" in template
        records.append(make_record(pieces, t, {"set": set_name, "lang": "en", "locale": locale, "cue": cue}))
    return records


# --------------------------------------------------------------------------------------------------------------------
# phonenumbers-formats: ~55 regions' numbers in national, international and other people's formats

PHONE_TEMPLATES = [
    "Call me on {phone}.",
    "You can reach the front desk at {phone}.",
    "Phone: {phone}",
    "Tel. {phone}",
    "Fax: {phone}",
    "Mobile {phone}, office {phone2}.",
    "Text me at {phone} when you land.",
    "Reply STOP to stop receiving messages to {phone}",
    "WhatsApp: {phone}",
    "If the line is busy, try {phone} instead.",
    "Our hotline {phone} is open from eight to eight.",
    "The number on the flyer was {phone}.",
    "Ring {phone} and ask for reception.",
    "Emergency contact number: {phone}",
    "cell {phone}",
    "For bookings call {phone} or {phone2}.",
    "My new number is {phone}, the old one no longer works.",
    "Missed call from {phone} this morning.",
    "Contact: {phone}",
    "He gave me {phone} as his home number.",
    "Leave a message at {phone} if nobody answers.",
    "The school office can be reached on {phone} during term time.",
    "Please phone {phone} to confirm your place.",
    "Telephone number: {phone}",
    "Her landline is {phone} and her mobile is {phone2}.",
    # no cue
    "{phone}",
    "{phone} (office)",
    "{phone} / {phone2}",
    "See you there! {phone}",
    "Meeting moved to Thursday. {phone}",
    "Questions? {phone}",
    "{phone} after six, {phone2} before.",
]
PHONE_FORMATS = {"national": 6, "international": 5, "e164": 2, "intl00": 1, "intl_trunk": 1, "grouped": 5,
                 "grouped_intl": 1, "compact": 2, "local": 1}  # fmt: skip


def make_phonenumbers(ctx: Ctx, n: int, holdout: bool, set_name: str) -> list[dict]:
    order = template_order(ctx.rng, PHONE_TEMPLATES, holdout, n)
    records = []
    for i, t in enumerate(order):
        meta: list[dict] = []

        def fill(kind: str, i: int = i, meta: list[dict] = meta) -> list:
            region = PHONE_REGIONS[(i * 7 + len(meta) * 3 + ctx.rng.randrange(4)) % len(PHONE_REGIONS)]
            ntype = ctx.weighted({PNT.MOBILE: 5, PNT.FIXED_LINE: 4, PNT.TOLL_FREE: 1})
            if pn.example_number_for_type(region, ntype) is None:
                ntype = PNT.FIXED_LINE
            fmt = ctx.weighted(PHONE_FORMATS)
            text = format_phone(ctx, region_number(ctx, region, ntype), fmt)
            meta.append({"region": region, "type": {PNT.MOBILE: "mobile", PNT.FIXED_LINE: "fixed_line",
                                                    PNT.TOLL_FREE: "toll_free"}[ntype], "format": fmt})  # fmt: skip
            return [(text, "PHONE_NUMBER")]

        pieces = render(PHONE_TEMPLATES[t], fill)
        records.append(make_record(pieces, t, {"set": set_name, "lang": "en", "numbers": meta}))
    return records


# --------------------------------------------------------------------------------------------------------------------
# French and German: sentences in the language, values in its formats


def _phone_local(ctx: Ctx, regions: dict, styles: dict) -> str:
    region = ctx.weighted(regions)
    number = region_number(ctx, region, PNT.MOBILE if ctx.chance(0.5) else PNT.FIXED_LINE)
    style = ctx.weighted(styles)
    if style in PHONE_STYLES:
        return format_phone(ctx, number, style)
    digits = national_digits(number)
    if style == "dots":  # 06.12.34.56.78
        return ".".join(digits[i : i + 2] for i in range(0, len(digits), 2))
    if style == "pairs":  # 06 12 34 56 78 / 0 30 12 34 56 (pairs from the left)
        return " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
    if style == "slash":  # 030/1234567, 0171/123 45 67
        nat = pn.format_number(number, PNF.NATIONAL).replace("(", "").replace(")", "")
        area, _, rest = nat.partition(" ")
        rest = rest.replace(" ", "")
        return f"{area}/{rest}" if ctx.chance(0.5) else f"{area}/{group_digits(ctx, rest)}"
    if style == "din":  # DIN 5008: +49 30 1234567 / 030 1234567
        nat = pn.format_number(number, PNF.NATIONAL).replace("(", "").replace(")", "")
        area, _, rest = nat.partition(" ")
        rest = rest.replace(" ", "")
        return f"+{number.country_code} {area.lstrip('0')} {rest}" if ctx.chance(0.5) else f"{area} {rest}"
    if style == "dash":
        nat = pn.format_number(number, PNF.NATIONAL).replace("(", "").replace(")", "")
        area, _, rest = nat.partition(" ")
        return f"{area}-{rest.replace(' ', '')}"
    raise ValueError(style)


FR_PHONE = ({"FR": 8, "BE": 1, "CH": 1}, {"national": 6, "dots": 2, "compact": 1, "international": 3, "intl_trunk": 1,
                                          "intl00": 1, "e164": 1, "dash": 1})  # fmt: skip
DE_PHONE = ({"DE": 7, "AT": 2, "CH": 1}, {"national": 5, "slash": 3, "din": 3, "international": 3, "intl_trunk": 2,
                                          "intl00": 1, "e164": 1, "dash": 1, "grouped": 1})  # fmt: skip
FR_NAMES = ["fr_FR"] * 6 + ["fr_CH", "fr_CA", "fr_BE", "pt_PT", "es_ES", "it_IT"]
DE_NAMES = ["de_DE"] * 6 + ["de_AT", "de_CH", "tr_TR", "pl_PL", "it_IT", "ru_RU"]


def _addr_fr(ctx: Ctx, style: str) -> str:
    f = ctx.faker(ctx.weighted({"fr_FR": 5, "fr_CH": 1}))
    street = _lines(f.street_address())[0]
    if ctx.chance(0.15):  # 3 bis, rue ... / 12 ter avenue ...
        street = re.sub(r"^(\d+),? ", lambda m: f"{m.group(1)} {ctx.pick(['bis', 'ter'])}, ", street)
    city = f"{f.postcode()} {f.city()}"
    if style == "street":
        return street
    extra = ctx.weighted({"": 6, f"Appartement {ctx.rng.randint(1, 80)}": 1, f"Bâtiment {ctx.pick('ABCDE')}": 1,
                          f"BP {ctx.rng.randint(10, 999)}": 1, f"Résidence {f.last_name()}": 1})  # fmt: skip
    if ctx.chance(0.1):
        city += " CEDEX"
    parts = [street] + ([extra] if extra else []) + [city]
    return "\n".join(parts) if style == "lines" else ", ".join(parts)


def _addr_de(ctx: Ctx, style: str) -> str:
    f = ctx.faker(ctx.weighted({"de_DE": 5, "de_AT": 1, "de_CH": 1}))
    street = _lines(f.street_address())[0]
    city = f"{f.postcode()} {f.city()}"
    if style == "street":
        return street
    if ctx.chance(0.12):
        box = ctx.rng.randint(10000, 999999)
        parts = [f"Postfach {box // 10000 % 100:02d} {box // 100 % 100:02d} {box % 100:02d}", city]
    else:
        extra = ctx.weighted({"": 6, f"Whg. {ctx.rng.randint(1, 40)}": 1, f"{ctx.rng.randint(1, 5)}. OG": 1,
                              "Hinterhaus": 1, f"c/o {f.last_name()}": 1})  # fmt: skip
        parts = [street] + ([extra] if extra else []) + [city]
    return "\n".join(parts) if style == "lines" else ", ".join(parts)


def language_fill(ctx: Ctx, lang: str):
    name_locales = FR_NAMES if lang == "fr" else DE_NAMES
    phones = FR_PHONE if lang == "fr" else DE_PHONE
    addr = _addr_fr if lang == "fr" else _addr_de
    mail_locales = ["fr_FR", "fr_CH"] if lang == "fr" else ["de_DE", "de_AT", "de_CH"]
    iban_locales = ["fr_FR", "nl_BE", "de_CH"] if lang == "fr" else ["de_DE", "de_AT", "de_CH"]
    word_and = " et " if lang == "fr" else " und "

    def names(style: str, k: int) -> list:
        out: list[tuple[str, str | None]] = []
        for i in range(k):
            if i:
                out.append((word_and if i == k - 1 else ", ", None))
            out.append((person(ctx, style, name_locales), "PERSON"))
        return out

    def genitive() -> list:  # Annas Fahrrad, Klaus' Fahrrad
        name = person(ctx, ctx.pick(["full", "first"]), name_locales)
        return [(name, "PERSON"), ("'" if name[-1] in "sßxz" else "s", None)]

    kinds = {
        "name": lambda: [(person(ctx, "full", name_locales), "PERSON")],
        "first": lambda: [(person(ctx, "first", name_locales), "PERSON")],
        "last": lambda: [(person(ctx, "last", name_locales), "PERSON")],
        "lastcaps": lambda: [(person(ctx, "caps_last", name_locales), "PERSON")],
        "iname": lambda: [(person(ctx, "initials", name_locales), "PERSON")],
        "names": lambda: names("full", ctx.rng.randint(2, 4)),
        "lasts": lambda: names("last", ctx.rng.randint(2, 4)),
        "gen": genitive,
        "phone": lambda: [(_phone_local(ctx, *phones), "PHONE_NUMBER")],
        "addr": lambda: [(addr(ctx, "full"), "ADDRESS")],
        "addrml": lambda: [(addr(ctx, "lines"), "ADDRESS")],
        "street": lambda: [(addr(ctx, "street"), "ADDRESS")],
        "email": lambda: [(email(ctx, mail_locales), "EMAIL_ADDRESS")],
        "iban": lambda: [(iban(ctx, iban_locales), "IBAN_CODE")],
        "card": lambda: [(card(ctx, bad_luhn=0.1), "CREDIT_CARD")],
        "city": lambda: [(ctx.faker(mail_locales[0]).city(), "LOCATION")],
        "org": lambda: [(ctx.faker(mail_locales[0]).company(), "ORGANIZATION")],
        "date": lambda: [(date(ctx, lang), "DATE_TIME")],
    }
    return lambda kind: kinds[kind]()


TEMPLATES_FR = [
    "Bonjour, je m'appelle {name} et je vous appelle au sujet de ma commande.",
    "Vous pouvez me joindre au {phone} du lundi au vendredi.",
    "Merci d'envoyer le colis à l'adresse suivante : {addr}.",
    "Mme {last} habite au {street} depuis dix ans.",
    "Tél. : {phone}\nFax : {phone2}",
    "{first} : t'es où ? on t'attend devant la gare\n{first2} : j'arrive dans cinq minutes",
    "Pour toute question, contactez {name} par courriel ({email}) ou par téléphone au {phone}.",
    "Adresse de livraison :\n{name}\n{addrml}",
    "Veuillez virer le loyer sur le compte {iban} avant le 5 du mois.",
    "Le numéro de ma carte bancaire est le {card}, elle expire l'année prochaine.",
    "Compte rendu de la réunion du {date}\nPrésents : {names}\nExcusé : {name}",
    "J'ai croisé {name} au marché de {city} samedi dernier.",
    "Appelle-moi sur mon portable, c'est le {phone}.",
    "Nos fondateurs : {lasts}.",
    "La lettre de {name} est arrivée hier, postée depuis {city}.",
    "Objet : changement d'adresse\n\nMadame, Monsieur,\n\nJe vous informe que ma nouvelle adresse est la suivante : "
    "{addr}.\n\nCordialement,\n{name}",
    "M. {name} a été nommé directeur financier de {org}.",
    "Le livreur a laissé le paquet chez le voisin, au {street}.",
    "En cas d'urgence, prévenir {name} au {phone}.",
    "Fiche client\nNom : {lastcaps}\nPrénom : {first}\nTéléphone : {phone}\nCourriel : {email}",
    "Le dossier de {name} a été transmis au service juridique.",
    "Bonjour {first}, votre rendez-vous chez le dentiste est confirmé pour demain. Pour annuler, appelez le {phone}.",
    "Les enfants de {name} vont à l'école du quartier.",
    "Je vous écris au sujet du paiement par carte n° {card}, débité deux fois.",
    "Le gagnant du concours est {name}, de {city}.",
    "Pour le remboursement, voici mon IBAN : {iban}.",
    "Rendez-vous chez {first} ce soir, {addr}, deuxième étage à gauche.",
    "Envoyez vos candidatures à {email} avant la fin du mois.",
    "{name}, né à {city}, a publié son premier roman à quarante ans.",
    "Merci à {names} pour leur aide précieuse.",
    "J'ai eu {first} au téléphone : {first2} vous rappellera au {phone}.",
    "SMS du {phone} : votre colis est disponible au point relais.",
    "La réunion aura lieu au siège de {org}, {addr}.",
    "{first} et {first2} déménagent. Leur nouvelle adresse :\n{addrml}",
    "Signé : {iname}, gérant",
    "Dr {last} reçoit sans rendez-vous le mardi matin.",
    "Pour joindre le cabinet de {name}, composez le {phone} ou écrivez à {email}.",
    "Mon adresse a changé : j'habite maintenant {street}, au troisième.",
    "Le chèque est à l'ordre de {name}.",
    "Veuillez noter mon nouveau numéro : {phone}. L'ancien ne fonctionne plus.",
    "Expéditeur : {name}, {addr}",
    "{first} m'a dit que {first2} cherchait un appartement du côté de {city}.",
    "Virement au nom de {name}, IBAN {iban}, motif : loyer de mars.",
    "Carte n° {card} refusée au paiement, merci de vérifier auprès de votre banque.",
    "On se retrouve devant le {street} à midi ?",
    "Payé par carte bancaire, numéro {card}, titulaire {name}.",
]

TEMPLATES_DE = [
    "Guten Tag, mein Name ist {name} und ich rufe wegen meiner Bestellung an.",
    "Sie erreichen mich werktags bis 18 Uhr unter {phone}.",
    "Bitte schicken Sie die Unterlagen an folgende Adresse: {addr}.",
    "Frau {last} wohnt seit zehn Jahren in der {street}.",
    "Tel.: {phone}\nFax: {phone2}",
    "{first}: Wo bleibst du? Wir warten am Bahnhof.\n{first2}: Bin in fünf Minuten da!",
    "Bei Fragen wenden Sie sich bitte an {name}, per E-Mail an {email} oder telefonisch unter {phone}.",
    "Lieferadresse:\n{name}\n{addrml}",
    "Bitte überweisen Sie die Miete bis zum Dritten des Monats auf das Konto {iban}.",
    "Meine Kreditkartennummer lautet {card}.",
    "Protokoll der Sitzung vom {date}\nAnwesend: {names}\nEntschuldigt: {name}",
    "Ich habe {name} letzten Samstag auf dem Wochenmarkt in {city} getroffen.",
    "Ruf mich auf dem Handy an: {phone}",
    "Unsere Gründer: {lasts}.",
    "Der Brief von {name} kam gestern an, abgeschickt in {city}.",
    "Betreff: Adressänderung\n\nSehr geehrte Damen und Herren,\n\nmeine neue Anschrift lautet: {addr}.\n\nMit "
    "freundlichen Grüßen\n{name}",
    "Herr {name} wurde zum Finanzvorstand der {org} ernannt.",
    "Der Paketbote hat das Paket beim Nachbarn in der {street} abgegeben.",
    "Im Notfall bitte {name} unter {phone} benachrichtigen.",
    "Kundendaten\nName: {lastcaps}\nVorname: {first}\nTelefon: {phone}\nE-Mail: {email}",
    "Die Akte von {name} wurde an die Rechtsabteilung weitergeleitet.",
    "Hallo {first}, Ihr Zahnarzttermin morgen ist bestätigt. Zum Absagen rufen Sie bitte {phone} an.",
    "{names} haben das Projekt gemeinsam gegründet.",
    "Ich schreibe wegen der Zahlung mit der Karte Nr. {card}, die doppelt abgebucht wurde.",
    "Gewonnen hat {name} aus {city}.",
    "Für die Erstattung hier meine Bankverbindung: {iban}",
    "Treffen heute Abend bei {first}, {addr}, Klingel oben links.",
    "Bewerbungen bitte bis Monatsende an {email}.",
    "{name}, geboren in {city}, veröffentlichte mit vierzig Jahren den ersten Roman.",
    "Vielen Dank an {names} für die Unterstützung.",
    "Ich hatte {first} am Telefon, {first2} ruft Sie unter {phone} zurück.",
    "SMS von {phone}: Ihr Paket liegt in der Packstation bereit.",
    "Die Sitzung findet in der Zentrale der {org} statt, {addr}.",
    "{first} und {first2} ziehen um. Die neue Adresse:\n{addrml}",
    "{gen} Fahrrad wurde vor dem Rathaus gestohlen.",
    "Gez. {iname}, Geschäftsführer",
    "Dr. {last} hat dienstags keine Sprechstunde.",
    "Die Praxis von {name} erreichen Sie unter {phone} oder per E-Mail an {email}.",
    "Wir wohnen jetzt in der {street}, dritter Stock.",
    "Zahlungsempfänger: {name}",
    "Bitte notieren Sie meine neue Nummer: {phone}. Die alte ist abgeschaltet.",
    "Absender: {name}, {addr}",
    "{first} hat erzählt, dass {first2} eine Wohnung in {city} sucht.",
    "Überweisung an {name}, IBAN {iban}, Verwendungszweck: Miete März.",
    "Karte {card} wurde abgelehnt, bitte wenden Sie sich an Ihre Bank.",
    "Treffen wir uns um zwölf vor der {street}?",
    "Bezahlt mit Kreditkarte, Nummer {card}, Inhaber {name}.",
]


# --------------------------------------------------------------------------------------------------------------------
# the sets


def make_templates(ctx: Ctx, n: int, holdout: bool, set_name: str, templates: list[str], fill, lang: str,
                   case_share: dict[str, float]) -> list[dict]:  # fmt: skip
    order = template_order(ctx.rng, templates, holdout, n)
    records = []
    for t in order:
        template = templates[t]
        case = None
        if template.startswith("^U "):
            template, case = template[3:], "upper"
        elif template.startswith("^L "):
            template, case = template[3:], "lower"
        else:
            roll = ctx.rng.random()
            for name, share in case_share.items():
                if roll < share:
                    case = name
                    break
                roll -= share
        records.append(make_record(render(template, fill), t, {"set": set_name, "lang": lang}, case))
    return records


def make_set(set_name: str, holdout: bool = False) -> list[dict]:
    n = SIZES[set_name][1 if holdout else 0]
    ctx = Ctx(set_name, SEED + 1 if holdout else SEED)
    name = f"{set_name}-holdout" if holdout else set_name
    if set_name == "templates-a":
        return make_templates(ctx, n, holdout, name, TEMPLATES_A, english_fill(ctx, 0.45), "en", {"lower": 0.12})
    if set_name == "templates-b":
        return make_templates(ctx, n, holdout, name, TEMPLATES_B, english_fill(ctx, 0.25), "en",
                              {"lower": 0.07, "upper": 0.07})  # fmt: skip
    if set_name == "faker-locales":
        return make_faker_locales(ctx, n, holdout, name)
    if set_name == "phonenumbers-formats":
        return make_phonenumbers(ctx, n, holdout, name)
    if set_name in ("fr", "de"):
        templates = TEMPLATES_FR if set_name == "fr" else TEMPLATES_DE
        return make_templates(ctx, n, holdout, name, templates, language_fill(ctx, set_name), set_name,
                              {"lower": 0.05})  # fmt: skip
    raise ValueError(set_name)


def path_for(set_name: str, holdout: bool = False) -> Path:
    return HOLDOUT_DIR / f"{set_name}-holdout.json" if holdout else HERE / f"{set_name}.json"


def dump(records: list[dict]) -> str:
    """A JSON list, one record a line."""
    return "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n"


def counts(records: list[dict]) -> Counter:
    return Counter(s["entity_type"] for r in records for s in r["spans"])


def main(argv: list[str]) -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # some Faker lists are built from sets (it_IT's cities): their order, and so the values drawn, follow the
        # string hash seed. Run again with a fixed one, so that the files are the same on every run.
        os.execve(sys.executable, [sys.executable, __file__, *argv], {**os.environ, "PYTHONHASHSEED": "0"})
    check = "--check" in argv
    stale = []
    for set_name in SIZES:
        for holdout in (False, True):
            records = make_set(set_name, holdout)
            path = path_for(set_name, holdout)
            text = dump(records)
            if check:
                if not path.is_file() or path.read_text(encoding="utf-8") != text:
                    stale.append(str(path.relative_to(HERE)))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            c = counts(records)
            print(f"{path.relative_to(HERE)}: {len(records)} records, {sum(c.values())} spans: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))  # fmt: skip
    if stale:
        print("differs from what make_sets.py makes: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
