"""Rows in batches, for the steps that work through a batch at a time.

Vectorised steps (MinHash signing, claim blocking) need whole batches. The language and topic
steps take them too, and classify a whole batch before handing any of it on: one article at a
time, each step's tables (py3langid's automaton and scores, the topic lexicon and model) were
evicted from the CPU caches by the fused steps in between before its next article. A batch at a
time cut the two steps' time by a fifth in the pipeline, by a quarter to a third on one core
(benchmarks/pipeline/README.md).
"""

from __future__ import annotations

import apache_beam as beam


def in_batches() -> beam.BatchElements:
    """Rows batched per bundle, 32 to 512 at a time (BatchElements sizes them by their timing)."""
    return beam.BatchElements(min_batch_size=32, max_batch_size=512)
