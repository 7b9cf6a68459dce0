"""The garbage collector's settings for worker processes: fewer full collections, none at exit.

**Fewer full collections.** Python runs a full collection (the oldest generation, with every
object alive) after every 10 collections of the middle generation, once the objects promoted since
the last one reach a quarter of the oldest generation. A worker's bundles churn through objects that
outlive the young generations (rows waiting for a writer, cache entries), so it met that rule ~14
times per Reuters run, each full collection walking the whole heap (models, caches, Beam's own
objects) for 0.1-0.2 s and finding almost nothing: ~1.5 s of CPU per worker. After every 100
middle-generation collections instead, a worker runs 6 (4 of them before this is set), ~0.5 s;
the run's memory peaks did not change. Cyclic garbage still goes at the next full collection.

**None at exit.** At exit the interpreter runs full collections over every object still alive. A
local SDK worker ends a Reuters run holding ~0.6 GB of objects (cached DoFns and their models,
Beam's bundle processors), and those collections took it ~1 s of CPU; the FnApiRunner stops its
workers one after the other, so a two-worker run ended ~1.5 s later than its last stage. Freezing
the heap as the process exits (``gc.freeze``: the collector ignores every object alive then) skips
them. Nothing a run writes depends on them: every file is closed when its bundle finishes.

Only worker processes take these settings (see ``NormalizeFn.setup``); the process that built the
graph, which may be a test session or any program running wirestream in-process, keeps its own.
"""

from __future__ import annotations

import atexit
import gc

# Middle-generation collections between full collections (Python's default: 10).
FULL_COLLECTION_THRESHOLD = 100


def tune_worker_collector() -> None:
    """Give this worker process fewer full collections and none at exit (idempotent)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
    atexit.unregister(gc.freeze)  # registered once however often a DoFn is set up
    atexit.register(gc.freeze)
