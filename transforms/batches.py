"""Rows in batches, for the steps that work through a batch at a time.

Vectorised steps (MinHash signing, claim blocking) need whole batches. The language, topic and
claim steps take them too, and finish a whole batch before handing any of it on: one article at a
time, the fused steps in between evicted each step's tables (py3langid's automaton and scores, the
topic lexicon and model, the claim rules' lexicons and caches) from the CPU caches before its
next article. A batch at a time cut the language and topic steps' time by an eighth to a fifth in
the pipeline, by a quarter to a third on one core; claims, a few percent of the run
(benchmarks/pipeline/README.md).
"""

from __future__ import annotations

import apache_beam as beam


def in_batches() -> beam.BatchElements:
    """Rows batched per bundle, 32 to 512 at a time (BatchElements sizes them by their timing)."""
    return beam.BatchElements(min_batch_size=32, max_batch_size=512)
