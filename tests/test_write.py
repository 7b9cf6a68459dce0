import dataclasses
import fcntl
import os
import re
import time
from pathlib import Path

import apache_beam as beam
import duckdb
import pyarrow.parquet as pq
import pytest
from apache_beam.portability import common_urns

from schemas import DEDUP_INDEX, REJECTS, Table
from tests.conftest import INGESTED_AT, fnapi_pipeline
from transforms.rejects import reject
from transforms.write import (
    PUBLISH_JOURNAL,
    STALE_STAGING_SECONDS,
    PublishOutput,
    PublishPlan,
    WriteTable,
    batches_to_table,
    files_below,
    finish_interrupted_publishes,
    partition_path,
    partition_value,
    publish_tables,
    remove_stale_staging,
    rows_to_batch,
    staging_root,
    write_empty_table_file,
)


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("economy", "economy"),
        ("1987-03-02", "1987-03-02"),
        ("../../etc", "etc"),
        ("date=2020-01-01/x", "date-2020-01-01-x"),
        ("", "unknown"),
        ("Science & Tech", "science-tech"),
    ],
)
def test_partition_values_are_one_safe_path_segment(value, slug):
    assert partition_value(value) == slug


def test_partition_path_follows_the_table_keys():
    row = {"date": "2024-05-01", "topic": "../sport"}
    assert partition_path(Table("t", REJECTS.schema, ("date", "topic")), row) == (
        "date=2024-05-01/topic=sport"
    )


def rejects_for(inputs: list[str]) -> list[dict]:
    return [
        reject(input=name, stage="read", reason="empty_file", ingested_at=INGESTED_AT)
        for name in inputs
    ]


def run_write(
    output: Path | str,
    rows: list[dict],
    mode: str,
    run_id: str,
    table: Table = REJECTS,
    updates: list[tuple[str, dict]] | None = None,
) -> None:
    staging = staging_root(str(output), run_id)
    with fnapi_pipeline() as pipeline:
        late = None if updates is None else pipeline | "Updates" >> beam.Create(updates)
        written = (
            pipeline | beam.Create(rows) | WriteTable(table, staging, file_tag=run_id, updates=late)
        )
        _ = written | PublishOutput((table,), str(output), staging, mode, INGESTED_AT, run_id)


def read_inputs(output: Path) -> list[str]:
    query = f"""
        select input, date::varchar
        from read_parquet('{output}/rejects/**/*.parquet', hive_partitioning=true)
        order by input
    """
    return duckdb.sql(query).fetchall()


def test_rows_land_in_hive_partitions_without_the_partition_column(tmp_path):
    run_write(tmp_path, rejects_for(["a", "b"]), "overwrite", "run1")
    files = list((tmp_path / "rejects").rglob("*.parquet"))
    assert [f.parent.name for f in files] == ["date=2026-11-22"]
    assert "date" not in pq.read_schema(files[0]).names
    assert read_inputs(tmp_path) == [("a", "2026-11-22"), ("b", "2026-11-22")]
    # Nothing of Beam's or of the staging is left beside the tables.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_staging", "rejects"]
    assert not any((tmp_path / "_staging").iterdir())


def staged_run(output: Path, run_id: str, age: float = 0.0) -> Path:
    """A staging folder as a killed run leaves it, last touched ``age`` seconds ago."""
    folder = Path(staging_root(str(output), run_id))
    (folder / "_files" / "rejects").mkdir(parents=True)
    (folder / "_files" / "rejects" / "part.parquet").write_bytes(b"PAR1")
    touched = time.time() - age
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (touched, touched))
    return folder


def test_publishing_removes_the_staging_of_dead_runs_only(tmp_path):
    dead = staged_run(tmp_path, "dead", age=STALE_STAGING_SECONDS + 60)
    recent = staged_run(tmp_path, "recent", age=60)  # maybe still running: kept
    run_write(tmp_path, rejects_for(["a"]), "overwrite", "run1")
    assert not dead.exists()
    assert [p.name for p in (tmp_path / "_staging").iterdir()] == [recent.name]
    # The run's own folder is never taken for a dead one's, however old.
    later = time.time() + 2 * STALE_STAGING_SECONDS
    assert remove_stale_staging(str(tmp_path), str(recent), now=later) == []
    assert remove_stale_staging(str(tmp_path), "elsewhere", now=later) == [str(recent)]


def test_a_publish_still_going_is_left_to_its_run_and_a_dead_one_is_finished(tmp_path):
    output = tmp_path / "output"
    staging = output / "_staging" / "run9"
    arranged = staging / "rejects" / "date=2026-11-22" / "part-run9-date=2026-11-22.parquet"
    write_empty_table_file(REJECTS, str(arranged))
    journal = staging / PUBLISH_JOURNAL
    journal.write_bytes(PublishPlan("append", ("rejects",), "run9").to_json())
    with journal.open("rb") as live_publish:
        fcntl.flock(live_publish, fcntl.LOCK_EX)  # as the publishing run holds it
        assert finish_interrupted_publishes(str(output)) == []
        assert arranged.exists()
    # The lock is gone with its holder: the publish is dead, and finished.
    assert finish_interrupted_publishes(str(output)) == [str(staging)]
    assert pq.read_table(output / arranged.relative_to(staging)).num_rows == 0
    assert not staging.exists()


def test_a_retried_publish_finishes_what_its_first_attempt_started(tmp_path):
    output = tmp_path / "output"
    run_write(output, rejects_for(["new"]), "overwrite", "run9")
    (live,) = files_below(str(output / "rejects"))
    # As a first attempt leaves it when it dies after the swap, before removing its staging
    # (Beam then retries the bundle): the staged file is long moved, the journal is still there.
    staging = staging_root(str(output), "run9")
    os.makedirs(staging)
    plan = PublishPlan("overwrite", ("rejects",), "run9")
    Path(staging, PUBLISH_JOURNAL).write_bytes(plan.to_json())
    staged = ("rejects", "date=2026-11-22", f"{staging}/_files/rejects/{os.path.basename(live)}")

    publish_tables((REJECTS,), [staged], str(output), staging, "overwrite", INGESTED_AT, "run9")
    assert files_below(str(output / "rejects")) == [live]
    assert read_inputs(output) == [("new", "2026-11-22")]
    assert not os.path.exists(staging)


def test_overwrite_replaces_the_previous_run(tmp_path):
    run_write(tmp_path, rejects_for(["old"]), "overwrite", "run1")
    run_write(tmp_path, rejects_for(["new"]), "overwrite", "run2")
    assert read_inputs(tmp_path) == [("new", "2026-11-22")]


def test_append_adds_to_the_previous_run(tmp_path):
    run_write(tmp_path, rejects_for(["old"]), "overwrite", "run1")
    run_write(tmp_path, rejects_for(["new"]), "append", "run2")
    assert read_inputs(tmp_path) == [("new", "2026-11-22"), ("old", "2026-11-22")]


def test_an_empty_table_is_still_a_queryable_table(tmp_path):
    run_write(tmp_path, [], "overwrite", "run1")
    assert read_inputs(tmp_path) == []


def test_a_partition_is_the_same_table_however_its_rows_were_batched():
    rows = rejects_for([f"input-{n}" for n in (3, 1, 4, 1, 5, 9, 2, 6)])
    one_batch = batches_to_table(REJECTS, [rows_to_batch(REJECTS, rows)])
    reordered = list(reversed(rows))
    three_batches = batches_to_table(
        REJECTS, [rows_to_batch(REJECTS, part) for part in (reordered[:2], reordered[2:], [])]
    )
    assert one_batch.equals(three_batches)
    assert one_batch.column("input").to_pylist() == sorted(r["input"] for r in rows)
    assert "date" not in one_batch.schema.names  # partition keys live in the path only


def test_rows_beyond_the_pending_budget_still_make_one_file_per_partition(tmp_path, monkeypatch):
    # A small budget: batches leave the bundle early, largest partitions first.
    monkeypatch.setattr("transforms.write._PENDING_ROWS", 10)
    rows = [
        {**row, "date": f"2026-11-{10 + n % 7}"}
        for n, row in enumerate(rejects_for([f"input-{n:03d}" for n in range(200)]))
    ]
    run_write(tmp_path, rows, "overwrite", "run1")
    files = sorted((tmp_path / "rejects").rglob("*.parquet"))
    assert [f.parent.name for f in files] == [f"date=2026-11-{10 + day}" for day in range(7)]
    assert len(read_inputs(tmp_path)) == 200


def test_a_table_written_per_bundle_keeps_every_row_in_row_groups_as_they_come(
    tmp_path, monkeypatch
):
    monkeypatch.setattr("transforms.write._PENDING_ROWS", 10)
    table = dataclasses.replace(REJECTS, files_per_bundle=True)
    rows = rejects_for([f"input-{n:03d}" for n in range(60)])
    run_write(tmp_path, rows, "overwrite", "run1", table)
    files = sorted((tmp_path / "rejects" / "date=2026-11-22").glob("*.parquet"))
    assert files and all(
        re.fullmatch(r"part-run1-date=2026-11-22-[0-9a-f]{16}\.parquet", f.name) for f in files
    )
    assert [name for name, _ in read_inputs(tmp_path)] == [f"input-{n:03d}" for n in range(60)]
    # Written as the rows came: row groups of at most the pending budget, not one sorted table.
    metadata = [pq.ParquetFile(f).metadata for f in files]
    groups = [meta.row_group(g).num_rows for meta in metadata for g in range(meta.num_row_groups)]
    assert sum(groups) == 60 and max(groups) <= 10


def test_the_signature_index_reaches_its_files_without_a_grouping():
    # A grouping would make the runner hold every text and signature of the run at once.
    pipeline = beam.Pipeline()
    _ = pipeline | beam.Create([]) | "Index" >> WriteTable(DEDUP_INDEX, "/staging", "run1")
    transforms = pipeline.to_runner_api().components.transforms.values()
    urns = {t.spec.urn for t in transforms if t.unique_name.startswith("Index/")}
    assert urns and common_urns.primitives.GROUP_BY_KEY.urn not in urns
    with pytest.raises(ValueError, match="no updates"):
        _ = (
            pipeline
            | "Late" >> beam.Create([])
            | "Updates"
            >> WriteTable(
                DEDUP_INDEX, "/staging", "run1", updates=pipeline | "None" >> beam.Create([])
            )
        )


def test_updates_set_late_values_of_the_rows_they_name_as_the_files_are_written(tmp_path):
    rows = rejects_for([f"input-{n}" for n in range(5)])
    updates = [("input-1", {"detail": "one"}), ("input-3", {"detail": "three", "stage": "x"})]
    run_write(tmp_path, rows, "overwrite", "run1", updates=updates)
    written = duckdb.sql(
        f"select input, stage, detail from read_parquet('{tmp_path}/rejects/**/*.parquet') "
        "order by input"
    ).fetchall()
    assert written == [
        ("input-0", "read", None),
        ("input-1", "read", "one"),
        ("input-2", "read", None),
        ("input-3", "x", "three"),
        ("input-4", "read", None),
    ]
