"""Normalize stage: parsed items to article rows (text clean-up, language, ids, dates).

Pure functions build the article row; ``Normalize`` wraps them, and ``KeepFirstById`` makes sure one
article id gives one row (the same entry carried by two feed files, say).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import FALLBACK_TOPIC, SCHEMA_VERSION
from transforms.batches import in_batches
from transforms.rejects import REJECTED, reject
from transforms.text import clean_line, is_furniture
from transforms.urls import canonical_url, is_http
from transforms.worker_gc import tune_worker_collector

STAGE = "normalize"

# A word keeps inner apostrophes, dots, dashes and digit-group commas: "It's", "U.S", "1,200".
_WORD = re.compile(r"\w+(?:(?:['’.-]|(?<=\d),(?=\d))\w+)*")
# Publication dates outside [1900, ingest time + 1 day] are garbled or hostile: use the ingest date.
_EARLIEST_PLAUSIBLE = datetime(1900, 1, 1, tzinfo=timezone.utc)
_FUTURE_TOLERANCE = timedelta(days=1)
# py3langid's time grows with the sample; 1,000 characters decide as 2,000 did on the 986 texts
# of the Reuters and web-page data (benchmarks/pipeline/README.md), at 2/3 of the cost.
_LANGUAGE_SAMPLE_CHARS = 1000
_MIN_LANGUAGE_CONFIDENCE = 0.5


def normalize_text(text: str) -> str:
    """NFC, no control characters, spaces folded, furniture dropped, paragraphs blank-line apart."""
    lines = (clean_line(line) for line in text.split("\n"))
    return "\n\n".join(line for line in lines if line and not is_furniture(line))


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def has_words(text: str, count: int = 1) -> bool:
    """At least ``count`` words (stops looking once found: cheaper than word_count)."""
    return sum(1 for _ in itertools.islice(_WORD.finditer(text), count)) >= count


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def article_id(url: str | None, text_hash: str) -> str:
    """Stable id: from the canonical URL when there is one, else from the content."""
    basis = f"url:{canonical_url(url)}" if url else f"content:{text_hash}"
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]


def plausible(published_at: datetime | None, ingested_at: datetime) -> bool:
    return (
        published_at is not None
        and _EARLIEST_PLAUSIBLE <= published_at <= ingested_at + _FUTURE_TOLERANCE
    )


def build_article(item: dict, ingested_at: datetime, language: str | None) -> dict:
    """The article row (all ARTICLES columns plus the date and topic partition keys)."""
    text = item["text"]
    text_hash = content_hash(text)
    published_at = (
        item.get("published_at") if plausible(item.get("published_at"), ingested_at) else None
    )
    identity = article_id(item.get("canonical_url"), text_hash)
    row = {
        "article_id": identity,
        "input": item["input"],
        "url": canonical_url(item["url"]) if is_http(item.get("url")) else item.get("url"),
        "source": item.get("source"),
        "title": clean_line(item["title"]) if item.get("title") else None,
        "authors": list(item.get("authors") or []),
        "text": text,
        "language": language,
        "word_count": word_count(text),
        "published_at": published_at,
        "ingested_at": ingested_at,
        "date_source": "published" if published_at else "ingested",
        "categories": list(item.get("categories") or []),
        "content_hash": text_hash,
        "cluster_id": identity,
        "is_duplicate": False,
        "duplicate_of": None,
        "similarity": None,
        "topic_scores": None,
        "schema_version": SCHEMA_VERSION,
        "date": (published_at or ingested_at).date().isoformat(),
        "topic": FALLBACK_TOPIC,
    }
    return row


class LanguageDetector:
    """py3langid with normalised probabilities; None when unsure (short or mixed text)."""

    def __init__(self) -> None:
        # Imported here, as py3langid was: off the import path of pipeline construction. The
        # model is loaded when a bundle first needs it (see _SharedDetector).
        from transforms.language import load_identifier

        # py3langid's classifier with its per-byte Python loop done by numpy (same results).
        self._identifier = load_identifier(norm_probs=True)

    def detect(self, text: str) -> str | None:
        sample = text[:_LANGUAGE_SAMPLE_CHARS]
        if not has_words(sample, 3):
            return None
        language, confidence = self._identifier.classify(sample)
        return language if confidence >= _MIN_LANGUAGE_CONFIDENCE else None


class NormalizeFn(beam.DoFn):
    """Item -> article row (language still unknown) or a no_text reject."""

    def __init__(self, ingested_at: datetime):
        self._ingested_at = ingested_at
        self.articles = Metrics.counter(STAGE, "articles")
        self.rejected = Metrics.counter(STAGE, "rejected")
        self._graph_process = os.getpid()

    def setup(self) -> None:
        # Every worker of every run (batch or streaming) sets this DoFn up. Not the process that
        # built the graph (in-process runners, tests): it keeps its own collector settings.
        if os.getpid() != self._graph_process:
            tune_worker_collector()

    def process(self, item: dict) -> Iterable:
        # A streaming poll stamps its items with the poll time; a batch run stamps the run's.
        ingested_at = item.get("ingested_at") or self._ingested_at
        text = normalize_text(item["text"])
        if not has_words(text):
            self.rejected.inc()
            yield beam.pvalue.TaggedOutput(
                REJECTED,
                reject(
                    input=item["input"],
                    item=item.get("item"),
                    stage=STAGE,
                    reason="no_text",
                    detail="nothing left after clean-up",
                    ingested_at=ingested_at,
                ),
            )
            return
        self.articles.inc()
        yield build_article({**item, "text": text}, ingested_at, language=None)


# Seconds a process keeps the language model after the last bundle that used it ended.
_DETECTOR_IDLE_SECONDS = 5.0


class _SharedDetector:
    """One LanguageDetector per process, shared by the DetectLanguageFn instances (one per worker
    thread), and dropped once no bundle has used it for ``idle_seconds``. The model takes ~75 MB
    and loads in ~0.9 s; Beam keeps a finished stage's DoFns for a minute, so a model held by the
    DoFn stayed in every worker through the later stages (claims, matching, writing)."""

    def __init__(self, idle_seconds: float, make: Callable[[], LanguageDetector]) -> None:
        self._idle_seconds = idle_seconds
        self._make = make
        self._lock = threading.Lock()
        self._detector: LanguageDetector | None = None
        self._users = 0
        self._timer: threading.Timer | None = None

    def acquire(self) -> LanguageDetector:
        with self._lock:
            self._users += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._detector is None:
                self._detector = self._make()
            return self._detector

    def release(self) -> threading.Timer | None:
        """Returns the timer that drops the model if no bundle takes it again (None while
        bundles still hold it)."""
        with self._lock:
            self._users -= 1
            if self._users:
                return None
            self._timer = threading.Timer(self._idle_seconds, self._drop_if_idle)
            self._timer.daemon = True
            self._timer.start()
            return self._timer

    @property
    def loaded(self) -> bool:
        return self._detector is not None

    def _drop_if_idle(self) -> None:
        with self._lock:
            if self._users == 0:
                self._detector = None


_SHARED_DETECTOR = _SharedDetector(_DETECTOR_IDLE_SECONDS, LanguageDetector)


class DetectLanguageFn(beam.DoFn):
    """A batch of article rows -> each row with its language (the costliest step of normalizing:
    it runs after the rows are spread over workers by id, once per kept row). The whole batch is
    classified before any row is handed on (see transforms.batches). The model is the process's
    shared one, held from start to finish of each bundle (see _SharedDetector)."""

    def setup(self) -> None:
        self._detector: LanguageDetector | None = None

    def start_bundle(self) -> None:
        if self._detector is None:
            self._detector = _SHARED_DETECTOR.acquire()

    def process(self, articles: Sequence[dict]) -> Iterable[dict]:
        languages = [self._detector.detect(article["text"]) for article in articles]
        for article, language in zip(articles, languages, strict=True):
            yield {**article, "language": language}

    def finish_bundle(self) -> None:
        self._let_go()

    def teardown(self) -> None:
        self._let_go()  # a failed bundle ends without finish_bundle

    def _let_go(self) -> None:
        if self._detector is not None:
            self._detector = None
            _SHARED_DETECTOR.release()


def keyed_by_id(row: dict) -> tuple[str, bytes]:
    """(article id, the row packed as one bytes object). A local run's runner holds the values of
    a shuffle as Python objects in its own process; packed, each row is one object there, which
    lowered the Reuters benchmark's peak memory (benchmarks/pipeline/README.md)."""
    return row["article_id"], pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)


def first_by_id(article_id_and_rows: tuple[str, Iterable[bytes]]) -> Iterable:
    """One row per article id: the earliest published, then by input path and content hash."""
    _, packed_rows = article_id_and_rows
    ordered = sorted(
        map(pickle.loads, packed_rows),
        key=lambda r: (r["published_at"] or r["ingested_at"], r["input"], r["content_hash"]),
    )
    yield ordered[0]
    for repeat in ordered[1:]:
        yield beam.pvalue.TaggedOutput(
            REJECTED,
            reject(
                input=repeat["input"],
                item=repeat["url"],
                stage=STAGE,
                reason="repeated_item",
                detail=f"article {repeat['article_id']} already read from {ordered[0]['input']}",
                ingested_at=repeat["ingested_at"],
            ),
        )


class Normalize(beam.PTransform):
    """Parsed items to article rows, one per article id. Returns {"articles", "rejects"}.

    Takes one PCollection of items, or a tuple of them (one per source): each source's items are
    then cleaned and keyed where they were parsed, and only the keyed rows meet, in the grouping
    by id. Flattened first, the items would be copied through the runner into a cleaning stage of
    their own, which the FnApiRunner splits between its workers by the chunks its buffer received
    (on the Reuters set, 21 MB for one worker and 5 MB for the other in one run), not by work.
    """

    def __init__(self, ingested_at: datetime):
        super().__init__()
        self._ingested_at = ingested_at

    def expand(self, items):
        sources = items if isinstance(items, tuple) else (items,)
        keyed, rejects = [], []
        for index, source in enumerate(sources):
            suffix = f"_{index}" if len(sources) > 1 else ""
            normalized = source | f"Clean{suffix}" >> beam.ParDo(
                NormalizeFn(self._ingested_at)
            ).with_outputs(REJECTED, main="articles")
            keyed.append(normalized.articles | f"KeyById{suffix}" >> beam.Map(keyed_by_id))
            rejects.append(normalized[REJECTED])
        unique = (
            keyed
            | "AllKeyed" >> beam.Flatten()
            | "GroupById" >> beam.GroupByKey()
            | "KeepFirstById" >> beam.FlatMap(first_by_id).with_outputs(REJECTED, main="articles")
        )
        articles = (
            unique.articles
            | "BatchForLanguage" >> in_batches()
            | "DetectLanguage" >> beam.ParDo(DetectLanguageFn())
        )
        rejects = (*rejects, unique[REJECTED]) | "NormalizeRejects" >> beam.Flatten()
        return {"articles": articles, "rejects": rejects}
