"""Worker processes skip the final garbage collections at exit (transforms/process_exit.py)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from transforms.normalize import NormalizeFn

# An object in a reference cycle is freed only by a garbage collection: at exit, by the
# interpreter's final ones. Automatic collections are off so that only those can free it.
PROGRAM = """
import gc
gc.disable()

class Cycle:
    def __del__(self):
        print("collected", flush=True)

cycle = Cycle()
cycle.itself = cycle
del cycle
{setup}
print("exiting", flush=True)
"""
SKIP = "from transforms.process_exit import skip_final_collections\n" + (
    "skip_final_collections()\n" * 2
)


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


@pytest.mark.parametrize(("setup", "expected"), [("", "exiting\ncollected\n"), (SKIP, "exiting\n")])
def test_the_final_collections_are_skipped_once_asked(setup: str, expected: str) -> None:
    assert exit_output(setup) == expected


def test_every_worker_asks_for_it() -> None:
    """The normalize DoFn, which every worker of every graph sets up, asks for it in a worker: a
    process other than the one that built it."""
    built_here = pickle.dumps(NormalizeFn(datetime(2026, 1, 1, tzinfo=timezone.utc)))
    setup = f"import pickle\npickle.loads({built_here!r}).setup()\n"
    assert exit_output(setup) == "exiting\n"


def test_the_process_that_built_the_graph_keeps_its_collections() -> None:
    """In-process runners set the DoFn up where it was built: that process exits as usual."""
    setup = (
        "from datetime import datetime\n"
        "from transforms.normalize import NormalizeFn\n"
        "NormalizeFn(datetime(2026, 1, 1)).setup()\n"
    )
    assert exit_output(setup) == "exiting\ncollected\n"
