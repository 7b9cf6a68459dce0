"""Claims stage throughput on Reuters stories, articles per second on one core.

    python -m benchmarks.claims.throughput [--feeds ../shared/data/reuters-rss] [--limit N] [--beam]

Stories are read and normalised first (not timed), exactly as the pipeline's Read and Normalize
stages produce them. Timed, in one process: ``extract_claims`` per article plus the per-claim
clustering preparation (signatures and their block keys by shard, ``sharded_signatures`` over
batches of BATCH claims as Beam's BatchElements hands them over) — the per-article work of
ExtractClaims.
``--beam`` also runs the whole ExtractClaims PTransform (with the cross-article GroupByKeys) on the
FnApiRunner in one process and reports its wall time, Beam overhead included. Floor (issue 4):
300 articles/s per core.
"""

from __future__ import annotations

import argparse
import glob
import os
import time
from pathlib import Path

from transforms.claims import extract_claims, sharded_signatures, source_of
from transforms.normalize import normalize_text
from transforms.parsers import parse_feed

FLOOR = 300.0
BATCH = 256  # ClusterClaims batches 32 to 512 claims
DEFAULT_FEEDS = Path(__file__).resolve().parents[3] / "shared" / "data" / "reuters-rss"


def load_articles(feeds: str, limit: int | None) -> list[dict]:
    articles: list[dict] = []
    for path in sorted(glob.glob(os.path.join(feeds, "*.xml"))):
        with open(path, "rb") as handle:
            source, entries = parse_feed(handle.read())
        for entry in entries:
            text = normalize_text(entry["text"])
            if not text:
                continue
            article_id = entry["item"].rsplit("/", 1)[-1]
            articles.append(
                {
                    "article_id": article_id,
                    "cluster_id": article_id,
                    "is_duplicate": False,
                    "text": text,
                    "source": source,
                    "url": entry.get("canonical_url"),
                    "date": "1987-01-01",
                    "topic": "general",
                }
            )
            if limit and len(articles) >= limit:
                return articles
    return articles


def time_per_article(articles: list[dict]) -> tuple[float, int]:
    claims = 0
    batch: list[tuple[str, dict]] = []
    start = time.process_time()
    for article in articles:
        source = source_of(article)
        batch.extend((source, claim) for claim in extract_claims(article))
        if len(batch) >= BATCH:
            sharded_signatures(batch)
            claims += len(batch)
            batch = []
    sharded_signatures(batch)
    claims += len(batch)
    return time.process_time() - start, claims


def time_beam(articles: list[dict]) -> tuple[float, int]:
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from transforms.claims import ExtractClaims

    start = time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner()) as pipeline:
        counted = (
            pipeline
            | beam.Create(articles, reshuffle=False)
            | ExtractClaims()
            | beam.combiners.Count.Globally()
        )
        counted | beam.Map(lambda n: print(f"beam: {n} claims"))
    return time.perf_counter() - start, 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", default=str(DEFAULT_FEEDS), help="folder of Reuters RSS files")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N stories")
    parser.add_argument("--beam", action="store_true", help="also time the Beam transform")
    args = parser.parse_args(argv)
    articles = load_articles(args.feeds, args.limit)
    seconds, claims = time_per_article(articles)
    rate = len(articles) / seconds
    print(
        f"extract_claims + cluster keys: {len(articles)} articles, {claims} claims, "
        f"{seconds:.2f} s CPU, {rate:.0f} articles/s/core (floor {FLOOR:.0f}): "
        f"{'met' if rate >= FLOOR else 'MISSED'}"
    )
    if args.beam:
        wall, _ = time_beam(articles)
        print(
            f"ExtractClaims on FnApiRunner (1 process): {wall:.1f} s wall, "
            f"{len(articles) / wall:.0f} articles/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
