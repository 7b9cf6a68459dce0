"""Who said it: speakers, roles and cues, pronouns resolved to the name as first given.

The rules work on the tokens of one sentence outside its quotations (a quotation is one placeholder
token, so words inside a quote never attribute it):

- finite cue: "SPEAKER [fillers] CUE", fillers being auxiliaries, adverbs and "on Friday"
  ("Kyiv has repeatedly emphasized"); the speaker may be followed by a parenthetical
  ("Putin, speaking during a visit to Kyrgyzstan, acknowledged"), which names its role when it holds
  a role word ("Jim Townsend, senior fellow at the Center ..., warned"). A cue under a negation
  ("did not specify") or in the passive without an agent ("transcripts reported by") is no cue.
- inverted cue: "..., said SPEAKER" and "“...,” said SPEAKER".
- "according to SPEAKER".
- participle cue: "..., saying ..." belongs to the clause's subject.
- colon: "EU Foreign Policy Chief Kaja Kallas: “Zero indication” ...".

A speaker noun phrase is a person (role + name, "Mr." + name, or a name met before), an organisation
or place ("the Kremlin said", "Russia has confirmed"), a group ("central bank officials said"), a
pronoun (he/she: the person last in focus; it/they: the organisation or group last speaking) or a
definite description ("the Russian president", "the company").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import accumulate, repeat
from operator import itemgetter, methodcaller
from typing import NamedTuple

from transforms.claims_lexicon import (
    CUE_NEGATORS,
    DEMONYMS,
    FINITE_CUES,
    GENERIC_ORG_NOUNS,
    GROUP_PRONOUNS,
    HONORIFICS,
    KNOWN_ORGS,
    MULTIWORD_PLACES,
    NAME_PARTICLES,
    NOT_NAMES,
    ORG_WORDS,
    PARTICIPLE_CUES,
    PERSON_PRONOUNS,
    PHRASE_CUES,
    PLACE_ALIASES,
    PLACES,
    ROLE_HEAD_SYNONYMS,
    ROLE_HEADS,
    ROLE_MODIFIERS,
    SPEAKER_NOUNS,
    SPEAKER_VERB_FILLERS,
    WEEKDAYS,
    words,
)

# A token, in a group: re.split returns the text between the tokens and the tokens, alternately,
# as plain strings (no match object per token).
_TOKEN = re.compile(
    r"((?:[A-Za-z]\.){2,}"  # U.S., U.N.
    r"|(?:Mr|Mrs|Ms|Dr|Prof|Gen|Gov|Sen|Rep|St|Lt|Col|Capt|Sgt)\.(?=\s)"  # Mr. Putin
    r"|[\w$£€¥%]+(?:[’'.,/:\-][\w%]+)*"  # words, 16,000, 27.8, 15-1/2, Peskov’s
    r'|[^\w\s“”"‘’])'  # any other mark but a quotation mark
)
_DETERMINERS = frozenset(words("the a an many some several most other one two three both"))
_CONNECTORS = frozenset(words("of for at and & de del la von van der bin al its their the"))
# Lower-case words that may sit inside a speaker noun phrase: "Russian state outlets".
_NP_MODIFIERS = (
    frozenset(
        words("""
    state central bank industry oil trade government western foreign local senior top military
    defence defense finance energy news media private public independent opposition ruling
    official company party security intelligence police diplomatic economic
    """)
    )
    | ROLE_MODIFIERS
)
_PASSIVE_AUXILIARIES = frozenset(words("was were is are been be being"))
_PASSIVE_AGENT_CUES = frozenset(words("said reported quoted told described"))
_INVERTIBLE_CUES = frozenset(
    words(
        "said says added adds noted notes wrote writes stated explained warned asked told argued "
        "continued insisted declared"
    )
)
# Words that open an introductory phrase before the subject: "Speaking to reporters, Peskov ...".
_INTRO_WORDS = frozenset(
    words("""
    at in on despite while although though before after beyond still however meanwhile instead
    nonetheless nevertheless moreover for with without during since as when if speaking asked
    earlier later separately also perhaps by under from
    """)
)
_PARTICIPLE_OPENERS = frozenset(words("despite while after before by when"))
_PREPOSITIONS = frozenset(words("at in on with from to by for into about over under near"))
_SOURCE_NOUNS = frozenset(
    words("figures data statistics estimates report reports survey study documents poll records")
)


class Token(NamedTuple):
    """A word or punctuation mark with its span; ``quote`` marks a whole quotation's placeholder.
    Lower-case form and capitalisation are computed once: the rules read them many times."""

    text: str
    start: int
    end: int
    quote: bool
    low: str
    capitalised: bool
    possessive: bool


_POSSESSIVE = ("’s", "'s", "s’", "s'")
# Tokenizing is the hottest loop of the stage: tokens are built by C-level iterators, with
# tuple.__new__ rather than NamedTuple's __new__ (Python code), and their fields computed by
# string methods mapped over all the words at once.
_make_token = partial(tuple.__new__, Token)
_first_character = itemgetter(0)
_is_possessive = methodcaller("endswith", _POSSESSIVE)


@dataclass(frozen=True)
class Speaker:
    name: str
    kind: str  # person | organization | place | group
    role: str | None = None


@dataclass(frozen=True)
class Hit:
    """One attribution in a sentence: who (speaker), the cue and where the speaker is mentioned."""

    speaker: Speaker
    cue: str | None
    cue_index: int  # index of the cue token in the sentence's outside tokens
    mention_start: int  # character span of the speaker's mention in the article
    mention_end: int
    kind: str  # finite | inverted | according | participle | colon


@dataclass
class Person:
    name: str
    role: str | None
    last_seen: int


@dataclass
class ArticleContext:
    """What the attribution rules remember while reading one article, in text order."""

    persons: list[Person] = field(default_factory=list)
    orgs: list[tuple[str, int]] = field(default_factory=list)
    # he/she: the person (or singular speaker such as "a spokesman") last speaking or in subject.
    focus_person: Speaker | None = None
    # it/they: the organisation or group last speaking.
    focus_group: Speaker | None = None
    # Unnamed speakers introduced with "a": (phrase, head noun, position).
    descriptions: list[tuple[str, str, int]] = field(default_factory=list)

    def person(self, words: Sequence[str], position: int, role: str | None = None) -> Person:
        """The person these name words refer to, registered on first mention."""
        name = " ".join(words)
        surname = words[-1]
        found = next((p for p in self.persons if p.name == name), None)
        if found is None and len(words) == 1:
            found = next((p for p in reversed(self.persons) if p.name.split()[-1] == surname), None)
        if found is None and len(words) >= 2:
            # "Vladimir Putin" after "Putin" alone: the single-word entry grows to the full name.
            found = next((p for p in self.persons if p.name == surname), None)
            if found is not None:
                found.name = name
        if found is None:
            found = Person(name, role, position)
            self.persons.append(found)
        if role and not found.role:
            found.role = role
        found.last_seen = position
        return found

    def known_person(self, words: Sequence[str]) -> Person | None:
        name = " ".join(words)
        exact = next((p for p in self.persons if p.name == name), None)
        if exact or len(words) != 1:
            return exact
        return next((p for p in reversed(self.persons) if p.name.split()[-1] == words[0]), None)

    def org(self, name: str, position: int) -> None:
        self.orgs = sorted(
            [(n, p) for n, p in self.orgs if n != name] + [(name, position)],
            key=lambda item: item[1],
        )

    def org_alias(self, word: str) -> str | None:
        """'ANZ' after 'ANZ Banking Group Ltd': the organisation a short form names."""
        return next((n for n, _ in reversed(self.orgs) if n != word and n.split()[0] == word), None)


def tokenize(text: str, start: int, end: int) -> list[Token]:
    """Tokens of text[start:end], quotation marks left out (_TOKEN never matches them)."""
    # [gap, token, gap, ..., token, gap]; each token's span follows from the lengths before it.
    # The same tokens as _TOKEN.finditer(text, start, end) finds: _TOKEN has no look-behind or
    # anchor, and finditer's end bounds its look-ahead as slicing does.
    parts = _TOKEN.split(text[start:end])
    words = parts[1::2]
    offsets = list(accumulate(map(len, parts[:-1]), initial=start))  # token starts and ends
    fields = zip(
        words,
        offsets[1::2],
        offsets[2::2],
        repeat(False),
        map(str.lower, words),
        map(str.isupper, map(_first_character, words)),  # a token is never empty
        map(_is_possessive, words),
    )
    return list(map(_make_token, fields))


def _placeholder(start: int, end: int) -> Token:
    """The token standing for a whole quotation."""
    return Token("“Q”", start, end, True, "“q”", False, False)


def outside_quotes(tokens: list[Token], quotes: tuple, end: int) -> list[Token]:
    """The tokens outside the quotations, each quotation replaced by one placeholder token."""
    if not quotes:
        return tokens
    spans = sorted((q.start, q.end) for q in quotes)
    out: list[Token] = []
    q_index = 0
    for token in tokens:
        while q_index < len(spans) and spans[q_index][1] <= token.start - 1:
            q_start, q_end = spans[q_index]
            out.append(_placeholder(q_start - 1, min(end, q_end + 1)))
            q_index += 1
        if q_index < len(spans) and spans[q_index][0] - 1 <= token.start < spans[q_index][1] + 1:
            continue
        out.append(token)
    for q_start, q_end in spans[q_index:]:
        out.append(_placeholder(q_start - 1, min(end, q_end + 1)))
    return out


# --- noun phrases ---------------------------------------------------------------------------------


def _np_word(token: Token) -> bool:
    if token.quote:
        return False
    low = token.low
    if token.capitalised:
        return low not in NOT_NAMES or low in SPEAKER_NOUNS
    return low in SPEAKER_NOUNS or low in ROLE_HEADS or low in _NP_MODIFIERS or low in DEMONYMS


def _can_head(token: Token) -> bool:
    low = token.low
    if token.quote or token.possessive:
        return False
    if low in PERSON_PRONOUNS or low in GROUP_PRONOUNS:
        return True
    if low in SPEAKER_NOUNS or low in ROLE_HEADS:
        return True
    return token.capitalised and low not in NOT_NAMES and low not in DEMONYMS


def _skip_fillers_back(tokens: list[Token], j: int) -> int:
    while j >= 0:
        low = tokens[j].low
        adverb = low.endswith("ly") and len(low) > 4 and not tokens[j].capitalised
        if low in SPEAKER_VERB_FILLERS or low in WEEKDAYS or adverb:
            j -= 1
        else:
            break
    return j


def _np_back(tokens: list[Token], j: int) -> tuple[int, int] | None:
    """Token range [i, j] of the speaker noun phrase ending at j, or None."""
    if j < 0 or not _can_head(tokens[j]):
        return None
    if tokens[j].low in PERSON_PRONOUNS or tokens[j].low in GROUP_PRONOUNS:
        return j, j
    i = j
    while i - 1 >= 0:
        prev = tokens[i - 1]
        chain = i - 1
        while chain >= 0 and tokens[chain].low in _CONNECTORS:
            chain -= 1  # "Ukraine and its European allies": connectors between two NP words
        if _np_word(prev):
            i -= 1
        elif chain < i - 1 and chain >= 0 and _np_word(tokens[chain]):
            i = chain
        elif prev.low in _DETERMINERS and not prev.quote:
            i -= 1
            break
        else:
            break
    while i < j and tokens[i].low in _CONNECTORS - {"the"}:
        i += 1
    # "A top official of a major association of blood banks said": the head is "official".
    while True:
        of = next((m for m in range(i - 1, max(-1, i - 5), -1) if tokens[m].low == "of"), None)
        if of is None or of < 1:
            break
        between = tokens[of + 1 : i]
        if any(
            t.quote or not t.text.isalpha() or t.low in FINITE_CUES or t.low.endswith("ed")
            for t in between
        ):
            break
        outer = _np_back(tokens, of - 1)
        if outer is None or tokens[of - 1].low not in SPEAKER_NOUNS | ROLE_HEADS:
            break
        i = outer[0]
    return i, j


def _np_forward(tokens: list[Token], i: int) -> tuple[int, int] | None:
    """Token range [i, j] of the noun phrase starting at i, or None."""
    start = i
    while i < len(tokens) and tokens[i].low in _DETERMINERS and not tokens[i].capitalised:
        i += 1
    if i < len(tokens) and tokens[i].low == "the":
        i += 1
    j = i - 1
    while j + 1 < len(tokens):
        nxt = tokens[j + 1]
        if (_np_word(nxt) and not (j >= i and tokens[j].possessive and not nxt.capitalised)) or (
            nxt.low in _CONNECTORS
            and j >= i
            and j + 2 < len(tokens)
            and _np_word(tokens[j + 2])
            and tokens[j + 2].capitalised
        ):
            j += 1
        else:
            break
    if j < i or not _can_head(tokens[j]):
        return None
    return start, j


# --- speakers -------------------------------------------------------------------------------------


def _words(tokens: list[Token], i: int, j: int) -> list[Token]:
    return tokens[i : j + 1]


def _clean_name(words: list[Token]) -> tuple[str, ...]:
    """The words of a name without their possessive ending: a tuple, which the name tests below
    take (they are cached)."""
    out = []
    for t in words:
        text = t.text
        if t.possessive:
            text = text[:-2] if text.endswith(("’s", "'s")) else text[:-1]
        out.append(text)
    return tuple(out)


def _span_text(text: str, words: list[Token]) -> str:
    return text[words[0].start : words[-1].end]


# The name tests are cached: the same few names recur in every article, tested again and again by
# the scan for mentions and by the speaker rules.
@lru_cache(maxsize=1 << 14)
def _is_place(words: tuple[str, ...]) -> bool:
    low = " ".join(words).lower()
    return (
        low in MULTIWORD_PLACES or low in PLACE_ALIASES or all(w.lower() in PLACES for w in words)
    )


@lru_cache(maxsize=1 << 14)
def _is_org(words: tuple[str, ...]) -> bool:
    lows = [w.lower().strip(".") for w in words]
    return any(w in ORG_WORDS or w in KNOWN_ORGS for w in lows) or (
        len(words) == 1 and words[0].isupper() and 2 <= len(words[0]) <= 6
    )


@lru_cache(maxsize=1 << 14)
def _looks_like_name(words: tuple[str, ...]) -> bool:
    return (
        1 <= len(words) <= 4
        and words[0][:1].isupper()
        and words[-1][:1].isupper()
        and all(w[:1].isupper() or w in NAME_PARTICLES for w in words)
        and not any(w.lower() in NOT_NAMES or w.lower() in ROLE_HEADS for w in words)
        and not _is_org(words)
        and not _is_place(words)
        and not any(w.lower() in DEMONYMS for w in words)
    )


def resolve_noun_phrase(
    text: str, words: list[Token], ctx: ArticleContext, role_hint: str | None = None
) -> Speaker | None:
    """The speaker a noun phrase names, or None when it names nobody."""
    definite = bool(words) and words[0].low == "the"
    while words and words[0].low in _DETERMINERS:
        words = words[1:]
    if not words:
        return None
    position = words[0].start
    if len(words) == 1 and words[0].low in PERSON_PRONOUNS:
        return ctx.focus_person
    if len(words) == 1 and words[0].low in GROUP_PRONOUNS:
        return ctx.focus_group
    if len(words) == 2 and words[0].low.rstrip(".") in HONORIFICS:
        found = ctx.known_person(_clean_name(words[1:]))
        person = found or ctx.person(_clean_name(words[1:]), position)
        return Speaker(person.name, "person", person.role)

    heads = [k for k, t in enumerate(words) if t.low in ROLE_HEADS]
    if heads:
        name_from = _name_run_start(words)
        if heads[0] < name_from < len(words):
            name = _clean_name(words[name_from:])
            if _looks_like_name(name) and (
                len(name) >= 2 or words[name_from - 1].capitalised or ctx.known_person(name)
            ):
                role = _span_text(text, words[:name_from])
                person = ctx.person(name, position, role)
                return Speaker(person.name, "person", person.role)
        if definite and heads[-1] == len(words) - 1:
            described = _describe(words, ctx) or _described_before(words, ctx, position)
            if described is not None:
                return described
    names = _clean_name(words)
    head = words[-1].low
    if definite and head in GENERIC_ORG_NOUNS:
        org = _generic_org(head, ctx, position)
        if org is not None:
            return Speaker(org, "organization")
    if all(t.capitalised or t.low in _CONNECTORS for t in words) and not (
        words[0].low in SPEAKER_NOUNS and len(words) == 1
    ):
        if _is_org(names):
            name = _span_text(text, words)
            name = (ctx.org_alias(name) or name) if len(names) == 1 else name
            ctx.org(name, position)
            return Speaker(name, "organization")
        if _is_place(names):
            return Speaker(_span_text(text, words), "place")
        known = ctx.known_person(names)
        if known is not None:
            known.last_seen = position
            return Speaker(known.name, "person", known.role)
        if _looks_like_name(names) and (len(names) >= 2 or role_hint):
            person = ctx.person(names, position, role_hint)
            return Speaker(person.name, "person", person.role)
        if len(names) == 1 and _looks_like_name(names):
            name = ctx.org_alias(names[0]) or names[0]
            ctx.org(name, position)
            return Speaker(name, "organization")
    if head in SPEAKER_NOUNS or head in ROLE_HEADS or words[0].low in ROLE_HEADS:
        # "central bank officials", "a spokesman of Australian stock broker Jacksons Ltd"
        phrase = _span_text(text, words)
        if words[0].capitalised and words[0].low in SPEAKER_NOUNS | _NP_MODIFIERS:
            phrase = phrase[0].lower() + phrase[1:]  # "Analysts said": capital only for position
        return Speaker(phrase, "group")
    return None


def _name_run_start(words: list[Token]) -> int:
    """Start of the name at the end of a role + name phrase ("Finance Minister Barend du Plessis",
    "Minister of Mines and Energy Subroto"): capitalised words and particles that are not role or
    organisation words."""
    k = len(words)
    while k - 1 >= 0:
        t = words[k - 1]
        low = t.low.strip(".")
        if (
            t.capitalised
            and not t.quote
            and low not in ROLE_HEADS
            and low not in ORG_WORDS
            and (low not in ROLE_MODIFIERS and low not in DEMONYMS and low not in NOT_NAMES)
        ) or (low in NAME_PARTICLES and k < len(words) and k - 2 >= 0 and words[k - 2].capitalised):
            k -= 1
        else:
            break
    while k < len(words) and words[k].low in NAME_PARTICLES:
        k += 1
    return k


def _describe(words: list[Token], ctx: ArticleContext) -> Speaker | None:
    """'the Russian president' / 'the Kremlin spokesman': the person last seen with that role."""
    head = words[-1].low
    heads = ROLE_HEAD_SYNONYMS.get(head, frozenset({head}))
    modifiers = {t.low for t in words[:-1] if t.capitalised}
    best: Person | None = None
    best_fits = False
    for person in ctx.persons:
        if not person.role:
            continue
        role_words = person.role.lower().replace("-", " ").split()
        if not role_words or not heads & set(role_words):
            continue
        role_caps = {w.lower() for w in person.role.split() if w[:1].isupper()} - {
            w.lower() for w in person.role.split() if w.lower() in ROLE_HEADS
        }
        # "the Russian president" fits a role saying Russian (or naming no country) best; "the USDA
        # secretary" still finds the one secretary whose role spells the department differently.
        fits = not modifiers or not role_caps or modifiers <= role_caps
        if (fits, person.last_seen) > (best_fits, best.last_seen if best else -2):
            best, best_fits = person, fits
    return Speaker(best.name, "person", best.role) if best else None


def _described_before(words: list[Token], ctx: ArticleContext, position: int) -> Speaker | None:
    """'the official' after 'a Reagan Administration official'."""
    head = words[-1].low
    found = [d for d in ctx.descriptions if d[1] == head and d[2] < position]
    return Speaker(found[-1][0], "group") if found else None


def _generic_org(noun: str, ctx: ArticleContext, position: int) -> str | None:
    """'the company', 'the group': the last organisation of that kind named before."""
    markers = GENERIC_ORG_NOUNS[noun]
    for name, seen in reversed(ctx.orgs):
        if seen < position and any(w.lower().strip(".") in markers for w in name.split()):
            return name
    return None


# --- mentions of people (registry) ----------------------------------------------------------------


class Mention(NamedTuple):
    """Someone a sentence introduces, to register in the article's context. ``only_if`` is None
    (always), "known" (the name is a person met before) or "new" (it is not)."""

    kind: str  # person | org | description
    names: tuple[str, ...] = ()
    position: int = 0
    role: str | None = None
    only_if: str | None = None
    description: tuple[str, str, int] | None = None


def scan_people(text: str, tokens: list[Token]) -> list[Mention]:
    """The people, organisations and unnamed speakers a sentence introduces ("Kremlin spokesman
    Dmitry Peskov", "Jim Townsend, senior fellow at ...", "his top negotiator, Steve Witkoff",
    "Mr. Putin"), in text order. Scanning reads the tokens only, so a sentence is scanned once
    and its mentions registered in both passes over the article (see register_people)."""
    found: list[Mention] = []
    n = len(tokens)
    for k, token in enumerate(tokens):
        low = token.low
        if low in ROLE_HEADS:
            name_start = k + 1
            appositive = name_start < n and tokens[name_start].text == ","
            if appositive:
                name_start += 1
            else:
                # "director-general of finance Chris Stals", "Minister of Mines and Energy Subroto"
                stretch = name_start
                while (
                    stretch < n
                    and stretch - name_start < 6
                    and (
                        tokens[stretch].low in ("of", "and", "&", "for")
                        or tokens[stretch].low in ROLE_MODIFIERS
                        or (
                            tokens[stretch].capitalised
                            and tokens[stretch].low.strip(".") in ORG_WORDS
                        )
                        or (
                            tokens[stretch].capitalised
                            and stretch + 1 < n
                            and tokens[stretch + 1].low == "and"
                        )
                    )
                ):
                    stretch += 1
                if stretch > name_start and tokens[name_start].low == "of":
                    name_start = stretch
            name_end = name_start
            while (
                name_end < n
                and (
                    tokens[name_end].capitalised
                    or (
                        tokens[name_end].low in NAME_PARTICLES
                        and name_end + 1 < n
                        and tokens[name_end + 1].capitalised
                        and name_end > name_start
                    )
                )
                and not tokens[name_end].quote
                and name_end - name_start < 4
            ):
                name_end += 1
                if tokens[name_end - 1].possessive:
                    break
            names = _clean_name(tokens[name_start:name_end])
            if not names or not _looks_like_name(names):
                continue
            if appositive and (name_end < n and tokens[name_end].text not in ",.;"):
                continue
            # "the bank Chase": too weak for a single word unless the person is known.
            weak = len(names) == 1 and not appositive and not tokens[k].capitalised
            role_start = k
            while role_start - 1 >= 0 and _role_word(tokens[role_start - 1]):
                role_start -= 1
            while (
                role_start < k
                and not tokens[role_start].capitalised
                and (tokens[role_start].low not in ROLE_MODIFIERS)
            ):
                role_start += 1  # a role never opens with "of", "and" or a bracket
            role_end = tokens[name_start - 2 if appositive else name_start - 1].end
            found.append(
                Mention(
                    "person",
                    tuple(names),
                    tokens[name_start].start,
                    text[tokens[role_start].start : role_end],
                    "known" if weak else None,
                )
            )
        elif low.rstrip(".") in HONORIFICS and k + 1 < n and tokens[k + 1].capitalised:
            names = _clean_name(tokens[k + 1 : k + 2])
            if _looks_like_name(names):
                found.append(Mention("person", tuple(names), tokens[k + 1].start, only_if="new"))
        elif token.capitalised and (k == 0 or not tokens[k - 1].capitalised):
            _scan_appositive(text, tokens, k, found)
            inside_name = (
                k >= 2
                and tokens[k - 1].low in ("of", "for", "and", "&")
                and (tokens[k - 2].capitalised)
            )
            if not inside_name:
                _scan_org(tokens, k, found)
        if low in ("a", "an") and k + 1 < n:
            _scan_description(text, tokens, k, found)
    return found


def register_people(mentions: list[Mention], ctx: ArticleContext) -> None:
    """Register a sentence's mentions (from scan_people) in the article's context, in order."""
    for mention in mentions:
        if mention.kind == "org":
            ctx.org(mention.names[0], mention.position)
        elif mention.kind == "description":
            ctx.descriptions.append(mention.description)
        elif mention.only_if is None or (
            (ctx.known_person(list(mention.names)) is None) == (mention.only_if == "new")
        ):
            ctx.person(list(mention.names), mention.position, mention.role)


def _scan_description(text: str, tokens: list[Token], k: int, found: list[Mention]) -> None:
    """'a Reagan Administration official': "the official" later refers to it."""
    end = k + 1
    while (
        end < len(tokens)
        and end - k <= 5
        and (tokens[end].capitalised or tokens[end].low in ROLE_MODIFIERS)
        and tokens[end].low not in ROLE_HEADS
    ):
        end += 1
    if end < len(tokens) and end > k + 1 and tokens[end].low in ROLE_HEADS:
        phrase = text[tokens[k + 1].start : tokens[end].end]
        found.append(Mention("description", description=(phrase, tokens[end].low, tokens[k].start)))


def _scan_org(tokens: list[Token], k: int, found: list[Mention]) -> None:
    """Organisations named anywhere ("the American Association of Blood Banks"), so that "the
    group said" later finds one."""
    end = k
    while (
        end < len(tokens)
        and not tokens[end].quote
        and (
            tokens[end].capitalised
            or (
                tokens[end].low in ("of", "for", "and", "&")
                and end + 1 < len(tokens)
                and tokens[end + 1].capitalised
            )
        )
    ):
        end += 1
        if tokens[end - 1].possessive:
            break
    words = [t for t in tokens[k:end] if t.low not in NOT_NAMES or t.low in ("of", "for", "and")]
    while words and not words[0].capitalised:
        words = words[1:]
    names = _clean_name(words)
    if names and _is_org(names) and not _is_place(names):
        found.append(Mention("org", (" ".join(names),), words[0].start))


def _role_word(token: Token) -> bool:
    low = token.low
    if low in ("of", "and", "&", "(", ")"):
        return True  # "Merrill Lynch and Co analyst", "Association of Japan (EIAJ) Chairman"
    if token.quote or token.possessive or low in _DETERMINERS or low in NOT_NAMES:
        return False
    return token.capitalised or low in ROLE_MODIFIERS or low in ROLE_HEADS


def _scan_appositive(text: str, tokens: list[Token], k: int, found: list[Mention]) -> None:
    """'Jim Townsend, senior fellow at the Center for a New American Security, warned'."""
    n = len(tokens)
    end = k
    while end < n and tokens[end].capitalised and not tokens[end].quote and end - k < 4:
        end += 1
    if end - k < 2 or end >= n or tokens[end].text != ",":
        return  # checked before the name is built: most capitalised words are no appositive's
    names = _clean_name(tokens[k:end])
    if not _looks_like_name(names):
        return
    close = end + 1
    while close < n and tokens[close].text not in ",.;:" and not tokens[close].quote:
        close += 1
    phrase = tokens[end + 1 : close]
    if not phrase or len(phrase) > 14:
        return
    lead = [t for t in phrase[:5] if t.low not in _DETERMINERS]
    if not any(t.low in ROLE_HEADS for t in lead[:4]):
        return
    while phrase and phrase[0].low in ("a", "an", "the"):
        phrase = phrase[1:]
    found.append(
        Mention("person", tuple(names), tokens[k].start, text[phrase[0].start : phrase[-1].end])
    )


# --- attribution ----------------------------------------------------------------------------------


def _subject_start(tokens: list[Token]) -> int:
    """Index where the sentence's subject starts, after an introductory phrase and its comma."""
    if tokens and (tokens[0].low in _INTRO_WORDS or tokens[0].low.endswith("ing")):
        for k, t in enumerate(tokens[:30]):
            if t.text == ",":
                return k + 1
    return 0


def _cue_negated(tokens: list[Token], k: int) -> bool:
    window = tokens[max(0, k - 3) : k]
    return any(t.low in CUE_NEGATORS for t in window) or (
        k - 2 >= 0 and tokens[k - 1].low == "to" and tokens[k - 2].low in CUE_NEGATORS
    )


def _hit_from_range(
    text: str,
    tokens: list[Token],
    rng: tuple[int, int] | None,
    ctx: ArticleContext,
    role_hint: str | None = None,
) -> tuple[Speaker, int, int] | None:
    if rng is None:
        return None
    words = _words(tokens, *rng)
    speaker = resolve_noun_phrase(text, words, ctx, role_hint)
    if speaker is None:
        return None
    content = [w for w in words if w.low not in _DETERMINERS] or words
    return speaker, content[0].start, content[-1].end


def _speaker_before(
    text: str, tokens: list[Token], k: int, ctx: ArticleContext
) -> tuple[Speaker, int, int] | None:
    j = _skip_fillers_back(tokens, k - 1)
    if j >= 0 and tokens[j].text == ",":
        # "Putin, speaking during a visit to Kyrgyzstan, acknowledged": skip the parenthetical.
        opening = next(
            (m for m in range(j - 1, max(-1, j - 30), -1) if tokens[m].text == ","), None
        )
        if opening is None or any(t.quote for t in tokens[opening:j]):
            return None
        inner = tokens[opening + 1 : j]
        role = None
        lead = [t for t in inner[:5] if t.low not in _DETERMINERS]
        if any(t.low in ROLE_HEADS for t in lead[:4]):
            start = next(t for t in inner if t.low not in ("a", "an", "the"))
            role = text[start.start : inner[-1].end]
        return _hit_from_range(text, tokens, _np_back(tokens, opening - 1), ctx, role)
    if j >= 0 and tokens[j].text == ":":
        return _hit_from_range(text, tokens, _np_back(tokens, j - 1), ctx)
    rng = _np_back(tokens, j)
    if rng is not None and rng[0] >= 1 and tokens[rng[0] - 1].low in _PREPOSITIONS:
        # "Juan Sourrouille on Thursday in a speech at the IMF accused": the IMF is not the subject.
        subject = _np_forward(tokens, _subject_start(tokens))
        if subject is not None and subject[1] < rng[0] - 1:
            return _hit_from_range(text, tokens, subject, ctx)
        return None
    return _hit_from_range(text, tokens, rng, ctx)


def _speaker_after(
    text: str, tokens: list[Token], k: int, ctx: ArticleContext
) -> tuple[Speaker, int, int] | None:
    rng = _np_forward(tokens, k)
    if rng is None:
        return None
    end = rng[1]
    role = None
    if end + 2 < len(tokens) and tokens[end + 1].text == ",":
        close = end + 2
        while close < len(tokens) and tokens[close].text not in ",.;" and not tokens[close].quote:
            close += 1
        inner = [t for t in tokens[end + 2 : close] if t.low not in ("a", "an", "the")]
        if inner and any(t.low in ROLE_HEADS for t in inner[:4]):
            role = text[inner[0].start : inner[-1].end]
    return _hit_from_range(text, tokens, rng, ctx, role)


def find_hits(text: str, tokens: list[Token], ctx: ArticleContext) -> list[Hit]:
    """Every attribution in the sentence, in order."""
    hits: list[Hit] = []
    n = len(tokens)
    subject_from = _subject_start(tokens)
    colon: tuple[Speaker, int, int] | None = None
    subject_rng = _np_forward(tokens, subject_from)
    if (
        subject_rng is not None
        and subject_rng[1] + 1 < n
        and tokens[subject_rng[1] + 1].text == ":"
    ):
        colon = _hit_from_range(text, tokens, subject_rng, ctx)
        if colon is not None:
            hits.append(Hit(colon[0], None, subject_rng[1] + 1, colon[1], colon[2], "colon"))
    k = 0
    while k < n:
        token = tokens[k]
        low = token.low
        if low not in _CUE_WORDS or (token.capitalised and k > 0 and tokens[k - 1].text != ":"):
            # No cue; "United States", "Says": a capitalised cue word mid-sentence is a name.
            k += 1
            continue
        found: tuple[Speaker, int, int] | None = None
        kind = "finite"
        cue: str | None = low
        width = 1
        if low == "according" and k + 1 < n and tokens[k + 1].low == "to":
            found = _speaker_after(text, tokens, k + 2, ctx) or _source_after(text, tokens, k + 2)
            kind, cue, width = "according", "according to", 2
        elif low in PARTICIPLE_CUES and (
            k == 0 or tokens[k - 1].text == "," or tokens[k - 1].low in _PARTICIPLE_OPENERS
        ):
            kind = "participle"
        elif phrase := _phrase_cue(tokens, k):
            width = len(phrase)
            cue = " ".join(phrase)
            if not _cue_negated(tokens, k):
                found = _speaker_before(text, tokens, k, ctx) or (
                    colon if tokens[k - 1].text == ":" else None
                )
        elif low == "quoted" and (as_saying := _as_saying(tokens, k)) is not None:
            # "The Journal quoted a spokesman of Jacksons Ltd as saying that ...".
            found = _hit_from_range(text, tokens, (k + 1, as_saying - 1), ctx)
            cue = "quoted as saying"
        elif low in FINITE_CUES and not _adjectival(tokens, k):
            passive = k + 1 < n and tokens[k + 1].low == "by"
            participle = low.endswith("ed") or low in ("said", "told")
            if not passive and participle and k >= 1 and tokens[k - 1].low in _PASSIVE_AUXILIARIES:
                pass  # "one man was admitted", "the banks are said to be": no speaker
            elif passive:
                if (
                    low in _PASSIVE_AGENT_CUES
                    and k >= 1
                    and tokens[k - 1].low in _PASSIVE_AUXILIARIES
                ):
                    found = _speaker_after(text, tokens, k + 2, ctx)
            elif not _cue_negated(tokens, k):
                if k >= 1 and tokens[k - 1].text == ":" and colon is not None:
                    found = colon
                else:
                    found = _speaker_before(text, tokens, k, ctx)
                if (
                    found is None
                    and low in _INVERTIBLE_CUES
                    and k >= 1
                    and (tokens[k - 1].text == "," or tokens[k - 1].quote)
                ):
                    kind = "inverted"
                    found = _speaker_after(text, tokens, k + 1, ctx)
        if kind == "participle":
            previous = next((h for h in reversed(hits) if h.kind != "according"), None)
            if previous is not None:
                hits.append(
                    Hit(
                        previous.speaker, low, k, previous.mention_start, previous.mention_end, kind
                    )
                )
            else:
                subject = _subject_after_participle(text, tokens, k, subject_from, ctx)
                if subject is not None:
                    hits.append(Hit(subject[0], low, k, subject[1], subject[2], kind))
        elif found is not None:
            hits.append(Hit(found[0], cue, k, found[1], found[2], kind))
            _focus(found[0], ctx)  # "The Kremlin emphasized ... what it described": it = Kremlin
        k += width
    return drop_nested(tokens, hits)


_CLAUSE_BREAKS = frozenset({",", ";", ":", "but", "while", "whereas", "although", "though"})


def drop_nested(tokens: list[Token], hits: list[Hit]) -> list[Hit]:
    """Hits inside another speaker's reported clause belong to that report: "Russian state outlets
    said Mr. Putin reiterated ..." is the outlets' statement, not Putin's."""
    kept: list[Hit] = []
    for hit in hits:
        mention = next(
            (k for k, t in enumerate(tokens) if t.start >= hit.mention_start), hit.cue_index
        )
        outer = next(
            (
                h
                for h in kept
                if h.kind in ("finite", "inverted")
                and h.speaker != hit.speaker
                and h.cue_index < mention
                and not any(
                    t.low in _CLAUSE_BREAKS or t.quote for t in tokens[h.cue_index + 1 : mention]
                )
            ),
            None,
        )
        if outer is None:
            kept.append(hit)
    return kept


def _as_saying(tokens: list[Token], k: int) -> int | None:
    """Index of 'as' in 'quoted X as saying', or None."""
    for m in range(k + 2, min(len(tokens) - 1, k + 14)):
        if tokens[m].low == "as" and tokens[m + 1].low in PARTICIPLE_CUES:
            return m
        if tokens[m].quote or tokens[m].text in ".;":
            return None
    return None


def _adjectival(tokens: list[Token], k: int) -> bool:
    """'the reported exchange', 'an estimated 100 people': the cue word is an adjective."""
    return k >= 1 and tokens[k - 1].low in ("the", "a", "an", "as")


_PHRASE_FIRST_WORDS = frozenset(phrase[0] for phrase in PHRASE_CUES)
# Every word that may open a cue: find_hits passes over the others at once.
_CUE_WORDS = FINITE_CUES | PARTICIPLE_CUES | _PHRASE_FIRST_WORDS | {"according", "quoted"}


def _phrase_cue(tokens: list[Token], k: int) -> tuple[str, ...] | None:
    if tokens[k].low not in _PHRASE_FIRST_WORDS:
        return None
    for phrase in PHRASE_CUES:
        if tuple(t.low for t in tokens[k : k + len(phrase)]) == phrase:
            return phrase
    return None


def _source_after(text: str, tokens: list[Token], k: int) -> tuple[Speaker, int, int] | None:
    """'according to figures from the ministry': a document as the source."""
    rng = _np_forward(tokens, k)
    end = k
    while end < len(tokens) and tokens[end].text not in ",.;" and not tokens[end].quote:
        end += 1
    words = [t for t in tokens[k:end] if t.low not in ("a", "an", "the")]
    if rng is None and words and words[0].low in _SOURCE_NOUNS and len(words) <= 8:
        return Speaker(text[words[0].start : words[-1].end], "group"), words[0].start, words[-1].end
    return None


def _subject_after_participle(
    text: str, tokens: list[Token], k: int, subject_from: int, ctx: ArticleContext
) -> tuple[Speaker, int, int] | None:
    """The clause subject a participle cue belongs to: before it, or after its opening clause."""
    if subject_from <= k:
        # "Despite emphasizing that ..., Putin praised": the subject follows the first comma.
        comma = next((m for m in range(k, min(len(tokens), k + 40)) if tokens[m].text == ","), None)
        start = comma + 1 if comma is not None and k <= 1 else subject_from
    else:
        start = subject_from
    return _hit_from_range(text, tokens, _np_forward(tokens, start), ctx)


def update_focus(hits: list[Hit], tokens: list[Token], text: str, ctx: ArticleContext) -> None:
    """After a sentence: the person or group last speaking (or acting as subject) is in focus."""
    for hit in hits:
        _focus(hit.speaker, ctx)
    if not hits:
        rng = _np_forward(tokens, _subject_start(tokens))
        if rng is not None:
            words = _words(tokens, *rng)
            if len(words) == 1 and words[0].low in PERSON_PRONOUNS | GROUP_PRONOUNS:
                return
            speaker = resolve_noun_phrase(text, words, ctx)
            if speaker is not None and speaker.kind == "person":
                _focus(speaker, ctx)


def _focus(speaker: Speaker, ctx: ArticleContext) -> None:
    head = speaker.name.split()[-1].lower()
    if speaker.kind == "person" or (speaker.kind == "group" and head in ROLE_HEADS):
        ctx.focus_person = speaker  # "a spokesman said ... He added": he = the spokesman
    else:
        ctx.focus_group = speaker
