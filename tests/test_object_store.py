"""Writing and publishing to an object store (GCS, as on Dataflow): gcp-storage-emulator, a real
GCS JSON API server on 127.0.0.1, reached through Beam's own GCS filesystem.

Object stores have no folders: ``exists`` is false for a prefix, so publishing lists prefixes.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from apache_beam.io.filesystems import FileSystems

from pipeline.cli import main
from tests.test_write import rejects_for, run_write
from transforms.write import (
    PUBLISH_JOURNAL,
    STALE_STAGING_SECONDS,
    PublishPlan,
    finish_interrupted_publishes,
    remove_stale_staging,
)

BUCKET = "wirestream-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, deadline: float = 30.0) -> None:
    """Until the server accepts connections (it binds once its bucket exists)."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError("the storage emulator exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # polling a condition with a deadline, not a fixed wait
    raise TimeoutError("the storage emulator did not start")


@pytest.fixture(scope="module")
def gcs() -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--port", str(port),
               "--in-memory", "--default-bucket", BUCKET]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            _wait_for_port(port, server)
            with pytest.MonkeyPatch.context() as env:
                env.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
                yield f"gs://{BUCKET}"
        finally:
            server.terminate()


def _copied(output: str, table: str, folder: Path) -> str:
    """A table's files copied out of the store; returns DuckDB's scan of the copy."""
    files = [m.path for m in FileSystems.match([f"{output}/{table}/**"])[0].metadata_list]
    for path in files:
        local = folder / path[len(output) + 1 :]
        local.parent.mkdir(parents=True, exist_ok=True)
        with FileSystems.open(path) as remote:
            local.write_bytes(remote.read())
    return f"read_parquet('{folder}/{table}/**/*.parquet', hive_partitioning=true)"


def _inputs(output: str, folder: Path) -> list[tuple[str, str]]:
    """The rejects table's (input, date) rows, read with DuckDB."""
    scan = _copied(output, "rejects", folder)
    return duckdb.sql(f"select input, date::varchar from {scan} order by input").fetchall()


def _staged(output: str) -> list[str]:
    return [m.path for m in FileSystems.match([f"{output}/_staging/**"])[0].metadata_list]


def test_overwrite_and_append_publish_on_an_object_store(gcs, tmp_path):
    output = f"{gcs}/{tmp_path.name}"
    run_write(output, rejects_for(["old"]), "overwrite", "run1")
    assert _inputs(output, tmp_path / "1") == [("old", "2026-11-22")]
    run_write(output, rejects_for(["new"]), "overwrite", "run2")
    assert _inputs(output, tmp_path / "2") == [("new", "2026-11-22")]
    run_write(output, rejects_for(["more"]), "append", "run3")
    assert _inputs(output, tmp_path / "3") == [("more", "2026-11-22"), ("new", "2026-11-22")]
    assert _staged(output) == []


def test_an_overwrite_cut_short_on_an_object_store_is_finished_by_the_next_run(gcs, tmp_path):
    output, elsewhere = f"{gcs}/{tmp_path.name}", f"{gcs}/{tmp_path.name}-new"
    run_write(output, rejects_for(["old"]), "overwrite", "run1")
    run_write(elsewhere, rejects_for(["new"]), "overwrite", "run2")
    # run2's publish to OUTPUT, cut short after its one file went live (a rename on an object
    # store is a copy, then a delete) and before the old file was removed: both are live.
    (new_file,) = [m.path for m in FileSystems.match([f"{elsewhere}/rejects/**"])[0].metadata_list]
    live = f"{output}/rejects{new_file[len(elsewhere) + len('/rejects') :]}"
    FileSystems.copy([new_file], [live])
    with FileSystems.create(f"{output}/_staging/run2/{PUBLISH_JOURNAL}") as journal:
        journal.write(PublishPlan("overwrite", ("rejects",), "run2").to_json())
    assert len(_inputs(output, tmp_path / "half")) == 2

    assert finish_interrupted_publishes(output) == [f"{output}/_staging/run2"]
    # The old file is gone and run2's stays (removing the whole table first would lose it).
    assert _inputs(output, tmp_path / "done") == [("new", "2026-11-22")]
    assert _staged(output) == []


def test_dead_runs_staging_is_removed_from_an_object_store(gcs, tmp_path):
    output = f"{gcs}/{tmp_path.name}"
    for run in ("dead", "live"):
        with FileSystems.create(f"{output}/_staging/{run}/_files/rejects/part.parquet") as f:
            f.write(b"PAR1")
    later = time.time() + STALE_STAGING_SECONDS + 60
    assert remove_stale_staging(output, f"{output}/_staging/live", now=later) == [
        f"{output}/_staging/dead"
    ]
    assert _staged(output) == [f"{output}/_staging/live/_files/rejects/part.parquet"]


def test_a_run_to_an_object_store_prints_the_summary_of_what_it_published(gcs, tmp_path, capsys):
    output = f"{gcs}/{tmp_path.name}"
    assert main(["run", "--output", output, "--ingested-at", "2026-11-22T12:00:00Z"]) == 0
    printed = capsys.readouterr().out
    (articles,), (claims,) = (
        duckdb.sql(f"select count(*) from {_copied(output, table, tmp_path)}").fetchall()[0]
        for table in ("articles", "claims")
    )
    assert articles == 5  # the five seed articles
    assert "articles written         5" in printed
    assert claims > 0
    assert f"claims            {claims:>8,}" in printed
    assert "rejects                  0" in printed
    assert _staged(output) == []
