"""Blocking keys across a shuffle: gathered by shard as arrays, and the buckets they form (pure).

Dedup (articles' LSH band keys) and claims (claims' band and quantity keys) find candidates the
same way: members sharing a 64-bit key are compared. In a batch run a batch's keys cross the
shuffle as a few compact elements per shard (``by_shard``), not one element per key and member;
each shard then finds the keys held by two or more of its members (``buckets``).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Sequence

import numpy as np

# A shard's share of one batch's keys: (its members, pickled as one list; their keys as uint64
# bytes; for each key the position of its member in that list, as int32 bytes). Three bytes
# objects: a local runner holds the grouped shards in its own process, as objects.
ShardBatch = tuple[bytes, bytes, bytes]


def by_shard(
    members: Sequence, keys: np.ndarray, owners: np.ndarray, shards: int
) -> list[tuple[int, ShardBatch]]:
    """A batch's keys (``uint64[k]``, key i held by ``members[owners[i]]``) gathered by shard
    (``key % shards``): (shard, ShardBatch), each member once per shard it has keys in."""
    keys = np.asarray(keys, dtype=np.uint64)
    owners = np.asarray(owners, dtype=np.int64)
    shard_of = keys % np.uint64(shards)
    gathered = []
    for shard in np.unique(shard_of).tolist():
        mask = shard_of == shard
        shard_owners = owners[mask]
        present = np.unique(shard_owners)
        local = np.searchsorted(present, shard_owners).astype(np.int32)
        shard_members = [members[i] for i in present.tolist()]
        packed = pickle.dumps(shard_members, protocol=pickle.HIGHEST_PROTOCOL)
        gathered.append((int(shard), (packed, keys[mask].tobytes(), local.tobytes())))
    return gathered


def buckets(batches: Iterable[ShardBatch]) -> tuple[list, list[list[int]]]:
    """One shard's batches -> (its members, in batch order; for each key two or more members
    hold, their positions in that list, ascending, each once). A key held by one member pairs
    nothing and is dropped before any Python object is made for it."""
    members: list = []
    key_parts, owner_parts = [], []
    for batch_members, keys, owners in batches:
        key_parts.append(np.frombuffer(keys, dtype=np.uint64))
        owner_parts.append(np.frombuffer(owners, dtype=np.int32).astype(np.int64) + len(members))
        members.extend(pickle.loads(batch_members))
    if not key_parts:
        return members, []
    keys, owners = np.concatenate(key_parts), np.concatenate(owner_parts)
    order = np.lexsort((owners, keys))
    keys, owners = keys[order], owners[order]
    # One entry per (key, member): a member may hold a key twice.
    fresh = np.ones(len(keys), dtype=bool)
    fresh[1:] = (keys[1:] != keys[:-1]) | (owners[1:] != owners[:-1])
    keys, owners = keys[fresh], owners[fresh]
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], len(keys))
    shared = ends - starts > 1
    return members, [
        owners[start:end].tolist()
        for start, end in zip(starts[shared].tolist(), ends[shared].tolist(), strict=True)
    ]
