"""Progress of a long local run: a line every few seconds with the items read, articles and rejects
so far.

Beam's FnApiRunner runs a batch pipeline stage after stage and hands out metrics only when the run
has finished (``pipeline.run()`` blocks, and each fused stage is one bundle per worker), so the
launcher cannot poll ``result.metrics()``. Instead ``count_progress`` adds counting steps to the
graph: each worker's counting DoFn writes its running totals to a small file in a local folder at
most every few seconds (and when its bundle ends), and ``ProgressReporter``, a thread in the
launcher, adds the files up and prints a line when the counts change. That works in every local
mode (in-process, multi-threaded, multi-process workers); remote runners have their own UIs.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import TextIO

import apache_beam as beam

# The counts, as count_progress names them.
ITEMS = "items"  # items parsed, on their way to the normalize stage
INPUT_REJECTS = "input_rejects"  # files and items the read (and fetch) stage rejected
ARTICLES = "articles"  # article rows on their way to the writer
REJECTS = "rejects"  # reject rows on their way to the writer, from every stage


class _CountFn(beam.DoFn):
    """Counts elements; writes this instance's running total to FOLDER/KIND-ID.json now and then."""

    def __init__(self, folder: str, kind: str, interval: float):
        self._folder = folder
        self._kind = kind
        self._interval = interval

    def setup(self) -> None:
        self._path = Path(self._folder) / f"{self._kind}-{uuid.uuid4().hex}.json"
        self._count = 0
        self._written_at = time.monotonic()

    def process(self, element) -> None:
        self._count += 1
        # Wall-clock time only paces the reports; it never touches the data.
        if time.monotonic() - self._written_at >= self._interval:
            self._write()

    def finish_bundle(self) -> None:
        self._write()

    def _write(self) -> None:
        partial = self._path.with_suffix(".tmp")
        partial.write_text(json.dumps({"kind": self._kind, "count": self._count}))
        os.replace(partial, self._path)  # the reporter never reads half a file
        self._written_at = time.monotonic()


def count_progress(
    folder: str, interval: float, counted: dict[str, list[beam.PCollection]]
) -> None:
    """Adds a counting step on each PCollection of ``counted`` (kind: collections)."""
    for kind, collections in counted.items():
        for index, collection in enumerate(collections):
            _ = collection | f"Progress_{kind}_{index}" >> beam.ParDo(
                _CountFn(folder, kind, interval)
            )


def read_counts(folder: str) -> Counter:
    """The counts so far: the totals of every counting DoFn instance, added up by kind."""
    counts: Counter = Counter()
    for path in Path(folder).glob("*.json"):
        try:
            report = json.loads(path.read_text())
        except (OSError, ValueError):  # replaced while being read: next time
            continue
        counts[report["kind"]] += report["count"]
    return counts


def render(counts: Counter, elapsed_seconds: float) -> str:
    items_read = counts[ITEMS] + counts[INPUT_REJECTS]
    return (
        f"wirestream: {items_read:,} items read, {counts[ARTICLES]:,} articles, "
        f"{counts[REJECTS]:,} rejects so far ({elapsed_seconds:.0f} s)"
    )


class ProgressReporter:
    """A thread that prints a progress line every ``interval`` seconds while counts change, and
    a last one when the run ends; does nothing when ``interval`` is 0."""

    def __init__(self, folder: str, interval: float, stream: TextIO | None = None):
        self._folder = folder
        self._interval = interval
        self._stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._report, name="progress", daemon=True)
        self._started = time.monotonic()
        self._shown: Counter = Counter()

    def __enter__(self) -> ProgressReporter:
        if self._interval > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._interval > 0:
            self._stop.set()
            self._thread.join()
            self._show()

    def _report(self) -> None:
        while not self._stop.wait(self._interval):
            self._show()

    def _show(self) -> None:
        counts = read_counts(self._folder)
        if counts and counts != self._shown:
            print(render(counts, time.monotonic() - self._started), file=self._stream, flush=True)
            self._shown = counts
