"""What a claim asserts: its numbers, named entities, hedging, polarity and checkworthiness.

Numbers: digits ("16,000", "27.8", "15-1/2", "7/8"), number words ("six", "dozens") and compounds
("28-point", "four-year"), scaled ("27.8 billion dlrs" -> 2.78e10) and given a canonical unit from
the lexicon, else the noun that follows ("six people" -> person, "three quakes" -> quakes).
Years standing alone ("in 1985"), dates ("November 4", "March 2"), times and ordinals are not
quantities and are left out.

Checkworthiness (documented basis, a sum clipped to [0, 1]):
  0.35 base
  +0.25 the claim states a quantity (statistic) — numbers are what fact-checkers verify first
  +0.15 it names an accountable source: a named person or organisation as speaker
  +0.10 it names at least one person, organisation or place — a checkable referent
  +0.10 it reports a concrete event or change (direction words, casualty/accept/reject verbs)
  -0.20 it is hedged ("may", "reportedly") — weaker, often unverifiable
  -0.20 it is opinion or intent only ("we appreciate", "we are ready", "hope") — not a fact
  -0.10 it is short (under 8 words) — too little content to verify
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from transforms.claims_lexicon import (
    ANALYSIS_WORDS,
    DEMONYMS,
    DIRECTION_DOWN,
    DIRECTION_UP,
    FORECAST_WORDS,
    HEDGES,
    KNOWN_ORGS,
    METONYMS,
    MONTHS,
    MULTIWORD_PLACES,
    NEGATORS,
    NON_NEGATING_PHRASES,
    NOT_NAMES,
    NUMBER_WORDS,
    ORG_WORDS,
    PLACE_ALIASES,
    PLACES,
    ROLE_HEADS,
    SCALES,
    STOPWORDS,
    SYNONYMS,
    UNITS,
    YEAR_RANGE,
    words,
)


def _factored(entries: Iterable[str]) -> str:
    """A regex alternation of the words factored on shared prefixes ("s(?:ix(?:t(?:een|y))?|...)"):
    the engine tests each letter once instead of trying every word at every position. It matches
    the same strings as the plain alternation; longer words are tried first, as when the plain
    one is sorted longest first."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(set(entries)):
        by_first.setdefault(word[:1], []).append(word[1:])
    branches = []
    for first, rests in by_first.items():
        longer = [rest for rest in rests if rest]
        if not longer:
            branches.append(re.escape(first))
            continue
        optional = "?" if len(longer) < len(rests) else ""
        branches.append(f"{re.escape(first)}(?:{_factored(longer)}){optional}")
    return "|".join(branches)


def caseless_word_sets(sets: dict[str, Iterable[str]]) -> Callable[[str], frozenset[str]]:
    r"""A function naming the sets (of ASCII words or phrases, each opening with a letter) one of
    whose entries occurs in a text as whole words, ignoring case.

    One search for all the sets, where one per set cost nearly as much each: where an entry of any
    set starts, a look-ahead per set tells which sets have one there. ASCII text (nearly all of
    it) is lower-cased and searched without re.IGNORECASE, which folds every character it compares
    (on ASCII, folding is lower-casing: the same matches), behind a space: the regex opens with
    ``\W``, the character before a word, instead of ``\b``, so the engine skips from one non-word
    character to the next instead of trying a match at every position."""
    entries = {name: [entry.lower() for entry in group] for name, group in sets.items()}
    # ASCII entries only: under re.IGNORECASE an ASCII text may match others ("Six", "ſix").
    if not all(e[:1].isalpha() and e.isascii() for group in entries.values() for e in group):
        raise ValueError("every entry must be ASCII and open with a letter")
    any_entry = _factored(entry for group in entries.values() for entry in group)
    probes = "".join(
        rf"(?:(?=(?P<{name}>{_factored(group)})\b))?" for name, group in entries.items()
    )
    ascii_lower = re.compile(rf"\W(?=(?:{any_entry})\b){probes}")
    # Its matches are empty (a position): finditer tries every position of the text in turn.
    anycase = re.compile(rf"\b(?=(?:{any_entry})\b){probes}", re.IGNORECASE)

    def found(text: str) -> frozenset[str]:
        if text.isascii():
            matches = ascii_lower.finditer(" " + text.lower())
        else:
            matches = anycase.finditer(text)
        return frozenset(
            name for match in matches for name, entry in match.groupdict().items() if entry
        )

    return found


# A quantity: not inside a word or another number; the look-ahead on what one may open with turns
# most positions down in one step.
_QUANTITY = (
    r"""
    (?=[$£€¥\d"""
    + "".join(sorted({word[0] for word in NUMBER_WORDS}))
    + r"""])
    (?P<currency>[$£€¥])?
    (?P<num>
        \d{1,3}(?:,\d{3})+(?:\.\d+)?      # 16,000  1,234.5
      | \d+-\d+/\d+                       # 15-1/2
      | \d+/\d+                           # 7/8
      | \d+(?:\.\d+)?                     # 27.8  28
      | (?:"""
    + _factored(NUMBER_WORDS)
    + r""")                               # six, dozens
    )
    (?P<suffix>-[a-z]+)?                  # 28-point, four-year
    (?![\w/])"""
)
_NUMBER = re.compile(r"(?<![\w.,/-])" + _QUANTITY, re.VERBOSE | re.IGNORECASE)
# The same matches in ASCII text (nearly all of it), searched behind a space: the character before
# the quantity is matched rather than looked behind at, so the regex opens with a character class
# and the engine skips from one candidate to the next instead of trying every position, and
# re.ASCII tests its classes with a table rather than Unicode look-ups (on ASCII, the same).
_NUMBER_ASCII = re.compile(r"[^\w.,/-]" + _QUANTITY, re.VERBOSE | re.IGNORECASE | re.ASCII)
_WORD = re.compile(r"[A-Za-z%$£€¥][\w%-]*|%")
# Which of these word sets a text uses: _row asks hedged(), checkworthiness() and, for a
# sentence, the claims rules (commentary, forecast) about the same text in turn, so the few latest
# texts' answers are kept: one search per text.
claim_words = lru_cache(maxsize=4)(
    caseless_word_sets(
        {
            "hedge": HEDGES,
            "opinion": [
                *words("""
                appreciate welcome hope hopes hoped wish believe believes think thinks feel feels
                gratitude optimism optimistic pessimistic concern concerned should must
                """),
                "ready to",
                "willing to",
            ],
            "event": words("""
            killed wounded injured died dead accepted rejected agreed signed approved launched
            attacked captured seized arrested elected announced cut raised lowered
            """),
            "analysis": ANALYSIS_WORDS,
            "forecast": FORECAST_WORDS,
        }
    )
)
# Capitalised words ("U.S." included), joined by "of", "for", "the", "de", "and", "&". The regex
# opens with a character class, which the engine scans for fast.
_CAP_RUN = re.compile(r"[A-Z][\w’'&.-]*(?:\s+(?:(?:of|for|the|de|and|&)\s+)?[A-Z][\w’'&.-]*)*")
_CONTENT_WORD = re.compile(r"[a-z][a-z’'.-]*[a-z]|[a-z]")
_INITIALS = re.compile(r"(?:[A-Z]\.)+")


def _any_word(entries: Iterable[str], letters: str) -> re.Pattern[str]:
    """A regex finding, in a text behind a space, whether any of the words is a whole word of it
    (a maximal run of ``letters``): one search, where listing every word of the text and testing
    each took several times longer (a regex opening with a character class skips ahead to the next
    non-letter)."""
    entries = list(entries)
    if not all(re.fullmatch(f"[{letters}]+", entry) for entry in entries):
        raise ValueError(f"not all words of [{letters}]: {entries}")
    return re.compile(f"[^{letters}](?:{_factored(entries)})(?![{letters}])")


# The words are maximal runs of letters (and apostrophes for negators) of the lower-cased text.
_NEGATOR = _any_word(NEGATORS, "a-z'")
_UP = _any_word(DIRECTION_UP, "a-z")
_DOWN = _any_word(DIRECTION_DOWN, "a-z")
_CHANGE = _any_word(DIRECTION_UP | DIRECTION_DOWN, "a-z")
# Words that are never content terms, in one set: one look-up per word.
_NOT_TERMS = frozenset(STOPWORDS | ROLE_HEADS | PLACES | DEMONYMS.keys())


def _parse_value(num: str) -> float | None:
    low = num.lower()
    if low in NUMBER_WORDS:
        return float(NUMBER_WORDS[low])
    if "/" in num:
        whole, _, frac = num.partition("-") if "-" in num else ("0", "", num)
        top, _, bottom = frac.partition("/")
        if not bottom or float(bottom) == 0:
            return None
        return float(whole) + float(top) / float(bottom)
    return float(num.replace(",", ""))


def numbers(text: str) -> list[dict]:
    """Quantities stated in the text: value (scaled), canonical unit, original text."""
    out: list[dict] = []
    if text.isascii():
        # Behind the space, a match starts with the character before the quantity.
        found = (
            (match, match.start(), match.end() - 1) for match in _NUMBER_ASCII.finditer(" " + text)
        )
    else:
        found = ((match, match.start(), match.end()) for match in _NUMBER.finditer(text))
    for match, start, stop in found:
        num = match.group("num")
        value = _parse_value(num)
        if value is None:
            continue
        before = text[max(0, start - 12) : start].split()
        previous = before[-1].lower().strip(".,") if before else ""
        end = stop
        after = _WORD.findall(text[end : end + 50])[:4]
        next_words = [w.lower().rstrip(".,;:") for w in after]
        unit: str | None = None
        scale = 1.0
        suffix = match.group("suffix")
        if match.group("currency"):
            unit = UNITS[match.group("currency")]
        if suffix:
            unit = UNITS.get(suffix[1:].lower(), suffix[1:].lower())
        else:
            if (
                next_words
                and next_words[0] in SCALES
                and not (next_words[0] == "m" and unit is None)
            ):
                scale = SCALES[next_words[0]]
                next_words = next_words[1:]
                end = end + text[end:].lower().find(after[0].lower()) + len(after[0])
                after = after[1:]
            if next_words and unit is None:
                unit = _unit(next_words, after)
        if unit is None and text[end : end + 1] == "%":
            unit = "percent"
        if _is_date_or_year(num, value, previous, next_words, unit, scale, match.group("currency")):
            continue
        if num.lower() in NUMBER_WORDS and unit is None:
            continue  # "two of them": a number word with no unit is not a quantity
        raw_end = _extend_raw(text, stop, scale, unit)
        out.append(
            {
                "value": value * scale,
                "unit": unit,
                "text": text[start:raw_end],
            }
        )
    return out


def _unit(next_words: list[str], after: list[str]) -> str | None:
    """The unit after a number: a lexicon unit within two words, else the first plain noun after
    any capitalised modifiers ("two American mediators" -> mediators)."""
    word = next_words[0]
    if word == "per" and len(next_words) > 1 and next_words[1] == "cent":
        return "percent"
    if word == "percentage":
        return "percentage point"
    if word in UNITS:
        return UNITS[word]
    if len(next_words) > 1 and next_words[1] in UNITS and next_words[1] != "per":
        return UNITS[next_words[1]]
    for low, raw in zip(next_words, after, strict=False):
        if raw[:1].isupper() or low in DEMONYMS or len(low) == 1:
            continue
        if low.isalpha() and low not in STOPWORDS and low not in MONTHS:
            return low
        break
    return None


def _extend_raw(text: str, end: int, scale: float, unit: str | None) -> int:
    """The original text of the quantity: number, scale word and unit word."""
    words = 0
    limit = (1 if scale != 1.0 else 0) + (1 if unit else 0)
    position = end
    while words < limit:
        match = _WORD.search(text, position, position + 30)
        if match is None or text[position : match.start()].strip() not in ("",):
            break
        position = match.end()
        words += 1
    return position


def _is_date_or_year(
    num: str,
    value: float,
    previous: str,
    next_words: list[str],
    unit: str | None,
    scale: float,
    currency: str | None,
) -> bool:
    if currency or scale != 1.0:
        return False
    if previous in MONTHS or (next_words and next_words[0] in MONTHS):
        return True  # "November 4", "4 November"
    is_int = num.isdigit()
    if is_int and YEAR_RANGE[0] <= value <= YEAR_RANGE[1] and len(num) == 4:
        return unit is None or unit not in UNITS.values()
    return False


def hedged(text: str) -> bool:
    return "hedge" in claim_words(text)


def negated(text: str) -> bool:
    """Whether the claim is negated ("did not", "no"), ignoring quantifiers such as "not all"."""
    low = text.lower()
    for phrase in NON_NEGATING_PHRASES:
        low = low.replace(phrase, " ")
    low = low.replace("n’t", " n't").replace("n't", " n't")
    return _NEGATOR.search(" " + low) is not None


def direction(text: str) -> str:
    """'up', 'down' or '' from the change words the claim uses."""
    low = " " + text.lower()
    # Most claims use no change word: one search finds the first, if any; only then is the rest
    # searched for a word of the other direction.
    first = _CHANGE.search(low)
    if first is None:
        return ""
    word = first.group()[1:]
    up, down = word in DIRECTION_UP, word in DIRECTION_DOWN
    if not up:
        up = _UP.search(low, first.end()) is not None
    if not down:
        down = _DOWN.search(low, first.end()) is not None
    return "up" if up and not down else "down" if down and not up else ""


def entities(text: str, people: Sequence[str], speaker: dict | None = None) -> list[dict]:
    """People, organisations and places named in the text, in order of first mention."""
    found: dict[str, str] = {}
    if speaker and speaker.get("kind") in ("person", "organization", "place"):
        found[speaker["name"]] = speaker["kind"]
    people = tuple(people)
    surnames = _surnames(people)
    for match in _CAP_RUN.finditer(text):
        for name, kind in _classify_run(match.group(), surnames, people):
            found.setdefault(name, kind)
    return [{"name": name, "kind": kind} for name, kind in found.items()]


@lru_cache(maxsize=64)
def _surnames(people: tuple[str, ...]) -> dict[str, str]:
    """Cached: an article's claims all name the same people (read only, never changed)."""
    return {name.split()[-1]: name for name in people}


def _classify_run(
    run: str, surnames: dict[str, str], people: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    words, joined, titled, unnamed = _run_parts(run)
    if not words:
        return ()
    # A run holding a known person ("Kremlin spokesman Dmitry Peskov"): the person only; of two,
    # the one named first (never set order, which changes from one process to the next).
    named = [(joined.find(name), name) for name in people if name in joined]
    if named:
        return ((min(named)[1], "person"),)
    if titled and words[-1] in surnames:
        return ((surnames[words[-1]], "person"),)
    return unnamed


@lru_cache(maxsize=1 << 14)
def _run_parts(
    run: str,
) -> tuple[tuple[str, ...], str, bool, tuple[tuple[str, str], ...]]:
    """What _classify_run reads of a run whoever the article names, cached (the same runs recur
    in every article): its words and their join, whether a surname at its end would stand for a
    known person ("Putin", "President Putin", "Mr. Putin"), and its entities when it names nobody
    known."""
    words = [w if _INITIALS.fullmatch(w) else w.rstrip(".,") for w in run.split()]
    words = [w[:-2] if w.endswith(("’s", "'s")) else w for w in words]
    while words and (words[0].lower() in NOT_NAMES or words[0].lower() in ("the", "of", "and")):
        words = words[1:]
    while words and words[-1].lower() in ("of", "for", "the", "and", "&", "de"):
        words = words[:-1]
    if not words:
        return (), "", False, ()
    joined = " ".join(words)
    titled = all(
        w.lower() in ROLE_HEADS or w.lower() in DEMONYMS or w[:1].isupper() for w in words
    ) and (
        len(words) == 1
        or words[-2].lower() in ROLE_HEADS
        or words[-2].lower() in ("mr", "mrs", "ms", "dr", "mr.", "mrs.", "ms.", "dr.")
    )
    return tuple(words), joined, titled, _unnamed_entities(words, joined)


def _unnamed_entities(words: list[str], joined: str) -> tuple[tuple[str, str], ...]:
    """The entities of a run naming no known person: a place, an organisation, or its places."""
    low = joined.lower()
    if low in PLACE_ALIASES:
        return ((PLACE_ALIASES[low], "place"),)
    if low in MULTIWORD_PLACES:
        return ((joined, "place"),)
    lows = [w.lower().strip(".") for w in words]
    if any(w in ORG_WORDS or w in KNOWN_ORGS for w in lows) or (
        len(words) == 1
        and words[0].isupper()
        and 2 <= len(words[0]) <= 6
        and low not in PLACE_ALIASES
    ):
        return ((joined, "organization"),)
    if len(words) == 1 and low in PLACES:
        return ((joined, "place"),)
    # Demonym-led runs ("Russian Deputy Foreign Minister"): no entity of their own.
    places = [w for w in words if w.lower() in PLACES or w.lower() in PLACE_ALIASES]
    return tuple((PLACE_ALIASES.get(w.lower(), w), "place") for w in places)


def checkworthiness(
    claim_type: str,
    nums: list[dict],
    speaker_kind: str | None,
    ents: list[dict],
    is_hedged: bool,
    text: str,
    change: str,
) -> float:
    """Score in [0, 1]; see the module docstring for the basis. ``change`` is direction(text),
    which the caller has computed already."""
    score = 0.35
    if nums:
        score += 0.25
    if speaker_kind in ("person", "organization"):
        score += 0.15
    if ents:
        score += 0.10
    if change or "event" in claim_words(text):
        score += 0.10
    if is_hedged:
        score -= 0.20
    if not nums and "opinion" in claim_words(text):
        score -= 0.20
    if len(text.split()) < 8:
        score -= 0.10
    if claim_type == "assertion":
        score -= 0.05
    return round(min(1.0, max(0.0, score)), 3)


def content_terms(text: str, names: Iterable[str] = ()) -> list[str]:
    """Content words for matching: lower-cased, stop words, role words and the words of the named
    entities out (entities are compared on their own), synonyms folded, crudely stemmed."""
    excluded = {w.lower().strip(".,’'") for name in names for w in name.split()}
    terms = set()
    # Each distinct word once: the result is a set. A word starts and ends with a letter.
    for word in set(_CONTENT_WORD.findall(text.lower().replace("’", "'"))):
        base, term = _term(word)
        if term is not None and base not in excluded:
            terms.add(term)
    return sorted(terms)


@lru_cache(maxsize=1 << 16)
def _term(word: str) -> tuple[str, str | None]:
    """A word without its "'s", and the term it stands for (None: no content word). Cached: the
    same few thousand words recur in every article."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) < 2 or word in _NOT_TERMS:
        return word, None
    term = SYNONYMS.get(word, word)
    term = METONYMS.get(term, DEMONYMS.get(term, term)).replace(" ", "")
    return word, _stem(term)


def _stem(word: str) -> str:
    if word[-1] not in "sngd":
        return word  # no suffix below ends otherwise
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word
