"""Make `pii_gold_own.json`: a labelled PII set in presidio-research's format, from our own templates and values.

    .venv/bin/python tests/data/make_pii_gold.py    # rewrites pii_gold_own.json and pii_gold_heldout.json (seeded)

Each record: {"full_text", "masked", "spans": [{entity_type, entity_value, start_position, end_position}],
"template_id", "metadata": {"style", "lang"}}. The templates, values and label set were written for pairforge and
share nothing with presidio-research's generator (the shared `generated_small.json`): other sentence shapes
(support chats, e-mail signatures, forms, CSV-like records, config files and logs, ALL-CAPS and lower-case chat,
German and Spanish text), other name lists (many names in no census list), full postal lines labelled as one
ADDRESS span, and secrets. All values are invented: phone numbers use fictional ranges where a country has one,
cards and IBANs are made-up numbers with valid check digits, keys and tokens are random.

Labels: direct identifiers PERSON, EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, US_SSN, IP_ADDRESS, ADDRESS
(a street address: street line, optionally with city, region and postcode), US_DRIVER_LICENSE, SECRET; quasi
identifiers LOCATION (city, country), ORGANIZATION, DATE_TIME, NRP (nationality), AGE, TITLE (honorific).
"""

from __future__ import annotations

import json
import random
import re
import string
from pathlib import Path

SEED = 20240611
N_RECORDS = 240
OUT = Path(__file__).with_name("pii_gold_own.json")
N_HELDOUT = 120
HELDOUT = Path(__file__).with_name("pii_gold_heldout.json")

# --- value lists (written for this file) -----------------------------------------------------------------------
FIRST = [
    "Amara", "Bongani", "Chiara", "Dmitri", "Efua", "Farida", "Gunnhild", "Hamza", "Ingrid", "Jovana", "Kwame",
    "Leilani", "Mateus", "Nadia", "Oluwaseun", "Priya", "Quentin", "Radek", "Saoirse", "Tomasz", "Uriel", "Valentina",
    "Wanjiru", "Ximena", "Yusuf", "Zofia", "Anneke", "Bjarke", "Catalina", "Desmond", "Elif", "Florian", "Giedre",
    "Hiroshi", "Isabela", "Joaquin", "Keziah", "Lorcan", "Mireille", "Nnamdi", "Odile", "Pavel", "Rosalind", "Sigrun",
    "Thabo", "Ulrike", "Vikram", "Wilhelmina", "Yaroslav", "Zainab", "Margaret", "Robert", "Susan", "Daniel",
    "Patricia", "Kevin", "Linda", "Gregory", "Deborah", "Steven", "Heather", "Raymond", "Tamsin", "Emeka", "Ayasha",
    "Bartholomew", "Cosima", "Dagny", "Evander", "Fenna", "Gideon", "Henrike", "Ilse", "Jorunn", "Kasimir",
]  # fmt: skip
LAST = [
    "Abernathy", "Bjornstad", "Castellanos", "Dlamini", "Eriksdottir", "Fontaine", "Grabowski", "Haverkamp",
    "Ibekwe", "Jablonski", "Kowalczyk", "Lindqvist", "Mbeki", "Nakashima", "Okonkwo", "Papadakis", "Quiroga",
    "Rautenbach", "Szabo", "Takahashi", "Uchenna", "Vasquez", "Wojcik", "Xiong", "Yamamoto", "Zielinski",
    "Achterberg", "Brannigan", "Cheruiyot", "Drummond", "Esterhuizen", "Fairweather", "Gallagher", "Hollingsworth",
    "Iversen", "Jankowska", "Kristiansen", "Lemaire", "Montgomery", "Njoroge", "Oyelaran", "Pemberton", "Rasmussen",
    "Sorensen", "Thistlewood", "Underhill", "Villanueva", "Whitcombe", "Yilmaz", "Zoltan", "Garcia", "Thompson",
    "Henderson", "Patterson", "Mitchell", "Sullivan", "Ferreira", "Nwosu", "Halvorsen", "Marchetti", "Oyelowo",
    "Quarshie", "Rydberg", "Strahan", "Tvedt", "Vukovic", "Wexley", "Ashdown",
]  # fmt: skip
TITLES = ["Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "Mr", "Dr"]
STREET_NAMES = [
    "Maple", "Juniper", "Harbor View", "Old Mill", "Cedar Ridge", "Willow Creek", "Kingsley", "Foxglove", "Larkspur",
    "Pinecrest", "Aldergate", "Briar Hollow", "Lighthouse", "Orchard", "Quarry", "Sandpiper", "Thornbury",
]  # fmt: skip
STREET_TYPES = ["Street", "St.", "Avenue", "Ave", "Road", "Rd.", "Lane", "Drive", "Dr.", "Boulevard", "Court", "Way",
                "Place", "Terrace", "Close", "Crescent"]  # fmt: skip
US_CITIES = [("Springfield", "IL"), ("Fairview", "OR"), ("Madison", "WI"), ("Riverton", "WY"), ("Georgetown", "TX"),
             ("Franklin", "TN"), ("Clinton", "IA"), ("Salem", "MA"), ("Ashland", "KY"), ("Dover", "DE")]  # fmt: skip
UK_ADDR_CITIES = [("Leeds", "LS6 2QB"), ("Bristol", "BS8 1TH"), ("Norwich", "NR2 4SF"), ("York", "YO1 7HH"),
                  ("Cardiff", "CF10 3AT")]  # fmt: skip
DE_STREETS = ["Lindenstraße", "Am Kirchberg", "Bahnhofstraße", "Schillerweg", "Rosengasse", "Mühlenweg",
              "Kastanienallee", "Goethestr."]  # fmt: skip
DE_CITIES = [("10437", "Berlin"), ("80331", "München"), ("50667", "Köln"), ("04109", "Leipzig"), ("28195", "Bremen")]
ES_STREETS = ["Calle del Olmo", "Avenida de la Paz", "Calle Mayor", "Paseo de las Acacias", "Calle de Alcalá",
              "Plaza del Sol"]  # fmt: skip
ES_CITIES = [("28013", "Madrid"), ("41004", "Sevilla"), ("46001", "Valencia"), ("08002", "Barcelona")]
CITIES = ["Lisbon", "Nairobi", "Osaka", "Montreal", "Krakow", "Auckland", "Bergen", "Porto", "Accra", "Lyon",
          "Dublin", "Boston", "Seattle", "Chicago", "Glasgow", "Hamburg", "Bilbao", "Quito", "Hanoi",
          "Perth"]  # fmt: skip
COUNTRIES = ["Portugal", "Kenya", "Japan", "Canada", "Poland", "New Zealand", "Norway", "Ghana", "France",
             "Ireland", "Chile", "Vietnam", "Australia", "Mexico", "Germany", "Spain"]  # fmt: skip
NATIONALITIES = ["Portuguese", "Kenyan", "Japanese", "Canadian", "Polish", "Norwegian", "Ghanaian", "Irish",
                 "Chilean", "Mexican"]  # fmt: skip
ORGS = ["Brightwater Analytics", "Northwind Freight", "Copperleaf Bank", "Halcyon Health", "Bluestem Logistics",
        "Quarry Lane Books", "Tidewater Energy", "Orbital Bakery", "Kestrel Insurance", "Lumen Labs"]  # fmt: skip
MAIL_DOMAINS = ["example.com", "example.org", "mail.example.net", "post.example.de", "correo.example.es"]
MONTHS = ["January", "March", "April", "June", "September", "October", "November", "December"]


def luhn_complete(digits: str) -> str:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


def iban(r: random.Random, country: str, length: int) -> str:
    bban = "".join(r.choice(string.digits) for _ in range(length - 4))
    if country == "GB":
        bban = "".join(r.choice(string.ascii_uppercase) for _ in range(4)) + bban[4:]
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)) if r.random() < 0.6 else raw


class Gen:
    """Value makers: each returns (value, label). Labels are presidio-research style entity types."""

    def __init__(self, r: random.Random, first: list[str] = FIRST, last: list[str] = LAST):
        self.r = r
        self.firsts, self.lasts = first, last

    def first(self):
        return self.r.choice(self.firsts), "PERSON"

    def last(self):
        return self.r.choice(self.lasts), "PERSON"

    def name(self):
        n = f"{self.r.choice(self.firsts)} {self.r.choice(self.lasts)}"
        if self.r.random() < 0.12:
            n = f"{self.r.choice(self.firsts)} {self.r.choice(string.ascii_uppercase)}. {self.r.choice(self.lasts)}"
        return n, "PERSON"

    def title(self):
        return self.r.choice(TITLES), "TITLE"

    def email(self):
        f, la = self.r.choice(self.firsts).lower(), self.r.choice(self.lasts).lower()
        user = self.r.choice([f"{f}.{la}", f"{f[0]}{la}", f"{f}_{la}{self.r.randint(1, 99)}", f"{la}.{f[0]}"])
        return f"{user}@{self.r.choice(MAIL_DOMAINS)}", "EMAIL_ADDRESS"

    def support_email(self):
        return "support@example.com", "EMAIL_ADDRESS"  # a shared mailbox, but an e-mail address all the same

    def phone(self):
        r = self.r
        d = lambda n: "".join(r.choice(string.digits) for _ in range(n))  # noqa: E731
        formats = [
            lambda: f"({r.randint(201, 989)}) 555-01{d(2)}",
            lambda: f"{r.randint(201, 989)}-555-01{d(2)}",
            lambda: f"+1 {r.randint(201, 989)} 555 01{d(2)}",
            lambda: f"+44 20 7946 0{d(3)}",
            lambda: f"+44 7700 900{d(3)}",
            lambda: f"07700 900{d(3)}",
            lambda: f"+49 30 {d(8)}",
            lambda: f"+49 (0)151 {d(4)} {d(4)}",
            lambda: f"030 {d(4)} {d(3)}",
            lambda: f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
            lambda: f"+34 91 {d(3)} {d(2)} {d(2)}",
            lambda: f"+34 6{d(2)} {d(3)} {d(3)}",
            lambda: f"+91 98{d(3)} {d(5)}",
            lambda: f"+61 4{d(2)} {d(3)} {d(3)}",
            lambda: f"+81 3-{d(4)}-{d(4)}",
            lambda: f"+55 11 9{d(4)}-{d(4)}",
            lambda: f"{r.randint(201, 989)}.555.01{d(2)} ext. {d(3)}",
        ]
        return r.choice(formats)(), "PHONE_NUMBER"

    def card(self):
        r = self.r
        kind = r.choice(["visa", "mc", "amex"])
        if kind == "amex":
            n = luhn_complete("37" + "".join(r.choice(string.digits) for _ in range(12)))
            return f"{n[:4]} {n[4:10]} {n[10:]}", "CREDIT_CARD"
        n = luhn_complete(("4" if kind == "visa" else "5" + str(r.randint(1, 5))) + "".join(
            r.choice(string.digits) for _ in range(14 if kind == "visa" else 13)))  # fmt: skip
        sep = r.choice([" ", "-", ""])
        return sep.join(n[i : i + 4] for i in range(0, 16, 4)), "CREDIT_CARD"

    def iban(self):
        c, n = self.r.choice([("DE", 22), ("GB", 22), ("FR", 27), ("ES", 24), ("NL", 18), ("IT", 27)])
        if c in ("FR", "IT", "NL"):  # letters where the real format has them would need the bank tables
            c, n = "DE", 22
        return iban(self.r, c, n), "IBAN_CODE"

    def ssn(self):
        r = self.r
        area = r.choice([x for x in range(101, 899) if x != 666])
        return f"{area:03d}-{r.randint(10, 99):02d}-{r.randint(1000, 9999):04d}", "US_SSN"

    def ip(self):
        r = self.r
        if r.random() < 0.2:
            return f"2001:db8:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}", "IP_ADDRESS"
        return f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}", "IP_ADDRESS"

    def dl(self):
        r = self.r
        return r.choice([
            lambda: r.choice(string.ascii_uppercase) + "".join(r.choice(string.digits) for _ in range(7)),  # CA
            lambda: f"{r.randint(100, 999)} {r.randint(100, 999)} {r.randint(100, 999)}",  # NY
            lambda: r.choice(string.ascii_uppercase) + "".join(r.choice(string.digits) for _ in range(12)),  # FL
        ])(), "US_DRIVER_LICENSE"  # fmt: skip

    def secret(self):
        r = self.r
        pick = lambda alphabet, n: "".join(r.choice(alphabet) for _ in range(n))  # noqa: E731
        an = string.ascii_letters + string.digits
        return r.choice([
            lambda: "AKIA" + pick(string.ascii_uppercase + "234567", 16),
            lambda: "ghp_" + pick(an, 36),
            lambda: "xoxb-" + pick(string.digits, 11) + "-" + pick(string.digits, 12) + "-" + pick(an, 24),
            lambda: "sk_live_" + pick(an, 24),
            lambda: "sk-" + pick(an, 48),
            lambda: "eyJ" + pick(an, 20) + "." + "eyJ" + pick(an, 40) + "." + pick(an + "-_", 43),
            lambda: "AIza" + pick(an + "-_", 35),
            lambda: "glpat-" + pick(an, 20),
        ])(), "SECRET"  # fmt: skip

    def password(self):
        r = self.r
        return r.choice(["Tr0ub4dor&3", "hunter2!", "S3cure#Pass", "winter-2023-pw", "P@ssw0rd!x", "qwerty!789",
                         "blue-Falcon-77", "zX9#mmq2L"]), "SECRET"  # fmt: skip

    def private_key(self):
        r = self.r
        body = "\n".join("".join(r.choice(string.ascii_letters + string.digits + "+/") for _ in range(64))
                         for _ in range(r.randint(3, 6)))  # fmt: skip
        kind = r.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY"])
        return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----", "SECRET"

    def us_address(self):
        r = self.r
        num = str(r.randint(3, 9899))
        street = f"{num} {r.choice(['', '', 'N. ', 'W. '])}{r.choice(STREET_NAMES)} {r.choice(STREET_TYPES)}"
        if r.random() < 0.3:
            street += f", {r.choice(['Apt', 'Apt.', 'Suite', 'Unit', '#'])} {r.randint(1, 40)}{r.choice(['', 'B'])}"
        city, st = r.choice(US_CITIES)
        return f"{street}, {city}, {st} {r.randint(10000, 99999)}", "ADDRESS"

    def street_only(self):
        r = self.r
        return f"{r.randint(3, 9899)} {r.choice(STREET_NAMES)} {r.choice(STREET_TYPES)}", "ADDRESS"

    def uk_address(self):
        r = self.r
        city, pc = r.choice(UK_ADDR_CITIES)
        flat = r.choice(["", "", f"Flat {r.randint(1, 12)}, "])
        street = f"{r.randint(1, 240)} {r.choice(STREET_NAMES)} {r.choice(['Road', 'Lane', 'Close'])}"
        return f"{flat}{street}, {city} {pc}", "ADDRESS"

    def de_address(self):
        r = self.r
        pc, city = r.choice(DE_CITIES)
        return f"{r.choice(DE_STREETS)} {r.randint(1, 120)}{r.choice(['', '', 'a'])}, {pc} {city}", "ADDRESS"

    def es_address(self):
        r = self.r
        pc, city = r.choice(ES_CITIES)
        return f"{r.choice(ES_STREETS)} {r.randint(1, 90)}, {r.randint(1, 6)}º, {pc} {city}", "ADDRESS"

    def city(self):
        return self.r.choice(CITIES), "LOCATION"

    def country(self):
        return self.r.choice(COUNTRIES), "LOCATION"

    def nationality(self):
        return self.r.choice(NATIONALITIES), "NRP"

    def org(self):
        return self.r.choice(ORGS), "ORGANIZATION"

    def date(self):
        r = self.r
        return r.choice([
            lambda: f"{r.randint(1, 28)} {r.choice(MONTHS)} {r.randint(1950, 2023)}",
            lambda: f"{r.choice(MONTHS)} {r.randint(1, 28)}, {r.randint(1950, 2023)}",
            lambda: f"{r.randint(1950, 2023)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
        ])(), "DATE_TIME"  # fmt: skip

    def age(self):
        return str(self.r.randint(19, 88)), "AGE"


# --- templates (slot syntax {kind} or {kind:transform}; transforms: upper, lower) --------------------------------
TEMPLATES: list[tuple[str, str, str]] = [  # (style, lang, template)
    ("chat", "en", "hi, this is {name} again. my order never arrived, can you ring me back on {phone}?"),
    ("chat", "en", "Agent: Thanks for waiting. Could you confirm the email on the account?\n"
     "Customer: sure, it's {email}"),
    ("chat", "en", "I spoke with {first} yesterday and she said the refund would go to card {card}."),
    ("chat", "en", "Please cancel the transfer to {iban}, it was meant for {name}."),
    ("chat", "en", "{first} here. The router keeps assigning {ip} to my laptop, is that normal?"),
    ("chat", "en", "My SSN is {ssn} and my date of birth is {date}."),
    ("chat", "en", "can u send the parcel to {us_address} instead? thx, {first:lower}"),
    ("chat", "en", "ok so {first:lower} {last:lower} said to call {phone} after 5pm"),
    ("chat", "en", "Hey {first}, did {first} {last} ever reply about the invoice?"),
    ("caps", "en", "URGENT: {name:upper} CALLED ABOUT ACCOUNT {iban}. CALL BACK ON {phone}."),
    ("caps", "en", "NOTE FROM {first:upper}: SHIP TO {us_address:upper}"),
    ("caps", "en", "PATIENT NAME: {name:upper}   DOB: {date}   AGE: {age}"),
    ("email", "en", "Dear {title} {last},\n\nThank you for your application to {org}. We will be in touch from "
     "our {city} office.\n\nKind regards,\n{name}\n{org}\nTel: {phone}\n{email}"),
    ("email", "en", "Hi all,\n\nPlease welcome {name}, who joins the {city} team on {date}. You can reach "
     "{first} at {email}.\n\nBest,\n{first}"),
    ("email", "en", "From: {name} <{email}>\nTo: {support_email}\nSubject: wrong address\n\nMy address is "
     "{us_address}, not the old one."),
    ("form", "en", "Full name: {name}\nAddress: {us_address}\nPhone: {phone}\nEmail: {email}"),
    ("form", "en", "Applicant: {title} {name}\nNationality: {nationality}\nAge: {age}\nDriver's license no. {dl}"),
    ("form", "en", "Billing details\nName on card: {name}\nCard number: {card}\nBilling address: {uk_address}"),
    ("form", "en", "Emergency contact: {name} ({phone})"),
    ("record", "en", "id,name,email,phone\n1042,{name},{email},{phone}"),
    ("record", "en", "{last}, {first} | {ssn} | {us_address}"),
    ("narrative", "en", "{title} {last} moved from {city} to {country} in {date} and opened a small bakery."),
    ("narrative", "en", "According to {name}, the {nationality} delegation arrived in {city} late on Tuesday."),
    ("narrative", "en", "The report by {org} was written by {first} {last} and reviewed by {title} {last}."),
    ("narrative", "en", "When {first} turned {age}, the family left {country} for good."),
    ("narrative", "en", "Detective {last} found the letter addressed to {street_only} under the mat."),
    ("narrative", "en", "{name} ({age}) was stopped in {city}; license {dl} had expired."),
    ("narrative", "en", "{first} and {first} share a flat at {uk_address} with their cat."),
    ("config", "en", "# deploy settings\nAWS_ACCESS_KEY_ID={secret}\nDB_HOST={ip}\nDB_PASSWORD={password}"),
    ("config", "en", "export GITHUB_TOKEN={secret}\n# owner: {email}"),
    ("config", "en", "curl -H \"Authorization: Bearer {secret}\" https://api.example.com/v1/users"),
    ("config", "en", "password: {password}\nusername: {first:lower}.{last:lower}"),
    ("config", "en", "Here is the key you asked for:\n{private_key}\nDon't share it with {first}."),
    ("config", "en", "settings = {{'api_key': '{secret}', 'timeout': 30}}"),
    ("log", "en", "2023-04-02 10:15:22 WARN login failed for {email} from {ip}"),
    ("log", "en", "[auth] user={first:lower} ip={ip} token={secret}"),
    ("de", "de", "Sehr geehrte Frau {last},\nbitte rufen Sie mich unter {phone} an oder schreiben Sie an {email}. "
     "Meine Adresse ist {de_address}."),
    ("de", "de", "Hallo {first}, die Überweisung auf das Konto {iban} ist angekommen. Viele Grüße, {name}"),
    ("de", "de", "Kontakt: {name}, Tel. {phone}, E-Mail {email}"),
    ("es", "es", "Hola {first}, te escribo desde {city}. Mi teléfono es {phone} y mi correo {email}."),
    ("es", "es", "Estimado Sr. {last}: le confirmamos el envío a {es_address}. Para dudas, llame al {phone}."),
    ("es", "es", "El titular de la tarjeta {card} es {name}, con domicilio en {es_address}."),
]  # fmt: skip

# --- held-out set: templates and names written after the scrubber's rules were frozen, never used to tune them ---
HELDOUT_FIRST = [
    "Adaeze", "Brynjar", "Calliope", "Dariusz", "Esperanza", "Fiachra", "Goran", "Halima", "Ignatius", "Jolanta",
    "Kofi", "Ludmila", "Mairead", "Nikolaos", "Orla", "Pilar", "Rashid", "Svetlana", "Teodor", "Ugne", "Vesna",
    "Wendell", "Yelena", "Zdenek", "Barbara", "Charles", "Dorothy", "Edward", "Frances", "George", "Helen",
]  # fmt: skip
HELDOUT_LAST = [
    "Adeyemi", "Bergstrom", "Cvetkovic", "Dragomir", "Etxeberria", "Fitzgerald", "Gudmundsson", "Horvath",
    "Iwasaki", "Jovanovic", "Kaczmarek", "Lundgren", "Mwangi", "Novak", "Ostrowski", "Petrakis", "Radulescu",
    "Sandoval", "Tanaka", "Urquhart", "Varga", "Wozniak", "Zeller", "Baker", "Carter", "Edwards", "Foster",
]  # fmt: skip
HELDOUT_TEMPLATES: list[tuple[str, str, str]] = [
    ("chat", "en", "User: can you update my profile? my new number is {phone} and my name is spelled {name}"),
    ("chat", "en", "Support: Hello {first}, your ticket is closed. Reply here if the card {card} is charged again."),
    ("chat", "en", "{first} {last} asked me to forward this to {email} before Friday."),
    ("chat", "en", "i think {first:lower} moved to {us_address}, not sure tho"),
    ("chat", "en", "My colleague {name} will pick up the package. Her phone: {phone}."),
    ("caps", "en", "ATTN {name:upper} - PAYMENT TO {iban} FAILED"),
    ("caps", "en", "DELIVER TO: {name:upper}, {us_address:upper}"),
    ("email", "en", "Hello {title} {last},\n\nyour appointment at {org} is confirmed for {date}.\n\n"
     "Regards,\n{name}\n{phone}"),
    ("email", "en", "Forwarding {first}'s details: {email}, {phone}. She lives at {uk_address}."),
    ("form", "en", "Name: {name}\nSSN: {ssn}\nDL: {dl}\nHome address: {us_address}"),
    ("form", "en", "Cardholder: {name}\nCard: {card}\nIBAN: {iban}"),
    ("narrative", "en", "After {date}, {first} {last} ({age}) worked for {org} in {city}."),
    ("narrative", "en", "The {nationality} poet {name} was born in {city} and later taught in {country}."),
    ("narrative", "en", "{title} {first} {last} thanked {first} for the help with the move to {de_address}."),
    ("narrative", "en", "Witness {last} told officers that {name} had left the house on {street_only}."),
    ("config", "en", "[database]\nhost = {ip}\nuser = {first:lower}\npassword = {password}"),
    ("config", "en", "STRIPE_SECRET_KEY={secret}\nADMIN_EMAIL={email}"),
    ("config", "en", "git remote add origin https://{first:lower}:{password}@git.example.com/repo.git"),
    ("log", "en", "client {ip} authenticated as {email} with token {secret}"),
    ("de", "de", "Lieber {first}, meine neue Telefonnummer ist {phone}. Schreib mir an {email}. Gruß, {first}"),
    ("de", "de", "Herr {last} wohnt jetzt in der {de_address}; seine IBAN lautet {iban}."),
    ("es", "es", "Querida {first}: mi nuevo número es {phone} y mi email {email}. Un abrazo, {name}"),
    ("es", "es", "Sra. {last}, su pedido llegará a {es_address}. Teléfono de contacto: {phone}."),
]  # fmt: skip

SLOT = re.compile(r"\{(\w+)(?::(\w+))?\}")


def render(template: str, gen: Gen) -> tuple[str, str, list[dict]]:
    text, masked, spans, pos = "", "", [], 0
    for m in SLOT.finditer(template.replace("{{", "\x00").replace("}}", "\x01")):
        literal = m.string[pos : m.start()].replace("\x00", "{").replace("\x01", "}")
        text += literal
        masked += literal
        value, label = getattr(gen, m.group(1))()
        if m.group(2) == "upper":
            value = value.upper()
        elif m.group(2) == "lower":
            value = value.lower()
        spans.append({"entity_type": label, "entity_value": value, "start_position": len(text),
                      "end_position": len(text) + len(value)})  # fmt: skip
        text += value
        masked += "{{" + m.group(1) + "}}"
        pos = m.end()
    tail = m.string[pos:].replace("\x00", "{").replace("\x01", "}") if spans else template
    return text + tail, masked + tail, spans


def make(n: int = N_RECORDS, seed: int = SEED, heldout: bool = False) -> list[dict]:
    r = random.Random(seed)
    gen = Gen(r, HELDOUT_FIRST, HELDOUT_LAST) if heldout else Gen(r)
    templates = HELDOUT_TEMPLATES if heldout else TEMPLATES
    records = []
    for i in range(n):
        tid = i % len(templates) if i < len(templates) else r.randrange(len(templates))
        style, lang, template = templates[tid]
        text, masked, spans = render(template, gen)
        for s in spans:
            assert text[s["start_position"] : s["end_position"]] == s["entity_value"]
        records.append({"full_text": text, "masked": masked, "spans": spans, "template_id": tid,
                        "metadata": {"style": style, "lang": lang}})  # fmt: skip
    return records


if __name__ == "__main__":
    for path, records in ((OUT, make()), (HELDOUT, make(N_HELDOUT, SEED + 1, heldout=True))):
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")
