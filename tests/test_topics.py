"""Tests for transforms/topics.py: lexicon evidence, the model, the classifier and AssignTopic."""

from __future__ import annotations

import copy
import json
import pickle
from importlib import resources
from pathlib import Path

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.tables import ARTICLES, FALLBACK_TOPIC
from transforms.topics import (
    EVIDENCE_BLOCKS,
    LABELS,
    LEXICON_FILE,
    MODEL_FILE,
    TITLE_PREFIX,
    AssignTopic,
    AssignTopicFn,
    TopicClassifier,
    TopicLexicon,
    TopicModel,
)

FIXTURES = Path(__file__).parent / "fixtures" / "topics"


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier.from_package()


def _fixtures() -> list[dict]:
    with (FIXTURES / "articles.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def _package_lexicon() -> dict:
    return json.loads(resources.files("transforms").joinpath("data", LEXICON_FILE).read_text())


def _flat_model(vocabulary: tuple[str, ...] = ()) -> TopicModel:
    """A model that favours no topic: every article gets the same probabilities."""
    return TopicModel(
        vocabulary,
        np.zeros((len(vocabulary), len(LABELS))),
        np.zeros(len(EVIDENCE_BLOCKS)),
        np.zeros(len(LABELS)),
    )


# -- the classifier on real articles (EN, DE, FR; wire copy, pages, written news) -------------


@pytest.mark.parametrize("article", _fixtures(), ids=lambda a: a["id"])
def test_fixture_articles_get_their_label(classifier: TopicClassifier, article: dict) -> None:
    decision = classifier.classify(article["title"], article["text"], article["categories"])
    assert decision.topic == article["label"]


def test_scores_are_the_three_most_probable_topics(classifier: TopicClassifier) -> None:
    article = next(a for a in _fixtures() if a["id"] == "fx-disaster")
    decision = classifier.classify(article["title"], article["text"], article["categories"])
    slugs = [slug for slug, _ in decision.scores]
    probabilities = [p for _, p in decision.scores]
    assert len(decision.scores) == 3
    assert slugs[0] == decision.topic
    assert set(slugs) <= set(LABELS)
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1.0001
    assert decision.score_rows()[0] == {"topic": slugs[0], "score": probabilities[0]}


def test_company_news_in_a_health_business_is_economy(classifier: TopicClassifier) -> None:
    # The lexicon sees "clinics" and "hospital"; the model has learnt what wire copy about a
    # company's deal is filed under.
    article = next(a for a in _fixtures() if a["id"] == "fx-economy-clinics")
    evidence = classifier.lexicon.evidence(article["title"], article["text"], [])
    assert evidence.total[LABELS.index("health")] > 0
    assert classifier.classify(article["title"], article["text"], []).topic == "economy"


# -- feed categories are evidence, the text decides -------------------------------------------

# The title and text support both economy and sport ("club", "shares", "sales", "stadium").
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
    # ... and reach the model only for a topic the text supports.
    found = classifier.lexicon.evidence(None, text, [category])
    plain = classifier.lexicon.evidence(None, text, [])
    index = LABELS.index(slug)
    assert found.categories[index] == pytest.approx(found.total[index] - plain.total[index])
    assert (found.categories[index] > 0) == (plain.total[index] > 0)


def test_category_never_decides_alone(classifier: TopicClassifier) -> None:
    # A text with no topical evidence stays general whatever its section says; the section
    # changes nothing at all.
    text = "Write to us at the address below. We answer every letter within two weeks."
    plain = classifier.classify("Contact us", text, [])
    assert plain.topic == FALLBACK_TOPIC
    for category in ("Sport", "Business", "Health", "World", "Tech"):
        assert classifier.classify("Contact us", text, [category]) == plain


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


def test_no_evidence_at_all_has_no_scores(classifier: TopicClassifier) -> None:
    assert classifier.classify(None, None, None).scores == ()
    assert classifier.classify("Xq", "zzz qqq", ["Sport"]).scores == ()


def test_weak_evidence_is_general_whatever_the_model_prefers() -> None:
    # The lexicon's min_score decides "no clear subject" before the model's preference counts.
    lexicon = TopicLexicon.from_package()
    text = "The report was published on Tuesday by the team."
    assert 0 < lexicon.evidence(None, text).strongest < lexicon.params.min_score
    model = _flat_model()
    model.bias[LABELS.index("sport")] = 10.0
    decision = TopicClassifier(lexicon, model).classify(None, text)
    assert decision.topic == FALLBACK_TOPIC
    assert decision.scores[0][0] == "sport"


def test_explicit_general_evidence_beats_a_passing_mention(classifier: TopicClassifier) -> None:
    # A correction notice names an exhibition, but it is a notice, not an arts story.
    text = (
        "An article on page 12 of yesterday's edition gave the wrong opening date for the "
        "exhibition. The correct date is Saturday 14 June. We apologise for the error."
    )
    decision = classifier.classify("Correction", text, [])
    assert decision.topic == FALLBACK_TOPIC
    assert decision.scores[0][0] == FALLBACK_TOPIC


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


def test_ties_break_by_taxonomy_order() -> None:
    # A model that favours nothing gives every topic the same probability: the taxonomy order
    # decides, never dict or set order.
    classifier = TopicClassifier(TopicLexicon.from_package(), _flat_model())
    decision = classifier.classify("Earthquake", "An earthquake shook the coast.", [])
    assert decision.topic == LABELS[0]
    assert [slug for slug, _ in decision.scores] == list(LABELS[:3])
    assert len({p for _, p in decision.scores}) == 1


def test_lexicon_rejects_unknown_slugs() -> None:
    lexicon = _package_lexicon()
    lexicon["topics"]["gossip"] = {"3": ["rumour"]}
    with pytest.raises(ValueError, match="gossip"):
        TopicLexicon(lexicon)


def test_categories_cannot_point_at_general() -> None:
    lexicon = _package_lexicon()
    lexicon["categories"][FALLBACK_TOPIC] = {"3": ["misc"]}
    with pytest.raises(ValueError, match=FALLBACK_TOPIC):
        TopicLexicon(lexicon)


# -- lexicon evidence ------------------------------------------------------------------------------


def test_weak_hints_are_capped(classifier: TopicClassifier) -> None:
    # Ten generic business words must not outvote one decisive crime word in the lead.
    text = (
        "Police arrested the man on Monday. The company said its market, business, sales, prices, "
        "customers, industry, production, money, products and growth were unaffected."
    )
    evidence = classifier.lexicon.evidence(None, text)
    assert evidence.total[LABELS.index("crime-justice")] > evidence.total[LABELS.index("economy")]
    assert classifier.classify(None, text, []).topic == "crime-justice"


def test_evidence_parts_and_words() -> None:
    lexicon = TopicLexicon.from_package()
    evidence = lexicon.evidence("Earthquake hits coast", "Rescuers searched the rubble.", ["World"])
    disaster = LABELS.index("disaster")
    assert evidence.title[disaster] > 0 and evidence.text[disaster] > 0
    # The title weighs more in the total than in its own block; categories only where supported.
    assert evidence.total[disaster] > evidence.title[disaster] + evidence.text[disaster]
    assert evidence.categories[LABELS.index("sport")] == 0
    assert evidence.words["rubble"] == 1
    assert evidence.words["earthquake"] == 1 and evidence.words[TITLE_PREFIX + "earthquake"] == 1
    assert not evidence.non_english
    german = lexicon.evidence("Erdbeben", "Ein Erdbeben hat die Küste erschüttert und die Retter")
    assert german.non_english
    blocks = german.blocks()
    assert blocks.shape == (len(EVIDENCE_BLOCKS), len(LABELS))
    half = len(EVIDENCE_BLOCKS) // 2
    assert np.array_equal(blocks[:half], blocks[half:])  # the "if not English" copy is filled
    assert not evidence.blocks()[half:].any()  # ... and empty for English text


def test_text_is_read_up_to_max_chars() -> None:
    lexicon = TopicLexicon.from_package()
    limit = lexicon.params.max_chars
    text = "x " * (limit // 2) + "earthquake earthquake earthquake"
    assert lexicon.evidence(None, text).strongest == 0


def test_explain_lists_lexicon_terms_then_model_words(classifier: TopicClassifier) -> None:
    evidence = classifier.explain("Earthquake hits coast", "Rescuers searched the rubble.", [])
    terms = [term for term, _ in evidence["disaster"]]
    assert {"earthquake*", "rescuers", "rubble"} <= set(terms)
    lexicon_part = [(t, v) for t, v in evidence["disaster"] if not t.startswith("word:")]
    assert [v for _, v in lexicon_part] == sorted((v for _, v in lexicon_part), reverse=True)
    words = [t for t in terms if t.startswith("word:")]
    assert words and terms[-len(words) :] == words


# -- the model file --------------------------------------------------------------------------------


def test_model_loads_from_the_package_and_fits_the_taxonomy() -> None:
    model = TopicModel.from_package()
    assert model.word_weights.shape == (len(model.words), len(LABELS))
    assert len(model.words) > 1000
    assert model.temperature > 0
    with np.load(resources.files("transforms").joinpath("data", MODEL_FILE).open("rb")) as data:
        about = json.loads(str(data["about"]))
    assert about["trained_on"].endswith("split=tune")


def test_model_round_trips_through_its_file(tmp_path: Path) -> None:
    model = TopicModel.from_package()
    model.save(tmp_path / "model.npz", about="{}")
    again = TopicModel.load((tmp_path / "model.npz").read_bytes())
    evidence = TopicLexicon.from_package().evidence(*_AMBIGUOUS)
    assert again.words == model.words and again.temperature == model.temperature
    assert np.array_equal(again.logits(evidence), model.logits(evidence))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": [*LABELS[:-1], "gossip"]}, "taxonomy"),
        ({"blocks": EVIDENCE_BLOCKS[:-1]}, "evidence blocks"),
        ({"word_weights": np.zeros((2, len(LABELS)))}, "do not fit"),
    ],
)
def test_model_for_other_features_is_refused(change: dict, message: str) -> None:
    arguments = {
        "vocabulary": ("a", "b", "c"),
        "word_weights": np.zeros((3, len(LABELS))),
        "block_weights": np.zeros(len(EVIDENCE_BLOCKS)),
        "bias": np.zeros(len(LABELS)),
    }
    with pytest.raises(ValueError, match=message):
        TopicModel(**{**arguments, **change})


def test_word_vector_is_unit_length_over_known_words() -> None:
    model = _flat_model(("club", "shares"))
    rows, values = model.word_vector({"club": 3, "unknown": 5, "shares": 1})
    assert sorted(rows.tolist()) == [0, 1]
    assert float(values @ values) == pytest.approx(1.0)
    assert values[rows.tolist().index(0)] > values[rows.tolist().index(1)]


def test_model_is_loaded_in_setup_not_pickled_with_the_dofn() -> None:
    fn = AssignTopicFn()
    shipped = pickle.loads(pickle.dumps(fn))
    assert shipped._classifier is None
    assert len(pickle.dumps(fn)) < 10_000
    shipped.setup()
    assert shipped._classifier is not None


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
                    all(score["topic"] in LABELS for score in row["topic_scores"]),
                    set(row) == set(ARTICLES.columns) | {"date", "topic"},
                )
            ),
            equal_to([(a["id"], True, True, True, True) for a in _fixtures()]),
            label="Shapes",
        )


def test_assign_topic_fn_classifies_a_batch_and_hands_on_each_article_in_order() -> None:
    rows = _article_rows()
    fn = AssignTopicFn()
    fn.setup()
    out = list(fn.process(rows))
    assert [row["article_id"] for row in out] == [row["article_id"] for row in rows]
    assert [row["topic"] for row in out] == [a["label"] for a in _fixtures()]


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
