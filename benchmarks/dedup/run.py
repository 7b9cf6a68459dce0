"""The dedup benchmark, one command: generate, run our Deduplicate, score from Parquet, run the
datasketch anchor at its best threshold, measure signature throughput, print the table.

    /tmp/venv/bin/python benchmarks/dedup/run.py            # records mode (see below)
    /tmp/venv/bin/python benchmarks/dedup/run.py --pipeline # the full `wirestream run` on the feeds

Records mode runs Deduplicate alone, on the generated article rows, and writes its output as
Parquet; --pipeline runs the whole pipeline over the generated feeds and scores its articles
table. Either way the scorer reads Parquet.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]  # this folder and the repository root

import anchor  # noqa: E402
import apache_beam as beam  # noqa: E402
import generate  # noqa: E402
import pyarrow as pa  # noqa: E402
import score  # noqa: E402
from apache_beam.runners.portability.fn_api_runner import FnApiRunner  # noqa: E402

from transforms.dedup import Deduplicate, DedupParams  # noqa: E402
from transforms.minhash import MinHasher, Tokenizer, batch_shingle_hashes, story_text  # noqa: E402

OUT_SCHEMA = pa.schema(
    [
        ("article_id", pa.string()),
        ("url", pa.string()),
        ("cluster_id", pa.string()),
        ("is_duplicate", pa.bool_()),
        ("duplicate_of", pa.string()),
        ("similarity", pa.float64()),
    ]
)


def load_rows(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            for column in ("published_at", "ingested_at"):
                row[column] = datetime.fromisoformat(row[column])
            rows.append(row)
    return rows


def run_records(rows: list[dict], out: Path, params: DedupParams) -> float:
    """Deduplicate alone on FnApiRunner; Parquet to ``out``; returns wall seconds."""
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    with beam.Pipeline(runner=FnApiRunner()) as p:
        _ = (
            p
            | "Records" >> beam.Create(rows)
            | "Deduplicate" >> Deduplicate(params)
            | "Columns" >> beam.Map(lambda a: {c: a[c] for c in OUT_SCHEMA.names})
            | "Parquet"
            >> beam.io.WriteToParquet(str(out / "part"), OUT_SCHEMA, file_name_suffix=".parquet")
        )
    return time.perf_counter() - start


def run_pipeline(feeds: Path, out: Path) -> tuple[float, Path]:
    """The full `wirestream run` over the generated feeds; returns wall seconds and the table."""
    from pipeline.cli import main as wirestream

    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    status = wirestream(
        [
            "run",
            "--input",
            str(feeds),
            "--output",
            str(out),
            "--ingested-at",
            "2024-01-01T00:00:00Z",
        ]
    )
    if status:
        raise SystemExit(f"wirestream run failed with status {status}")
    return time.perf_counter() - start, out / "articles"


def signature_throughput(texts: list[str], params: DedupParams, batch: int = 256) -> dict:
    """Articles/s on one core for the signature stage (text -> band keys), as SignatureFn does
    it; "cold" starts with an empty word memo, "warm" is a second pass (a long-running worker)."""
    hasher = MinHasher(params.minhash)
    tokenizer = Tokenizer()
    rates = {}
    for label in ("cold", "warm"):
        start = time.process_time()
        for i in range(0, len(texts), batch):
            tokens = [tokenizer.hashes(story_text(t)) for t in texts[i : i + batch]]
            shingles = batch_shingle_hashes(tokens, params.shingle_size)
            whole, lead = hasher.signatures(shingles)
            hasher.band_keys(whole, lead)
        rates[label] = len(texts) / (time.process_time() - start)
    _, seconds = anchor.signatures(dict(enumerate(texts)))
    rates["datasketch"] = len(texts) / seconds
    return rates


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=Path, default=HERE.parents[2] / "shared/data/reuters-rss")
    parser.add_argument("--seeds", type=Path, default=HERE.parents[1] / "seeds")
    parser.add_argument("--originals", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1987)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--pipeline", action="store_true", help="run the full wirestream pipeline")
    args = parser.parse_args(argv)

    set_dir = args.out / "set"
    generate.main(
        [
            "--feeds",
            str(args.feeds),
            "--seeds",
            str(args.seeds),
            "--originals",
            str(args.originals),
            "--seed",
            str(args.seed),
            "--out",
            str(set_dir),
        ]
    )
    truth, kinds = score.read_labels(set_dir / "labels.csv")
    rows = load_rows(set_dir / "records.jsonl")
    params = DedupParams()

    if args.pipeline:
        ours_seconds, table = run_pipeline(set_dir / "feeds", args.out / "pipeline")
        label = "wirestream run (full pipeline)"
    else:
        table = args.out / "ours" / "articles"
        ours_seconds = run_records(rows, table, params)
        label = "wirestream Deduplicate"
    ours = score.pairwise(truth, score.read_clusters(table))
    ours_kinds = score.by_kind(truth, kinds, score.read_clusters(table))

    texts = {r["url"]: r["text"] for r in rows}
    sigs, sig_seconds = anchor.signatures(texts)
    sweep = []
    for threshold in anchor.THRESHOLDS:
        clusters, seconds = anchor.clusters(sigs, threshold)
        sweep.append((score.pairwise(truth, clusters).f1, threshold, seconds, clusters))
    _best_f1, best_threshold, lsh_seconds, best_clusters = max(sweep, key=lambda s: (s[0], -s[1]))
    theirs = score.pairwise(truth, best_clusters)
    theirs_kinds = score.by_kind(truth, kinds, best_clusters)

    rates = signature_throughput([r["text"] for r in rows], params)

    n_dup = sum(1 for r in rows if r["kind"].startswith("reprint"))
    print(
        f"\nDedup benchmark: {len(rows)} articles ({n_dup} reprints, {ours.true_pairs} true "
        f"duplicate pairs) from {args.feeds.name}, seed {args.seed}, cpus {os.cpu_count()}"
    )
    print(f"{'system':42s} {'precision':>9s} {'recall':>7s} {'F1':>7s} {'time s':>7s}")
    print(
        f"{label:42s} {ours.precision:9.4f} {ours.recall:7.4f} {ours.f1:7.4f} {ours_seconds:7.1f}"
    )
    anchor_label = f"datasketch MinHashLSH t={best_threshold:.2f} + union-find"
    print(
        f"{anchor_label:42s} {theirs.precision:9.4f} {theirs.recall:7.4f} {theirs.f1:7.4f} "
        f"{sig_seconds + lsh_seconds:7.1f}"
    )
    print(f"F1 margin over datasketch's best: {ours.f1 - theirs.f1:+.4f}")
    print(
        "\nPlaced right, by record kind (reprint: in its original's cluster; others: no "
        "foreign story in their cluster)"
    )
    print(f"{'kind':28s} {'ours':>12s} {'datasketch':>12s}")
    for kind, (ok, total) in ours_kinds.items():
        print(f"{kind:28s} {ok:5d}/{total:<6d} {theirs_kinds[kind][0]:5d}/{total:<6d}")
    print(
        "\nSignature throughput, one core (articles/s, Reuters-length texts): "
        f"cold {rates['cold']:,.0f}, warm {rates['warm']:,.0f}; "
        f"datasketch MinHash {rates['datasketch']:,.0f}"
    )
    print(
        "datasketch sweep (threshold: F1): "
        + ", ".join(f"{t:.2f}: {f:.3f}" for f, t, _, _ in sweep)
    )


if __name__ == "__main__":
    main()
