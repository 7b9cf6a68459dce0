"""The wirestream graph: read, normalize, topic, dedup, claims, write, publish."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import progress as progress_counts
from pipeline.options import WirestreamOptions
from schemas import ARTICLES, CLAIMS, DEDUP_INDEX, REJECTS
from transforms.claims import ExtractClaims
from transforms.dedup import (
    Deduplicate,
    DedupParams,
    DropIndexed,
    IndexRows,
    ReadDedupIndex,
)
from transforms.fetch import FetchInputs, FetchPolicy
from transforms.normalize import Normalize
from transforms.read import FEED_URLS, ReadInputs, expand_input
from transforms.stream import StreamParams
from transforms.topics import AssignTopic
from transforms.urls import is_http
from transforms.write import PublishOutput, WriteTable, staging_root


@dataclass(frozen=True)
class RunPlan:
    """What one run reads and writes, fixed at launch so that every worker sees the same values."""

    patterns: tuple[str, ...]
    output: str
    mode: str
    max_input_bytes: int
    extract_timeout: float
    ingested_at: datetime
    run_id: str
    dedup: DedupParams
    fetch: FetchPolicy
    stream: StreamParams

    @property
    def staging(self) -> str:
        return staging_root(self.output, self.run_id)

    @property
    def dedup_index(self) -> str:
        """The signature index, beside the tables: append runs dedup against it."""
        return f"{self.output}/{DEDUP_INDEX.name}"

    @property
    def file_tag(self) -> str:
        """Part of every file name this run writes, so appended files never collide."""
        return self.run_id

    @classmethod
    def from_options(cls, options: PipelineOptions, default_inputs: list[str]) -> RunPlan:
        settings = options.view_as(WirestreamOptions)
        ingested_at = (
            parse_timestamp(settings.ingested_at)
            if settings.ingested_at
            else datetime.now(timezone.utc).replace(microsecond=0)
        )
        return cls(
            patterns=tuple(expand_input(p) for p in settings.inputs or default_inputs),
            output=settings.output.rstrip("/") or ".",
            mode=settings.mode,
            max_input_bytes=settings.max_input_bytes,
            extract_timeout=settings.extract_timeout,
            ingested_at=ingested_at,
            run_id=f"{ingested_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
            dedup=DedupParams.from_options(options),
            fetch=FetchPolicy.from_options(options),
            stream=StreamParams.from_options(options),
        )

    @property
    def urls(self) -> list[str]:
        """The http(s) inputs: fetched, not matched as files."""
        return [pattern for pattern in self.patterns if is_http(pattern)]

    @property
    def file_patterns(self) -> list[str]:
        return [pattern for pattern in self.patterns if not is_http(pattern)]


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 to an aware UTC datetime (naive values are taken as UTC)."""
    stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return (
        stamp.replace(tzinfo=timezone.utc)
        if stamp.tzinfo is None
        else stamp.astimezone(timezone.utc)
    )


def build_pipeline(
    pipeline: beam.Pipeline, plan: RunPlan, progress: tuple[str, float] | None = None
) -> None:
    """The whole flow, top to bottom. ``progress``: (local folder, seconds) for the running counts
    of the launcher's progress lines (pipeline/progress.py)."""
    read = pipeline | "Read" >> ReadInputs(
        plan.file_patterns, plan.max_input_bytes, plan.ingested_at, plan.extract_timeout
    )
    # URL inputs and the URLs that OPML files list are fetched (once each) and parsed like files.
    fetched = (
        (read[FEED_URLS], pipeline | "InputUrls" >> beam.Create(plan.urls))
        | "AllUrls" >> beam.Flatten()
        | "Fetch" >> FetchInputs(plan.fetch, plan.ingested_at)
    )
    # Each source hands on its parts; Normalize cleans each where it was parsed (no Flatten copies
    # the items).
    items = (*read["items"], *fetched["items"])
    normalized = items | "Normalize" >> Normalize(plan.ingested_at)
    fresh, index = normalized["articles"], None
    if plan.mode == "append":
        # Earlier runs' signatures: what they hold is not added again, and reprints join them.
        index = pipeline | "ReadDedupIndex" >> ReadDedupIndex(plan.dedup_index)
        fresh = fresh | "DropIndexed" >> DropIndexed(index)
    articles = (
        fresh
        | "AssignTopic" >> AssignTopic()
        | "Deduplicate" >> Deduplicate(plan.dedup, index=index)
    )
    index_rows = articles | "DedupIndexRows" >> IndexRows(plan.dedup)
    claims = articles | "ExtractClaims" >> ExtractClaims()
    input_rejects = (*read["rejects"], *fetched["rejects"])
    every_reject = (*input_rejects, normalized["rejects"])
    rejects = every_reject | "AllRejects" >> beam.Flatten()
    if progress:
        progress_counts.count_progress(
            *progress,
            {
                progress_counts.ITEMS: list(items),
                progress_counts.INPUT_REJECTS: list(input_rejects),
                progress_counts.ARTICLES: [articles],
                progress_counts.REJECTS: [rejects],
            },
        )

    tables = (
        (ARTICLES, articles, None),
        (CLAIMS, claims["claims"], claims["clusters"]),
        (REJECTS, rejects, None),
        (DEDUP_INDEX, index_rows, None),
    )
    written = [
        rows
        | f"Write{table.name.title()}"
        >> WriteTable(table, plan.staging, plan.file_tag, updates=updates)
        for table, rows, updates in tables
    ]
    _ = (
        tuple(written)
        | "AllWrittenFiles" >> beam.Flatten()
        | "Publish"
        >> PublishOutput(
            tuple(table for table, _, _ in tables),
            plan.output,
            plan.staging,
            plan.mode,
            plan.ingested_at,
            plan.file_tag,
        )
    )
