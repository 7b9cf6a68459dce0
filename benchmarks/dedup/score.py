"""Pairwise precision / recall / F1 of a clustering against the generator's labels.

Predictions are read back from Parquet (the pipeline's ``articles`` table, or the records-mode
stand-in written by ``run.py``): every file under the folder, Hive partition folders included.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(truth: Mapping[str, str], predicted: Mapping[str, str]) -> Scores:
    """Score clusterings given as item -> cluster label (items missing from ``predicted`` are
    singletons)."""
    predicted = {item: predicted.get(item, f"\0{item}") for item in truth}
    true_pairs = sum(_pairs(n) for n in Counter(truth.values()).values())
    predicted_pairs = sum(_pairs(n) for n in Counter(predicted.values()).values())
    correct = sum(_pairs(n) for n in Counter((truth[i], predicted[i]) for i in truth).values())
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, true_pairs, predicted_pairs, correct)


def read_labels(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(url -> story, url -> kind) from labels.csv."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {r["url"]: r["story"] for r in rows}, {r["url"]: r["kind"] for r in rows}


def read_clusters(folder: Path) -> dict[str, str]:
    """url -> cluster_id from every Parquet file under ``folder``."""
    dataset = ds.dataset(str(folder), format="parquet", partitioning="hive")
    table = dataset.to_table(columns=["url", "cluster_id"])
    return dict(
        zip(table.column("url").to_pylist(), table.column("cluster_id").to_pylist(), strict=True)
    )


def by_kind(
    truth: Mapping[str, str], kinds: Mapping[str, str], predicted: Mapping[str, str]
) -> dict[str, tuple[int, int]]:
    """Per record kind: (records placed right, records of that kind).

    A reprint is right when it shares its original's cluster; an original or a trap when no
    record of another story shares its cluster.
    """
    members: dict[str, set[str]] = {}
    for item, cluster in predicted.items():
        members.setdefault(cluster, set()).add(truth.get(item, ""))
    original_cluster = {truth[i]: predicted.get(i) for i, k in kinds.items() if k == "original"}
    result: dict[str, list[int]] = {}
    for item, kind in kinds.items():
        cluster = predicted.get(item, f"\0{item}")
        if kind.startswith("reprint"):
            ok = original_cluster.get(truth[item]) == cluster
        else:
            ok = members.get(cluster, {truth[item]}) == {truth[item]}
        counts = result.setdefault(kind, [0, 0])
        counts[0] += ok
        counts[1] += 1
    return {kind: (ok, total) for kind, (ok, total) in sorted(result.items())}
