"""The end-of-run summary, read back from the Parquet this run wrote."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.runners.runner import PipelineResult

from schemas import ARTICLES, CLAIMS, REJECTS, Table
from transforms.write import files_below, is_local, written_by

# The stages whose "items" and "rejected" counters count every item that enters the pipeline.
_INPUT_STAGES = ("read", "fetch")


@dataclass
class RunSummary:
    articles: int = 0
    duplicates: int = 0
    clusters_with_duplicates: int = 0
    claims: int = 0
    rejects_by_reason: Counter = field(default_factory=Counter)
    stage_counts: dict[str, int] = field(default_factory=dict)

    @property
    def rejects(self) -> int:
        return sum(self.rejects_by_reason.values())

    @property
    def items_read(self) -> int:
        """Items as the input stages counted them (each one an item or a reject), so that a stage
        losing rows shows as a gap to articles + rejects; the row count when there are no metrics.
        """
        counted = sum(
            self.stage_counts.get(f"{stage}.{name}", 0)
            for stage in _INPUT_STAGES
            for name in ("items", "rejected")
        )
        return counted or self.articles + self.rejects

    def render(self, output: str, elapsed_seconds: float) -> str:
        unaccounted = self.items_read - self.articles - self.rejects
        lines = [
            f"wirestream: finished in {elapsed_seconds:.1f} s",
            f"  items read        {self.items_read:>8,}"
            + (f"   ({unaccounted:,} not accounted for!)" if unaccounted else ""),
            f"  articles written  {self.articles:>8,}",
            f"  duplicates found  {self.duplicates:>8,}"
            f"   (in {self.clusters_with_duplicates:,} stories carried more than once)",
            f"  claims            {self.claims:>8,}",
            f"  rejects           {self.rejects:>8,}",
        ]
        lines += [
            f"    {reason:<34}{count:>8,}"
            for reason, count in sorted(self.rejects_by_reason.items())
        ]
        if self.stage_counts:
            lines.append("  per stage (Beam metrics)")
            lines += [
                f"    {name:<34}{count:>8,}" for name, count in sorted(self.stage_counts.items())
            ]
        lines.append(f"  tables            {output}/{{articles,claims,rejects}}/")
        return "\n".join(lines)


def summarize(output: str, file_tag: str, result: PipelineResult | None = None) -> RunSummary:
    """Counts of the rows in the files this run wrote (their names carry the run's tag)."""
    summary = RunSummary()
    articles = _read(output, ARTICLES, file_tag, ["cluster_id", "is_duplicate"])
    summary.articles = articles.num_rows
    duplicates = articles.filter(articles["is_duplicate"])
    summary.duplicates = duplicates.num_rows
    summary.clusters_with_duplicates = len(set(duplicates["cluster_id"].to_pylist()))
    summary.claims = _read(output, CLAIMS, file_tag, ["claim_id"]).num_rows
    summary.rejects_by_reason = Counter(
        _read(output, REJECTS, file_tag, ["reason"])["reason"].to_pylist()
    )
    if result is not None:
        summary.stage_counts = stage_counters(result)
    return summary


def stage_counters(result: PipelineResult) -> dict[str, int]:
    """Every counter the stages incremented, as "namespace.name": total."""
    try:
        counters = result.metrics().query()["counters"]
    except (NotImplementedError, KeyError, AttributeError):  # not every runner reports metrics
        return {}
    totals: Counter = Counter()
    for counter in counters:
        name = counter.key.metric.name
        if not name.startswith("beam.metric:"):  # the runner's own bookkeeping (Prism reports it)
            totals[f"{counter.key.metric.namespace}.{name}"] += counter.committed or 0
    return dict(totals)


def _read(output: str, table: Table, file_tag: str, columns: list[str]) -> pa.Table:
    """``columns`` of the files this run wrote into ``table``. Listed and opened through Beam's
    filesystems, as the run wrote them: pyarrow's own filesystems know neither the run's object
    store options (an S3 endpoint, a storage emulator) nor its credentials."""
    files = [
        path
        for path in files_below(FileSystems.join(output, table.name))
        if written_by(path, file_tag)
    ]
    parts = [_read_columns(path, columns) for path in files]
    return pa.concat_tables(parts) if parts else table.schema.empty_table().select(columns)


def _read_columns(path: str, columns: list[str]) -> pa.Table:
    if is_local(path):
        return pq.ParquetFile(path).read(columns=columns)
    # The whole file in memory: pyarrow never calls back into a Python file object from its
    # own threads (the tables' files are one partition each).
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        return pq.ParquetFile(pa.py_buffer(handle.read())).read(columns=columns)
