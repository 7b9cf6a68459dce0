"""Text clean-up shared by the readers: HTML fragments to text, hard-wrapped lines, site furniture.

Every function returns text with one paragraph per line; normalize.py later joins paragraphs with a
blank line.
"""

from __future__ import annotations

import re
import unicodedata

import lxml.etree
import lxml.html

# Lines that are site furniture or wire sign-offs, never article text (matched on the whole line).
_FURNITURE = re.compile(
    r"""^(?:
        share\ this(?:\ article|\ story|\ post)?:?
      | share(?:\ on\ \w+)?
      | \d+\ comments?
      | no\ comments(?:\ yet)?
      | exit\ mobile\ version
      | leave\ a\ (?:reply|comment)
      | your\ email\ address\ will\ not\ be\ published\..*
      | required\ fields\ are\ marked\ \*?
      | site\ icon\b.*
      | listen\ to\ this\ article.*
      | (?:published|updated|discussion|advertisement|sponsored|print|email|comments)
      | skip\ to\ (?:main\ )?content
      | (?:sign\ up|subscribe)\b.{0,60}
      | follow\ us\ on\b.*
      | click\ here\b.{0,80}
      | read\ more(?::.{0,160})?
      | related(?:\ stories|\ articles|\ coverage)?:.{0,160}
      | more\ in\ [\w &-]+
      | source:\ [\w.-]+\.[a-z]{2,}
      | \d+\ min(?:ute)?s?\ read
      | (?:©|\(c\)|copyright)\s*(?:©\s*)?\d{4}\b.{0,120}
      | all\ rights\ reserved\.?
      | reuters?
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

# "Sarah Chen3 min read": a byline glued to a reading-time badge.
_BYLINE_READ_TIME = re.compile(r"^(?P<name>[A-Z][\w.'-]+(?: [A-Z][\w.'-]+){1,3})\s*\d+ min read$")
_BYLINE = re.compile(r"^By (?P<name>[A-Z][\w.'-]+(?: [A-Z][\w.'-]+){1,3})$")

_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "figcaption",
        "dd",
        "dt",
        "hr",
    ]
)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# Real HTML tags or entities; wire copy has "<ANZA.S>" ticker symbols that are text, not tags.
_TAG = re.compile(
    r"</?(?:p|br|div|span|a|b|i|u|em|strong|ul|ol|li|h[1-6]|blockquote|img|table|tr|td|th|pre|code"
    r"|figure|figcaption|section|article|header|footer|small|sup|sub|hr|iframe|script|style)\b[^>]*>"
    r"|<!--|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);",
    re.IGNORECASE,
)
# A closing bracket is no sentence end: wire copy wraps after "(ours)" mid-sentence.
_SENTENCE_END = (".", "!", "?", ":", '"', "'", "”", "’")


def is_furniture(line: str) -> bool:
    """True for a line that is site furniture (share buttons, comment counts, sign-offs)."""
    return bool(_FURNITURE.match(line.strip()))


def byline(line: str) -> str | None:
    """The author's name when the line is a byline, else None."""
    stripped = line.strip()
    match = _BYLINE_READ_TIME.match(stripped) or _BYLINE.match(stripped)
    return match.group("name") if match else None


def clean_line(line: str) -> str:
    """Unicode NFC, control characters removed, runs of spaces folded."""
    line = unicodedata.normalize("NFC", line)
    line = _CONTROL.sub("", line)
    return _SPACES.sub(" ", line).strip()


def looks_like_html(text: str) -> bool:
    return bool(_TAG.search(text))


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, one paragraph per line."""
    # Control characters never reach the text anyway, and lxml refuses them (NUL: the whole
    # fragment) when it parses or edits the tree.
    fragment = _CONTROL.sub("", fragment)
    if not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return ""
    for element in root.iter(*_DROP_TAGS):
        element.drop_tree()
    parts: list[str] = []
    _collect_text(root, parts)
    lines = (clean_line(line) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _collect_text(element: lxml.html.HtmlElement, parts: list[str]) -> None:
    block = isinstance(element.tag, str) and element.tag.lower() in _BLOCK_TAGS
    if block:
        parts.append("\n")
    if element.text and isinstance(element.tag, str):
        parts.append(element.text)
    for child in element:
        _collect_text(child, parts)
        if child.tail:
            parts.append(child.tail)
    if block:
        parts.append("\n")


def unwrap_paragraphs(text: str) -> str:
    """Plain text, possibly hard-wrapped (wire copy), to one paragraph per line.

    A paragraph ends at a blank line or at an indented line (wire style). When the document looks
    hard-wrapped (short lines of similar width), the lines of each paragraph are joined; otherwise
    each line stays its own paragraph (scraped pages put one paragraph on each line).
    """
    paragraphs: list[list[str]] = [[]]
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw.strip() or (raw[:1] in (" ", "\t") and paragraphs[-1]):
            paragraphs.append([])
        if raw.strip():
            paragraphs[-1].append(raw.strip())
    paragraphs = [lines for lines in paragraphs if lines]
    joined = _hard_wrapped(paragraphs)
    if joined:
        out = [" ".join(lines) for lines in paragraphs]
    else:
        out = [line for lines in paragraphs for line in lines]
    return "\n".join(line for line in map(clean_line, out) if line)


def _hard_wrapped(paragraphs: list[list[str]]) -> bool:
    """True when the lines that wrap (all but each paragraph's last) are short and of like width."""
    wrapping = [line for lines in paragraphs for line in lines[:-1]]
    if not wrapping:
        return False
    widest = max(len(line) for lines in paragraphs for line in lines)
    if widest > 100:
        return False
    wide = sum(len(line) >= 0.6 * widest for line in wrapping)
    ended = sum(line.endswith(_SENTENCE_END) for line in wrapping)
    return wide >= 0.8 * len(wrapping) and ended <= 0.5 * len(wrapping)
