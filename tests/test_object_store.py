"""Writing and publishing to object stores, as on Dataflow (GCS) or for Athena (S3), each a real
server on 127.0.0.1 reached through Beam's own filesystem: gcp-storage-emulator (GCS JSON API)
and moto's server (S3 API).

Object stores have no folders: ``exists`` is false for a prefix, so publishing lists prefixes.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import duckdb
import pytest
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.cli import main
from tests.conftest import SEEDS
from tests.test_write import rejects_for, run_write
from transforms.write import (
    PUBLISH_JOURNAL,
    STALE_STAGING_SECONDS,
    PublishPlan,
    finish_interrupted_publishes,
    remove_stale_staging,
)

BUCKET = "wirestream-test"


@dataclass(frozen=True)
class Store:
    root: str  # the bucket, e.g. gs://wirestream-test
    env: dict[str, str]  # how the tests' own pipelines reach the server
    flags: tuple[str, ...]  # how a user reaches it instead, if Beam has options for it


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, deadline: float = 30.0) -> None:
    """Until the server accepts connections."""
    give_up = time.monotonic() + deadline
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError("the storage server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # polling a condition with a deadline, not a fixed wait
    raise TimeoutError("the storage server did not start")


def _s3_store(port: int) -> Store:
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"key": "test", "secret": "test", "region": "us-east-1"}
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=keys["key"],
        aws_secret_access_key=keys["secret"],
        region_name=keys["region"],
    ).create_bucket(Bucket=BUCKET)
    return Store(
        f"s3://{BUCKET}",
        {
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_ACCESS_KEY_ID": keys["key"],
            "AWS_SECRET_ACCESS_KEY": keys["secret"],
            "AWS_DEFAULT_REGION": keys["region"],
        },
        ("--s3_endpoint_url", endpoint, "--s3_access_key_id", keys["key"],
         "--s3_secret_access_key", keys["secret"], "--s3_region_name", keys["region"]),
    )  # fmt: skip


@pytest.fixture(scope="module", params=["gs", "s3"])
def store(request) -> Iterator[Store]:
    port = _free_port()
    if request.param == "gs":
        command = [sys.executable, "-m", "gcp_storage_emulator", "start", "--port", str(port),
                   "--in-memory", "--default-bucket", BUCKET]  # fmt: skip
    else:
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as server:
        try:
            _wait_for_port(port, server)
            if request.param == "gs":
                found = Store(
                    f"gs://{BUCKET}", {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}"}, ()
                )
            else:
                found = _s3_store(port)
            with pytest.MonkeyPatch.context() as env:
                for name, value in found.env.items():
                    env.setenv(name, value)
                # The tests' own FileSystems calls, before any pipeline has set options.
                FileSystems.set_options(PipelineOptions([]))
                yield found
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


def test_overwrite_and_append_publish_on_an_object_store(store, tmp_path):
    output = f"{store.root}/{tmp_path.name}"
    run_write(output, rejects_for(["old"]), "overwrite", "run1")
    assert _inputs(output, tmp_path / "1") == [("old", "2026-11-22")]
    run_write(output, rejects_for(["new"]), "overwrite", "run2")
    assert _inputs(output, tmp_path / "2") == [("new", "2026-11-22")]
    run_write(output, rejects_for(["more"]), "append", "run3")
    assert _inputs(output, tmp_path / "3") == [("more", "2026-11-22"), ("new", "2026-11-22")]
    assert _staged(output) == []


def test_an_overwrite_cut_short_on_an_object_store_is_finished_by_the_next_run(store, tmp_path):
    output, elsewhere = f"{store.root}/{tmp_path.name}", f"{store.root}/{tmp_path.name}-new"
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


def test_dead_runs_staging_is_removed_from_an_object_store(store, tmp_path):
    output = f"{store.root}/{tmp_path.name}"
    for run in ("dead", "live"):
        with FileSystems.create(f"{output}/_staging/{run}/_files/rejects/part.parquet") as f:
            f.write(b"PAR1")
    later = time.time() + STALE_STAGING_SECONDS + 60
    assert remove_stale_staging(output, f"{output}/_staging/live", now=later) == [
        f"{output}/_staging/dead"
    ]
    assert _staged(output) == [f"{output}/_staging/live/_files/rejects/part.parquet"]


def test_a_run_from_and_to_an_object_store_prints_the_summary_of_what_it_published(
    store, tmp_path, capsys, monkeypatch
):
    inputs, output = f"{store.root}/{tmp_path.name}-seeds", f"{store.root}/{tmp_path.name}"
    for seed in sorted(SEEDS.iterdir()):
        with FileSystems.create(f"{inputs}/{seed.name}") as copy:
            copy.write(seed.read_bytes())
    workers = []
    if store.flags:  # reached with the run's own options, as a user would, not the environment
        for name in store.env:
            monkeypatch.delenv(name)
        # Worker processes too: those options are all they have to reach the store. (The GCS
        # emulator is found through the environment, which worker processes inherit.)
        workers = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    flags = ["--input", f"{inputs}/*", "--output", output, "--ingested-at", "2026-11-22T12:00:00Z",
             *workers, *store.flags]  # fmt: skip
    assert main(["run", *flags]) == 0
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
