"""Write stage: rows to Hive-partitioned Parquet, published only when the whole run has succeeded.

Each table is written as one Parquet file per partition (``date=.../topic=...``) into a staging
folder, ``OUTPUT/_staging/RUN/``, that query engines ignore (leading underscore): rows travel to
their partition's writer in compressed Arrow batches, and each file is sorted by the table's sort
keys, so the same rows make the same file whatever the runner or worker count. A table with
``files_per_bundle`` (the signature index) is written by each bundle as its rows come instead,
without gathering them (its rows are the same, its files are not). When every table
is written, ``PublishOutput`` moves the staged tables into place: in overwrite mode each table
folder is swapped for the new one, in append mode the new files join the live partitions. A run
that dies before that leaves the previous tables untouched; one that dies part-way through it
leaves a journal that the next run on OUTPUT follows to the end before it reads anything.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import posixpath
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import IntervalWindow
from apache_beam.utils.windowed_value import WindowedValue

from schemas import FALLBACK_TOPIC, Table
from transforms.packing import compress, decompress

STAGING_DIR = "_staging"
# In a staging folder whose tables are arranged and going live: what is left to do (PublishPlan).
PUBLISH_JOURNAL = "_publish.json"
# A staging folder nothing has touched for this long belongs to a run that died (killed, out of
# memory): the next run that publishes removes it. No batch run lasts a day, and a streaming
# run's files wait in its folder for minutes at most (from their window's end to its publishing).
STALE_STAGING_SECONDS = 24 * 3600
_ROW_GROUP_ROWS = 10_000
# Rows a bundle keeps waiting to be sent on in Arrow batches (see _BatchRowsFn).
_PENDING_ROWS = 5_000
_UNSAFE_PARTITION_CHARS = re.compile(r"[^a-z0-9-]+")
# Kill points for the tests of atomic output (tests/test_atomic.py): with HOLD_ENV set to "writing"
# or "written", a writer holds still for _HOLD_SECONDS once its file is half-written (under
# _writing) or written (under _files); with "swapping", the publish holds between a local table's
# two renames (the table is gone for that moment), with "published", after each table it made
# live. A test then kills the run there every time instead of racing a moment of milliseconds.
HOLD_ENV = "WIRESTREAM_HOLD_AT"
_HOLD_SECONDS = 120.0


def partition_value(value: object) -> str:
    """A partition value that is safe as one path segment: lower-case letters, digits, dashes."""
    slug = _UNSAFE_PARTITION_CHARS.sub("-", str(value).lower()).strip("-")
    return slug or "unknown"


def partition_path(table: Table, row: dict) -> str:
    """The Hive path of a row's partition, e.g. ``date=1987-03-02/topic=economy``."""
    return "/".join(f"{key}={partition_value(row[key])}" for key in table.partition_keys)


def staging_root(output: str, run_id: str) -> str:
    return FileSystems.join(output, STAGING_DIR, run_id)


def rows_to_batch(table: Table, rows: Sequence[dict]) -> bytes:
    """Rows as one Arrow IPC stream, zstd-compressed as a whole: what a bundle sends per
    partition to the writer. One compression per stream, not Arrow's one per column buffer:
    bundles send many small batches, on which that cost 4x the time for 3x the bytes.
    ``from_pylist`` keeps only the schema's columns, so partition keys stay out of the file."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(pa.Table.from_pylist(list(rows), schema=table.schema))
    return compress(sink.getvalue())


def _batch_rows(batch: bytes) -> pa.Table:
    return pa.ipc.open_stream(decompress(batch)).read_all()


def batches_to_table(table: Table, batches: Iterable[bytes]) -> pa.Table:
    """A partition's batches as one table, sorted by the table's sort keys: the same rows give
    the same file, however the runner cut the bundles."""
    parts = [_batch_rows(batch) for batch in batches]
    rows = pa.concat_tables(parts) if parts else table.schema.empty_table()
    keys = table.sort_keys or tuple(
        field.name for field in table.schema if not pa.types.is_nested(field.type)
    )
    return rows.sort_by([(key, "ascending") for key in keys])


def apply_updates(table: Table, rows: pa.Table, updates: Mapping[str, dict]) -> pa.Table:
    """``rows`` with the values ``updates`` holds for them set: {row id: {column: value}}, the row
    id being the value of the table's first sort key."""
    ids = rows.column(table.sort_keys[0]).to_pylist()
    changed = [(i, updates[row_id]) for i, row_id in enumerate(ids) if row_id in updates]
    for name in sorted({name for _, values in changed for name in values}):
        column = rows.column(name).to_pylist()
        for i, values in changed:
            if name in values:
                column[i] = values[name]
        index = rows.schema.get_field_index(name)
        field = rows.schema.field(index)
        rows = rows.set_column(index, field, pa.array(column, type=field.type))
    return rows


def write_parquet(rows: pa.Table, path: str) -> None:
    with FileSystems.create(path) as handle:
        pq.write_table(rows, handle, compression="zstd", row_group_size=_ROW_GROUP_ROWS)


def write_empty_table_file(table: Table, path: str) -> None:
    """A Parquet file with the table's schema and no rows (keeps globs over empty tables valid)."""
    write_parquet(table.schema.empty_table(), path)


class _BatchRowsFn(beam.DoFn):
    """Rows -> (partition, Arrow batch) elements, per window and partition.

    Rows cross the shuffle as compressed Arrow batches instead of one element each: encoding and
    grouping them costs a fraction, and a runner holding them keeps bytes, not dicts. A bundle
    keeps at most _PENDING_ROWS rows waiting (its largest partitions go first), so a bundle of
    any size holds little in memory.
    """

    def __init__(self, table: Table):
        self._table = table

    def start_bundle(self) -> None:
        self._pending: dict[tuple, list[dict]] = {}
        self._pending_rows = 0

    def process(self, row: dict, window=beam.DoFn.WindowParam) -> Iterator[WindowedValue]:
        key = (window, partition_path(self._table, row))
        self._pending.setdefault(key, []).append(row)
        self._pending_rows += 1
        if self._pending_rows >= _PENDING_ROWS:
            largest = sorted(self._pending, key=lambda key: len(self._pending[key]), reverse=True)
            for key in largest:
                if self._pending_rows <= _PENDING_ROWS // 2:
                    break
                yield self._batch(key)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for key in list(self._pending):
            yield self._batch(key)

    def _batch(self, key: tuple) -> WindowedValue:
        window, partition = key
        rows = self._pending.pop(key)
        self._pending_rows -= len(rows)
        batch = rows_to_batch(self._table, rows)
        return WindowedValue((partition, batch), window.max_timestamp(), [window])


class _WritePartitionFn(beam.DoFn):
    """(partition, Arrow batches) -> one Parquet file in the run's staging; yields (table name,
    partition, file). The file is written under ``_writing`` and then renamed into ``_files``, so
    ``_files`` holds finished files only; a retried bundle writes the same file again."""

    def __init__(self, table: Table, staging: str, file_tag: str):
        self._table = table
        self._staging = staging
        self._file_tag = file_tag
        self.rows_written = Metrics.counter("write", f"{table.name}_rows")

    def process(
        self,
        partition_batches: tuple[str, Iterable[bytes]],
        window=beam.DoFn.WindowParam,
        updates: Mapping[str, dict] | None = None,
    ):
        partition, batches = partition_batches
        rows = batches_to_table(self._table, batches)
        if updates:
            rows = apply_updates(self._table, rows, updates)
        name = staged_file_name(self._file_tag, partition, window)
        writing = FileSystems.join(self._staging, "_writing", self._table.name, name)
        write_parquet(rows, writing)
        written = _finish_file(self._staging, self._table, writing)
        self.rows_written.inc(rows.num_rows)
        yield self._table.name, partition, written


class _GrowingParquetFile:
    """A Parquet file written a row group at a time as rows arrive (opened at the first row)."""

    def __init__(self, table: Table, path: str):
        self.path = path
        self.rows = 0
        self._schema = table.schema
        self._pending: list[dict] = []
        self._handle = FileSystems.create(path)
        self._writer = pq.ParquetWriter(self._handle, table.schema, compression="zstd")

    def add(self, row: dict) -> None:
        self._pending.append(row)
        if len(self._pending) >= _PENDING_ROWS:
            self._write_pending()

    def close(self) -> None:
        self._write_pending()
        self._writer.close()
        self._handle.close()

    def _write_pending(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_pylist(self._pending, schema=self._schema))
            self.rows += len(self._pending)
            self._pending = []


class _WriteBundleFilesFn(beam.DoFn):
    """Rows -> Parquet files that the bundle writes itself, one per window and partition, for
    tables with ``files_per_bundle``: nothing is grouped, so no runner holds the rows on their way
    to a writer. Files are named by a random id of the bundle: a retried bundle writes new ones,
    and only the files of the attempt that succeeded reach the publish step (the others are
    removed with the staging folder)."""

    def __init__(self, table: Table, staging: str, file_tag: str):
        self._table = table
        self._staging = staging
        self._file_tag = file_tag
        self.rows_written = Metrics.counter("write", f"{table.name}_rows")

    def start_bundle(self) -> None:
        self._bundle_id = uuid.uuid4().hex[:16]
        self._files: dict[tuple, _GrowingParquetFile] = {}

    def process(self, row: dict, window=beam.DoFn.WindowParam) -> None:
        partition = partition_path(self._table, row)
        file = self._files.get((window, partition))
        if file is None:
            name = staged_file_name(self._file_tag, partition, window, self._bundle_id)
            path = FileSystems.join(self._staging, "_writing", self._table.name, name)
            file = self._files[(window, partition)] = _GrowingParquetFile(self._table, path)
        file.add(row)

    def finish_bundle(self) -> Iterator[WindowedValue]:
        files, self._files = self._files, {}
        for (window, partition), file in files.items():
            file.close()
            written = _finish_file(self._staging, self._table, file.path)
            self.rows_written.inc(file.rows)
            yield WindowedValue(
                (self._table.name, partition, written), window.max_timestamp(), [window]
            )


def _finish_file(staging: str, table: Table, writing: str) -> str:
    """A file written under ``_writing`` moved into ``_files``, which holds finished files only."""
    _hold_at("writing")
    written = FileSystems.join(staging, "_files", table.name, posixpath.basename(writing))
    _move(writing, written)
    _hold_at("written")
    return written


def _hold_at(point: str) -> None:
    if os.environ.get(HOLD_ENV) == point:
        threading.Event().wait(_HOLD_SECONDS)


def written_by(path: str, file_tag: str) -> bool:
    """Whether a table file is one the run with ``file_tag`` wrote (see ``staged_file_name``)."""
    return posixpath.basename(path).startswith(f"part-{file_tag}-")


def staged_file_name(
    file_tag: str, partition: str, window: object, bundle_id: str | None = None
) -> str:
    """``part-RUN[-WINDOWSTART][-PARTITION][-BUNDLE].parquet``: the partition is part of the name
    because staged files share one flat folder until they are published; a table with
    ``files_per_bundle`` adds the writing bundle's id."""
    parts = [f"part-{file_tag}"]
    # A streaming run writes the same partitions window after window: the window's start keeps
    # their names apart (batch rows are in the global window, which has no start).
    if isinstance(window, IntervalWindow):
        parts.append(f"{window.start.to_utc_datetime():%Y%m%dT%H%M%S}")
    if partition:
        parts.append(partition.replace("/", "_"))
    if bundle_id is not None:
        parts.append(bundle_id)
    return "-".join(parts) + ".parquet"


class WriteTable(beam.PTransform):
    """Rows of one table to staged Parquet files, one per partition (and window) per run, or per
    bundle for a table with ``files_per_bundle``; returns (table name, partition, file) triples
    for ``PublishOutput``.

    ``updates``: an optional PCollection of (row id, {column: value}) for values decided after
    the rows were made (see ``apply_updates``), set as the files are written. The rows then
    reach the writers as compact batches at once instead of waiting, one element each, for
    those values.
    """

    def __init__(self, table: Table, staging: str, file_tag: str, updates=None):
        super().__init__()
        self._table = table
        self._staging = staging
        self._file_tag = file_tag
        self._updates = updates

    def expand(self, rows):
        if self._table.files_per_bundle:
            if self._updates is not None:
                raise ValueError(f"{self._table.name}: files written per bundle take no updates")
            return rows | "WriteBundleFiles" >> beam.ParDo(
                _WriteBundleFilesFn(self._table, self._staging, self._file_tag)
            )
        side = {} if self._updates is None else {"updates": beam.pvalue.AsDict(self._updates)}
        return (
            rows
            | "BatchByPartition" >> beam.ParDo(_BatchRowsFn(self._table))
            | "GroupByPartition" >> beam.GroupByKey()
            | "WriteParquet"
            >> beam.ParDo(_WritePartitionFn(self._table, self._staging, self._file_tag), **side)
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
        output, staging = self._args[:2]
        remove_stale_staging(output, staging)
        yield len(staged_files)


@dataclass(frozen=True)
class PublishPlan:
    """What a publish does once its tables are arranged under its staging folder: the journal."""

    mode: str
    tables: tuple[str, ...]
    file_tag: str

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> PublishPlan:
        fields = json.loads(data)
        return cls(fields["mode"], tuple(fields["tables"]), fields["file_tag"])


class DamagedJournal(ValueError):
    """A publish journal that cannot be read: only damage from outside makes one (it is written
    whole, by a rename or a single object write), and only a person can tell what to keep."""


def _plan_in(journal: str, data: bytes) -> PublishPlan:
    try:
        return PublishPlan.from_json(data)
    except (ValueError, KeyError, TypeError) as error:
        raise DamagedJournal(f"{journal} cannot be read ({error!r})") from error


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

    ``staged_files`` holds (table name, partition path, staged file) triples. Once the tables are
    arranged, a journal in ``staging`` says what is left to do, so that a publish cut short (the
    run killed, the bundle retried) is carried to its end by whoever finds the journal next: the
    retried bundle, or the next run on OUTPUT (``finish_interrupted_publishes``).
    """
    journal = FileSystems.join(staging, PUBLISH_JOURNAL)
    if FileSystems.exists(journal):  # a retried bundle: arranged already, part-way through
        _finish_publish(journal, output)
        return
    by_table: dict[str, list[tuple[str, str]]] = {table.name: [] for table in tables}
    for table_name, partition, path in staged_files:
        by_table[table_name].append((partition, path))
    for table in tables:
        arranged = FileSystems.join(staging, table.name)
        files = by_table[table.name]
        for partition, path in files:
            _move(path, FileSystems.join(arranged, partition, posixpath.basename(path)))
        live = FileSystems.join(output, table.name)
        if not files and (mode == "overwrite" or not files_below(live)):
            placeholder = {"date": ingested_at.date().isoformat(), "topic": FALLBACK_TOPIC}
            write_empty_table_file(
                table,
                FileSystems.join(
                    arranged, partition_path(table, placeholder), f"part-{file_tag}-empty.parquet"
                ),
            )
    plan = PublishPlan(mode, tuple(table.name for table in tables), file_tag)
    with _journal_written(journal, plan):
        _carry_out(plan, staging, output)


def finish_interrupted_publishes(output: str) -> list[str]:
    """Carry to their end the publishes that runs on OUTPUT left part-way through (killed after
    some files or tables went live): run before reading OUTPUT, so that an append run's dedup
    sees the whole of the earlier run. Returns their staging folders.

    On a local disk a publish still going holds a lock on its journal and is left to its run.
    Object stores have no locks; there, finishing a publish that is still going is harmless (both
    make the same moves, and a move already made is skipped), but wirestream assumes one run at a
    time per OUTPUT, as append runs need anyway to see each other's rows."""
    root = FileSystems.join(output, STAGING_DIR)
    journals = [path for path in files_below(root) if posixpath.basename(path) == PUBLISH_JOURNAL]
    # Deepest first: a streaming run's window folders sit inside its run folder.
    journals.sort(key=lambda path: (-path.count("/"), path))
    return [posixpath.dirname(journal) for journal in journals if _finish_publish(journal, output)]


def _finish_publish(journal: str, output: str) -> bool:
    with _journal_taken(journal) as plan:
        if plan is None:
            return False
        _carry_out(plan, posixpath.dirname(journal), output)
        return True


def _carry_out(plan: PublishPlan, staging: str, output: str) -> None:
    """The publish proper, every step of it safe to repeat after a crash at any point."""
    for name in plan.tables:
        arranged = FileSystems.join(staging, name)
        live = FileSystems.join(output, name)
        if plan.mode == "overwrite":
            previous = FileSystems.join(staging, "_previous", name)
            _replace_folder(arranged, live, previous, plan.file_tag)
        else:
            for path in files_below(arranged):
                _move(path, live + path[len(arranged) :])
        _hold_at("published")
    _remove_folder(staging)


@contextmanager
def _journal_written(journal: str, plan: PublishPlan) -> Iterator[None]:
    """Write the journal and hold it (on a local disk, a lock that dies with the process)."""
    if not is_local(journal):
        with FileSystems.create(journal) as sink:
            sink.write(plan.to_json())
        yield
        return
    writing = f"{journal}.writing"
    os.makedirs(os.path.dirname(journal), exist_ok=True)  # an append run may have no file
    with open(writing, "wb") as sink:
        fcntl.flock(sink, fcntl.LOCK_EX)
        sink.write(plan.to_json())
        sink.flush()
        os.fsync(sink.fileno())
        os.replace(writing, journal)  # the lock is the file's: it moves with it
        yield


@contextmanager
def _journal_taken(journal: str) -> Iterator[PublishPlan | None]:
    """The plan of a journal nobody holds, held while it is carried out; None when a live
    publish holds it or has just finished (the journal is gone)."""
    if not is_local(journal):
        if not FileSystems.exists(journal):
            yield None
            return
        with FileSystems.open(journal, compression_type=CompressionTypes.UNCOMPRESSED) as source:
            data = source.read()
        yield _plan_in(journal, data)
        return
    try:
        descriptor = os.open(journal, os.O_RDONLY)
    except FileNotFoundError:
        yield None
        return
    with os.fdopen(descriptor, "rb") as source:
        try:
            fcntl.flock(source, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        # Finished between our open and our lock: its folder, journal included, is gone.
        yield _plan_in(journal, source.read()) if os.path.exists(journal) else None


def remove_stale_staging(
    output: str, current: str, max_age: float = STALE_STAGING_SECONDS, now: float | None = None
) -> list[str]:
    """Remove the staging folders of dead runs from ``OUTPUT/_staging``: those whose newest file
    or folder is older than ``max_age`` seconds; never ``current`` (this run's). Returns them."""
    root = FileSystems.join(output, STAGING_DIR)
    newest: dict[str, float] = {}
    if is_local(root):
        if not os.path.isdir(root):
            return []
        for name in os.listdir(root):
            folder = os.path.join(root, name)
            try:
                stamps = [os.path.getmtime(folder)]
                for parent, folders, files in os.walk(folder):
                    stamps += [os.path.getmtime(os.path.join(parent, n)) for n in folders + files]
            except OSError:  # changing under us: a live run's folder, not a dead one's
                continue
            newest[folder] = max(stamps)
    else:
        # Object stores list files only: a run's age is that of its newest file. A store that
        # does not report times (0) makes every file look ancient: its folders are kept.
        for found in _matched_below(root):
            folder = FileSystems.join(root, found.path[len(root) :].lstrip("/").split("/")[0])
            stamp = found.last_updated_in_seconds or float("inf")
            newest[folder] = max(newest.get(folder, 0.0), stamp)
    cutoff = (time.time() if now is None else now) - max_age
    stale = sorted(f for f, stamp in newest.items() if stamp < cutoff and f != current.rstrip("/"))
    for folder in stale:
        _remove_folder(folder)
    return stale


def is_local(path: str) -> bool:
    return "://" not in path


def files_below(folder: str) -> list[str]:
    """Every file under ``folder``, local or on an object store, sorted; none if it is missing."""
    if is_local(folder):
        return sorted(
            os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
        )
    return sorted(found.path for found in _matched_below(folder))


def _matched_below(folder: str) -> list:
    """The files under an object-store prefix. Object stores have no folders: ``exists`` is
    false for a prefix, so it is listed, never checked."""
    return FileSystems.match([FileSystems.join(folder, "**")])[0].metadata_list


def _replace_folder(new: str, live: str, previous: str, file_tag: str) -> None:
    """Swap a table folder for the arranged one (the files of run ``file_tag``). Safe to repeat:
    a publish carried on after a crash finds some of it done."""
    if is_local(live):
        if not os.path.exists(new):  # swapped already
            return
        # Two renames: readers see the old table or the new one, never a mix of their files.
        os.makedirs(os.path.dirname(previous), exist_ok=True)
        if os.path.exists(live):
            os.replace(live, previous)
            _hold_at("swapping")
        os.replace(new, live)
        return
    # Object stores have no folder rename: remove the old files (not this run's, which may be in
    # place already), then move the new ones.
    if old := [path for path in files_below(live) if not written_by(path, file_tag)]:
        FileSystems.delete(old)
    for path in files_below(new):
        _move(path, live + path[len(new) :])


def _move(source: str, destination: str) -> None:
    try:
        if is_local(destination):
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            os.replace(source, destination)
        else:
            FileSystems.rename([source], [destination])
    except (OSError, BeamIOError):
        # Moved already, by the publish this one carries on (after a crash or a retry).
        if FileSystems.exists(source) or not FileSystems.exists(destination):
            raise


def _remove_folder(folder: str) -> None:
    if is_local(folder):
        shutil.rmtree(folder, ignore_errors=True)
    elif files := files_below(folder):
        FileSystems.delete(files)
