"""Reject rows: every input item that does not become an article ends here, with a reason."""

from __future__ import annotations

from datetime import datetime

from schemas import SCHEMA_VERSION

# The tagged output name every stage uses for its rejects.
REJECTED = "rejected"

_MAX_DETAIL_CHARS = 500


def reject(
    *,
    input: str,
    stage: str,
    reason: str,
    ingested_at: datetime,
    item: str | None = None,
    detail: str | None = None,
) -> dict:
    """A row of the rejects table (partitioned by the ingest date)."""
    return {
        "input": input,
        "item": item,
        "stage": stage,
        "reason": reason,
        "detail": detail[:_MAX_DETAIL_CHARS] if detail else None,
        "ingested_at": ingested_at,
        "schema_version": SCHEMA_VERSION,
        "date": ingested_at.date().isoformat(),
    }
