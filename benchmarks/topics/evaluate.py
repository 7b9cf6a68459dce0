"""Score the topic classifier on the labelled set: accuracy, precision/recall per topic, confusion.

    python benchmarks/topics/evaluate.py                 # both halves: tune, then held-out
    python benchmarks/topics/evaluate.py --split tune --errors   # what went wrong, and why

The held-out quarter (``"split": "heldout"`` in eval_set.jsonl) is fixed; tune only on ``tune``.
Exits non-zero when a half misses the floors (accuracy >= 0.90, every topic's recall >= 0.75).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from schemas.tables import FALLBACK_TOPIC, TOPICS
from transforms.topics import TopicClassifier

EVAL_SET = Path(__file__).with_name("eval_set.jsonl")
MIN_ACCURACY = 0.90
MIN_RECALL = 0.75
LABELS = (*TOPICS, FALLBACK_TOPIC)
# Short column heads for the confusion matrix, in LABELS order.
ABBREV = ("art", "con", "cri", "dis", "eco", "edu", "env", "hea", "hum", "lab", "lif", "pol",
          "rel", "sci", "soc", "spo", "wea", "gen")  # fmt: skip


def load(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def report(name: str, rows: Sequence[dict], predicted: Sequence[str]) -> bool:
    """Print the metrics of one half; return whether it meets the floors."""
    gold = [row["label"] for row in rows]
    pairs = Counter(zip(gold, predicted, strict=True))
    correct = sum(count for (g, p), count in pairs.items() if g == p)
    accuracy = correct / len(rows)
    print(f"\n== {name}: {len(rows)} articles, accuracy {accuracy:.3f} ({correct}/{len(rows)})")
    print(f"{'topic':20s} {'n':>4s} {'precision':>9s} {'recall':>7s}")
    passed = accuracy >= MIN_ACCURACY
    for label in LABELS:
        support = sum(count for (g, _), count in pairs.items() if g == label)
        called = sum(count for (_, p), count in pairs.items() if p == label)
        if not support and not called:
            continue
        hits = pairs[(label, label)]
        precision = hits / called if called else 0.0
        recall = hits / support if support else 0.0
        flag = "  <-- below floor" if support and recall < MIN_RECALL else ""
        passed = passed and not flag
        print(f"{label:20s} {support:4d} {precision:9.3f} {recall:7.3f}{flag}")
    print("\nconfusion (rows: label, columns: predicted)")
    print(" " * 5 + " ".join(f"{abbrev:>3s}" for abbrev in ABBREV))
    for label, abbrev in zip(LABELS, ABBREV, strict=True):
        cells = " ".join(f"{pairs[(label, other)] or '.':>3}" for other in LABELS)
        print(f"{abbrev:>4s} {cells}")
    print(f"floors (accuracy >= {MIN_ACCURACY}, recall >= {MIN_RECALL}): "
          f"{'met' if passed else 'NOT met'}")  # fmt: skip
    return passed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("tune", "heldout", "both"), default="both")
    parser.add_argument("--errors", action="store_true", help="list misfiled articles and why")
    parser.add_argument("--eval-set", type=Path, default=EVAL_SET)
    args = parser.parse_args(argv)

    classifier = TopicClassifier.from_package()
    rows = load(args.eval_set)
    halves = ("tune", "heldout") if args.split == "both" else (args.split,)
    passed = True
    for half in halves:
        subset = [row for row in rows if row["split"] == half]
        decisions = [
            classifier.classify(row["title"], row["text"], row["categories"]) for row in subset
        ]
        passed = report(half, subset, [d.topic for d in decisions]) and passed
        if args.errors:
            for row, decision in zip(subset, decisions, strict=True):
                if decision.topic == row["label"]:
                    continue
                print(f"\n{row['id']}: {row['label']} -> {decision.topic} {decision.scores}")
                print(f"  {row['title'][:100]!r} {row['categories'][:4]}")
                evidence = classifier.explain(row["title"], row["text"], row["categories"])
                for slug in (row["label"], decision.topic):
                    print(f"  {slug}: {evidence.get(slug, [])[:8]}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
