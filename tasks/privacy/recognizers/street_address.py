"""STREET_ADDRESS: postal addresses of many countries, read by a small grammar over word tokens.

An address is found from an anchor and grown over the parts written with it.

Anchors:
- a street line in either number order, with the street type after the name ("221B Baker Street", "Király u. 15.",
  "Rovšnikova ulica 4b", "Drottning Kristinas väg 12", "Atatürk Cad. No: 5"), before it ("12 rue de la Paix",
  "Via Roma 10", "Calle Mayor 3", "ul. Nadrzeczna 243", "Rua Augusta, 24", "Jl. Sukajadi No. 4", "Calle 26 # 68-35")
  or fused to it ("Hauptstraße 5", "Prinsengracht 263", "Drottninggatan 1", "Mannerheimintie 1", "Laugavegur 1");
- a post-office box ("P.O. Box 12", "Postfach 12 34 56", "Postbus 20018", "BP 122", "Apartado 45", "Caixa Postal 9",
  "Private Bag 3"), a US military line ("PSC 1234, Box 5678", "Unit 2050 Box 4190", "USS Nimitz", "APO AE 09012");
- a secondary unit on its own ("Apt. 902", "Suite 12", "Flat 2", "Unit 4B");
- the streets of "the corner of A and B" (and "Ecke", "esquina de", "au coin de", "all'angolo tra", "hoek van").

Then, on the same line or the next lines: units, floors and buildings ("Apt. 4", "2º B", "4. OG", "Hinterhaus",
"Bl. 4 Sc. 2 Ap. 7", "c/o ..."), postcodes in the national formats (US ZIP+4, UK, Irish Eircode, Canadian, Dutch,
Polish, Portuguese, Brazilian, Japanese, Argentine CPA, 3-6 digits, country-prefixed "D-80331" / "LV-1050") before or
after the city, region codes ("NSW", "ON", "(VI)", "/ SP"), districts ("Praha 1", "CEDEX 07"), a country; a line that
holds only a city counts when a postcode follows; "and B" after a street ("at 12 Main St and Elm Road").

Weak anchors need support: a street-type word that is also an ordinary English word ("court", "place", "view"), a
lower-case name in normally cased text, a year-like house number ("in 1990 Soviet Union"), a fused street without a
number, or a bare "Name 12" / "12 Name" with no street type at all ("Hollého 648"). They count only with a postcode,
a unit or a military line in their tail, or after an address cue ("address:", "lives at", "ship to", "Adresse :",
"wohnt in der", "dirección:"). Capital letters are evidence only in normally cased lines: lower-case and ALL-CAPS
lines are read by the same rules with the case checks off.

Other scripts: Russian ("г. Тверь, ул. Советская, д. 7, кв. 5, 170100"), Vietnamese ("Số 12 Ngõ 38 phố Lê Duẩn,
phường Hàng Bài, Quận Hoàn Kiếm"), Japanese ("〒100-0001 東京都千代田区千代田1-1-1") and Chinese
("北京市朝阳区建国路88号").
A text without any digit is read only for a street type that needs no number ("rue de Neveu"), "S/N" or a corner.

Every step looks at a bounded number of tokens, so the cost is linear in the text (no regex backtracking over it);
only tokens near a number, a street type or a start word (unit, box, "rue") are tried as the start of an address.
"""

from __future__ import annotations

import functools
import json
import re
from bisect import bisect_right

from pairforge.tasks.privacy.recognizers.base import Recognizer
from pairforge.tasks.privacy.recognizers.casing import case_mode


def _w(s: str) -> frozenset[str]:
    return frozenset(s.split())


# ---- vocabulary (lower case) ----------------------------------------------------------------------------------------

# Street types written after the name as their own word. STRONG: plainly a street (an abbreviation, or a word that is
# not an ordinary English word); a house number with them is enough.
SUFFIX_EN_STRONG = _w("""
street streets st str avenue ave avn av blvd boulevard road rd lane ln drive dr terrace ter terr tce crescent cres
parkway pkwy pky highway hwy expressway expy freeway fwy turnpike tpke mews stravenue stra alley aly causeway cswy
circle cir ct pl sq trl xing jct plz rdg lndg hts gdns grv pde cct esp crst cyn ests hbr holw mnr mdws mtwy ovps plns
prt rnch skwy spg sta smt trce trfy tunl upas vly vlg vw wy bvd byway bypass
""")
SUFFIX_STRONG = SUFFIX_EN_STRONG | _w("""
ulica ulice utca u út útja tér körút krt köz sor sétány fasor rakpart
iela gatvė g prospektas pr tänav tn mnt maantee pst puiestee väljak
vej gade allé plads stræde vænge vei veien gata gatan väg vägen gränd torg torget backe backen stig stigen plass
stræti vegur braut stígur
katu tie kuja polku bulevardi väylä raitti kaari rinne tori aukio
straße strasse weg platz gasse allee damm ufer chaussee steig pfad markt graben gürtel kai
straat laan plein gracht kade singel dreef steeg dijk
cesta trg
sokak sokağı sk sok cadde caddesi cad cd bulvar bulvarı bulvari blv mahallesi mah
isitaladi umgwaqo indlela
nagar marg salai chowk ganj gali mohalla vihar bagh
náměstí nábřeží třída námestie nábrežie
""")
# after-name types that are ordinary English words too (USPS Publication 28 street suffixes, UK/IE/AU/NZ usage):
# a capitalised name, a postal tail or a cue makes them a street
SUFFIX_WEAK = _w("""
annex arcade bayou beach bend bluff bluffs bottom branch bridge brook brooks burg burgs camp canyon cape center
centers centre circus cliff cliffs club common commons corner corners course court courts cove coves creek crest
crossing crossroad crossroads curve dale dam divide estate estates extension extensions fall falls ferry field fields
flat flats ford fords forest forge forges fork forks fort gardens garden gateway glen glens green greens grove groves
harbor harbors harbour haven heights hill hills hollow inlet island islands isle junction junctions key keys knoll
knolls lake lakes land landing light lights loaf lock locks lodge loop mall manor manors meadow meadows mill mills
mission motorway mount mountain mountains neck orchard oval overpass park parks pass passage path pike pine pines
place plain plains plaza point points port ports prairie radial ramp ranch rapid rapids rest ridge ridges river route
row run shoal shoals shore shores skyway spring springs spur spurs square squares station stream summit throughway
trace track trafficway trail trailer tunnel underpass union unions valley valleys viaduct view views village villages
ville vista walk walks wall way ways well wells via alleyway drives roads lanes avenues
close rise vale wynd chase croft fold garth nook approach broadway parade esplanade promenade quay wharf strand yard
end cross grange gate ring
access amble anchorage artery basin brace brae break brow centreway circlet circuit colonnade concourse copse
courtyard crossway cruiseway cutting dell deviation dip distributor driveway edge elbow entrance fairway firetrail
follow footway foreshore formation frontage gap glade gully highroad interchange laneway lees line link lookout meander
outlook parklands pathway plateau pocket quad quadrangle quadrant quays ramble range reach reserve retreat ride
ridgeway riverway riviera roadway ronde rosebowl rotary round siding slope sound stairs steps strip tarn thoroughfare
tollway tor towers triangle trunkway turn villas wade walkway part
indawo ithafa
""")
SUFFIX_EN = SUFFIX_EN_STRONG | SUFFIX_WEAK
# after-name abbreviations that need their dot ("Király u. 15.", "Gedimino pr. 9")
SUFFIX_DOT = _w("u g pr sk cad cd mah blv sok rkp nám nam")

# Street types written before the name. STRONG: not ordinary English words.
PREFIX_STRONG = _w("""
rue chemin allée allee allé impasse quai bd bld bvd cours faubourg fbg sentier montée ruelle venelle rond-point lieu-dit
hameau lotissement parvis diag
calle avenida avda avd paseo camino carrera cra kra cr calzada cuesta ronda glorieta pasaje psje pje callejón
callejon cerrada circuito continuación continuacion corredor privada prolongación prolongacion retorno andador
periférico periferico bulevar rambla travesía travesia carrer passeig plaça avinguda camí
rua travessa trav tv alameda praça praca pç estrada rodovia ladeira beco viela fazenda sítio sitio chácara chacara
quadra qd
peatonal feira
viale piazza piazzale corso vicolo borgo contrada strada lungomare lungotevere salita vico calata incrocio rotonda
stretto traversa località frazione galleria passaggio circonvallazione
acceso bajada subida pasadizo cañada sendero urbanización urbanizacion urb polígono poligono ctra circunvalación
circunvalacion
ulica ul aleja al plac osiedle os rynek bulwar skwer
bulevardul calea aleea intrarea splaiul șoseaua soseaua şoseaua piața piata drumul fundătura fundatura
jl jalan jln gg lorong lrg
đường phố hẻm ngõ ngách
trg bulevar
náměstí nábřeží třída námestie
οδός οδος λεωφόρος πλατεία
ул улица пр проспект пер переулок бульвар шоссе пл площадь вул вулиця просп провулок алл аллея наб набережная
ш бул туп тупик мкр проезд линия
nám nam nábr
laan
""")
# of those, the ones that make a street even with no number after them ("rue de Neveu", "chemin de Lesage")
PREFIX_CERTAIN = _w("""rue chemin allée allee impasse calle avenida avda paseo rua travessa ulica ul aleja plac viale
piazza vicolo strada bulevardul calea aleea intrarea splaiul șoseaua soseaua şoseaua jl jalan jln lorong ул улица вул
вулиця""")
# before-name types that are ordinary English words too ("avenue", "place", "via", "square")
PREFIX_WEAK = _w("""avenue place square passage route promenade esplanade villa cité cite résidence residence plaza
diagonal transversal largo via vila boulevard platz str av pl vial traverse gang canale campo
núcleo nucleo aeroporto condomínio condominio conjunto loteamento recanto residencial trecho trevo vereda viaduto
esplanada jardim lagoa morro parque pátio patio setor distrito colônia colonia estação estacao passarela área campo
vale""")
# one- and two-letter prefixes that must carry their dot or slash ("C/ Mayor 5", "R. Augusta", "Av. Paulista")
PREFIX_DOT = _w(
    "al pl os cr av tv qd str cra kra trav avd avda psje pje jl gg ul bd bld ул пр пер пл вул просп "
    "алл наб ш бул туп мкр nám nábr urb ctra cl diag dg"
)
# German streets named with a preposition ("Am Markt 5", "An der Alster 10"): only before a capitalised name + number
PREFIX_PREP = _w("am im zum zur unter hinter u na nad pod za pri ke")
PREFIX_PREP_ARTICLE = _w("an auf in")  # only with their article: "An der Alster 10", "Auf dem Berg 3", "In der Au 5"

# endings of one-word street names ("Lindenstraße", "Prinsengracht", "Drottninggatan", "Mannerheimintie"). STRONG:
# long and unmistakable endings (also in lower case); WEAK: short endings that also end English words or names
# ("ring", "pad", "tie", "gate"): only capitalised, with a house number, and not an English word.
FUSED_STRONG = (
    "straße", "strasse", "gasse", "gässchen", "platz", "allee", "chaussee", "steig", "stieg", "pfad", "graben",
    "damm", "ufer", "markt", "weg", "zeile", "anger", "gürtel",
    "straat", "laan", "plein", "gracht", "kade", "singel", "dreef", "steeg", "dijk", "kanaal", "baan", "boulevard",
    "kaai", "plaats",
    "gatan", "gata", "gade", "vägen", "väg", "veien", "vegen", "vej", "gränd", "torget", "stigen", "stien", "stræde",
    "plads", "plass", "alléen", "allé", "backen", "bakken", "lunden", "løkka", "bråten", "haugen", "åsen", "jordet",
    "tunet", "svingen", "kroken", "grenda", "engen",
    "stræti", "vegur", "braut", "stígur", "gerði", "hlíð",
    "katu", "kuja", "polku", "bulevardi", "väylä", "raitti", "kaari", "rinne", "aukio", "puistikko",
    "tänav", "maantee", "puiestee",
)  # fmt: skip
FUSED_WEAK = (
    "ring", "pad", "tie", "gate", "vei", "tori", "ranta", "kamp", "hof", "kai", "torg", "hagen", "lei", "wal", "vest",
    # Norwegian generic elements of street names ("Thorsenskrenten", "Edvardsenvika")
    "skogen", "toppen", "kollen", "marka", "myra", "vika", "skrenten", "havna", "stranda", "tjernet", "verket",
    "gjerdet", "holtet", "høgda", "ringen", "plassen", "stykket", "spranget", "flata", "faret", "ekra", "lyngen",
    "stubben", "berget", "eggen", "gropa", "moen",
)  # fmt: skip
_FUSED_ALL = FUSED_STRONG + FUSED_WEAK
NOT_FUSED = _w("ipad ipads thinkpad numpad keypad notepad trackpad touchpad launchpad helipad")

# secondary units, floors and buildings, followed by their number ("Apt. 4", "Piano 7", "Bl. 92", "кв. 5")
UNIT_WORDS = _w("""
apt apartment appt app appartement apartament apartamento appartamento suite ste unit flat studio fl floor room rm bldg
building penthouse
piso puerta pta planta escalera esc depto dpto dto departamento edif edificio torre local oficina interior int level
casa lote bloco bloque bl bloc sc scara ap etaj sector
wohnung whg etage stock og eg dg stiege tür
bâtiment batiment bât bat étage escalier porte appartement
piano scala interno
m lok lokal mieszkanie
lgh lägenhet
kv кв квартира корп корпус стр офис к
daire kat
h.no house plot door hno
""")
# units that are an address on their own, with their number ("Apt. 902", "Suite 359", "Flat 2")
UNIT_ALONE = _w("apt apartment appt appartement apartamento appartamento suite ste flat wohnung whg")
# words that are a unit part of an address with no number
UNIT_BARE = _w(
    "hinterhaus vorderhaus seitenflügel gartenhaus souterrain dachgeschoss erdgeschoss bajo ático atico "
    "entresuelo rdc penthouse"
)
# unit words followed by a name rather than a number ("Résidence Les Pins", "Bâtiment B", "Immeuble Le Phare")
UNIT_NAMED = _w("résidence residence bâtiment batiment immeuble lotissement bloco conjunto edificio torre")
# floor / side words after an ordinal ("2º B", "4. OG", "2. tv", "3rd floor")
FLOOR_WORDS = _w("""og eg dg ug stock etage obergeschoss tv th mf sal st floor fl piso planta izq izda izquierda dcha
dch der derecha centro ctro étage etg""")

# words that introduce the house number ("No. 5", "Nr. 22", "N° 356", "No: 5", "д. 7", "Số 4")
NUMBER_WORDS = _w("no nr n nº n° núm num número numero nro nos số д дом br")
HOUSE_SUFFIX = _w("bis ter quater")
# words between name words ("rue de la Paix", "Avenue of the Americas", "Waidhofen an der Ybbs")
PARTICLES = _w("""de del della delle dei degli di da do dos das du des la le les los las l van von der den het ten ter
te y e i of the al el an am auf zum zur im sur sous lès lez aux au à en und og och bei unter ob dal dalla sul sulla
dello da na nad pod pri lui op aan bij""")
# particles that may open a name after a prefix type ("rue de Chevrolet", "Calle del Prado", "Laan van Nieuw")
OPENING_PARTICLES = _w("de del della delle dei degli di da do dos das du des d la le les l van von der den het ten ter")
DIRECTIONS = _w("n s e w ne nw se sw north south east west nord sud norte sur este oeste")

# words that never belong to a street, city or region name when written in lower case (English function words and
# a few of other languages); capitalised, only the sentence-openers in CAP_STOP are refused
STOP = _w("""
a about above across after afterwards again against all almost alone along already also although always am among an
and another any anyhow anyone anything anyway anywhere are around as at be became because become becomes becoming
been before beforehand behind being below beside besides between beyond both but by ca call can cannot could did do
does doing done down due during each either else elsewhere enough even ever every everyone everything everywhere
except few for former formerly from further get give go had has have he hence her here hers herself him himself his
how however i if in indeed into is it its itself just keep latter least less made make many may me meanwhile might
mine more moreover most mostly move much must my myself neither never nevertheless next no nobody none noone nor not
nothing now nowhere of off often on once only onto or other others otherwise our ours ourselves out over own per
perhaps please put quite rather re really regarding same say see seem seemed seeming seems several she should show
since so some somehow someone something sometime sometimes somewhere still such take than that the their them
themselves then thence there thereafter thereby therefore therein thereupon these they this those though through
throughout thru thus to together too toward towards under unless until up upon us used using various very was we
were what whatever when whence whenever where whereas wherein whether which while whither who whoever whole whom
whose why will with within without would yet you your yours yourself yourselves
does come came comes coming went goes going got gets meet meets meeting met visit call text thanks thank tomorrow
today tonight yesterday asap pls plz ok okay yes yeah lol hey hi hello bye cheers regards best sincerely dear
attention attn
und oder ist sind war waren wird werden hat haben hatte nicht auch noch schon nur sehr mit für nach seit über zwischen
bis ab aus gegen ohne um wir ihr sie er es ich du mein meine dein sein seine unser unsere bitte danke heute morgen
gestern jetzt hier dort dann wenn weil dass aber doch die das dem ein eine einer einem einen dritter zweiter erster
et ou est sont était ont avait sera être avoir fait faire avec pour chez dans merci depuis maintenant avant après
jusqu sans vers entre mais donc puis aussi très plus moins bien tout tous toute toutes cette ces son sa ses leur
leurs notre nos votre vos mon ma mes ton ta tes qui que quoi dont où ici là il elle ils elles nous vous je tu ne pas
dix ans
es son está están era fue ser estar tiene tengo hay muy más menos pero porque cuando donde desde hasta hacia sin sobre
con para gracias por que quien este esta estos estas ese esa mi mis tu tus su sus nuestro nuestra
il lo gli un una uno è sono ha hanno non più molto ma perché quando dove che chi questo questa per tra fra mio mia
tuo suo sua nostro grazie
o os um uma é foi tem não mais muito mas onde quem meu minha seu obrigado
een zijn heeft hebben niet ook nog maar want omdat wanneer waar die dat deze dit voor met naar uit over tot om mijn
jouw haar ons onze
""")
# labels and words that never name a street or a city (a number after them is something else)
LABELS = _w("""tel tél phone mobile mob cell fax email e-mail card iban nr nummer number num ref id order invoice
account konto customer ssn page chapter figure fig table section vol volume version episode season part step grade
class code pin otp total price tel. handy telefon teléfono telefono téléphone portable móvil celular cpf cnpj rfc
dni nif nie passport licence license ip ring call text dial sms whatsapp iso en din isbn issn doi rfc ieee
astm ansi cen iec itu""")
# dates: a month or weekday and a number are no bare street ("September 3, 1955")
DATES = _w("""january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday
januar februar märz mai juni juli oktober dezember janvier février mars avril juin juillet août septembre octobre
novembre décembre enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre""")

CAP_STOP = _w("""the a an in at on of to for from by with and or but my our your his her their its this that these
those we i you he she they it is was are were be if so as please thanks thank hi hello dear call send ship meet see
near next via""") - {"see"}
# the first word of a line that ends an address rather than continuing it
GREETINGS = _w("""thanks thank regards cheers best sincerely yours love merci cordialement bises amitiés danke grüße
gruß mfg viele liebe gracias saludos atentamente grazie saluti cordiali obrigado abraços tack hälsningar hilsen
groeten dear hi hello hey bonjour hallo hola ciao tel phone mobile fax email e-mail""")
CONJUNCTIONS = _w("and & y e et und en og och és i")
ARTICLES = _w("a an the this that every each per")
# words before a year ("in 1990", "the 1989 ...", "since 2004"): a year-like number after them is no house number
YEAR_CONTEXT = _w("""in of the since by from until till during before after between and or circa c ca early late mid
around about year years summer winter spring autumn fall season census 's its his her their our my your this that
than as a an""")
SHIP_PREFIXES = _w("uss usns usnv uscgc uscg hmas hmcs hms hmnzs")
# words that start a post-office box
POBOX_START = _w("""p po post g gpo pob pmb private locked postfach postbus postboks postbox boîte boite bp b case
apartado apdo caixa cx casella skrytka postafiók pf box""")
# countries (English and own names) that may stand alone on the last line of an address
COUNTRIES = _w("""
afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan bahamas bahrain bangladesh
barbados belarus belgium belize benin bhutan bolivia bosnia botswana brazil brunei bulgaria burundi cambodia cameroon
canada chad chile china colombia comoros congo croatia cuba cyprus czechia denmark djibouti dominica ecuador egypt
eritrea estonia eswatini ethiopia fiji finland france gabon gambia georgia germany ghana greece grenada guatemala
guinea guyana haiti honduras hungary iceland india indonesia iran iraq ireland israel italy jamaica japan jordan
kazakhstan kenya kiribati kosovo kuwait kyrgyzstan laos latvia lebanon lesotho liberia libya liechtenstein lithuania
luxembourg madagascar malawi malaysia maldives mali malta mauritania mauritius mexico micronesia moldova monaco
mongolia montenegro morocco mozambique myanmar namibia nauru nepal netherlands nicaragua niger nigeria norway oman
pakistan palau palestine panama paraguay peru philippines poland portugal qatar romania russia rwanda samoa
senegal serbia seychelles singapore slovakia slovenia somalia spain sudan suriname sweden switzerland syria taiwan
tajikistan tanzania thailand togo tonga tunisia turkey türkiye turkmenistan tuvalu uganda ukraine uruguay usa
uzbekistan vanuatu venezuela vietnam yemen zambia zimbabwe uk england scotland wales deutschland österreich schweiz
suisse svizzera españa españa méxico brasil polska česko slovensko magyarország românia hrvatska slovenija sverige
norge danmark suomi ísland nederland belgië belgique italia éire hellas ελλάδα россия україна
""")



@functools.cache
def country_names() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Country names of many languages (tasks/data/countries.json, from Faker's address providers) as token tuples
    by first token, longest first: "trinidad" -> (("trinidad", "and", "tobago"), ...)."""
    from pairforge.tasks.data import DATA

    by_first: dict[str, set[tuple[str, ...]]] = {}
    for name in json.loads((DATA / "countries.json").read_text(encoding="utf-8"))["names"]:
        toks = tuple(_TOKEN.findall(name))
        if toks and len(toks) <= 10:
            by_first.setdefault(toks[0], set()).add(toks)
    return {w: tuple(sorted(v, key=len, reverse=True)) for w, v in by_first.items()}


# ---- patterns (compiled once) --------------------------------------------------------------------------------------

# a token: a word or number with inner hyphens, slashes and apostrophes ("Jens-Haase-Weg", "6a/4", "c/o", "O'Neil"),
# or one other visible character
_TOKEN = re.compile(r"\w+(?:['’\-/\xa1-\xaa\xac-\xaf\xb1-\xba\xbc-\xbf]+\w+)*|\S")
# a house number: "12", "221B", "6a/4", "55-29", "4/81/376", "161A"; not "1960s", not an ordinal
_HOUSE = re.compile(r"\d{1,5}(?:[A-Za-z]{1,2})?(?:[-/]\d{1,5}[A-Za-z]?){0,3}")
_ORDINAL = re.compile(r"\d{1,3}(?:st|nd|rd|th|e|er|re|ème|eme|º|ª|o|a)", re.I)  # floors: "2º", "1er étage"
_NAME_ORDINAL = re.compile(r"\d{1,3}(?:st|nd|rd|th|ème|eme|er|e)", re.I)  # in a name: "5th Avenue", "5e Avenue"
_CITY_PIN = re.compile(r"[^\W\d_][\w'’.\-]*-\d{5,6}")  # Indian "Anantapuram-507529"
_DECADE = re.compile(r"\d{2,4}s|\d+(?:st|nd|rd|th)", re.I)
_YEAR = re.compile(r"1[6-9]\d\d|20\d\d")
_HAS_DIGIT = re.compile(r"\d")
# postcodes, matched at a token start (national formats; `_POSTCODE_LOWER` also in lower case)
_PC_CASED = (
    r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"  # UK
    r"|[A-Z]\d[A-Z]\s?\d[A-Z]\d"  # Canada
    r"|(?:[AC-FHKNPRTV-Y]\d{2}|D6W)\s?[0-9AC-FHKNPRTV-Y]{4}"  # Ireland (Eircode)
    r"|\d{4}\s?[A-Z]{2}"  # Netherlands
    r"|[A-Z]\d{4}[A-Z]{3}"  # Argentina (CPA)
    r"|[A-Z]{3}\s?\d{4}"  # Malta
    # country-prefixed: D-80331, H-9191, CH-8001, LV-1050, SE-111 51, PL-00-950
    r"|(?:D|F|I|E|FI|HR|LT|EE|DE|FR|IT|ES)-\d{5}|(?:A|CH|B|L|H|DK|N|NO|LV|SI|BG|AT|BE|LU|HU)-\d{4}"
    r"|(?:S|SE|CZ|SK|GR)-\d{3}\s?\d{2}|PL-\d{2}-\d{3}|P-\d{4}-\d{3}|PT-\d{4}-\d{3}|RO-\d{6}"
)
_PC_DIGITS = (
    r"〒?\s?\d{3}-\d{4}"  # Japan
    r"|\d{5}-\d{4}|\d{5}-\d{3}|\d{4}-\d{3}|\d{2}-\d{3}"  # US ZIP+4, Brazil, Portugal, Poland
    r"|\d{3}\s\d{2}"  # Sweden, Czechia, Slovakia, Greece
    r"|\d{8}|\d{4,6}"
)
_POSTCODE = re.compile(rf"(?:{_PC_CASED}|{_PC_DIGITS})(?![\w\-/])")
_POSTCODE_LOWER = re.compile(rf"(?i:{_PC_CASED})(?![\w\-/])")
_POSTCODE_3 = re.compile(r"\d{3}(?![\w\-/])")  # Iceland, Faroe: only before a city
_POBOX = re.compile(
    r"(?i)(?:p\.?\s?o\.?\s?b(?:ox)?\.?|post\s+office\s+box|g\.?p\.?o\.?\s+box|postal\s+box|pmb|private\s+bag|"
    r"locked\s+bag|postfach|postbus|postboks|postbox|bo[iî]te\s+postale|b\.?\s?p\.?|case\s+postale|"
    r"apartado(?:\s+(?:de\s+correos|postal|a[ée]reo))?|apdo\.?|caixa\s+postal|cx\.?\s?postal|casella\s+postale|"
    r"skrytka\s+pocztowa|postafi[óo]k|pf\.?|box)"
    r"\s*(?:no\.?|nr\.?|n[°º]\.?)?\s*[#:]?\s*(\d{1,6}(?:[ \t]\d{2,3}){0,3})(?![\w\-])"
)
_MIL_UNIT = re.compile(r"(?i)(?:psc|cmr|unit)\s+\d{1,5}\s*,?\s*box\s+\d{1,5}(?![\w\-])")
_MIL_LINE = re.compile(r"(?i)(?:apo|fpo|dpo)\s+(?:aa|ae|ap)\s+\d{5}(?:-\d{4})?(?![\w\-])")
_ZIP_CUE = re.compile(
    r"(?i)\b(?:(?:zip(?:\s*code)?|post\s*code|postal\s*code|code\s+postal|c[óo]digo\s+postal|postnummer|"
    r"postinumero|irányítószám|kod\s+pocztowy)[ \t]*[:#]?|(?:plz|cap|cep|psč|cp)[ \t]*[:#])[ \t]*"
)
_NEWLINE = re.compile(r"\n")
_CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# Japanese: [〒postcode] [prefecture 都道府県] city / ward / town 市区町村郡 [district] N丁目 N番(地) N号
# [building N号室]; Chinese: [province 省 / region 自治区] [city 市 / county 县 / district 区] road 路街道巷弄 N号 /
# building 座栋楼室 [postcode]. Found from their numeric core, then grown back over the place names before it (a
# bounded walk).
_JP_CORE = re.compile(r"\d{1,4}(?:丁目|-|－)\d{1,4}(?:番地?|-|－)(?:\d{1,4}号?)?")
_CN_CORE = re.compile(
    r"(?:路|街|大道|道|巷|弄|胡同)(?:\d{1,5}号(?:[A-Za-z\d]{1,4}(?:座|栋|幢|楼|单元|室)){0,3}"
    r"|(?:[A-Za-z\d]{1,4}(?:座|栋|幢|楼|单元|室)){1,3})"
)
_JP_BUILDING = re.compile(r"\s?[\u3005\u3040-\u30ff\u4e00-\u9fff\uff01-\uff5e]{1,16}?\d{1,5}(?:号室)?")
_CN_POSTCODE = re.compile(r"\s?\d{6}(?!\d)")
_JP_POSTCODE_BEFORE = re.compile(r"〒\s?\d{3}-\d{4}\s?$")
_CORNER = re.compile(
    r"(?i)\b(?:(?:the\s+)?corner\s+of|(?:the\s+)?intersection\s+of|(?:the\s+)?junction\s+of|crossroads\s+of|"
    r"ecke|kreuzung|esquina\s+(?:de|con|entre|da|do)|(?:au\s+)?coin\s+(?:de\s+la|du|des|de)|"
    r"(?:à\s+l')?angle\s+(?:de\s+la|du|des|de)|all'angolo\s+(?:tra|di|con|fra)|incrocio\s+(?:tra|di|fra)|"
    r"hoek\s+van|cruzamento\s+(?:da|do|de|entre))\s+"
)
# an address cue: support for the weak anchors in the next ~100 characters
_CUE = re.compile(  # (every cue starts a word: the leading check spares the alternatives at every other character)
    r"(?i)\b(?=\w)(?:(?:addresses|address|addr|adresse|anschrift|postanschrift|dirección|direccion|domicilio|indirizzo|"
    r"endereço|endereco|morada|adres|adresa|adresas|címe?|osoite|adress|postadress)\b[^\n.:]{0,30}?(?:[:=]|\bis\b|"
    r"\bwas\b|\bto\b|\best\b|\bist\b|\bes\b|\bè\b|\bé\b|\n)"
    r"|\b(?:lives?|living|lived|resides?|residing|stays?|staying)\s+(?:\w+\s+)?(?:at|on|in)\b"
    r"|\b(?:office|shop|store|studio|clinic|practice|showroom|warehouse|restaurant|café|cafe|bakery|salon|house|home|"
    r"flat|apartment|place)\s+(?:is|was)\s+(?:now\s+)?(?:at|on)\b"
    r"|\b(?:located|situated)\s+(?:at|on)\b"
    r"|\b(?:moved?|moving)\s+(?:\w+\s+)?(?:to|into|out\s+of|from)\b"
    r"|\b(?:ship(?:ped|ping)?|send|sent|deliver(?:ed|y)?|mail(?:ed)?|post(?:ed)?|return(?:ed)?|forward(?:ed)?)\b"
    r"(?:\s+[\w']+){0,3}?\s+to\b"
    r"|\b(?:pick(?:ed)?\s+(?:\w+\s+)?up|collect(?:ed)?|visit\s+us|find\s+us)\s+(?:\w+\s+)?(?:from|at)\b"
    r"|\b(?:wohnt|wohne|wohnen|habite|habitons|habitent|vive|vivo|vivimos|viven|abita|abito|abitano|mora|moro|moram|"
    r"woont|woon|wonen|bor|asuu|lakik|mieszka|bydlí|býva)\s+(?:\w+\s+){0,2}?"
    r"(?:in|an|am|auf|en|à|au|a|na|no|em|op|aan|te|i|på|osoitteessa|ul\.)\s"
    r"|\b(?:wohnhaft|domicilié|domiciliée|domiciliado|domiciliada|residente)\b)"
)

ROMAN = frozenset("I II III IV V VI VII VIII IX X XI XII".split())
# words that open a street name in any letter case ("Vester Søgade", "Store Kongensgade", "Alte Gasse")
NAME_PREFIX_WORDS = _w("""vester nørre søndre øster store lille gamle nye alte neue obere untere große grosse kleine
hohe lange kurze sankt gamla norra södra östra västra stora lilla nya""")
# Vietnamese: numbered lanes and blocks ("Số 4", "Ngõ 38", "Hẻm 42", "Khu 27") and the administrative units after the
# street ("phường An Khê", "Quận 1", "Thành phố Hồ Chí Minh")
VN_UNITS = _w("số ngõ ngách hẻm kiệt khóm khu tổ ấp thôn")
VN_ADMIN = _w("phường xã quận huyện thị thành tỉnh tp")
# Russian settlement types before the street ("г. Тверь, ул. ...", "д. Берёзовка, ...", "пгт Новый")
SETTLEMENTS = _w("г гор с п пгт д дер пос ст х клх снт")
SUFFIX_ALL = SUFFIX_STRONG | SUFFIX_WEAK
# street types written abbreviated, whose dot belongs to them ("Baker St.", "Main Ave.", "Narva mnt.")
SUFFIX_ABBREV = SUFFIX_DOT | _w("""st str ave av avn blvd rd ln dr ter terr tce cres pkwy pky hwy expy fwy tpke aly
cswy cir ct pl sq trl xing jct plz rdg lndg hts gdns grv pde cct esp crst cyn ests hbr holw mnr mdws mtwy ovps plns
prt rnch skwy spg sta smt trce trfy tunl upas vly vlg vw wy bvd stra krt tn mnt pst""")

# words an address may start with (street types in front, units, boxes, military and ship lines)
START_WORDS = (
    PREFIX_STRONG
    | PREFIX_WEAK
    | PREFIX_DOT
    | PREFIX_PREP
    | PREFIX_PREP_ARTICLE
    | UNIT_WORDS
    | POBOX_START
    | SHIP_PREFIXES
    | SETTLEMENTS
    | VN_UNITS
    | _w("c r v h house plot door psc cmr apo fpo dpo")
)
# what a number is when a unit of measure or amount follows it ("216 km long highway", "2 million U.S.")
MEASURES = _w("""km mi mile miles feet foot ft kilometres kilometers kilometre kilometer metres meters metre meter yards
yd inches cm mm kg lb lbs tons tonnes million millions billion billions thousand thousands hundred hundreds
percent per years year days day hours hour minutes min times people acres hectares ha sq storey storeys stories
mph kph kmh % x bn mn""")
# units that may be numbered by a letter ("Bl. B", "Escalier C", "Bâtiment A")
UNIT_LETTER = _w(
    "bl bloc bloque block sc scara esc escalera escalier bâtiment batiment bât bat torre stiege bldg "
    "building entrance porte tür apt ap"
)
# abbreviations inside names that keep their dot ("St. Mary's Road", "Moch. Ramdan", "Mt. Pleasant")
ABBREVIATIONS = _w("st ste sta sto mt ft pt dr gen col prof pres sv sw moch muh jl ave blvd rd hwy sr jr")


_DIGIT = re.compile(r"\d")
# what an address without any digit starts with: a street type that needs no number, or "S/N" (no number)
_NO_DIGIT_HINT = re.compile(r"(?i)(?<!\w)(?:" + "|".join(sorted(map(re.escape, PREFIX_CERTAIN))) + r"|s/n)(?!\w)")


class _Parse:
    """One text: tokens, line modes, cue zones, and the grammar over them."""

    def __init__(self, text: str, lex):
        self.text = text
        self.lex = lex
        spans = [m.span() for m in _TOKEN.finditer(text)]
        self.S = [a for a, _ in spans]
        self.E = [b for _, b in spans]
        self.T = _TOKEN.findall(text)
        self.L = [t.lower() for t in self.T]
        self.n = len(spans)
        self._newlines = [m.start() for m in _NEWLINE.finditer(text)]
        self._modes: dict[int, bool] = {}
        self._text_mode: bool | None = None

    @functools.cached_property
    def cues(self) -> list[int]:
        """Where the address cues of the text end, sorted (scanned on first use: most texts never ask)."""
        return [m.end() for m in _CUE.finditer(self.text)]

    # -- letter case ------------------------------------------------------------------------------------------------

    def informative(self, k: int) -> bool:
        """Do capital letters mean anything on token k's line (a normally cased line)?"""
        nls = self._newlines
        line_no = bisect_right(nls, self.S[k])
        got = self._modes.get(line_no)
        if got is None:
            start = nls[line_no - 1] + 1 if line_no else 0
            end = nls[line_no] if line_no < len(nls) else len(self.text)
            line = self.text[start:end]
            letters = sum(map(str.isalpha, line))
            if letters >= 12:
                got = case_mode(line) == "normal"
            else:
                if self._text_mode is None:
                    self._text_mode = case_mode(self.text) == "normal"
                got = self._text_mode
            if got and letters < 40:
                words = re.findall(r"[^\W\d_]{2,}", line)
                if words and all(w.islower() for w in words):
                    got = False  # a short line all in lower case ("psc 6003, box 6805")
            self._modes[line_no] = got
        return got

    def cap(self, k: int) -> bool:
        t = self.T[k]
        return t[:1].isupper() or not self.informative(k)

    # -- small predicates -------------------------------------------------------------------------------------------

    def adjacent(self, k: int) -> bool:
        """Token k follows token k-1 with no space."""
        return k > 0 and self.S[k] == self.E[k - 1]

    def gap(self, k: int) -> str:
        return self.text[self.E[k - 1] : self.S[k]] if k > 0 else ""

    def dot(self, k: int) -> int:
        """k + 1 if token k is a dot right after the previous token, else k."""
        return k + 1 if k < self.n and self.T[k] == "." and self.adjacent(k) else k

    def is_word(self, k: int) -> bool:
        t = self.T[k]
        return t[:1].isalpha() and not _HAS_DIGIT.search(t)

    def name_word(self, k: int) -> int:
        """2: a capitalised name word (or one on a line where case says nothing); 1: a lower-case word that could be
        a name; 0: not a name word (stop word, number, punctuation)."""
        if k >= self.n:
            return 0
        t, low = self.T[k], self.L[k]
        if _NAME_ORDINAL.fullmatch(t):
            return 2
        if not self.is_word(k) or low in LABELS:
            return 0
        informative = self.informative(k)
        c = t[0]
        if (c.isupper() or c.lower() == c.upper()) and informative:  # capitalised, or a script without case
            return 0 if low in CAP_STOP else 2
        if informative and len(t) > 3 and t[1].isupper() and t[2:].islower():
            return 2  # "uMgungundlovu", "eThekwini"
        if low in STOP or low in GREETINGS or low in CAP_STOP:
            return 0
        return 1 if informative else 2

    def house(self, k: int) -> bool:
        """A house number at k: not a decade or ordinal, not the tail of a bigger number ("100,000", "8:00"), not an
        amount ("216 km", "2 million")."""
        t = self.T[k]
        if not (t[:1].isdigit() and _HOUSE.fullmatch(t) is not None and _DECADE.fullmatch(t) is None):
            return False
        if (
            k >= 2
            and self.T[k - 1] in (",", ".", ":")
            and self.adjacent(k)
            and self.adjacent(k - 1)
            and (self.T[k - 2][-1:].isdigit())
        ):
            return False
        return not (k + 1 < self.n and self.L[k + 1] in MEASURES and "\n" not in self.gap(k + 1))

    def year_like(self, k: int) -> bool:
        return _YEAR.fullmatch(self.T[k]) is not None

    def fused(self, k: int) -> int:
        """2: a one-word street with a long ending ("Lindenstraße"), 1: with a short one ("Heinrichring"), 0: no."""
        if k >= self.n or not self.is_word(k):
            return 0
        low = self.L[k]
        if not low.endswith(_FUSED_ALL) or low in NOT_FUSED:
            return 0
        for suffix in _FUSED_ALL:
            if low.endswith(suffix):
                stem = low[: -len(suffix)].rstrip("-")
                if len(stem) < (2 if suffix in FUSED_STRONG else 3) and not (stem and low[len(stem)] == "-"):
                    continue  # "Søgade", "Nygade"; not "Agata"
                if self.lex is not None and "-" not in low and self.lex.common(low):
                    return 0
                if suffix in FUSED_WEAK:
                    if len(stem) < 4 or (self.lex is not None and self.lex.known_name(low)):
                        return 0  # "Katie", "Beatie", "Hattie"
                    return 1 if self.cap(k) and "-" not in stem[-1:] else 0
                return 2
        return 0

    def suffix_word(self, k: int) -> tuple[int, int]:
        """(strength 2 strong / 1 weak / 0 none, index after it) for an after-name street type at k."""
        if k >= self.n:
            return 0, k
        low = self.L[k]
        if low in SUFFIX_DOT:
            j = self.dot(k + 1)
            return (2, j) if j > k + 1 else (0, k)
        after = self.dot(k + 1) if low in SUFFIX_ABBREV else k + 1  # "St.", "Ave.", "Str."; not "Road." (full stop)
        if low in SUFFIX_STRONG:
            return 2, after
        if low in SUFFIX_WEAK or (low[-1:] == "s" and low[:-1] in SUFFIX_EN):  # "Parkways", "Meadows"
            return 1, after
        return 0, k

    def abbreviation_dot(self, k: int) -> int:
        """The index after name word k and its dot, when the dot marks an abbreviation ("St. Mary's", "Moch. Ramdan",
        "Jend. A. Yani", "PHH. Mustofa"): a short word whose dot a capitalised word follows on the same line."""
        low = self.L[k]
        j = self.dot(k + 1)
        if j == k + 1:
            return j
        if len(low) <= 2 or low in ABBREVIATIONS:
            return j
        if len(low) <= 4 and j < self.n and self.gap(j) == " " and self.T[j][:1].isupper():
            return j
        return k + 1

    def prefix_word(self, k: int) -> tuple[int, int]:
        """(strength, index after it) for a before-name street type at k ("rue", "ul.", "C/")."""
        if k >= self.n:
            return 0, k
        low = self.L[k]
        if low in ("c", "r", "v") and k + 1 < self.n and self.T[k + 1] == "/" and self.adjacent(k + 1):
            return 2, k + 2  # C/ Mayor
        if low in ("c", "r", "v") and k + 2 < self.n and self.T[k + 1] == "." and self.adjacent(k + 1):
            if self.L[k + 2] in OPENING_PARTICLES:
                return 2, k + 2  # C. de Alcalá, R. da Prata
            if self.T[k][0].isupper() and self.T[k + 2][:1].isupper():
                return 1, k + 2  # R. Augusta, 24 (with its number)
        if (
            low == "av"
            and self.T[k][0].isupper()
            and k + 1 < self.n
            and not self.adjacent(k + 1)
            and (self.T[k + 1][:1].isupper() or self.L[k + 1] in OPENING_PARTICLES)
        ):
            return 1, k + 1  # "Av Paiva, 9", "Av das Rolas, 6"
        if low in PREFIX_DOT:
            j = self.dot(k + 1)
            if low == "al" and k > 0 and self.L[k - 1] == "et":
                return 0, k  # "et al."
            if j == k + 1:
                return (0, k) if len(low) <= 2 or low not in PREFIX_STRONG else (2, j)
            return (2 if low in PREFIX_STRONG or len(low) <= 3 else 1), j
        j = self.dot(k + 1) if len(low) <= 4 else k + 1
        if low in PREFIX_STRONG:
            return 2, j
        if low in PREFIX_WEAK:
            return 1, j
        return 0, k

    # -- numbers ----------------------------------------------------------------------------------------------------

    def number(self, k: int) -> int:
        """A house number at k ("12", "12 bis", "No. 5", "N° 356", "#4", "S/N", "15."): the index after it, or -1."""
        n = self.n
        if k >= n:
            return -1
        j = k
        if self.L[k] in NUMBER_WORDS or self.T[k] == "#":
            j = k + 1
            while j < n and self.T[j] in (".", ":", "°", "º") and j - k <= 3:
                j += 1
            if j == k + 1 and self.T[k] != "#" and self.L[k] in ("n", "no", "nr", "br"):
                # a bare "no 5" is English ("no 5 people"): "No 5" capitalised, or with its dot, colon or degree sign
                if j >= n or not self.house(j) or (self.L[k] == "no" and self.informative(k) and self.T[k] != "No"):
                    return -1
        if j >= n:
            return -1
        if self.L[j] in ("s/n", "s/nº", "sn"):
            return j + 1
        if not self.house(j) or (
            j + 2 < self.n
            and self.T[j + 1] in (".", ":", ",")
            and self.adjacent(j + 1)
            and self.adjacent(j + 2)
            and self.T[j + 2][:1].isdigit()
        ):
            return -1  # "172.16.0.1", "4:30", "3,5"
        j += 1
        if j < n and self.L[j] in HOUSE_SUFFIX:
            j += 1
        if (
            j < n
            and self.T[j] == "."
            and self.adjacent(j)
            and (j + 1 >= n or self.T[j + 1] == "," or "\n" in self.gap(j + 1) or self.L[j + 1] in UNIT_WORDS)
        ):
            j += 1  # Hungarian "15.", "97. Suite 446"
        return j

    # -- street names -----------------------------------------------------------------------------------------------

    def names(
        self, k: int, limit: int = 5, opening_particle: bool = False, mixed: bool = False
    ) -> tuple[int, int, bool]:
        """A run of name words from k on one line: (index after it, name words, all capitalised). Particles only
        inside the run (or first, when `opening_particle`); an abbreviation keeps its dot ("Moch. Ramdan"); on a
        normally cased line the run does not mix capitalised and lower-case words ("rue Fouquet depuis"), unless
        `mixed`: a capitalised word then lower-case ones ("Nová hora", "Šestinski vrh")."""
        j, words, caps, last_good = k, 0, True, k
        first = True
        kinds = 0
        while j < self.n and words < limit:
            if j > k and ("\n" in self.gap(j) or self.T[j - 1] in (",", ";", "\t")):
                break
            if j > k and "\t" in self.gap(j):
                break
            low = self.L[j]
            if (
                low in PARTICLES
                and not (self.T[j][:1].isupper() and self.informative(j))
                and (words or (first and opening_particle and low in OPENING_PARTICLES))
            ):
                j += 1  # "de", "de la", "van der" before the first name word when `opening_particle`
                continue
            if self.T[j] in ("-", "'", "’") and self.adjacent(j) and words:
                j += 1
                continue
            if low in NUMBER_WORDS and words and self.number(j) > 0:
                break
            if (
                words
                and _ORDINAL.fullmatch(self.T[j])
                and j + 1 < self.n
                and self.T[j + 1][:1].isupper()
                and (self.gap(j + 1) == " ")
            ):
                j += 1  # "Alta Tensão 2ª Seção"
                continue
            if low in UNIT_WORDS and words and self.unit(j) > 0:
                break  # "rue Lauzon Apt. 870"
            if low in PARTICLES and not words and not (self.T[j][:1].isupper() and self.informative(j)):
                break  # a run never opens with "der", "of", "la" (unless `opening_particle`)
            if (
                low in ("and", "&")
                and words
                and kinds == 2
                and j + 1 < self.n
                and self.T[j + 1][:1].isupper()
                and (self.informative(j))
                and "\n" not in self.gap(j + 1)
            ):
                e = j + 2  # "São Tomé and Príncipe", "Trinidad and Tobago": only when the name ends right after
                if (e >= self.n or self.T[e] in (",", ".") or "\n" in self.gap(e)) and self.name_word(j + 1) == 2:
                    words += 1
                    j = last_good = e
                    continue
                break
            if self.T[j] in ROMAN and words:
                kind = 2
            elif len(self.T[j]) == 1 and self.T[j].isupper() and words and self.dot(j + 1) > j + 1:
                kind = 2  # an initial: "Jend. A. Yani", "J. F. Kennedy"
            else:
                kind = self.name_word(j)
            if not kind or (kinds and kind != kinds and not (mixed and kinds == 2 and kind == 1)):
                break
            kinds = kind if not mixed else min(kind, kinds or kind)
            words += 1
            caps &= kind == 2
            j = self.abbreviation_dot(j)
            last_good = j
            first = False
        return last_good, words, caps

    def street_name(self, k: int) -> tuple[int, int, str] | None:
        """A street name at k without its number: (index after it, strength 2/1, kind prefix|suffix|fused)."""
        n = self.n
        if k >= n:
            return None
        # type word in front: "rue de la Paix", "ul. Nadrzeczna", "Calle 26 # 68-35" (Colombian grid)
        pstrength, j = self.prefix_word(k)
        if pstrength and j < n and "\n" not in self.gap(j):
            if j < n and self.T[j][:1].isdigit() and len(self.T[j]) <= 5:
                m = j + 1
                while (
                    m < n
                    and m - j <= 3
                    and (
                        self.L[m] in ("bis", "sur", "este", "norte", "oeste")
                        or (len(self.T[m]) == 1 and self.T[m].isalpha())
                    )
                    and not (self.L[m] == "n" and self.number(m) > 0)  # "Calle 1 N° 72": N is the number's, no letter
                ):
                    m += 1
                if m < n and (self.T[m] == "#" or self.L[m] in ("no", "nº", "n", "nro", "núm", "num")):
                    end = self.number(m)
                    if end > 0 and end < n and self.T[end] == "-" and self.adjacent(end):
                        end += 1
                    if end > 0:
                        while end < n and self.L[end] in ("sur", "este", "norte", "oeste", "bis"):
                            end += 1
                        return end, 2, "grid"
                if pstrength == 2 and (self.house(j) or _ORDINAL.fullmatch(self.T[j])) and (
                        j + 1 >= n or not self.T[j + 1][:1].isalpha() or "\n" in self.gap(j + 1)):
                    return j + 1, 1, "numbered"  # a street named by a number: "Jalan 4Z", "Cl. 85", "Lorong 9/49T"
            end, words, caps = self.names(j, limit=6, opening_particle=True)
            if words:
                opens = j < n and self.L[j] in OPENING_PARTICLES
                if pstrength == 2:
                    strength = 2 if caps or opens or not self.informative(k) else 1
                else:
                    strength = 1 if caps else 0
                if strength:
                    return end, strength, "prefix"
        # German preposition streets: "Am Markt 5", "An der Alster 10"
        prep = self.L[k] in PREFIX_PREP or (
            self.L[k] in PREFIX_PREP_ARTICLE and k + 1 < n and self.L[k + 1] in ("der", "dem", "den")
        )
        if prep and (
            self.T[k][:1].isupper() and self.informative(k) or not self.informative(k) and self.L[k] in PREFIX_PREP
        ):
            end, words, caps = self.names(k + 1, limit=3, opening_particle=True)
            typed = any(self.fused(m) or self.suffix_word(m)[0] for m in range(k + 1, end))
            if words and caps and not typed and self.real_city(k + 1, end):
                after = end + 1 if end < n and self.T[end] == "," else end
                if after < n and self.number(after) > 0:
                    return end, 2, "prefix"
        # name words, then a type word ("Baker Street", "Rovšnikova ulica", "Király u.") or a fused street
        j, words, caps = k, 0, True
        kinds = particles = 0
        while j < n and words <= 4:
            if j > k and ("\n" in self.gap(j) or self.T[j - 1] in (",", ";")):
                break
            if j > k and "\t" in self.gap(j):
                break
            f = self.fused(j)
            if f and not (j + 1 < n and self.suffix_word(j + 1)[0] and "\n" not in self.gap(j + 1)):
                if (
                    words
                    and (not (caps and self.informative(j)) or particles)
                    and not (words == 1 and self.L[k] in NAME_PREFIX_WORDS)
                ):
                    return None  # "Lost dog near Evelynelaan 27": only capitalised words go with a fused street
                end = j + 1
                if end < n and self.T[end] == "." and self.adjacent(end) and self.L[j].endswith("str"):
                    end += 1
                return end, (2 if f == 2 else 1), "fused"
            if (
                self.L[j].endswith("str")
                and len(self.L[j]) >= 6
                and j + 1 < n
                and self.T[j + 1] == "."
                and (self.adjacent(j + 1) and self.is_word(j))
            ):
                if words and not (caps and self.informative(j)):
                    return None
                return j + 2, 2, "fused"  # "Weimerstr. 3"
            strength, after = self.suffix_word(j)
            if strength and words and kinds == 1 and self.T[j][:1].isupper():
                return None  # "the town of Hill Top": lower-case words before a capitalised type
            if strength and words:
                if self.informative(j) and not self.T[j][:1].isupper():
                    strength = min(strength, 2 if self.L[j] in SUFFIX_STRONG else 1)
                    caps = False
                after2 = after
                s2, a2 = self.suffix_word(after)  # "Park Road", "Green Lane"
                if s2 and after < n and "\n" not in self.gap(after):
                    after2 = a2
                    strength = max(strength, s2)
                if (
                    after2 < n
                    and self.L[after2] in DIRECTIONS
                    and "\n" not in self.gap(after2)
                    and (after2 + 1 >= n or self.T[after2 + 1] in (",", ".") or "\n" in self.gap(after2 + 1))
                ):
                    after2 = self.dot(after2 + 1)
                if strength == 1 and caps and self.T[j][:1].isupper():
                    strength = 2
                elif strength == 2 and not caps and self.L[j] not in SUFFIX_STRONG:
                    strength = 1
                return after2, strength, "suffix"
            low = self.L[j]
            if low in PARTICLES and not (self.T[j][:1].isupper() and self.informative(j)):
                if not words:
                    return None
                particles += 1
                j += 1
                continue
            if self.T[j] in ("-", "'", "’") and self.adjacent(j) and words:
                j += 1
                continue
            kind = self.name_word(j)
            if not kind or (kinds and kind != kinds):
                return None  # a stop word, or capitalised and lower-case words mixed ("the corner of John Fall")
            kinds = kind
            caps &= kind == 2
            words += 1
            j = self.abbreviation_dot(j)
        return None

    # -- anchors ----------------------------------------------------------------------------------------------------

    def street_line(self, i: int) -> tuple[int, int, int] | None:
        """A street line starting at i: (start, end, strength): 2 strong, 1 weak (a cue, unit, postcode or "and B"
        makes it an address), 0 very weak (a unit or postcode does)."""
        n = self.n
        T, L = self.T, self.L
        if self.house(i):
            # number first: "221B Baker Street", "12 rue de la Paix", "57, rue Simone Lacroix", "936 bis, avenue X"
            j = i + 1
            if j < n and L[j] in HOUSE_SUFFIX:
                j += 1
            comma = j < n and T[j] == ","
            if comma:
                j += 1
            if j < n and "\n" in self.gap(j):
                return None
            if j < n and L[j] in DIRECTIONS and T[j][:1].isupper() and j + 1 < n and not self.suffix_word(j + 1)[0]:
                j = self.dot(j + 1)  # "100 N Main St", "200 West 42nd Street"
            got = self.street_name(j)
            if got is None:
                return None
            end, strength, kind = got
            if kind in ("prefix", "fused", "numbered") and strength:
                strength = 2  # (a house number before a numbered street: "7, Jln 4Z", "6-8 Cl. 6ª")
            if comma and (kind == "suffix" and self.suffix_word(end - 1)[0] < 2 or self.year_like(i)):
                return None  # "In May 1968, NASA Mission": a comma after the number only before "rue", "avenue" ...
            prev = L[i - 1] if i > 0 else ""
            if self.year_like(i) and (
                prev in YEAR_CONTEXT
                or prev in DATES
                or i == 0
                or prev in (".", "(", "\u2013", "-")
                or "\n" in self.gap(i)
            ):
                strength = min(strength, 1)  # "In 1990 Soviet Union", "the 1989 Tiananmen Square protests"
            elif prev in ARTICLES and not self.cap(j):
                strength = min(strength, 1)  # "a 4 wheel drive"
            elif (
                i > 0
                and self.is_word(i - 1)
                and T[i - 1][:1].isupper()
                and self.informative(i)
                and ("\n" not in self.gap(i))
                and prev not in CAP_STOP
                and prev not in STOP
                and prev not in UNIT_WORDS
            ):
                strength = min(strength, 1)  # "the Apollo 11 Moon Landing": a number that ends a name
            if kind == "prefix" and end < n and self.house(end) and "\n" not in self.gap(end):
                end = self._interior(end + 1) or end + 1  # "Corredor Nuevo León 066 133"
            elif kind in ("fused", "suffix") and end < n and self.gap(end) == " ":
                after = self.number(end)  # "75 Auerstrasse 12", "98 árpád fejedelem útja 45.": building + house no.
                if after > 0 and (
                    after >= n or self.T[after] in (",", ".") or "\n" in self.gap(after) or L[after] in UNIT_WORDS
                ):
                    end = after
            return i, end, strength
        got = self.street_name(i)
        if got is None:
            return None
        end, strength, kind = got
        j = end
        comma = end < n and T[end] == ","
        if comma and end + 1 < n and "\n" not in self.gap(end + 1):
            j = end + 1
        num_end = self.number(j) if j < n and "\n" not in self.gap(j) and "\t" not in self.gap(j) else -1
        if (
            num_end > 0
            and comma
            and self.postcode(j) > 0
            and num_end < n
            and self.name_word(num_end)
            and ("\n" not in self.gap(num_end))
        ):
            num_end = -1  # "rue Brunel, 55477 Fournierboeuf": a postcode and its city, not a house number
        if num_end > 0:
            if kind in ("prefix", "fused", "grid", "numbered") and strength:
                strength = 2
            if kind == "suffix" and self._en_suffix(i, end):
                strength = min(strength, 1)  # "Route 11", "Highway 61": English types come after the number
            num = j + 1 if L[j] in NUMBER_WORDS or T[j] == "#" else j
            weak_type = (
                (kind == "prefix" and self.prefix_word(i)[0] < 2)
                or (kind == "fused" and self.fused(end - 1) < 2)
                or (kind == "suffix" and self.suffix_word(end - 1)[0] < 2)
            )
            if num < n and self.year_like(num) and weak_type:
                strength = min(strength, 1)  # "Via London 2012"
            return i, self._interior(num_end) or num_end, strength
        if kind == "grid":
            return i, end, 2
        if kind == "numbered":
            return i, end, 0  # "Jalan 2V" alone: only with a postcode or unit after it
        if kind == "prefix":
            certain = L[i] in PREFIX_CERTAIN or (L[i] in ("c", "r") and T[i + 1] == "/")
            if certain and strength == 2:
                return i, end, 2  # "rue de Neveu"
            return i, end, 1 if self.prefix_word(i)[0] == 2 and strength else 0  # "Square Garden": 0
        if self.informative(i) and not T[i][:1].isupper():
            return None  # "sixth route": a lower-case name with no number in normally cased text
        return i, end, 0  # a street name with no number: only with a postcode or unit after it

    def _en_suffix(self, i: int, end: int) -> bool:
        """Is the street type of the name i..end an English one?"""
        return any(self.L[m] in SUFFIX_EN for m in range(max(i, end - 3), end))

    def _interior(self, j: int) -> int:
        """After a house number: a second number before a separator ("407 827,"): the index after it, else 0."""
        n = self.n
        if j < n and self.house(j) and "\n" not in self.gap(j) and len(self.T[j]) <= 4:
            k = j + 1
            if k >= n or self.T[k] in (",", ";", ".") or "\n" in self.gap(k) or self.L[k] in UNIT_WORDS:
                return k
        return 0

    def bare_line(self, i: int) -> tuple[int, int, bool] | None:
        """ "Hollého 648", "Nová hora 110", "1680 Victoria Ithafa": words and a plain house number, no street type:
        (start, end, comma between name and number). Never a year-like number, a stop word, a label or initials."""
        n = self.n
        if self.house(i):
            if i + 1 >= n or self.gap(i + 1) != " " or self.year_like(i) or self.T[i].startswith("0"):
                return None
            end, words, caps = self.names(i + 1, limit=3)
            if (
                words
                and caps
                and self._plain_names(i + 1, end)
                and (end >= n or self.T[end] in (",", ".") or "\n" in self.gap(end))
            ):
                return i, end, False
            return None
        if self.name_word(i) == 2:
            end, words, _ = self.names(i, limit=3, mixed=True)
            if words and end < n and self._plain_names(i, end):
                comma = self.T[end] == ","
                j = end + 1 if comma else end
                if j < n and self.gap(j) in (" ", "") and self.T[j][:1] in "123456789" and not self.year_like(j):
                    num_end = self.number(j)
                    if num_end > 0:
                        return i, num_end, comma
        return None

    def _plain_names(self, a: int, b: int) -> bool:
        """Words a..b are a plausible street name: one of at least three letters, none a stop word in any case."""
        long_word = False
        for m in range(a, b):
            if not self.is_word(m) or (m > a and self.T[m] in ROMAN):
                continue
            low = self.L[m]
            if low in STOP or low in LABELS or low in CAP_STOP or low in DATES:
                return False
            long_word |= len(low) >= 3
        return long_word

    def unit(self, k: int, alone: bool = False) -> int:
        """A unit, floor or building part at k ("Apt. 4", "Suite #300", "2º B", "4. OG", "Hinterhaus", "c/o Name",
        "Résidence Les Pins"): the index after it, or -1."""
        n, T, L = self.n, self.T, self.L
        if k >= n:
            return -1
        low = L[k]
        if low == "c/o" or (low == "c" and k + 2 < n and T[k + 1] == "/" and L[k + 2] == "o"):
            j = k + 1 if low == "c/o" else k + 3
            end, words, _ = self.names(j, limit=4)
            return end if words else -1
        if low in UNIT_BARE:
            return k + 1
        if T[k] == "RD" and k + 1 < n and T[k + 1].isdigit() and len(T[k + 1]) <= 2 and not alone:
            return k + 2  # New Zealand rural delivery: "RD 6"
        if low in VN_UNITS and k + 1 < n and self.house(k + 1) and "\n" not in self.gap(k + 1):
            return k + 2  # "Ngõ 38", "Hẻm 42", "Số 4/81"
        if low in UNIT_NAMED and self.cap(k):
            if k + 1 < n and len(T[k + 1]) <= 3 and (T[k + 1].isupper() or T[k + 1].isdigit()):
                return k + 2
            end, words, caps = self.names(k + 1, limit=3, opening_particle=True)
            if words and caps and not alone:
                return end
        if (
            len(t0 := T[k]) == 1
            and t0.isupper()
            and not alone
            and k + 1 < n
            and self.house(k + 1)
            and len(T[k + 1]) <= 3
            and (k + 2 >= n or T[k + 2] in (",", ";") or "\n" in self.gap(k + 2))
        ):
            return k + 2  # staircase and flat: "Mannerheimintie 1 A 5"
        if low == "d" and k + 1 < n and T[k + 1] == ":" and k + 2 < n and self.house(k + 2):
            return k + 3  # Turkish daire: "No: 5 D: 3"
        if low in UNIT_WORDS or low in ("h", "house", "plot", "door"):
            j = self.dot(k + 1)
            if len(low) == 1 and j == k + 1:
                return -1  # one letter is a unit word only with its dot ("m. 5")
            if low == "h" and j < n and L[j] == "no":  # "H.No. 19"
                j = self.dot(j + 1)
            elif low == "h":
                return -1
            if low in ("house", "plot", "door", "flat") and j < n and L[j] in ("no", "nr", "number"):
                j = self.dot(j + 1)
            if j < n and T[j] in ("#", "№", ":"):
                j += 1
            if j < n and L[j] in ("no", "nr", "n", "nº") and self.dot(j + 1) > j + 1:
                j = self.dot(j + 1)
            if j >= n or "\n" in self.gap(j):
                return -1
            t = T[j]
            if _HAS_DIGIT.search(t) and len(t) <= 9 and not self._measure(j + 1):
                j += 1
                if j < n and T[j] == "-" and self.adjacent(j) and j + 1 < n and self.adjacent(j + 1):
                    j += 2
                return j
            if len(t) == 1 and t.isalpha() and (t.isupper() or not self.informative(j)) and not alone:
                return j + 1  # "Bl. B", "Sc. A"
            return -1
        # ordinal floors: "2º B", "3º izq.", "4. OG", "2. tv", "3rd floor", "1er étage"
        t = T[k]
        if _ORDINAL.fullmatch(t) or (
            t.isdigit() and len(t) <= 2 and k + 1 < n and T[k + 1] == "." and self.adjacent(k + 1)
        ):
            j = k + 1 if _ORDINAL.fullmatch(t) else k + 2
            if j < n and L[j] in FLOOR_WORDS and "\n" not in self.gap(j):
                return self.dot(j + 1)
            if t[-1:] in "ºª°" and j < n and len(T[j]) == 1 and T[j].isalpha():
                return j + 1
            if t[-1:] in "ºª°":
                return j
        return -1

    def _measure(self, k: int) -> bool:
        """Is token k a unit of measure or percent after a number ("flat 2 %", "unit 3 km")?"""
        return k < self.n and self.L[k] in ("%", "percent", "per", "km", "m", "kg", "mm", "cm", "mi", "lb", "x")

    def pobox(self, k: int) -> int:
        if self.L[k] not in POBOX_START:
            return -1
        m = _POBOX.match(self.text, self.S[k])
        if not m:
            return -1
        return self._tok_after(m.end())

    def _tok_after(self, pos: int) -> int:
        """Index of the first token starting at or after pos."""
        lo, hi = 0, self.n
        while lo < hi:
            mid = (lo + hi) // 2
            if self.S[mid] < pos:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def postcode(self, k: int, lenient: bool = False) -> int:
        """A postcode at k: the index after it, or -1. `lenient`: also 3 digits (before a city)."""
        if k >= self.n:
            return -1
        t = self.T[k]
        if not (t[:1].isdigit() or t[:1].isalpha() or t == "〒"):
            return -1
        m = _POSTCODE.match(self.text, self.S[k])
        if not m and not self.informative(k):
            m = _POSTCODE_LOWER.match(self.text, self.S[k])
        if not m and lenient:
            m = _POSTCODE_3.match(self.text, self.S[k])
        if not m:
            return -1
        j = self._tok_after(m.end())
        return j if j > k else -1

    def country(self, k: int) -> int:
        """A country name at k on one line ("Azerbaijan", "Trinidad and Tobago", "Emiratos Árabes Unidos", "Cocos
        (Keeling) Islands"): the index after it, or -1."""
        if k >= self.n or (self.informative(k) and not self.T[k][:1].isupper()):
            return -1
        for toks in country_names().get(self.L[k], ()):
            end = k + len(toks)
            if end <= self.n and tuple(self.L[k:end]) == toks and all(
                    "\n" not in self.gap(m) for m in range(k + 1, end)):
                return end
        return -1

    # -- parts after an anchor --------------------------------------------------------------------------------------

    def city(self, k: int, limit: int = 5) -> int:
        """City / region / country words at k ("Oliveira do Hospital", "Jacob-sur-Barre", "Praha 1", "PARIS CEDEX
        07"): the index after them, or -1."""
        end, words, caps = self.names(k, limit=limit, opening_particle=True)
        if not words or not caps:
            return -1
        n = self.n
        if end < n and self.T[end] == "(":
            r = self.region_paren(end)
            end = r if r > 0 else end  # "Mossano (VI)"
        if end < n and self.L[end] == "cedex" and "\n" not in self.gap(end):
            end += 1
        if (
            end < n
            and self.T[end].isdigit()
            and len(self.T[end]) <= 2
            and "\n" not in self.gap(end)
            and (end + 1 >= n or self.T[end + 1] in (",", ".", ")") or "\n" in self.gap(end + 1))
        ):
            end += 1  # district: "Praha 1", "Dublin 2", "Cedex 07"
        if (
            end + 1 < n
            and self.T[end] in ("/", "-", "–")
            and len(self.T[end + 1]) == 2
            and (self.T[end + 1].isupper() or not self.informative(end + 1) and self.T[end + 1].isalpha())
            and "\n" not in self.gap(end + 1)
        ):
            end += 2  # a Brazilian state after its city: "Peixoto do Galho / BA", "São Paulo - SP"
        return end

    def real_city(self, a: int, b: int) -> bool:
        """Do tokens a..b look like a place name? On a normally cased line: not an acronym ("ISO 2240"); on a
        lower-case or ALL-CAPS line: not only dictionary words ("243 airports")."""
        if self.informative(a):
            return any(any(c.islower() for c in self.T[m]) for m in range(a, b))
        if self.lex is None:
            return True
        return any(self.is_word(m) and not self.lex.common(self.L[m]) for m in range(a, b))

    def region_paren(self, k: int) -> int:
        """ "(VI)", "(OW)", "(CVN 68)": the index after the closing parenthesis, or -1."""
        n = self.n
        if k < n and self.T[k] == "(":
            j = k + 1
            while j < n and j - k <= 4 and self.T[j] != ")" and "\n" not in self.gap(j):
                j += 1
            inner = range(k + 1, j)
            cased = self.informative(k)
            if (
                j < n
                and self.T[j] == ")"
                and j > k + 1
                and all(self.T[m].isupper() or self.T[m].isdigit() or not cased and self.T[m].isalpha() for m in inner)
                and any(self.T[m].isupper() or not cased and self.T[m].isalpha() for m in inner)
            ):
                return j + 1  # "(VI)", "(CVN 68)"; not "(1936)", "(April 19)"
        return -1

    def postcode_line(self, k: int) -> bool:
        """Is the line that starts at token k a postcode line: "[City[,]] [REGION[,]] POSTCODE [City]" and nothing
        else ("Iceland 80392", "80392", "80331 München", "Kristenborough, IN 83475")?"""
        n, T = self.n, self.T
        while k < n and not T[k][:1].isalnum() and k + 1 < n and "\n" not in self.gap(k + 1):
            k += 1  # a bullet: "??? Denmark 15838"
        if k >= n:
            return False
        j = k
        c = self.city(k) if not T[k][:1].isdigit() else -1
        if c > 0 and self.postcode(k) < 0:
            j = c + 1 if c < n and T[c] == "," else c
            if (
                j < n
                and len(T[j]) <= 3
                and T[j].isalpha()
                and self.postcode(j + (2 if j + 1 < n and T[j + 1] == "," else 1)) > 0
            ):
                j += 2 if T[j + 1] == "," else 1
        if j >= n or (j > k and "\n" in self.gap(j)):
            return False
        p = self.postcode(j)
        if p < 0:
            return False
        c = self.city(p) if p < n and self.gap(p) == " " else -1
        e = c if c > 0 else p
        return e >= n or "\n" in self.gap(e)

    def line_has_postcode(self, c: int) -> bool:
        """After city words ending before token c: does a postcode part follow, on the same line after a comma
        ("Tegal, Nusa Tenggara Timur 08101") or as the next line, maybe after a line with a region code
        ("SAULIUSFURT\n65883", "Gleniti\n, nan\n Canada 32586")?"""
        n, T = self.n, self.T
        if c < n and T[c] == "," and "\n" not in self.gap(c + 1 if c + 1 < n else c):
            k = c + 1
            w = self.city(k) if k < n and not T[k][:1].isdigit() else -1
            k = w if w > 0 else k
            if k < n and T[k] == ",":
                k += 1
            p = self.postcode(k) if k < n and "\n" not in self.gap(k) else -1
            return p > 0 and (p >= n or "\n" in self.gap(p) or T[p] in (",", "."))
        if c >= n or self.gap(c).count("\n") not in (1, 2):
            return False
        k = c + 1 if T[c] == "," else c
        if k < n and self.postcode_line(k):
            return True
        if k < n and len(T[k]) <= 3 and T[k].isalpha() and k + 1 < n and "\n" in self.gap(k + 1):
            return self.postcode_line(k + 1)  # a region code on its own line first
        return False

    def tail(self, j: int, street: bool, after_unit: bool = False, vn: bool = False) -> tuple[int, int, bool]:
        """Extend an address ending before token j over the parts written after it. Returns (new end, postal,
        unit), postal: 3 = a military line, a postcode of a lettered or grouped format ("SW1A 1AA", "00-950",
        "111 22"), or a plain one next to its city or region; 2 = the same with a year-like number ("Sydney 2000");
        1 = a number that may be a postcode; 0 = none. `after_unit`: the address so far is a unit or a box, so a
        street may follow ("Flat 6, Brenda Parkways"). `vn`: a Vietnamese address, whose street may be a name alone
        ("Số 12 Trần Phú") or a number ("Phố 69")."""
        n, T, L = self.n, self.T, self.L
        postal, unit = 0, False
        end = j
        last = "street" if street else "unit" if after_unit else "other"
        for _ in range(9):
            k = end
            if k >= n:
                break
            gap = self.gap(k)
            if "\t" in gap:
                break
            if gap.count("\n") > 1 and not (
                gap.count("\n") == 2 and postal < 3 and last != "other" and self.postcode_line(k)
            ):
                break  # a blank line ends the address, unless only its postcode line is left ("\n\n Iceland 80392")
            sep = "nl" if "\n" in gap else "space" if gap else "none"
            if sep == "nl" and not T[k][:1].isalnum() and T[k] not in (",", "("):
                b = k  # a bullet or marker opening the line: "??? Apt. 018", "• 12345 Berlin"
                while (
                    b < n and b - k < 4 and not T[b][:1].isalnum() and "\n" not in self.gap(b + 1 if b + 1 < n else b)
                ):
                    b += 1
                if b >= n or b == k or "\n" in self.gap(b) or self.gap(b) == "":
                    break
                k = b
            if T[k] == ",":
                k += 1
                if k >= n or "\t" in self.gap(k) or self.gap(k).count("\n") > 1:
                    break
                sep = "nl" if "\n" in self.gap(k) or "\n" in gap else "comma"
            elif T[k] in ("-", "–", "/") and sep == "space" and k + 1 < n and not self.adjacent(k + 1):
                if "\n" in self.gap(k + 1):
                    break
                sep = "dash"
                k += 1
            elif T[k] == "(" and sep == "space":
                r = self.region_paren(k)
                if r > 0:
                    end = r
                    continue
                break
            if sep == "none" or (sep == "nl" and L[k] in GREETINGS):
                break
            # a US military line: "APO AE 09012"
            m = _MIL_LINE.match(self.text, self.S[k]) if L[k] in ("apo", "fpo", "dpo") else None
            if m:
                end, postal, last = self._tok_after(m.end()), 3, "postal"
                continue
            if vn and last in ("unit", "street") and T[k][:1].isupper() or vn and L[k] in ("phố", "đường"):
                if L[k] in ("phố", "đường") and k + 1 < n and self.house(k + 1):
                    end, last, street = k + 2, "street", True  # "Phố 69"
                    continue
                c = k + (1 if L[k] in ("phố", "đường") else 0)
                while (
                    c < n
                    and c - k < 6
                    and self.is_word(c)
                    and T[c][0].isupper()
                    and "\n" not in self.gap(c)
                    and (L[c] not in VN_ADMIN and L[c] not in VN_UNITS)
                ):
                    c += 1
                if c > k and not street and sep == "space":
                    end, last, street = c, "street", True  # "Số 12 Trần Phú"
                    continue
            # a unit, floor, building, c/o
            u = self.unit(k)
            if u > 0:
                end, unit, last = u, True, "unit"
                continue
            # a post-office box, or the box of a military unit ("Unit 4 Box 12")
            b = self.pobox(k) if L[k] in POBOX_START else -1
            if b > 0:
                end, unit, last = b, True, "unit"
                continue
            # postcode first: "80331 München", "SW1A 1AA", "H-9191 Mezőligetfa", "62731206 Peixoto / BA"
            p = self.postcode(k, lenient=sep in ("comma", "nl"))
            if p > 0:
                plain = p == k + 1 and T[k].isdigit()
                if sep == "space" and (last not in ("street", "unit", "city") or plain and self.year_like(k)):
                    break
                c = self.city(p, limit=6) if p < n and self.gap(p) in (" ", "\u00a0") else -1
                if plain and len(T[k]) == 3 and c < 0:
                    break
                end = c if c > 0 else p
                after_comma = p + 1 < n and T[p] == "," and "\n" not in self.gap(p + 1)
                cc = self.city(p + 1) if after_comma else -1
                with_city = (
                    (c > 0 and self.real_city(p, c))
                    or (cc > 0 and self.real_city(p + 1, cc))  # "22040, Brenna (CO)"
                    or last == "city"
                    or (sep == "nl" and end < n and "\n" in self.gap(end) and self.city(end) > 0)
                )  # "65883\nSAULIUSFURT"
                grade = 3 if not plain else (2 if self.year_like(k) else 3) if with_city else 1
                postal = max(postal, grade)
                last = "postal" if c < 0 else "city"
                if end < n and T[end] == "/" and end + 1 < n and T[end + 1].isupper() and len(T[end + 1]) <= 3:
                    end += 2  # "Peixoto / BA"
                continue
            # a street after a unit or box: "Flat 43 181 Hernandez Gate", "Flat 6, Brenda Parkways"
            if last == "unit" and not street:
                got = self.street_line(k)
                if got and got[2] >= 1:
                    end, last, street = got[1], "street", True
                    continue
                nm = self.street_name(k)
                if nm:
                    end, last, street = nm[0], "street", True
                    continue
            # region code + postcode: "TN 32193", "ON T6A 9S7", "NT, 8402", ", nan\n 40839"
            if len(T[k]) <= 3 and T[k].isalpha():
                r = k + 1
                if r < n and T[r] == ",":
                    r += 1
                q = self.postcode(r) if r < n and "\n" not in self.gap(r) else -1
                cased = T[k].isupper() or not self.informative(k)
                if q > 0 and sep != "nl" and last == "city" and (cased or L[k] not in STOP):
                    year = q == r + 1 and self.year_like(r)
                    end, postal, last = q, max(postal, 2 if year else 3), "postal"
                    continue
                if (
                    sep in ("comma", "nl")
                    and last == "city"
                    and k + 1 < n
                    and "\n" in self.gap(k + 1)
                    and (self.postcode_line(k + 1))
                ):
                    end, last = k + 1, "city"  # a region code alone on its line before the postcode line
                    continue
            # an Indian town joined to its PIN code: "Anantapuram-507529"
            if _CITY_PIN.fullmatch(T[k]) and sep in ("comma", "nl", "dash"):
                end, postal, last = k + 1, 3, "postal"
                continue
            # Vietnamese administrative units, written with or without commas: "phường An Khê Thành phố Huế"
            if L[k] in VN_ADMIN and (last in ("street", "city") or sep != "space"):
                j = k + 1
                if L[k] in ("thành", "thị") and j < n and L[j] in ("phố", "xã", "trấn"):
                    j += 1
                j = self.dot(j)
                c = j
                while (
                    c < n
                    and c - j < 6
                    and self.is_word(c)
                    and T[c][0].isupper()
                    and L[c] not in VN_ADMIN
                    and ("\n" not in self.gap(c))
                ):
                    c += 1  # "An Khê", "Hồ Chí Minh": capitalised syllables
                c = c if c > j else -1
                if c < 0 and j < n and T[j].isdigit() and len(T[j]) <= 2:
                    c = j + 1  # "Quận 1"
                if c > 0 and (L[k] != "thị" or j > k + 1) and (L[k] != "thành" or j > k + 1):
                    end, last = c, "city"
                    continue
            # a country after the street, city or postcode: "..., 60277 West Elaineville, Azerbaijan"
            if sep in ("comma", "nl") and last in ("street", "postal", "city"):
                country = self.country(k)
                ends = country >= n or T[country] in (",", ".", ";", ")", "!", "?") or "\n" in self.gap(country)
                if country > 0 and (ends or self.gap(country) == " " and not T[country][:1].isupper()):
                    end, last = country, "city"  # (a postcode may follow: "Iceland 80392")
                    continue
            # city [,] [region] [,] postcode on one line: "Springfield, IL 62704", "Lake Thomas, NT, 8402",
            # "Thoothukudi 032780", "Tegal, Nusa Tenggara Timur 08101"
            if sep == "space" and last not in ("postal", "unit"):
                break
            c = self.city(k, limit=5)
            if c < 0:
                break
            q = c + 1 if c < n and T[c] == "," else c
            if q < n and "\n" not in self.gap(q):
                r = q
                if (
                    len(T[r]) <= 3
                    and T[r].isalpha()
                    and (
                        T[r].isupper()
                        or self.postcode(r + 1) > 0
                        or (r + 2 < n and T[r + 1] == "," and self.postcode(r + 2) > 0)
                        or (not self.informative(r) and L[r] not in STOP)
                    )
                ):
                    r += 1
                    if r < n and T[r] == ",":
                        r += 1
                pc = self.postcode(r) if r < n and "\n" not in self.gap(r) else -1
                if pc > 0:
                    plain = pc == r + 1 and T[r].isdigit()
                    grade = 3 if not plain or r > q or not self.year_like(r) else 2  # a region code: "NSW 2000"
                    if r == q and not self.real_city(k, c):
                        grade = 1  # "243 airports": dictionary words and a number
                    end, postal, last = pc, max(postal, grade), "postal"
                    c2 = self.city(pc) if pc < n and self.gap(pc) == " " else -1
                    if c2 > 0:
                        end, last = c2, "city"  # "SÃO PAULO, 02551-716 MONTEIRO / RJ"
                    country = self.country(end + 1) if end < n and T[end] == "," else -1
                    if country > 0:
                        end = country
                    continue
                if r > q and (r >= n or T[r] in (".", ",") or "\n" in self.gap(r)):
                    end, last = r, "city"  # "Fitzroy VIC": a region code and no postcode
                    continue
            if sep in ("comma", "dash"):
                if sep == "dash" and c - k > 4:
                    break
                if (
                    c < n
                    and last != "postal"
                    and not (
                        T[c] in (",", ".", ";", ")", "!", "?", "/", ":", "-", "–", '"', "'", "’", "”", "»")
                        or "\n" in self.gap(c)
                        or L[c] in STOP
                        or L[c] in CONJUNCTIONS
                    )
                ) and not self._city_then_prose(k, c, last):
                    break  # "..., Klingel oben links": words that go on are not a city
                end, last = c, "city"
                continue
            if sep == "space":  # after a postcode or unit: "D96NEFK Oonagh Ville", "Apt. 584 HEILIGENBRUNN France"
                if last == "unit" and not (self.informative(k) or self.real_city(k, c)):
                    break
                end, last = c, "city"
                continue
            # a line of words alone: a city when a postcode follows, a country, or the last line of an address
            # that has its postcode already
            line_end = c >= n or "\n" in self.gap(c)
            if line_end and (
                self.line_has_postcode(c) or all(L[m] in COUNTRIES for m in range(k, c) if self.is_word(m))
            ):
                end, last = c, "city"
                continue
            sentence_end = (
                c < n
                and T[c] in (".", "!", "?", ";")
                and (c + 1 >= n or "\n" in self.gap(c + 1) or (self.gap(c + 1) == " " and T[c + 1][:1].isupper()))
            )
            if (line_end or sentence_end) and postal >= 2 and c - k <= 3 and last in ("postal", "city"):
                end, last = c, "city"  # "...\n7390DO\nBenningbroek. Then ..."
                break
            if c < n and T[c] == "," and not line_end and self.line_has_postcode(c):
                end, last = c, "city"
                continue
            break
        return end, postal, unit

    def _city_then_prose(self, k: int, c: int, last: str) -> bool:
        """After a street and a comma, 1-3 capitalised words that are no English words, then an English sentence
        going on ("386 Collins Greens, Davisburgh tomorrow", "..., South Patiencefort with her dog"): a city."""
        if last != "street" or c - k > 3 or self.lex is None or not self.informative(k):
            return False
        words = [m for m in range(k, c) if self.is_word(m)]
        named = all(self.T[m][:1].isupper() and not self.lex.common(self.L[m]) or self.L[m] in DIRECTIONS
                    for m in words)
        return bool(words) and named and self.T[c][:1].islower() and (self.L[c] in STOP or self.lex.common(self.L[c]))

    def coordinated(self, j: int) -> int:
        """ "... and Elm Road", "... y Calle Mayor": the index after a street joined by a conjunction, or -1."""
        n = self.n
        if j + 1 < n and self.L[j] in CONJUNCTIONS and "\n" not in self.gap(j) and "\n" not in self.gap(j + 1):
            k = j + 1
            got = self.street_line(k)
            if got and got[2] >= 0:
                end = got[1]
                return end
            nm = self.street_name(k)
            if nm:
                return nm[0]
        return -1

    def in_cue(self, pos: int, near: bool = False) -> bool:
        """Is pos within 100 characters after an address cue (`near`: right after it, on its line or the next)?"""
        i = bisect_right(self.cues, pos) - 1  # the last cue ending at or before pos
        if i < 0:
            return False
        a = self.cues[i]
        if near:
            return not self.text[a:pos].strip(" \t\n:-")
        return pos - a <= 100

    # -- the whole text ---------------------------------------------------------------------------------------------

    def corner_spans(self) -> list[tuple[int, int]]:
        """ "the corner of A and B": A and B are short runs of words or numbers, one of them street-like."""
        out = []
        for m in _CORNER.finditer(self.text):
            k = self._tok_after(m.end())
            a = self._side(k, stop_at_conj=True)
            if a is None:
                continue
            a_end, a_street = a
            if a_end >= self.n or not (self.L[a_end] in CONJUNCTIONS or self.L[a_end] in ("with", "con", "/")):
                continue
            b = self._side(a_end + 1, stop_at_conj=False)
            if b is None:
                continue
            b_end, b_street = b
            if a_street or b_street:
                out.append((k, b_end))
        return out

    def _side(self, k: int, stop_at_conj: bool) -> tuple[int, bool] | None:
        j, words, street = k, 0, False
        while j < self.n and j - k < 7:
            if j > k and "\n" in self.gap(j):
                break
            t, low = self.T[j], self.L[j]
            if stop_at_conj and (low in CONJUNCTIONS or low in ("with", "con") or t == "/"):
                break
            if t[:1].isdigit():
                street = street or self.house(j)
                j += 1
                continue
            if t == "." and self.adjacent(j):
                j += 1
                continue
            if t in ("-", "'", "’") and self.adjacent(j):
                j += 1
                continue
            if not self.is_word(j):
                break
            if low in PARTICLES and words:
                j += 1
                continue
            if low in STOP and not t[:1].isupper():
                break
            if self.fused(j) or self.suffix_word(j)[0] or self.prefix_word(j)[0]:
                street = True
            elif low.endswith("str") and len(low) >= 5 and self.dot(j + 1) > j + 1:
                street = True  # "jankstr."
            words += 1
            j += 1
        while j > k and (self.L[j - 1] in PARTICLES or self.T[j - 1] in ("-", "'", "’")):
            j -= 1
        if j == k or (self.T[j - 1] == "." and j - 1 > k and not self.L[j - 2].endswith("str")):
            j = j - 1 if j > k and self.T[j - 1] == "." else j
        return (j, street) if j > k else None

    def run(self) -> list[tuple[int, int, float]]:
        n, S, E = self.n, self.S, self.E
        spans: list[tuple[int, int, float]] = []
        for a, b in self.corner_spans():
            spans.append((S[a], E[b - 1], 0.8))
        done = 0  # tokens before this one belong to an address already
        for i in self.candidates():
            if i < done:
                continue
            found = self.anchor(i)
            if found is not None:
                start, end, score = found
                spans.append((S[start], E[end - 1], score))
                done = max(end, i + 1)
        # Japanese and Chinese addresses, written without spaces
        if _CJK.search(self.text):
            spans += self.cjk_spans()
        # a postcode after "ZIP:" on its own
        for m in _ZIP_CUE.finditer(self.text):
            k = self._tok_after(m.end())
            p = self.postcode(k) if k < n and S[k] == m.end() else -1
            if p > 0:
                spans.append((S[k], E[p - 1], 0.7))
        return spans

    def cjk_spans(self) -> list[tuple[int, int, float]]:
        """Japanese and Chinese addresses: the numeric core ("16丁目3番18号", "路88号", "街F座") and the Han place names
        written before it (at most 24 characters: prefecture, city, ward, road)."""
        text, out = self.text, []
        for core, marks in ((_JP_CORE, "市区町村郡"), (_CN_CORE, "")):
            for m in core.finditer(text):
                start = m.start()
                while start > 0 and m.start() - start < 24 and _CJK.match(text, start - 1):
                    start -= 1
                head = text[start : m.start()]
                if not head or (marks and not any(c in head for c in marks)):
                    continue
                end = m.end()
                extra = (_JP_BUILDING if marks else _CN_POSTCODE).match(text, end)
                if extra:
                    end = extra.end()
                before = _JP_POSTCODE_BEFORE.search(text, max(0, start - 12), start)
                out.append((before.start() if before else start, end, 0.85))
        return out

    def candidates(self) -> list[int]:
        """Tokens an address may start at, in order: every anchor holds a number or a street-type word within a few
        tokens of its start (or starts with a type, unit, box or military word), so only those are tried."""
        T, L, n = self.T, self.L, self.n
        near: set[int] = set()
        for k in range(n):
            t = T[k]
            c = t[0]
            if c.isdigit():
                near.update(range(max(0, k - 4), k + 1))
            elif c.isalpha():
                low = L[k]
                if low in START_WORDS:
                    near.add(k)
                elif low in SUFFIX_ALL or low.endswith(_FUSED_ALL) or low.endswith("str"):
                    near.update(range(max(0, k - 7), k + 1))
        return sorted(near)

    def anchor(self, i: int) -> tuple[int, int, float] | None:
        """The address that starts at token i, grown over its tail: (start token, end token, score), or None."""
        n, T, L = self.n, self.T, self.L
        low = L[i]
        # US military: "PSC 1234, Box 5678", "Unit 2050 Box 4190", then "APO AE 09012"
        if low in ("psc", "cmr", "unit"):
            m = _MIL_UNIT.match(self.text, self.S[i])
            if m:
                end, _, _ = self.tail(self._tok_after(m.end()), street=False)
                return i, end, 0.85
        if low in ("apo", "fpo", "dpo"):
            m = _MIL_LINE.match(self.text, self.S[i])
            if m:
                return i, self._tok_after(m.end()), 0.85
        if low in SHIP_PREFIXES and (T[i].isupper() or not self.informative(i)):
            # "USS Nimitz\nFPO AP 96620": a ship's name is an address with its FPO line
            j = i + 1
            while j < n and j - i <= 3 and self.is_word(j) and "\n" not in self.gap(j) and L[j] not in STOP:
                j += 1
            r = self.region_paren(j) if j < n else -1
            j = r if r > 0 else j
            if j > i + 1:
                end, postal, _ = self.tail(j, street=False)
                if postal == 3:
                    return i, end, 0.85
        # Russian settlement before its street: "г. Тверь, ул. Советская, д. 7"
        if low in SETTLEMENTS and i + 1 < n:
            j = self.dot(i + 1)
            if j > i + 1 or low in ("пгт", "клх", "снт"):
                e, words, caps = self.names(j, limit=3)
                if words and caps and e + 1 < n and T[e] == ",":
                    got = self.street_line(e + 1)
                    if got and got[2] == 2:
                        end, _, _ = self.tail(got[1], street=True)
                        return i, end, 0.85
        # Vietnamese: "Số 4/81/376 Hẻm 42 ...", "274 Khóm 62 phố 20"
        if (low in VN_UNITS and i + 1 < n and self.house(i + 1)) or (
            self.house(i) and i + 2 < n and L[i + 1] in VN_UNITS and self.house(i + 2)
        ):
            u = i + 2 if low in VN_UNITS else i + 3
            end, _, _ = self.tail(u, street=False, after_unit=True, vn=True)
            if end > u or low == "số":
                return i, end, 0.8
        # post-office boxes
        if low in POBOX_START:
            b = self.pobox(i)
            if b > 0:
                end, postal, unit = self.tail(b, street=False, after_unit=True)
                if low != "box" or postal or self.in_cue(self.S[i]):
                    return i, end, 0.85
        # units on their own, or before a street: "Apt. 902", "Flat 43 181 Hernandez Gate", "H.No. 19, Dhawan Circle"
        if (low in UNIT_WORDS and (low in UNIT_ALONE or len(low) >= 4 or self.dot(i + 1) > i + 1)) or (
            low in ("h", "house", "plot", "door")
        ):
            u = self.unit(i, alone=True)
            if u > 0:
                end, postal, _ = self.tail(u, street=False, after_unit=True)
                num = T[u - 1]
                strong = low in UNIT_ALONE or (low in ("h", "house", "plot", "door") and end > u)
                if low == "flat" and self.informative(i) and not T[i][:1].isupper() and end == u:
                    strong = False
                if low == "unit" and (any(c.isalpha() for c in num) or T[u - 2] == "#"):
                    strong = True
                if self.year_like(u - 1) or self._measure(u):
                    strong = False
                if strong or postal or end > u or self.in_cue(self.S[i]):
                    return i, end, 0.8 if strong or postal else 0.7
        # street lines
        got = self.street_line(i)
        bare = comma = False
        if got is None:
            got = self.bare_line(i)
            if got is None:
                return None
            comma = got[2]
            got = (got[0], got[1], 0)
            bare = True
        start, end, strength = got
        if (
            start > 0
            and T[start - 1].isdigit()
            and len(T[start - 1]) <= 4
            and self.gap(start) == " "
            and (self.house(start - 1))
        ):
            start -= 1  # a flat or building number before the house number: "19 1755 Nelson Mandela Drive"
        end2, postal, unit = self.tail(end, street=True)
        cue = self.in_cue(self.S[start])
        if strength == 2:
            score = 0.85
        elif strength == 1 and (postal == 3 or unit or cue):
            score = 0.75
        elif strength == 0 and not bare and (postal == 3 or unit):
            score = 0.7
        elif bare and (
            postal == 3
            or (not comma and self.in_cue(self.S[start], near=True))
            or (unit and end2 > end + 1 and (T[end] == "," or "\n" in self.gap(end)))
        ):
            score = 0.7
        else:
            return None
        coord = self.coordinated(end2) if not bare else -1  # "12 Main St and Elm Road"
        return start, coord if coord > 0 else end2, score


class StreetAddressRecognizer(Recognizer):
    """Postal addresses of many countries: street lines in both number orders, post-office boxes, US military lines,
    units, corners, with their postcode / city / region / country tails (see the module docstring)."""

    ENTITY = "STREET_ADDRESS"
    NAME = "PairforgeStreetAddressRecognizer"

    def analyze(self, text, entities, nlp_artifacts=None):
        if not _DIGIT.search(text) and not _CORNER.search(text) and not _NO_DIGIT_HINT.search(text):
            return []  # with no digit, only "the corner of A and B", "rue de Neveu" or "Praça X, S/N" can be one
        out = []
        for start, end, score in _Parse(text, self.lex).run():
            if end > start:
                out.append(self.result(start, end, score))
        return out
