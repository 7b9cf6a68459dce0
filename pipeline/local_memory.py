"""Memory settings for local runs on the FnApiRunner.

The FnApiRunner hands each stage's input to its SDK workers as large buffers, and the workers run
bundles on pools of threads. With glibc's defaults every thread gets its own malloc arena and large
freed buffers stay in them, and Arrow's jemalloc pool keeps freed pages too: the processes keep
their peak sizes long after the data is gone. Limiting the arenas, returning large buffers to the
OS when they are freed and using the system allocator for Arrow lowered the peak memory of the
Reuters benchmark (benchmarks/pipeline/README.md) without costing time.

Environment variables set by the user win; the SDK worker processes inherit the environment, and
this (already running) launcher gets the same malloc settings through ``mallopt``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_ARENA_MAX = 2
# Buffers from this size up are mmapped and go back to the OS when freed; fixing the threshold
# stops glibc from raising it (up to 32 MB) after the first large free.
_MMAP_THRESHOLD = 128 * 1024

LOCAL_RUN_ENVIRONMENT = {
    "MALLOC_ARENA_MAX": str(_ARENA_MAX),
    "MALLOC_MMAP_THRESHOLD_": str(_MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": str(_MMAP_THRESHOLD),
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}
# The same malloc settings as mallopt(3) parameters (glibc malloc.h), for this running process.
_MALLOPT = {
    "MALLOC_ARENA_MAX": (-8, _ARENA_MAX),
    "MALLOC_MMAP_THRESHOLD_": (-3, _MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": (-1, _MMAP_THRESHOLD),
}


def limit_local_memory() -> None:
    """Apply the settings above to the worker processes this process starts, and to itself."""
    unset = [name for name in LOCAL_RUN_ENVIRONMENT if name not in os.environ]
    for name in unset:
        os.environ[name] = LOCAL_RUN_ENVIRONMENT[name]
    library = ctypes.util.find_library("c")
    libc = ctypes.CDLL(library) if library else None
    if libc is None or not hasattr(libc, "mallopt"):  # not glibc (musl, macOS): nothing to tune
        return
    # What the user set was read by this process when it started.
    for name in unset:
        if name in _MALLOPT:
            libc.mallopt(*_MALLOPT[name])
