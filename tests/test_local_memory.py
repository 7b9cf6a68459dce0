"""Local runs start their SDK worker processes with the memory settings; the user's own win."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pipeline.local_memory import LOCAL_RUN_ENVIRONMENT
from tests.conftest import PROJECT

# Runs in a fresh interpreter: applies the settings, then starts a process as the FnApiRunner
# starts its workers and prints the environment that process sees.
_CHILD = """
import json, subprocess, sys
from pipeline.local_memory import limit_local_memory
limit_local_memory()
seen = subprocess.run(
    [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
    capture_output=True, text=True, check=True,
).stdout
print(seen)
"""


def worker_environment(**user_settings: str) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if name not in LOCAL_RUN_ENVIRONMENT
    }
    finished = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env={**environment, **user_settings},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(finished.stdout)


def test_worker_processes_inherit_the_memory_settings():
    seen = worker_environment()
    assert {name: seen.get(name) for name in LOCAL_RUN_ENVIRONMENT} == LOCAL_RUN_ENVIRONMENT


def test_settings_the_user_made_are_kept():
    seen = worker_environment(MALLOC_ARENA_MAX="4", ARROW_DEFAULT_MEMORY_POOL="jemalloc")
    assert seen["MALLOC_ARENA_MAX"] == "4"
    assert seen["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"
    assert seen["MALLOC_MMAP_THRESHOLD_"] == LOCAL_RUN_ENVIRONMENT["MALLOC_MMAP_THRESHOLD_"]
