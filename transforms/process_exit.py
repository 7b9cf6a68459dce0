"""Worker processes leave their objects to the OS when they exit.

At exit the interpreter runs full garbage collections over every object still alive. A local SDK
worker ends a Reuters run holding ~0.6 GB of objects (cached DoFns and their models, Beam's
bundle processors), and those collections took it ~1 s of CPU; the FnApiRunner stops its workers
one after the other, so a two-worker run ended ~1.5 s later than its last stage. Freezing the
heap as the process exits (``gc.freeze``: the collector ignores every object alive then) skips
them. Nothing a run writes depends on them: every file is closed when its bundle finishes.
Only worker processes ask for it (see ``NormalizeFn.setup``); the process that built the graph,
which may be a test session or any program running wirestream in-process, exits as usual.
"""

from __future__ import annotations

import atexit
import gc


def skip_final_collections() -> None:
    """Make this process skip the interpreter's garbage collections at exit (idempotent)."""
    atexit.unregister(gc.freeze)  # registered once however often a DoFn is set up
    atexit.register(gc.freeze)
