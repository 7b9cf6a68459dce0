"""The streaming graph: poll feeds on a clock, keep what is new, write the tables window by window.

Runners (measured on Beam 2.77, see the README's "Streaming and live feeds"):

* Flink, Dataflow, or Prism (Beam's portable local runner, built from source with ``.ci/prism``
  and passed as ``--runner=PrismRunner --prism_location=PATH``) run the graph as a true stream:
  each window's files appear when the window closes, and the run goes on until stopped.
* The in-process FnApiRunner runs it too, but stage by stage: every window is written when the
  run ends. It therefore needs ``--max-runtime``; that is how the tests and quick demos run it.
"""

from __future__ import annotations

import math
import time

import apache_beam as beam
from apache_beam.transforms import window
from apache_beam.transforms.periodicsequence import PeriodicImpulse
from apache_beam.utils.timestamp import MAX_TIMESTAMP, Timestamp

from pipeline.graph import RunPlan
from schemas import ARTICLES, CLAIMS, REJECTS
from transforms.claims import ExtractClaims
from transforms.fetch import FetchPages, by_host
from transforms.normalize import Normalize
from transforms.rejects import REJECTED
from transforms.stream import (
    CrossWindowDedup,
    FirstSightingFn,
    PollFeedsFn,
    PublishWindows,
    feed_urls,
    sighting_key,
)
from transforms.topics import AssignTopic
from transforms.write import WriteTable, publish_tables, remove_stale_staging

TABLES = (ARTICLES, CLAIMS, REJECTS)


def check_streaming(plan: RunPlan, local_runner: bool) -> None:
    """Usage problems of a streaming run, as ValueError (the command line reports them)."""
    if not feed_urls(plan.patterns):
        raise ValueError("--streaming needs feed URLs (or OPML files listing them) as --input")
    if local_runner and plan.stream.max_runtime is None:
        raise ValueError(
            "--streaming on the local FnApiRunner writes its windows only when the run ends: give "
            "--max-runtime, or run on a streaming runner (--runner=PrismRunner "
            "--prism_location=PATH, FlinkRunner, DataflowRunner)"
        )


def build_streaming_pipeline(pipeline: beam.Pipeline, plan: RunPlan) -> None:
    """Clock -> poll -> first sightings -> windows -> normalize, topic, dedup, claims -> write."""
    feeds = feed_urls(plan.patterns)
    # Whole seconds: ticks then never fall in a window's last millisecond (see stream._flush_time).
    start = Timestamp.of(math.floor(time.time()))
    stop = start + plan.stream.max_runtime if plan.stream.max_runtime else MAX_TIMESTAMP
    windows = window.FixedWindows(plan.stream.window)

    polled = (
        pipeline
        | "Clock"
        >> PeriodicImpulse(
            start_timestamp=start, stop_timestamp=stop, fire_interval=plan.stream.poll_interval
        )
        | "DueFeeds" >> beam.FlatMap(lambda _tick: [by_host(url) for url in feeds])
        | "Poll"
        >> beam.ParDo(PollFeedsFn(plan.fetch, plan.ingested_at)).with_outputs(
            REJECTED, main="items"
        )
    )
    items = (
        polled.items
        # A stage boundary: the FnApiRunner runs stateful steps fused with the clock per tick, at
        # the clock's (final) watermark, so their timers would fire at once and forget everything.
        | "SpreadItems" >> beam.Reshuffle()
        | "KeyBySighting" >> beam.Map(lambda item: (sighting_key(item), item))
        | "FirstSighting" >> beam.ParDo(FirstSightingFn(plan.stream.horizon))
        | "Windows" >> beam.WindowInto(windows)
    )
    rejects = [polled[REJECTED] | "RejectWindows" >> beam.WindowInto(windows)]
    if plan.fetch.fetch_articles:
        pages = items | "FetchArticles" >> FetchPages(plan.fetch, plan.ingested_at)
        items, rejects = pages["items"], [*rejects, pages["rejects"]]

    normalized = items | "Normalize" >> Normalize(plan.ingested_at)
    articles = (
        normalized["articles"]
        | "AssignTopic" >> AssignTopic()
        | "Deduplicate" >> CrossWindowDedup(plan.dedup, plan.stream.horizon, plan.stream.window)
    )
    claims = articles | "ExtractClaims" >> ExtractClaims()
    all_rejects = (*rejects, normalized["rejects"]) | "AllRejects" >> beam.Flatten()

    tables = (
        (articles, None),
        (claims["claims"], claims["clusters"]),
        (all_rejects, None),
    )
    written = [
        rows
        | f"Write{table.name.title()}"
        >> WriteTable(table, plan.staging, plan.file_tag, updates=updates)
        for table, (rows, updates) in zip(TABLES, tables, strict=True)
    ]
    _ = (
        tuple(written)
        | "AllWrittenFiles" >> beam.Flatten()
        | "PublishWindows" >> PublishWindows(TABLES, plan.output, plan.staging, plan.file_tag)
    )


def finish_streaming_output(plan: RunPlan) -> None:
    """After the run: an empty file in each table no window wrote to (so globs and the summary
    work), and the run's staging folder removed -- publishing nothing does exactly that -- with
    those of dead runs."""
    publish_tables(TABLES, [], plan.output, plan.staging, "append", plan.ingested_at, plan.file_tag)
    remove_stale_staging(plan.output, plan.staging)
