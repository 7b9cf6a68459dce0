"""The anchor: datasketch MinHashLSH (128 permutations, word 5-grams) with union-find clusters."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping, Sequence

from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE = 5
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    """Word ``size``-grams of the lower-cased text (markup removed, as the pipeline would)."""
    words = _WORD.findall(html.unescape(_TAG.sub(" ", text)).lower())
    return {" ".join(words[i : i + size]).encode() for i in range(max(1, len(words) - size + 1))}


def signatures(texts: Mapping[str, str]) -> tuple[dict[str, MinHash], float]:
    """MinHash per item and the seconds it took."""
    start = time.perf_counter()
    result = {}
    for key, text in texts.items():
        signature = MinHash(num_perm=NUM_PERM, seed=1)
        signature.update_batch(shingles(text))
        result[key] = signature
    return result, time.perf_counter() - start


def clusters(sigs: Mapping[str, MinHash], threshold: float) -> tuple[dict[str, str], float]:
    """Union-find over LSH neighbours at ``threshold``: item -> root, and the seconds it took."""
    start = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    keys = sorted(sigs)
    for key in keys:
        lsh.insert(key, sigs[key])
    parent = {key: key for key in keys}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for key in keys:
        for other in lsh.query(sigs[key]):
            a, b = find(key), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {key: find(key) for key in keys}, time.perf_counter() - start


THRESHOLDS: Sequence[float] = tuple(round(0.1 + 0.05 * i, 2) for i in range(17))  # 0.10 .. 0.90
