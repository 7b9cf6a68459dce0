"""The same claim across articles: signatures, blocking keys, pair verification, clusters.

A claim's signature holds what matching compares: the speaker's affiliation (surname, organisation
and the country it stands for: "the Kremlin" and "Kremlin spokesman Dmitry Peskov" both stand for
Russia), negation, direction of change, quantities, named entities and content terms.

Blocking (so that only plausible pairs are compared):
- MinHash LSH over content terms, BANDS bands of ROWS hashes, polarity in the key;
- quantity x entity: claims stating the same number with the same unit about the same entity.
Blocks are gathered in SHARDS shards (a stable hash of the block key picks the shard): Beam groups
one element per claim and shard, not one per claim and block (about 13 blocks a claim, most of them
holding that claim alone), and each shard forms its blocks in memory and compares a pair found in
several of its blocks once.

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
import zlib
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
# Fewer shards: fewer elements through the shuffle; more: more workers matching in parallel.
SHARDS = 4


def _fixed_coefficients(tag: str, odd: bool) -> np.ndarray:
    """Fixed (seed-free) 64-bit coefficients of the multiply-add hash family, read-only, as a
    column: one row per hash function."""
    values = [
        int.from_bytes(hashlib.blake2b(f"{tag}{i}".encode(), digest_size=8).digest(), "big")
        | int(odd)
        for i in range(BANDS * ROWS)
    ]
    array = np.array(values, dtype=np.uint64).reshape(-1, 1)
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


_HALF = np.uint64(32)


def block_keys(sig: Signature) -> list[str]:
    """The blocks a claim is compared in."""
    return sorted({key for _, key in _blocks(sig)})


def _blocks(sig: Signature) -> list[tuple[int, str]]:
    """(shard, key) of each block the claim is compared in. A band's blocks share a shard, so
    each shard holds about BANDS / SHARDS bands of every claim; crc32, never hash(), spreads the
    quantity blocks the same way in every process."""
    polarity = f"{int(sig.negated)}{sig.direction or '-'}"
    blocks: list[tuple[int, str]] = []
    if len(sig.terms) >= MIN_SHARED_WITH_NUMBER:
        blake2b = hashlib.blake2b
        hashes = np.array(
            [int.from_bytes(blake2b(t.encode(), digest_size=8).digest(), "big") for t in sig.terms],
            dtype=np.uint64,
        )
        # Multiply-add modulo 2**64 (numpy wraps), high half kept: one MinHash per coefficient pair.
        mixed = hashes * _MULTIPLIERS
        mixed += _INCREMENTS
        mixed >>= _HALF
        mins = [format(m, "x") for m in mixed.min(axis=1).tolist()]
        for band in range(BANDS):
            rows = ":".join(mins[band * ROWS : (band + 1) * ROWS])
            blocks.append((band % SHARDS, f"t{band}:{polarity}:{rows}"))
    for value, unit in sig.numbers:
        for entity in sig.entities:
            key = f"n:{polarity}:{value}:{unit}:{entity}"
            blocks.append((zlib.crc32(key.encode()) % SHARDS, key))
    return blocks


def numbers_agree(a: tuple, b: tuple) -> bool:
    return _numbers_agree(_units(a), _units(b))


def _units(numbers: tuple) -> dict[str, frozenset[float]]:
    """The values a claim states per unit."""
    units: dict[str, set[float]] = {}
    for value, unit in numbers:
        units.setdefault(unit, set()).add(value)
    return {unit: frozenset(values) for unit, values in units.items()}


def _numbers_agree(a: dict[str, frozenset[float]], b: dict[str, frozenset[float]]) -> bool:
    """No unit with different values on the two sides, and at least one shared quantity when
    both state any (a shared unit then shares its values)."""
    if not a or not b or a == b:
        return True
    shared = False
    for unit, values in a.items():
        other = b.get(unit)
        if other is not None:
            if other != values:
                return False
            shared = True
    return shared


class _Prepared:
    """A signature as matching reads it: sets built once per claim, not once per compared pair
    (a block compares each member with up to MAX_BLOCK others)."""

    __slots__ = (
        "affiliation",
        "article_id",
        "claim_id",
        "entities",
        "order",
        "polarity",
        "source",
        "term_count",
        "terms",
        "units",
    )

    def __init__(self, sig: Signature) -> None:
        self.claim_id = sig.claim_id
        self.source = sig.source
        self.article_id = sig.article_id
        # The whole row breaks ties, so block order never depends on input order.
        self.order = (sig.claim_key, sig.claim_id, tuple(sig))
        self.polarity = (sig.negated, sig.direction)
        self.affiliation = frozenset(sig.affiliation)
        self.units = _units(sig.numbers)
        self.entities = frozenset(sig.entities)
        self.terms = frozenset(sig.terms)
        self.term_count = len(sig.terms)


def matches(a: Signature, b: Signature) -> bool:
    """Whether two claims from different articles make the same assertion (see module doc)."""
    return _agree(_Prepared(a), _Prepared(b))


def _agree(a: _Prepared, b: _Prepared) -> bool:
    # Cheap tests first; speakers and numbers turn most compared pairs down.
    if a.article_id == b.article_id or a.polarity != b.polarity:
        return False
    if a.affiliation and b.affiliation and a.affiliation.isdisjoint(b.affiliation):
        return False
    units_a, units_b = a.units, b.units
    if not _numbers_agree(units_a, units_b):
        return False
    entities_a, entities_b = a.entities, b.entities
    both_name = bool(entities_a and entities_b)
    if both_name and entities_a.isdisjoint(entities_b):
        return False
    shared = len(a.terms & b.terms)
    if both_name and units_a and units_b:
        # The same quantity about the same named entity: one more shared word is enough.
        return shared >= MIN_SHARED_WITH_NUMBER
    smaller = min(a.term_count, b.term_count)
    return shared >= MIN_SHARED and shared >= MIN_CONTAINMENT * smaller


# An end of a matched pair: (claim_id, source), all that clustering needs.
Node = tuple[str, str]


def shard_keys(sig: Signature) -> dict[int, tuple[str, ...]]:
    """The claim's block keys by shard."""
    shards: dict[int, dict[str, None]] = {}
    for shard, key in _blocks(sig):
        shards.setdefault(shard, {})[key] = None
    return {shard: tuple(keys) for shard, keys in sorted(shards.items())}


def match_shard(members: Iterable[tuple[tuple, tuple[str, ...]]]) -> list[tuple[Node, Node]]:
    """Matching pairs in the blocks of one shard, each pair once, from (signature row, block keys
    in this shard) per claim."""
    blocks: dict[str, list[tuple]] = {}
    for row, keys in members:
        for key in keys:
            blocks.setdefault(key, []).append(row)
    # Most blocks hold one claim: only claims that meet another are prepared, each once (a claim
    # twice in the input is one member).
    prepared: dict[tuple, _Prepared] = {}
    edges: set[tuple[Node, Node]] = set()
    for rows in blocks.values():
        if len(rows) < 2:
            continue
        block: dict[_Prepared, None] = {}
        for row in rows:
            member = prepared.get(row)
            if member is None:
                member = prepared[row] = _Prepared(Signature(*row))
            block[member] = None
        edges.update(match_block(list(block)))
    return sorted(edges)


def match_block(members: list[_Prepared]) -> Iterable[tuple[Node, Node]]:
    """Matching pairs within one block, each as (smaller claim_id, larger)."""
    ordered = sorted(members, key=lambda member: member.order)
    window = len(ordered) if len(ordered) <= MAX_BLOCK else MAX_BLOCK_NEIGHBOURS
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 : i + 1 + window]:
            if _agree(a, b):
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
