"""Word lists behind the claim rules: cues, roles, hedges, units, places, organisations.

Plain constants, no I/O: the rules in claims_*.py read them as frozensets and dicts. Entries are
lower-case unless stated otherwise. Each list says why it exists; extend a list rather than adding a
special case to a rule.
"""

from __future__ import annotations


def words(block: str) -> list[str]:
    """The whitespace-separated words of a block: keeps long lists readable."""
    return block.split()


# --- attribution ----------------------------------------------------------------------------------

# Finite verbs of communication: "X said", "X warned that ...". A verb here makes X a speaker only
# when X looks like one (a name, an organisation, a pronoun or a speaker noun such as "officials").
FINITE_CUES: frozenset[str] = frozenset(
    words("""
    said says say told tells stated states added adds noted notes warned warns explained explains
    stressed stresses emphasized emphasizes emphasised emphasises affirmed affirms declared declares
    argued argues insisted insists claimed claims announced announces confirmed confirms
    acknowledged acknowledges reiterated reiterates underscored underscores highlighted highlights
    clarified clarifies revealed reveals described describes predicted predicts estimated estimates
    reported reports wrote writes urged urges denied denies conceded concedes admitted admits
    replied replies responded responds commented comments signaled signals signalled asserted
    asserts maintained maintains disclosed discloses forecast forecasts projected cautioned cautions
    complained complains boasted boasts expressed expresses questioned questions announced
    predicted proposed proposes recommended recommends suggested indicated indicates
    contended contends countered counters observed observes remarked remarks repeated
    mentioned mentions recalled recalls vowed vows pledged pledges promised promises threatened
    threatens alleged alleges accused accuses criticized criticised criticizes criticises praised
    praises objected objects protested protests blamed blames
    note warn argue insist claim estimate predict urge deny concede contend maintain stress
    emphasize emphasise acknowledge report announce confirm
    """)
)

# Participles that attach a statement to the clause's subject: "..., saying the plan ...".
PARTICIPLE_CUES: frozenset[str] = frozenset(
    words("""
    saying adding noting warning explaining stressing emphasizing emphasising arguing insisting
    claiming stating declaring telling describing affirming reiterating acknowledging signaling
    signalling asserting cautioning predicting confirming announcing suggesting indicating urging
    """)
)

# Multi-word cues, matched on lower-cased token sequences (the first token is the key).
PHRASE_CUES: tuple[tuple[str, ...], ...] = (
    ("made", "it", "clear"),
    ("made", "clear"),
    ("makes", "it", "clear"),
    ("pointed", "out"),
    ("points", "out"),
    ("called", "for"),
    ("calls", "for"),
)

# A cue under one of these is not a statement: "did not specify", "declined to say".
CUE_NEGATORS: frozenset[str] = frozenset(words("not n't never declined refused unable failed"))

# Words that may stand between a speaker and its verb: "Kyiv has repeatedly emphasized", "The
# Kremlin on Friday described". Weekday names are added by the rule.
SPEAKER_VERB_FILLERS: frozenset[str] = frozenset(
    words("""
    has have had was were is are will would also again further repeatedly earlier previously
    later publicly privately separately then on yesterday today tonight last this week month year
    recently initially first once now still already just had been here there
    """)
)

# Heads of a speaker noun phrase that is not a name: "officials said", "the company said".
SPEAKER_NOUNS: frozenset[str] = frozenset(
    words("""
    official officials analyst analysts economist economists expert experts diplomat diplomats
    source sources spokesman spokeswoman spokesperson spokesmen spokeswomen spokespeople
    police authorities authority government governments ministry ministries company companies
    firm firms bank banks banker bankers trader traders dealer dealers broker brokers
    seismologist seismologists scientist scientists researcher researchers doctor doctors
    observer observers critic critics witness witnesses resident residents leader leaders
    negotiator negotiators lawmaker lawmakers legislator legislators minister ministers
    executive executives investor investors participant participants delegate delegates
    outlet outlets media newspaper newspapers agency agencies group groups union unions
    board committee council court courts prosecutor prosecutors military army forces
    administration commission department office utility producer producers manufacturer
    manufacturers industry sources officers officer chairman president director directors
    management managers manager spokesmen strategist strategists envoy envoys aide aides
    adviser advisers advisor advisors people person man woman men women teachers workers
    farmers authorities investigators regulators regulator exporters importers merchants
    allies partners backers nations countries members governments sides delegation delegations
    report reports association associations federation institute
    """)
)

# Definite descriptions resolved to an organisation named earlier: "the company said".
GENERIC_ORG_NOUNS: dict[str, tuple[str, ...]] = {
    "company": (
        "corp",
        "corporation",
        "inc",
        "co",
        "ltd",
        "plc",
        "group",
        "ag",
        "sa",
        "nv",
        "company",
    ),
    "firm": (
        "corp",
        "corporation",
        "inc",
        "co",
        "ltd",
        "plc",
        "group",
        "ag",
        "sa",
        "nv",
        "company",
    ),
    "group": (
        "group",
        "association",
        "organization",
        "organisation",
        "council",
        "federation",
        "union",
        "corp",
        "inc",
        "co",
        "ltd",
        "plc",
    ),
    "association": ("association",),
    "bank": ("bank", "banque", "bancorp"),
    "ministry": ("ministry",),
    "agency": ("agency",),
    "utility": ("power", "electric", "utilities", "energy"),
}

# Heads of a role or title: "Kremlin spokesman Dmitry Peskov", "Jim Townsend, senior fellow at ...".
ROLE_HEADS: frozenset[str] = frozenset(
    words("""
    president vice-president minister secretary spokesman spokeswoman spokesperson aide adviser
    advisor envoy speaker chancellor chairman chairwoman chair chief director governor senator
    ambassador official analyst economist general commander leader premier king queen prince mayor
    head executive ceo deputy fellow negotiator representative lawmaker congressman congresswoman
    judge attorney prosecutor professor manager trader dealer strategist banker officer editor
    correspondent founder partner counsel treasurer commissioner coordinator councillor
    councilman chancellor-elect president-elect economist-in-chief sheikh emir monarch pope
    cardinal bishop admiral colonel captain lieutenant sergeant marshal superintendent inspector
    administrator controller comptroller diplomat member researcher scientist expert lawyer
    spokesmen director-general secretary-general
    """)
)

# Lower-case words that may sit inside a role before its head: "top Kremlin adviser".
ROLE_MODIFIERS: frozenset[str] = frozenset(
    words("""
    top senior special deputy former acting chief foreign finance press vice executive assistant
    general state federal national regional managing associate principal lead interim
    prime defence defense trade economy economic energy oil interior justice health
    labor labour agriculture industry transport treasury policy security military
    financial international chief-executive research political
    """)
)

# Lower-case particles inside a person's name: "Barend du Plessis", "Charles de Gaulle".
NAME_PARTICLES: frozenset[str] = frozenset(words("de du da del della van von der den le la bin al"))

# Courtesy titles before a name: "Mr. Putin".
HONORIFICS: frozenset[str] = frozenset(words("mr mrs ms miss dr sir dame lord lady prof"))

# Pronouns that can name a speaker, by kind.
PERSON_PRONOUNS: frozenset[str] = frozenset(words("he she"))
GROUP_PRONOUNS: frozenset[str] = frozenset(words("it they"))

# Nouns that make "the Russian leader" mean the person whose role has one of these heads.
ROLE_HEAD_SYNONYMS: dict[str, frozenset[str]] = {
    "leader": frozenset({"president", "premier", "minister", "chancellor", "king", "leader"}),
    "president": frozenset({"president"}),
    "spokesman": frozenset({"spokesman", "spokeswoman", "spokesperson"}),
    "spokeswoman": frozenset({"spokesman", "spokeswoman", "spokesperson"}),
    "spokesperson": frozenset({"spokesman", "spokeswoman", "spokesperson"}),
    "chancellor": frozenset({"chancellor"}),
    "minister": frozenset({"minister"}),
    "premier": frozenset({"premier", "minister"}),
    "envoy": frozenset({"envoy"}),
    "aide": frozenset({"aide", "adviser", "advisor"}),
    "adviser": frozenset({"aide", "adviser", "advisor"}),
    "secretary": frozenset({"secretary"}),
    "chairman": frozenset({"chairman", "chairwoman", "chair"}),
    "governor": frozenset({"governor"}),
}

# --- sentence shape -------------------------------------------------------------------------------

# Abbreviations that never end a sentence before a capitalised word ("Mr. Putin", "Jan. 5").
TITLE_ABBREVIATIONS: frozenset[str] = frozenset(
    words("""
    mr mrs ms dr prof gen gov sen rep st lt col capt sgt rev hon jr sr no vs etc jan feb mar apr
    jun jul aug sep sept oct nov dec corp inc co ltd bros dept est fig approx maj adm cmdr mt ft
    """)
)

# Words that start a new sentence after an abbreviation such as "U.S." ("... the U.S. The talks").
SENTENCE_STARTERS: frozenset[str] = frozenset(
    words("""
    the a an he she it they we i you this that these those there his her its their our but and
    however meanwhile in on at for after before while although though if when as so yet still
    officials analysts some many most no one two three
    """)
)

# A sentence opening with one of these is a call to action, not a claim.
CALL_TO_ACTION_OPENERS: frozenset[str] = frozenset(
    words("""
    click subscribe sign follow share read watch listen download join contact visit register
    log email send tap scroll see learn discover find donate support comment
    """)
)

# Captions and credits: a sentence containing one of these markers is not a claim.
CAPTION_MARKERS: tuple[str, ...] = (
    "photo:",
    "photograph:",
    "image:",
    "file photo",
    "getty images",
    "reuters/",
    "(ap photo",
    "ap photo/",
    "afp via getty",
    "illustration",
    "pictured",
    "your email address",
    "all rights reserved",
)

# --- hedging, polarity, direction -----------------------------------------------------------------

# Words and phrases that weaken a claim ("Russia may be using delay tactics").
HEDGES: tuple[str, ...] = (
    "may",
    "might",
    "could",
    "reportedly",
    "allegedly",
    "possibly",
    "perhaps",
    "maybe",
    "likely",
    "unlikely",
    "probably",
    "apparently",
    "appeared to",
    "appears to",
    "appear to",
    "seems",
    "seemed",
    "suggests",
    "suggested",
    "is said to",
    "are said to",
    "was said to",
    "were said to",
    "reported to",
    "believed to",
    "expected to",
    "potentially",
    "rumoured",
    "rumored",
    "unconfirmed",
    "speculation",
    "estimated",
)

# The writer's analysis rather than a fact ("The statement suggests ...", "It remains unclear").
ANALYSIS_WORDS: tuple[str, ...] = (
    *words("""
    suggest suggests underscore underscores reflect reflects indicate indicates signal signals
    highlight highlights illustrate illustrates
    """),
    "means that",
    "matters because",
    "remain to be seen",
    "remains to be seen",
    "remain unclear",
    "remains unclear",
)
# A forecast is no checkable assertion.
FORECAST_WORDS: tuple[str, ...] = tuple(words("will would could might may should must"))

# Negators for claim matching ("rose" vs "did not rise"). Quantifier phrases are not negation.
NEGATORS: frozenset[str] = frozenset(
    words("not no never n't cannot without none nor neither denied denies deny refused rejected")
)
NON_NEGATING_PHRASES: tuple[str, ...] = (
    "not all",
    "not only",
    "not just",
    "if not",
    "no later than",
)

# Direction of change: claims must agree on it to match ("rose to 4.4%" vs "fell to 4.4%").
DIRECTION_UP: frozenset[str] = frozenset(
    words("""
    rose rise rises rising risen increase increased increases increasing grew grow grows growing
    gained gain gains climbed climb climbs jumped jump jumps surged surge surges soared soar
    up higher raised raise raises boosted expanded
    """)
)
DIRECTION_DOWN: frozenset[str] = frozenset(
    words("""
    fell fall falls falling fallen decrease decreased decreases decreasing declined decline
    declines declining dropped drop drops dropping slipped slip slips lost lose loses shrank
    shrink shrinks plunged plunge plunges slumped slump tumbled tumble down lower cut cuts
    reduced reduce reduces eased ease eases contracted
    """)
)

# --- numbers --------------------------------------------------------------------------------------

NUMBER_WORDS: dict[str, float] = {
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
    "dozens": 24,
    "hundreds": 200,
    "thousands": 2000,
}

# Scale words after a number: "27.8 billion dlrs", "5.1 mln".
SCALES: dict[str, float] = {
    "thousand": 1e3,
    "million": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bln": 1e9,
    "bn": 1e9,
    "trillion": 1e12,
    "trln": 1e12,
}

# Unit words after a number, mapped to a canonical unit.
UNITS: dict[str, str] = {
    "pct": "percent",
    "percent": "percent",
    "per": "percent",  # "per cent"; the rule checks the following "cent"
    "%": "percent",
    "percentage": "percentage point",
    "dlrs": "USD",
    "dlr": "USD",
    "dollars": "USD",
    "dollar": "USD",
    "$": "USD",
    "usd": "USD",
    "cts": "US cent",
    "cents": "US cent",
    "yen": "JPY",
    "¥": "JPY",
    "stg": "GBP",
    "sterling": "GBP",
    "pounds": "GBP",
    "£": "GBP",
    "marks": "DEM",
    "francs": "FRF",
    "euros": "EUR",
    "euro": "EUR",
    "€": "EUR",
    "rubles": "RUB",
    "roubles": "RUB",
    "yuan": "CNY",
    "rupees": "INR",
    "pesos": "peso",
    "lire": "ITL",
    "tonnes": "tonne",
    "tonne": "tonne",
    "tons": "tonne",
    "ton": "tonne",
    "barrels": "barrel",
    "barrel": "barrel",
    "bpd": "barrel per day",
    "ounces": "ounce",
    "ozs": "ounce",
    "bushels": "bushel",
    "shares": "share",
    "share": "share",
    "points": "point",
    "point": "point",
    "kilometres": "km",
    "kilometers": "km",
    "km": "km",
    "miles": "mile",
    "mile": "mile",
    "metres": "m",
    "meters": "m",
    "hectares": "hectare",
    "acres": "acre",
    "years": "year",
    "year": "year",
    "months": "month",
    "month": "month",
    "weeks": "week",
    "week": "week",
    "days": "day",
    "day": "day",
    "hours": "hour",
    "hour": "hour",
    "minutes": "minute",
    "people": "person",
    "persons": "person",
    "person": "person",
    "individuals": "person",
    "others": "person",
    "employees": "employee",
    "workers": "worker",
    "jobs": "job",
    "troops": "troop",
    "soldiers": "soldier",
    "drones": "drone",
    "missiles": "missile",
    "buildings": "building",
    "banks": "bank",
    "vehicles": "vehicle",
    "cars": "car",
    "votes": "vote",
    "seats": "seat",
}

# A 4-digit number in this range with no unit is a year, not a quantity.
YEAR_RANGE: tuple[int, int] = (1800, 2100)

MONTHS: frozenset[str] = frozenset(
    words("""
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    """)
)
WEEKDAYS: frozenset[str] = frozenset(
    words("monday tuesday wednesday thursday friday saturday sunday")
)

# --- entities -------------------------------------------------------------------------------------

# Places, lower-case. Countries, their capitals and a few regions often in the news; demonyms map to
# their country through DEMONYMS.
PLACES: frozenset[str] = frozenset(
    words("""
    afghanistan albania algeria angola argentina armenia australia austria azerbaijan bahrain
    bangladesh belarus belgium bolivia bosnia brazil britain bulgaria burma cambodia cameroon
    canada chile china colombia congo croatia cuba cyprus czechoslovakia denmark ecuador egypt
    england estonia ethiopia finland france georgia germany ghana greece guatemala haiti honduras
    hungary iceland india indonesia iran iraq ireland israel italy jamaica japan jordan kazakhstan
    kenya korea kuwait kyrgyzstan laos latvia lebanon libya lithuania luxembourg malaysia mexico
    moldova mongolia morocco mozambique myanmar nepal netherlands nicaragua niger nigeria norway
    oman pakistan panama paraguay peru philippines poland portugal qatar romania russia rwanda
    scotland senegal serbia singapore slovakia slovenia somalia spain sudan sweden switzerland
    syria taiwan tajikistan tanzania thailand tunisia turkey turkmenistan uganda ukraine
    uruguay uzbekistan venezuela vietnam wales yemen yugoslavia zaire zambia zimbabwe
    europe asia africa america americas antarctica arctic
    moscow kyiv kiev washington london paris berlin beijing tokyo brussels geneva vienna rome
    madrid lisbon warsaw prague budapest bucharest sofia athens ankara istanbul tehran baghdad
    damascus beirut jerusalem cairo riyadh dubai doha delhi mumbai karachi islamabad kabul
    dhaka bangkok manila jakarta seoul pyongyang taipei hanoi singapore sydney canberra
    wellington ottawa toronto montreal chicago houston boston dallas detroit atlanta miami
    seattle denver phoenix philadelphia anchorage alaska hawaii california texas florida
    brasilia rio buenos lima santiago bogota caracas havana nairobi lagos johannesburg
    pretoria frankfurt zurich amsterdam stockholm oslo copenhagen helsinki dublin edinburgh
    minsk tbilisi yerevan baku almaty bishkek tashkent kupyansk zaporizhzhia kharkiv odesa
    donbas donetsk luhansk crimea kherson cheboksary whakatane waikato kuala lumpur
    hong kong new york jersey zealand york
    """)
)

# Multi-word places, lower-case, matched as a whole capitalised sequence.
MULTIWORD_PLACES: frozenset[str] = frozenset(
    {
        "united states",
        "united kingdom",
        "new york",
        "new zealand",
        "new jersey",
        "hong kong",
        "south africa",
        "south korea",
        "north korea",
        "saudi arabia",
        "united arab emirates",
        "sri lanka",
        "el salvador",
        "costa rica",
        "puerto rico",
        "west germany",
        "east germany",
        "soviet union",
        "black sea",
        "north sea",
        "middle east",
        "latin america",
        "north america",
        "south america",
        "western europe",
        "eastern europe",
        "bay of plenty",
        "north island",
        "south island",
        "kuala lumpur",
        "buenos aires",
        "rio de janeiro",
        "los angeles",
        "san francisco",
        "persian gulf",
        "gulf",
    }
)

# Aliases folded together for entities and matching.
PLACE_ALIASES: dict[str, str] = {
    "u.s.": "United States",
    "us": "United States",
    "usa": "United States",
    "u.s.a.": "United States",
    "america": "United States",
    "united states": "United States",
    "u.k.": "United Kingdom",
    "uk": "United Kingdom",
    "britain": "United Kingdom",
    "kiev": "Kyiv",
    "dprk": "North Korea",
}

# Demonyms that name a country in claim matching ("Russian officials" ~ "Russia").
DEMONYMS: dict[str, str] = {
    "russian": "russia",
    "russians": "russia",
    "ukrainian": "ukraine",
    "ukrainians": "ukraine",
    "american": "united states",
    "americans": "united states",
    "u.s.": "united states",
    "us": "united states",
    "british": "united kingdom",
    "german": "germany",
    "french": "france",
    "chinese": "china",
    "japanese": "japan",
    "european": "europe",
    "philippine": "philippines",
    "brazilian": "brazil",
    "mexican": "mexico",
    "canadian": "canada",
    "indian": "india",
    "israeli": "israel",
    "iranian": "iran",
    "iraqi": "iraq",
    "saudi": "saudi arabia",
    "soviet": "soviet union",
    "italian": "italy",
    "spanish": "spain",
    "dutch": "netherlands",
    "swiss": "switzerland",
    "australian": "australia",
}

# Seats of power and capitals standing for their country in matching ("the Kremlin said").
METONYMS: dict[str, str] = {
    "kremlin": "russia",
    "moscow": "russia",
    "kyiv": "ukraine",
    "kiev": "ukraine",
    "washington": "united states",
    "white house": "united states",
    "pentagon": "united states",
    "beijing": "china",
    "tokyo": "japan",
    "london": "united kingdom",
    "downing street": "united kingdom",
    "paris": "france",
    "elysee": "france",
    "berlin": "germany",
    "bonn": "germany",
    "brussels": "europe",
}

# Words that make a capitalised sequence an organisation.
ORG_WORDS: frozenset[str] = frozenset(
    words("""
    corp corporation inc co ltd plc llc group bank bancorp ministry council commission committee
    party administration agency department office fund association union organization
    organisation exchange board reserve treasury kremlin parliament congress senate house
    assembly court army navy forces police institute university college center centre
    foundation authority airlines airways motors industries holdings trust securities
    partners capital investments petroleum oil energy electric power telecom communications
    systems technologies international federation alliance league network news times post
    journal press service services company companies cabinet government nato opec cia fbi
    imf gatt ec eu un csto opec
    """)
)

# Organisations known by one name.
KNOWN_ORGS: frozenset[str] = frozenset(
    words("""
    kremlin nato opec eu imf un csto reuters bloomberg pentagon cia fbi gatt ec fed bundesbank
    congress parliament senate
    """)
)

# Capitalised words that start sentences or titles but are not names.
NOT_NAMES: frozenset[str] = frozenset(
    words("""
    the a an this that these those there here he she it they we i you his her its their our my
    your but and or so yet if when while although though because as after before since until
    in on at for of from to by with without about over under into onto between among despite
    during beyond instead still however meanwhile nonetheless nevertheless moreover furthermore
    also then thus hence perhaps according some many most several few all both each every
    other another such no not one two three four five six seven eight nine ten first second
    third last next new former speaking asked mr mrs ms dr monday tuesday wednesday thursday
    friday saturday sunday january february march april may june july august september october
    november december what who which where why how whether long short today yesterday
    tomorrow earlier later only even just now recently analysts officials experts sources
    """)
)

# --- claim matching -------------------------------------------------------------------------------

# Words that carry no content for matching: function words, reporting verbs, fillers.
STOPWORDS: frozenset[str] = (
    frozenset(
        words("""
    a an the and or but if then else of in on at to for from by with without about as into onto
    over under than that this these those there here it its it's he she they them their his her
    we our us you your i me my is are was were be been being am has have had having do does did
    will would shall should can could may might must also just only even still yet so such very
    more most less least much many some any all both each every other another which who whom
    whose what when where why how whether while although though because since until after
    before during between among through against per via said says say told tells stated added
    noted according mr mrs ms dr one ones not no never n't cannot none nor neither s
    """)
    )
    | FINITE_CUES
    | PARTICIPLE_CUES
)

# Content words folded to one form for matching ("proposal" ~ "plan").
SYNONYMS: dict[str, str] = {
    "proposal": "plan",
    "proposals": "plan",
    "framework": "plan",
    "draft": "plan",
    "drafted": "plan",
    "plans": "plan",
    "acceptance": "accept",
    "accepted": "accept",
    "accepts": "accept",
    "accepting": "accept",
    "elements": "element",
    "components": "element",
    "parts": "element",
    "portions": "element",
    "talks": "negotiation",
    "negotiations": "negotiation",
    "negotiation": "negotiation",
    "discussions": "negotiation",
    "dialogue": "negotiation",
    "kremlin": "russia",
    "moscow": "russia",
    "russian": "russia",
    "russians": "russia",
    "kyiv": "ukraine",
    "kiev": "ukraine",
    "ukrainian": "ukraine",
    "washington": "unitedstates",
    "u.s.": "unitedstates",
    "us": "unitedstates",
    "american": "unitedstates",
    "america": "unitedstates",
    "united": "unitedstates",
    "states": "unitedstates",
    "ceasefire": "ceasefire",
    "cease-fire": "ceasefire",
    "truce": "ceasefire",
    "pct": "percent",
    "percent": "percent",
    "dlrs": "usd",
    "dollars": "usd",
    "mln": "million",
    "bln": "billion",
}
