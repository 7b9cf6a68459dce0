"""The README's promises: its two commands, and every SQL query in it, run as written."""

from __future__ import annotations

import re

import duckdb
import pytest

from pipeline.cli import main
from tests.conftest import PROJECT

README = (PROJECT / "README.md").read_text()


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_opens_with_the_run_and_test_commands():
    run_command, test_command = fenced("bash")[0].strip().splitlines()
    assert run_command.endswith("wirestream run")
    assert "pytest" in test_command
    # CI runs exactly the README's test command.
    assert test_command in (PROJECT / ".ci" / "run").read_text()


@pytest.fixture(scope="module")
def output_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readme")
    assert main(["run", "--output", str(folder / "output")]) == 0
    return folder


@pytest.mark.parametrize("query", fenced("sql"), ids=lambda q: q.splitlines()[0])
def test_readme_query_runs_on_a_pipeline_output(query, output_folder, monkeypatch):
    monkeypatch.chdir(output_folder)
    result = duckdb.sql(query)
    assert result is not None and result.columns
    result.fetchall()


def test_readme_shows_queries():
    assert len(fenced("sql")) >= 5
