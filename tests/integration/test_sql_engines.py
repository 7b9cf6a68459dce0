"""deploy/sql: the generated DDL is current; the DuckDB views and example queries run on output."""

from __future__ import annotations

import importlib.util

import duckdb
import pyarrow as pa
import pytest

from schemas import TABLES
from tests.conftest import PROJECT

SQL = PROJECT / "deploy" / "sql"
QUERIES = sorted((SQL / "queries").glob("*.sql"))


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_ddl", SQL / "generate_ddl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def views(direct_output) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with deploy/sql/duckdb/views.sql applied to a pipeline output."""
    connection = duckdb.connect()
    connection.execute("SET VARIABLE wirestream_output = ?", [str(direct_output("mixed"))])
    connection.execute((SQL / "duckdb" / "views.sql").read_text(encoding="utf-8"))
    yield connection
    connection.close()


def test_generated_ddl_matches_the_schemas():
    generator = load_generator()
    stale = generator.stale_files(generator.render())
    assert not stale, f"run `python deploy/sql/generate_ddl.py`: {stale} out of date"


def test_nested_types_are_spelled_for_each_engine():
    generator = load_generator()
    scored = pa.list_(pa.struct([("topic", pa.string()), ("score", pa.float64())]))
    assert generator.bigquery_type(scored) == "ARRAY<STRUCT<topic STRING, score FLOAT64>>"
    assert generator.hive_type(scored) == "array<struct<topic:string,score:double>>"
    assert generator.trino_type(scored) == "array(row(topic varchar, score double))"
    with pytest.raises(ValueError, match="no SQL mapping"):
        generator.hive_type(pa.binary())


@pytest.mark.parametrize("table", TABLES, ids=lambda table: table.name)
def test_view_has_the_schema_columns_and_every_row(views, direct_output, table):
    view = views.sql(f'SELECT * FROM "{table.name}"')
    assert view.columns == [*table.columns, *table.partition_keys]
    files = f"{direct_output('mixed')}/{table.name}/**/*.parquet"
    expected = views.sql(f"SELECT count(*) FROM read_parquet('{files}')").fetchall()[0][0]
    assert view.count("*").fetchall()[0][0] == expected > 0


def test_date_partition_reads_back_as_a_date(views):
    assert views.sql('SELECT typeof("date") FROM articles LIMIT 1').fetchall()[0][0] == "DATE"


@pytest.mark.parametrize("query", QUERIES, ids=lambda path: path.stem)
def test_example_query_runs_and_finds_rows(views, query):
    rows = views.sql(query.read_text(encoding="utf-8")).fetchall()
    assert rows, f"{query.name} found nothing on seeds + Reuters"


def test_queries_exist():
    assert {path.stem for path in QUERIES} >= {
        "duplicates_per_story",
        "claims_by_speaker",
        "corroborated_claims_per_day",
    }
