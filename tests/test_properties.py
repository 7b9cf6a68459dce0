"""Property tests for every reader: whatever the bytes, no exception escapes, nothing hangs, and
every item ends as exactly one row (an article or a reject) that the Parquet writer accepts.

Each example goes the way a file goes through the pipeline, read stage then normalize stage, and
the contract is checked by fuzz/contract.py (shared with the atheris harness, fuzz/run.py). Web
pages go through the per-page time limit, so a pathological page cannot hang. The byte strategies
mix structured documents (feeds, pages, OPML, text in many encodings) with hostile fragments
(entity declarations, impossible character references, NUL bytes, lone surrogates, truncation,
wrong declared encodings) and raw random bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.contract import FileContract

# No example database in the checkout; a failure prints its example (and @reproduce_failure).
# WIRESTREAM_PROPERTY_EXAMPLES=5000 searches longer (fuzz/README.md).
PROPERTIES = settings(
    max_examples=int(os.environ.get("WIRESTREAM_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NASTY = [
    "&#xD800;",
    "&#0;",
    "&#1114112;",
    "&#x1F600;",
    "&lol9;",
    "&amp;",
    "&",
    "<",
    ">",
    '"',
    "\x00",
    "\ufeff",
    "\u2028",
    "\r",
    "\r\n",
    "\n\n",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    '<!DOCTYPE x [<!ENTITY lol "lol">]>',
    '<!ENTITY secret SYSTEM "file:///etc/passwd">',
    "<script>alert(1)</script>",
    "</item>",
    "</entry>",
    "<div>" * 300,
    "</p>",
    "<br>",
    "Share this article",
    "By Jane Doe",
    "REUTER",
    "../../etc",
    "date=2020-01-01/x",
    "café",
    "Grüße",
    "日本語",
]
# Any code point, lone surrogates included.
TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
FIELD = st.lists(st.one_of(TEXT, st.sampled_from(NASTY)), max_size=5).map("".join)
DATES = st.sampled_from(
    [
        "Tue, 03 Mar 1987 10:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 -1200",
        "0000-00-00T00:00:00Z",
        "1800-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "2026-11-23T00:00:00Z",
        "yesterday",
        "",
    ]
)
URLS = st.tuples(st.sampled_from(["", "http://", "https://", "http://["]), FIELD).map("".join)
ENCODINGS = ["utf-8", "latin-1", "cp1252", "utf-16", "shift_jis", "koi8-r", "utf-32"]
DECLARED = [None, "utf-8", "iso-8859-1", "windows-1252", "utf-16", "shift_jis", "no-such"]


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def encoded(draw, document: str) -> bytes:
    """A document in a random encoding, perhaps declaring another, perhaps truncated."""
    encoding = draw(st.sampled_from(ENCODINGS))
    declared = draw(st.sampled_from(DECLARED))
    if declared and document.startswith("<"):
        document = f'<?xml version="1.0" encoding="{declared}"?>\n{document}'
    errors = "surrogatepass" if encoding.startswith("utf") else "replace"
    data = document.encode(encoding, errors=errors)
    cut = draw(st.none() | st.integers(min_value=0, max_value=len(data)))
    return data if cut is None else data[:cut]


def field_markup(draw, raw: bool) -> str:
    value = draw(FIELD)
    return value if raw else escape_xml(value)


@st.composite
def xml_feeds(draw) -> bytes:
    kind = draw(st.sampled_from(["rss", "atom", "rdf"]))
    raw = draw(st.booleans())  # unescaped fields make malformed XML of every kind
    entries = []
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        guid, title, body, category = (field_markup(draw, raw) for _ in range(4))
        link = draw(URLS)
        link = link if raw else escape_xml(link)
        date = draw(DATES)
        if kind == "atom":
            entries.append(
                f"<entry><id>{guid}</id><title>{title}</title><updated>{date}</updated>"
                f'<link href="{escape_xml(link)}"/>'
                f'<category term="{escape_xml(category)}"/><content type="html">{body}</content>'
                "</entry>"
            )
        else:
            entries.append(
                f"<item><guid>{guid}</guid><title>{title}</title><pubDate>{date}</pubDate>"
                f"<link>{link}</link>"
                f"<category>{category}</category><description>{body}</description></item>"
            )
    title = field_markup(draw, raw)
    prolog = draw(st.sampled_from(["", '<!DOCTYPE rss [<!ENTITY lol9 "lol">]>']))
    if kind == "atom":
        document = (
            f'{prolog}<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
            f"{''.join(entries)}</feed>"
        )
    elif kind == "rdf":
        document = (
            f'{prolog}<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            f'xmlns="http://purl.org/rss/1.0/"><channel><title>{title}</title></channel>'
            f"{''.join(entries)}</rdf:RDF>"
        )
    else:
        document = (
            f'{prolog}<rss version="2.0"><channel><title>{title}</title>'
            f"{''.join(entries)}</channel></rss>"
        )
    return draw(encoded(document))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | FIELD,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(FIELD, children, max_size=3),
    max_leaves=8,
)


@st.composite
def json_feeds(draw) -> bytes:
    items = draw(
        st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "id": st.one_of(URLS, JSON_VALUES),
                    "url": st.one_of(URLS, JSON_VALUES),
                    "title": JSON_VALUES,
                    "content_html": st.one_of(FIELD, JSON_VALUES),
                    "content_text": st.one_of(FIELD, JSON_VALUES),
                    "date_published": st.one_of(DATES, JSON_VALUES),
                    "tags": JSON_VALUES,
                    "authors": JSON_VALUES,
                    "author": JSON_VALUES,
                },
            )
            | JSON_VALUES,
            max_size=4,
        )
    )
    document = {"version": "https://jsonfeed.org/version/1.1", "title": draw(JSON_VALUES)}
    document["items"] = items
    return draw(encoded(json.dumps(document, ensure_ascii=draw(st.booleans()))))


TAGS = ["div", "p", "article", "main", "span", "table", "tr", "td", "ul", "li", "a", "b", "h1"]
HTML_TREES = st.recursive(
    FIELD,
    lambda children: st.tuples(st.sampled_from(TAGS), st.lists(children, max_size=4)).map(
        lambda tag_children: f"<{tag_children[0]}>{''.join(tag_children[1])}</{tag_children[0]}>"
    ),
    max_leaves=25,
)
SENTENCE = "The council voted on Tuesday to build a new bridge over the river, the mayor said. "


@st.composite
def html_pages(draw) -> bytes:
    body = draw(HTML_TREES)
    if draw(st.booleans()):  # enough real text for trafilatura to keep something
        body = f"<article><p>{SENTENCE * 4}</p>{body}</article>"
    head = draw(st.sampled_from(["", '<meta charset="utf-8">', '<meta charset="shift_jis">']))
    return draw(encoded(f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"))


@st.composite
def text_documents(draw) -> bytes:
    lines = draw(st.lists(st.one_of(FIELD, st.just(""), st.just(SENTENCE)), max_size=12))
    return draw(encoded("\n".join(lines)))


@st.composite
def opml_documents(draw) -> bytes:
    raw = draw(st.booleans())
    outlines = "".join(
        f'<outline text="{escape_xml(draw(FIELD))}" xmlUrl="{field_markup(draw, raw)}"/>'
        for _ in range(draw(st.integers(min_value=0, max_value=4)))
    )
    return draw(encoded(f'<opml version="2.0"><body><outline>{outlines}</outline></body></opml>'))


# --- the contract -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def contract(tmp_path_factory) -> Iterator[FileContract]:
    # Pages through the per-page time limit, as the command line reads them: nothing can hang.
    checker = FileContract(tmp_path_factory.mktemp("properties"), extract_timeout=10.0)
    yield checker
    checker.close()


@PROPERTIES
@given(data=st.one_of(xml_feeds(), st.binary(max_size=3000)))
def test_any_feed_bytes_end_as_rows(contract, data):
    contract.rows("feed.xml", data)


@PROPERTIES
@given(data=st.one_of(json_feeds(), st.binary(max_size=3000)))
def test_any_json_feed_bytes_end_as_rows(contract, data):
    contract.rows("feed.json", data)


@PROPERTIES
@given(data=st.one_of(html_pages(), st.binary(max_size=3000)))
def test_any_html_bytes_end_as_rows(contract, data):
    contract.rows("page.html", data)


@PROPERTIES
@given(data=st.one_of(text_documents(), st.binary(max_size=3000)))
def test_any_text_bytes_end_as_rows(contract, data):
    articles, rejects, _ = contract.rows("note.txt", data)
    assert len(articles) + len(rejects) == 1  # a text file is one item


@PROPERTIES
@given(data=st.one_of(opml_documents(), st.binary(max_size=3000)))
def test_any_opml_bytes_end_as_rows_or_feed_references(contract, data):
    articles, _, _ = contract.rows("feeds.opml", data)
    assert not articles  # an OPML file lists feeds; it holds no articles itself
