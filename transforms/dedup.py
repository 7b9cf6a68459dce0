"""Deduplicate: exact and near-duplicate wire stories grouped into clusters, as a wire editor would.

Pure logic first, then the Beam wrapper. The stages:

1. Exact copies: articles sharing a ``content_hash`` are joined to the earliest of them.
2. Candidates: MinHash LSH (``transforms.minhash``) on two views of each text -- the whole story
   and its lead -- so a trimmed copy or a one-paragraph brief still meets the full story.
3. Verification of each candidate pair on the texts themselves (``compare`` / ``decide``):
   resemblance, containment of the shorter text with its position in the longer one, and agreement
   of the "slots" (numbers, names) where the two texts otherwise read alike -- the test that keeps
   templated earnings briefs or game results apart although they share most of their words.
4. Clustering (``assign_clusters``) on the verified edge list only: in publication order, each
   article joins the cluster of its best verified *earlier* match, and only if it also verifies
   against that cluster's canonical article (or is a copy of the match) -- links never chain.

Canonical = earliest ``published_at`` (``ingested_at`` when unknown), ties broken by the smaller
``article_id``, so the result does not depend on input order, runner or worker count. A duplicate's
``similarity`` is the share of the shorter text's shingles found in the match it joined.

Append mode (``wirestream run --mode append``) keeps a signature index beside the tables
(``schemas.DEDUP_INDEX``): ``ReadDedupIndex`` -> ``DropIndexed`` (ids already written) ->
``Deduplicate(params, index=...)`` (new articles against the index; indexed clusters never
change) -> ``IndexRows`` (this run's rows, to add to the index).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from schemas.tables import SCHEMA_VERSION
from transforms.batches import in_batches
from transforms.buckets import ShardBatch, buckets, by_shard
from transforms.minhash import (
    MinHasher,
    MinHashParams,
    Tokenizer,
    batch_shingle_hashes,
    has_shingles,
    raw_words,
    shingle_hashes,
)
from transforms.minhash import story_text as _story_text
from transforms.packing import pack_rows, unpack_rows

# (microseconds since the epoch of published_at or ingested_at, article_id): the canonical order.
# Articles of earlier runs (read from the signature index) go before all of this run's, whatever
# their keys: their rows are written and cannot change.
OrderKey = tuple[int, str]

EXACT, NEAR, CONTAINED, PARTIAL = "exact", "near", "contained", "partial"
# LSH band keys are grouped in this many shards, each of which forms its buckets in memory: more
# shards, more workers pairing at once; fewer, fewer elements through the shuffle and fewer copies
# of each member (an article has keys in nearly every shard, and goes to each once per batch:
# with 16 shards that made the grouped keys 2x the size they are with 4).
BAND_SHARDS = 4


def _param(default, help: str):
    """A DedupParams field whose help text becomes its command-line documentation."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class DedupParams:
    """Every tunable of the stage; defaults are the ones measured in benchmarks/dedup/.

    Each field is also a ``wirestream run`` option (``--dedup-<field-with-dashes>``, see
    ``pipeline.options.DedupOptions``).
    """

    num_perm: int = _param(128, "MinHash permutations per signature view.")
    bands: int = _param(32, "LSH bands (must divide num_perm; rows per band = num_perm / bands).")
    shingle_size: int = _param(5, "Words per shingle, for signatures and verification.")
    lead_shingles: int = _param(
        25, "Shingles in the lead view, the second signature that lets briefs meet full stories."
    )
    seed: int = _param(20240611, "Seed of the MinHash permutations (stored with signatures).")
    resemblance_threshold: float = _param(
        0.5, "A pair whose shingle Jaccard reaches this is a duplicate (if its slots agree)."
    )
    containment_threshold: float = _param(
        0.8,
        "A pair whose shorter text has this share of its shingles in the longer one, starting at "
        "the longer one's lead, is a duplicate (a trim or brief; if its slots agree).",
    )
    slot_agreement_threshold: float = _param(
        0.75,
        "Below this share of agreeing numbers and names, where the two texts' templates match, a "
        "pair is a templated look-alike (earnings, results), never a duplicate.",
    )
    min_slot_conflicts: int = _param(
        2,
        "Differing numbers or names a pair needs before it can be judged templated (one alone is "
        "a write-through's update).",
    )
    min_contained_shingles: int = _param(
        12, "Shortest text (in shingles) that may match by containment alone."
    )
    lead_slack: int = _param(
        15, "How far (in shingles) into the longer text a contained text may start."
    )
    partial_min_shingles: int = _param(
        10,
        "Shared shingles that mark a block of the later text as quoted from another story (a "
        "roundup); containment inside such a block is not trusted.",
    )
    copy_resemblance: float = _param(
        0.9,
        "A match this close is a copy: the article joins the match's cluster without verifying "
        "against the cluster's canonical article itself.",
    )
    max_bucket: int = _param(
        200, "An LSH bucket larger than this pairs each article with its max_bucket predecessors."
    )

    @property
    def minhash(self) -> MinHashParams:
        return MinHashParams(
            num_perm=self.num_perm,
            bands=self.bands,
            shingle_size=self.shingle_size,
            lead_shingles=self.lead_shingles,
            seed=self.seed,
        )

    @classmethod
    def from_options(cls, options) -> DedupParams:
        """Build from ``PipelineOptions`` (reads ``DedupOptions``; unknown fields keep defaults)."""
        from pipeline.options import DedupOptions  # pipeline/ imports transforms/, not vice versa

        values = options.view_as(DedupOptions).get_all_options()
        fields = (f.name for f in dataclasses.fields(cls))
        return cls(
            **{f: values[f"dedup_{f}"] for f in fields if values.get(f"dedup_{f}") is not None}
        )


def _micros(when: datetime) -> int:
    """Microseconds since the epoch, exact (no float rounding)."""
    micros = (
        (when.toordinal() - 719163) * 86_400_000_000
        + (when.hour * 3600 + when.minute * 60 + when.second) * 1_000_000
        + when.microsecond
    )
    offset = when.utcoffset()
    return micros - int(offset.total_seconds() * 1_000_000) if offset else micros


def order_key(article: dict) -> OrderKey:
    """The canonical order of an article: earliest publication (else ingest) time, then id."""
    when: datetime = article.get("published_at") or article["ingested_at"]
    return _micros(when), article["article_id"]


def indexed_key(row: dict) -> OrderKey:
    """The order key of a signature-index row."""
    return _micros(row["order_at"]), row["article_id"]


def _rank(key: OrderKey, stored_cluster: str | None) -> tuple[int, OrderKey]:
    """Indexed articles (with a stored cluster) first, then canonical order."""
    return (0 if stored_cluster is not None else 1), key


# --- verification -----------------------------------------------------------------------------

_NUMBER_SLOT = np.uint64(0x9E3779B97F4A7C15)
_NAME_SLOT = np.uint64(0xC2B2AE3D27D4EB4F)
_SENTENCE_END = (".", "!", "?", ":", '"', "'")
# Capitalised only because they open a sentence; any other capitalised word there is a name
# ("Brightline said ..." in one brief, "Thornbury said ..." in its templated sibling).
# fmt: off
_SENTENCE_OPENERS = frozenset({
    "a", "about", "after", "again", "against", "all", "also", "although", "an", "and", "another",
    "any", "as", "at", "because", "before", "both", "but", "by", "despite", "during", "each",
    "earlier", "either", "even", "every", "few", "for", "from", "further", "he", "her", "here",
    "his", "however", "i", "if", "in", "instead", "into", "it", "its", "last", "later", "many",
    "meanwhile", "more", "most", "much", "my", "neither", "no", "nor", "not", "now", "of", "on",
    "once", "one", "only", "or", "other", "our", "over", "she", "since", "so", "some", "still",
    "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "those", "though", "three", "through", "to", "two", "under", "unlike", "until", "up", "we",
    "what", "when", "where", "whether", "which", "while", "who", "why", "with", "within",
    "without", "yet", "you", "your",
})
# fmt: on


@dataclass(frozen=True)
class TextProfile:
    """What verification needs of one text: its tokens, slots and shingles, in text order."""

    tokens: np.ndarray  # token hashes
    slots: np.ndarray  # bool per token: a number or a name
    real: np.ndarray  # shingle hashes of the words
    template: np.ndarray  # the same with numbers and names replaced by placeholders
    shingle_size: int

    @property
    def width(self) -> int:
        """Tokens per shingle (a text shorter than the shingle size is one shingle)."""
        return min(self.shingle_size, len(self.tokens))


def profile(text: str, tokenizer: Tokenizer, shingle_size: int) -> TextProfile:
    """Shingle a text for verification, marking numbers and names ("slots")."""
    hashes: list[int] = []
    slots: list[np.uint64 | None] = []
    for paragraph in _story_text(text).split("\n\n"):
        sentence_start = True
        for raw in raw_words(paragraph):
            word, hashed = tokenizer.lookup(raw)
            if word:
                hashes.append(hashed)
                core = raw.strip("'.,\"")
                if any(c.isdigit() for c in core):
                    slots.append(_NUMBER_SLOT)
                elif core[:1].isupper() and (
                    not sentence_start or word not in _SENTENCE_OPENERS or core.isupper()
                ):
                    slots.append(_NAME_SLOT)
                else:
                    slots.append(None)
            sentence_start = raw.endswith(_SENTENCE_END)
    real_tokens = np.array(hashes, dtype=np.uint64)
    template_tokens = np.array(
        [h if slot is None else slot for h, slot in zip(hashes, slots, strict=True)],
        dtype=np.uint64,
    )
    return TextProfile(
        tokens=real_tokens,
        slots=np.array([s is not None for s in slots], dtype=bool),
        real=shingle_hashes(real_tokens, shingle_size),
        template=shingle_hashes(template_tokens, shingle_size),
        shingle_size=shingle_size,
    )


def slot_alignment(shorter: TextProfile, longer: TextProfile) -> tuple[int, int]:
    """(aligned, agreeing) slots of the shorter text.

    Where a shingle of the shorter text has the template of one in the longer text, the two
    windows line up token by token; a slot inside is aligned, and agrees when the longer text has
    the same word at that place in at least one such window. A write-through's updated figure is
    one disagreeing slot; a templated sibling disagrees on most of them.
    """
    width = shorter.width
    if not width or width != longer.width:
        return 0, 0
    offsets = np.arange(width)
    aligned = np.zeros(len(shorter.tokens), dtype=bool)
    agreeing = np.zeros(len(shorter.tokens), dtype=bool)
    # Windows found word for word in the longer text agree throughout.
    agreeing[(np.flatnonzero(np.isin(shorter.real, longer.real))[:, None] + offsets).ravel()] = True
    # Other windows with a matching template: compare with its first place in the longer text.
    templates, first = np.unique(longer.template, return_index=True)
    where = np.searchsorted(templates, shorter.template).clip(max=len(templates) - 1)
    matched = templates[where] == shorter.template
    short_pos = np.flatnonzero(matched)[:, None] + offsets
    long_pos = first[where[matched]][:, None] + offsets
    aligned[short_pos.ravel()] = True
    agreeing[short_pos[shorter.tokens[short_pos] == longer.tokens[long_pos]]] = True
    return int((aligned & shorter.slots).sum()), int((aligned & agreeing & shorter.slots).sum())


@dataclass(frozen=True)
class PairEvidence:
    """How two texts relate; ``a`` and ``b`` in the order given to ``compare``."""

    shared: int  # distinct shingles in both
    containment: float  # of the shorter text in the longer one
    resemblance: float  # Jaccard of the shingle sets
    # Slots (numbers, names) of the shorter text that sit where the two templates match: the
    # share that has the same word in the longer text, and how many have another word there.
    slot_agreement: float
    slot_conflicts: int
    a_is_shorter: bool
    span_a: tuple[int, int]  # shingle positions of the shared block in a (first, last)
    span_b: tuple[int, int]


def _span(positions: np.ndarray) -> tuple[int, int]:
    """The shared block's extent, ignoring up to two stray shared phrases at either end."""
    if not len(positions):
        return (-1, -1)
    skip = min(2, (len(positions) - 1) // 2)
    return int(positions[skip]), int(positions[len(positions) - 1 - skip])


def compare(a: TextProfile, b: TextProfile) -> PairEvidence:
    """Measure two texts against each other (symmetric up to the a/b labels)."""
    set_a, set_b = np.unique(a.real), np.unique(b.real)
    shared = len(np.intersect1d(set_a, set_b, assume_unique=True))
    a_is_shorter = (len(set_a), 0) <= (len(set_b), 1)
    shorter, longer = (a, b) if a_is_shorter else (b, a)
    short_set = set_a if a_is_shorter else set_b
    union = len(set_a) + len(set_b) - shared
    aligned, agreeing = slot_alignment(shorter, longer)
    return PairEvidence(
        shared=shared,
        containment=shared / len(short_set) if len(short_set) else 0.0,
        resemblance=shared / union if union else 0.0,
        slot_agreement=agreeing / aligned if aligned else 1.0,
        slot_conflicts=aligned - agreeing,
        a_is_shorter=a_is_shorter,
        span_a=_span(np.flatnonzero(np.isin(a.real, set_b))),
        span_b=_span(np.flatnonzero(np.isin(b.real, set_a))),
    )


def decide(evidence: PairEvidence, params: DedupParams) -> str | None:
    """NEAR, CONTAINED, PARTIAL (a shared block, not a duplicate) or None (unrelated)."""
    if (
        evidence.slot_conflicts >= params.min_slot_conflicts
        and evidence.slot_agreement < params.slot_agreement_threshold
    ):
        return None  # the same template filled with other names or numbers
    if evidence.resemblance >= params.resemblance_threshold:
        return NEAR
    short_size = evidence.shared / evidence.containment if evidence.containment else 0
    long_span = evidence.span_b if evidence.a_is_shorter else evidence.span_a
    if (
        evidence.containment >= params.containment_threshold
        and short_size >= params.min_contained_shingles
        and 0 <= long_span[0] <= params.lead_slack
    ):
        return CONTAINED
    if evidence.shared >= params.partial_min_shingles:
        return PARTIAL
    return None


# --- clustering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """A relation between an earlier and a later article, as verification found it."""

    earlier: str
    earlier_key: OrderKey
    later: str
    later_key: OrderKey
    kind: str  # EXACT | NEAR | CONTAINED | PARTIAL
    similarity: float  # containment of the shorter text in the longer one
    resemblance: float
    later_is_shorter: bool = False
    earlier_span: tuple[int, int] = (-1, -1)
    later_span: tuple[int, int] = (-1, -1)
    # The stored cluster of an earlier article read from the signature index (None if new).
    earlier_cluster: str | None = None


def make_edge(a: tuple, b: tuple, kind: str, evidence: PairEvidence) -> Edge:
    """Orient a related pair, given as (id, order key[, stored cluster]) ends: earlier first."""
    a_cluster, b_cluster = _stored(a, 2), _stored(b, 2)
    if _rank(a[1], a_cluster) > _rank(b[1], b_cluster):
        return make_edge(
            b,
            a,
            kind,
            dataclasses.replace(
                evidence,
                a_is_shorter=not evidence.a_is_shorter,
                span_a=evidence.span_b,
                span_b=evidence.span_a,
            ),
        )
    return Edge(
        earlier=a[0],
        earlier_key=a[1],
        later=b[0],
        later_key=b[1],
        kind=kind,
        similarity=evidence.containment,
        resemblance=evidence.resemblance,
        later_is_shorter=not evidence.a_is_shorter,
        earlier_span=evidence.span_a,
        later_span=evidence.span_b,
        earlier_cluster=a_cluster,
    )


@dataclass(frozen=True)
class Assignment:
    """The dedup columns of a duplicate article (canonical articles keep their defaults)."""

    cluster_id: str
    duplicate_of: str
    similarity: float


def _covers(block: tuple[int, int], span: tuple[int, int]) -> bool:
    """Does ``block`` cover at least half of ``span`` (shingle positions, inclusive)?"""
    if block[0] < 0 or span[0] < 0:
        return False
    common = min(block[1], span[1]) - max(block[0], span[0]) + 1
    return 2 * common >= span[1] - span[0] + 1


def _borrowed(edge: Edge, partials: dict[str, list[tuple[str, tuple[int, int]]]]) -> bool:
    """A containment whose block, in the longer text, is mostly a block that text shares with a
    third, unrelated earlier article.

    That is a roundup quoting stories: a brief contained in it belongs to the quoted story.
    """
    if edge.later_is_shorter:
        host, span, short = edge.earlier, edge.earlier_span, edge.later
    else:
        host, span, short = edge.later, edge.later_span, edge.earlier
    return any(other != short and _covers(block, span) for other, block in partials.get(host, ()))


def assign_clusters(edges: Iterable[Edge], params: DedupParams) -> dict[str, Assignment]:
    """Cluster articles from the edge list alone; returns the duplicates' assignments.

    In canonical order, each article joins the cluster of its best verified earlier match (highest
    similarity, then resemblance, then the earliest match), provided it is a copy of that match or
    the match is canonical or the article also verifies against the canonical. Anything else stays
    canonical, so a roundup that contains two stories' briefs cannot merge them. Articles from the
    signature index keep their stored cluster and get no assignment.
    """
    edges = sorted(set(edges), key=lambda e: (e.later_key, e.earlier_key, e.kind))
    fixed = {e.earlier: e.earlier_cluster for e in edges if e.earlier_cluster is not None}
    keys: dict[str, OrderKey] = {}
    partials: dict[str, list[tuple[str, tuple[int, int]]]] = defaultdict(list)
    for e in edges:
        keys[e.earlier], keys[e.later] = e.earlier_key, e.later_key
        if e.kind == PARTIAL:
            # The earlier article's block shows up in the later one: mark it there.
            partials[e.later].append((e.earlier, e.later_span))
    verified: set[tuple[str, str]] = set()
    incoming: dict[str, list[Edge]] = defaultdict(list)
    for e in edges:
        if e.kind == PARTIAL or (e.kind == CONTAINED and _borrowed(e, partials)):
            continue
        verified.add((e.earlier, e.later))
        incoming[e.later].append(e)

    root: dict[str, str] = {}
    assignments: dict[str, Assignment] = {}
    for article in sorted(keys, key=lambda a: _rank(keys[a], fixed.get(a))):
        root[article] = fixed.get(article, article)
        if article in fixed:
            continue
        ranked = sorted(
            incoming.get(article, ()),
            key=lambda e: (-e.similarity, -e.resemblance, _rank(e.earlier_key, e.earlier_cluster)),
        )
        for e in ranked:
            canonical = root[e.earlier]
            if (
                canonical == e.earlier
                or e.kind == EXACT
                or e.resemblance >= params.copy_resemblance
                or (canonical, article) in verified
            ):
                root[article] = canonical
                assignments[article] = Assignment(canonical, e.earlier, round(e.similarity, 4))
                break
    return assignments


def exact_edges(members: Iterable[tuple]) -> list[Edge]:
    """Articles with one content hash, as (order key, id[, stored cluster]): each later copy is an
    exact duplicate of the earliest (an indexed copy first). Indexed copies are settled already."""
    ordered = sorted({(_rank(m[0], _stored(m, 2)), m[1], _stored(m, 2)) for m in members})
    if len(ordered) < 2:
        return []
    (first_rank, first, first_cluster), rest = ordered[0], ordered[1:]
    return [
        Edge(first, first_rank[1], other, rank[1], EXACT, 1.0, 1.0, earlier_cluster=first_cluster)
        for rank, other, cluster in rest
        if cluster is None
    ]


def _stored(member: tuple, position: int) -> str | None:
    """The optional stored cluster at ``position`` of a member tuple (None for new articles)."""
    return member[position] if len(member) > position else None


def bucket_pairs(members: Iterable[tuple], max_bucket: int) -> Iterator[tuple[str, str]]:
    """Candidate pairs (earlier id, later id) of one LSH bucket of (order key, article_id,
    content_hash[, stored cluster]) members.

    Exact copies are represented by their earliest member (``exact_edges`` covers the rest);
    two indexed articles were compared in their own run; an oversized bucket (a boilerplate band)
    pairs each article with its ``max_bucket`` predecessors only, which keeps the work linear
    without depending on input order.
    """
    ranked = sorted({(_rank(m[0], _stored(m, 3)), m[1], m[2], _stored(m, 3)) for m in members})
    seen_hashes: set[str] = set()
    distinct: list[tuple[str, bool]] = []
    for _, article_id, content_hash, cluster in ranked:
        if content_hash not in seen_hashes:
            seen_hashes.add(content_hash)
            distinct.append((article_id, cluster is not None))
    for i, (later, indexed) in enumerate(distinct):
        if not indexed:
            for earlier, _ in distinct[max(0, i - max_bucket) : i]:
                yield earlier, later


# --- Beam wrapper -------------------------------------------------------------------------------


# The field ``SignFn`` adds to a row: both views' MinHash signatures, packed (little-endian uint32,
# the whole text's then the lead's). Signed once, read by the band keys and by the signature index.
SIGNATURES = "_signatures"
_PACKED = np.dtype("<u4")


def pack_signatures(whole: np.ndarray, lead: np.ndarray) -> bytes:
    return np.concatenate((whole, lead)).astype(_PACKED).tobytes()


def unpack_signatures(rows: Sequence[dict], num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """(whole, lead) signatures, ``uint32[len(rows), num_perm]`` each, of signed rows."""
    packed = b"".join(row[SIGNATURES] for row in rows)
    both = np.frombuffer(packed, dtype=_PACKED).reshape(len(rows), 2, num_perm)
    return both[:, 0].astype(np.uint32), both[:, 1].astype(np.uint32)


class SignFn(beam.DoFn):
    """Batches of rows with a ``text`` -> each row with its ``SIGNATURES`` (vectorised MinHash).

    ``packed``: also yield each signed batch as one ``PACKED_BATCHES`` element (``pack_rows``),
    for a consumer in a later stage: a batch runner holds it between the stages as one compressed
    element instead of one encoded row per article.
    """

    def __init__(self, params: MinHashParams, packed: bool = False):
        self._params = params
        self._packed = packed

    def setup(self) -> None:
        self._tokenizer = Tokenizer()
        self._hasher = MinHasher(self._params)

    def process(self, batch: Sequence[dict]) -> Iterator[dict]:
        tokens = [self._tokenizer.hashes(_story_text(row["text"])) for row in batch]
        shingles = batch_shingle_hashes(tokens, self._params.shingle_size)
        whole, lead = self._hasher.signatures(shingles)
        signed = [
            {**row, SIGNATURES: pack_signatures(whole[i], lead[i])} for i, row in enumerate(batch)
        ]
        yield from signed
        if self._packed:
            yield beam.pvalue.TaggedOutput(PACKED_BATCHES, pack_rows(signed))


# The tag of SignFn's packed batches (transforms.packing.pack_rows).
PACKED_BATCHES = "packed_batches"


def article_member(article: dict) -> tuple:
    """An article as an LSH bucket member: (order key, id, content hash)."""
    return order_key(article), article["article_id"], article["content_hash"]


def index_member(row: dict) -> tuple:
    """A signature-index row as a bucket member: (order key, id, content hash, stored cluster)."""
    return indexed_key(row), row["article_id"], row["content_hash"], row["cluster_id"]


def with_stored_signatures(row: dict) -> dict:
    """An index row signed with the current parameters: its stored signatures, packed."""
    whole = np.asarray(row["signature"], dtype=np.uint32)
    lead = np.asarray(row["lead_signature"], dtype=np.uint32)
    return {**row, SIGNATURES: pack_signatures(whole, lead)}


def shard_pairs(batches: Iterable[ShardBatch], max_bucket: int) -> list[tuple]:
    """Candidate pairs of every LSH bucket in one shard's batches, each once."""
    members, groups = buckets(batches)
    pairs: set[tuple[str, str]] = set()
    for group in groups:
        pairs.update(bucket_pairs([members[i] for i in group], max_bucket))
    return sorted(pairs)


class BandKeysFn(beam.DoFn):
    """Batches of signed rows -> their LSH band keys, with ``member(row)`` as the bucket member.

    ``shards``: None yields one (band key, member) element per key (a streaming run keeps state
    per band); a number yields one (shard, ShardBatch) element per batch and shard (a batch run:
    tens of elements cross the shuffle instead of ~60 per article).
    """

    def __init__(
        self, params: MinHashParams, member: Callable[[dict], tuple], shards: int | None = None
    ):
        self._params = params
        self._member = member
        self._shards = shards

    def setup(self) -> None:
        self._hasher = MinHasher(self._params)
        self._empty = beam.metrics.Metrics.counter("dedup", "articles_without_shingles")

    def process(self, batch: Sequence[dict]) -> Iterator[tuple[int, object]]:
        whole, lead = unpack_signatures(batch, self._params.num_perm)
        signed = has_shingles(whole)
        self._empty.inc(int((~signed).sum()))
        members = [self._member(row) for row, ok in zip(batch, signed.tolist(), strict=True) if ok]
        keys = self._hasher.band_key_matrix(whole[signed], lead[signed])
        if self._shards is not None:
            owners = np.repeat(np.arange(len(members)), keys.shape[1])
            yield from by_shard(members, keys.reshape(-1), owners, self._shards)
            return
        for member, row_keys in zip(members, keys.tolist(), strict=True):
            for band_key in sorted(set(row_keys)):
                yield band_key, member


# Profiles a verifying worker keeps: a story and its reprints are ends of several candidate pairs
# (on the Reuters set, 5,192 ends were 1,999 articles, 142 of them in 10 pairs or more).
_PROFILES_KEPT = 512


class VerifyFn(beam.DoFn):
    """A candidate pair with both entries -> an Edge when the texts are related. Each text is
    profiled once per worker while it stays among the last ``_PROFILES_KEPT`` used."""

    def __init__(self, params: DedupParams):
        self._params = params

    def setup(self) -> None:
        tokenizer, size = Tokenizer(), self._params.shingle_size
        self._profile = lru_cache(maxsize=_PROFILES_KEPT)(
            lambda text: profile(text, tokenizer, size)
        )
        counter = beam.metrics.Metrics.counter
        self._decisions = {
            kind: counter("dedup", f"pairs_{kind or 'unrelated'}")
            for kind in (NEAR, CONTAINED, PARTIAL, None)
        }

    def process(self, pair_and_ends: tuple[tuple[str, str], Iterable[tuple]]) -> Iterator[Edge]:
        """Ends are (id, order key, text[, stored cluster])."""
        _, ends = pair_and_ends
        a, b = sorted(set(ends))
        evidence = compare(self._profile(a[2]), self._profile(b[2]))
        kind = decide(evidence, self._params)
        self._decisions[kind].inc()
        if kind is not None:
            yield make_edge((a[0], a[1], *a[3:]), (b[0], b[1], *b[3:]), kind, evidence)


def _attach_ends(joined: tuple[str, dict[str, list]]) -> Iterator[tuple[tuple[str, str], tuple]]:
    article_id, groups = joined
    for key, text, *stored in groups["text"]:
        for pair in groups["pairs"]:
            yield pair, (article_id, key, text, *stored)


def _apply_packed(packed: bytes, assignments: dict[str, Assignment]) -> Iterator[dict]:
    for article in unpack_rows(packed):
        yield _apply(article, assignments)


def _apply(article: dict, assignments: dict[str, Assignment]) -> dict:
    row = dict(article)
    found = assignments.get(row["article_id"])
    row["cluster_id"] = found.cluster_id if found else row["article_id"]
    row["is_duplicate"] = found is not None
    row["duplicate_of"] = found.duplicate_of if found else None
    row["similarity"] = found.similarity if found else None
    return row


class Deduplicate(beam.PTransform):
    """PCollection[article dict] -> the same articles with cluster_id, is_duplicate, duplicate_of
    and similarity filled in, and their ``SIGNATURES`` (which ``IndexRows`` stores; the table
    writers keep only their schema's columns).

    ``index``: optional PCollection of signature-index rows (``DEDUP_INDEX``, e.g. from
    ``ReadDedupIndex``) of earlier runs. The new articles are then deduplicated against them too:
    a reprint of an indexed story joins its stored cluster; indexed rows never change. Input
    articles must not repeat indexed ids (``DropIndexed`` removes them).
    """

    def __init__(self, params: DedupParams | None = None, index=None):
        super().__init__()
        self._params = params or DedupParams()
        self._index = index

    def expand(self, articles):
        params = self._params
        # (id, (order key, text[, stored cluster])) and (content hash, (order key, id[, cluster]))
        # The signed rows feed the keys below, in the signing stage; Assign, stages later, takes
        # the same rows as compressed batches (what the runner holds while dedup runs).
        sign_fn = SignFn(params.minhash, packed=True)
        sign = (
            articles
            | "Batch" >> in_batches()
            | "Sign" >> beam.ParDo(sign_fn).with_outputs(PACKED_BATCHES, main="signed")
        )
        signed = sign.signed
        texts = [
            signed | "KeyText" >> beam.Map(lambda a: (a["article_id"], (order_key(a), a["text"])))
        ]
        hashes = [
            signed
            | "KeyByContentHash"
            >> beam.Map(lambda a: (a["content_hash"], (order_key(a), a["article_id"])))
        ]
        band_keys = [
            signed
            | "BatchSigned" >> in_batches()
            | "BandKeys" >> beam.ParDo(BandKeysFn(params.minhash, article_member, BAND_SHARDS))
        ]
        if self._index is not None:
            fingerprint = params.minhash.fingerprint()
            current, stale = self._index | "SplitIndexByParams" >> beam.Partition(
                lambda row, _: 0 if row["minhash_params"] == fingerprint else 1, 2
            )
            texts.append(
                self._index
                | "KeyIndexedText"
                >> beam.Map(
                    lambda r: (r["article_id"], (indexed_key(r), r["text"], r["cluster_id"]))
                )
            )
            hashes.append(
                self._index
                | "KeyIndexedHash"
                >> beam.Map(
                    lambda r: (
                        r["content_hash"],
                        (indexed_key(r), r["article_id"], r["cluster_id"]),
                    )
                )
            )
            # Rows signed with other MinHash parameters are signed again from their stored text.
            resigned = (
                stale
                | "BatchStale" >> in_batches()
                | "SignStale" >> beam.ParDo(SignFn(params.minhash))
            )
            stored = current | "StoredSignatures" >> beam.Map(with_stored_signatures)
            band_keys.append(
                (stored, resigned)
                | "SignedIndex" >> beam.Flatten()
                | "BatchIndex" >> in_batches()
                | "IndexBandKeys"
                >> beam.ParDo(BandKeysFn(params.minhash, index_member, BAND_SHARDS))
            )
        exact = (
            hashes
            | "AllHashes" >> beam.Flatten()
            | "GroupByContentHash" >> beam.GroupByKey()
            | "ExactEdges" >> beam.FlatMap(lambda kv: exact_edges(kv[1]))
        )
        pairs = (
            band_keys
            | "AllBandKeys" >> beam.Flatten()
            | "GroupByBandShard" >> beam.GroupByKey()
            | "BucketPairs" >> beam.FlatMap(lambda kv: shard_pairs(kv[1], params.max_bucket))
            | "DistinctPairs" >> beam.Distinct()
        )
        near = (
            {
                "text": texts | "AllTexts" >> beam.Flatten(),
                "pairs": pairs | "PairEnds" >> beam.FlatMap(lambda p: [(p[0], p), (p[1], p)]),
            }
            | "JoinTexts" >> beam.CoGroupByKey()
            | "AttachText" >> beam.FlatMap(_attach_ends)
            | "GroupPairs" >> beam.GroupByKey()
            | "Verify" >> beam.ParDo(VerifyFn(params))
        )
        assignments = (
            (exact, near)
            | "AllEdges" >> beam.Flatten()
            # Without defaults: ToList's default (an empty list when there are no edges) costs a
            # side-input stage that keeps the whole edge list in the runner until the end.
            | "EdgeList"
            >> beam.CombineGlobally(beam.combiners.ToListCombineFn()).without_defaults()
            | "Cluster" >> beam.FlatMap(lambda edges: assign_clusters(edges, params).items())
        )
        return sign[PACKED_BATCHES] | "Assign" >> beam.FlatMap(
            _apply_packed, beam.pvalue.AsDict(assignments)
        )


# --- the signature index (append mode) ----------------------------------------------------------


def index_row(article: dict, fingerprint: str) -> dict:
    """A deduplicated, signed article -> its DEDUP_INDEX row."""
    # Views of the packed bytes, not lists: a list holds an int object per value (~9 KB a row),
    # and the writers keep thousands of rows waiting per bundle.
    both = np.frombuffer(article[SIGNATURES], dtype=_PACKED).reshape(2, -1)
    return {
        "article_id": article["article_id"],
        "content_hash": article["content_hash"],
        "order_at": article.get("published_at") or article["ingested_at"],
        "cluster_id": article["cluster_id"],
        "text": article["text"],
        "signature": both[0],
        "lead_signature": both[1],
        "minhash_params": fingerprint,
        "schema_version": SCHEMA_VERSION,
    }


class IndexRows(beam.PTransform):
    """``Deduplicate``'s output (signed articles) -> rows of the signature index
    (schemas.DEDUP_INDEX), with the signatures dedup computed."""

    def __init__(self, params: DedupParams | None = None):
        super().__init__()
        self._params = params or DedupParams()

    def expand(self, articles):
        return articles | "IndexRow" >> beam.Map(index_row, self._params.minhash.fingerprint())


def _unindexed(joined: tuple[str, dict[str, list]]) -> Iterator[dict]:
    _, groups = joined
    if not groups["indexed"]:
        yield from groups["article"]


class DropIndexed(beam.PTransform):
    """Articles whose article_id is already in the signature index are dropped (append mode:
    re-running the same input adds nothing)."""

    def __init__(self, index):
        super().__init__()
        self._index = index

    def expand(self, articles):
        return (
            {
                "article": articles | "KeyArticles" >> beam.Map(lambda a: (a["article_id"], a)),
                "indexed": self._index | "KeyIndexed" >> beam.Map(lambda r: (r["article_id"], 1)),
            }
            | "JoinIndex" >> beam.CoGroupByKey()
            | "KeepUnindexed" >> beam.FlatMap(_unindexed)
        )


class ReadDedupIndex(beam.PTransform):
    """PBegin -> the signature index rows under ``folder`` (none when it has no index yet)."""

    def __init__(self, folder: str):
        super().__init__()
        self._pattern = folder.rstrip("/") + "/*.parquet"

    def expand(self, pbegin):
        matches = FileSystems.match([self._pattern])[0].metadata_list
        if not matches:
            return pbegin | "NoIndex" >> beam.Create([])
        return pbegin | "ReadIndex" >> beam.io.ReadFromParquet(self._pattern)
