from datetime import datetime, timedelta, timezone

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from schemas import ARTICLES
from tests.conftest import INGESTED_AT, fnapi_pipeline
from transforms.normalize import (
    DetectLanguageFn,
    LanguageDetector,
    Normalize,
    _SharedDetector,
    article_id,
    build_article,
    content_hash,
    has_words,
    normalize_text,
    plausible,
    word_count,
)
from transforms.urls import canonical_url


def parsed_item(**overrides) -> dict:
    item = {
        "input": "/data/feed.xml",
        "item": "https://example.com/a",
        "url": "https://Example.com/a?utm_source=rss#top",
        "canonical_url": "https://Example.com/a?utm_source=rss#top",
        "source": "Example Wire",
        "title": "  Storm  closes   road ",
        "authors": ["Ann Lee"],
        "text": "Police closed the road, officials said.\nIt reopened at noon.",
        "published_at": datetime(2024, 5, 1, 23, 30, tzinfo=timezone.utc),
        "categories": ["World"],
    }
    return {**item, **overrides}


def test_normalize_text_nfc_spaces_furniture_and_paragraphs():
    text = "Cafe\u0301  opens\u00a0today.\nShare this article\n\n\nIt\x00 serves 40 seats."
    assert normalize_text(text) == "Café opens today.\n\nIt serves 40 seats."


def test_word_count_keeps_numbers_and_contractions_whole():
    assert word_count("It's 4.4% of U.S. output, up 1,200 jobs.") == 8


def test_has_words_agrees_with_word_count():
    for text in ("", " -- ... ", "One", "It's 4.4% of U.S.", "a b c d"):
        for count in (1, 3):
            assert has_words(text, count) == (word_count(text) >= count), (text, count)


def test_article_id_prefers_the_canonical_url_and_ignores_tracking():
    same = article_id("https://example.com/a?utm_source=x", content_hash("one"))
    assert same == article_id("HTTPS://EXAMPLE.COM/a#frag", content_hash("two"))
    assert article_id(None, content_hash("one")) != article_id(None, content_hash("two"))
    assert len(same) == 16


def test_canonical_url_keeps_meaningful_query_parameters():
    assert canonical_url("https://x.org/p?id=4&utm_medium=rss") == "https://x.org/p?id=4"


def test_implausible_dates_fall_back_to_the_ingest_date():
    assert plausible(datetime(1987, 3, 2, tzinfo=timezone.utc), INGESTED_AT)
    assert not plausible(datetime(1899, 12, 31, tzinfo=timezone.utc), INGESTED_AT)
    assert not plausible(INGESTED_AT + timedelta(days=30), INGESTED_AT)
    assert not plausible(None, INGESTED_AT)
    row = build_article(
        parsed_item(published_at=datetime(2999, 1, 1, tzinfo=timezone.utc)), INGESTED_AT, "en"
    )
    assert (row["published_at"], row["date_source"], row["date"]) == (
        None,
        "ingested",
        "2026-11-22",
    )


def test_article_row_has_exactly_the_schema_columns_plus_partition_keys():
    row = build_article(parsed_item(), INGESTED_AT, "en")
    assert set(row) == set(ARTICLES.columns) | set(ARTICLES.partition_keys)
    assert row["url"] == "https://example.com/a"
    assert row["title"] == "Storm closes road"
    assert row["date"] == "2024-05-01"
    assert row["date_source"] == "published"
    assert row["cluster_id"] == row["article_id"]


def test_language_detection_and_abstention_on_tiny_text():
    detector = LanguageDetector()
    assert detector.detect("The port authority approved a new ferry terminal on Thursday.") == "en"
    assert (
        detector.detect("Der Hafen bekommt ein neues Fährterminal, teilte die Behörde mit.") == "de"
    )
    assert detector.detect("OK") is None


@pytest.mark.parametrize("sources", ["one source", "two sources"])
def test_normalize_keeps_one_row_per_article_id_and_rejects_the_rest(sources):
    first = parsed_item(input="/data/day1.xml")
    repeat = parsed_item(input="/data/day2.xml")
    empty = parsed_item(input="/data/x.xml", item="e", text="Share this article\n0 Comments")
    other = parsed_item(canonical_url=None, url="file:///data/note.txt", text="Another story here.")
    with fnapi_pipeline() as pipeline:
        if sources == "one source":
            items = pipeline | beam.Create([first, repeat, empty, other])
        else:  # a repeat across sources is found too
            items = (
                pipeline | "Files" >> beam.Create([first, empty]),
                pipeline | "Fetched" >> beam.Create([repeat, other]),
            )
        result = items | Normalize(INGESTED_AT)
        assert_that(
            result["articles"] | "Inputs" >> beam.Map(lambda r: (r["input"], r["language"])),
            equal_to([("/data/day1.xml", "en"), ("/data/feed.xml", "en")]),
            label="articles",
        )
        assert_that(
            result["rejects"] | "Reasons" >> beam.Map(lambda r: (r["input"], r["reason"])),
            equal_to([("/data/x.xml", "no_text"), ("/data/day2.xml", "repeated_item")]),
            label="rejects",
        )


def test_an_item_stamped_by_a_streaming_poll_keeps_its_poll_time():
    polled_at = INGESTED_AT + timedelta(hours=20)
    with fnapi_pipeline() as pipeline:
        result = (
            pipeline
            | beam.Create([parsed_item(published_at=None, ingested_at=polled_at)])
            | Normalize(INGESTED_AT)
        )
        assert_that(
            result["articles"] | beam.Map(lambda r: (r["ingested_at"], r["date"])),
            equal_to([(polled_at, "2026-11-23")]),
        )


def test_language_is_detected_a_batch_at_a_time_and_every_row_handed_on_in_order():
    texts = [
        "Police closed the road after the storm, officials said on Monday.",
        "Die Polizei sperrte die Straße nach dem Sturm, sagten die Behörden am Montag.",
        "OK",
    ]
    rows = [{"article_id": str(i), "text": text} for i, text in enumerate(texts)]
    fn = DetectLanguageFn()
    fn.setup()
    fn.start_bundle()
    out = list(fn.process(rows))
    fn.finish_bundle()
    assert [(row["article_id"], row["language"]) for row in out] == [
        ("0", "en"),
        ("1", "de"),
        ("2", None),
    ]
    assert all("language" not in row for row in rows)  # new dicts: the inputs are untouched


def test_the_language_model_is_shared_kept_while_used_and_dropped_once_idle():
    made: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    shared = _SharedDetector(60.0, make)
    first, second = shared.acquire(), shared.acquire()  # two worker threads' bundles
    assert first is second and len(made) == 1
    assert shared.release() is None  # the other bundle still uses it
    pending = shared.release()
    assert shared.acquire() is first  # taken again within the idle time: kept
    pending.join()  # cancelled
    assert shared.loaded

    shared = _SharedDetector(0.0, make)
    first = shared.acquire()
    shared.release().join()  # idle: dropped
    assert not shared.loaded
    assert shared.acquire() is not first and len(made) == 3
