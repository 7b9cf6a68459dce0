"""Every output table, defined once.

A row flows through the pipeline as a plain ``dict`` keyed by the column names below, plus the
table's partition keys (``date``, ``topic``). The partition keys live in the Hive path only
(``articles/date=1987-03-02/topic=economy/...``), so the sink drops them from the row before
writing; DuckDB, BigQuery, Athena and Trino read them back from the path.

Bump ``SCHEMA_VERSION`` whenever a column is added, removed or changes meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

SCHEMA_VERSION = 1

_UTC_MICROS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Table:
    """An output table: its folder name under OUTPUT, its Parquet schema, its partition keys, the
    columns its files are sorted by (so that the same rows make the same file), and whether each
    bundle of rows writes its own files instead (``files_per_bundle``: no runner then gathers the
    rows on their way to a writer, and the files are neither one per partition nor sorted)."""

    name: str
    schema: pa.Schema
    partition_keys: tuple[str, ...]
    sort_keys: tuple[str, ...] = ()
    files_per_bundle: bool = False

    @property
    def columns(self) -> list[str]:
        return self.schema.names


ARTICLES = Table(
    name="articles",
    schema=pa.schema(
        [
            pa.field("article_id", pa.string(), nullable=False),
            pa.field("input", pa.string(), nullable=False),
            pa.field("url", pa.string()),
            pa.field("source", pa.string()),
            pa.field("title", pa.string()),
            pa.field("authors", pa.list_(pa.string())),
            pa.field("text", pa.string(), nullable=False),
            pa.field("language", pa.string()),
            pa.field("word_count", pa.int32(), nullable=False),
            pa.field("published_at", _UTC_MICROS),
            pa.field("ingested_at", _UTC_MICROS, nullable=False),
            # "published" when the date partition comes from published_at, else "ingested".
            pa.field("date_source", pa.string(), nullable=False),
            pa.field("categories", pa.list_(pa.string())),
            pa.field("content_hash", pa.string(), nullable=False),
            pa.field("cluster_id", pa.string(), nullable=False),
            pa.field("is_duplicate", pa.bool_(), nullable=False),
            pa.field("duplicate_of", pa.string()),
            pa.field("similarity", pa.float64()),
            # Why the article got its topic: the three best slugs with their scores.
            pa.field(
                "topic_scores",
                pa.list_(pa.struct([("topic", pa.string()), ("score", pa.float64())])),
            ),
            pa.field("schema_version", pa.int32(), nullable=False),
        ],
        metadata={"wirestream.table": "articles", "wirestream.schema_version": str(SCHEMA_VERSION)},
    ),
    partition_keys=("date", "topic"),
    sort_keys=("article_id",),
)

CLAIMS = Table(
    name="claims",
    schema=pa.schema(
        [
            pa.field("claim_id", pa.string(), nullable=False),
            pa.field("article_id", pa.string(), nullable=False),
            pa.field("cluster_id", pa.string(), nullable=False),
            # The claim as a standalone sentence (speaker pronouns resolved).
            pa.field("text", pa.string(), nullable=False),
            # The original sentence, and where it stands in the article's text.
            pa.field("sentence", pa.string(), nullable=False),
            pa.field("char_start", pa.int32(), nullable=False),
            pa.field("char_end", pa.int32(), nullable=False),
            # direct_quote | reported_speech | statistic | assertion
            pa.field("claim_type", pa.string(), nullable=False),
            pa.field("quote", pa.string()),
            pa.field("speaker", pa.string()),
            pa.field("speaker_role", pa.string()),
            pa.field("cue", pa.string()),
            pa.field(
                "numbers",
                pa.list_(
                    pa.struct(
                        [("value", pa.float64()), ("unit", pa.string()), ("text", pa.string())]
                    )
                ),
            ),
            # People, organisations and places named; kind is person | organization | place.
            pa.field(
                "entities", pa.list_(pa.struct([("name", pa.string()), ("kind", pa.string())]))
            ),
            pa.field("hedged", pa.bool_(), nullable=False),
            pa.field("checkworthiness", pa.float64(), nullable=False),
            pa.field("claim_key", pa.string(), nullable=False),
            pa.field("claim_cluster_id", pa.string(), nullable=False),
            pa.field("corroboration", pa.int32(), nullable=False),
            pa.field("schema_version", pa.int32(), nullable=False),
        ],
        metadata={"wirestream.table": "claims", "wirestream.schema_version": str(SCHEMA_VERSION)},
    ),
    partition_keys=("date", "topic"),
    sort_keys=("claim_id",),
)

REJECTS = Table(
    name="rejects",
    schema=pa.schema(
        [
            pa.field("input", pa.string(), nullable=False),
            pa.field("item", pa.string()),
            # read | fetch | parse | normalize | dedup | claims | topic
            pa.field("stage", pa.string(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("detail", pa.string()),
            pa.field("ingested_at", _UTC_MICROS, nullable=False),
            pa.field("schema_version", pa.int32(), nullable=False),
        ],
        metadata={"wirestream.table": "rejects", "wirestream.schema_version": str(SCHEMA_VERSION)},
    ),
    partition_keys=("date",),
    # A reject has no id of its own: every column orders it.
    sort_keys=("input", "item", "stage", "reason", "detail", "ingested_at"),
)

TABLES: tuple[Table, ...] = (ARTICLES, CLAIMS, REJECTS)

# The dedup signature index (append mode): one row per article ever written, kept beside the
# tables in OUTPUT/_dedup_index/ (not a table for readers, hence not in TABLES). The MinHash
# signatures are stored with the parameters that made them, so a run with other parameters knows
# to sign the stored text again.
DEDUP_INDEX = Table(
    name="_dedup_index",
    schema=pa.schema(
        [
            pa.field("article_id", pa.string(), nullable=False),
            pa.field("content_hash", pa.string(), nullable=False),
            # published_at, else ingested_at: the article's place in the canonical order.
            pa.field("order_at", _UTC_MICROS, nullable=False),
            pa.field("cluster_id", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("signature", pa.list_(pa.uint32()), nullable=False),
            pa.field("lead_signature", pa.list_(pa.uint32()), nullable=False),
            pa.field("minhash_params", pa.string(), nullable=False),
            pa.field("schema_version", pa.int32(), nullable=False),
        ],
        metadata={
            "wirestream.table": "_dedup_index",
            "wirestream.schema_version": str(SCHEMA_VERSION),
        },
    ),
    partition_keys=(),
    # Every text and both signatures of every article: gathering them for one writer per file
    # made the runner hold them all (the largest memory peak of a local run); only dedup reads
    # them, as a whole.
    files_per_bundle=True,
)

# The fixed topic taxonomy (IPTC Media Topics, top level), plus the fallback.
TOPICS: tuple[str, ...] = (
    "arts-culture",
    "conflict",
    "crime-justice",
    "disaster",
    "economy",
    "education",
    "environment",
    "health",
    "human-interest",
    "labour",
    "lifestyle",
    "politics",
    "religion",
    "science-technology",
    "society",
    "sport",
    "weather",
)
FALLBACK_TOPIC = "general"
