"""Topic assignment: one slug of the fixed taxonomy per article, with the evidence behind it.

The classifier is a weighted lexicon (``transforms/data/topic_lexicon.json``) in English, German
and French, because the pages we ingest are in all three. It is deliberately simple so that every
decision can be explained by the terms that fired (see :meth:`TopicClassifier.explain`):

* the title counts ``title_weight`` times, the lead (first ``lead_chars`` characters)
  ``lead_weight`` times, the rest of the text (up to ``max_chars``) once; a term repeated n
  times adds ``weight * log2(1 + n)`` so one word cannot carry a whole story, and weak hints
  (weight <= ``weak_weight``) add up to at most ``weak_cap`` per topic, so a pile of generic words
  ("company", "officials", "people") cannot outvote one decisive term;
* feed/page categories ("World", "Business", "Sport", ...) are mapped onto slugs and added as
  evidence, but only to topics the text itself supports: a category is never the only signal;
* when the best topic has less than ``min_score`` evidence the article is filed under ``general``;
  the lexicon also lists positive evidence for ``general`` (imprints, notices, site chrome), which
  wins like a topic when it is the strongest.

``topic_scores`` reports the (up to) three best topics with their share of all the evidence.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.tables import FALLBACK_TOPIC, TOPICS

LEXICON_FILE = "topic_lexicon.json"
TOP_N = 3
# Memo of per-token lexicon hits; bounded so a worker's memory stays flat on endless streams.
_TOKEN_MEMO_LIMIT = 200_000

# Every slug the classifier can return; the fallback comes last so ties go to a real topic.
LABELS: tuple[str, ...] = (*TOPICS, FALLBACK_TOPIC)

_TOKEN_RE = re.compile(r"\w+")
# What the "*" at the end of a phrase stands for: plural, inflections, or a digit ("ios 1*").
_PHRASE_ENDINGS = ("", "s", "es", "ies", "y", "ing", "ed", "er", "ers", "ic", "ics", "ion", "ions",
                   *"0123456789")  # fmt: skip
# Category strings come as "Science & Health", "News, Tech, World", "Arts / Culture": split them.
_CATEGORY_SPLIT_RE = re.compile(r"\s*[,;/|>&]\s*|\s+-\s+")

# A lexicon hit: (index of the slug in LABELS, index of the lexicon entry, weight).
Hit = tuple[int, int, float]


@dataclass(frozen=True)
class TopicDecision:
    """The chosen slug and the (up to) three best topics with their share of the evidence."""

    topic: str
    scores: tuple[tuple[str, float], ...]

    def score_rows(self) -> list[dict[str, Any]]:
        """``topic_scores`` as the articles table stores it."""
        return [{"topic": slug, "score": score} for slug, score in self.scores]


@dataclass(frozen=True)
class _Params:
    title_weight: float
    lead_weight: float
    lead_chars: int
    max_chars: int
    category_weight: float
    category_text_weight: float
    weak_weight: float
    weak_cap: float
    min_score: float


class _TermTable:
    """Lexicon entries indexed for matching: whole tokens, prefixes, suffixes and phrases."""

    def __init__(self, topics: Mapping[str, Mapping[str, Sequence[str]]]) -> None:
        self.entries: list[str] = []
        self.exact: dict[str, list[Hit]] = {}
        self.prefix: dict[str, list[Hit]] = {}
        self.suffix: dict[str, list[Hit]] = {}
        # Phrases by their anchor, the longest (rarest) word: (its offset, all the words, hits).
        self.phrases: dict[str, list[tuple[int, tuple[str, ...], list[Hit]]]] = {}
        for slug in sorted(topics):
            if slug not in LABELS:
                raise ValueError(f"lexicon topic {slug!r} is not in the taxonomy")
            topic_index = LABELS.index(slug)
            for weight_text, terms in sorted(topics[slug].items()):
                weight = float(weight_text)
                for raw in terms:
                    self._add(raw.casefold().strip(), topic_index, weight)
        # Only the stem lengths that exist are tried, which keeps affix matching cheap.
        self.prefix_lengths = sorted({len(stem) for stem in self.prefix})
        self.suffix_lengths = sorted({len(tail) for tail in self.suffix})

    def _add(self, term: str, topic_index: int, weight: float) -> None:
        words = _TOKEN_RE.findall(term.strip("*"))
        self.entries.append(term)
        hit = (topic_index, len(self.entries) - 1, weight)
        if not words:
            raise ValueError(f"lexicon term {term!r} has no word in it")
        if len(words) > 1:
            # "trade union*" stands for its usual inflections, spelled out so matching stays exact.
            endings = _PHRASE_ENDINGS if term.endswith("*") else ("",)
            for ending in endings:
                spelled = (*words[:-1], words[-1] + ending)
                offset = max(range(len(spelled)), key=lambda i: (len(spelled[i]), -i))
                entries = self.phrases.setdefault(spelled[offset], [])
                for _offset, known_words, hits in entries:
                    if known_words == spelled:
                        hits.append(hit)
                        break
                else:
                    entries.append((offset, spelled, [hit]))
            return
        if term.endswith("*"):
            table, key = self.prefix, words[0]
        elif term.startswith("*"):
            table, key = self.suffix, words[0]
        else:
            table, key = self.exact, words[0]
        table.setdefault(key, []).append(hit)

    def token_hits(self, token: str) -> tuple[Hit, ...]:
        """Every entry a single token matches, at most one (the strongest) per topic."""
        found = list(self.exact.get(token, ()))
        size = len(token)
        for length in self.prefix_lengths:
            if length > size:
                break
            found.extend(self.prefix.get(token[:length], ()))
        for length in self.suffix_lengths:
            if length >= size:  # a suffix entry needs something in front of it (a compound)
                break
            found.extend(self.suffix.get(token[-length:], ()))
        return _strongest_per_topic(found)


def _strongest_per_topic(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    # "football" matching both "football" and "football*" must count once; ties go to the
    # earlier entry so the choice is stable.
    best: dict[int, Hit] = {}
    for hit in hits:
        current = best.get(hit[0])
        if current is None or (hit[2], -hit[1]) > (current[2], -current[1]):
            best[hit[0]] = hit
    return tuple(best[topic] for topic in sorted(best))


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.casefold())


def _category_words(categories: Iterable[str]) -> list[str]:
    """Whole category strings and their parts, case-folded: "Science & Health" -> 3 keys."""
    words: list[str] = []
    for category in categories:
        folded = " ".join(category.casefold().split())
        if not folded:
            continue
        words.append(folded)
        parts = [part for part in _CATEGORY_SPLIT_RE.split(folded) if part]
        if len(parts) > 1:
            words.extend(parts)
    return words


class TopicClassifier:
    """Pure, deterministic topic classifier built from the lexicon data file."""

    def __init__(self, lexicon: Mapping[str, Any]) -> None:
        self._params = _Params(**lexicon["params"])
        self._terms = _TermTable(lexicon["topics"])
        self._categories: dict[str, dict[int, float]] = {}
        for slug in sorted(lexicon["categories"]):
            if slug not in TOPICS:  # a section word is evidence for a topic, never for "general"
                raise ValueError(f"category topic {slug!r} is not in the taxonomy")
            index = LABELS.index(slug)
            for weight_text, words in lexicon["categories"][slug].items():
                for word in words:
                    slot = self._categories.setdefault(" ".join(word.casefold().split()), {})
                    slot[index] = max(slot.get(index, 0.0), float(weight_text))
        self._memo: dict[str, tuple[Hit, ...]] = {}

    @classmethod
    def from_package(cls) -> TopicClassifier:
        """Load the lexicon shipped inside the installed package (no network, no cwd)."""
        data = resources.files("transforms").joinpath("data", LEXICON_FILE).read_text("utf-8")
        return cls(json.loads(data))

    # -- evidence -------------------------------------------------------------------------------

    def _lookup(self, token: str) -> tuple[Hit, ...]:
        """Memo miss: match the token against the lexicon and remember the answer."""
        hits = self._memo.get(token)
        if hits is None:
            if len(self._memo) >= _TOKEN_MEMO_LIMIT:
                self._memo.clear()
            hits = self._memo[token] = self._terms.token_hits(token)
        return hits

    def _count_terms(self, tokens: Sequence[str], factor: float, counts: dict[Hit, float]) -> None:
        """Add ``factor`` per occurrence of each lexicon entry (words and phrases) in tokens."""
        # Counter counts in C, so Python only loops over distinct words and over phrase anchors.
        memo_get = self._memo.get
        for token, occurrences in Counter(tokens).items():
            hits = memo_get(token)
            if hits is None:
                hits = self._lookup(token)
            for hit in hits:
                counts[hit] = counts.get(hit, 0.0) + factor * occurrences
        phrases = self._terms.phrases
        for position in [i for i, token in enumerate(tokens) if token in phrases]:
            for offset, words, hits in phrases[tokens[position]]:
                start = position - offset
                if start >= 0 and tuple(tokens[start : start + len(words)]) == words:
                    for hit in hits:
                        counts[hit] = counts.get(hit, 0.0) + factor

    def _text_counts(self, title: str, text: str) -> dict[Hit, float]:
        params = self._params
        body = text[: params.max_chars]
        # The lead ends at the first paragraph break or at lead_chars, whichever comes first.
        cut = body.find("\n\n", 0, params.lead_chars)
        cut = params.lead_chars if cut < 0 else cut
        counts: dict[Hit, float] = {}
        self._count_terms(_tokens(title), params.title_weight, counts)
        self._count_terms(_tokens(body[:cut]), params.lead_weight, counts)
        self._count_terms(_tokens(body[cut:]), 1.0, counts)
        return counts

    def _category_evidence(self, categories: Sequence[str]) -> list[float]:
        evidence = [0.0] * len(LABELS)
        for word in _category_words(categories):
            for topic_index, weight in self._categories.get(word, {}).items():
                evidence[topic_index] = max(evidence[topic_index], weight)
        # Tags such as "Coronavirus, Podcast, Virologe" carry no section word but still inform.
        counts: dict[Hit, float] = {}
        self._count_terms(_tokens(" ".join(categories)), 1.0, counts)
        for topic_index, score in enumerate(self._sum_by_topic(counts)):
            evidence[topic_index] += self._params.category_text_weight * score
        return evidence

    def _scores(self, title: str, text: str, categories: Sequence[str]) -> list[float]:
        text_scores = self._sum_by_topic(self._text_counts(title, text))
        category_scores = self._category_evidence(categories)
        weight = self._params.category_weight
        return [
            score + weight * category if score > 0 else 0.0
            for score, category in zip(text_scores, category_scores, strict=True)
        ]

    def _sum_by_topic(self, counts: Mapping[Hit, float]) -> list[float]:
        """Per topic: sum of weight * log2(1 + occurrences), weak hints capped, floored at zero."""
        strong = [0.0] * len(LABELS)
        weak = [0.0] * len(LABELS)
        # Sorted so the float sums are the same whatever order the entries were met in.
        for (topic_index, _entry, weight), count in sorted(counts.items()):
            target = weak if 0 < weight <= self._params.weak_weight else strong
            target[topic_index] += weight * math.log2(1.0 + count)
        cap = self._params.weak_cap
        return [max(s + min(w, cap), 0.0) for s, w in zip(strong, weak, strict=True)]

    # -- public API -----------------------------------------------------------------------------

    def classify(
        self, title: str | None, text: str | None, categories: Sequence[str] | None = ()
    ) -> TopicDecision:
        scores = self._scores(title or "", text or "", categories or ())
        # Ties go to the taxonomy order, never to dict or set order.
        ranked = sorted(
            (index for index, score in enumerate(scores) if score > 0),
            key=lambda index: (-scores[index], index),
        )
        total = sum(scores[index] for index in ranked)
        top = tuple((LABELS[index], round(scores[index] / total, 4)) for index in ranked[:TOP_N])
        if not ranked or scores[ranked[0]] < self._params.min_score:
            return TopicDecision(FALLBACK_TOPIC, top)
        return TopicDecision(LABELS[ranked[0]], top)

    def explain(
        self, title: str | None, text: str | None, categories: Sequence[str] | None = ()
    ) -> dict[str, list[tuple[str, float]]]:
        """Per topic, the entries that fired with their contribution (before the weak-hint cap)."""
        counts = self._text_counts(title or "", text or "")
        by_topic: dict[str, list[tuple[str, float]]] = {}
        for (topic_index, entry, weight), count in counts.items():
            contribution = round(weight * math.log2(1.0 + count), 3)
            by_topic.setdefault(LABELS[topic_index], []).append(
                (self._terms.entries[entry], contribution)
            )
        category = self._category_evidence(categories or ())
        for topic_index, score in enumerate(category):
            if score > 0:
                by_topic.setdefault(LABELS[topic_index], []).append(
                    ("[categories]", round(score, 3))
                )
        return {
            slug: sorted(terms, key=lambda t: (-t[1], t[0])) for slug, terms in by_topic.items()
        }


# -- Beam ---------------------------------------------------------------------------------------


class AssignTopicFn(beam.DoFn):
    """Sets ``topic`` and ``topic_scores`` on each article, in a new dict (inputs are untouched)."""

    def __init__(self) -> None:
        self._classifier: TopicClassifier | None = None
        self._assigned = {slug: Metrics.counter("topics", f"assigned_{slug}") for slug in LABELS}

    def setup(self) -> None:
        # Loaded once per worker, never at import time.
        self._classifier = TopicClassifier.from_package()

    def process(self, article: dict[str, Any]) -> Iterator[dict[str, Any]]:
        assert self._classifier is not None, "setup() loads the classifier"
        decision = self._classifier.classify(
            article.get("title"), article.get("text"), article.get("categories")
        )
        self._assigned[decision.topic].inc()
        yield {**article, "topic": decision.topic, "topic_scores": decision.score_rows()}


class AssignTopic(beam.PTransform):
    """PCollection of article dicts -> the same dicts with ``topic`` and ``topic_scores`` set."""

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        return articles | "ClassifyTopic" >> beam.ParDo(AssignTopicFn())
