"""End to end: the command line on real files, the Parquet read back with DuckDB."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.cli import main
from schemas import ARTICLES, CLAIMS, REJECTS
from tests.conftest import FIXTURES, PROJECT, SEEDS

PINNED = ["--ingested-at", "2026-11-22T12:00:00Z"]


def run_cli(*args: str) -> int:
    return main(["run", *args])


def scan(output: Path, name: str) -> str:
    return f"read_parquet('{output}/{name}/**/*.parquet', hive_partitioning=true)"


def count(output: Path, name: str, where: str = "true") -> int:
    return duckdb.sql(f"select count(*) from {scan(output, name)} where {where}").fetchall()[0][0]


def columns(output: Path, name: str) -> set[str]:
    return set(duckdb.sql(f"select * from {scan(output, name)}").columns)


def rows(output: Path, name: str, names: list[str]) -> list[tuple]:
    query = f"select {', '.join(names)} from {scan(output, name)}"
    return sorted(duckdb.sql(query).fetchall(), key=repr)


@pytest.fixture(scope="module")
def seeds_output(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("seeds") / "output"
    assert run_cli("--output", str(output), *PINNED) == 0
    return output


def test_seeds_give_five_articles_and_claims(seeds_output):
    assert count(seeds_output, "articles") == 5
    assert columns(seeds_output, "articles") == set(ARTICLES.columns) | set(ARTICLES.partition_keys)
    # Five different reports of one event: none is a duplicate of another.
    assert count(seeds_output, "articles", "is_duplicate") == 0
    assert count(seeds_output, "claims") >= 15
    assert columns(seeds_output, "claims") == set(CLAIMS.columns) | set(CLAIMS.partition_keys)
    assert count(seeds_output, "rejects") == 0
    assert columns(seeds_output, "rejects") == set(REJECTS.columns) | set(REJECTS.partition_keys)


def test_summary_is_printed(tmp_path, capsys):
    assert (
        run_cli("--input", str(SEEDS / "000_247d25b6eb832498.txt"), "--output", str(tmp_path)) == 0
    )
    printed = capsys.readouterr().out
    for line in ("items read", "articles written", "duplicates found", "claims", "rejects"):
        assert line in printed
    assert "articles written         1" in printed


def test_rerun_gives_the_same_rows(seeds_output, tmp_path):
    again = tmp_path / "again"
    assert run_cli("--output", str(again), *PINNED) == 0
    for name, names in (("articles", ARTICLES.columns), ("claims", CLAIMS.columns)):
        assert rows(again, name, names) == rows(seeds_output, name, names)


def test_worker_processes_get_beams_options_and_give_the_same_rows(seeds_output, tmp_path, caplog):
    again = tmp_path / "again"
    workers = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    assert run_cli("--output", str(again), *PINNED, *workers) == 0
    for name, names in (("articles", ARTICLES.columns), ("claims", CLAIMS.columns)):
        assert rows(again, name, names) == rows(seeds_output, name, names)
    # The workers' log lines reach the launcher's log; they know Beam's options only, and were
    # given only those (they said "Discarding unparseable args" for each of wirestream's).
    assert "semi_persistent_directory" in caplog.text  # a line every worker logs at start
    assert "Discarding unparseable args" not in caplog.text


def test_bad_inputs_are_rejected_with_reasons_and_nothing_is_lost(tmp_path):
    output = tmp_path / "output"
    inputs = tmp_path / "inputs"
    shutil.copytree(FIXTURES / "bad", inputs / "bad")
    shutil.copytree(FIXTURES / "inputs", inputs / "good")
    assert (
        run_cli("--input", str(inputs), "--output", str(output), "--max-input-bytes", "20000") == 0
    )
    reasons = dict(
        (Path(path).name, reason) for path, reason in rows(output, "rejects", ["input", "reason"])
    )
    assert reasons == {
        "empty.txt": "empty_file",
        "image.txt": "binary_file",
        "truncated.xml": "malformed_feed",
        "nothing.rss": "empty_feed",
        "nav-only.html": "no_text",
        "table.csv": "unsupported_kind",
        "data.json": "not_a_feed",
        "feeds.opml": reasons["feeds.opml"],
        "page.html": "too_large",
        # Read twice, via the folder and via the OPML list: the second copies are repeats.
        "reuters-sample.xml": "repeated_item",
        # The OPML list names a loopback URL: the fetch stage refuses private addresses.
        "rss": "private_address",
    }
    # The OPML file's missing feed is its reject; its local feed is read.
    opml_reasons = [
        r for p, r in rows(output, "rejects", ["input", "reason"]) if p.endswith("feeds.opml")
    ]
    assert opml_reasons == ["missing_input"]
    article_inputs = {Path(p).name for (p,) in rows(output, "articles", ["input"])}
    assert article_inputs == {"reuters-sample.xml", "atom.atom", "jsonfeed.json", "note.txt"}
    # Every file under the input folder left at least one row.
    every_file = {p.name for p in inputs.rglob("*") if p.is_file()}
    rejected_files = {
        Path(p).name for (p,) in rows(output, "rejects", ["input"]) if not p.startswith("http")
    }
    assert every_file == article_inputs | rejected_files


def test_unknown_option_is_a_usage_error(tmp_path, capsys):
    assert run_cli("--output", str(tmp_path), "--inptu", "x") == 2
    assert "--inptu" in capsys.readouterr().err


def test_input_that_matches_nothing_is_a_usage_error(tmp_path, capsys):
    assert run_cli("--input", str(tmp_path / "nope" / "*.xml"), "--output", str(tmp_path)) == 2
    assert "matches no file" in capsys.readouterr().err


def test_bad_choice_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exited:
        run_cli("--mode", "sideways", "--output", str(tmp_path))
    assert exited.value.code == 2


def test_unwritable_output_fails_the_run(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert run_cli("--output", str(blocker / "output")) == 1
    assert "cannot write" in capsys.readouterr().err


def test_a_damaged_publish_journal_fails_the_run_with_what_to_do(seeds_output, tmp_path, capsys):
    output = tmp_path / "output"
    shutil.copytree(seeds_output, output)
    journal = output / "_staging" / "20261122T120000-dead" / "_publish.json"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b'{"mode": "overw')  # cut short: written from outside, not by a run
    before = sorted(str(path.relative_to(output)) for path in output.rglob("*"))

    assert run_cli("--output", str(output), *PINNED) == 1
    err = capsys.readouterr().err
    assert f"{journal} cannot be read" in err and "Traceback" not in err
    assert sorted(str(path.relative_to(output)) for path in output.rglob("*")) == before


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["run", "--help"])
    assert exited.value.code == 0
    printed = capsys.readouterr().out
    for option in (
        "--input",
        "--output",
        "--mode",
        "--max-input-bytes",
        "--ingested-at",
        "--runner",
    ):
        assert option in printed


def test_the_installed_command_runs(tmp_path):
    """The console script as a user runs it (a separate process, the real exit status)."""
    command = shutil.which("wirestream", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("the wirestream console script is not installed in this environment")
    finished = subprocess.run(
        [
            command,
            "run",
            "--input",
            str(SEEDS / "001_248293aa2be5afa6.txt"),
            "--output",
            str(tmp_path / "output"),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        timeout=300,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert "articles written         1" in finished.stdout


def test_append_mode_adds_nothing_for_the_same_input(tmp_path, capsys):
    output = tmp_path / "output"
    assert run_cli("--output", str(output), *PINNED) == 0
    assert run_cli("--output", str(output), "--mode", "append", *PINNED) == 0
    assert "articles written         0" in capsys.readouterr().out.rsplit("finished", 1)[-1]
    assert count(output, "articles") == 5
    # The signature index sits beside the tables, not inside them.
    assert sorted(p.name for p in output.iterdir() if not p.name.startswith("_staging")) == [
        "_dedup_index",
        "articles",
        "claims",
        "rejects",
    ]


def test_a_later_reprint_joins_the_earlier_runs_cluster(tmp_path):
    original = SEEDS / "000_247d25b6eb832498.txt"
    paragraphs = original.read_text().splitlines()
    reprint = tmp_path / "later" / "reprint.txt"
    reprint.parent.mkdir()
    kept = paragraphs[: int(len(paragraphs) * 0.7)]
    reprint.write_text("Kremlin Accepts Parts Of U.S. Peace Plan\n\n" + "\n".join(kept) + "\n")
    output = tmp_path / "output"
    assert run_cli("--input", str(original), "--output", str(output)) == 0
    ((original_id,),) = rows(output, "articles", ["article_id"])
    assert run_cli("--input", str(reprint.parent), "--output", str(output), "--mode", "append") == 0
    by_input = {
        Path(p).name: (is_duplicate, cluster_id)
        for p, is_duplicate, cluster_id in rows(
            output, "articles", ["input", "is_duplicate", "cluster_id"]
        )
    }
    assert by_input == {
        original.name: (False, original_id),
        "reprint.txt": (True, original_id),
    }
