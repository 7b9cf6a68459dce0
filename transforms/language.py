"""py3langid's language identifier with its byte walk done by numpy.

py3langid counts features with a Python loop that walks a DFA over the text's UTF-8 bytes, one
step per byte. That DFA is an Aho-Corasick automaton over byte n-grams of at most ``window``
(6) bytes: the state after a byte is the trie node of the longest suffix of the text so far that
is a node, so it depends only on the last ``window`` bytes. Walking from the start state over
just those bytes reaches the same state, and that walk can run for every position at once:
``window`` vectorised steps instead of one Python step per byte. tests/test_language.py checks
the automaton property over the model's whole transition table and compares the results with
py3langid's own ``classify``.

Everything else (text encoding, scoring, softmax, alias folding, argmax) is py3langid's own code:
``FastLanguageIdentifier`` only replaces the walk inside ``_raw_score`` and holds the scoring table
widened to float32 (the same products, without numpy widening it on every call).
"""

from __future__ import annotations

from array import array
from collections import Counter

import numpy as np
from py3langid.langid import MODEL_FILE, LanguageIdentifier


def _as_numpy(values: array) -> np.ndarray:
    """A stdlib array('H'/'I'/'L') of the model as a numpy view (no copy)."""
    return np.frombuffer(values, dtype=np.dtype(f"u{values.itemsize}"))


def automaton_depth(next_move: np.ndarray, row_offsets: np.ndarray) -> int:
    """Breadth-first levels of the DFA from its start state: in an Aho-Corasick automaton, the
    longest n-gram a state stands for."""
    seen = np.zeros(len(row_offsets), dtype=bool)
    seen[0] = True
    expanded = np.zeros(len(next_move) >> 8, dtype=bool)
    frontier = np.zeros(1, dtype=np.intp)
    depth = 0
    while True:
        # States share transition rows, whose targets are all seen once expanded: expand each
        # distinct row once.
        rows = np.unique(row_offsets[frontier] >> 8)
        rows = rows[~expanded[rows]]
        expanded[rows] = True
        reached = np.zeros_like(seen)
        reached[next_move[(rows[:, None] << 8) + np.arange(256)]] = True
        reached &= ~seen
        if not reached.any():
            return depth
        depth += 1
        seen |= reached
        frontier = np.flatnonzero(reached)


class FastLanguageIdentifier(LanguageIdentifier):
    """``LanguageIdentifier`` whose DFA walk runs in numpy; same features counted in the same
    first-occurrence order, hence the same scores bit for bit."""

    __slots__ = ("_feature", "_next_move", "_pad", "_row_offsets", "_window")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # py3langid keeps the scoring table as float16, which numpy widens to float32 element by
        # element inside every product (~5x the product's cost). Widened once here (exact, +28 MB
        # while the model is loaded), the float32 products are the same, bit for bit.
        self.nb_ptc = np.asarray(self.nb_ptc, dtype=np.float32)
        self._full_model = (self.nb_ptc, *self._full_model[1:])
        self._next_move = _as_numpy(self.tk_nextmove)
        # Where each state's 256 transitions start in ``_next_move`` (py3langid's _rowbase).
        self._row_offsets = _as_numpy(self.tk_row).astype(np.intp) << 8
        self._feature = np.asarray(self.tk_output, dtype=np.int32)
        self._window = automaton_depth(self._next_move, self._row_offsets)
        # A byte that keeps the start state where it is: padding the text with it gives the
        # first positions full windows that walk exactly as the text's start does.
        start = self._next_move[self._row_offsets[0] : self._row_offsets[0] + 256]
        stays = np.flatnonzero(start == 0)
        self._pad = bytes([stays[0]]) * (self._window - 1) if stays.size else None

    def states(self, data: bytes) -> np.ndarray:
        """The DFA state after each byte of ``data``, as py3langid's walk reaches it."""
        if self._pad is None:
            raise ValueError("no byte keeps this model's start state: cannot pad the walk")
        padded = np.frombuffer(self._pad + data, dtype=np.uint8)
        n = len(data)
        # Step j moves every window's walk over its j-th byte: padded[i + j] for position i.
        states = self._next_move[self._row_offsets[0] + padded[:n]]
        for j in range(1, self._window):
            states = self._next_move[self._row_offsets[states] + padded[j : j + n]]
        return states

    def _raw_score(self, text: bytes) -> np.ndarray:
        if self._pad is None:  # a model this walk cannot pad: py3langid's own loop
            return super()._raw_score(text)
        features = self._feature[self.states(text)]
        # A Counter of the list, as py3langid's visit_counts: its first-occurrence order is the
        # order of the float32 sum in _sparse_score.
        visits = Counter(features[features >= 0].tolist())
        if visits:
            return self._sparse_score(visits, self.nb_ptc)
        return super()._raw_score(b"")  # py3langid's scores for a text without features


def load_identifier(norm_probs: bool = True) -> FastLanguageIdentifier:
    """py3langid's bundled model (read from the installed package, never downloaded)."""
    return FastLanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=norm_probs)
