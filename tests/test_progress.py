"""Progress lines: counting steps in the graph, a reporter thread in the launcher."""

from __future__ import annotations

import io
import json
import re
import time
from collections import Counter
from pathlib import Path

import apache_beam as beam

from pipeline.cli import main
from pipeline.progress import ProgressReporter, count_progress, read_counts, render
from tests.conftest import SEEDS, fnapi_pipeline


def test_counting_steps_add_up_per_kind(tmp_path):
    with fnapi_pipeline() as pipeline:
        evens = pipeline | "Evens" >> beam.Create(range(0, 500, 2))
        odds = pipeline | "Odds" >> beam.Create(range(1, 15, 2))
        count_progress(str(tmp_path), 0.0, {"items": [evens, odds], "rejects": [odds]})
    assert read_counts(str(tmp_path)) == Counter(items=257, rejects=7)


def wait_for(printed: io.StringIO, text: str) -> None:
    deadline = time.monotonic() + 30
    while text not in printed.getvalue():
        assert time.monotonic() < deadline, printed.getvalue()
        time.sleep(0.01)  # polling interval: the printed line decides


def test_the_reporter_prints_when_the_counts_change_and_once_more_at_the_end(tmp_path):
    report = tmp_path / "items-worker1.json"
    printed = io.StringIO()
    with ProgressReporter(str(tmp_path), 0.05, printed):
        report.write_text(json.dumps({"kind": "items", "count": 1200}))
        wait_for(printed, "1,200 items read, 0 articles, 0 rejects so far")
        (tmp_path / "input_rejects-worker2.json").write_text(
            json.dumps({"kind": "input_rejects", "count": 3})
        )
        (tmp_path / "rejects-worker2.json").write_text(json.dumps({"kind": "rejects", "count": 3}))
        wait_for(printed, "1,203 items read, 0 articles, 3 rejects so far")
        lines = printed.getvalue().count("\n")
        (tmp_path / "articles-worker1.json").write_text(
            json.dumps({"kind": "articles", "count": 9})
        )
    # The last line, at the end of the run, has the final counts; unchanged counts print nothing.
    assert printed.getvalue().count("\n") == lines + 1
    assert (
        printed.getvalue()
        .splitlines()[-1]
        .startswith("wirestream: 1,203 items read, 9 articles, 3 rejects so far")
    )


def test_no_reporter_thread_when_progress_is_off(tmp_path):
    (tmp_path / "items-x.json").write_text(json.dumps({"kind": "items", "count": 4}))
    printed = io.StringIO()
    with ProgressReporter(str(tmp_path), 0, printed):
        pass
    assert printed.getvalue() == ""
    assert render(read_counts(str(tmp_path)), 2.4) == (
        "wirestream: 4 items read, 0 articles, 0 rejects so far (2 s)"
    )


def test_a_run_ends_with_a_progress_line_that_agrees_with_the_summary(tmp_path, capsys):
    output = tmp_path / "output"
    inputs = [SEEDS / "000_247d25b6eb832498.txt", Path(__file__).parent / "fixtures/bad/empty.txt"]
    flags = [arg for path in inputs for arg in ("--input", str(path))]
    assert main(["run", *flags, "--output", str(output), "--progress-interval", "0.2"]) == 0
    captured = capsys.readouterr()
    last = [line for line in captured.err.splitlines() if "so far" in line][-1]
    assert re.match(r"wirestream: 2 items read, 1 articles, 1 rejects so far \(\d+ s\)$", last)
    for label, count in (("items read", 2), ("articles written", 1), ("rejects", 1)):
        assert re.search(rf"^\s+{label}\s+{count}$", captured.out, re.M), captured.out
    # Beam's counters, per stage, are in the summary too.
    assert re.search(r"^\s+read\.items\s+1$", captured.out, re.M)
