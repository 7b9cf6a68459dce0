"""Sentences and quotations of an article, with their character offsets in the article's text.

Rules, in order:
- A paragraph is a line of the text (the reader separates paragraphs with a blank line; a single
  newline is treated the same). A paragraph that does not end like prose ("." "!" "?" or a closing
  quote) is a heading, caption, byline or furniture and yields no sentence.
- A wire dateline at the start of the text ("WELLINGTON, March 2 - ", "MOSCOW (Realist English). ")
  is not part of the first sentence; a leading bullet is not part of its sentence.
- Sentences end at "." "!" "?" (plus closing quotes or brackets) followed by a space and a capital,
  a digit or an opening quote, except after a title abbreviation ("Mr. Putin"), an initial
  ("John F. Kennedy"), or "U.S." before a capitalised word that is not a sentence starter; and never
  inside a closed quotation, so a multi-sentence quote stays one unit.
- Quotations are “…”, "…" (paired in order within the paragraph) and ‘…’ (the closing mark must not
  be an apostrophe); a quote left open runs to the end of its paragraph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transforms.claims_lexicon import SENTENCE_STARTERS, TITLE_ABBREVIATIONS


@dataclass(frozen=True)
class Quote:
    """A quoted segment: ``start``/``end`` bound the words inside the marks."""

    start: int
    end: int
    closed: bool


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    paragraph: int
    text: str
    quotes: tuple[Quote, ...]


_PARAGRAPH = re.compile(r"[^\n]+")
_DATELINE = re.compile(
    r"""^(?:
        [A-Z]{2,}(?:[ -][A-Z]{2,})*                  # WELLINGTON, NEW YORK, RIO DE JANEIRO
        (?:,\s+[A-Z][a-zA-Z]{2,8}\.?\s+\d{1,2})?     # , March 2 / , MARCH 6
      | [A-Z][a-z]+(?:\s[A-Z][a-z]+){0,2}           # New York, March 4 (a date is required)
        ,\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2}
    )
    (?:\s*\([^)\n]{1,40}\))?                       # (Reuters), (Realist English)
    \s*(?:-|–|—|\.|:)\s+""",
    re.VERBOSE,
)
_BULLET = re.compile(r"(?:[•▪◦·*–-]|\d{1,2}[.)])\s+")  # used with match(pos): no "^"
_PROSE_END = re.compile(r"""[.!?…][”"’')\]]*$|[”"]$""")
# What _PROSE_END allows after its end mark (its "$" also matches before a final newline): a match
# starts at the last character before a run of these at the end of the paragraph, or later.
_CLOSERS = "”\"’')]\n"
_BOUNDARY = re.compile(r"""[.!?…]+[”"’')\]]*(?=\s+[“"‘'(\[A-Z0-9•])""")
_WORD_BEFORE = re.compile(r"""([\w.’'-]+)[.!?…]+[”"’')\]]*$""")
_WORD_AFTER = re.compile(r"""\s+[“"‘'(\[]*([\w’'.-]+)""")
_MULTI_DOT_ABBREVIATION = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$")
# Only quotation marks change find_quotes' state: it visits them and skips the text between.
_QUOTE_MARK = re.compile('[“”"‘’]')


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line."""
    spans = []
    for match in _PARAGRAPH.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


_CONTINUES = re.compile(r"""(?:,[”"’']?|[a-z0-9)])$""")


def join_broken(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Rejoin a paragraph cut mid-sentence (a hard-wrapped line taken for a paragraph): it ends
    with a comma, or without end punctuation before a paragraph that opens in lower case."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out:
            p_start, p_end = out[-1]
            previous = text[p_start:p_end]
            following = text[start]
            if previous.endswith((",", ',"', ",”")) or (
                # A match is two characters at most, before a final newline at most: search only
                # the end (from the start, the search would try every position).
                _CONTINUES.search(previous, max(0, len(previous) - 3))
                and (
                    following.islower()
                    or (following.isdigit() and len(previous.split()) >= 8)
                    or _open_quote(previous)
                )
            ):
                out[-1] = (p_start, end)
                continue
        out.append((start, end))
    return out


def _open_quote(paragraph: str) -> bool:
    """A quotation left open: an odd number of straight quotes, or more “ than ”."""
    return paragraph.count('"') % 2 == 1 or paragraph.count("“") > paragraph.count("”")


def is_prose(paragraph: str) -> bool:
    """A paragraph ends like prose; headings, captions, bylines and lead-ins with ":" do not."""
    # Only the end can match: search from where the closing marks end it, not from the start.
    return bool(_PROSE_END.search(paragraph, max(0, len(paragraph.rstrip(_CLOSERS)) - 1)))


def dateline_end(text: str) -> int:
    """Length of a wire dateline at the start of the text, 0 when there is none."""
    match = _DATELINE.match(text)
    return match.end() if match else 0


def find_quotes(text: str, start: int, end: int) -> list[Quote]:
    """Quoted segments inside text[start:end] (one paragraph), in order."""
    quotes: list[Quote] = []
    open_at: int | None = None
    open_mark = ""
    for mark in _QUOTE_MARK.finditer(text, start, end):
        i = mark.start()
        ch = text[i]
        if open_at is None:
            single = ch == "‘" and i + 1 < end and text[i + 1].isalnum()
            if ch == "“" or (ch in ('"', "‘") and _opens(text, i, start) and (ch == '"' or single)):
                open_at, open_mark = i, ch
        elif (
            (open_mark == "“" and ch == "”")
            or (open_mark == '"' and ch == '"')
            or (open_mark == "‘" and ch == "’" and _closes_single(text, i, end))
        ):
            quotes.append(Quote(open_at + 1, i, True))
            open_at = None
    if open_at is not None and end - open_at > 1:
        quotes.append(Quote(open_at + 1, end, False))
    return [q for q in quotes if q.end > q.start]


def _opens(text: str, i: int, start: int) -> bool:
    return i == start or text[i - 1].isspace() or text[i - 1] in "([{—–-:/"


def _closes_single(text: str, i: int, end: int) -> bool:
    # "don’t", "Putin’s": an apostrophe is followed by a letter; a closing mark is not.
    return i + 1 >= end or not text[i + 1].isalpha()


def _inside_closed_quote(position: int, quotes: list[Quote]) -> bool:
    return any(q.closed and q.start <= position < q.end for q in quotes)


def _is_boundary(text: str, match: re.Match, para_start: int) -> bool:
    """Whether the punctuation run ``match`` ends a sentence (it is followed by a capital)."""
    if "." not in match.group():
        return True  # "!" and "?" always end a sentence
    cut = match.end()
    before = _WORD_BEFORE.search(text, max(para_start, cut - 40), cut)
    after = _WORD_AFTER.match(text, cut)
    if before is None or after is None:
        return True
    word = before.group(1).rstrip(".")
    next_word = after.group(1)
    if word.lower() in TITLE_ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isupper():
        return False  # an initial: "John F. Kennedy"
    if _MULTI_DOT_ABBREVIATION.match(word):
        # "the U.S. Treasury" goes on; "talks with the U.S. The ..." ends.
        return next_word.lower().strip(".") in SENTENCE_STARTERS
    return True


def split_sentences(text: str, start: int, end: int, quotes: list[Quote]) -> list[tuple[int, int]]:
    """(start, end) of each sentence in the paragraph text[start:end]."""
    spans: list[tuple[int, int]] = []
    current = start
    for match in _BOUNDARY.finditer(text, start, end):
        cut = match.end()
        if _inside_closed_quote(match.start(), quotes) and _inside_closed_quote(cut, quotes):
            continue
        if _is_boundary(text, match, start):
            spans.append((current, cut))
            current = cut
            while current < end and text[current].isspace():
                current += 1
    if current < end:
        spans.append((current, end))
    return spans


def sentences(text: str) -> list[Sentence]:
    """Every sentence of the prose paragraphs, with its quotations."""
    out: list[Sentence] = []
    first_prose = True
    for index, (p_start, p_end) in enumerate(join_broken(text, paragraphs(text))):
        bullet = _BULLET.match(text, p_start, p_end)
        if bullet:
            p_start = bullet.end()
        if p_start >= p_end or not is_prose(text[p_start:p_end]):
            continue
        if first_prose:
            # The dateline opens the story's first paragraph, after any headline or byline lines.
            p_start += dateline_end(text[p_start:p_end])
            first_prose = False
        quotes = find_quotes(text, p_start, p_end)
        for s_start, s_end in split_sentences(text, p_start, p_end, quotes):
            # A quote left open may run over several sentences: each keeps its own part.
            inner = tuple(
                Quote(max(q.start, s_start), min(q.end, s_end), q.closed)
                for q in quotes
                if q.start < s_end and q.end > s_start and min(q.end, s_end) > max(q.start, s_start)
            )
            out.append(Sentence(s_start, s_end, index, text[s_start:s_end], inner))
    return out
