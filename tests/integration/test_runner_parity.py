"""The same pipeline on other Beam runners gives exactly the DirectRunner's rows.

Flink: an embedded Flink cluster started by Beam's Flink job server (the jar comes from
``.ci/flink-jobserver``, passed as WIRESTREAM_FLINK_JOB_SERVER_JAR), Python SDK workers over
LOOPBACK. Prism: Beam's portable Go runner (the binary comes from ``.ci/prism``, passed as
WIRESTREAM_PRISM_BINARY), SDK workers as separate processes started by an EXTERNAL worker pool, so
nothing is shared with the launching process but the declared inputs and outputs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import DATASETS, assert_same_tables, run_wirestream


def _required_file(variable: str, provider: str) -> Path:
    """The file an environment variable names, or a skip that says how to provide it."""
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set (run {provider} and export its output)")
    path = Path(value)
    if not path.is_file():
        pytest.skip(f"{variable}={value} does not exist (run {provider})")
    return path


@pytest.fixture(scope="module")
def flink_job_server_jar() -> Path:
    if shutil.which("java") is None:
        pytest.skip("java is not on PATH: Beam's Flink job server is a Java program")
    return _required_file("WIRESTREAM_FLINK_JOB_SERVER_JAR", ".ci/flink-jobserver")


@pytest.fixture(scope="module")
def prism_binary() -> Path:
    return _required_file("WIRESTREAM_PRISM_BINARY", ".ci/prism")


@pytest.mark.flink
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_flink_gives_the_direct_runners_rows(
    dataset, flink_job_server_jar, direct_output, tmp_path
):
    output = tmp_path / "output"
    run_wirestream(
        DATASETS[dataset],
        output,
        "--runner=FlinkRunner",
        f"--flink_job_server_jar={flink_job_server_jar}",
        "--environment_type=LOOPBACK",
        # More than one subtask per stage, so that rows really cross workers.
        "--parallelism=2",
    )
    assert_same_tables(direct_output(dataset), output)


@pytest.mark.prism
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_prism_gives_the_direct_runners_rows(
    dataset, prism_binary, worker_pool, direct_output, tmp_path
):
    output = tmp_path / "output"
    run_wirestream(
        DATASETS[dataset],
        output,
        "--runner=PrismRunner",
        f"--prism_location={prism_binary}",
        "--environment_type=EXTERNAL",
        f"--environment_config={worker_pool}",
    )
    assert_same_tables(direct_output(dataset), output)
