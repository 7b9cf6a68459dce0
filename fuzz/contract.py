"""The readers' contract, checked on one input file: shared by the fuzz harness and the property
tests (tests/test_properties.py).

A file goes the way it goes through the pipeline: ParseFileFn (read stage), then NormalizeFn
(normalize stage) for every item it yields. Whatever the bytes: no exception escapes, no reader
fails in a way it did not foresee (a ``parse_error`` reject), every item ends as exactly one row
(an article or a reject), and the Parquet writer accepts every row.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
from apache_beam.io.fileio import ReadableFile
from apache_beam.io.filesystem import FileMetadata
from apache_beam.pvalue import TaggedOutput

from schemas import ARTICLES, REJECTS
from transforms.normalize import NormalizeFn
from transforms.read import FEED_REFS, FEED_URLS, ParseFileFn
from transforms.rejects import REJECTED

INGESTED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
# The file name gives the reader (by extension); the bytes may still say otherwise.
READER_FILES = {
    "feed": "input.xml",
    "json": "input.json",
    "html": "input.html",
    "text": "input.txt",
    "opml": "input.opml",
}


class FileContract:
    """Runs files through the read and normalize stages' DoFns and checks the contract.

    ``extract_timeout`` > 0 parses web pages in a child process with that time limit, as the
    command line does; 0 parses them in this process (the fuzzer then sees trafilatura's coverage
    and its own -timeout finds slow pages).
    """

    def __init__(self, folder: Path, extract_timeout: float, max_input_bytes: int = 1 << 20):
        self._folder = folder
        self._parse = ParseFileFn(max_input_bytes, INGESTED_AT, True, extract_timeout)
        self._parse.setup()
        self._normalize = NormalizeFn(INGESTED_AT)
        self._normalize.setup()

    def close(self) -> None:
        self._parse.teardown()

    def rows(self, name: str, data: bytes) -> tuple[list[dict], list[dict], list[str]]:
        """The articles, rejects and feed references one file becomes."""
        path = self._folder / name
        path.write_bytes(data)
        outputs = self._parse.process(ReadableFile(FileMetadata(str(path), len(data))))
        articles: list[dict] = []
        rejects: list[dict] = []
        references: list[str] = []
        for output in outputs:
            if isinstance(output, TaggedOutput):
                assert output.tag in (REJECTED, FEED_REFS, FEED_URLS), output.tag
                (rejects if output.tag == REJECTED else references).append(output.value)
                continue
            (row,) = list(self._normalize.process(output))  # one item, one row
            if isinstance(row, TaggedOutput):
                assert row.tag == REJECTED, row.tag
                rejects.append(row.value)
            else:
                assert row["text"].strip() and row["word_count"] > 0, row
                articles.append(row)
        assert articles or rejects or references, "the file left no row"
        # parse_error is ParseFileFn's net for exceptions the readers did not foresee: a bug.
        unforeseen = [r["detail"] for r in rejects if r["reason"] == "parse_error"]
        assert not unforeseen, unforeseen
        # The writer takes every row (no lone surrogates, right types, required columns).
        pa.Table.from_pylist(articles, schema=ARTICLES.schema)
        pa.Table.from_pylist(rejects, schema=REJECTS.schema)
        return articles, rejects, references
