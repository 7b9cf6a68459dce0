"""Atomic, idempotent output: a run killed mid-write leaves the previous tables as they were.

A real ``wirestream run`` process is killed with SIGKILL at points it shows on disk (temporary
Parquet files being written under OUTPUT/_staging/RUN/_writing, finished files under
OUTPUT/_staging/RUN/_files), never after a sleep: the run holds still at the point (HOLD_ENV),
so the kill never races a file that exists for milliseconds. After each kill the previous run's
tables are intact, readable and all the previous run's files; the next run completes normally,
with the runner in multi-process mode, and gives the same rows as the first.

A run killed while publishing (between the two renames that swap a local table, or once some of
its tables are live) leaves a journal: the next run finishes that publish before it reads OUTPUT,
so an append run neither misses a table nor adds the killed run's stories a second time.
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
from transforms.write import HOLD_ENV, PUBLISH_JOURNAL

PINNED = ["--ingested-at", "2026-11-22T12:00:00Z"]
_WORDS = ["market", "bank", "rates", "oil", "prices", "government", "percent", "growth", "trade"]


def write_corpus(folder: Path, feeds: int = 2, items: int = 60, first_feed: int = 0) -> None:
    """Synthetic wire feeds, enough for the run to spend a while in each stage, and a file that
    becomes a reject (so that every table has rows). ``first_feed``: the number of the first
    feed, to add new feeds (new stories) to a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.txt").write_text("")
    rng = random.Random(8 + first_feed)
    for feed in range(first_feed, first_feed + feeds):
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


def run_to_completion(inputs: Path, output: Path, *flags: str) -> str:
    """Runs and returns what the run printed."""
    process = start_run(inputs, output, *flags)
    process.wait(timeout=600)
    printed = (output.parent / "run.log").read_text()
    assert process.returncode == 0, printed
    assert "articles written" in printed
    return printed


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


def run_tags(folder: Path) -> set[str]:
    """The run tags in the names of a table's files."""
    return {
        path.name.split("-date=")[0].removesuffix("-empty.parquet") for path in files_below(folder)
    }


def table_state(output: Path) -> dict[str, tuple[set[str], list[tuple]]]:
    """Per table: the run tags of its files, and all its rows (every column) in a stable order."""
    state = {}
    for table in TABLES:
        for path in files_below(output / table.name):
            pq.read_metadata(path)  # a half-written file has no footer: this raises
        tags = run_tags(output / table.name)
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


def journal_written(output: Path) -> Callable[[], bool]:
    """True once a run started from now on has written its publish journal: its tables are
    arranged and going live."""
    earlier = set((output / "_staging").glob("*/"))
    return lambda: any(
        (run / PUBLISH_JOURNAL).exists() for run in set((output / "_staging").glob("*/")) - earlier
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


def rows_of(state: dict[str, tuple[set[str], list[tuple]]]) -> dict[str, list[tuple]]:
    return {name: rows for name, (_, rows) in state.items()}


def test_a_run_killed_while_swapping_a_table_is_finished_by_the_next_run(tmp_path):
    inputs, output = tmp_path / "inputs", tmp_path / "output"
    write_corpus(inputs)
    run_to_completion(inputs, output)
    previous = table_state(output)

    # Killed between the two renames of a local swap: the articles table is out of the way, the
    # new one not yet in.
    journal = journal_written(output)
    kill_when(
        start_run(inputs, output, hold_at="swapping"),
        lambda: journal() and not (output / "articles").exists(),
    )
    assert not (output / "articles").exists()

    # The next run (an append run: it reads the signature index) first finishes that swap, then
    # finds every story already there.
    printed = run_to_completion(inputs, output, "--mode", "append")
    after, before = rows_of(table_state(output)), rows_of(previous)
    assert after["articles"] == before["articles"] and after["claims"] == before["claims"]
    # Each run rejects the empty file again: the finished run's row and the append run's.
    assert after["rejects"] == sorted(before["rejects"] * 2, key=repr)
    assert all(
        tags.isdisjoint(previous[name][0]) for name, (tags, _) in table_state(output).items()
    )
    assert not list((output / "_staging").glob("*/"))
    assert "finished the publish left half done" in printed


def test_an_append_run_killed_while_publishing_is_finished_by_the_next_run(tmp_path):
    inputs, output = tmp_path / "inputs", tmp_path / "output"
    write_corpus(inputs)
    run_to_completion(inputs, output, "--mode", "append")
    write_corpus(inputs, feeds=1, first_feed=2)  # 60 new stories

    # Killed once its articles are live, before its signature index rows are.
    journal = journal_written(output)
    kill_when(
        start_run(inputs, output, "--mode", "append", hold_at="published"),
        lambda: journal() and len(run_tags(output / "articles")) == 2,
    )

    # Without finishing that publish, the next run would not know those 60 stories and would
    # add them a second time.
    printed = run_to_completion(inputs, output, "--mode", "append")
    articles = f"read_parquet('{output}/articles/**/*.parquet', hive_partitioning=true)"
    index = f"read_parquet('{output}/_dedup_index/**/*.parquet')"
    rows, distinct = duckdb.sql(
        f"select count(*), count(distinct article_id) from {articles}"
    ).fetchall()[0]
    (indexed,) = duckdb.sql(f"select count(*) from {index}").fetchall()[0]
    assert rows == distinct == indexed == 180
    assert not list((output / "_staging").glob("*/"))
    assert "finished the publish left half done" in printed
