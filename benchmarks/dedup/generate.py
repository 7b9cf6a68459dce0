"""Turn a folder of feeds into a labelled wire-reprint set (issue 3's benchmark data).

Every record carries ``story``: the label. Records with one story are the same story (a reprint
cluster); records of different stories must stay apart. What gets generated:

* originals: a deterministic sample of the feeds' stories. Natural near-duplicates inside the
  feeds (Reuters-21578 carries re-filed and corrected copies whose labels nobody knows) are left
  out of the sample, so every original is its own story.
* reprints of originals, each with one main phenomenon and a few cosmetic ones, exactly the list
  of issue 3: new headline; dateline/byline; tail trimmed to 40-85 % of the words; one- or
  two-paragraph brief; local paragraph(s) inserted; boilerplate inserted; curly quotes, dashes,
  double spaces; UK vs US spelling; a sentence dropped; paragraphs merged or split; the body as
  HTML in one feed and plain text in another; write-throughs that keep most of the text.
* traps, each its own story: templated siblings of originals (the same text with other names and
  numbers), templated job-cut and game-result briefs, roundups quoting the opening paragraph of
  several stories, and the seed articles (different stories about one event).

Output (``--out``): ``records.jsonl`` (article rows as the Normalize stage makes them, plus
``story`` and ``kind``), ``labels.csv`` (url, story, kind) and ``feeds/*.xml`` (RSS 2.0 per
outlet, for a run of the full pipeline). Same input and ``--seed`` -> byte-identical output.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import feedparser
from datasketch import MinHash, MinHashLSH

OUTLETS = (
    "wire",
    "daily-courier",
    "the-ledger",
    "metro-news",
    "globe-post",
    "evening-star",
    "business-desk",
    "market-watch",
    "capital-times",
    "harbour-herald",
)
HTML_OUTLETS = frozenset({"globe-post", "evening-star", "harbour-herald"})
CITIES = (
    "LONDON",
    "SYDNEY",
    "TORONTO",
    "SINGAPORE",
    "JOHANNESBURG",
    "DUBLIN",
    "MUMBAI",
    "AUCKLAND",
)
AGENCIES = ("Wire", "Agencies", "Staff", "AP-Dow", "Newswire")
REPORTERS = (
    "Staff Reporter",
    "Jane Mercer",
    "Tom Okafor",
    "Priya Raman",
    "Luis Ortega",
    "Anna Kowalski",
    "Our Correspondent",
)
BOILERPLATE = (
    "Advertisement",
    "Share this article",
    "Copyright {year} {outlet}. All rights reserved.",
    "Read more: {headline}",
    "Sign up for our morning briefing",
    "Follow us on social media for the latest updates",
    "Related: {headline}",
)
# UK <-> US pairs a copy desk changes; applied in whichever direction the text allows.
SPELLING = (
    ("colour", "color"),
    ("favour", "favor"),
    ("labour", "labor"),
    ("honour", "honor"),
    ("harbour", "harbor"),
    ("neighbour", "neighbor"),
    ("behaviour", "behavior"),
    ("organisation", "organization"),
    ("organise", "organize"),
    ("privatisation", "privatization"),
    ("recognise", "recognize"),
    ("realise", "realize"),
    ("authorise", "authorize"),
    ("analyse", "analyze"),
    ("centre", "center"),
    ("metre", "meter"),
    ("litre", "liter"),
    ("theatre", "theater"),
    ("defence", "defense"),
    ("licence", "license"),
    ("offence", "offense"),
    ("programme", "program"),
    ("travelled", "traveled"),
    ("cancelled", "canceled"),
    ("modelling", "modeling"),
    ("cheque", "check"),
    ("tyre", "tire"),
    ("catalogue", "catalog"),
    ("grey", "gray"),
    ("aluminium", "aluminum"),
    ("judgement", "judgment"),
    ("fulfil", "fulfill"),
    ("enrol", "enroll"),
)
LOCAL_SENTENCES = (
    "In {place}, local officials said they were monitoring the situation closely and would "
    "publish an assessment of the impact on the region by the end of the week.",
    "Business leaders in {place} said the news was likely to weigh on confidence among local "
    "firms, several of which depend on the sectors affected.",
    "A spokesman for the {place} chamber of commerce said members had been briefed and that it "
    "was too early to say what the consequences for employment in the area would be.",
    "Residents of {place} contacted by this newspaper said they had followed the developments "
    "closely, with some expressing concern about what it would mean for prices.",
    "Analysts at a {place} brokerage said they would review their forecasts in light of the "
    "announcement but did not expect any immediate change to their recommendations.",
)
PLACES = (
    "Leeds",
    "Adelaide",
    "Calgary",
    "Cork",
    "Perth",
    "Durban",
    "Wellington",
    "Bristol",
    "Hamilton",
    "Brisbane",
    "Glasgow",
    "Halifax",
)
WRITE_THROUGH_LEADS = (
    "Officials gave further details of the developments later on {day}, adding to an earlier "
    "account of events.",
    "The following story was updated with fresh comment and background on {day}.",
    "Market participants continued to digest the news on {day}, and several analysts issued "
    "revised notes to clients.",
)
FIRST_NAMES = (
    "Acme",
    "Brightline",
    "Cobalt",
    "Dunmore",
    "Eastgate",
    "Fairview",
    "Granite",
    "Harlow",
    "Ironbridge",
    "Juniper",
    "Kestrel",
    "Lakeshore",
    "Meridian",
    "Northfield",
    "Oakridge",
    "Pinecrest",
    "Quayside",
    "Redwood",
    "Silverton",
    "Thornbury",
)
COMPANY_KINDS = (
    "Motors Corp",
    "Steel Inc",
    "Foods Inc",
    "Airlines",
    "Chemicals Corp",
    "Industries Inc",
    "Electronics Co",
    "Textiles Ltd",
)
US_PLACES = (
    ("Toledo", "Ohio"),
    ("Allentown", "Pennsylvania"),
    ("Peoria", "Illinois"),
    ("Flint", "Michigan"),
    ("Dayton", "Ohio"),
    ("Gary", "Indiana"),
    ("Spokane", "Washington"),
    ("Macon", "Georgia"),
)
UNIONS = ("United Auto Workers", "United Steelworkers", "Teamsters", "Machinists union")
TEAMS = (
    "Liverpool",
    "Arsenal",
    "Everton",
    "Chelsea",
    "Tottenham",
    "Manchester United",
    "Nottingham Forest",
    "Luton",
    "Watford",
    "Norwich",
    "Coventry",
    "Wimbledon",
    "Sheffield Wednesday",
    "Southampton",
    "Oxford United",
    "Charlton",
)
PLAYERS = (
    "Ian Rush",
    "Graeme Sharp",
    "Kerry Dixon",
    "Clive Allen",
    "Mark Hughes",
    "Nigel Clough",
    "John Aldridge",
    "Tony Cottee",
    "Gary Lineker",
    "Mick Harford",
)
JOB_CUTS = """{company} said on {weekday} it would cut {jobs:,} jobs at its {city}, {state}, \
plant by the end of {month}, citing weak demand for its products and rising costs.

The company said the cuts would reduce the plant's workforce to {remaining:,} and that most of \
the jobs would go through early retirement and voluntary severance.

{short} said it expected to take a pre-tax charge of about {charge} mln dlrs in the {quarter} \
quarter to cover the cost of the reductions.

The {union} said it would meet company officials next week to discuss the plan."""
GAME_RESULT = """{home} beat {away} {hs}-{as_} at home on {weekday} to move up to {pos} in the \
first division, with {player} scoring twice in the second half.

{away} had taken the lead after {m1} minutes, but {home} equalised in the {m2}th minute and \
scored the winner {m3} minutes from time.

{home} now have {pts} points from {played} matches. The crowd of {crowd:,} was the largest at \
the ground this season."""
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
CALENDAR = frozenset(
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "Jun",
        "Jul",
        "Aug",
        "Sept",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
)
MONTHS = ("April", "May", "June", "July", "September")

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}(?:\s+[A-Z][a-z]{2,})*")


@dataclass(frozen=True)
class Record:
    """One generated article: what a feed item looks like after Read and Normalize."""

    url: str
    title: str
    paragraphs: tuple[str, ...]
    published_at: datetime
    outlet: str
    story: str  # the label: records with one story are the same story
    kind: str  # "original", "reprint:<phenomenon>" or "trap:<kind>"
    as_html: bool = False
    categories: tuple[str, ...] = field(default=())

    @property
    def text(self) -> str:
        if self.as_html:
            return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in self.paragraphs)
        return "\n\n".join(self.paragraphs)


# --- reading the feeds ----------------------------------------------------------------------------


def paragraphs_of(description: str) -> list[str]:
    """Feed text to paragraphs: blank lines or indented lines start one; hard wraps are joined."""
    text = (
        html.unescape(re.sub(r"<[^>]+>", "\n\n", description))
        if "<" in description
        else description
    )
    blocks = re.split(r"\n\s*\n|\n(?=[ \t]{2,}\S)", text)
    paragraphs = [" ".join(block.split()) for block in blocks]
    paragraphs = [p for p in paragraphs if p]
    if paragraphs:
        paragraphs[-1] = re.sub(r"\s*\bREUTERS?\b\s*$", "", paragraphs[-1])
    return [p for p in paragraphs if p]


def read_feeds(folder: Path) -> list[Record]:
    """Every item of every feed file under ``folder``, in file and item order."""
    stories = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix in {".xml", ".rss", ".atom"}):
        feed = feedparser.parse(path.read_bytes())
        for entry in feed.entries:
            paragraphs = paragraphs_of(entry.get("description", "") or entry.get("summary", ""))
            parsed = entry.get("published_parsed")  # feedparser's repair of odd dates, or None
            if not paragraphs or parsed is None:
                continue
            published = datetime(*parsed[:6], tzinfo=timezone.utc)
            link = entry.get("link") or f"{path.name}#{len(stories)}"
            stories.append(
                Record(
                    link,
                    entry.get("title", ""),
                    tuple(paragraphs),
                    published,
                    "wire",
                    story="",
                    kind="original",
                )
            )
    return stories


def _word_shingles(text: str, size: int = 3) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}


def without_natural_duplicates(records: list[Record], threshold: float = 0.5) -> list[Record]:
    """Drop every record that overlaps an earlier one (word 3-gram containment >= threshold).

    Natural copies inside a corpus (re-filed, corrected, weekly notices with one date changed)
    have no trustworthy label; leaving them out keeps "different story" labels true.
    """
    lsh = MinHashLSH(threshold=0.15, num_perm=128)
    kept: list[Record] = []
    sets: dict[str, set[str]] = {}
    openings: set[str] = set()
    for i, record in enumerate(sorted(records, key=lambda r: (r.published_at, r.url))):
        # The same opening words: a re-filed, corrected or extended copy of an earlier story.
        opening = " ".join(re.findall(r"\w+", record.paragraphs[0].lower())[:25])
        if opening in openings:
            continue
        openings.add(opening)
        shingles = _word_shingles("\n".join(record.paragraphs))
        signature = MinHash(num_perm=128, seed=1)
        signature.update_batch(s.encode() for s in shingles)
        overlapping = False
        for other in lsh.query(signature):
            shared = len(shingles & sets[other])
            if shared / min(len(shingles), len(sets[other])) >= threshold:
                overlapping = True
                break
        if overlapping:
            continue
        key = str(i)
        lsh.insert(key, signature)
        sets[key] = shingles
        kept.append(record)
    return kept


# --- phenomena ------------------------------------------------------------------------------------


def sentences(paragraph: str) -> list[str]:
    return _SENTENCE.split(paragraph)


def new_headline(rng: random.Random, title: str) -> str:
    words = title.split()
    styles = [
        lambda: " ".join(words).title(),
        lambda: "UPDATE 1-" + " ".join(words),
        lambda: " ".join(words[: max(3, len(words) - 2)]).capitalize() + ": report",
        lambda: " ".join(reversed(words[:4])).capitalize() + " - " + " ".join(words[4:]).lower(),
    ]
    return rng.choice(styles)() if words else "Latest news"


def add_dateline_byline(rng: random.Random, paragraphs: list[str]) -> list[str]:
    out = list(paragraphs)
    if rng.random() < 0.7:
        out[0] = f"{rng.choice(CITIES)} ({rng.choice(AGENCIES)}) - {out[0]}"
    if rng.random() < 0.6 or out == list(paragraphs):
        out.insert(0, f"By {rng.choice(REPORTERS)}")
    return out


def trim_tail(rng: random.Random, paragraphs: list[str]) -> list[str]:
    """Keep 40-85 % of the words, cut at a sentence end."""
    total = sum(len(p.split()) for p in paragraphs)
    target = total * rng.uniform(0.40, 0.85)
    out: list[str] = []
    count = 0
    for paragraph in paragraphs:
        kept = []
        for sentence in sentences(paragraph):
            if count >= target:
                break
            kept.append(sentence)
            count += len(sentence.split())
        if kept:
            out.append(" ".join(kept))
        if count >= target:
            break
    return out


def brief(rng: random.Random, paragraphs: list[str]) -> list[str]:
    return paragraphs[: rng.choice((1, 2))]


def insert_local(rng: random.Random, paragraphs: list[str]) -> list[str]:
    out = list(paragraphs)
    for _ in range(rng.choice((1, 1, 2))):
        sentence = rng.choice(LOCAL_SENTENCES).format(place=rng.choice(PLACES))
        out.insert(rng.randint(1, len(out)), sentence)
    return out


def insert_boilerplate(
    rng: random.Random, paragraphs: list[str], outlet: str, headline: str
) -> list[str]:
    out = list(paragraphs)
    for _ in range(rng.randint(1, 3)):
        line = rng.choice(BOILERPLATE).format(
            year=1987, outlet=outlet.replace("-", " ").title(), headline=headline
        )
        out.insert(rng.randint(1, len(out)), line)
    return out


def typography(rng: random.Random, paragraphs: list[str]) -> list[str]:
    def curl(paragraph: str) -> str:
        paragraph = re.sub(r'"(\S)', "\u201c\\1", paragraph)
        paragraph = paragraph.replace('"', "\u201d").replace("'", "\u2019")
        paragraph = paragraph.replace(" - ", rng.choice((" \u2014 ", " \u2013 ", " -- ")))
        return paragraph.replace(". ", ".  ") if rng.random() < 0.5 else paragraph

    return [curl(p) for p in paragraphs]


def spellings_in(text: str) -> bool:
    return any(re.search(rf"\b(?:{uk}|{us})", text, re.I) for uk, us in SPELLING)


def respell(rng: random.Random, paragraphs: list[str]) -> list[str]:
    """Swap UK/US spellings, each pair in a random direction (a no-op without any)."""
    changed = "\n\n".join(paragraphs)
    for uk, us in SPELLING:
        source, target = (uk, us) if rng.random() < 0.5 else (us, uk)
        for src, dst in ((source, target), (source.capitalize(), target.capitalize())):
            changed = re.sub(rf"\b{src}(?=(?:s|d|ed|ing|er|ers|al)?\b)", dst, changed)
    return changed.split("\n\n")


def drop_sentence(rng: random.Random, paragraphs: list[str]) -> list[str]:
    spots = [
        (i, j)
        for i, p in enumerate(paragraphs)
        for j in range(len(sentences(p)))
        if (i, j) != (0, 0)
    ]
    if not spots:
        return list(paragraphs)
    i, j = rng.choice(spots)
    kept = [s for k, s in enumerate(sentences(paragraphs[i])) if k != j]
    out = list(paragraphs)
    out[i : i + 1] = [" ".join(kept)] if kept else []
    return out


def merge_split(rng: random.Random, paragraphs: list[str]) -> list[str]:
    out = list(paragraphs)
    if len(out) >= 2:
        i = rng.randrange(len(out) - 1)
        out[i : i + 2] = [out[i] + " " + out[i + 1]]
    splittable = [i for i, p in enumerate(out) if len(sentences(p)) >= 2]
    if splittable:
        i = rng.choice(splittable)
        parts = sentences(out[i])
        cut = rng.randint(1, len(parts) - 1)
        out[i : i + 1] = [" ".join(parts[:cut]), " ".join(parts[cut:])]
    return out


def write_through(rng: random.Random, paragraphs: list[str], published: datetime) -> list[str]:
    """An updated version: a new paragraph or two, one number revised, the rest kept."""
    out = list(paragraphs)
    # An updated figure (not the day of the month in a date).
    figures = [
        (i, m)
        for i, p in enumerate(out)
        for m in _NUMBER.finditer(p)
        if p[: m.start()].split()[-1:] not in ([w] for w in CALENDAR)
    ]
    if figures:
        i, m = rng.choice(figures)
        out[i] = out[i][: m.start()] + _bump(rng, m.group()) + out[i][m.end() :]
    day = WEEKDAYS[published.weekday() % 5]
    added = rng.choice(WRITE_THROUGH_LEADS).format(day=day)
    if rng.random() < 0.5:
        out.insert(1, added)
    else:
        out.append(added)
    if rng.random() < 0.5:
        out.append(rng.choice(LOCAL_SENTENCES).format(place=rng.choice(PLACES)))
    return out


def _bump(rng: random.Random, number: str) -> str:
    digits = number.replace(",", "")
    try:
        value = float(digits)
    except ValueError:
        return number
    bumped = value + rng.choice((1, 2, 3, 5, 10)) if value < 1000 else value * 1.1
    return f"{bumped:.{len(digits.split('.')[1])}f}" if "." in digits else f"{int(bumped)}"


# --- traps ----------------------------------------------------------------------------------------


def templated_sibling(rng: random.Random, record: Record, names: list[str]) -> Record | None:
    """The same template filled with other names and every number changed: a different story.

    None when the record has too few names and numbers to make a convincing sibling.
    """
    mapping: dict[str, str] = {}
    changes = 0

    def other_number(m: re.Match) -> str:
        nonlocal changes
        changes += 1
        return _bump(rng, m.group())

    def other_name(m: re.Match) -> str:
        nonlocal changes
        word = m.group()
        if word in CALENDAR:
            return word
        if word not in mapping:
            mapping[word] = rng.choice(names)
        changes += 1
        return mapping[word]

    paragraphs = tuple(
        _NAME.sub(other_name, _NUMBER.sub(other_number, p)) for p in record.paragraphs
    )
    words = sum(len(p.split()) for p in record.paragraphs)
    if changes < max(4, words // 12):
        return None
    return replace(record, paragraphs=paragraphs, title=_NUMBER.sub(other_number, record.title))


def job_cut(rng: random.Random) -> tuple[str, list[str]]:
    first = rng.choice(FIRST_NAMES)
    city, state = rng.choice(US_PLACES)
    jobs = rng.randrange(200, 4000, 50)
    text = JOB_CUTS.format(
        company=f"{first} {rng.choice(COMPANY_KINDS)}",
        weekday=rng.choice(WEEKDAYS),
        jobs=jobs,
        city=city,
        state=state,
        month=rng.choice(MONTHS),
        remaining=jobs * rng.randint(2, 6),
        short=first,
        charge=rng.randint(10, 90),
        quarter=rng.choice(("first", "second", "third")),
        union=rng.choice(UNIONS),
    )
    return f"{first.upper()} TO CUT {jobs:,} JOBS AT {city.upper()} PLANT", text.split("\n\n")


def game_result(rng: random.Random) -> tuple[str, list[str]]:
    home, away = rng.sample(TEAMS, 2)
    hs = rng.randint(1, 4)
    text = GAME_RESULT.format(
        home=home,
        away=away,
        hs=hs,
        as_=rng.randint(0, hs - 1),
        weekday=rng.choice(WEEKDAYS),
        pos=rng.choice(("second", "third", "fourth", "fifth")),
        player=rng.choice(PLAYERS),
        m1=rng.randint(5, 40),
        m2=rng.randint(46, 70),
        m3=rng.randint(5, 20),
        pts=rng.randint(30, 70),
        played=rng.randint(25, 38),
        crowd=rng.randrange(9000, 45000, 100),
    )
    return f"SOCCER-{home.upper()} BEAT {away.upper()} {hs}-", text.split("\n\n")


# --- the set --------------------------------------------------------------------------------------

PHENOMENA = (
    "headline",
    "dateline_byline",
    "trim",
    "brief",
    "local",
    "boilerplate",
    "typography",
    "spelling",
    "sentence_dropped",
    "merge_split",
    "html",
    "write_through",
)
COSMETIC = ("headline", "dateline_byline", "boilerplate", "typography", "spelling", "html")


def reprint(
    rng: random.Random, original: Record, phenomenon: str, headlines: list[str], index: int
) -> Record:
    """One outlet's copy of an original, led by ``phenomenon`` plus up to two cosmetic changes."""
    outlet = rng.choice(OUTLETS[1:])
    paragraphs = list(original.paragraphs)
    title = original.title
    changes = [phenomenon, *rng.sample([c for c in COSMETIC if c != phenomenon], rng.randint(0, 2))]
    as_html = False
    delay = timedelta(minutes=rng.randint(5, 36 * 60))
    for change in changes:
        if change == "headline":
            title = new_headline(rng, title)
        elif change == "dateline_byline":
            paragraphs = add_dateline_byline(rng, paragraphs)
        elif change == "trim":
            paragraphs = trim_tail(rng, paragraphs)
        elif change == "brief":
            paragraphs = brief(rng, paragraphs)
        elif change == "local":
            paragraphs = insert_local(rng, paragraphs)
        elif change == "boilerplate":
            paragraphs = insert_boilerplate(rng, paragraphs, outlet, rng.choice(headlines))
        elif change == "typography":
            paragraphs = typography(rng, paragraphs)
        elif change == "spelling":
            paragraphs = respell(rng, paragraphs)
        elif change == "sentence_dropped":
            paragraphs = drop_sentence(rng, paragraphs)
        elif change == "merge_split":
            paragraphs = merge_split(rng, paragraphs)
        elif change == "html":
            as_html = True
            outlet = rng.choice(sorted(HTML_OUTLETS))
        elif change == "write_through":
            paragraphs = write_through(rng, paragraphs, original.published_at)
            title = "UPDATE 1-" + title
            delay = timedelta(minutes=rng.randint(60, 12 * 60))
    return Record(
        url=f"https://{outlet}.example.com/{original.story}/{index}",
        title=title,
        paragraphs=tuple(p for p in paragraphs if p),
        published_at=original.published_at + delay,
        outlet=outlet,
        story=original.story,
        kind=f"reprint:{phenomenon}",
        as_html=as_html or outlet in HTML_OUTLETS,
    )


def eligible(record: Record, phenomenon: str) -> bool:
    words = sum(len(p.split()) for p in record.paragraphs)
    if phenomenon == "brief":
        return len(record.paragraphs) >= 4 and words >= 120
    if phenomenon == "trim":
        return words >= 80 and len(record.paragraphs) >= 3
    if phenomenon == "spelling":
        return spellings_in(" ".join(record.paragraphs))
    return words >= 40


def generate(feeds: Path, seeds: Path | None, originals: int, seed: int) -> list[Record]:
    rng = random.Random(seed)
    pool = [r for r in read_feeds(feeds) if sum(len(p.split()) for p in r.paragraphs) >= 25]
    rng.shuffle(pool)
    chosen = without_natural_duplicates(pool[: int(originals * 1.15)])[:originals]
    base = [
        replace(r, story=f"s{i:05d}", outlet="wire", url=f"https://wire.example.com/s{i:05d}")
        for i, r in enumerate(sorted(chosen, key=lambda r: (r.published_at, r.url)))
    ]
    headlines = [r.title for r in base]
    records: list[Record] = list(base)

    # Reprints: every phenomenon leads about the same number of copies.
    candidates = rng.sample(base, k=len(base) * 2 // 5)
    for n, original in enumerate(candidates):
        for k in range(rng.choice((1, 1, 2, 3, 4))):
            options = [p for p in PHENOMENA if eligible(original, p)]
            if options:
                phenomenon = PHENOMENA[(n + k * 5) % len(PHENOMENA)]
                if phenomenon not in options or ("brief" in options and rng.random() < 0.15):
                    # Few stories are long enough for a brief: give those a brief more often.
                    phenomenon = "brief" if "brief" in options else rng.choice(options)
                records.append(reprint(rng, original, phenomenon, headlines, k))

    # Traps: templated siblings (names and numbers changed) of number-heavy originals.
    names = sorted(
        {
            w
            for r in base
            for w in re.findall(r"\b[A-Z][a-z]{3,}\b", r.title + " " + r.paragraphs[0])
        }
    )
    number_heavy = [r for r in base if len(_NUMBER.findall(" ".join(r.paragraphs))) >= 4]
    for n, record in enumerate(rng.sample(number_heavy, k=min(len(number_heavy), len(base) // 10))):
        sibling = templated_sibling(rng, record, names)
        if sibling is not None:
            records.append(
                replace(
                    sibling,
                    story=f"t{n:05d}",
                    kind="trap:templated",
                    url=f"https://market-watch.example.com/t{n:05d}",
                    outlet="market-watch",
                    published_at=record.published_at + timedelta(hours=2),
                )
            )
    start = min(r.published_at for r in base)
    for n in range(max(10, len(base) // 40)):
        for kind, make in (("jobs", job_cut), ("game", game_result)):
            title, paragraphs = make(rng)
            records.append(
                Record(
                    url=f"https://business-desk.example.com/{kind}{n:04d}",
                    title=title,
                    paragraphs=tuple(paragraphs),
                    outlet="business-desk",
                    story=f"{kind}{n:04d}",
                    kind=f"trap:{kind}",
                    published_at=start + timedelta(hours=rng.randint(0, 2000)),
                )
            )

    # Roundups quoting the opening paragraph of 3-5 stories.
    long_enough = [r for r in base if len(r.paragraphs) >= 2]
    for n in range(max(5, len(base) // 50)):
        quoted = sorted(rng.sample(long_enough, k=rng.randint(3, 5)), key=lambda r: r.url)
        paragraphs = ["Here are the main stories of the day:"]
        for story in quoted:
            paragraphs += [story.title.upper(), story.paragraphs[0]]
        records.append(
            Record(
                url=f"https://metro-news.example.com/roundup{n:04d}",
                title="NEWS ROUNDUP",
                paragraphs=tuple(paragraphs),
                outlet="metro-news",
                story=f"roundup{n:04d}",
                kind="trap:roundup",
                published_at=max(s.published_at for s in quoted)
                + timedelta(hours=rng.randint(1, 6)),
            )
        )

    # Different articles about one event: the seeds.
    if seeds is not None:
        for n, path in enumerate(sorted(seeds.glob("*.txt"))):
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            title, body = lines[0], [line for line in lines[1:] if line]
            records.append(
                Record(
                    url=f"https://seeds.example.com/{path.stem}",
                    title=title,
                    paragraphs=tuple(body),
                    outlet="seeds",
                    story=f"seed{n}",
                    kind="trap:same_event",
                    published_at=datetime(1987, 3, 2, 12, n, tzinfo=timezone.utc),
                )
            )
    return sorted(records, key=lambda r: r.url)


# --- output ---------------------------------------------------------------------------------------


def article_row(record: Record, ingested_at: datetime) -> dict:
    """The record as an article row of the pipeline's row contract (before dedup)."""
    text = record.text
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return {
        "article_id": hashlib.sha256(record.url.encode()).hexdigest()[:16],
        "input": f"feeds/{record.outlet}.xml",
        "url": record.url,
        "source": record.outlet,
        "title": record.title,
        "text": text,
        "published_at": record.published_at.isoformat(),
        "ingested_at": ingested_at.isoformat(),
        "content_hash": content_hash,
        "story": record.story,
        "kind": record.kind,
    }


def write_feeds(records: Iterable[Record], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    by_outlet: dict[str, list[Record]] = {}
    for record in records:
        by_outlet.setdefault(record.outlet, []).append(record)
    for outlet, items in sorted(by_outlet.items()):
        lines = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<rss version="2.0">',
            "<channel>",
            f"<title>{outlet}</title>",
            f"<link>https://{outlet}.example.com/</link>",
            f"<description>Generated benchmark feed {outlet}</description>",
        ]
        for r in items:
            lines += [
                "<item>",
                f"<title>{html.escape(r.title)}</title>",
                f"<link>{r.url}</link>",
                f"<guid>{r.url}</guid>",
                f"<pubDate>{format_datetime(r.published_at)}</pubDate>",
                f"<description>{html.escape(r.text)}</description>",
                "</item>",
            ]
        lines += ["</channel>", "</rss>"]
        (folder / f"{outlet}.xml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_set(records: list[Record], out: Path, ingested_at: datetime) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "records.jsonl").open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(article_row(record, ingested_at), sort_keys=True) + "\n")
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("url", "story", "kind"))
        writer.writerows((r.url, r.story, r.kind) for r in records)
    write_feeds(records, out / "feeds")


def main(argv: list[str] | None = None) -> None:
    here = Path(__file__).resolve()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=Path, default=here.parents[3] / "shared/data/reuters-rss")
    parser.add_argument("--seeds", type=Path, default=here.parents[2] / "seeds")
    parser.add_argument("--originals", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1987)
    parser.add_argument("--out", type=Path, default=here.parent / "out" / "set")
    args = parser.parse_args(argv)
    records = generate(args.feeds, args.seeds, args.originals, args.seed)
    write_set(records, args.out, datetime(2024, 1, 1, tzinfo=timezone.utc))
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r.kind] = kinds.get(r.kind, 0) + 1
    print(f"{len(records)} records -> {args.out}")
    for kind, count in sorted(kinds.items()):
        print(f"  {kind:28s} {count}")


if __name__ == "__main__":
    main()
