"""Read stage: files in, one parsed item per article out (or a reject with a reason).

``ReadInputs`` matches the input patterns, reads each file once and fans out the items that
the parsers (``transforms/parsers.py``) make of it.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from datetime import datetime

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import MatchResult
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from transforms.parsers import HtmlExtractor, InputError, parse_file
from transforms.rejects import REJECTED, reject
from transforms.urls import is_http

STAGE = "read"
FEED_REFS = "feed_refs"
# http(s) feeds that OPML files list: ReadInputs hands them on for the fetch stage.
FEED_URLS = "feed_urls"


class ParseFileFn(beam.DoFn):
    """One matched file to its parsed items; unusable files and items go to the rejects output."""

    def __init__(
        self,
        max_input_bytes: int,
        ingested_at: datetime,
        follow_opml: bool = True,
        extract_timeout: float = 0.0,
    ):
        self._max_input_bytes = max_input_bytes
        self._ingested_at = ingested_at
        self._follow_opml = follow_opml
        self._extract_timeout = extract_timeout
        self.files = Metrics.counter(STAGE, "files")
        self.items = Metrics.counter(STAGE, "items")
        self.rejected = Metrics.counter(STAGE, "rejected")

    def setup(self) -> None:
        self._extract_html = HtmlExtractor(self._extract_timeout)

    def teardown(self) -> None:
        self._extract_html.close()

    def process(self, readable: fileio.ReadableFile) -> Iterable:
        path = readable.metadata.path
        self.files.inc()
        try:
            data = self._read(readable)
            parts = list(parse_file(path, data, self._extract_html))
        except InputError as error:
            yield self._reject(path, None, error.reason, error.detail)
            return
        except Exception as error:  # a parser bug must not sink the run: keep the evidence
            yield self._reject(path, None, "parse_error", f"{type(error).__name__}: {error}")
            return
        for part_kind, part in parts:
            if part_kind == "feed_ref":
                yield self._feed_ref(path, part)
            elif not part["text"].strip():
                yield self._reject(path, part["item"], "no_text", "the item carries no text")
            else:
                self.items.inc()
                yield {**part, "input": path}

    def _read(self, readable: fileio.ReadableFile) -> bytes:
        if readable.metadata.size_in_bytes > self._max_input_bytes:
            raise InputError(
                "too_large",
                f"{readable.metadata.size_in_bytes} bytes > limit of {self._max_input_bytes}",
            )
        with readable.open() as handle:
            return handle.read(self._max_input_bytes + 1)

    def _feed_ref(self, opml_path: str, location: str):
        if not self._follow_opml:
            return self._reject(
                opml_path, location, "nested_opml", "OPML lists are read one level deep"
            )
        if is_http(location):
            return beam.pvalue.TaggedOutput(FEED_URLS, location)
        if "://" in location and not location.lower().startswith(("gs://", "s3://")):
            return self._reject(
                opml_path, location, "network_input_unsupported", "URL inputs need the fetch stage"
            )
        if not FileSystems.exists(location):
            return self._reject(
                opml_path, location, "missing_input", "the listed feed does not exist"
            )
        return beam.pvalue.TaggedOutput(FEED_REFS, location)

    def _reject(self, path: str, item: str | None, reason: str, detail: str | None):
        # Counted here, for every kind of reject: "items read" in the summary adds this up.
        self.rejected.inc()
        return beam.pvalue.TaggedOutput(
            REJECTED,
            reject(
                input=path,
                item=item,
                stage=STAGE,
                reason=reason,
                detail=detail,
                ingested_at=self._ingested_at,
            ),
        )


class _ReadFiles(beam.PTransform):
    """Patterns to parsed items (main output), rejects and OPML feed references."""

    def __init__(
        self, max_input_bytes: int, ingested_at: datetime, follow_opml: bool, extract_timeout: float
    ):
        super().__init__()
        self._parse = ParseFileFn(max_input_bytes, ingested_at, follow_opml, extract_timeout)

    def expand(self, patterns):
        return (
            patterns
            | "Match" >> fileio.MatchAll(fileio.EmptyMatchTreatment.ALLOW)
            # Spread files over workers before the expensive parse.
            | "SpreadFiles" >> beam.Reshuffle()
            | "Open" >> fileio.ReadMatches()
            | "Parse"
            >> beam.ParDo(self._parse).with_outputs(REJECTED, FEED_REFS, FEED_URLS, main="items")
        )


class ReadInputs(beam.PTransform):
    """Input patterns to parsed items and rejects; OPML lists are followed one level deep.

    Returns a dict: "items" and "rejects", each a tuple of PCollections to flatten where they join
    the other sources' (the FnApiRunner copies every element through each Flatten, so items are
    flattened once), and "feed_urls", the http(s) feeds OPML files list, to be fetched.
    ``extract_timeout`` limits the seconds spent on one web page (0: no limit).
    """

    def __init__(
        self,
        patterns: list[str],
        max_input_bytes: int,
        ingested_at: datetime,
        extract_timeout: float = 0.0,
    ):
        super().__init__()
        self._patterns = patterns
        self._max_input_bytes = max_input_bytes
        self._ingested_at = ingested_at
        self._extract_timeout = extract_timeout

    def expand(self, pbegin):
        limits = (self._max_input_bytes, self._ingested_at)
        files = (
            pbegin
            | "Patterns" >> beam.Create(self._patterns)
            | "ReadFiles"
            >> _ReadFiles(*limits, follow_opml=True, extract_timeout=self._extract_timeout)
        )
        listed = files[FEED_REFS] | "ReadListedFeeds" >> _ReadFiles(
            *limits, follow_opml=False, extract_timeout=self._extract_timeout
        )
        # Items are spread over workers by the normalize stage's grouping by article id.
        return {
            "items": (files.items, listed.items),
            "rejects": (files[REJECTED], listed[REJECTED]),
            FEED_URLS: files[FEED_URLS],
        }


def expand_input(path_or_glob: str) -> str:
    """A user's --input as a Beam file pattern: a directory means everything below it."""
    if "://" not in path_or_glob and os.path.isdir(path_or_glob):
        return posixpath.join(path_or_glob.rstrip("/"), "**")
    return path_or_glob


def input_matches_anything(pattern: str) -> bool:
    """True when the pattern names at least one file (a usage check before the run)."""
    try:
        results: list[MatchResult] = FileSystems.match([pattern])
    except Exception:  # a malformed pattern or an unknown scheme is a usage error too
        return False
    return any(result.metadata_list for result in results)
