"""transforms.language against py3langid itself: same automaton reading, same scores."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from py3langid.langid import MODEL_FILE, LanguageIdentifier, visit_counts

from transforms.language import FastLanguageIdentifier, automaton_depth, load_identifier
from transforms.normalize import (
    _LANGUAGE_SAMPLE_CHARS,
    _MIN_LANGUAGE_CONFIDENCE,
    LanguageDetector,
    word_count,
)

SENTENCES = {
    "en": "The port authority approved a new ferry terminal on Thursday, officials said.",
    "de": "Der Hafen bekommt ein neues Fährterminal, teilte die Behörde am Donnerstag mit.",
    "fr": "Le port a approuvé jeudi la construction d'un nouveau terminal pour les ferries.",
    "es": "La autoridad portuaria aprobó el jueves una nueva terminal de transbordadores.",
    # Two CJK characters (6 bytes) make the automaton's longest n-grams.
    "ja": "港湾局は木曜日、新しいフェリーターミナルを承認したと発表した。",
    "zh": "港务局周四批准了一个新的渡轮码头，这是一个重要的项目。",
}
WORDS = sorted({word for sentence in SENTENCES.values() for word in sentence.split()})
# Hypothesis rarely draws surrogates or NULs on its own: mix them in on purpose.
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_CHARACTER = st.one_of(
    st.characters(exclude_categories=()), SURROGATES, st.sampled_from("\x00 aeZ.")
)
WORDY_TEXT = st.lists(
    st.one_of(st.sampled_from(WORDS), st.text(ANY_CHARACTER, max_size=4)), max_size=300
).map(" ".join)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def oracle() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@pytest.fixture(scope="module")
def fast() -> FastLanguageIdentifier:
    return load_identifier(norm_probs=True)


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def assert_same(fast: FastLanguageIdentifier, oracle: LanguageIdentifier, text) -> None:
    # Bit for bit: every class's score, the decision and the ranking.
    assert np.array_equal(fast._decide(text), oracle._decide(text))
    assert fast.classify(text) == oracle.classify(text)
    assert fast.rank(text) == oracle.rank(text)


def python_states(identifier: LanguageIdentifier, data: bytes) -> list[int]:
    """py3langid's walk (visit_counts), keeping every state."""
    state, states = 0, []
    for letter in data:
        state = identifier.tk_nextmove[identifier._rowbase[state] + letter]
        states.append(state)
    return states


def trie_labels(next_move: np.ndarray, row_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each state's breadth-first path from the start state: (bytes as a big-endian integer,
    length), length -1 for an unreachable state."""
    label = np.zeros(len(row_offsets), dtype=np.uint64)
    length = np.full(len(row_offsets), -1, dtype=np.int64)
    length[0] = 0
    frontier = np.zeros(1, dtype=np.intp)
    while frontier.size:
        targets = next_move[row_offsets[frontier][:, None] + np.arange(256)].ravel()
        fresh = np.flatnonzero(length[targets] < 0)
        new, first = np.unique(targets[fresh], return_index=True)
        first = fresh[first]  # flat index: (frontier state, byte) that first reached it
        parent, byte = frontier[first >> 8], (first & 255).astype(np.uint64)
        label[new] = (label[parent] << np.uint64(8)) | byte
        length[new] = length[frontier[0]] + 1
        frontier = new.astype(np.intp)
    return label, length


def wrong_transitions(next_move: np.ndarray, row_offsets: np.ndarray) -> int:
    """Transitions that do not go to the state of the longest suffix of (the state's string +
    the byte) that is a state (the start state when none is)."""
    label, length = trie_labels(next_move, row_offsets)
    assert (length >= 0).all(), "unreachable states"
    assert length.max() < 8, "strings must fit the 56 bits below"
    by_length = []  # per string length: (sorted labels, their states)
    for k in range(int(length.max()) + 1):
        states = np.flatnonzero(length == k)
        order = np.argsort(label[states])
        by_length.append((label[states][order], states[order]))
        assert (np.diff(by_length[k][0]) > 0).all(), "two states stand for the same string"
    n, wrong = len(row_offsets), 0
    byte = np.arange(256, dtype=np.uint64)
    for start in range(0, n, 8192):
        block = np.arange(start, min(n, start + 8192))
        string = ((label[block, None] << np.uint64(8)) | byte).ravel()
        string_length = np.repeat(length[block] + 1, 256)
        expected = np.zeros(string.shape, dtype=np.int64)
        # Longer suffixes overwrite shorter ones (a suffix of a state's string need not be one).
        for k, (labels, states) in enumerate(by_length[1:], start=1):
            candidates = np.flatnonzero(string_length >= k)
            suffix = string[candidates] & np.uint64((1 << (8 * k)) - 1)
            at = np.minimum(np.searchsorted(labels, suffix), len(labels) - 1)
            hit = labels[at] == suffix
            expected[candidates[hit]] = states[at[hit]]
        actual = next_move[row_offsets[block, None] + np.arange(256)].ravel()
        wrong += int((actual != expected).sum())
    return wrong


def test_the_automaton_is_the_longest_suffix_trie(fast: FastLanguageIdentifier) -> None:
    """What the numpy walk relies on, over the whole transition table: every state stands for
    one distinct byte string (its breadth-first path from the start state), every transition
    goes to the state of the longest suffix of (string + byte) that is a state, and the longest
    string is ``_window`` bytes. Then the state after a byte depends on the last ``_window``
    bytes only."""
    assert wrong_transitions(fast._next_move, fast._row_offsets) == 0
    _, length = trie_labels(fast._next_move, fast._row_offsets)
    assert length.max() == fast._window == automaton_depth(fast._next_move, fast._row_offsets)


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_fixed_sentences(language: str, fast, oracle) -> None:
    text = SENTENCES[language]
    assert fast.classify(text)[0] == language
    for variant in (text, text.upper(), text * 20, text.encode("utf-8")):
        assert_same(fast, oracle, variant)


@pytest.mark.parametrize(
    "text", ["", "a", "OK", "\x00", "\x00" * 7, "\ud800", "a\udfffb", "日本語", b"\xff\xfe\xfd"]
)
def test_edge_cases(text, fast, oracle) -> None:
    assert_same(fast, oracle, text)


def test_states_and_counts_match_the_python_walk(fast, oracle) -> None:
    for text in [*SENTENCES.values(), "", "x", "\x00a\x00b", "ÄÖÜ " * 50]:
        data = oracle._encode(text)
        assert fast.states(data).tolist() == python_states(oracle, data)
        features = fast._feature[fast.states(data)]
        expected = visit_counts(oracle.tk_nextmove, oracle._rowbase, oracle.tk_output, data)
        counts = Counter(features[features >= 0].tolist())
        assert list(counts.items()) == list((expected or {}).items())  # same order too


def test_falls_back_to_py3langid_without_a_padding_byte(oracle) -> None:
    identifier = load_identifier()
    identifier._pad = None
    for text in SENTENCES.values():
        assert_same(identifier, oracle, text)


@SETTINGS
@given(st.text(ANY_CHARACTER, max_size=1200))
def test_random_unicode(fast, oracle, text: str) -> None:
    assert_same(fast, oracle, text)


@SETTINGS
@given(WORDY_TEXT)
def test_words_in_mixed_languages(fast, oracle, text: str) -> None:
    assert_same(fast, oracle, text)
    assert_same(fast, oracle, text.upper())


@SETTINGS
@given(st.text(ANY_CHARACTER, max_size=3))
def test_very_short_text(fast, oracle, text: str) -> None:
    assert_same(fast, oracle, text)


@SETTINGS
@given(st.binary(max_size=600))
def test_raw_bytes(fast, oracle, data: bytes) -> None:
    assert_same(fast, oracle, data)


@SETTINGS
@given(WORDY_TEXT)
def test_detector_decides_as_with_py3langid(detector, oracle, text: str) -> None:
    sample = text[:_LANGUAGE_SAMPLE_CHARS]
    expected = None
    if word_count(sample) >= 3:
        language, confidence = oracle.classify(sample)
        expected = language if confidence >= _MIN_LANGUAGE_CONFIDENCE else None
    assert detector.detect(text) == expected
