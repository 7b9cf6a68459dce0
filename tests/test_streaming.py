"""Streaming mode: the pieces (transforms/stream.py) and a bounded end-to-end run against a real
HTTP server on 127.0.0.1 whose feeds change between polls."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import apache_beam as beam
import duckdb
import pytest
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window

from pipeline.cli import main
from tests.conftest import INGESTED_AT, fnapi_pipeline
from tests.http_server import FeedServer, Reply, rss
from transforms.dedup import DedupParams
from transforms.normalize import build_article
from transforms.stream import (
    CrossWindowDedup,
    FirstSightingFn,
    feed_urls,
    parse_duration,
    sighting_key,
    written_first_key,
)

ORIGINAL = (
    "The port authority of Wellington said on Tuesday that the new container terminal would open "
    "in March, two months later than planned, after storms damaged the quay cranes delivered in "
    "January. Chief executive Anna Brook told reporters the delay would cost about 12 million "
    "dollars and that shipping lines had agreed to keep their schedules. The terminal is designed "
    "to handle 400,000 containers a year and will employ 250 people when it is fully running."
)
# The same story as another outlet runs it hours later: its own dateline, a trimmed last sentence.
REPRINT = "WELLINGTON (Wire) - " + ORIGINAL.replace(" and will employ 250 people", "")
UNRELATED = (
    "Heavy rain closed three mountain roads in the south of the island on Wednesday, and the "
    "weather service warned that more than 200 millimetres could fall before the weekend. Farmers "
    "moved sheep to higher ground while the regional council opened two evacuation centres."
)
LATER_STORY = (
    "The national orchestra announced a winter season of eleven concerts on Thursday, including "
    "two premieres by local composers and a festival for children in the capital in July. Tickets "
    "go on sale next week, and the orchestra said prices would stay as they were last year."
)
WHEN = "Tue, 03 Mar 2026 09:00:00 GMT"


# --- pure pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("300", 300), ("90s", 90), ("5m", 300), ("72h", 259200), ("2d", 172800)]
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "-5", "0", "5 weeks", "h"])
def test_parse_duration_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sighting_key_prefers_the_link_then_a_feed_scoped_guid_then_the_content():
    item = {"input": "http://a/feed", "item": "g1", "title": "T", "text": "x"}
    linked = {**item, "canonical_url": "HTTP://Example.org/a?utm_source=rss"}
    assert sighting_key(linked) == "url:http://example.org/a"
    assert sighting_key({**item, "canonical_url": None}) == "guid:http://a/feed g1"
    assert sighting_key({**item, "item": "#3"}).startswith("text:")
    assert sighting_key({**item, "item": "#3"}) != sighting_key({**item, "item": "#3", "text": "y"})


def test_written_first_key_orders_by_window_then_publication():
    early_story_late_window = written_first_key(2_000, (-5_000_000, "b"))
    late_story_early_window = written_first_key(1_000, (9_000_000, "a"))
    assert late_story_early_window < early_story_late_window
    assert written_first_key(1_000, (-1, "z")) < written_first_key(1_000, (1, "a"))


def test_feed_urls_reads_opml_lists_and_refuses_files(tmp_path):
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline xmlUrl="https://a.example/rss"/>'
        '<outline xmlUrl="https://b.example/atom"/></body></opml>'
    )
    urls = feed_urls(["https://a.example/rss", str(opml)])
    assert urls == ["https://a.example/rss", "https://b.example/atom"]
    text = tmp_path / "note.txt"
    text.write_text("just a note")
    with pytest.raises(ValueError, match="OPML"):
        feed_urls([str(text)])


# --- stateful transforms -------------------------------------------------------------------------


def item(link: str, text: str) -> dict:
    return {"input": "http://feed", "item": link, "canonical_url": link, "title": None,
            "text": text}  # fmt: skip


def test_first_sighting_passes_each_item_once():
    sightings = [(0, item("http://x/1", "a")), (10, item("http://x/1", "a")),
                 (10, item("http://x/2", "b")), (20, item("http://x/1", "a"))]  # fmt: skip
    with fnapi_pipeline() as pipeline:
        firsts = (
            pipeline
            | beam.Create(sightings)
            | beam.Map(lambda ts_item: window.TimestampedValue(ts_item[1], ts_item[0]))
            | beam.Map(lambda i: (sighting_key(i), i))
            | beam.ParDo(FirstSightingFn(horizon_seconds=3600))
            | beam.Map(lambda i: i["canonical_url"])
        )
        assert_that(firsts, equal_to(["http://x/1", "http://x/2"]))


def article(link: str, text: str, published: datetime) -> dict:
    return build_article(
        {**item(link, text), "url": link, "published_at": published, "source": None},
        INGESTED_AT,
        "en",
    )


def dedup_columns(pipeline, rows_at: list[tuple[int, dict]]):
    """CrossWindowDedup over (event second, article) pairs in 10 s windows -> the dedup columns."""
    return (
        pipeline
        | beam.Create(rows_at)
        | beam.Map(lambda pair: window.TimestampedValue(pair[1], pair[0]))
        | beam.WindowInto(window.FixedWindows(10))
        | CrossWindowDedup(DedupParams(), horizon_seconds=3600, window_seconds=10)
        | beam.Map(lambda r: (r["url"], r["is_duplicate"], r["duplicate_of"], r["cluster_id"]))
    )


def test_a_reprint_in_a_later_window_joins_the_earlier_story():
    morning = datetime(2026, 3, 3, 9, tzinfo=timezone.utc)
    original = article("http://a/original", ORIGINAL, morning)
    reprint = article("http://b/reprint", REPRINT, morning + timedelta(hours=3))
    other = article("http://c/other", UNRELATED, morning + timedelta(hours=3))
    copy = article("http://d/copy", ORIGINAL, morning + timedelta(hours=4))
    first = original["article_id"]
    with fnapi_pipeline() as pipeline:
        assert_that(
            dedup_columns(pipeline, [(5, original), (25, reprint), (25, other), (37, copy)]),
            equal_to(
                [
                    ("http://a/original", False, None, first),
                    ("http://b/reprint", True, first, first),
                    ("http://c/other", False, None, other["article_id"]),
                    ("http://d/copy", True, first, first),
                ]
            ),
        )


def test_within_one_window_the_batch_rules_apply_and_across_windows_the_written_story_stays():
    morning = datetime(2026, 3, 3, 9, tzinfo=timezone.utc)
    # Same window: the earlier publication is canonical, whatever the arrival order.
    reprint = article("http://b/reprint", REPRINT, morning + timedelta(hours=3))
    original = article("http://a/original", ORIGINAL, morning)
    # A later window: an "original" published earlier than what was already written joins it.
    late = article("http://e/late", ORIGINAL.replace("Tuesday", "Monday"), morning - timedelta(1))
    first = original["article_id"]
    with fnapi_pipeline() as pipeline:
        assert_that(
            dedup_columns(pipeline, [(5, reprint), (6, original), (15, late)]),
            equal_to(
                [
                    ("http://a/original", False, None, first),
                    ("http://b/reprint", True, first, first),
                    ("http://e/late", True, first, first),
                ]
            ),
        )


# --- the bounded end-to-end run ------------------------------------------------------------------

FAILURES = {  # path -> the reject reason every poll of it leaves
    "/broken.xml": "http_error",
    "/slow.xml": "timeout",
    "/private/feed.xml": "robots_disallowed",
    "/hop.xml": "private_address",
    "/big.xml": "too_large",
}


WINDOW_IN_NAME = re.compile(r"-(\d{8}T\d{6})-date=")


def scan(output: Path, table: str) -> str:
    return f"read_parquet('{output}/{table}/**/*.parquet', hive_partitioning=true, filename=true)"


@contextlib.contextmanager
def live_feeds():
    """Two feeds that change between polls, and one feed per kind of failure."""
    wire = rss(
        "Harbour Wire",
        ("http://wire.example/terminal", "Terminal delayed", ORIGINAL, WHEN),
        ("http://wire.example/rain", "Roads closed", UNRELATED, WHEN),
    )
    wire_later = rss(
        "Harbour Wire",
        ("http://wire.example/terminal", "Terminal delayed", ORIGINAL, WHEN),
        ("http://wire.example/rain", "Roads closed", UNRELATED, WHEN),
        ("http://wire.example/orchestra", "Winter season", LATER_STORY,
         "Thu, 05 Mar 2026 09:00:00 GMT"),
    )  # fmt: skip
    daily_first = rss(
        "Daily", ("http://daily.example/rain", "Rain", UNRELATED.replace("island", "region"), WHEN)
    )
    daily_later = rss(
        "Daily",
        ("http://daily.example/rain", "Rain", UNRELATED.replace("island", "region"), WHEN),
        ("http://daily.example/port", "Port late", REPRINT, "Tue, 03 Mar 2026 14:00:00 GMT"),
    )  # fmt: skip
    with FeedServer() as server:
        server.script("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /private/\n"))
        # The wire feed changes once, then answers 304 to the conditional GETs that follow.
        server.script("/wire.xml", Reply(body=wire, etag='"1"'), Reply(body=wire_later, etag='"2"'))
        server.script("/daily.xml", Reply(body=daily_first), Reply(body=daily_later))
        server.script("/broken.xml", Reply(500))
        server.script("/slow.xml", Reply(body=wire, stall=True))
        server.script("/private/feed.xml", Reply(body=wire))
        server.script("/hop.xml", Reply(302, headers={"Location": "http://10.255.255.1/feed.xml"}))
        server.script("/big.xml", Reply(body=wire + b" " * 10_000))
        yield server


def test_streaming_run_writes_each_item_once_marks_the_later_reprint_and_rejects_failures(
    tmp_path, capsys
):
    output = tmp_path / "output"
    with live_feeds() as server:
        paths = ["/wire.xml", "/daily.xml", *FAILURES]
        opml = tmp_path / "feeds.opml"
        opml.write_text(
            "<opml version='2.0'><body>"
            + "".join(f"<outline xmlUrl='{server.url(path)}'/>" for path in paths)
            + "</body></opml>"
        )
        code = main(
            ["run", "--streaming", "--input", str(opml), "--output", str(output),
             "--poll-interval", "1", "--window", "1", "--max-runtime", "3",
             "--allow-network", "127.0.0.0/8", "--host-delay", "0", "--fetch-timeout", "0.5",
             "--fetch-retries", "1", "--max-response-bytes", "5000"]
        )  # fmt: skip
        polls = len(server.requests_for("/wire.xml"))
        wire_requests = server.requests_for("/wire.xml")

    assert code == 0
    assert polls >= 3  # a poll per second for 3 s
    # After the feed changed, every poll was conditional and answered 304.
    assert all(r.headers.get("If-None-Match") == '"2"' for r in wire_requests[2:])

    articles = duckdb.sql(
        f"select url, is_duplicate, duplicate_of, cluster_id, article_id, filename "
        f"from {scan(output, 'articles')}"
    ).fetchall()
    by_url = {row[0]: row for row in articles}
    # Each new item written once; nothing lost.
    assert sorted(by_url) == [
        "http://daily.example/port",
        "http://daily.example/rain",
        "http://wire.example/orchestra",
        "http://wire.example/rain",
        "http://wire.example/terminal",
    ]
    assert len(articles) == len(by_url)
    # The reprint, published in a later poll by another feed, joins the earlier story.
    original_id = by_url["http://wire.example/terminal"][4]
    assert by_url["http://daily.example/port"][1:4] == (True, original_id, original_id)
    assert not by_url["http://wire.example/terminal"][1]
    # The earlier story and its reprint were written in different windows (file names say which).
    window_of = {url: WINDOW_IN_NAME.search(row[5]).group(1) for url, row in by_url.items()}
    assert window_of["http://daily.example/port"] > window_of["http://wire.example/terminal"]

    rejects = duckdb.sql(f"select input, stage, reason from {scan(output, 'rejects')}").fetchall()
    for path, reason in FAILURES.items():
        found = [r for r in rejects if r[0] == server.url(path)]
        assert {(stage, why) for _, stage, why in found} == {("fetch", reason)}, path
        assert len(found) == polls, path  # one per poll: the run went on
    assert "articles written" in capsys.readouterr().out
    assert not (output / "_staging").exists() or not any((output / "_staging").iterdir())
