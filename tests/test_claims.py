"""ExtractClaims on the seed articles: row contract, cross-source clusters, determinism, quality."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from benchmarks.claims.evaluate import evaluate, floors_met, load
from schemas import CLAIMS
from transforms.claims import ExtractClaims, ExtractClaimsFn, extract_claims, source_of

SEEDS = [a for a, _ in load("seeds")]


def _claims(articles, label: str = "Claims"):
    """ExtractClaims' rows with their cluster updates applied, as the claims writer applies them."""
    out = articles | f"{label}Extract" >> ExtractClaims()
    return out["claims"] | f"{label}SetClusters" >> beam.Map(
        lambda row, updates: {**row, **updates.get(row["claim_id"], {})},
        updates=beam.pvalue.AsDict(out["clusters"]),
    )


def _run(articles: list[dict], check) -> None:
    with TestPipeline(runner=FnApiRunner()) as pipeline:
        assert_that(_claims(pipeline | beam.Create(articles, reshuffle=False)), check)


def _clusters(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["claim_cluster_id"], []).append(row)
    return out


def test_rows_follow_the_claims_contract():
    def check(rows):
        assert len(rows) >= 15
        for row in rows:
            assert set(row) == set(CLAIMS.columns) | {"date", "topic"}
            text = next(a["text"] for a in SEEDS if a["article_id"] == row["article_id"])
            assert text[row["char_start"] : row["char_end"]] == row["sentence"]
            assert row["claim_type"] in {
                "direct_quote",
                "reported_speech",
                "statistic",
                "assertion",
            }
            assert (row["quote"] is not None) == (row["claim_type"] == "direct_quote")
            assert 0.0 <= row["checkworthiness"] <= 1.0

    _run(SEEDS, check)


def test_shared_claims_across_seeds_form_clusters():
    def check(rows):
        clusters = [c for c in _clusters(rows).values() if len(c) > 1]
        accepted = [
            c for c in clusters if any("accepted certain elements" in r["sentence"] for r in c)
        ]
        plan = [c for c in clusters if all("28-point" in r["sentence"] for r in c)]
        assert len(accepted) == 1 and len(plan) == 1
        assert {r["article_id"] for r in accepted[0]} == {
            "000_247d25b6eb832498",
            "002_1cccf6c0bed23c27",
        }
        assert plan[0][0]["corroboration"] == len({r["article_id"] for r in plan[0]}) >= 3

    _run(SEEDS, check)


def test_duplicates_yield_no_claims():
    duplicate = dict(SEEDS[0], article_id="dup", is_duplicate=True, duplicate_of="x")

    def check(rows):
        assert "dup" not in {r["article_id"] for r in rows}

    _run([*SEEDS, duplicate], check)


def test_a_batch_yields_the_claims_of_its_canonical_articles_in_order():
    duplicate = dict(SEEDS[0], article_id="dup", is_duplicate=True, duplicate_of="x")
    pairs = list(ExtractClaimsFn().process([SEEDS[1], duplicate, SEEDS[0]]))
    expected = [
        *((source_of(SEEDS[1]), claim) for claim in extract_claims(SEEDS[1])),
        *((source_of(SEEDS[0]), claim) for claim in extract_claims(SEEDS[0])),
    ]
    assert pairs == expected and len(pairs) > 2


def test_same_rows_whatever_the_input_order():
    def keyed(label, rows):
        return rows | label >> beam.Map(
            lambda r: (r["claim_id"], (r["claim_cluster_id"], r["corroboration"]))
        )

    def check(joined):
        assert joined
        for _, sides in joined:
            assert len(sides["forward"]) == len(sides["backward"]) == 1
            assert sides["forward"] == sides["backward"]

    with TestPipeline(runner=FnApiRunner()) as pipeline:
        forward = pipeline | "Forward" >> beam.Create(SEEDS, reshuffle=False)
        backward = pipeline | "Backward" >> beam.Create(list(reversed(SEEDS)), reshuffle=False)
        joined = {
            "forward": keyed("KeyForward", _claims(forward, "Forward")),
            "backward": keyed("KeyBackward", _claims(backward, "Backward")),
        } | beam.CoGroupByKey()
        assert_that(joined, check)


def test_extract_claims_is_deterministic():
    assert extract_claims(SEEDS[0]) == extract_claims(dict(SEEDS[0]))


@pytest.mark.parametrize("corpus", ["seeds", "reuters"])
def test_quality_floors_hold_on_the_annotated_fixtures(corpus):
    quotes, reported, _ = evaluate(corpus)
    assert floors_met(quotes), quotes.ratios()
    assert reported.ratios()["precision"] >= 0.9
    assert reported.ratios()["recall"] >= 0.9
