"""Runner integration tests: the real ``wirestream run`` command, its tables read back with DuckDB.

Every run pins ``--ingested-at`` so that two runs over the same input must give the same rows,
whatever runner executes them. The DirectRunner's output on each input is computed once per
session and is the reference the other runners are compared with.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer

from schemas import TABLES, Table
from tests.conftest import FIXTURES, PROJECT, SEEDS

INGESTED_AT = "2026-11-22T12:00:00Z"
# A run that takes longer than this is stuck (a job server or worker that never answers).
RUN_TIMEOUT_S = 900

# "mixed": two Reuters-21578 daily feeds (293 stories, wire reprints among them) with an empty
# file, plus the seeds (one event told by five outlets: corroborated claims), so that every table
# and every example query in deploy/sql has rows.
DATASETS: dict[str, tuple[Path, ...]] = {
    "seeds": (SEEDS,),
    "mixed": (FIXTURES / "integration" / "reuters", SEEDS),
}

_VENV_BIN = Path(sys.executable).parent
_CONSOLE_SCRIPT = _VENV_BIN / "wirestream"


def pytest_configure(config: pytest.Config) -> None:
    for marker, purpose in (
        ("flink", "runs the pipeline on Flink (needs java and Beam's Flink job-server jar)"),
        ("prism", "runs the pipeline on Beam's Prism runner (needs a Prism binary)"),
        ("dataflow", "builds the Dataflow job offline (needs apache-beam[gcp])"),
    ):
        config.addinivalue_line("markers", f"{marker}: {purpose}")


def subprocess_env() -> dict[str, str]:
    """The environment for the CLI and for SDK workers started from a worker pool.

    Workers are started as ``python`` from PATH, so the test interpreter's folder goes first. From
    a checkout that is not pip-installed, the project root stands in for the installed package.
    """
    env = {**os.environ, "PATH": f"{_VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not _CONSOLE_SCRIPT.exists():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    return env


def run_wirestream(inputs: tuple[Path, ...], output: Path, *beam_args: str) -> str:
    """``wirestream run`` in a subprocess, as a user would type it; returns what it printed."""
    command = (
        [str(_CONSOLE_SCRIPT)]
        if _CONSOLE_SCRIPT.exists()
        else [sys.executable, "-m", "pipeline.cli"]
    )
    args = ["run", *(f"--input={path}" for path in inputs)]
    args += ["--output", str(output), "--ingested-at", INGESTED_AT]
    done = subprocess.run(
        [*command, *args, *beam_args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=subprocess_env(),
        cwd=output.parent,
    )
    assert done.returncode == 0, (
        f"wirestream {' '.join(args + list(beam_args))} exited {done.returncode}\n"
        f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    )
    return done.stdout


def table_rows(output: Path, table: Table) -> dict[str, dict]:
    """Every row of a table, partition keys included, keyed by its repr (order-free comparison)."""
    files = f"{output}/{table.name}/**/*.parquet"
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{files}', hive_partitioning = true)")
    rows = [dict(zip(relation.columns, values, strict=True)) for values in relation.fetchall()]
    return {repr(sorted(row.items())): row for row in rows}


def describe_difference(table: Table, missing: list[dict], extra: list[dict]) -> str:
    """The columns that differ between rows with the same first column (the table's id)."""
    key = table.columns[0]
    extra_by_key = {row[key]: row for row in extra}
    lines = []
    for row in missing[:5]:
        other = extra_by_key.get(row[key])
        if other is None:
            lines.append(f"  only in the reference: {key}={row[key]!r}")
            continue
        for column in row:
            if row[column] != other[column]:
                lines.append(
                    f"  {key}={row[key]!r} {column}: {row[column]!r:.200} != {other[column]!r:.200}"
                )
    missing_keys = {row[key] for row in missing}
    lines += [
        f"  only in this run: {key}={row[key]!r}" for row in extra if row[key] not in missing_keys
    ][:5]
    return "\n".join(lines)


def assert_same_tables(expected: Path, actual: Path) -> None:
    """Every table of ``actual`` has exactly the rows of ``expected``."""
    problems = []
    for table in TABLES:
        want, got = table_rows(expected, table), table_rows(actual, table)
        if want.keys() != got.keys():
            missing = [want[k] for k in sorted(want.keys() - got.keys())]
            extra = [got[k] for k in sorted(got.keys() - want.keys())]
            problems.append(
                f"{table.name}: {len(want)} rows expected, {len(got)} found, "
                f"{len(missing)} missing, {len(extra)} unexpected\n"
                + describe_difference(table, missing, extra)
            )
    assert not problems, "runner outputs differ:\n" + "\n".join(problems)


@pytest.fixture(scope="session")
def direct_output(tmp_path_factory) -> Callable[[str], Path]:
    """The DirectRunner's (FnApiRunner's) tables for a dataset, computed once per session."""
    outputs: dict[str, Path] = {}

    def output_for(dataset: str) -> Path:
        if dataset not in outputs:
            output = tmp_path_factory.mktemp(f"direct-{dataset}") / "output"
            run_wirestream(DATASETS[dataset], output)
            outputs[dataset] = output
        return outputs[dataset]

    return output_for


@pytest.fixture(scope="module")
def worker_pool() -> Iterator[str]:
    """An EXTERNAL worker pool: each SDK worker is a separate ``python`` process it starts."""
    with pytest.MonkeyPatch.context() as patch:
        # The pool starts workers as `python` with this process's environment.
        for name, value in subprocess_env().items():
            patch.setenv(name, value)
        address, server = BeamFnExternalWorkerPoolServicer.start(use_process=True)
        yield address
        server.stop(None)
