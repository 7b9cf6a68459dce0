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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain
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


# Cached: the same speakers recur in every batch, and each claim's is normalised twice (for its
# claim_key, then for its signature). Not norm_place: entity_norms would then share its strings
# with the affiliation, and pickle, which writes a shared object once, would pack other bytes.
@lru_cache(maxsize=1 << 14)
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


def _minhashes(term_lists: Sequence[tuple[str, ...]]) -> list[bytes]:
    """Each claim's BANDS * ROWS MinHash values over its terms, 4 bytes each (empty without
    terms), computed for a whole batch of claims at once: per claim, numpy's call overhead cost
    more than the arithmetic."""
    hashes = np.array([_term_hash(t) for terms in term_lists for t in terms], dtype=np.uint64)
    if not len(hashes):
        return [b"" for _ in term_lists]
    # Multiply-add modulo 2**64 (numpy wraps), high half kept: one MinHash per coefficient pair,
    # the minimum over each claim's own columns.
    mixed = hashes * _MULTIPLIERS
    mixed += _INCREMENTS
    mixed >>= _HALF
    counts = [len(terms) for terms in term_lists]
    starts = np.cumsum([0, *counts[:-1]])[np.array(counts) > 0]
    mins = np.minimum.reduceat(mixed, starts, axis=1).T.astype(">u4").tobytes()
    width = 4 * BANDS * ROWS
    out: list[bytes] = []
    position = 0
    for count in counts:
        if count:
            out.append(mins[position : position + width])
            position += width
        else:
            out.append(b"")
    return out


def _blocks(sig: Signature, minhash: bytes) -> list[tuple[int, bytes]]:
    """(shard, key) of each block the claim is compared in, ``minhash`` being _minhashes' value
    for its terms. A band's blocks share a shard, so each shard holds about BANDS / SHARDS bands
    of every claim; crc32, never hash(), spreads the quantity blocks the same way in every
    process. Keys are bytes: a band's key carries its hashes as they are, 4 bytes each, not
    formatted."""
    polarity = f"{int(sig.negated)}{sig.direction or '-'}".encode()
    blocks: list[tuple[int, bytes]] = []
    if len(sig.terms) >= MIN_SHARED_WITH_NUMBER:
        width = 4 * ROWS
        blocks = [
            (shard, head + minhash[offset : offset + width])
            for shard, head, offset in _band_heads(polarity)
        ]
    for value, unit in sig.numbers:
        for entity in sig.entities:
            key = f"n:{polarity.decode()}:{value}:{unit}:{entity}".encode()
            blocks.append((zlib.crc32(key) % SHARDS, key))
    return blocks


@lru_cache(maxsize=16)
def _band_heads(polarity: bytes) -> tuple[tuple[int, bytes, int], ...]:
    """Per band: its shard, the start of its block key ("t3:0up:"), where its rows start in a
    MinHash. Formatting them for each claim cost more than the rest of its keys."""
    return tuple(
        (band % SHARDS, b"t%d:%b:" % (band, polarity), band * 4 * ROWS) for band in range(BANDS)
    )


@lru_cache(maxsize=1 << 16)
def _term_hash(term: str) -> int:
    """A content term's fixed 64-bit hash, the input of the MinHash family."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=8).digest(), "big")


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

    def __init__(self, sig: tuple, packed: bytes) -> None:
        """``sig``: a Signature, or its fields as unpickled from ``packed`` (no Signature built:
        unpacking the tuple is all the fields are needed for)."""
        (
            claim_id,
            article_id,
            source,
            claim_key,
            affiliation,
            negated,
            direction,
            numbers,
            entities,
            terms,
        ) = sig
        self.claim_id = claim_id
        self.source = source
        self.article_id = article_id
        # The packed row breaks ties, so block order never depends on input order.
        self.order = (claim_key, claim_id, packed)
        self.polarity = (negated, direction)
        self.affiliation = frozenset(affiliation)
        self.units = _units(numbers)
        self.entities = frozenset(entities)
        self.terms = frozenset(terms)
        self.term_count = len(terms)
        # What the overlap tests of match_block look for in both claims.
        self.overlaps = (affiliation, entities, tuple(self.units.items()))


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
    return batch_shard_keys([sig])[0]


def batch_shard_keys(sigs: Sequence[Signature]) -> list[dict[int, tuple[bytes, ...]]]:
    """shard_keys of each claim of a batch: the MinHashes of all of them computed at once."""
    out: list[dict[int, tuple[bytes, ...]]] = []
    for sig, minhash in zip(sigs, _minhashes([sig.terms for sig in sigs]), strict=True):
        shards: dict[int, list[bytes]] = {}
        # A key always falls in the same shard: dropping repeated (shard, key) pairs drops
        # repeated keys.
        for shard, key in dict.fromkeys(_blocks(sig, minhash)):
            shards.setdefault(shard, []).append(key)
        out.append({shard: tuple(keys) for shard, keys in sorted(shards.items())})
    return out


def pack(sig: Signature) -> bytes:
    """A signature as it travels to its shards: one bytes object. A shard holds tens of thousands
    of rows; as nested tuples, Python's garbage collector would walk each of them on every pass,
    which costs more than the matching (bytes are not tracked)."""
    return pickle.dumps(tuple(sig), protocol=5)


def match_shard(members: Iterable[tuple[bytes, tuple[bytes, ...]]]) -> list[tuple[Node, Node]]:
    """Matching pairs in the blocks of one shard, each pair once, from (packed signature, block
    keys in this shard) per claim."""
    with _collector_paused():
        # Its locals (every prepared claim) are freed when _match_members returns, before the
        # collector resumes: alive then, they would all be walked by its next collection.
        return _match_members(members)


def _match_members(members: Iterable[tuple[bytes, tuple[bytes, ...]]]) -> list[tuple[Node, Node]]:
    # A claim twice in the input is one member (its packed row names it); blocks then list the
    # claims by index, so each is hashed once here rather than once per block it sits in.
    keys_of = dict(members)
    packed_rows = list(keys_of)
    # Most blocks hold one claim: count first, and build only blocks of two or more.
    sizes = Counter(chain.from_iterable(keys_of.values()))
    blocks: dict[bytes, list[int]] = {key: [] for key, size in sizes.items() if size > 1}
    for index, keys in enumerate(keys_of.values()):
        for key in keys:
            block = blocks.get(key)
            if block is not None:
                block.append(index)
    # Each claim is unpacked and prepared once, when a block first needs it.
    prepared: list[_Prepared | None] = [None] * len(packed_rows)
    edges: set[tuple[Node, Node]] = set()
    for indices in blocks.values():
        block_members: list[_Prepared] = []
        for index in indices:
            member = prepared[index]
            if member is None:
                packed = packed_rows[index]
                member = prepared[index] = _Prepared(pickle.loads(packed), packed)
            block_members.append(member)
        edges.update(match_block(block_members))
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
