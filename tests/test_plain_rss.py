"""The plain RSS 2.0 reader against feedparser: every feed reads the same either way.

``parse_feed`` reads plain RSS 2.0 with ``plain_rss`` and everything else with feedparser. The
reference here is ``parse_feed`` with the plain reader switched off, so the whole result (items,
titles, texts, dates, links, categories, or the reject reason) is compared, on every feed fixture
and on generated feeds: plain ones, which must take the fast path, and near-plain ones (an
attribute, a namespace, a repeated element, a comment, a DTD, another encoding), which must not.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms import parsers
from transforms.parsers import InputError, parse_feed
from transforms.plain_rss import plain_rss

FIXTURES = Path(__file__).parent / "fixtures"
FEEDS = sorted(
    path
    for path in FIXTURES.rglob("*")
    if path.suffix in (".xml", ".rss", ".atom", ".rdf") and path.is_file()
)
EXAMPLES = settings(
    max_examples=int(os.environ.get("WIRESTREAM_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def outcome(data: bytes) -> object:
    try:
        return parse_feed(data)
    except InputError as error:
        return ("rejected", error.reason, error.detail)


def feedparser_outcome(data: bytes, monkeypatch: pytest.MonkeyPatch) -> object:
    with monkeypatch.context() as patch:
        patch.setattr(parsers, "plain_rss", lambda data: None)
        return outcome(data)


@pytest.mark.parametrize("path", FEEDS, ids=lambda path: path.name)
def test_every_feed_fixture_reads_as_feedparser_reads_it(path: Path, monkeypatch) -> None:
    data = path.read_bytes()
    assert outcome(data) == feedparser_outcome(data, monkeypatch)


def test_wire_feeds_take_the_plain_path() -> None:
    reuters = [path for path in FEEDS if path.name.startswith("reuters")]
    assert len(reuters) >= 3
    for path in reuters:
        data = path.read_bytes()
        title, entries = plain_rss(data)
        assert title.startswith("Reuters") and len(entries) == data.count(b"<item>") > 0


# Text as feeds carry it: words, spaces to strip, markup and entities (escaped once or twice),
# C1 controls (Windows-1252 in disguise), UTF-8 read as Latin-1, anything else XML allows.
XML_CHARACTERS = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="\x00\ufffe\uffff",
    min_codepoint=0x09,
).filter(lambda c: c >= " " or c in "\t\n\r")
TEXT = st.one_of(
    st.text(XML_CHARACTERS, max_size=40),
    st.sampled_from(
        [
            "",
            "  padded  ",
            "\n\tWire copy\n    indented paragraph\n",
            "Shares <ANZA.S> rose & fell",
            "<p>Markup <b>inside</b></p>",
            "&lt;p&gt;escaped twice&lt;/p&gt;",
            "caf\u00c3\u00a9 cr\u00c3\u00a8me",  # UTF-8 read as Latin-1
            "\x80 euro, \x93quoted\x94, \x81 undefined",
            "caf\u00e9",
            "\u65e5\u672c\u8a9e \U0001f600",
            "\u00a0non-breaking\u00a0",
        ]
    ),
)
LINKS = st.sampled_from(
    [
        "https://example.com/a?x=1&y=2",
        "https://example.com/a?x=1&amp;y=2",
        "https://example.com/a?x=1&y;=2",
        "  https://example.com/spaced  ",
        "/relative/path",
        "urn:uuid:1234",
        "",
        "ftp://example.com/file",
    ]
)
DATES = st.sampled_from(
    [
        "Thu, 26 Feb 1987 15:01:01 +0000",
        "26 Feb 1987 15:01 GMT",
        "Mon, 1 Jan 2024 00:00:00 EST",
        "2024-01-02T03:04:05Z",
        "Thu, 31 Feb 1987 25:99:00 +0000",
        "0000-00-00",
        "yesterday",
        "",
        "Sat, 1 Jan 2400 00:00:00 +0000",
    ]
)


@st.composite
def plain_items(draw) -> str:
    children = []
    for tag, values in (
        ("title", TEXT),
        ("link", LINKS),
        ("guid", st.one_of(LINKS, TEXT)),
        ("pubDate", DATES),
        ("description", TEXT),
    ):
        if draw(st.booleans()):
            children.append((tag, draw(values)))
    children += [("category", draw(TEXT)) for _ in range(draw(st.integers(0, 3)))]
    children = draw(st.permutations(children))
    return "<item>" + "".join(_element(tag, value, draw) for tag, value in children) + "</item>"


def _element(tag: str, value: str, draw) -> str:
    if draw(st.booleans()) and "]]>" not in value and "\r" not in value:
        return f"<{tag}><![CDATA[{value}]]></{tag}>"
    return f"<{tag}>{escape(value).replace(chr(13), '&#13;')}</{tag}>"


@st.composite
def plain_feeds(draw) -> bytes:
    head = draw(
        st.sampled_from(
            [
                '<?xml version="1.0" encoding="utf-8"?>\n',
                "",
                "<?xml version='1.0' encoding='UTF-8'?>",
            ]
        )
    )
    channel = ""
    if draw(st.booleans()):
        channel += _element("title", draw(TEXT), draw)
    if draw(st.booleans()):
        channel += "<link>https://example.com/</link><description>A feed</description>"
    items = "".join(draw(st.lists(plain_items(), min_size=1, max_size=4)))
    return f'{head}<rss version="2.0"><channel>{channel}{items}</channel></rss>'.encode()


# One change each that takes a feed off the plain path.
NEAR_PLAIN = [
    (b"<item>", b'<item xml:base="https://example.com/base/">'),
    (b"<item>", b"<item><author>jo@example.com (Jo Reporter)</author>"),
    (b"<item>", b'<item><category domain="https://example.com/t">tagged</category>'),
    (b"<item>", b"<item><title>first</title><title>second</title>"),
    (b"<item>", b"<item><description>one</description><description>two</description>"),
    (b"<item>", b"<item><!-- a comment -->"),
    (b"<item>", b'<item><guid isPermaLink="false">x</guid>'),
    (b'<rss version="2.0">', b'<rss version="0.92">'),
    (
        b'<rss version="2.0"><channel>',
        b'<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        b"<dc:creator>Jo Reporter</dc:creator>",
    ),
    (b"<channel>", b"<channel><image><title>Logo</title><url>https://e.com/l.png</url></image>"),
]


@EXAMPLES
@given(feed=plain_feeds())
def test_plain_feeds_take_the_plain_path_and_read_as_feedparser_reads_them(
    feed: bytes, monkeypatch
) -> None:
    assert plain_rss(feed) is not None
    assert outcome(feed) == feedparser_outcome(feed, monkeypatch)


@EXAMPLES
@given(feed=plain_feeds(), change=st.sampled_from(NEAR_PLAIN))
def test_near_plain_feeds_go_to_feedparser(feed: bytes, change, monkeypatch) -> None:
    old, new = change
    changed = feed.replace(old, new, 1)
    assert plain_rss(changed) is None
    assert outcome(changed) == feedparser_outcome(changed, monkeypatch)


@pytest.mark.parametrize(
    "prefix",
    [
        b'<?xml version="1.0" encoding="iso-8859-1"?>',
        b"\xef\xbb\xbf",
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "x">]>',
        b'<?xml version="1.0"?><?xml-stylesheet href="s.xsl"?>',
    ],
)
def test_other_encodings_dtds_and_instructions_go_to_feedparser(prefix: bytes) -> None:
    feed = prefix + b'<rss version="2.0"><channel><item><title>t</title></item></channel></rss>'
    assert plain_rss(feed) is None
