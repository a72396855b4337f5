"""Context cues for numbers, in several languages, and where to look for them. Shared by `phone.py` and `card.py`.

A number is judged by the words next to it, not by its digits alone. `cue_before` finds the nearest cue in the text
before a value (on its line, or on the label line above when the value opens a line), `cue_after` a cue right after
it ("0412 123 456 (mobile)"), `table_cell` the header of the value's column in a CSV/TSV/pipe table (whose other
cells are no context), and `block_heading` a short heading line over a list ("Emergency contacts"). `cue_before`
returns a `Cue`: its kind and how many characters lie between it and the value.

Kinds:
- `phone`: the value is a phone number (phone, tel, call me on, fax, mobile, WhatsApp, Telefon, portable, llame...)
- `phone_weak`: a phone is likely but the word is also common elsewhere (number, contact, reach, unter, ligne...)
- `card`: a payment card (card, card number, Karte, carte bancaire, tarjeta, cartão, Visa...)
- `payment`: paid / charged / payment (a card when the digits look like one)
- `other`: an identifier that is neither (order, invoice, account, IBAN, ISBN, DOI, tracking, licence, postcode...)

Compound phrases are one cue ("order number", "numéro de commande", "card no."), so the nearest cue is what the
value is. Regexes are compiled once; each call looks at a window of at most ~60 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# a trailing "number/no./#/:" that belongs to the cue before it ("card no.", "Tel.-Nr.:", "Karte Nr.")
_NUM = r"(?:[\s.,:\-]*(?:number|num\.?|no\.?|nr\.?|n[°º]\.?|n\.|#|nummer|num[ée]ro|n[úu]mero|numero))?"

PHONE_WORDS = (
    # English
    r"phone|phones|phoned|telephone|tel|tele|tlf|ph|cellphone|cell|cellular|mobile|mob|landline|fax|telefax|"
    r"call|calls|called|calling|ring|rang|ringing|dial|dialled|dialed|whatsapp|whats\s?app|viber|telegram|sms|"
    r"text\s+me|text\s+us|text\s+him|text\s+her|text\s+them|texted|texting|text\s+messages?|txt|hotline|helpline|voicemail|switchboard|pager|extension|ext|call\s+back|"
    # French
    r"t[ée]l[ée]phone|t[ée]l[ée]phoner|t[ée]l|portable|appel|appeler|appelez|appelle|appelle-moi|appelez-nous|"
    r"rappeler|rappelez|rappelle|joindre|joignable|composez|composer|t[ée]l[ée]copie|texto|gsm|"
    # German
    r"telefon|telefonisch|telefonnummer|handy|handynummer|mobil|mobilnummer|mobiltelefon|mobilfunk|festnetz|"
    r"festnetznummer|rufnummer|durchwahl|faxnummer|anruf|anrufen|rufen|ruf|rufe|ruft|erreichen|erreichbar|"
    r"erreicht|zur[üu]ckrufen|notruf|"
    # Spanish
    r"tel[ée]fono|tfno|tlfno|m[óo]vil|celular|llame|llama|llamar|ll[áa]mame|ll[áa]manos|llamadas|marque|"
    # Italian
    r"telefono|telefonare|telefonate|cellulare|chiama|chiamare|chiamami|chiamateci|chiami|recapito|"
    # Dutch
    r"telefoon|telefoonnummer|mobiel|mobieltje|bel|bellen|belt|bereikbaar|"
    # Portuguese
    r"telefone|telem[óo]vel|ligue|ligar|liga|ligue-me|contacte|"
    # Nordic, Polish, Czech, Finnish, ...
    r"puhelin|puh|komórka|telefonu|zadzwo[ńn]|ring\s+till|ring\s+meg|caller\s+id|volejte|"
    # Cyrillic and Greek
    r"тел|телефон|моб|мобильный|звоните|звонить|τηλ|τηλέφωνο|κινητό|"
    # informal English
    r"hit\s+me\s+up|buzz\s+me|give\s+me\s+a\s+ring|shoot\s+me\s+a\s+text"
)
WEAK_PHONE_WORDS = (
    r"number|contact|contacts|contact\s+me|contact\s+us|reach|reached|reachable|reach\s+out|get\s+in\s+touch|"
    r"ping\s+me|digits|line|direct|messages|message|"
    r"sent\s+to|from:|to:|office:|home:|work:|main:|private:|"
    r"num[ée]ro|n[°º]|contacter|contactez|ligne|standard|bureau:|domicile:|"
    r"nummer|unter|kontakt|b[üu]ro:|privat:|"
    r"n[úu]mero|contacto|contato|casa:|ufficio:|numero|contattare|contattaci|"
    r"kantoor:|thuis:|"
    # who to call: emergency contacts and next of kin
    r"next\s+of\s+kin|emergency|in\s+case\s+of\s+emergency|urgence|pr[ée]venir|notfall|notfallkontakt|emergencia|"
    r"emergenza|noodgeval|noodnummer|emerg[êe]ncia"
)
CARD_WORDS = (
    # compounds count: creditcard, cardholder, Kreditkartennummer, EC-Karte, bankkaart, kortnummer
    r"[^\W\d_]*cards?|[^\W\d_]*cardholders?|[^\W\d_]*cardnumber|credit\s+card|debit\s+card|bank\s+card|"
    r"payment\s+card|cc|cc#|ccn|visa|mastercard|master\s+card|amex|american\s+express|maestro|jcb|diners|"
    r"diners\s+club|unionpay|union\s+pay|girocard|"
    r"carte|cartes|carte\s+bancaire|carte\s+bleue|carte\s+de\s+cr[ée]dit|"
    r"[^\W\d_]*karten?|[^\W\d_]*kartennummer|[^\W\d_]*kartennr|[^\W\d_]*karteninhaber|[^\W\d_]*kartendaten|"
    r"tarjeta|tarjetas|tarjeta\s+de\s+cr[ée]dito|carta|carta\s+di\s+credito|"
    r"[^\W\d_]*kaart|[^\W\d_]*kaartnummer|bankpas|pinpas|pasnummer|"
    r"cart[ãa]o|cart[õo]es|cart[ãa]o\s+de\s+cr[ée]dito|"
    r"kort|kortet|kortnummer|kortnumret|kortti|kortin|kortinnumero|karta|karty|kart[ąy]"
)
PAYMENT_WORDS = (
    r"paid|pay|paying|payment|charged|charge|billed|"
    r"pay[ée]|paiement|r[ée]gl[ée]|d[ée]bit[ée]|"
    r"bezahlt|zahlung|abgebucht|belastet|"
    r"pago|pagado|pagu[ée]|cobrado|pagamento|pagato|pago|betaling|betaald|pagou"
)
OTHER_WORDS = (
    # commerce and references
    r"order|orders|ordered|invoice|receipt|ref|reference|booking|reservation|confirmation|transaction|ticket|"
    r"case|claim|policy|membership|member\s+id|member\s+no|member\s+number|customer\s+id|customer\s+no|"
    r"customer\s+number|client\s+id|client\s+no|client\s+number|tracking|"
    r"shipment|parcel|serial|sku|part|model|item|article|product|batch|lot|version|build|"
    r"id|ident|identifier|account|acct|iban|bic|swift|sort\s+code|routing|aba|"
    # identity and tax
    r"ssn|social\s+security|tax|vat|ein|tin|nino|passport|licen[cs]e|permit|registration|"
    r"zip|zip\s+code|postcode|postal\s+code|plz|"
    # publications and codes
    r"isbn|issn|doi|pmid|pmc|oclc|arxiv|patent|ean|upc|gtin|imei|iccid|"
    # other languages
    r"commande|facture|r[ée]f[ée]rence|dossier|compte|colis|"
    r"bestellung|bestellnummer|rechnung|rechnungsnummer|auftrag|auftragsnummer|kundennummer|konto|kontonummer|"
    r"sendung|aktenzeichen|steuer-?id|steuernummer|"
    r"pedido|factura|referencia|cuenta|ordine|fattura|conto|bestelling|factuur|rekening|encomenda|fatura|conta"
)


def _longest_first(words: str) -> str:
    """The alternatives (no "|" inside them) longest first, so "carte bancaire" wins over "carte"."""
    return "|".join(sorted(words.split("|"), key=len, reverse=True))


_CUE = re.compile(
    r"(?<![^\W_])(?:"
    rf"(?P<other>(?:{_longest_first(OTHER_WORDS)}){_NUM})|"
    rf"(?P<card>(?:{_longest_first(CARD_WORDS)}){_NUM})|"
    rf"(?P<phone>(?:{_longest_first(PHONE_WORDS)}){_NUM})|"
    rf"(?P<payment>{_longest_first(PAYMENT_WORDS)})|"
    rf"(?P<phone_weak>(?:{_longest_first(WEAK_PHONE_WORDS)}){_NUM})"
    r")(?![^\W_])"
    # single-letter labels of signatures and forms: "M: 0412 ...", "T: ...", "Tel/Fax: ..."
    r"|(?P<label>(?<![^\s|(\[,;/])[mtfphwo]\s?[:.]\s*$)",
    re.I,
)
# right after a value: "0412 123 456 (mobile)", "… (office)", "… mobile", "… (Handy)"
_AFTER = re.compile(
    r"\s*[(\[]?\s*(?:mobile|cell|home|work|office|fax|tel|phone|landline|whatsapp|portable|fixe|handy|mobil|privat|"
    r"b[üu]ro|festnetz|m[óo]vil|celular|cellulare|gsm|telem[óo]vel|mobiel|direct)(?![^\W_])",
    re.I,
)
_SENTENCE_END = re.compile(r"[.!?…]\s+(?=\S)|[\n\r]")
KINDS = ("phone", "phone_weak", "card", "payment", "other")


@dataclass(frozen=True)
class Cue:
    kind: str  # one of KINDS, "label" (a one-letter form label) or "" (none)
    distance: int  # characters between the cue's end and the value


NONE = Cue("", 1 << 30)


def window_before(text: str, start: int, size: int = 60) -> str:
    """The text before `start` on its line, back to the sentence start, at most `size` characters; when the value
    opens its line, the line above (a label line: "Phone:\\n0412 ...")."""
    lo = max(0, start - size)
    before = text[lo:start]
    nl = before.rfind("\n")
    if nl >= 0:
        if before[nl + 1 :].strip(" \t>*-•·:|") == "":  # the value opens its line: look at the line above
            above = before[:nl].rstrip()
            nl2 = above.rfind("\n")
            return above[nl2 + 1 :] + " : "
        before = before[nl + 1 :]
    # back to the start of the sentence ("… called it. 0412 …" is a new sentence; "Tel. 0412", "Dr. Smith" are not)
    cut = 0
    for m in _SENTENCE_END.finditer(before):
        if before[m.start()] == ".":
            word = _LAST_WORD.search(before, 0, m.start())
            if word and (len(word.group()) == 1 or word.group().lower() in _ABBREVIATIONS):
                continue
        cut = m.end()
    return before[cut:]


_LAST_WORD = re.compile(r"[^\W\d_]+$")
# words written with a dot that does not end the sentence ("Tel. 0412", "Karte Nr. 4111", "Dr. Smith")
_ABBREVIATIONS = frozenset(
    "tel ph mob no nr num ext fax tlf tfno tlfno puh tél cell dr mr mrs ms prof st mme mlle hr fr sr sra dott ing "
    "co inc ltd corp approx ca bzw vgl тел моб τηλ".split()
)


def cue_before(text: str, start: int, size: int = 60, floor: int = 0) -> Cue:
    """The nearest cue before the value at `start` (see `window_before`), not before `floor` (a table cell's
    start: the other cells of its row are not its context)."""
    before = window_before(text, start, size) if floor <= 0 else text[floor:start]
    last, strong = None, ""
    for m in _CUE.finditer(before):
        last = m
        if m.lastgroup != "phone_weak":
            strong = m.lastgroup or ""
    if last is None:
        return NONE
    # a weak phone word after a phone word is a phone cue ("Sie erreichen mich unter", "call me at the number")
    kind = "phone" if last.lastgroup == "phone_weak" and strong == "phone" else (last.lastgroup or "")
    return Cue(kind, len(before) - last.end())


def cue_after(text: str, end: int) -> bool:
    """Is the value followed by a phone word ("(mobile)", "Handy", "(office)")?"""
    return _AFTER.match(text, end, min(len(text), end + 20)) is not None


def kind_after(text: str, end: int, size: int = 30) -> str:
    """The kind of the first cue after the value on its line ("4111 … is my card number", "… (Visa)")."""
    b = text.find("\n", end, end + size)
    m = _CUE.search(text, end, b if b >= 0 else min(len(text), end + size))
    return (m.lastgroup or "") if m else ""


def line_above(text: str, start: int, ends: str = "?:.") -> str:
    """The line above the value's line when it ends a question, a label or a sentence (`ends`): the turn before an
    answer in a dialogue ("What is the best number to reach you?\nUser: 0412 …"); else ""."""
    a = text.rfind("\n", 0, start)
    if a <= 0:
        return ""
    above = text[text.rfind("\n", 0, a) + 1 : a].rstrip()
    return above[-200:] if above and above[-1] in ends else ""


def kind_above(text: str, start: int, ends: str = "?:") -> str:
    """The kind of the last cue on the line above (see `line_above`)."""
    above = line_above(text, start, ends)
    return classify(above) if above else ""


def classify(words: str) -> str:
    """The kind of the nearest cue in a short label ("Mobile phone", "card", "Order ID"), "" for none."""
    last = None
    for m in _CUE.finditer(words):
        last = m
    return (last.lastgroup or "") if last else ""


def line_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    return a, (len(text) if b < 0 else b)


def table_cell(text: str, start: int, end: int, cache: dict | None = None) -> tuple[str, int]:
    """(header, cell start) when the value is a cell of a table (tab-, pipe-, semicolon- or comma-separated lines
    with as many separators, no blank line between): the first line of that block is its header row, and the
    value's header is the cell over it. ("", -1) when the value is not in such a table, or is in its first line."""
    a, b = line_bounds(text, start, end)
    line = text[a:b].rstrip("\r")
    for sep in ("\t", "|", ";", ","):
        n = line.count(sep)
        if n == 0 or (sep == "," and n < 2):
            continue
        key = (sep, a)
        if cache is not None and key in cache:
            top = cache[key]
        else:
            top, pos, steps = a, a, 0
            while pos > 0 and steps < 400:
                p = text.rfind("\n", 0, pos - 1) + 1
                prev = text[p : pos - 1].rstrip("\r")
                if not prev.strip() or prev.count(sep) != n:
                    break
                top, pos, steps = p, p, steps + 1
            if cache is not None:
                cache[key] = top
        if top == a:
            continue  # the first line of its block: a header itself, or no table
        header = text[top : text.find("\n", top)].rstrip("\r").split(sep)
        col = text.count(sep, a, start)
        cell = text.rfind(sep, a, start)
        name = header[col].strip().lower() if col < len(header) and len(header[col]) <= 40 else ""
        return name, (cell + 1 if cell >= 0 else a)
    return "", -1


def block_heading(text: str, start: int, max_lines: int = 6) -> str:
    """The first line of the value's block (lines without a blank one between, at most `max_lines` up) when it is
    a heading (up to three words, or a label ending with ":"; no digits): "Emergency contacts", "Phone numbers:";
    else ""."""
    a = text.rfind("\n", 0, start) + 1
    top, pos = -1, a
    for _ in range(max_lines):
        if pos == 0:
            break
        p = text.rfind("\n", 0, pos - 1) + 1
        prev = text[p : pos - 1]
        if not prev.strip():
            break
        top, pos = p, p
    if top < 0:
        return ""
    first = text[top : text.find("\n", top)].strip()
    heading = first.endswith(":") or (len(first.split()) <= 3 and first[-1:] not in ".!?,;")
    return first.lower() if heading and 0 < len(first) <= 40 and not any(c.isdigit() for c in first) else ""
