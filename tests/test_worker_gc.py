"""Worker processes run fewer full garbage collections and skip the final ones at exit
(transforms/worker_gc.py)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from transforms.normalize import NormalizeFn
from transforms.worker_gc import FULL_COLLECTION_THRESHOLD

# An object in a reference cycle is freed only by a garbage collection: at exit, by the
# interpreter's final ones. Automatic collections are off so that only those can free it.
PROGRAM = """
import gc
gc.disable()
gc.set_threshold(500, 7, 10)

class Cycle:
    def __del__(self):
        print("collected", flush=True)

cycle = Cycle()
cycle.itself = cycle
del cycle
{setup}
print("thresholds", *gc.get_threshold(), flush=True)
print("exiting", flush=True)
"""
TUNE = "from transforms.worker_gc import tune_worker_collector\n" + (
    "tune_worker_collector()\n" * 2
)
# The young generations keep the process's thresholds; full collections come less often.
TUNED = f"thresholds 500 7 {FULL_COLLECTION_THRESHOLD}\nexiting\n"
DEFAULT = "thresholds 500 7 10\nexiting\ncollected\n"


def exit_output(setup: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(setup=setup)],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return completed.stdout


@pytest.mark.parametrize(("setup", "expected"), [("", DEFAULT), (TUNE, TUNED)])
def test_a_tuned_process_collects_less_often_and_not_at_exit(setup: str, expected: str) -> None:
    assert exit_output(setup) == expected


def test_every_worker_is_tuned() -> None:
    """The normalize DoFn, which every worker of every graph sets up, tunes a worker: a process
    other than the one that built it."""
    built_here = pickle.dumps(NormalizeFn(datetime(2026, 1, 1, tzinfo=timezone.utc)))
    setup = f"import pickle\npickle.loads({built_here!r}).setup()\n"
    assert exit_output(setup) == TUNED


def test_the_process_that_built_the_graph_keeps_its_settings() -> None:
    """In-process runners set the DoFn up where it was built: that process is left as it was."""
    setup = (
        "from datetime import datetime\n"
        "from transforms.normalize import NormalizeFn\n"
        "NormalizeFn(datetime(2026, 1, 1)).setup()\n"
    )
    assert exit_output(setup) == DEFAULT
