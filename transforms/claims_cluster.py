"""The same claim across articles: signatures, blocking keys, pair verification, clusters.

A claim's signature holds what matching compares: the speaker's affiliation (surname, organisation
and the country it stands for: "the Kremlin" and "Kremlin spokesman Dmitry Peskov" both stand for
Russia), negation, direction of change, quantities, named entities and content terms.

Blocking (so that only plausible pairs are compared):
- MinHash LSH over content terms, BANDS bands of ROWS hashes, polarity in the key;
- quantity x entity: claims stating the same number with the same unit about the same entity.
Blocks are gathered in SHARDS shards (a stable hash of the block key picks the shard): Beam groups
one element per claim and shard, not one per claim and block (about 13 blocks a claim, most of them
holding that claim alone), and each shard forms its blocks in memory; a pair found in several of
its blocks is compared in each (about one pair in ten) and reported once.

Two claims from different articles match when negation and direction agree, their speakers are
compatible (either unknown, or sharing an affiliation), their numbers agree (no unit with different
values on the two sides; at least one shared quantity when both state any), their named people and
organisations overlap when both name some, and their content overlaps: a shared quantity plus
MIN_SHARED_WITH_NUMBER terms, or MIN_SHARED terms covering MIN_CONTAINMENT of the shorter claim.
Clusters are the connected components of matches; a cluster's id is its smallest claim_id and its
corroboration the number of distinct sources among its members. Nothing depends on element order.
"""

from __future__ import annotations

import gc
import hashlib
import pickle
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
# Fewer shards: less work in all (each shard unpacks and prepares the claims it holds, nearly all
# of them); more: more workers matching at once. Two, for two cores: the full Reuters set's
# matching costs 9.5 s of CPU in one shard, 11.3 s in two (5.9 s each), 14.0 s in four.
SHARDS = 2


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


def block_keys(sig: Signature) -> list[bytes]:
    """The blocks a claim is compared in."""
    return sorted({key for _, key in _blocks(sig)})


def _blocks(sig: Signature) -> list[tuple[int, bytes]]:
    """(shard, key) of each block the claim is compared in. A band's blocks share a shard, so
    each shard holds about BANDS / SHARDS bands of every claim; crc32, never hash(), spreads the
    quantity blocks the same way in every process. Keys are bytes: a band's key carries its
    hashes as they are, 4 bytes each, not formatted."""
    polarity = f"{int(sig.negated)}{sig.direction or '-'}".encode()
    blocks: list[tuple[int, bytes]] = []
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
        mins = mixed.min(axis=1).astype(">u4").tobytes()
        width = 4 * ROWS
        for band in range(BANDS):
            rows = mins[band * width : (band + 1) * width]
            blocks.append((band % SHARDS, b"t%d:%b:%b" % (band, polarity, rows)))
    for value, unit in sig.numbers:
        for entity in sig.entities:
            key = f"n:{polarity.decode()}:{value}:{unit}:{entity}".encode()
            blocks.append((zlib.crc32(key) % SHARDS, key))
    return blocks


def numbers_agree(a: tuple, b: tuple) -> bool:
    return _numbers_agree(_units(a), _units(b))


def _units(numbers: tuple) -> dict[str, tuple[float, ...]]:
    """The values a claim states per unit, sorted: a dict of tuples of floats, which Python's
    garbage collector does not track (see pack)."""
    units: dict[str, set[float]] = {}
    for value, unit in numbers:
        units.setdefault(unit, set()).add(value)
    return {unit: tuple(sorted(values)) for unit, values in units.items()}


def _numbers_agree(a: dict[str, tuple[float, ...]], b: dict[str, tuple[float, ...]]) -> bool:
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
        "overlaps",
        "polarity",
        "source",
        "term_count",
        "terms",
        "units",
    )

    def __init__(self, sig: Signature, packed: bytes) -> None:
        self.claim_id = sig.claim_id
        self.source = sig.source
        self.article_id = sig.article_id
        # The packed row breaks ties, so block order never depends on input order.
        self.order = (sig.claim_key, sig.claim_id, packed)
        self.polarity = (sig.negated, sig.direction)
        self.affiliation = frozenset(sig.affiliation)
        self.units = _units(sig.numbers)
        self.entities = frozenset(sig.entities)
        self.terms = frozenset(sig.terms)
        self.term_count = len(sig.terms)
        # What the overlap tests of match_block look for in both claims.
        self.overlaps = (sig.affiliation, sig.entities, tuple(self.units.items()))


def matches(a: Signature, b: Signature) -> bool:
    """Whether two claims from different articles make the same assertion (see module doc)."""
    return _agree(_Prepared(a, pack(a)), _Prepared(b, pack(b)))


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


def shard_keys(sig: Signature) -> dict[int, tuple[bytes, ...]]:
    """The claim's block keys by shard."""
    shards: dict[int, dict[bytes, None]] = {}
    for shard, key in _blocks(sig):
        shards.setdefault(shard, {})[key] = None
    return {shard: tuple(keys) for shard, keys in sorted(shards.items())}


def pack(sig: Signature) -> bytes:
    """A signature as it travels to its shards: one bytes object. A shard holds tens of thousands
    of rows; as nested tuples, Python's garbage collector would walk each of them on every pass,
    which costs more than the matching (bytes are not tracked)."""
    return pickle.dumps(tuple(sig), protocol=5)


def match_shard(members: Iterable[tuple[bytes, tuple[bytes, ...]]]) -> list[tuple[Node, Node]]:
    """Matching pairs in the blocks of one shard, each pair once, from (packed signature, block
    keys in this shard) per claim."""
    with _collector_paused():
        members = list(members)
        # Most blocks hold one claim: count first, and build only blocks of two or more.
        sizes = Counter(key for _, keys in members for key in keys)
        blocks: dict[bytes, list[bytes]] = {}
        for packed, keys in members:
            for key in keys:
                if sizes[key] > 1:
                    blocks.setdefault(key, []).append(packed)
        # Each claim is unpacked and prepared once; a claim twice in the input is one member.
        prepared: dict[bytes, _Prepared] = {}
        edges: set[tuple[Node, Node]] = set()
        for packed_members in blocks.values():
            block: dict[_Prepared, None] = {}
            for packed in packed_members:
                member = prepared.get(packed)
                if member is None:
                    member = prepared[packed] = _Prepared(Signature(*pickle.loads(packed)), packed)
                block[member] = None
            if len(block) > 1:
                edges.update(match_block(list(block)))
        return sorted(edges)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a shard keeps some 300,000 objects alive while it is
    matched (prepared claims, their sets, its blocks) and creates no cycles, yet the collections
    those allocations trigger walk the whole heap each time, nearly half the cost of matching on
    the Reuters set. The previous state is restored, so a caller that paused it keeps it paused."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def match_block(members: list[_Prepared]) -> Iterable[tuple[Node, Node]]:
    """Matching pairs within one block, each as (smaller claim_id, larger)."""
    if len(members) <= MAX_BLOCK:
        ordered, window = members, len(members)  # every pair is compared: order does not matter
    else:
        ordered = sorted(members, key=lambda member: member.order)
        window = MAX_BLOCK_NEIGHBOURS
    # Building the masks costs more than it saves in a small block.
    masks = _overlap_masks(ordered) if len(ordered) >= _MASKS_FROM else None
    for i, a in enumerate(ordered):
        if masks is None:
            following = ordered[i + 1 : i + 1 + window]
        else:
            last = min(i + window, len(ordered) - 1)
            may_agree = _may_agree(a, masks) & ((2 << last) - (2 << i))
            following = [ordered[j] for j in _bits(may_agree)]
        for b in following:
            if _agree(a, b):
                first, second = (a, b) if a.claim_id < b.claim_id else (b, a)
                yield (first.claim_id, first.source), (second.claim_id, second.source)


# The speaker, entity and numbers tests need two claims to share something when both state any
# (_Prepared.overlaps): an affiliation, a named entity, a unit with its values. Nearly nine pairs
# in ten that a block compares fail one of them; masks over the block's members (bit j: the j-th)
# find the others without looking at each pair.
_MASKS_FROM = 16

# Per overlap test: the mask of members stating nothing, and the mask of those stating each value.
_Masks = list[tuple[int, dict[object, int]]]


def _overlap_masks(ordered: list[_Prepared]) -> _Masks:
    masks: _Masks = []
    for test in range(len(ordered[0].overlaps)):
        unstated = 0
        stating: dict[object, int] = {}
        for j, member in enumerate(ordered):
            bit = 1 << j
            values = member.overlaps[test]
            if not values:
                unstated |= bit
            for value in values:
                stating[value] = stating.get(value, 0) | bit
        masks.append((unstated, stating))
    return masks


def _may_agree(member: _Prepared, masks: _Masks) -> int:
    """The mask of the block's members that pass every overlap test with this one."""
    allowed = -1
    for values, (unstated, stating) in zip(member.overlaps, masks, strict=True):
        if values:
            passing = unstated
            for value in values:
                passing |= stating[value]
            allowed &= passing
    return allowed


def _bits(mask: int) -> Iterator[int]:
    """Indices of the set bits, lowest first."""
    while mask:
        lowest = mask & -mask
        yield lowest.bit_length() - 1
        mask ^= lowest


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
