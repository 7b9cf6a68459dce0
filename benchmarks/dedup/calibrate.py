"""How the verification thresholds were chosen: evidence of every LSH candidate pair, by label.

    /tmp/venv/bin/python benchmarks/dedup/calibrate.py [--set benchmarks/dedup/out/set]

Runs the pure functions of transforms/dedup.py in memory (no Beam) over a generated set and
prints candidate recall (true pairs that share an LSH band), then for the true and the false
candidate pairs how containment, resemblance and slot agreement are distributed, and what each
decision region holds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from transforms.dedup import DedupParams, bucket_pairs, compare, decide, profile  # noqa: E402
from transforms.minhash import MinHasher, Tokenizer, batch_shingle_hashes, story_text  # noqa: E402


def candidate_pairs(rows: list[dict], params: DedupParams) -> Iterator[tuple[str, str]]:
    hasher, tokenizer = MinHasher(params.minhash), Tokenizer()
    buckets: dict[int, list] = {}
    for i in range(0, len(rows), 256):
        batch = rows[i : i + 256]
        tokens = [tokenizer.hashes(story_text(r["text"])) for r in batch]
        shingles = batch_shingle_hashes(tokens, params.shingle_size)
        whole, lead = hasher.signatures(shingles)
        for row, keys in zip(batch, hasher.band_keys(whole, lead), strict=True):
            for key in keys:
                member = ((row["published_at"], row["url"]), row["url"], row["content_hash"])
                buckets.setdefault(key, []).append(member)
    seen = set()
    for members in buckets.values():
        for pair in bucket_pairs(members, params.max_bucket):
            if pair not in seen:
                seen.add(pair)
                yield pair


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", type=Path, default=HERE / "out" / "set")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    overrides = dict(p.split("=", 1) for p in args.param)
    defaults = DedupParams()
    params = dataclasses.replace(
        defaults, **{k: type(getattr(defaults, k))(v) for k, v in overrides.items()}
    )
    rows = [json.loads(line) for line in (args.set / "records.jsonl").open()]
    story = {r["url"]: r["story"] for r in rows}
    kind = {r["url"]: r["kind"] for r in rows}
    text = {r["url"]: r["text"] for r in rows}
    true_pairs = {
        tuple(sorted((a["url"], b["url"])))
        for s in _group(rows).values()
        for a in s
        for b in s
        if a["url"] < b["url"]
    }
    tokenizer = Tokenizer()
    profiles: dict[str, object] = {}
    found = Counter()
    to_original = 0  # candidate pairs of a reprint with its original
    evidence = {True: [], False: []}
    for a, b in candidate_pairs(rows, params):
        for url in (a, b):
            if url not in profiles:
                profiles[url] = profile(text[url], tokenizer, params.shingle_size)
        e = compare(profiles[a], profiles[b])
        same = story[a] == story[b]
        to_original += same and "original" in (kind[a], kind[b])
        evidence[same].append(e)
        found[(same, decide(e, params))] += 1
    candidates_true = len(evidence[True])
    print(
        f"{params}\ncandidate pairs {candidates_true + len(evidence[False])}: true "
        f"{candidates_true}/{len(true_pairs)} = {candidates_true / len(true_pairs):.4f} of the "
        "true pairs"
    )
    reprints = sum(1 for r in rows if r["kind"].startswith("reprint"))
    print(f"reprints whose original is a candidate: {to_original}/{reprints}")
    for same in (True, False):
        es = evidence[same]
        if not es:
            continue
        print(f"\n{'TRUE' if same else 'FALSE'} candidate pairs: {len(es)}")
        for name in ("containment", "resemblance", "slot_agreement", "slot_conflicts"):
            values = np.array([getattr(e, name) for e in es], dtype=float)
            qs = np.quantile(values, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
            print(
                f"  {name:15s} "
                + " ".join(f"{q:6.2f}" for q in qs)
                + "  (q01 q05 q25 q50 q75 q95 q99)"
            )
    print("\ndecision region: true pairs / false pairs")
    for kind in ("near", "contained", "partial", None):
        print(f"  {kind!s:10s} {found[(True, kind)]:7d} {found[(False, kind)]:7d}")


def _group(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["story"], []).append(row)
    return groups


if __name__ == "__main__":
    main()
