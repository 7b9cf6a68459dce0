"""Atomic, idempotent output: a run killed mid-write leaves the previous tables as they were.

A real ``wirestream run`` process is killed with SIGKILL at points it shows on disk (temporary
Parquet files being written under OUTPUT/_staging/RUN/_writing, finished files under
OUTPUT/_staging/RUN/_files), never after a sleep: the run holds still at the point (HOLD_ENV),
so the kill never races a file that exists for milliseconds. After each kill the previous run's
tables are intact, readable and all the previous run's files; the next run completes normally,
with the runner in multi-process mode, and gives the same rows as the first.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from schemas import TABLES
from tests.conftest import PROJECT
from transforms.write import HOLD_ENV

PINNED = ["--ingested-at", "2026-11-22T12:00:00Z"]
_WORDS = ["market", "bank", "rates", "oil", "prices", "government", "percent", "growth", "trade"]


def write_corpus(folder: Path, feeds: int = 2, items: int = 60) -> None:
    """Synthetic wire feeds, enough for the run to spend a while in each stage, and a file that
    becomes a reject (so that every table has rows)."""
    folder.mkdir(parents=True)
    (folder / "empty.txt").write_text("")
    rng = random.Random(8)
    for feed in range(feeds):
        entries = "".join(
            f"<item><guid>http://example.com/{feed}/{n}</guid><title>Story {feed}-{n}</title>"
            f"<description>The minister said {' '.join(rng.choices(_WORDS, k=60))}."
            "</description><pubDate>Tue, 03 Mar 1987 10:00:00 GMT</pubDate></item>"
            for n in range(items)
        )
        (folder / f"wire-{feed}.xml").write_text(
            f'<rss version="2.0"><channel><title>Wire {feed}</title>{entries}</channel></rss>'
        )


def start_run(
    inputs: Path, output: Path, *flags: str, hold_at: str | None = None
) -> subprocess.Popen:
    """``wirestream run`` in its own process; its output goes to files beside OUTPUT (a full
    pipe would stall it). ``hold_at``: the write point where it holds still, to be killed."""
    command = [sys.executable, "-m", "pipeline.cli", "run", "--input", str(inputs)]
    environment = {**os.environ, **({HOLD_ENV: hold_at} if hold_at else {})}
    with (output.parent / "run.log").open("w") as sink:
        return subprocess.Popen(
            [*command, "--output", str(output), *PINNED, *flags],
            cwd=PROJECT,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def run_to_completion(inputs: Path, output: Path, *flags: str) -> None:
    process = start_run(inputs, output, *flags)
    process.wait(timeout=600)
    printed = (output.parent / "run.log").read_text()
    assert process.returncode == 0, printed
    assert "articles written" in printed


def kill_when(process: subprocess.Popen, reached: Callable[[], bool]) -> None:
    """SIGKILL the run as soon as it shows on disk that it reached a point."""
    deadline = time.monotonic() + 600
    while not reached():
        assert process.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "the run never reached the kill point"
        time.sleep(0.005)  # polling interval, not synchronisation: the condition decides
    process.kill()
    process.wait()


def files_below(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def table_state(output: Path) -> dict[str, tuple[set[str], list[tuple]]]:
    """Per table: the run tags of its files, and all its rows (every column) in a stable order."""
    state = {}
    for table in TABLES:
        files = files_below(output / table.name)
        for path in files:
            pq.read_metadata(path)  # a half-written file has no footer: this raises
        tags = {path.name.split("-date=")[0].removesuffix("-empty.parquet") for path in files}
        rows = duckdb.sql(
            f"select * from read_parquet('{output}/{table.name}/**/*.parquet', "
            "hive_partitioning=true)"
        ).fetchall()
        state[table.name] = (tags, sorted(rows, key=repr))
    return state


def staged(output: Path, below: str) -> Callable[[], bool]:
    """True once a run started from now on holds a file below ``below`` (e.g. "_writing") in its
    staging: earlier runs' staging folders do not count."""
    earlier = set((output / "_staging").glob("*/"))
    return lambda: any(
        files_below(run / below) for run in set((output / "_staging").glob("*/")) - earlier
    )


def test_a_killed_run_leaves_the_previous_tables_and_the_next_run_completes(tmp_path):
    inputs, output = tmp_path / "inputs", tmp_path / "output"
    write_corpus(inputs)
    run_to_completion(inputs, output)
    previous = table_state(output)
    (previous_tags,) = {frozenset(tags) for tags, _ in previous.values()}
    assert len(previous_tags) == 1 and all(rows for _, rows in previous.values())

    # Mid-write; written but not yet published.
    for point, folder in (("writing", "_writing"), ("written", "_files")):
        reached = staged(output, folder)  # before the run starts: its folder is new
        kill_when(start_run(inputs, output, hold_at=point), reached)
        assert table_state(output) == previous, f"killed at {point}"
    # What the killed runs staged stays in their own folders, out of the readers' way.
    assert len(list((output / "_staging").glob("*/"))) == 2

    run_to_completion(
        inputs, output, "--direct_running_mode=multi_processing", "--direct_num_workers=2"
    )
    after = table_state(output)
    for name, (tags, rows) in after.items():
        assert tags and tags.isdisjoint(previous_tags), name  # the new run's files only
        assert rows == previous[name][1], name  # the same rows, whatever the runner mode
