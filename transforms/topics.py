"""Topic assignment: one slug of the fixed taxonomy per article, with the evidence behind it.

Two parts, both shipped as data files in ``transforms/data/`` and loaded once per worker:

* a weighted **lexicon** in English, German and French (``topic_lexicon.json``), written by hand
  so that every decision can be traced to terms (see :meth:`TopicClassifier.explain`):

  - the title counts ``title_weight`` times, the lead (first ``lead_chars`` characters)
    ``lead_weight`` times, the rest of the text (up to ``max_chars``) once; a term repeated n
    times adds ``weight * log2(1 + n)`` so one word cannot carry a whole story, and weak hints
    (weight <= ``weak_weight``) add up to at most ``weak_cap`` per topic;
  - feed/page categories ("World", "Business", "Sport", ...) are mapped onto slugs and added as
    evidence, but only to topics the text itself supports: a category is never the only signal;
  - the lexicon also lists positive evidence for ``general`` (imprints, notices, site chrome);

* a small multinomial **logistic regression** (``topic_model.npz``), trained by
  ``benchmarks/topics/train_model.py`` on the tune split of the labelled set. It reads the
  lexicon's evidence per topic (overall, title alone, text alone, categories), the same evidence
  again for German/French text (where the lexicon must do more of the work, since most training
  text is English), and the words of the title and text, so it learns which lexicon signals to
  trust and the vocabulary the lexicon lacks (company news in a health or computer business is
  economy, not health or technology).

An article with less than ``min_score`` lexicon evidence for every topic is filed under
``general`` whatever the model says: a text with no clear subject does not get one by
statistics alone. ``topic_scores`` reports the model's three most probable topics.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import repeat
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from schemas.tables import FALLBACK_TOPIC, TOPICS
from transforms.batches import in_batches

LEXICON_FILE = "topic_lexicon.json"
MODEL_FILE = "topic_model.npz"
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

# Frequent function words: more German/French ones than English ones marks a text as not English.
_ENGLISH_WORDS = frozenset(("the", "and", "of", "to", "in", "is", "for", "on", "that", "with",
                            "was", "as", "by", "at", "from", "it", "said"))  # fmt: skip
_GERMAN_FRENCH_WORDS = frozenset(("der", "die", "und", "das", "ist", "nicht", "mit", "den", "von",
                                  "zu", "im", "sich", "auf", "für", "ein", "eine", "des", "dem",
                                  "le", "la", "les", "et", "est", "une", "un", "du", "pour",
                                  "dans", "que", "qui", "sur", "par", "au", "pas"))  # fmt: skip
# Word features of the model: the title's words are also counted with this prefix.
TITLE_PREFIX = "t:"
# The lexicon evidence the model weighs, per topic, in the order of Evidence.blocks().
_OWN_BLOCKS = ("log1p(total)", "share(total)", "log1p(title)", "log1p(text)", "log1p(categories)")
EVIDENCE_BLOCKS: tuple[str, ...] = (
    *_OWN_BLOCKS,
    *(f"{name} if not English" for name in _OWN_BLOCKS),
)

# A lexicon hit: (index of the slug in LABELS, index of the lexicon entry, weight).
Hit = tuple[int, int, float]


@dataclass(frozen=True)
class TopicDecision:
    """The chosen slug and the (up to) three most probable topics with their probability."""

    topic: str
    scores: tuple[tuple[str, float], ...]

    def score_rows(self) -> list[dict[str, Any]]:
        """``topic_scores`` as the articles table stores it."""
        return [{"topic": slug, "score": score} for slug, score in self.scores]


@dataclass(frozen=True)
class Evidence:
    """What an article offers the model: lexicon evidence per topic (in LABELS order) and words."""

    total: tuple[float, ...]  # the lexicon's score: weighted title, lead and text, and categories
    title: tuple[float, ...]  # the title alone, each occurrence once
    text: tuple[float, ...]  # the text alone (up to max_chars), each occurrence once
    categories: tuple[float, ...]  # category evidence, only for topics the text supports
    words: Mapping[str, int]  # word features (text and title words, prefixed title words)
    non_english: bool

    def blocks(self) -> np.ndarray:
        """The EVIDENCE_BLOCKS as a (blocks, topics) array."""
        values = np.array((self.total, self.title, self.text, self.categories))
        logs = np.log1p(values)
        blocks = np.zeros((2 * len(_OWN_BLOCKS), values.shape[1]))
        # log1p(total), share(total), then log1p of title, text and categories.
        blocks[0] = logs[0]
        sum_total = values[0].sum()
        if sum_total > 0:
            blocks[1] = values[0] / sum_total
        blocks[2 : len(_OWN_BLOCKS)] = logs[1:]
        if self.non_english:
            blocks[len(_OWN_BLOCKS) :] = blocks[: len(_OWN_BLOCKS)]
        return blocks

    @property
    def strongest(self) -> float:
        return max(self.total)


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


class TopicLexicon:
    """The hand-written lexicon: per-topic evidence for an article, and the terms behind it."""

    def __init__(self, lexicon: Mapping[str, Any]) -> None:
        self.params = _Params(**lexicon["params"])
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
    def from_package(cls) -> TopicLexicon:
        """Load the lexicon shipped inside the installed package (no network, no cwd)."""
        data = resources.files("transforms").joinpath("data", LEXICON_FILE).read_text("utf-8")
        return cls(json.loads(data))

    def _lookup(self, token: str) -> tuple[Hit, ...]:
        """Memo miss: match the token against the lexicon and remember the answer."""
        hits = self._memo.get(token)
        if hits is None:
            if len(self._memo) >= _TOKEN_MEMO_LIMIT:
                self._memo.clear()
            hits = self._memo[token] = self._terms.token_hits(token)
        return hits

    def _part_counts(self, parts: Sequence[Sequence[str]]) -> dict[Hit, list[float]]:
        """Per lexicon entry (word or phrase) that fired: its occurrences in each part."""
        counts: dict[Hit, list[float]] = {}
        memo_get = self._memo.get
        phrases = self._terms.phrases
        for index, tokens in enumerate(parts):
            # Counter counts in C: Python only loops over distinct words and phrase anchors.
            for token, occurrences in Counter(tokens).items():
                hits = memo_get(token)
                if hits is None:
                    hits = self._lookup(token)
                for hit in hits:
                    slot = counts.get(hit) or counts.setdefault(hit, [0.0] * len(parts))
                    slot[index] += occurrences
            for position in [i for i, token in enumerate(tokens) if token in phrases]:
                for offset, words, hits in phrases[tokens[position]]:
                    start = position - offset
                    if start >= 0 and tuple(tokens[start : start + len(words)]) == words:
                        for hit in hits:
                            slot = counts.get(hit) or counts.setdefault(hit, [0.0] * len(parts))
                            slot[index] += 1.0
        return counts

    def _sum_by_topic(self, counts: Mapping[Hit, float]) -> list[float]:
        """Per topic: sum of weight * log2(1 + occurrences), weak hints capped, floored at zero."""
        return self._sums_by_topic(((hit, (count,)) for hit, count in counts.items()), 1)[0]

    def _sums_by_topic(
        self, counts: Iterable[tuple[Hit, Sequence[float]]], size: int
    ) -> list[list[float]]:
        """``_sum_by_topic`` for ``size`` sets of counts in one pass: ``counts`` gives each entry
        with its occurrences in every set (0 where it is not in the set)."""
        weak_weight = self.params.weak_weight
        strong = [[0.0] * len(LABELS) for _ in range(size)]
        weak = [[0.0] * len(LABELS) for _ in range(size)]
        # Added in entry order, so the float sums are the same whatever order the entries were
        # met in.
        for (topic_index, _entry, weight), occurrences in sorted(counts):
            targets = weak if 0 < weight <= weak_weight else strong
            for target, count in zip(targets, occurrences, strict=True):
                if count:
                    target[topic_index] += weight * math.log2(1.0 + count)
        cap = self.params.weak_cap
        return [
            [max(s + min(w, cap), 0.0) for s, w in zip(set_strong, set_weak, strict=True)]
            for set_strong, set_weak in zip(strong, weak, strict=True)
        ]

    def _weighted(self, counts: Mapping[Hit, Sequence[float]]) -> dict[Hit, float]:
        """Title, lead and rest occurrences merged with their weights (the lexicon's score)."""
        title, lead = self.params.title_weight, self.params.lead_weight
        return {hit: title * t + lead * ld + r for hit, (t, ld, r) in counts.items()}

    def _parts(self, title: str, text: str) -> tuple[list[str], list[str], list[str]]:
        """Title, lead and rest tokens; the lead ends at the first paragraph or at lead_chars."""
        body = text[: self.params.max_chars]
        cut = body.find("\n\n", 0, self.params.lead_chars)
        cut = self.params.lead_chars if cut < 0 else cut
        return _tokens(title), _tokens(body[:cut]), _tokens(body[cut:])

    def _category_evidence(self, categories: Sequence[str]) -> list[float]:
        evidence = [0.0] * len(LABELS)
        for word in _category_words(categories):
            for topic_index, weight in self._categories.get(word, {}).items():
                evidence[topic_index] = max(evidence[topic_index], weight)
        # Tags such as "Coronavirus, Podcast, Virologe" carry no section word but still inform.
        tags = self._part_counts((_tokens(" ".join(categories)),))
        for topic_index, score in enumerate(self._sum_by_topic({h: n for h, (n,) in tags.items()})):
            evidence[topic_index] += self.params.category_text_weight * score
        return evidence

    def evidence(
        self, title: str | None, text: str | None, categories: Sequence[str] | None = ()
    ) -> Evidence:
        """Everything the model reads about one article (the training script reads the same)."""
        params = self.params
        title_tokens, lead_tokens, rest_tokens = parts = self._parts(title or "", text or "")
        counts = self._part_counts(parts)
        weighted = self._weighted(counts)
        in_text, in_title, in_body = self._sums_by_topic(
            ((hit, (weighted[hit], t, ld + r)) for hit, (t, ld, r) in counts.items()), 3
        )
        category = self._category_evidence(categories or ())
        weight = params.category_weight
        # A category only adds to topics the text supports: it is never the only signal.
        total = [t + weight * c if t > 0 else 0.0 for t, c in zip(in_text, category, strict=True)]
        words = Counter(lead_tokens)
        words.update(rest_tokens)
        words.update(title_tokens)
        english = sum(words[word] for word in _ENGLISH_WORDS.intersection(words))
        other = sum(words[word] for word in _GERMAN_FRENCH_WORDS.intersection(words))
        words.update(TITLE_PREFIX + token for token in title_tokens)
        return Evidence(
            total=tuple(total),
            title=tuple(in_title),
            text=tuple(in_body),
            categories=tuple(c if t > 0 else 0.0 for t, c in zip(in_text, category, strict=True)),
            words=words,
            non_english=other > english,
        )

    def explain(
        self, title: str | None, text: str | None, categories: Sequence[str] | None = ()
    ) -> dict[str, list[tuple[str, float]]]:
        """Per topic, the entries that fired with their contribution (before the weak-hint cap)."""
        counts = self._weighted(self._part_counts(self._parts(title or "", text or "")))
        by_topic: dict[str, list[tuple[str, float]]] = {}
        for (topic_index, entry, weight), count in counts.items():
            by_topic.setdefault(LABELS[topic_index], []).append(
                (self._terms.entries[entry], round(weight * math.log2(1.0 + count), 3))
            )
        for topic_index, score in enumerate(self._category_evidence(categories or ())):
            if score > 0:
                by_topic.setdefault(LABELS[topic_index], []).append(
                    ("[categories]", round(score, 3))
                )
        return by_topic


class TopicModel:
    """The trained linear layer: topic logits from lexicon evidence blocks and word features."""

    def __init__(
        self,
        vocabulary: Sequence[str],
        word_weights: np.ndarray,
        block_weights: np.ndarray,
        bias: np.ndarray,
        labels: Sequence[str] = LABELS,
        blocks: Sequence[str] = EVIDENCE_BLOCKS,
        temperature: float = 1.0,
    ) -> None:
        # A model trained for another taxonomy or other evidence would misread every article.
        if tuple(labels) != LABELS:
            raise ValueError(f"model labels {tuple(labels)} are not the taxonomy {LABELS}")
        if tuple(blocks) != EVIDENCE_BLOCKS:
            raise ValueError(f"model evidence blocks {tuple(blocks)} != {EVIDENCE_BLOCKS}")
        shape = (len(vocabulary), len(LABELS))
        if word_weights.shape != shape or block_weights.shape != (len(EVIDENCE_BLOCKS),):
            raise ValueError(f"model weights {word_weights.shape} do not fit {shape}")
        self.vocabulary = {word: row for row, word in enumerate(vocabulary)}
        self.words = tuple(vocabulary)
        self.word_weights = np.asarray(word_weights, dtype=np.float64)
        self.block_weights = np.asarray(block_weights, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        # Divides the logits so the probabilities in topic_scores are calibrated (set by training).
        self.temperature = temperature

    @classmethod
    def load(cls, data: bytes) -> TopicModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                vocabulary=[str(word) for word in arrays["vocabulary"]],
                word_weights=arrays["word_weights"],
                block_weights=arrays["block_weights"],
                bias=arrays["bias"],
                labels=[str(label) for label in arrays["labels"]],
                blocks=[str(block) for block in arrays["blocks"]],
                temperature=float(arrays["temperature"]),
            )

    @classmethod
    def from_package(cls) -> TopicModel:
        """Load the model shipped inside the installed package (no network, no cwd)."""
        return cls.load(resources.files("transforms").joinpath("data", MODEL_FILE).read_bytes())

    def save(self, path: Any, about: str) -> None:
        """Write the model file (``about``: how it was trained, kept inside the file)."""
        np.savez_compressed(
            path,
            vocabulary=np.array(self.words, dtype=str),
            word_weights=self.word_weights.astype(np.float32),
            block_weights=self.block_weights,
            bias=self.bias,
            labels=np.array(LABELS, dtype=str),
            blocks=np.array(EVIDENCE_BLOCKS, dtype=str),
            temperature=np.array(self.temperature),
            about=np.array(about),
        )

    def word_vector(self, words: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the known words and their values: log(1 + count), scaled to unit length."""
        # Words come in text order, the same for the same article, so the sums are repeatable.
        rows = np.fromiter(
            map(self.vocabulary.get, words, repeat(-1)), dtype=np.intp, count=len(words)
        )
        counts = np.fromiter(words.values(), dtype=np.float64, count=len(words))
        known = rows >= 0
        values = np.log1p(counts[known])
        norm = math.sqrt(float(values @ values))
        return rows[known], values / norm if norm else values

    def logits(self, evidence: Evidence) -> np.ndarray:
        rows, values = self.word_vector(evidence.words)
        return values @ self.word_weights[rows] + self.block_weights @ evidence.blocks() + self.bias

    def probabilities(self, evidence: Evidence) -> np.ndarray:
        logits = self.logits(evidence) / self.temperature
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()

    def word_contributions(self, evidence: Evidence, topic: int) -> list[tuple[str, float]]:
        """The words that raised the topic's logit most, with what each added."""
        rows, values = self.word_vector(evidence.words)
        added = values * self.word_weights[rows, topic]
        order = sorted(range(len(rows)), key=lambda i: (-added[i], self.words[rows[i]]))
        return [(self.words[rows[i]], round(float(added[i]), 3)) for i in order if added[i] > 0]


class TopicClassifier:
    """Pure, deterministic topic classifier: the lexicon's evidence weighed by the model."""

    def __init__(self, lexicon: TopicLexicon, model: TopicModel) -> None:
        self.lexicon = lexicon
        self.model = model

    @classmethod
    def from_package(cls) -> TopicClassifier:
        return cls(TopicLexicon.from_package(), TopicModel.from_package())

    def classify(
        self, title: str | None, text: str | None, categories: Sequence[str] | None = ()
    ) -> TopicDecision:
        evidence = self.lexicon.evidence(title, text, categories)
        if not any(evidence.total) and not any(w in self.model.vocabulary for w in evidence.words):
            return TopicDecision(FALLBACK_TOPIC, ())
        probabilities = self.model.probabilities(evidence).tolist()
        # Ties go to the taxonomy order, never to dict or set order.
        ranked = sorted(range(len(LABELS)), key=lambda index: (-probabilities[index], index))
        top = tuple((LABELS[index], round(probabilities[index], 4)) for index in ranked[:TOP_N])
        if evidence.strongest < self.lexicon.params.min_score:
            return TopicDecision(FALLBACK_TOPIC, top)
        return TopicDecision(LABELS[ranked[0]], top)

    def explain(
        self, title: str | None, text: str | None, categories: Sequence[str] | None = ()
    ) -> dict[str, list[tuple[str, float]]]:
        """Per topic: the lexicon entries that fired, then the model's words ("word:...")."""
        terms = self.lexicon.explain(title, text, categories)
        evidence = self.lexicon.evidence(title, text, categories)
        for index, slug in enumerate(LABELS):
            words = self.model.word_contributions(evidence, index)[:5]
            if words:
                terms.setdefault(slug, []).extend((f"word:{w}", v) for w, v in words)
        return {
            slug: sorted(found, key=lambda t: (t[0].startswith("word:"), -t[1], t[0]))
            for slug, found in terms.items()
        }


# -- Beam ---------------------------------------------------------------------------------------


class AssignTopicFn(beam.DoFn):
    """A batch of articles -> each with ``topic`` and ``topic_scores`` set, in a new dict (inputs
    are untouched). The whole batch is classified before any article is handed on (see
    transforms.batches)."""

    def __init__(self) -> None:
        self._classifier: TopicClassifier | None = None
        self._assigned = {slug: Metrics.counter("topics", f"assigned_{slug}") for slug in LABELS}

    def setup(self) -> None:
        # Loaded once per worker, never at import time.
        self._classifier = TopicClassifier.from_package()

    def process(self, articles: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        classifier = self._classifier
        assert classifier is not None, "setup() loads the classifier"
        decisions = [
            classifier.classify(
                article.get("title"), article.get("text"), article.get("categories")
            )
            for article in articles
        ]
        for article, decision in zip(articles, decisions, strict=True):
            self._assigned[decision.topic].inc()
            yield {**article, "topic": decision.topic, "topic_scores": decision.score_rows()}


class AssignTopic(beam.PTransform):
    """PCollection of article dicts -> the same dicts with ``topic`` and ``topic_scores`` set."""

    def expand(self, articles: beam.PCollection) -> beam.PCollection:
        return articles | "Batch" >> in_batches() | "ClassifyTopic" >> beam.ParDo(AssignTopicFn())
