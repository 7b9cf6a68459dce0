"""Hostile and broken input: one test per kind of nasty input (tests/fixtures/hostile/).

Whatever arrives, no exception escapes the read stage and every item ends as an article or a reject
row. The largest inputs (a 50 MB line, a feed of 100,000 entries, a page 100,000 elements deep) are
generated into tmp_path, not committed. One end-to-end run over the whole corpus (plus the good and
bad fixtures) checks the tables: nothing outside OUTPUT, no extra partition levels, and the
summary's accounting (items read = articles + rejects).
"""

from __future__ import annotations

import contextlib
import http.server
import io
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import apache_beam as beam
import duckdb
import pytest
from apache_beam.testing.util import assert_that, equal_to

from pipeline.cli import main
from schemas import ARTICLES, CLAIMS, REJECTS
from tests.conftest import FIXTURES, INGESTED_AT, fnapi_pipeline, slow_page
from transforms.normalize import build_article, normalize_text, word_count
from transforms.parsers import HtmlExtractor, InputError, parse_file, parse_html_page, parse_opml
from transforms.read import ReadInputs
from transforms.write import partition_path, partition_value

HOSTILE = FIXTURES / "hostile"


def parts_of(path: Path, data: bytes | None = None) -> list[tuple[str, dict | str]]:
    return list(parse_file(str(path), path.read_bytes() if data is None else data))


def items_of(path: Path, data: bytes | None = None) -> dict[str | None, dict]:
    return {part["item"]: part for kind, part in parts_of(path, data) if kind == "item"}


def rejected_reason(path: Path, data: bytes | None = None) -> str:
    with pytest.raises(InputError) as rejected:
        parts_of(path, data)
    return rejected.value.reason


# --- entity expansion and external entities ------------------------------------------------------


def test_billion_laughs_in_a_feed_is_not_expanded():
    items = items_of(HOSTILE / "billion-laughs.xml")
    assert set(items) == {"laughs-1", "laughs-2"}
    bomb = items["laughs-1"]["text"]
    # Expanded, &lol9; alone is 3,000,000 characters.
    assert "lollol" not in bomb and len(bomb) < 200
    assert bomb.startswith("Before the bomb.") and bomb.endswith("for a few words.")
    assert items["laughs-2"]["text"].startswith("The second story")


def test_billion_laughs_in_opml_is_refused_not_expanded():
    with pytest.raises(InputError) as refused:
        parse_opml((HOSTILE / "billion-laughs.opml").read_bytes())
    assert refused.value.reason == "malformed_opml"
    assert "amplification" in refused.value.detail


def test_billion_laughs_in_a_page_is_not_expanded():
    page = parse_html_page((HOSTILE / "billion-laughs.html").read_bytes())
    assert "lollol" not in page["text"]
    assert "four percent" in page["text"]


class _RecordingHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"FETCHED-BY-THE-PARSER")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recording_server() -> Iterator[http.server.HTTPServer]:
    """A local HTTP server that records every request it gets (there must be none)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _RecordingHandler)
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("name", ["external-entities.xml", "external-entities.opml"])
def test_external_entities_are_neither_read_nor_fetched(name, tmp_path, recording_server):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    host, port = recording_server.server_address
    hostile = (
        (HOSTILE / name)
        .read_bytes()
        .replace(b"file:///etc/passwd", secret.as_uri().encode())
        .replace(b"http://127.0.0.1:9", f"http://{host}:{port}".encode())
    )
    try:
        parts = parts_of(tmp_path / name, hostile)
    except InputError as refused:  # refusing the whole document is fine too
        parts = [("reject", refused.reason)]
    printed = repr(parts)
    assert "TOP-SECRET-MARKER" not in printed and "FETCHED-BY-THE-PARSER" not in printed
    assert recording_server.paths == []
    if name.endswith(".xml"):
        assert parts[0][1]["text"].endswith("The rest of the story is ordinary text.")


# --- broken documents -----------------------------------------------------------------------------


def test_truncated_feeds_keep_what_arrived():
    rss = items_of(HOSTILE / "truncated-rss.xml")
    assert rss["cut-1"]["text"] == "The first story arrived whole, with all of its words."
    # The cut item still becomes a row: its headline stands in for the lost text.
    assert rss["cut-2"]["text"] == "The story that was cut"
    atom = items_of(HOSTILE / "truncated-atom.atom")
    assert atom["urn:cut:1"]["text"] == "The entry has its summary and it is complete."
    assert set(atom) == {"urn:cut:1", "urn:cut:2"}
    assert rejected_reason(HOSTILE / "truncated.opml") == "malformed_opml"


@pytest.mark.parametrize(
    "name",
    [
        "declared-utf8-is-latin1.xml",
        "declared-latin1-is-utf8.xml",
        "declared-utf16-is-utf8.xml",
        "declared-utf8-is-latin1.html",
    ],
)
def test_wrong_declared_encoding_is_read_right(name):
    (item,) = items_of(HOSTILE / name).values()
    assert "Le café et la crème brûlée sont très appréciés à Paris" in item["text"]


def test_mixed_encodings_read_each_stretch_in_its_own_encoding():
    (text_file,) = items_of(HOSTILE / "mixed-encodings.txt").values()
    for words in ("crème brûlée", "Naïve façade, déjà vu — said", "Grüße aus München"):
        assert words in text_file["text"]
    (feed_item,) = items_of(HOSTILE / "mixed-encodings.xml").values()
    assert "crème brûlée" in feed_item["text"] and "Naïve façade." in feed_item["text"]


def test_nul_bytes_are_dropped_or_mark_a_binary_file():
    (text_file,) = items_of(HOSTILE / "nul-bytes.txt").values()
    assert "Here are some NUL bytes in a sentence." in text_file["text"]
    feed = items_of(HOSTILE / "nul-bytes.xml")
    assert set(feed) == {"nul-1", "nul-2"}
    assert "\x00" not in repr(feed)
    assert feed["nul-1"]["text"] == "A NUL byte in the body of the story."
    # NUL bytes in the first bytes of a file are what binary files look like.
    assert rejected_reason(HOSTILE / "nul-in-head.txt") == "binary_file"


def test_character_references_to_no_character_do_not_sink_the_feed():
    # feedparser raises on &#xD800; and &#x110000;: each becomes U+FFFD before it parses.
    items = items_of(HOSTILE / "impossible-char-refs.xml")
    assert set(items) == {"refs-1\ufffd", "refs-2"}
    assert (
        items["refs-1\ufffd"]["text"]
        == "No such characters: \ufffd \ufffd \ufffd but a real one: 😀."
    )
    assert items["refs-2"]["text"].startswith("The next story is untouched")


def test_lone_surrogates_and_odd_types_in_a_json_feed():
    items = items_of(HOSTILE / "lone-surrogates.json")
    assert items["surrogate-1"]["title"] == "A lone \ufffd surrogate"
    assert "pair 😀 that is fine" in items["surrogate-1"]["text"]
    assert items["surrogate-2"]["categories"] == [] and items["surrogate-2"]["authors"] == []
    # Every string can be written as UTF-8 (Parquet refuses lone surrogates).
    for item in items.values():
        for value in (item["item"], item["title"], item["text"], item["source"]):
            value.encode("utf-8")


def test_control_characters_in_an_html_body_keep_the_text():
    (item,) = items_of(HOSTILE / "control-characters.xml").values()
    assert item["text"] == "The body keeps its words.\nA backspace and a NUL follow the script."


def test_markup_that_trips_feedparser_is_a_malformed_feed():
    # feedparser's fallback parser raises KeyError on this one: a reject, not a parser crash.
    assert rejected_reason(HOSTILE / "feedparser-trap.xml") == "malformed_feed"


def test_fields_feedparser_leaves_empty_are_empty_text():
    # Found by the fuzzer (fuzz/run.py): feedparser gave a summary of None for the third entry.
    items = items_of(HOSTILE / "fuzz-found-none-summary.xml")
    assert list(items) == ["#0", "xxe-1", "enc-2"]
    assert items["enc-2"]["text"] == "Café story"  # no body: the headline stands in


def test_elements_named_like_feedparsers_fields_do_not_sink_the_feed():
    # Found by atheris (fuzz/run.py html): feedparser keeps an unknown element's text under its
    # name, so an item's <authors> or <published_parsed> became a string where a list of authors
    # or a date was read; the exception lost every item of the feed as a parse_error.
    items = items_of(HOSTILE / "fuzz-found-element-named-like-a-field.xml")
    assert list(items) == ["authors-1", "stamp-2", "plain-3"]
    assert items["authors-1"]["authors"] == []
    assert items["authors-1"]["published_at"] == datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    assert items["stamp-2"]["published_at"] is None
    assert items["stamp-2"]["text"] == "The bridge was repaired overnight."
    assert items["plain-3"]["published_at"] == datetime(2026, 3, 3, 17, 0, tzinfo=timezone.utc)


def test_a_page_whose_tree_trips_its_extractor_is_a_malformed_page():
    # Found by atheris (fuzz/run.py feed): a broken feed read as a page made htmldate drop the
    # root element and lxml assert; it surfaced as an unforeseen parse_error.
    assert rejected_reason(HOSTILE / "fuzz-found-dropped-root.xml") == "malformed_page"


def test_links_that_do_not_parse_are_no_urls():
    # urlsplit raises on "http://[bad": the article row (canonical URL, id) must not.
    items = items_of(HOSTILE / "broken-urls.xml")
    broken = items["https://[::1"]
    assert broken["url"] is None and broken["canonical_url"] is None
    rows = [build_article({**item, "input": "x"}, INGESTED_AT, None) for item in items.values()]
    assert [row["url"] for row in rows] == [None, "http://example.com/good"]
    # Found by the fuzzer (fuzz/run.py): the same host in an OPML list lost the whole list.
    assert parts_of(HOSTILE / "broken-urls.opml") == [
        ("feed_ref", "http://127.0.].1:9/rss"),
        ("feed_ref", str(HOSTILE / "plain.xml")),
    ]


def test_deeply_nested_html_ends_as_rows(tmp_path):
    # libxml2 stops building the tree 256 levels down: the text below is lost, never a crash.
    assert rejected_reason(HOSTILE / "deeply-nested.html") == "no_text"
    feed = items_of(HOSTILE / "deeply-nested.xml")
    assert feed["deep-1"]["text"] == "A story nested five thousand deep"
    assert feed["deep-2"]["text"] == "The shallow story is read as usual."
    deeper = tmp_path / "deeper.html"
    deeper.write_text("<html><body>" + "<div><span>" * 50_000 + "Deep words here." + "</body>")
    assert rejected_reason(deeper) == "no_text"


def test_dates_outside_1900_to_now_fall_back_to_the_ingest_date():
    items = {
        **items_of(HOSTILE / "dates.xml"),
        **items_of(HOSTILE / "dates.json"),
    }
    published = {}
    for key, item in items.items():
        row = build_article({**item, "input": "dates"}, INGESTED_AT, "en")
        published[key] = (row["date_source"], row["date"])
    ingested = ("ingested", INGESTED_AT.date().isoformat())
    assert published == {
        "date-future": ingested,
        "date-future-offset": ingested,
        "date-old": ingested,
        "date-year-zero": ingested,
        "date-epoch": ("published", "1970-01-01"),
        "date-garbage": ingested,
        "date-good": ("published", "1987-03-03"),
        "json-date-future-offset": ingested,
        "json-date-before-year-one": ingested,
        "json-date-old": ingested,
        "json-date-future": ingested,
        "json-date-good": ("published", "1987-03-03"),
    }
    # A day ahead is allowed (time zones, clock skew); later is not.
    tomorrow = {**items["date-good"], "published_at": INGESTED_AT + timedelta(hours=23)}
    assert build_article({**tomorrow, "input": "x"}, INGESTED_AT, None)["date_source"] == (
        "published"
    )


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("../../etc", "etc"),
        ("date=2020-01-01/x", "date-2020-01-01-x"),
        ("topic=../../escape", "topic-escape"),
        ("/absolute/path", "absolute-path"),
        ("..", "unknown"),
        ("a\\b\\..\\c", "a-b-c"),
        ("\x00", "unknown"),
    ],
)
def test_partition_values_are_one_safe_path_segment(value, slug):
    assert partition_value(value) == slug
    path = partition_path(ARTICLES, {"date": "1987-03-03", "topic": value})
    assert path == f"date=1987-03-03/topic={slug}"


# --- big inputs -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_50_mb_single_line(tmp_path):
    sentence = b"The central bank raised rates by 25 basis points on Tuesday, officials said. "
    repeats = 50_000_000 // len(sentence)
    line = tmp_path / "one-line.txt"
    line.write_bytes(sentence * repeats)
    # Over the default size limit: rejected without being read.
    with fnapi_pipeline() as pipeline:
        read = pipeline | ReadInputs([str(line)], 10 * 1024 * 1024, INGESTED_AT)
        rejects = read["rejects"] | "Rejects" >> beam.Flatten()
        assert_that(rejects | beam.Map(lambda row: row["reason"]), equal_to(["too_large"]))
        assert_that(read["items"] | "Items" >> beam.Flatten(), equal_to([]), label="NoItems")
    # Under a raised limit the readers take it in one linear pass: one item, every word kept.
    (item,) = items_of(line).values()
    assert word_count(normalize_text(item["text"])) == repeats * 13


@pytest.mark.slow
def test_a_feed_with_100000_entries(tmp_path):
    entries = "".join(
        f"<item><guid>g{n}</guid><title>Story {n}</title><description>Words of story {n}."
        "</description></item>"
        for n in range(100_000)
    )
    feed = tmp_path / "huge.xml"
    feed.write_text(f'<rss version="2.0"><channel><title>Huge</title>{entries}</channel></rss>')
    items = items_of(feed)
    assert len(items) == 100_000
    assert items["g99999"]["text"] == "Words of story 99999."


# --- the per-page time limit ----------------------------------------------------------------------


GOOD_PAGE = (
    "<html><head><title>Budget</title></head><body><article>"
    + "<p>The minister said the budget would rise by four percent next year, officials said.</p>"
    * 4
    + "</article></body></html>"
).encode()


def test_a_page_over_the_time_limit_is_rejected_and_the_next_is_read():
    extractor = HtmlExtractor(time_limit=2)
    try:
        with pytest.raises(InputError) as timed_out:
            extractor(slow_page())
        assert timed_out.value.reason == "extraction_timeout"
        assert "four percent" in extractor(GOOD_PAGE)["text"]
        with pytest.raises(InputError) as nothing:
            extractor(b"<html><body><nav>Home</nav></body></html>")
        assert nothing.value.reason == "no_text"
    finally:
        extractor.close()


def test_an_idle_extraction_child_stops_and_the_next_page_starts_another():
    extractor = HtmlExtractor(time_limit=10, idle_seconds=1.0)
    try:
        assert "four percent" in extractor(GOOD_PAGE)["text"]
        first_wait = extractor.idle_timer
        assert "four percent" in extractor(GOOD_PAGE)["text"]
        first_wait.join()  # cancelled by the second page: the child serves on
        assert extractor.running
        extractor.idle_timer.join()
        assert not extractor.running
        assert "four percent" in extractor(GOOD_PAGE)["text"]
        assert extractor.running
    finally:
        extractor.close()
    assert not extractor.running


# --- end to end over the whole corpus -------------------------------------------------------------

_TABLE_FILE = {
    "articles": re.compile(r"^date=\d{4}-\d\d-\d\d/topic=[a-z0-9-]+/part-[\w.=-]+\.parquet$"),
    "claims": re.compile(r"^date=\d{4}-\d\d-\d\d/topic=[a-z0-9-]+/part-[\w.=-]+\.parquet$"),
    "rejects": re.compile(r"^date=\d{4}-\d\d-\d\d/part-[\w.=-]+\.parquet$"),
}


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory) -> tuple[Path, Path, str]:
    """The hostile corpus with the good and bad fixtures (and a page over the time limit).

    Only local inputs (the good fixtures' OPML file lists a URL): no test may reach the network.
    """
    root = tmp_path_factory.mktemp("hostile")
    inputs = root / "inputs"
    shutil.copytree(HOSTILE, inputs / "hostile")
    shutil.copytree(FIXTURES / "bad", inputs / "bad")
    shutil.copytree(FIXTURES / "inputs", inputs / "good", ignore=shutil.ignore_patterns("*.opml"))
    (inputs / "slow.html").write_bytes(slow_page())
    output = root / "output"
    flags = ["--input", str(inputs), "--output", str(output), "--extract-timeout", "3"]
    printed = io.StringIO()  # capsys is function-scoped: capture the summary by hand
    with contextlib.redirect_stdout(printed):
        assert main(["run", *flags, "--ingested-at", "2026-11-22T12:00:00Z"]) == 0
    return inputs, output, printed.getvalue()


def _rows(output: Path, table: str, columns: str) -> list[tuple]:
    return duckdb.sql(
        f"select {columns} from read_parquet('{output}/{table}/**/*.parquet', "
        "hive_partitioning=true)"
    ).fetchall()


def test_nothing_is_written_outside_output_and_no_extra_partition_levels(corpus_run):
    _, output, _ = corpus_run
    root = output.resolve()
    for path in output.rglob("*"):
        assert path.resolve().is_relative_to(root), path
    # Besides the tables, only folders readers ignore (leading underscore); the staging is empty.
    visible = {p.name for p in output.iterdir() if not p.name.startswith("_")}
    assert visible == {"articles", "claims", "rejects"}
    assert not [p for p in (output / "_staging").rglob("*") if p.is_file()]
    for table in (ARTICLES, CLAIMS, REJECTS):
        files = [p for p in (output / table.name).rglob("*") if p.is_file()]
        assert files
        for path in files:
            assert _TABLE_FILE[table.name].match(path.relative_to(output / table.name).as_posix())
    # The path-like categories stay data, verbatim, in the categories column.
    (categories,) = [c for (c,) in _rows(output, "articles", "categories") if "../../etc" in c]
    assert categories[:3] == ["../../etc", "date=2020-01-01/x", "topic=../../escape"]


def test_every_hostile_file_ends_as_rows(corpus_run):
    inputs, output, _ = corpus_run
    article_inputs = {Path(p).name for (p,) in _rows(output, "articles", "input")}
    reject_reasons = {}
    for path, reason in _rows(output, "rejects", "input, reason"):
        reject_reasons.setdefault(Path(path).name, set()).add(reason)
    every_file = {p.name for p in inputs.rglob("*") if p.is_file()}
    assert every_file <= article_inputs | set(reject_reasons)
    assert reject_reasons["slow.html"] == {"extraction_timeout"}
    assert reject_reasons["nul-in-head.txt"] == {"binary_file"}
    assert "billion-laughs.xml" in article_inputs
    # The listed feed of the external-entities OPML was never reached through an entity.
    assert "plain.xml" in article_inputs


def test_accounting_items_read_equals_articles_plus_rejects(corpus_run):
    _, output, printed = corpus_run

    def shown(label: str) -> int:
        return int(re.search(rf"^\s+{label}\s+([\d,]+)", printed, re.M).group(1).replace(",", ""))

    articles = len(_rows(output, "articles", "article_id"))
    rejects = len(_rows(output, "rejects", "input"))
    assert shown("articles written") == articles
    assert shown("rejects") == rejects
    # Items read is counted by the read stage as it emits items and rejects (Beam metrics), not
    # derived from the written rows: a stage that lost rows would break this equality.
    assert "read.items" in printed and "not accounted for" not in printed
    assert shown("items read") == articles + rejects
    assert articles > 20 and rejects > 10
