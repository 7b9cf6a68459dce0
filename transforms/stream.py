"""Streaming pieces: poll feeds on a clock, drop items already seen, find reprints across windows,
and publish each window's files when it closes.

Everything that must remember across windows keeps Beam keyed state in the global window, with
event-time timers that forget it after the horizon, so the memory of a long run stays bounded and
the state survives restarts on runners that checkpoint it (Flink, Dataflow):

* ``PollFeedsFn`` (keyed by host): the validators (ETag, Last-Modified) of each feed, for
  conditional GETs. Keying by host also serialises one host's requests (politeness).
* ``FirstSightingFn`` (keyed by the item's link, else its guid): an item seen within the horizon
  is dropped; each sighting pushes its expiry back.
* ``CrossWindowDedup``: MinHash LSH band keys (``transforms.dedup.SignFn``, ``BandKeysFn``) go to
  ``BandIndexFn`` (keyed by band), which pairs each window's articles with each other and with the
  articles of earlier windows that share the band; ``TextStoreFn`` (keyed by article id) holds each
  text once and hands both ends of a pair to the batch stage's verification
  (``transforms.dedup.VerifyFn``); ``assign_clusters`` then decides per window. A story written in
  an earlier window is never re-labelled: a later reprint joins its cluster.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms import window as beam_window
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import (
    BagStateSpec,
    ReadModifyWriteStateSpec,
    TimerSpec,
    on_timer,
)
from apache_beam.utils.timestamp import Duration, Timestamp

from schemas import Table
from transforms.dedup import (
    Assignment,
    BandKeysFn,
    DedupParams,
    OrderKey,
    SignFn,
    VerifyFn,
    article_member,
    assign_clusters,
    bucket_pairs,
    exact_edges,
    order_key,
)
from transforms.fetch import FetcherDoFn, FetchError, FetchPolicy
from transforms.parsers import InputError, parse_opml
from transforms.urls import canonical_url, is_http
from transforms.write import publish_tables

STAGE = "stream"
_MICROS = 1_000_000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds from "300", "90s", "5m", "72h" or "2d"."""
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a positive duration: {text!r} (examples: 300, 90s, 5m, 72h, 2d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]


@dataclasses.dataclass(frozen=True)
class StreamParams:
    """Streaming settings (``pipeline.options.StreamingOptions``), in seconds."""

    poll_interval: float = 300.0
    window: float = 300.0
    horizon: float = 72 * 3600.0
    max_runtime: float | None = None

    @classmethod
    def from_options(cls, options) -> StreamParams:
        from pipeline.options import StreamingOptions  # pipeline/ imports transforms/, not back

        values = options.view_as(StreamingOptions)
        return cls(
            poll_interval=values.poll_interval,
            window=values.window,
            horizon=values.dedup_horizon,
            max_runtime=values.max_runtime,
        )


# --- what to poll -------------------------------------------------------------------------------


def feed_urls(inputs: Sequence[str]) -> list[str]:
    """The feed URLs a streaming run polls: URL inputs, and the URLs that OPML files list.

    Raises ValueError for anything else (a stream polls URLs; files are read by a batch run).
    """
    urls: list[str] = []
    for given in inputs:
        if is_http(given):
            urls.append(given)
            continue
        matches = FileSystems.match([given])[0].metadata_list
        if not matches:
            raise ValueError(f"--input {given} matches no file")
        for found in sorted(m.path for m in matches):
            with FileSystems.open(found) as handle:
                data = handle.read()
            try:
                listed = parse_opml(data)
            except InputError as error:
                raise ValueError(
                    f"--streaming polls feed URLs; {found} is not an OPML list of them ({error})"
                ) from error
            local = [location for location in listed if not is_http(location)]
            if local:
                raise ValueError(
                    f"{found} lists non-URL feeds, which a stream cannot poll: {local}"
                )
            urls.extend(listed)
    return list(dict.fromkeys(urls))


# --- polling ------------------------------------------------------------------------------------


def _timestamp_to_datetime(timestamp: Timestamp) -> datetime:
    return datetime.fromtimestamp(timestamp.micros // _MICROS, tz=timezone.utc)


class PollFeedsFn(FetcherDoFn):
    """(host, feed URL) at a clock tick -> the feed's items (with ``ingested_at`` = the poll time),
    or nothing on 304, or a reject. Keyed state: the validators of each of the host's feeds."""

    VALIDATORS = ReadModifyWriteStateSpec("validators", PickleCoder())

    def __init__(self, policy: FetchPolicy, launched_at: datetime):
        super().__init__(policy, launched_at)
        self.polls = Metrics.counter(STAGE, "polls")

    def process(
        self,
        host_and_url: tuple[str, str],
        timestamp=beam.DoFn.TimestampParam,
        validators=beam.DoFn.StateParam(VALIDATORS),
    ) -> Iterator:
        _, url = host_and_url
        polled_at = _timestamp_to_datetime(timestamp)
        known: dict = validators.read() or {}
        self.polls.inc()
        try:
            fetched = self._fetcher.fetch(url, known.get(url))
        except FetchError as error:
            self.failed.inc()
            yield self._reject(url, None, "fetch", error.reason, error.detail, polled_at)
            return
        if fetched is None:
            self.not_modified.inc()
            return
        self.fetched.inc()
        validators.write({**known, url: fetched.validators})
        for part in self._parsed(fetched, follow_opml=False, ingested_at=polled_at):
            yield (
                part
                if isinstance(part, beam.pvalue.TaggedOutput)
                else {
                    **part,
                    "ingested_at": polled_at,
                }
            )


# --- items already seen -------------------------------------------------------------------------


def sighting_key(item: dict) -> str:
    """What makes two polled items the same item: the entry's link (which also fixes its article
    id), else its guid (scoped to the feed unless it is a URL), else its title and text."""
    if is_http(item.get("canonical_url")):
        return "url:" + canonical_url(item["canonical_url"])
    guid = item.get("item")
    if guid and not guid.startswith("#"):  # "#n" is a position in the feed, not an identity
        return "guid:" + (guid if is_http(guid) else f"{item['input']} {guid}")
    digest = hashlib.sha256(f"{item.get('title')}\n{item['text']}".encode()).hexdigest()
    return "text:" + digest


class FirstSightingFn(beam.DoFn):
    """(sighting key, item) -> the item, unless it was seen within the horizon."""

    SEEN = ReadModifyWriteStateSpec("seen", VarIntCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, horizon_seconds: float):
        self._horizon = Duration(seconds=horizon_seconds)
        self.new = Metrics.counter(STAGE, "new_items")
        self.repeats = Metrics.counter(STAGE, "repeated_items")

    def process(
        self,
        keyed_item: tuple[str, dict],
        timestamp=beam.DoFn.TimestampParam,
        seen=beam.DoFn.StateParam(SEEN),
        forget=beam.DoFn.TimerParam(FORGET),
    ) -> Iterator[dict]:
        # Each sighting pushes the expiry back: an item leaves memory only after being absent from
        # every poll for the whole horizon.
        forget.set(timestamp + self._horizon)
        if seen.read():
            self.repeats.inc()
            return
        seen.write(1)
        self.new.inc()
        yield keyed_item[1]

    @on_timer(FORGET)
    def forget(self, seen=beam.DoFn.StateParam(SEEN)) -> None:
        seen.clear()


# --- near-duplicates across windows -------------------------------------------------------------

# Order keys are (micros, article_id); micros may be negative (pre-1970 stories): shift them so the
# zero-padded text sorts like the number.
_MICROS_SHIFT = 2**62


def written_first_key(window_end_micros: int, key: OrderKey) -> OrderKey:
    """The order in which a stream settles clusters: by the window an article is written in, then
    the batch order (publication, article id). A story written earlier stays canonical."""
    micros, article_id = key
    return window_end_micros, f"{micros + _MICROS_SHIFT:020d} {article_id}"


class _WithWindowEndFn(beam.DoFn):
    """(band, (order key, id, hash)) -> (band, (window end, written-first key, id, hash))."""

    def process(self, element, window=beam.DoFn.WindowParam) -> Iterator:
        band, (key, article_id, content_hash) = element
        end = window.end.micros
        yield band, (end, written_first_key(end, key), article_id, content_hash)


def _flush_time(window_end_micros: int) -> int:
    """When a window's members are paired: its last millisecond, which the watermark passes once
    the window is complete (timers have millisecond precision; outputs then stay in the window)."""
    return window_end_micros - 1000


class BandIndexFn(beam.DoFn):
    """(band, member) -> candidate pairs (earlier id, later id), one window at a time.

    Members wait until the watermark passes their window (event-time timer); then they are paired
    with each other (``bucket_pairs``) and with the members of earlier windows still within the
    horizon, and join the index. Per band the index keeps its ``max_bucket`` newest members (a
    boilerplate band must not grow without bound); it is forgotten after the horizon.
    """

    PENDING = BagStateSpec("pending", PickleCoder())
    MEMBERS = BagStateSpec("members", PickleCoder())
    NEXT_FLUSH = ReadModifyWriteStateSpec("next_flush", VarIntCoder())
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, horizon_seconds: float, max_bucket: int):
        self._horizon_micros = int(horizon_seconds * _MICROS)
        self._max_bucket = max_bucket
        self.pairs = Metrics.counter(STAGE, "candidate_pairs")

    def process(
        self,
        element,
        pending=beam.DoFn.StateParam(PENDING),
        next_flush=beam.DoFn.StateParam(NEXT_FLUSH),
        flush=beam.DoFn.TimerParam(FLUSH),
    ) -> None:
        _, (window_end, key, article_id, content_hash) = element
        pending.add((window_end, (key, article_id, content_hash)))
        due = _flush_time(window_end)
        scheduled = next_flush.read()
        if scheduled is None or due < scheduled:
            flush.set(Timestamp(micros=due))
            next_flush.write(due)

    @on_timer(FLUSH)
    def flush(
        self,
        fired_at=beam.DoFn.TimestampParam,
        pending=beam.DoFn.StateParam(PENDING),
        members=beam.DoFn.StateParam(MEMBERS),
        next_flush=beam.DoFn.StateParam(NEXT_FLUSH),
        flush=beam.DoFn.TimerParam(FLUSH),
        forget=beam.DoFn.TimerParam(FORGET),
    ) -> Iterator[tuple[str, str]]:
        now = fired_at.micros
        waiting = list(pending.read())
        due = [entry for entry in waiting if _flush_time(entry[0]) <= now]
        later = [entry for entry in waiting if _flush_time(entry[0]) > now]
        index = [m for m in members.read() if m[0] > now - self._horizon_micros]
        for window_end in sorted({end for end, _ in due}):
            batch = sorted({member for end, member in due if end == window_end})
            yield from self._pairs(index, batch)
            index = sorted(index + [(window_end, member) for member in batch])[-self._max_bucket :]
        members.clear()
        for entry in index:
            members.add(entry)
        pending.clear()
        for entry in later:
            pending.add(entry)
        next_flush.clear()
        if later:
            following = _flush_time(min(end for end, _ in later))
            flush.set(Timestamp(micros=following))
            next_flush.write(following)
        if index:
            forget.set(Timestamp(micros=max(end for end, _ in index) + self._horizon_micros))

    def _pairs(self, index: list, batch: list) -> Iterator[tuple[str, str]]:
        for earlier, later in bucket_pairs(batch, self._max_bucket):
            self.pairs.inc()
            yield earlier, later
        earlier_ids = [article_id for _, (_, article_id, _) in index]
        for _, article_id, _ in batch:
            for earlier in earlier_ids:
                if earlier != article_id:
                    self.pairs.inc()
                    yield earlier, article_id

    @on_timer(FORGET)
    def forget(
        self,
        members=beam.DoFn.StateParam(MEMBERS),
        pending=beam.DoFn.StateParam(PENDING),
    ) -> None:
        # Runners need not fire one key's timers in time order (the FnApiRunner does not): while
        # windows wait to be paired, the flush prunes the index itself.
        if not list(pending.read()):
            members.clear()


class TextStoreFn(beam.DoFn):
    """(article id, ("text", (key, text)) | ("ask", pair)) -> (pair, (id, key, text)).

    Each article's text is stored once, for the horizon; an ask that arrives before the text waits
    in state and is answered when it comes. Answers carry the ask's timestamp, so they fall in the
    window that asked.
    """

    TEXT = ReadModifyWriteStateSpec("text", PickleCoder())
    ASKS = BagStateSpec("asks", PickleCoder())
    FORGET = TimerSpec("forget", TimeDomain.WATERMARK)

    def __init__(self, horizon_seconds: float, window_seconds: float):
        self._keep = Duration(seconds=horizon_seconds + 2 * window_seconds)

    def process(
        self,
        element,
        timestamp=beam.DoFn.TimestampParam,
        text=beam.DoFn.StateParam(TEXT),
        asks=beam.DoFn.StateParam(ASKS),
        forget=beam.DoFn.TimerParam(FORGET),
    ) -> Iterator:
        article_id, (kind, payload) = element
        if kind == "text":
            text.write(payload)
            forget.set(timestamp + self._keep)
            for pair, asked_at in asks.read():
                yield beam.window.TimestampedValue(
                    (pair, (article_id, *payload)), Timestamp(micros=asked_at)
                )
            asks.clear()
            return
        stored = text.read()
        if stored is not None:
            yield payload, (article_id, *stored)
        else:
            asks.add((payload, timestamp.micros))
            forget.set(timestamp + self._keep)

    @on_timer(FORGET)
    def forget(self, text=beam.DoFn.StateParam(TEXT), asks=beam.DoFn.StateParam(ASKS)) -> None:
        text.clear()
        asks.clear()


def _text_record(article: dict, window=beam.DoFn.WindowParam) -> tuple:
    key = written_first_key(window.end.micros, order_key(article))
    return article["article_id"], ("text", (key, article["text"]))


def _apply(article: dict, assignments: dict[str, Assignment]) -> dict:
    found = assignments.get(article["article_id"])
    if found is None:
        return article
    return {
        **article,
        "cluster_id": found.cluster_id,
        "is_duplicate": True,
        "duplicate_of": found.duplicate_of,
        "similarity": found.similarity,
    }


class CrossWindowDedup(beam.PTransform):
    """Windowed articles -> the same articles with the dedup columns set, against their own window
    and every earlier window within the horizon (see the module docstring)."""

    def __init__(self, params: DedupParams, horizon_seconds: float, window_seconds: float):
        super().__init__()
        self._params = params
        self._horizon = horizon_seconds
        self._window = window_seconds

    def expand(self, articles):
        params = self._params
        windowing = beam.WindowInto(beam_window.FixedWindows(self._window))
        exact = (
            articles
            | "KeyByContentHash"
            >> beam.Map(
                lambda a, w=beam.DoFn.WindowParam: (
                    a["content_hash"],
                    (written_first_key(w.end.micros, order_key(a)), a["article_id"]),
                )
            )
            | "GroupByContentHash" >> beam.GroupByKey()
            | "ExactEdges" >> beam.FlatMap(lambda kv: exact_edges(kv[1]))
        )
        pairs = (
            articles
            | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=512)
            | "Sign" >> beam.ParDo(SignFn(params.minhash))
            | "BatchSigned" >> beam.BatchElements(min_batch_size=8, max_batch_size=512)
            | "BandKeys" >> beam.ParDo(BandKeysFn(params.minhash, article_member))
            | "WithWindowEnd" >> beam.ParDo(_WithWindowEndFn())
            | "IntoIndex" >> beam.WindowInto(beam_window.GlobalWindows())
            | "BandIndex" >> beam.ParDo(BandIndexFn(self._horizon, params.max_bucket))
            | "PairsPerWindow" >> windowing
            | "DistinctPairs" >> beam.Distinct()
        )
        texts = articles | "TextRecords" >> beam.Map(_text_record)
        asks = pairs | "AskBothEnds" >> beam.FlatMap(
            lambda pair: [(pair[0], ("ask", pair)), (pair[1], ("ask", pair))]
        )
        near = (
            (texts, asks)
            | "AllStoreInputs" >> beam.Flatten()
            | "IntoStore" >> beam.WindowInto(beam_window.GlobalWindows())
            | "TextStore" >> beam.ParDo(TextStoreFn(self._horizon, self._window))
            | "EndsPerWindow" >> beam.WindowInto(beam_window.FixedWindows(self._window))
            | "GroupPairs" >> beam.GroupByKey()
            # An end forgotten after the horizon leaves a pair with one text: nothing to verify.
            | "BothEnds" >> beam.Filter(lambda pair_ends: len(set(pair_ends[1])) == 2)
            | "Verify" >> beam.ParDo(VerifyFn(params))
        )
        assignments = (
            (exact, near)
            | "AllEdges" >> beam.Flatten()
            | "EdgesPerWindow" >> beam.combiners.ToList().without_defaults()
            | "Cluster" >> beam.FlatMap(lambda edges: assign_clusters(edges, params).items())
        )
        return articles | "Assign" >> beam.Map(_apply, beam.pvalue.AsDict(assignments))


# --- publishing per window ----------------------------------------------------------------------


def window_tag(window: beam_window.IntervalWindow) -> str:
    """A window's start as it appears in file and folder names, e.g. 20261122T120500."""
    return f"{window.start.to_utc_datetime():%Y%m%dT%H%M%S}"


class _PublishWindowFn(beam.DoFn):
    def __init__(self, tables: Sequence[Table], output: str, staging: str, file_tag: str):
        self._tables = tables
        self._output = output
        self._staging = staging
        self._file_tag = file_tag
        self.windows = Metrics.counter(STAGE, "windows_published")

    def process(self, staged_files: list, window=beam.DoFn.WindowParam) -> Iterable[int]:
        # Each window arranges its files in its own staging folder, so windows never race.
        publish_tables(
            self._tables,
            staged_files,
            self._output,
            FileSystems.join(self._staging, "_windows", window_tag(window)),
            "append",
            window.start.to_utc_datetime(has_tz=True),
            self._file_tag,
        )
        self.windows.inc()
        yield len(staged_files)


class PublishWindows(beam.PTransform):
    """Staged (table, partition, file) triples -> each window's files moved into the live tables
    (append) once all of that window's files are written."""

    def __init__(self, tables: Sequence[Table], output: str, staging: str, file_tag: str):
        super().__init__()
        self._publish = _PublishWindowFn(tables, output, staging, file_tag)

    def expand(self, staged_files):
        return (
            staged_files
            | "FilesPerWindow" >> beam.combiners.ToList().without_defaults()
            | "Publish" >> beam.ParDo(self._publish)
        )
