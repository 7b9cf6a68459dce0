"""The same claim across articles: signatures, blocking keys, pair verification, clusters.

A claim's signature holds what matching compares: the speaker's affiliation (surname, organisation
and the country it stands for: "the Kremlin" and "Kremlin spokesman Dmitry Peskov" both stand for
Russia), negation, direction of change, quantities, named entities and content terms.

Blocking (so that only plausible pairs are compared, in Beam's GroupByKey):
- MinHash LSH over content terms, BANDS bands of ROWS hashes, polarity in the key;
- quantity x entity: claims stating the same number with the same unit about the same entity.

Two claims from different articles match when negation and direction agree, their speakers are
compatible (either unknown, or sharing an affiliation), their numbers agree (no unit with different
values on the two sides; at least one shared quantity when both state any), their named people and
organisations overlap when both name some, and their content overlaps: a shared quantity plus
MIN_SHARED_WITH_NUMBER terms, or MIN_SHARED terms covering MIN_CONTAINMENT of the shorter claim.
Clusters are the connected components of matches; a cluster's id is its smallest claim_id and its
corroboration the number of distinct sources among its members. Nothing depends on element order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from transforms.claims_lexicon import DEMONYMS, METONYMS, PLACE_ALIASES

BANDS = 12
ROWS = 2
MIN_SHARED = 3
MIN_CONTAINMENT = 0.4
MIN_SHARED_WITH_NUMBER = 1
# A block larger than this compares each claim with its MAX_BLOCK_NEIGHBOURS next ones in
# (claim_key, claim_id) order only: templated wire briefs would otherwise cost n^2.
MAX_BLOCK = 400
MAX_BLOCK_NEIGHBOURS = 50


def _fixed_coefficients(tag: str, odd: bool) -> np.ndarray:
    """Fixed (seed-free) 64-bit coefficients of the multiply-add hash family, read-only."""
    values = [
        int.from_bytes(hashlib.blake2b(f"{tag}{i}".encode(), digest_size=8).digest(), "big")
        | int(odd)
        for i in range(BANDS * ROWS)
    ]
    array = np.array(values, dtype=np.uint64)
    array.flags.writeable = False
    return array


_MULTIPLIERS = _fixed_coefficients("a", odd=True)
_INCREMENTS = _fixed_coefficients("b", odd=False)


class Signature(NamedTuple):
    claim_id: str
    article_id: str
    source: str
    claim_key: str
    affiliation: tuple[str, ...]
    negated: bool
    direction: str
    numbers: tuple[tuple[float, str], ...]
    entities: tuple[str, ...]
    terms: tuple[str, ...]


def norm_place(word: str) -> str:
    low = word.lower()
    low = PLACE_ALIASES.get(low, low).lower()
    return METONYMS.get(low, DEMONYMS.get(low, low))


def affiliation(speaker: str | None, kind: str | None, role: str | None) -> tuple[str, ...]:
    """What a speaker stands for: the person's surname, the organisation, the country."""
    if not speaker:
        return ()
    out: set[str] = set()
    words = speaker.replace("’s", "").split()
    if kind == "person":
        out.add(words[-1].lower())
    elif kind in ("organization", "place"):
        out.add(norm_place(speaker))
    for word in [*words, *(role or "").split()]:
        low = word.lower().strip(",.")
        mapped = norm_place(low)
        if mapped != low or low in METONYMS or low in DEMONYMS:
            out.add(mapped)
    if kind == "group" and not out:
        out.add(speaker.lower())
    return tuple(sorted(out))


def entity_norms(entities: Iterable[dict]) -> tuple[str, ...]:
    """People and organisations, normalised for overlap tests (surnames; countries for seats)."""
    out = set()
    for entity in entities:
        if entity["kind"] == "person":
            out.add(entity["name"].split()[-1].lower())
        elif entity["kind"] == "organization":
            out.add(norm_place(entity["name"]))
    return tuple(sorted(out))


def number_key(value: float, unit: str | None) -> tuple[float, str]:
    return (round(value, 6), unit or "")


def _term_hash(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "big")


def block_keys(sig: Signature) -> list[str]:
    """The blocks a claim is compared in."""
    polarity = f"{int(sig.negated)}{sig.direction or '-'}"
    keys: list[str] = []
    if len(sig.terms) >= MIN_SHARED_WITH_NUMBER:
        hashes = np.fromiter(
            (_term_hash(t) for t in sig.terms), dtype=np.uint64, count=len(sig.terms)
        )
        # Multiply-add modulo 2**64 (numpy wraps), high half kept: one MinHash per coefficient pair.
        mixed = (hashes[None, :] * _MULTIPLIERS[:, None] + _INCREMENTS[:, None]) >> np.uint64(32)
        mins = mixed.min(axis=1).tolist()
        for band in range(BANDS):
            rows = mins[band * ROWS : (band + 1) * ROWS]
            keys.append(f"t{band}:{polarity}:" + ":".join(f"{r:x}" for r in rows))
    for value, unit in sig.numbers:
        for entity in sig.entities:
            keys.append(f"n:{polarity}:{value}:{unit}:{entity}")
    return sorted(set(keys))


def numbers_agree(a: tuple, b: tuple) -> bool:
    if not a or not b:
        return True
    units_a: dict[str, set[float]] = {}
    units_b: dict[str, set[float]] = {}
    for value, unit in a:
        units_a.setdefault(unit, set()).add(value)
    for value, unit in b:
        units_b.setdefault(unit, set()).add(value)
    for unit in units_a.keys() & units_b.keys():
        if units_a[unit] != units_b[unit]:
            return False
    return bool(set(a) & set(b))


def matches(a: Signature, b: Signature) -> bool:
    """Whether two claims from different articles make the same assertion (see module doc)."""
    if a.article_id == b.article_id or a.negated != b.negated or a.direction != b.direction:
        return False
    if a.affiliation and b.affiliation and not set(a.affiliation) & set(b.affiliation):
        return False
    if not numbers_agree(a.numbers, b.numbers):
        return False
    if a.entities and b.entities and not set(a.entities) & set(b.entities):
        return False
    shared = set(a.terms) & set(b.terms)
    if set(a.numbers) & set(b.numbers) and set(a.entities) & set(b.entities):
        # The same quantity about the same named entity: one more shared word is enough.
        return len(shared) >= MIN_SHARED_WITH_NUMBER
    smaller = min(len(a.terms), len(b.terms))
    return len(shared) >= MIN_SHARED and len(shared) >= MIN_CONTAINMENT * smaller


# An end of a matched pair: (claim_id, source), all that clustering needs.
Node = tuple[str, str]


def match_block(members: Iterable[Signature]) -> Iterable[tuple[Node, Node]]:
    """Matching pairs within one block, each as (smaller claim_id, larger)."""
    ordered = sorted(set(members), key=lambda s: (s.claim_key, s.claim_id))
    window = len(ordered) if len(ordered) <= MAX_BLOCK else MAX_BLOCK_NEIGHBOURS
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 : i + 1 + window]:
            if matches(a, b):
                first, second = (a, b) if a.claim_id < b.claim_id else (b, a)
                yield (first.claim_id, first.source), (second.claim_id, second.source)


def components(edges: Iterable[tuple[Node, Node]]) -> Iterable[tuple[str, tuple[str, int]]]:
    """(claim_id, (claim_cluster_id, corroboration)) for every claim in a matched pair."""
    parent: dict[str, str] = {}
    source: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        for claim_id, claim_source in (a, b):
            parent.setdefault(claim_id, claim_id)
            source[claim_id] = claim_source
        ra, rb = find(a[0]), find(b[0])
        if ra != rb:
            # The smaller id is the root, so the root is the cluster's smallest claim_id.
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for claim_id in parent:
        groups.setdefault(find(claim_id), []).append(claim_id)
    for root, members in groups.items():
        corroboration = len({source[m] for m in members})
        for member in members:
            yield member, (root, corroboration)
