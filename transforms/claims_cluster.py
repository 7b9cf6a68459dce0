"""The same claim across articles: signatures, blocking keys, pair verification, clusters.

A claim's signature holds what matching compares: the speaker's affiliation (surname, organisation
and the country it stands for: "the Kremlin" and "Kremlin spokesman Dmitry Peskov" both stand for
Russia), negation, direction of change, quantities, named entities and content terms.

Blocking (so that only plausible pairs are compared), each block a 64-bit key:
- MinHash LSH over content terms, BANDS bands of ROWS hashes, polarity in the key;
- quantity x entity: claims stating the same number with the same unit about the same entity.
Keys are gathered in SHARDS shards by value (transforms.buckets): Beam groups a few array elements
per batch of claims and shard, not one element per claim and block (about 7 blocks a claim, most of
them holding that claim alone), and each shard finds its blocks of two or more claims with NumPy;
a pair found in several of its blocks is compared in each (about one pair in ten) and reported
once.

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
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from transforms.buckets import ShardBatch, buckets
from transforms.claims_lexicon import DEMONYMS, METONYMS, PLACE_ALIASES
from transforms.minhash import mix64

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


def _fixed_coefficients(tag: str, count: int, odd: bool) -> np.ndarray:
    """``count`` fixed (seed-free) 64-bit values, read-only, as a column: the coefficients of the
    multiply-add hash family (one row per hash function) or the bands' salts."""
    values = [_hash64(f"{tag}{i}") | int(odd) for i in range(count)]
    array = np.array(values, dtype=np.uint64).reshape(-1, 1)
    array.flags.writeable = False
    return array


def _hash64(text: str) -> int:
    """A fixed 64-bit hash of a string (never ``hash()``: it is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


_MULTIPLIERS = _fixed_coefficients("a", BANDS * ROWS, odd=True)
_INCREMENTS = _fixed_coefficients("b", BANDS * ROWS, odd=False)
_BAND_SALTS = _fixed_coefficients("band", BANDS, odd=False).reshape(-1)


class Signature(NamedTuple):
    """What matching compares of one claim. Negation, direction and content terms are read back
    from its claim_key (``key_parts``): a signature carries them once, in the key."""

    claim_id: str
    article_id: str
    source: str
    claim_key: str
    affiliation: tuple[str, ...]
    numbers: tuple[tuple[float, str], ...]
    entities: tuple[str, ...]


def claim_key(
    affiliation: tuple[str, ...] | None,
    negated: bool,
    direction: str,
    quantities: Iterable[tuple[float, str]],
    terms: Sequence[str],
) -> str:
    """``speaker#polarity#direction#numbers#terms``: what a claim asserts, normalised (the claims
    table's claim_key). ``affiliation`` None: no speaker; ``quantities``: number_key values."""
    speaker = "-" if affiliation is None else "|".join(affiliation)
    numbers = ",".join(f"{value:g}:{unit}" for value, unit in sorted(quantities))
    polarity = "neg" if negated else "pos"
    return f"{speaker}#{polarity}#{direction or '-'}#{numbers}#{' '.join(terms)}"


def key_parts(key: str) -> tuple[bool, str, tuple[str, ...]]:
    """(negated, direction or "", content terms) of a claim_key."""
    _, polarity, direction, _, terms = key.rsplit("#", 4)
    return polarity == "neg", direction.replace("-", ""), tuple(terms.split())


def norm_place(word: str) -> str:
    low = word.lower()
    low = PLACE_ALIASES.get(low, low).lower()
    return METONYMS.get(low, DEMONYMS.get(low, low))


# Cached: the same speakers recur in every batch, and each claim's is normalised twice (for its
# claim_key, then for its signature).
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


def block_keys(sigs: Sequence[Signature]) -> tuple[np.ndarray, np.ndarray]:
    """The blocks a batch of claims is compared in: their 64-bit keys (``uint64[k]``) and, for each
    key, the position of its claim in ``sigs``. A key stands for a band of MinHash values over the
    content terms, or for a quantity with an entity; the polarity is part of both."""
    parts = [key_parts(sig.claim_key) for sig in sigs]
    polarities = [_polarity(negated, direction) for negated, direction, _ in parts]
    termed = [i for i, (_, _, terms) in enumerate(parts) if len(terms) >= MIN_SHARED_WITH_NUMBER]
    polarity = np.array([polarities[i][1] for i in termed], dtype=np.uint64).reshape(-1, 1)
    bands = _band_keys(_minhashes([parts[i][2] for i in termed]), polarity)
    quantities = [
        (i, _hash64(f"n:{polarities[i][0]}:{value}:{unit}:{entity}"))
        for i, sig in enumerate(sigs)
        for value, unit in sig.numbers
        for entity in sig.entities
    ]
    keys = np.concatenate(
        (bands.reshape(-1), np.array([key for _, key in quantities], dtype=np.uint64))
    )
    owners = np.concatenate(
        (np.repeat(termed, BANDS), np.array([i for i, _ in quantities], dtype=np.int64))
    )
    return keys, owners


@lru_cache(maxsize=16)
def _polarity(negated: bool, direction: str) -> tuple[str, int]:
    """The polarity as block keys hold it: its text (quantity keys) and its hash (band keys)."""
    text = f"{int(negated)}{direction or '-'}"
    return text, _hash64(text)


def _minhashes(term_lists: Sequence[tuple[str, ...]]) -> np.ndarray:
    """``uint32[len(term_lists), BANDS * ROWS]``: each claim's MinHash values over its terms (none
    empty), computed for a whole batch of claims at once: per claim, numpy's call overhead cost
    more than the arithmetic."""
    if not term_lists:
        return np.empty((0, BANDS * ROWS), dtype=np.uint32)
    hashes = np.array([_term_hash(t) for terms in term_lists for t in terms], dtype=np.uint64)
    # Multiply-add modulo 2**64 (numpy wraps), high half kept: one MinHash per coefficient pair,
    # the minimum over each claim's own columns.
    mixed = hashes * _MULTIPLIERS
    mixed += _INCREMENTS
    mixed >>= _HALF
    counts = np.array([len(terms) for terms in term_lists])
    starts = np.concatenate(([0], np.cumsum(counts[:-1])))
    return np.minimum.reduceat(mixed, starts, axis=1).T.astype(np.uint32)


def _band_keys(minhashes: np.ndarray, polarity: np.ndarray) -> np.ndarray:
    """``uint64[n, BANDS]``: per band, its ROWS MinHash values, the band and the claim's polarity
    hashed into one key. Equal keys mean equal rows of the same band and polarity, but for a
    2**-64 chance: the mixer is a bijection."""
    rows = minhashes.reshape(len(minhashes), BANDS, ROWS).astype(np.uint64)
    keys = np.broadcast_to(_BAND_SALTS, rows.shape[:2])
    for row in range(ROWS):
        keys = mix64(keys ^ rows[:, :, row])
    return mix64(keys ^ polarity)


@lru_cache(maxsize=1 << 16)
def _term_hash(term: str) -> int:
    """A content term's fixed 64-bit hash, the input of the MinHash family."""
    return _hash64(term)


def numbers_agree(a: tuple, b: tuple) -> bool:
    return _numbers_agree(_units(a), _units(b))


def _units(numbers: tuple) -> dict[str, tuple[float, ...]]:
    """The values a claim states per unit, sorted: a dict of tuples of floats, which Python's
    garbage collector does not track (see _collector_paused)."""
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

    def __init__(self, sig: tuple, pool: _Pool | None = None) -> None:
        """``sig``: a Signature, or its fields as a tuple (as unpickled: no Signature built).
        ``pool``: where the claims prepared together share equal strings, sets and units: a
        shard's claims repeat speakers, entities, quantities and terms."""
        claim_id, article_id, source, key, affiliation, numbers, entities = sig
        negated, direction, terms = key_parts(key)
        pool = pool or _Pool()
        terms = pool.strings_of(terms)
        self.claim_id = claim_id
        self.source = source
        self.article_id = article_id
        # The whole signature breaks ties, so block order never depends on input order.
        self.order = (key, claim_id, tuple(sig))
        self.polarity = (negated, direction)
        self.affiliation = pool.frozen(affiliation)
        self.entities = pool.frozen(entities)
        self.terms = pool.frozen(terms)
        self.term_count = len(terms)
        self.units, unit_values = pool.units_of(numbers)
        # What the overlap tests of match_block look for in both claims.
        self.overlaps = (affiliation, entities, unit_values)


class _Pool:
    """Equal values of the claims of one shard, made once and shared (they are only read)."""

    __slots__ = ("_sets", "_strings", "_units")

    def __init__(self) -> None:
        self._strings: dict[str, str] = {}
        self._sets: dict[tuple[str, ...], frozenset[str]] = {}
        self._units: dict[tuple, tuple[dict[str, tuple[float, ...]], tuple]] = {}

    def strings_of(self, values: tuple[str, ...]) -> tuple[str, ...]:
        strings = self._strings
        return tuple([strings.setdefault(value, value) for value in values])

    def frozen(self, values: tuple[str, ...]) -> frozenset[str]:
        found = self._sets.get(values)
        if found is None:
            found = self._sets[values] = frozenset(values)
        return found

    def units_of(self, numbers: tuple) -> tuple[dict[str, tuple[float, ...]], tuple]:
        """_units(numbers), and its items as a tuple."""
        found = self._units.get(numbers)
        if found is None:
            units = _units(numbers)
            found = self._units[numbers] = (units, tuple(units.items()))
        return found


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


def match_shard(batches: Iterable[ShardBatch]) -> list[tuple[Node, Node]]:
    """Matching pairs in the blocks of one shard, each pair once, from its batches of signatures
    and block keys (``block_keys`` gathered by ``transforms.buckets.by_shard``)."""
    with _collector_paused():
        # Its locals (every prepared claim) are freed when _match_blocks returns, before the
        # collector resumes: alive then, they would all be walked by its next collection.
        edges = _match_blocks(*buckets(batches))
    # Matching spreads ~250 MB of small objects over pymalloc's arenas and frees them, but an
    # arena goes back to the OS only once all of it is free: the pairs it returns (made along the
    # way) and the interpreter's free lists (which keep freed tuples, lists, dicts and floats)
    # would hold most arenas for the rest of the run. The pairs are copied into compact memory,
    # and a full collection empties the free lists.
    edges = pickle.loads(pickle.dumps(edges, protocol=pickle.HIGHEST_PROTOCOL))
    gc.collect()
    return edges


def _match_blocks(members: list[tuple], blocks: list[list[int]]) -> list[tuple[Node, Node]]:
    # Each claim is prepared once, when a block first needs it: most claims share no block.
    prepared: list[_Prepared | None] = [None] * len(members)
    pool = _Pool()
    edges: set[tuple[Node, Node]] = set()
    for indices in blocks:
        block_members: list[_Prepared] = []
        for index in indices:
            member = prepared[index]
            if member is None:
                member = prepared[index] = _Prepared(members[index], pool)
            block_members.append(member)
        edges.update(match_block(block_members))
    return sorted(edges)


class _CollectorPause:
    """Pauses the cyclic garbage collector: a shard keeps some 300,000 objects alive while it is
    matched (prepared claims, their sets, its blocks) and creates no cycles, yet the collections
    those allocations trigger walk the whole heap each time, nearly half the cost of matching on
    the Reuters set.

    A worker may match shards in several threads at once, and the collector is one per process:
    it resumes when the last pause ends, and only if it was running when the first began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pauses = 0
        self._resume = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if not self._pauses:
                self._resume = gc.isenabled()
                gc.disable()
            self._pauses += 1
        try:
            yield
        finally:
            with self._lock:
                self._pauses -= 1
                if not self._pauses and self._resume:
                    gc.enable()


_collector_paused = _CollectorPause()


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
