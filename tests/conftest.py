"""Shared test helpers: fixture paths and a TestPipeline pinned to the FnApiRunner."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).parent.parent
SEEDS = PROJECT / "seeds"
INGESTED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def fnapi_pipeline() -> TestPipeline:
    """A TestPipeline on the FnApiRunner: the DirectRunner would try to download Prism first."""
    return TestPipeline(runner=FnApiRunner())


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def slow_page(links: int = 50_000) -> bytes:
    """A page trafilatura needs many seconds for (a long list of links)."""
    return (
        "<html><body><ul>" + '<li><a href="/a/b">Some link text here</a></li>\n' * links + "</ul>"
    ).encode()
