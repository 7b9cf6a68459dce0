"""Write stage: rows to Hive-partitioned Parquet, published only when the whole run has succeeded.

Each table is written by ``fileio.WriteToFiles`` with a Parquet ``FileSink`` and one destination
per partition (``date=.../topic=...``) into a staging folder, ``OUTPUT/_staging/RUN/``, that query
engines ignore (leading underscore). When every table is written, ``PublishOutput`` moves the
staged tables into place: in overwrite mode each table folder is swapped for the new one, in append
mode the new files join the live partitions. A run that dies before that leaves the previous tables
untouched.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
from collections.abc import Iterable, Sequence
from datetime import datetime

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io import fileio
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.options.value_provider import StaticValueProvider
from apache_beam.transforms.window import IntervalWindow

from schemas import FALLBACK_TOPIC, Table

STAGING_DIR = "_staging"
_ROW_GROUP_ROWS = 10_000
_UNSAFE_PARTITION_CHARS = re.compile(r"[^a-z0-9-]+")


def partition_value(value: object) -> str:
    """A partition value that is safe as one path segment: lower-case letters, digits, dashes."""
    slug = _UNSAFE_PARTITION_CHARS.sub("-", str(value).lower()).strip("-")
    return slug or "unknown"


def partition_path(table: Table, row: dict) -> str:
    """The Hive path of a row's partition, e.g. ``date=1987-03-02/topic=economy``."""
    return "/".join(f"{key}={partition_value(row[key])}" for key in table.partition_keys)


def staging_root(output: str, run_id: str) -> str:
    return FileSystems.join(output, STAGING_DIR, run_id)


class ParquetSink(fileio.FileSink):
    """Rows of one table to a zstd Parquet file; partition keys are left to the path."""

    def __init__(self, table: Table):
        self._table = table
        self._writer: pq.ParquetWriter | None = None
        self._rows: list[dict] = []

    def open(self, fh) -> None:
        self._writer = pq.ParquetWriter(fh, self._table.schema, compression="zstd")
        self._rows = []

    def write(self, record: dict) -> None:
        self._rows.append(record)
        if len(self._rows) >= _ROW_GROUP_ROWS:
            self._write_rows()

    def flush(self) -> None:
        self._write_rows()
        self._writer.close()

    def _write_rows(self) -> None:
        if self._rows:
            # from_pylist keeps only the schema's columns: partition keys stay out of the file.
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._table.schema))
            self._rows = []


def write_empty_table_file(table: Table, path: str) -> None:
    """A Parquet file with the table's schema and no rows (keeps globs over empty tables valid)."""
    with FileSystems.create(path) as handle:
        pq.write_table(table.schema.empty_table(), handle, compression="zstd")


class WriteTable(beam.PTransform):
    """Rows of one table to staged Parquet files; returns (table name, partition, file) triples.

    Beam moves finished files into one flat folder (it cannot create partition folders), so the
    partition is part of the staged name; publishing puts each file into its partition folder.
    """

    def __init__(self, table: Table, staging: str, file_tag: str):
        super().__init__()
        self._table = table
        self._staging = staging
        self._file_tag = file_tag

    def expand(self, rows):
        table, file_tag = self._table, self._file_tag

        def file_name(window, pane, shard_index, total_shards, compression, destination) -> str:
            flat_partition = destination.replace("/", "_")
            # A streaming run writes the same partitions window after window: the window's start
            # keeps their names apart (batch rows are in the global window, which has no start).
            if isinstance(window, IntervalWindow):
                flat_partition = f"{window.start.to_utc_datetime():%Y%m%dT%H%M%S}-{flat_partition}"
            return (
                f"part-{file_tag}-{flat_partition}-{shard_index:05d}-of-{total_shards:05d}.parquet"
            )

        folder = FileSystems.join(self._staging, "_files", table.name)
        return (
            rows
            | "WriteParquet"
            >> fileio.WriteToFiles(
                path=folder,
                destination=lambda row: partition_path(table, row),
                sink=lambda destination: ParquetSink(table),
                file_naming=file_name,
                # Every row goes through the sharded path: one file per partition (and window)
                # per run, however the runner cut the bundles, instead of a file per bundle.
                shards=1,
                max_writers_per_bundle=0,
                temp_directory=StaticValueProvider(
                    str, FileSystems.join(self._staging, "_beam_tmp", table.name)
                ),
            )
            | "NameTable"
            >> beam.Map(
                lambda result: (
                    table.name,
                    result.destination,
                    FileSystems.join(folder, result.file_name),
                )
            )
        )


class PublishOutput(beam.PTransform):
    """Once every table is staged, move the staged tables into OUTPUT (see the module docstring)."""

    def __init__(
        self,
        tables: Sequence[Table],
        output: str,
        staging: str,
        mode: str,
        ingested_at: datetime,
        file_tag: str,
    ):
        super().__init__()
        self._publish = _PublishFn(tables, output, staging, mode, ingested_at, file_tag)

    def expand(self, staged_files):
        return (
            staged_files
            # One element once everything is written: the publish must not start any earlier.
            | "CollectFiles" >> beam.combiners.ToList()
            | "Publish" >> beam.ParDo(self._publish)
        )


class _PublishFn(beam.DoFn):
    def __init__(self, tables, output, staging, mode, ingested_at, file_tag):
        self._tables = tables
        self._args = (output, staging, mode, ingested_at, file_tag)
        self.published = Metrics.counter("write", "files_published")

    def process(self, staged_files: list[tuple[str, str, str]]) -> Iterable[int]:
        publish_tables(self._tables, staged_files, *self._args)
        self.published.inc(len(staged_files))
        yield len(staged_files)


def publish_tables(
    tables: Sequence[Table],
    staged_files: Iterable[tuple[str, str, str]],
    output: str,
    staging: str,
    mode: str,
    ingested_at: datetime,
    file_tag: str,
) -> None:
    """Put staged files into partition folders, move the tables into OUTPUT, drop the staging.

    ``staged_files`` holds (table name, partition path, staged file) triples.
    """
    by_table: dict[str, list[tuple[str, str]]] = {table.name: [] for table in tables}
    for table_name, partition, path in staged_files:
        by_table[table_name].append((partition, path))
    for table in tables:
        arranged = FileSystems.join(staging, table.name)
        files = by_table[table.name]
        for partition, path in files:
            _move(path, FileSystems.join(arranged, partition, posixpath.basename(path)))
        live = FileSystems.join(output, table.name)
        if not files and (mode == "overwrite" or not _files_below(live)):
            placeholder = {"date": ingested_at.date().isoformat(), "topic": FALLBACK_TOPIC}
            write_empty_table_file(
                table,
                FileSystems.join(
                    arranged, partition_path(table, placeholder), f"part-{file_tag}-empty.parquet"
                ),
            )
        if mode == "overwrite":
            _replace_folder(arranged, live, FileSystems.join(staging, "_previous", table.name))
        else:
            for path in _files_below(arranged):
                _move(path, live + path[len(arranged) :])
    _remove_folder(staging)


def _is_local(path: str) -> bool:
    return "://" not in path


def _files_below(folder: str) -> list[str]:
    if _is_local(folder):
        return sorted(
            os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
        )
    if not FileSystems.exists(folder):
        return []
    return sorted(
        m.path for m in FileSystems.match([FileSystems.join(folder, "**")])[0].metadata_list
    )


def _replace_folder(new: str, live: str, previous: str) -> None:
    if _is_local(live):
        # Two renames: readers see the old table or the new one, never a mix of their files.
        os.makedirs(os.path.dirname(previous), exist_ok=True)
        if os.path.exists(live):
            os.replace(live, previous)
        os.replace(new, live)
        return
    # Object stores have no folder rename: remove the old files, then move the new ones.
    if FileSystems.exists(live):
        FileSystems.delete([live])
    for path in _files_below(new):
        _move(path, live + path[len(new) :])


def _move(source: str, destination: str) -> None:
    if _is_local(destination):
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        os.replace(source, destination)
    else:
        FileSystems.rename([source], [destination])


def _remove_folder(folder: str) -> None:
    if _is_local(folder):
        shutil.rmtree(folder, ignore_errors=True)
    elif FileSystems.exists(folder):
        FileSystems.delete([folder])
