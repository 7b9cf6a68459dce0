import subprocess
import sys
from datetime import datetime, timezone

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import FIXTURES, INGESTED_AT, PROJECT, SEEDS, fnapi_pipeline
from transforms.parsers import (
    InputError,
    decode_text,
    parse_feed,
    parse_file,
    parse_json_feed,
    parse_opml,
    parse_text_document,
    resolve_kind,
    sniff,
)
from transforms.read import ReadInputs, expand_input

INPUTS = FIXTURES / "inputs"
BAD = FIXTURES / "bad"
# Each file of tests/fixtures/bad and the reason it is rejected for.
BAD_FILE_REASONS = [
    ("empty.txt", "empty_file"),
    ("image.txt", "binary_file"),
    ("truncated.xml", "malformed_feed"),
    ("nothing.rss", "empty_feed"),
    ("nav-only.html", "no_text"),
    ("table.csv", "unsupported_kind"),
    ("data.json", "not_a_feed"),
]


def items_of(path):
    return [part for kind, part in parse_file(str(path), path.read_bytes()) if kind == "item"]


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"\x89PNG\r\n\x1a\n", "binary"),
        (b"abc\x00def", "binary"),
        (b'<?xml version="1.0"?><rss version="2.0">', "feed"),
        (b"\xef\xbb\xbf<feed xmlns='http://www.w3.org/2005/Atom'>", "feed"),
        (b"<!DOCTYPE html><html>", "html"),
        (b"<opml version='2.0'>", "opml"),
        (b'{"version": "https://jsonfeed.org/version/1"}', "json"),
        (b"Plain words.", "text"),
    ],
)
def test_sniff(head, kind):
    assert sniff(head) == kind


def test_kind_is_the_extension_unless_the_bytes_disagree():
    assert resolve_kind("a/b.rss", "feed") == "feed"
    assert resolve_kind("a/b.xml", "html") == "html"
    assert resolve_kind("a/b.html", "feed") == "feed"
    assert resolve_kind("a/b.json", "json") == "json_feed"
    assert resolve_kind("https://example.org/feed", "json") == "json_feed"
    assert resolve_kind("a/b.txt", "text") == "text"
    with pytest.raises(InputError, match="binary_file"):
        resolve_kind("a/b.txt", "binary")
    with pytest.raises(InputError, match="unsupported_kind"):
        resolve_kind("a/b.csv", "text")


def test_decode_text_handles_boms_and_legacy_encodings():
    assert decode_text("Grüße".encode("utf-16")) == "Grüße"
    assert decode_text(b"\xef\xbb\xbfhello") == "hello"
    latin = "Le café et la crème brûlée sont très appréciés à Paris.".encode("latin-1")
    assert "café" in decode_text(latin)


def test_plain_text_seed_title_section_byline_and_furniture():
    document = parse_text_document((SEEDS / "002_1cccf6c0bed23c27.txt").read_text())
    assert document["title"] == (
        "Kremlin Says It Is Encouraged By U.S. Talks, Ready To Negotiate Further"
    )
    assert document["categories"] == ["World"]
    assert document["authors"] == ["Sarah Chen"]
    for furniture in ("Share this article", "Listen to this article", "Source: media.cnn.com"):
        assert furniture not in document["text"]
    # The title repeated after the share buttons is not body text.
    assert document["title"] not in document["text"]


def test_plain_text_without_a_title_line_keeps_its_first_paragraph():
    document = parse_text_document((SEEDS / "000_247d25b6eb832498.txt").read_text())
    assert document["title"] is None
    assert document["text"].startswith("The Kremlin has confirmed")


def test_site_icon_line_is_not_taken_as_title():
    document = parse_text_document((SEEDS / "001_248293aa2be5afa6.txt").read_text())
    assert document["title"].startswith("Putin says Russia ready for peace talks")


def test_rss_entries_with_wire_quirks():
    source, entries = parse_feed((INPUTS / "reuters-sample.xml").read_bytes())
    assert source == "Reuters wire 1987-02-26"
    assert len(entries) == 4
    first = entries[0]
    assert first["title"] == "BAHIA COCOA REVIEW"
    assert first["published_at"] == datetime(1987, 2, 26, 15, 1, 1, tzinfo=timezone.utc)
    assert first["canonical_url"] == "https://archive.example.com/reuters21578/1"
    assert first["categories"][:2] == ["cocoa", "el-salvador"]
    # Hard-wrapped wire copy is unwrapped into paragraphs.
    first_paragraph = first["text"].split("\n")[0]
    assert "Bahia cocoa zone, alleviating the drought since early January" in first_paragraph
    assert first_paragraph.endswith("Comissaria Smith said in its weekly review.")
    assert first["text"].count("\n") < 20


def test_headline_only_brief_becomes_an_article_with_its_headline_as_text():
    brief = items_of(INPUTS / "reuters-sample.xml")[-1]
    assert brief["text"] == brief["title"]
    assert "720.4 MLN DLRS" in brief["text"]


def test_atom_content_over_summary_html_to_text():
    source, entries = parse_feed((INPUTS / "atom.atom").read_bytes())
    assert source == "Harbour Gazette"
    terminal, storm = entries
    assert "120 million euro ferry terminal" in terminal["text"]
    assert "Short summary" not in terminal["text"]
    assert "track()" not in terminal["text"]
    assert terminal["authors"] == ["Maria Lindqvist"]
    assert terminal["published_at"] == datetime(2024, 5, 2, 6, 0, tzinfo=timezone.utc)
    assert storm["text"].startswith("Police closed the coastal road")


def test_json_feed_items():
    source, entries = parse_json_feed((INPUTS / "jsonfeed.json").read_bytes())
    assert source == "Valley Courier"
    budget, library = entries
    assert budget["text"].split("\n")[1].startswith("Teachers will get a 3 percent raise")
    assert budget["published_at"] == datetime(2024, 1, 18, 1, 15, tzinfo=timezone.utc)
    assert budget["categories"] == ["Education"]
    assert library["published_at"] is None  # "not a date"
    assert library["canonical_url"] is None


def test_opml_lists_feed_locations():
    assert parse_opml((INPUTS / "feeds.opml").read_bytes()) == [
        "reuters-sample.xml",
        "http://127.0.0.1:9/rss",
        "missing/gone.xml",
    ]


def test_opml_entities_are_not_expanded():
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<opml><body><outline xmlUrl="&x;"/></body></opml>'
    )
    with pytest.raises(InputError):
        parse_opml(hostile)


def test_web_page_metadata_via_trafilatura():
    (page,) = items_of(INPUTS / "page.html")
    assert page["title"].startswith("Access to Wikipedia restored in Turkey")
    assert page["canonical_url"].startswith("https://wikimediafoundation.org/news/2020/01/15/")
    assert page["published_at"] == datetime(2020, 1, 15, tzinfo=timezone.utc)
    assert page["source"] == "Wikimedia Foundation"
    assert "Wikipedia" in page["text"]


@pytest.mark.parametrize(("name", "reason"), BAD_FILE_REASONS)
def test_bad_files_raise_their_reason(name, reason):
    path = BAD / name
    with pytest.raises(InputError) as raised:
        list(parse_file(str(path), path.read_bytes()))
    assert raised.value.reason == reason


def test_directory_input_means_everything_below_it(tmp_path):
    assert expand_input(str(tmp_path)) == f"{tmp_path}/**"
    assert expand_input("feeds/*.xml") == "feeds/*.xml"


def test_read_inputs_every_file_ends_as_items_or_rejects(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * 20_000)
    patterns = [expand_input(str(BAD)), str(INPUTS / "feeds.opml"), str(big)]
    with fnapi_pipeline() as pipeline:
        read = pipeline | ReadInputs(patterns, max_input_bytes=50_000, ingested_at=INGESTED_AT)
        assert_that(
            (read["items"] | "Items" >> beam.Flatten())
            | "ItemKeys" >> beam.Map(lambda i: (i["input"].rsplit("/", 1)[-1], i["title"])),
            equal_to(
                [
                    ("reuters-sample.xml", "BAHIA COCOA REVIEW"),
                    ("reuters-sample.xml", "STANDARD OIL <SRD> TO FORM FINANCIAL UNIT"),
                    ("reuters-sample.xml", "TEXAS COMMERCE BANCSHARES <TCB> FILES PLAN"),
                    (
                        "reuters-sample.xml",
                        "ASSETS OF MONEY MARKET MUTUAL FUNDS ROSE 720.4 MLN DLRS IN LATEST WEEK",
                    ),
                ]
            ),
            label="items",
        )
        assert_that(
            (read["rejects"] | "Rejects" >> beam.Flatten())
            | "RejectKeys" >> beam.Map(lambda r: (r["input"].rsplit("/", 1)[-1], r["reason"])),
            equal_to(
                [
                    *BAD_FILE_REASONS,
                    ("feeds.opml", "missing_input"),
                    ("big.txt", "too_large"),
                ]
            ),
            label="rejects",
        )
        # Feeds an OPML file lists by URL are handed on to the fetch stage.
        assert_that(read["feed_urls"], equal_to(["http://127.0.0.1:9/rss"]), label="feed_urls")


def test_feed_keeps_wire_ticker_symbols():
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><item>'
        b"<title>ANZ SAYS</title><description>SYDNEY, April 13 - The ANZ Banking Group Ltd "
        b"&lt;ANZA.S&gt; said cuts were needed.</description></item></channel></rss>"
    )
    _, (entry,) = parse_feed(feed)
    assert "Ltd <ANZA.S> said" in entry["text"]


def test_the_parsers_run_without_beam():
    """The page extraction child imports the parsers alone: with Beam imported too, an idle child
    took ~200 MB instead of ~85 MB."""
    probe = "import sys, transforms.parsers; print('apache_beam' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "False"
