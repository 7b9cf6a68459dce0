"""Near-duplicate wire stories (transforms/dedup.py): verification, clustering and the PTransform.

Fixtures (tests/fixtures/dedup/): Reuters stories, one reprint per phenomenon of issue 3
(``quake.<phenomenon>.txt``), the traps (``trap.*.txt``) and the five seed articles. A fixture is
"TITLE\\nRFC-2822 date\\n\\nbody".
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
import random
import tempfile
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas import DEDUP_INDEX
from transforms.buckets import by_shard
from transforms.dedup import (
    CONTAINED,
    EXACT,
    NEAR,
    PARTIAL,
    SIGNATURES,
    Assignment,
    Deduplicate,
    DedupParams,
    DropIndexed,
    Edge,
    IndexRows,
    ReadDedupIndex,
    VerifyFn,
    assign_clusters,
    bucket_pairs,
    compare,
    decide,
    exact_edges,
    order_key,
    profile,
    shard_pairs,
)
from transforms.minhash import Tokenizer

FIXTURES = Path(__file__).parent / "fixtures" / "dedup"
INGESTED = datetime(2024, 1, 1, tzinfo=timezone.utc)
PARAMS = DedupParams()

PHENOMENA = [
    "headline_dateline",
    "trim",
    "brief",
    "brief1",
    "local",
    "boilerplate",
    "typography",
    "spelling",
    "sentence_dropped",
    "paragraphs",
    "html",
    "writethrough",
]
TEMPLATED_TRAPS = [
    ("trap.earnings_a", "trap.earnings_b"),
    ("trap.jobs_a", "trap.jobs_b"),
    ("trap.game_a", "trap.game_b"),
]
SEEDS = sorted(p.stem for p in (FIXTURES / "seeds").glob("*.txt"))


def article(name: str, published_at: datetime | None = None, text: str | None = None) -> dict:
    """A fixture as an article row (the row contract, before dedup)."""
    if name in SEEDS:
        raw_text, published = (FIXTURES / "seeds" / f"{name}.txt").read_text(), None
        title = raw_text.split("\n", 1)[0]
    else:
        title, date, _, raw_text = (FIXTURES / f"{name}.txt").read_text().split("\n", 3)
        published = parsedate_to_datetime(date).astimezone(timezone.utc)
    text = text if text is not None else raw_text.strip()
    return {
        "article_id": name,
        "input": f"tests/fixtures/dedup/{name}.txt",
        "url": None,
        "source": "fixture",
        "title": title,
        "authors": [],
        "text": text,
        "language": "en",
        "word_count": len(text.split()),
        "published_at": published_at or published,
        "ingested_at": INGESTED,
        "date_source": "published" if (published_at or published) else "ingested",
        "categories": [],
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        "cluster_id": name,
        "is_duplicate": False,
        "duplicate_of": None,
        "similarity": None,
        "topic_scores": None,
        "schema_version": 1,
        "date": "1987-03-02",
        "topic": "general",
    }


def verdict(a: str, b: str) -> str | None:
    tokenizer = Tokenizer()
    first, second = (profile(article(n)["text"], tokenizer, PARAMS.shingle_size) for n in (a, b))
    return decide(compare(first, second), PARAMS)


# --- verification: every reprint phenomenon is a duplicate, every trap is not ---------------------


@pytest.mark.parametrize("phenomenon", PHENOMENA)
def test_each_reprint_phenomenon_verifies_against_the_original(phenomenon):
    assert verdict("quake", f"quake.{phenomenon}") in (NEAR, CONTAINED)
    assert verdict(f"quake.{phenomenon}", "quake") in (NEAR, CONTAINED)  # symmetric


def test_verify_profiles_a_story_once_for_all_its_pairs():
    fn = VerifyFn(PARAMS)
    fn.setup()
    names = ("quake", "quake.trim", "quake.typography")
    ends = {n: (n, order_key(article(n)), article(n)["text"]) for n in names}
    story, *reprints = ends
    edges = [
        edge
        for reprint in reprints
        for edge in fn.process(((story, reprint), [ends[story], ends[reprint]]))
    ]
    assert len(edges) == 2  # both reprints verified against the story
    assert fn._profile.cache_info().misses == 3  # the story was profiled once


def test_trim_and_brief_are_containment_not_resemblance():
    # Why containment exists: a brief shares too little of the story for Jaccard alone.
    tokenizer = Tokenizer()
    story, brief = (profile(article(n)["text"], tokenizer, 5) for n in ("quake", "quake.brief"))
    evidence = compare(brief, story)
    assert evidence.resemblance < 0.3 < 0.99 < evidence.containment + 0.01
    assert decide(evidence, PARAMS) == CONTAINED


@pytest.mark.parametrize(("a", "b"), TEMPLATED_TRAPS)
def test_templated_briefs_differing_in_names_and_numbers_stay_apart(a, b):
    tokenizer = Tokenizer()
    first, second = (profile(article(n)["text"], tokenizer, 5) for n in (a, b))
    evidence = compare(first, second)
    assert evidence.slot_agreement < PARAMS.slot_agreement_threshold
    assert decide(evidence, PARAMS) is None


def test_templated_briefs_share_as_much_text_as_a_brief_does():
    # The trap: by plain Jaccard a templated sibling looks closer than a genuine brief.
    tokenizer = Tokenizer()
    prof = {
        n: profile(article(n)["text"], tokenizer, 5)
        for n in ("quake", "quake.brief", "trap.jobs_a", "trap.jobs_b")
    }
    brief = compare(prof["quake.brief"], prof["quake"]).resemblance
    templated = compare(prof["trap.jobs_a"], prof["trap.jobs_b"]).resemblance
    assert templated > brief


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(SEEDS, 2)))
def test_seed_articles_about_one_event_are_not_duplicates(a, b):
    assert verdict(a, b) in (None, PARTIAL)


@pytest.mark.parametrize("story", ["quake", "iran", "venezuela", "estate_tax"])
def test_a_roundup_is_not_a_duplicate_of_the_stories_it_quotes(story):
    assert verdict(story, "trap.roundup") in (None, PARTIAL)


def test_a_one_paragraph_brief_is_contained_in_the_roundup_too():
    # Pair evidence alone cannot tell the brief's source; clustering must (see below).
    assert verdict("quake.brief1", "trap.roundup") == CONTAINED


def test_containment_must_start_at_the_longer_texts_lead():
    # The Venezuela paragraph sits mid-roundup: a brief of it is not a trim of the roundup.
    lead = article("venezuela")["text"].split("\n\n")[0]
    tokenizer = Tokenizer()
    brief = profile(lead, tokenizer, 5)
    roundup = profile(article("trap.roundup")["text"], tokenizer, 5)
    evidence = compare(brief, roundup)
    assert evidence.containment > 0.95
    assert decide(evidence, PARAMS) == PARTIAL


EARNINGS_TABLE = (
    "NEW YORK, March 2 - Shr 24 cts vs 15 cts\n\nNet 1,520,797 vs 929,017\n\n"
    "Revs 5,268,486 vs 2,617,995\n\nNine mths\n\nShr 61 cts vs 40 cts\n\n"
    "Net 3,870,000 vs 2,440,000\n\nRevs 14.1 mln vs 8.3 mln"
)


def slot_evidence(first: str, second: str):
    tokenizer = Tokenizer()
    return compare(profile(first, tokenizer, 5), profile(second, tokenizer, 5))


def test_an_updated_figure_is_one_conflict_not_a_template():
    updated = EARNINGS_TABLE.replace("Revs 14.1 mln", "Revs 14.3 mln")
    evidence = slot_evidence(EARNINGS_TABLE, updated)
    assert evidence.slot_conflicts == 1
    assert decide(evidence, PARAMS) == NEAR


def test_repeated_templates_in_one_text_do_not_count_as_conflicts():
    # "Shr # cts vs # cts" occurs twice: each must be compared with its own place.
    evidence = slot_evidence(EARNINGS_TABLE, "LONDON (Wire) - " + EARNINGS_TABLE)
    assert (evidence.slot_conflicts, evidence.slot_agreement) == (0, 1.0)


def test_another_companys_figures_in_the_same_template_conflict_everywhere():
    other = EARNINGS_TABLE
    for old, new in (
        ("24", "31"),
        ("15", "22"),
        ("1,520,797", "2,004,113"),
        ("929,017", "1,100,250"),
        ("5,268,486", "7,001,900"),
        ("2,617,995", "6,100,000"),
        ("61", "88"),
        ("3,870,000", "4,900,000"),
        ("14.1", "19.4"),
    ):
        other = other.replace(old, new)
    evidence = slot_evidence(EARNINGS_TABLE, other)
    assert evidence.slot_conflicts >= 8
    assert evidence.slot_agreement < PARAMS.slot_agreement_threshold
    assert decide(evidence, PARAMS) is None


# --- clustering -----------------------------------------------------------------------------------


def edge(
    earlier,
    later,
    kind=NEAR,
    similarity=0.9,
    resemblance=0.8,
    later_is_shorter=False,
    earlier_span=(0, 50),
    later_span=(0, 50),
):
    return Edge(
        earlier,
        (ord(earlier[0]), earlier),
        later,
        (ord(later[0]), later),
        kind,
        similarity,
        resemblance,
        later_is_shorter,
        earlier_span,
        later_span,
    )


def test_each_article_joins_its_best_earlier_match():
    assignments = assign_clusters(
        [
            edge("a", "b", similarity=0.95),
            edge("a", "c", similarity=0.7),
            edge("b", "c", similarity=0.99, resemblance=0.95),
        ],
        PARAMS,
    )
    assert assignments["b"].cluster_id == "a" and assignments["b"].duplicate_of == "a"
    assert assignments["c"].cluster_id == "a" and assignments["c"].duplicate_of == "b"
    assert assignments["c"].similarity == 0.99
    assert "a" not in assignments


def test_weak_links_do_not_chain_two_stories():
    # b is a brief of a; c contains b but does not verify against a itself: c stays canonical.
    assignments = assign_clusters(
        [edge("a", "b", CONTAINED, 1.0, 0.2), edge("b", "c", CONTAINED, 1.0, 0.3)], PARAMS
    )
    assert assignments["b"].cluster_id == "a"
    assert "c" not in assignments


def test_a_copy_of_a_member_joins_without_its_own_edge_to_the_canonical():
    assignments = assign_clusters(
        [edge("a", "b", CONTAINED, 1.0, 0.2), edge("b", "c", NEAR, 1.0, 0.95)], PARAMS
    )
    assert assignments["c"].cluster_id == "a"


def test_containment_inside_a_block_borrowed_from_another_story_is_ignored():
    # r (a roundup) quotes story a's lead at r[10:30]; brief b (of a) is contained at r[10:30].
    edges = [
        edge("a", "r", PARTIAL, 0.2, 0.1, earlier_span=(0, 20), later_span=(10, 30)),
        edge(
            "a",
            "z",
            CONTAINED,
            1.0,
            0.15,
            later_is_shorter=True,
            earlier_span=(0, 20),
            later_span=(0, 20),
        ),
        edge(
            "r",
            "z",
            CONTAINED,
            1.0,
            0.3,
            later_is_shorter=True,
            earlier_span=(10, 30),
            later_span=(0, 20),
        ),
    ]
    assignments = assign_clusters(edges, PARAMS)
    assert assignments["z"].cluster_id == "a"
    assert "r" not in assignments


def test_a_small_block_shared_with_another_story_does_not_void_a_containment():
    # r reprints a (a[0:60] sits in r[0:80]) with a stock local paragraph that b also carries.
    edges = [
        edge("b", "r", PARTIAL, 0.2, 0.1, earlier_span=(0, 12), later_span=(30, 42)),
        edge("a", "r", CONTAINED, 1.0, 0.45, earlier_span=(0, 60), later_span=(0, 80)),
    ]
    assert assign_clusters(edges, PARAMS)["r"].cluster_id == "a"


def test_clustering_does_not_depend_on_edge_order():
    edges = [
        edge("a", "b"),
        edge("b", "c", resemblance=0.95),
        edge("a", "d", CONTAINED, 1.0, 0.2),
        edge("c", "d", PARTIAL, 0.3, 0.1),
    ]
    expected = assign_clusters(edges, PARAMS)
    for seed in range(5):
        shuffled = edges[:]
        random.Random(seed).shuffle(shuffled)
        assert assign_clusters(shuffled + shuffled[:2], PARAMS) == expected


def test_exact_edges_point_at_the_earliest_copy():
    members = [((3, "c"), "c"), ((1, "b"), "b"), ((1, "a"), "a")]
    assert [(e.earlier, e.later, e.kind) for e in exact_edges(members)] == [
        ("a", "b", EXACT),
        ("a", "c", EXACT),
    ]
    assert exact_edges([((1, "a"), "a")]) == []


def test_exact_copy_of_an_indexed_article_joins_its_stored_cluster():
    # Indexed copies (with a stored cluster) come first whatever their time, and get no edge.
    members = [((1, "new"), "new"), ((5, "old"), "old", "old-cluster"), ((9, "x"), "x", "c")]
    edges = exact_edges(members)
    assert [(e.earlier, e.later, e.earlier_cluster) for e in edges] == [
        ("old", "new", "old-cluster")
    ]
    assert assign_clusters(edges, PARAMS) == {"new": Assignment("old-cluster", "old", 1.0)}


def test_bucket_pairs_collapse_exact_copies_and_cap_big_buckets():
    members = [((i, f"id{i}"), f"id{i}", "same" if i < 2 else f"h{i}") for i in range(6)]
    assert list(bucket_pairs(reversed(members), 2)) == [
        ("id0", "id2"),
        ("id0", "id3"),
        ("id2", "id3"),
        ("id2", "id4"),
        ("id3", "id4"),
        ("id3", "id5"),
        ("id4", "id5"),
    ]


def test_bucket_pairs_skip_pairs_of_indexed_articles():
    members = [((5, "a"), "a", "h1", "a"), ((6, "b"), "b", "h2", "a"), ((0, "c"), "c", "h3")]
    assert list(bucket_pairs(members, 10)) == [("a", "c"), ("b", "c")]


def test_sharded_buckets_give_the_pairs_of_per_key_buckets():
    """Band keys gathered by shard, in batches cut anywhere, pair as one bucket per key would."""
    members = [((i, f"id{i}"), f"id{i}", f"h{i}") for i in range(8)]
    # Each member's keys; the repeated 7 is a key both views of a short text share.
    keys = np.array([[7, 23, 100 + i % 3, 7] for i in range(8)], dtype=np.uint64)
    expected = sorted(
        {
            pair
            for key in np.unique(keys).tolist()
            for pair in bucket_pairs(
                [m for m, row in zip(members, keys.tolist(), strict=True) if key in row], 200
            )
        }
    )
    shards = 4
    batches = [
        by_shard(part, part_keys.reshape(-1), np.repeat(np.arange(len(part)), 4), shards)
        for part, part_keys in ((members[:5], keys[:5]), (members[5:], keys[5:]))
    ]
    for shard, (shard_members, shard_keys, owners) in (e for b in batches for e in b):
        shard_keys = np.frombuffer(shard_keys, dtype=np.uint64)
        assert (shard_keys % shards == shard).all()
        assert len(np.frombuffer(owners, dtype=np.int32)) == len(shard_keys)
        shard_members = pickle.loads(shard_members)
        assert len(shard_members) == len(set(shard_members))  # each member once per shard
    found = set()
    for shard in range(shards):
        found.update(shard_pairs((e for b in batches for s, e in b if s == shard), 200))
    assert sorted(found) == expected
    assert ("id0", "id7") in found  # keys 7 and 23 hold every member


def test_order_key_uses_published_then_ingested_then_id():
    early = datetime(1987, 3, 1, tzinfo=timezone.utc)
    published = article("quake", published_at=early)
    unpublished = article("iran") | {"published_at": None}
    assert order_key(published) < order_key(unpublished)  # ingested 2024 is later
    assert order_key(published) == (int(early.timestamp() * 1_000_000), "quake")


# --- the PTransform -------------------------------------------------------------------------------


def run_dedup(
    articles: list[dict], params: DedupParams = PARAMS, index_folder: Path | None = None
) -> list[tuple]:
    """Run Deduplicate; return sorted (id, cluster_id, is_duplicate, duplicate_of) rows.

    With ``index_folder``, as a later run in append mode: read the signature index there, drop
    indexed ids, dedup against the index.
    """
    with tempfile.TemporaryDirectory() as tmp:
        with BeamTestPipeline(runner=FnApiRunner()) as p:
            rows, index = p | beam.Create(articles), None
            if index_folder is not None:
                index = p | "ReadIndex" >> ReadDedupIndex(str(index_folder))
                rows = rows | DropIndexed(index)
            _ = (
                rows
                | Deduplicate(params, index=index)
                | beam.Map(
                    lambda a: json.dumps(
                        [a["article_id"], a["cluster_id"], a["is_duplicate"], a["duplicate_of"]]
                    )
                )
                | beam.io.WriteToText(f"{tmp}/rows", shard_name_template="")
            )
        lines = Path(f"{tmp}/rows").read_text().splitlines()
    return sorted(tuple(json.loads(line)) for line in lines)


ALL = (
    ["quake", "iran", "iran.brief1", "venezuela", "estate_tax", "chemlawn", "trap.roundup"]
    + [f"quake.{p}" for p in PHENOMENA]
    + [name for pair in TEMPLATED_TRAPS for name in pair]
    + SEEDS
)


@pytest.fixture(scope="module")
def clustered() -> dict[str, tuple]:
    rows = run_dedup([article(n) for n in ALL])
    return {row[0]: row for row in rows}


def test_every_reprint_lands_in_the_originals_cluster(clustered):
    for phenomenon in PHENOMENA:
        _, cluster, is_duplicate, duplicate_of = clustered[f"quake.{phenomenon}"]
        assert (cluster, is_duplicate) == ("quake", True), phenomenon
        assert duplicate_of is not None
    assert clustered["quake"][1:] == ("quake", False, None)
    assert clustered["iran.brief1"][1] == "iran"


def test_traps_roundups_and_seeds_stay_their_own_clusters(clustered):
    singles = ["iran", "venezuela", "estate_tax", "chemlawn", "trap.roundup", *SEEDS]
    singles += [name for pair in TEMPLATED_TRAPS for name in pair]
    for name in singles:
        assert clustered[name][1:] == (name, False, None), name


def test_brief_published_after_a_roundup_joins_the_story_not_the_roundup(clustered):
    roundup_time = article("trap.roundup")["published_at"]
    assert article("quake.brief1")["published_at"] > roundup_time
    assert clustered["quake.brief1"][1] == "quake"
    assert clustered["quake.brief1"][3] != "trap.roundup"


def test_exact_copies_and_canonical_choice():
    original = article("quake")
    copy = dict(original, article_id="a-copy")
    # Same publication time: the smaller article_id is canonical, whatever the input order.
    rows = run_dedup([copy, original])
    assert rows == [("a-copy", "a-copy", False, None), ("quake", "a-copy", True, "a-copy")]


def test_unknown_publication_time_falls_back_to_ingest_time():
    original = article("quake") | {"published_at": None}  # ingested 2024: later than the reprint
    reprint = article("quake.typography")
    rows = dict((r[0], r) for r in run_dedup([original, reprint]))
    assert rows["quake"][1:] == ("quake.typography", True, "quake.typography")


def test_result_does_not_depend_on_input_order(clustered):
    shuffled = [article(n) for n in ALL]
    random.Random(3).shuffle(shuffled)
    assert {r[0]: r for r in run_dedup(shuffled)} == clustered


def test_pipeline_fills_similarity_and_keeps_every_row():
    with BeamTestPipeline(runner=FnApiRunner()) as p:
        out = (
            p
            | beam.Create([article(n) for n in ("quake", "quake.brief", "iran")])
            | Deduplicate(PARAMS)
            | beam.Map(
                lambda a: (
                    a["article_id"],
                    a["similarity"] is None,
                    set(a) == set(article("quake")) | {SIGNATURES},
                )
            )
        )
        assert_that(
            out,
            equal_to([("quake", True, True), ("quake.brief", False, True), ("iran", True, True)]),
        )


def test_params_from_pipeline_options():
    options = PipelineOptions(["--dedup-bands", "16", "--dedup-containment-threshold", "0.7"])
    params = DedupParams.from_options(options)
    assert (params.bands, params.containment_threshold, params.num_perm) == (16, 0.7, 128)
    assert DedupParams.from_options(PipelineOptions([])) == DedupParams()


# --- append mode: the signature index -------------------------------------------------------------


def write_index(articles: list[dict], folder: Path, params: DedupParams = PARAMS) -> None:
    """One run's tail in append mode: dedup, then its index rows as Parquet in ``folder``."""
    with BeamTestPipeline(runner=FnApiRunner()) as p:
        _ = (
            p
            | beam.Create(articles)
            | Deduplicate(params)
            | IndexRows(params)
            | beam.io.WriteToParquet(
                str(folder / "part"), DEDUP_INDEX.schema, file_name_suffix=".parquet"
            )
        )


def run_append(articles: list[dict], folder: Path) -> list[tuple]:
    """A later run in append mode against the index in ``folder``."""
    return run_dedup(articles, index_folder=folder)


FIRST_RUN = ["quake", "quake.typography", "iran", "trap.jobs_a"]


@pytest.fixture(scope="module")
def index_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("output") / "_dedup_index"
    write_index([article(n) for n in FIRST_RUN], folder)
    return folder


def test_index_rows_carry_signatures_and_their_parameters(index_folder):
    table = pq.read_table(index_folder).sort_by("article_id")
    assert table.schema.names == DEDUP_INDEX.schema.names
    rows = table.to_pylist()
    assert [r["article_id"] for r in rows] == sorted(FIRST_RUN)
    assert {r["minhash_params"] for r in rows} == {PARAMS.minhash.fingerprint()}
    assert all(len(r["signature"]) == len(r["lead_signature"]) == PARAMS.num_perm for r in rows)
    assert {r["article_id"]: r["cluster_id"] for r in rows}["quake.typography"] == "quake"


def test_rerunning_the_same_input_in_append_mode_adds_nothing(index_folder):
    assert run_append([article(n) for n in FIRST_RUN], index_folder) == []


def test_a_later_reprint_joins_the_earlier_runs_cluster(index_folder):
    rows = run_append(
        [article(n) for n in ("quake.brief", "quake.local", "venezuela")], index_folder
    )
    assert rows == [
        ("quake.brief", "quake", True, rows[0][3]),
        ("quake.local", "quake", True, rows[1][3]),
        ("venezuela", "venezuela", False, None),
    ]
    assert {rows[0][3], rows[1][3]} <= {"quake", "quake.typography", "quake.brief"}


def test_indexed_clusters_never_change_even_for_an_earlier_story(index_folder):
    # A copy published before the indexed original still joins the written cluster.
    early = article("quake.spelling", published_at=datetime(1987, 1, 1, tzinfo=timezone.utc))
    exact = dict(article("trap.jobs_a"), article_id="jobs-copy")
    rows = run_append([early, exact], index_folder)
    assert rows == [
        ("jobs-copy", "trap.jobs_a", True, "trap.jobs_a"),
        ("quake.spelling", "quake", True, rows[1][3]),
    ]


def test_index_signed_with_other_parameters_is_signed_again(tmp_path):
    folder = tmp_path / "_dedup_index"
    write_index([article("quake")], folder, DedupParams(seed=7))
    rows = run_append([article("quake.trim")], folder)
    assert rows == [("quake.trim", "quake", True, "quake")]


def test_no_index_yet_means_nothing_indexed(tmp_path):
    rows = run_append([article("quake"), article("quake.brief")], tmp_path / "_dedup_index")
    assert rows == [("quake", "quake", False, None), ("quake.brief", "quake", True, "quake")]
