"""feedparser's reading of plain RSS 2.0 feeds, without feedparser's per-element Python calls.

feedparser walks a feed with a Python callback per element and per text run; on wire feeds
(Reuters: ~8 elements an item) that was ~10% of a run's CPU. Most feeds are plain RSS 2.0: an
``rss`` root, one ``channel``, items whose children are text-only ``title``, ``link``, ``guid``,
``pubDate``, ``description`` and ``category``. ``plain_rss`` reads exactly that shape with the
C-accelerated ElementTree parser and returns what feedparser would, in feedparser's own key names
(``title``, ``link``, ``id``, ``summary``, ``published_parsed``, ``tags``), so one mapping serves
both readers. Anything else (another format or version, a namespace, an attribute, an element
outside that set, a repeated element, a DTD, comments, another declared encoding) returns None and
the feed goes to feedparser whole. ``tests/test_plain_rss.py`` compares the two on generated feeds.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import xml.etree.ElementTree as ElementTree

# feedparser's RFC 822/W3C/... date parser, as it applies it to pubDate: the same dates.
from feedparser.datetimes import _parse_date

_CHANNEL_TEXT_ELEMENTS = frozenset(
    {
        "title",
        "link",
        "description",
        "language",
        "copyright",
        "managingEditor",
        "webMaster",
        "pubDate",
        "lastBuildDate",
        "category",
        "generator",
        "docs",
        "ttl",
    }
)
# Item elements by the key feedparser gives their text (categories become "tags").
_ENTRY_KEYS = {
    "title": "title",
    "link": "link",
    "guid": "id",
    "description": "summary",
    "pubDate": "published_parsed",
}
_ITEM_ELEMENTS = frozenset({*_ENTRY_KEYS, "category"})
# The XML declaration, when there is one, and the only encodings it may declare.
_DECLARATION = re.compile(rb"<\?xml[^>]*\?>")
_DECLARED_ENCODING = re.compile(rb"""\bencoding\s*=\s*["']([^"']*)["']""")
_UTF8_NAMES = (b"utf-8", b"utf8")
# feedparser's fix-up of query strings in links ("?a=1&b;=2" read as an unknown reference).
_LINK_REFERENCE = re.compile("&([A-Za-z0-9_]+);")
# Windows-1252's characters for the C1 controls it defines, as feedparser maps them.
_CP1252 = {
    code: bytes([code]).decode("cp1252")
    for code in range(0x80, 0xA0)
    if code not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


def plain_rss(data: bytes) -> tuple[str | None, list[dict]] | None:
    """(feed title, entries as feedparser's dicts) for a plain RSS 2.0 feed in UTF-8 with at least
    one item, else None (feedparser reads it)."""
    if not _plain_utf8_xml(data):
        return None
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return None
    if root.tag != "rss" or root.attrib != {"version": "2.0"} or len(root) != 1:
        return None
    channel = root[0]
    if channel.tag != "channel" or channel.attrib:
        return None
    title: str | None = None
    seen: set[str] = set()
    entries = []
    for element in channel:
        if element.tag == "item":
            entry = _entry(element)
            if entry is None:
                return None
            entries.append(entry)
        elif element.tag in _CHANNEL_TEXT_ELEMENTS and _text_only(element):
            if element.tag in seen and element.tag != "category":
                return None
            seen.add(element.tag)
            if element.tag == "title":
                title = _feed_text(element.text)
        else:
            return None
    return (title, entries) if entries else None


def _plain_utf8_xml(data: bytes) -> bool:
    """UTF-8 without a byte order mark, declared as such or not at all, and no markup that
    ElementTree and feedparser could read differently: DTDs, comments, processing instructions."""
    if data.startswith(codecs.BOM_UTF8):  # feedparser's encoding detection starts from the mark
        return False
    declaration = _DECLARATION.match(data)
    if declaration:
        encoding = _DECLARED_ENCODING.search(declaration.group())
        if encoding and encoding.group(1).lower() not in _UTF8_NAMES:
            return False
    body = data[declaration.end() :] if declaration else data
    if b"<?" in body or data.count(b"<!") != data.count(b"<![CDATA["):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text_only(element: ElementTree.Element) -> bool:
    return not element.attrib and len(element) == 0


def _entry(item: ElementTree.Element) -> dict | None:
    if item.attrib:
        return None
    entry: dict = {}
    terms: list[str] = []
    for child in item:
        tag = child.tag
        if tag not in _ITEM_ELEMENTS or not _text_only(child):
            return None
        value = _feed_text(child.text)
        if tag == "category":
            if value and value not in terms:  # feedparser keeps each tag once
                terms.append(value)
            continue
        key = _ENTRY_KEYS[tag]
        if key in entry:
            return None  # feedparser's rules for repeats differ per element: let it apply them
        if tag == "link":
            value = _LINK_REFERENCE.sub(r"&\g<1>", value.replace("&amp;", "&"))
        elif tag == "pubDate":
            value = _parse_date(value)
        entry[key] = value
    if terms:
        entry["tags"] = [{"term": term} for term in terms]
    return entry


def _feed_text(text: str | None) -> str:
    """An element's text as feedparser hands it on for a UTF-8 feed: stripped, UTF-8 that was
    read as Latin-1 decoded again, and Windows-1252's characters for C1 controls."""
    value = (text or "").strip()
    if value.isascii():  # neither step changes ASCII
        return value
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_CP1252)
