"""Output table definitions (pyarrow), versioned."""

from schemas.tables import (
    ARTICLES,
    CLAIMS,
    DEDUP_INDEX,
    FALLBACK_TOPIC,
    REJECTS,
    SCHEMA_VERSION,
    TABLES,
    TOPICS,
    Table,
)

__all__ = [
    "ARTICLES",
    "CLAIMS",
    "DEDUP_INDEX",
    "FALLBACK_TOPIC",
    "REJECTS",
    "SCHEMA_VERSION",
    "TABLES",
    "TOPICS",
    "Table",
]
