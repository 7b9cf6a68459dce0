"""Tests for transforms/topics.py: the pure classifier and the AssignTopic wrapper."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.tables import ARTICLES, FALLBACK_TOPIC, TOPICS
from transforms.topics import LEXICON_FILE, AssignTopic, TopicClassifier

FIXTURES = Path(__file__).parent / "fixtures" / "topics"


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier.from_package()


def _fixtures() -> list[dict]:
    with (FIXTURES / "articles.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


# -- the classifier -------------------------------------------------------------------------------


@pytest.mark.parametrize("article", _fixtures(), ids=lambda a: a["id"])
def test_fixture_articles_get_their_label(classifier: TopicClassifier, article: dict) -> None:
    decision = classifier.classify(article["title"], article["text"], article["categories"])
    assert decision.topic == article["label"]


def test_scores_are_top_three_shares_in_rank_order(classifier: TopicClassifier) -> None:
    article = next(a for a in _fixtures() if a["id"] == "fx-disaster")
    decision = classifier.classify(article["title"], article["text"], article["categories"])
    slugs = [slug for slug, _ in decision.scores]
    shares = [share for _, share in decision.scores]
    assert len(decision.scores) == 3
    assert slugs[0] == decision.topic
    assert set(slugs) <= set(TOPICS)
    assert shares == sorted(shares, reverse=True)
    assert 0 < sum(shares) <= 1.0001
    assert decision.score_rows()[0] == {"topic": slugs[0], "score": shares[0]}


# -- feed categories are evidence, the text decides -------------------------------------------

# The title and text support both economy and sport about equally ("club", "sales", "shares").
_AMBIGUOUS = (
    "Club shares jump",
    "Shares in the club rose after it reported higher sales of season tickets and a stadium deal.",
)


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ("Sport", "sport"),
        ("Sports", "sport"),
        ("Business", "economy"),
        ("Markets", "economy"),
        ("MARKETS", "economy"),
        ("Business > Markets", "economy"),
        ("Sport / Football", "sport"),
    ],
)
def test_category_tips_an_ambiguous_text(
    classifier: TopicClassifier, category: str, expected: str
) -> None:
    title, text = _AMBIGUOUS
    assert classifier.classify(title, text, [category]).topic == expected


@pytest.mark.parametrize(
    ("category", "slug", "text"),
    [
        ("World", "politics", "Ministers met to discuss the proposal with officials."),
        ("Politics", "politics", "Ministers met to discuss the proposal with officials."),
        ("Tech", "science-technology", "The company released a new version of its app."),
        ("Health", "health", "The study looked at people who took the drug for a year."),
        ("Sport", "sport", "The team played well in the second half."),
        ("Business", "economy", "The firm said sales rose in the quarter."),
        ("Markets", "economy", "Prices rose in early trading."),
        ("Entertainment", "arts-culture", "The series returns with a new director."),
        ("Science", "science-technology", "Researchers published the results of the experiment."),
        ("Travel", "lifestyle", "The hotel sits on a quiet beach."),
        ("Politik", "politics", "Die Regierung will das Gesetz im Herbst beschließen."),
    ],
)
def test_category_words_map_onto_slugs(
    classifier: TopicClassifier, category: str, slug: str, text: str
) -> None:
    evidence = classifier.explain(None, text, [category])
    assert ("[categories]", pytest.approx(3.0, abs=2.0)) in evidence[slug]
    assert all(term != "[categories]" for term, _ in evidence.get("religion", []))


def test_category_never_decides_alone(classifier: TopicClassifier) -> None:
    # A text with no topical evidence stays general whatever its section says.
    text = "Write to us at the address below. We answer every letter within two weeks."
    for category, slug in (("Sport", "sport"), ("Business", "economy"), ("Health", "health")):
        decision = classifier.classify("Contact us", text, [category])
        assert decision.topic == FALLBACK_TOPIC
        assert slug not in dict(decision.scores)


def test_text_overrides_a_contradicting_category(classifier: TopicClassifier) -> None:
    article = next(a for a in _fixtures() if a["id"] == "fx-disaster")
    decision = classifier.classify(article["title"], article["text"], ["Business", "Markets"])
    assert decision.topic == "disaster"


def test_reuters_codes_help_little(classifier: TopicClassifier) -> None:
    # The Reuters commodity code "earn" must not turn a strike story into an economy story.
    article = next(a for a in _fixtures() if a["id"] == "fx-labour")
    assert classifier.classify(article["title"], article["text"], ["earn", "usa"]).topic == "labour"


# -- the general fallback -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "text"),
    [
        (None, None),
        ("", ""),
        (None, "   "),
        ("Über uns", "Hier finden Sie Adresse, Öffnungszeiten und Anfahrt."),
        ("Untitled", "Lorem ipsum dolor sit amet, consectetur adipiscing elit."),
        # A single weak hint is not enough to file an article under a topic.
        (None, "The report was published on Tuesday by the team."),
    ],
)
def test_general_when_nothing_fits(classifier: TopicClassifier, title, text) -> None:
    assert classifier.classify(title, text, None).topic == FALLBACK_TOPIC


# -- determinism -----------------------------------------------------------------------------------


def test_same_input_same_decision_across_instances(classifier: TopicClassifier) -> None:
    fresh = TopicClassifier.from_package()
    for article in _fixtures():
        args = (article["title"], article["text"], article["categories"])
        assert classifier.classify(*args) == fresh.classify(*args) == classifier.classify(*args)


def test_category_order_does_not_matter(classifier: TopicClassifier) -> None:
    title, text = _AMBIGUOUS
    forward = classifier.classify(title, text, ["Sport", "Business", "World"])
    backward = classifier.classify(title, text, ["World", "Business", "Sport"])
    assert forward == backward


def test_ties_break_by_taxonomy_order(classifier: TopicClassifier) -> None:
    # "tennis" (sport) and "vaccine" (health) carry the same weight: health comes first in TOPICS.
    decision = classifier.classify(None, "tennis vaccine tennis vaccine", [])
    assert [slug for slug, _ in decision.scores[:2]] == ["health", "sport"]
    assert decision.scores[0][1] == decision.scores[1][1]


def _package_lexicon() -> dict:
    return json.loads(resources.files("transforms").joinpath("data", LEXICON_FILE).read_text())


def test_lexicon_rejects_unknown_slugs() -> None:
    lexicon = _package_lexicon()
    lexicon["topics"]["gossip"] = {"3": ["rumour"]}
    with pytest.raises(ValueError, match="gossip"):
        TopicClassifier(lexicon)


def test_categories_cannot_point_at_general() -> None:
    lexicon = _package_lexicon()
    lexicon["categories"][FALLBACK_TOPIC] = {"3": ["misc"]}
    with pytest.raises(ValueError, match=FALLBACK_TOPIC):
        TopicClassifier(lexicon)


# -- evidence rules --------------------------------------------------------------------------------


def test_explicit_general_evidence_beats_a_passing_mention(classifier: TopicClassifier) -> None:
    # A correction notice names an exhibition, but it is a notice, not an arts story.
    text = (
        "An article on page 12 of yesterday's edition gave the wrong opening date for the "
        "exhibition. The correct date is Saturday 14 June. We apologise for the error."
    )
    decision = classifier.classify("Correction", text, [])
    assert decision.topic == FALLBACK_TOPIC
    assert decision.scores[0][0] == FALLBACK_TOPIC


def test_weak_hints_are_capped(classifier: TopicClassifier) -> None:
    # Ten generic business words must not outvote one decisive crime word in the lead.
    text = (
        "Police arrested the man on Monday. The company said its market, business, sales, prices, "
        "customers, industry, production, money, products and growth were unaffected."
    )
    assert classifier.classify(None, text, []).topic == "crime-justice"
    capped = dict(classifier.classify(None, text, []).scores)
    assert capped["crime-justice"] > capped.get("economy", 0.0)


def test_explain_lists_the_terms_that_fired(classifier: TopicClassifier) -> None:
    evidence = classifier.explain("Earthquake hits coast", "Rescuers searched the rubble.", [])
    terms = [term for term, _ in evidence["disaster"]]
    assert {"earthquake*", "rescuers", "rubble"} <= set(terms)
    contributions = [value for _, value in evidence["disaster"]]
    assert contributions == sorted(contributions, reverse=True)


# -- the Beam wrapper -----------------------------------------------------------------------------


def _article_rows() -> list[dict]:
    rows = []
    for article in _fixtures():
        row = {column: None for column in ARTICLES.columns}
        row.update(
            article_id=article["id"],
            title=article["title"],
            text=article["text"],
            categories=article["categories"],
            date="2024-01-01",
            topic=FALLBACK_TOPIC,
            topic_scores=None,
        )
        rows.append(row)
    return rows


def test_assign_topic_sets_topic_and_scores() -> None:
    rows = _article_rows()
    expected = [(a["id"], a["label"]) for a in _fixtures()]
    with BeamTestPipeline(runner=FnApiRunner()) as pipeline:
        assigned = pipeline | beam.Create(rows) | AssignTopic()
        assert_that(
            assigned | "Keys" >> beam.Map(lambda row: (row["article_id"], row["topic"])),
            equal_to(expected),
            label="Topics",
        )
        assert_that(
            assigned
            | "Shapes"
            >> beam.Map(
                lambda row: (
                    row["article_id"],
                    len(row["topic_scores"]) <= 3,
                    all(set(score) == {"topic", "score"} for score in row["topic_scores"]),
                    set(row) == set(ARTICLES.columns) | {"date", "topic"},
                )
            ),
            equal_to([(a["id"], True, True, True) for a in _fixtures()]),
            label="Shapes",
        )


def test_assign_topic_is_order_independent_and_leaves_input_alone() -> None:
    rows = _article_rows()
    originals = copy.deepcopy(rows)

    def run(elements: list[dict]) -> list[tuple]:
        collected: list[tuple] = []
        with BeamTestPipeline(runner=FnApiRunner()) as pipeline:
            _ = (
                pipeline
                | beam.Create(elements)
                | AssignTopic()
                | beam.Map(lambda r: (r["article_id"], r["topic"], json.dumps(r["topic_scores"])))
                | beam.combiners.ToList()
                | beam.Map(collected.extend)
            )
        return sorted(collected)

    assert run(rows) == run(list(reversed(rows)))
    assert rows == originals
