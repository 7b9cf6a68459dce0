"""Shingling and MinHash LSH for near-duplicate detection (pure: no Beam).

The pieces, in the order an article goes through them:

* ``story_text``: the article text reduced to what identifies a story -- HTML remnants, furniture
  paragraphs (bylines, "Advertisement", "Read more: ...", copyright lines) and typography (curly
  quotes, dashes) are removed or folded, so two outlets' copies of one story tokenise alike.
* ``Tokenizer`` / ``shingle_hashes``: folded words (UK spelling folded to US, thousands separators
  dropped) and word k-grams as stable 64-bit hashes (CRC-32 per token combined polynomially;
  Python's ``hash()`` is salted per process, so never used).
* ``MinHasher.signatures``: MinHash signatures for a whole batch of articles in one NumPy pass
  (multiply-shift hashing over all shingles of the batch, ``np.minimum.reduceat`` per article). Each
  article gets two views: the whole text, and its lead (the first ``lead_shingles`` shingles) -- the
  lead view is what lets a one-paragraph brief or a trimmed copy collide with the full story.
* ``band_keys``: LSH band keys for both views; two articles sharing any key are candidates.
"""

from __future__ import annotations

import html
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# --- normalisation for shingling -------------------------------------------------------------

# Typography that differs between outlets of the same copy.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u200b": "",
        "\u2026": "...",
    }
)

_TAG = re.compile(r"<[^>]{0,400}>")
_BLOCK_END = re.compile(r"</(?:p|div|h[1-6]|li|blockquote|section|article)\s*>|<br\s*/?>", re.I)
# Paragraphs that carry no story: page furniture, link bait, copyright and bylines.
_FURNITURE = re.compile(
    r"""^(?:
        advertisement|advertising|sponsored(?:\s+content)?|
        share\s+this(?:\s+(?:article|story))?|share\s+on\s+\w+|
        (?:read\s+more|related|see\s+also|more\s+on\s+this|recommended|also\s+read)\b.*|
        (?:copyright|\(c\)|©).*|.*\ball\s+rights\s+reserved\b.*|
        \d*\s*comments?|leave\s+a\s+(?:reply|comment)|sign\s+up\b.*|subscribe\b.*|follow\s+us\b.*|
        by\s+(?-i:[A-Z][\w.'-]*(?:\s+(?:and\s+)?[A-Z][\w.'-]*){0,4})|  # a byline: names only
        (?:reporting|writing|editing)\s+by\b.*|
        reuter|reuters|ap|afp
    )\s*[.:!]?$""",
    re.IGNORECASE | re.VERBOSE,
)
_MAX_FURNITURE_WORDS = 20
# Rough UK -> US spelling folds for one lower-case word. They only need to map both spellings to
# the same form; an occasional merge of two unrelated words costs a shingle, never a match.
_SPELLING = (
    (re.compile(r"^(\w{3,})our(s|ed|ing|ite|ites|able|ably|ful|er|ers|less)?$"), r"\1or\2"),
    (re.compile(r"^(\w{3,})is(e|es|ed|ing|ation|ations|er|ers)$"), r"\1iz\2"),
    (re.compile(r"^(\w{2,})ys(e|es|ed|ing|er|ers)$"), r"\1yz\2"),
    (re.compile(r"^(\w{2,})tre(s?)$"), r"\1ter\2"),
    (re.compile(r"^(\w{2,})ogue(s?)$"), r"\1og\2"),
    (re.compile(r"^(\w{2,}[aeiou])ll(ed|ing|er|ers)$"), r"\1l\2"),
    (re.compile(r"^(defen|offen|licen|preten)ce(s?)$"), r"\1se\2"),
    (re.compile(r"^programme(s?)$"), r"program\1"),
    (re.compile(r"^(\w+)ae([md]\w*)$"), r"\1e\2"),
    (re.compile(r"^aluminium$"), "aluminum"),
    (re.compile(r"^grey(s?)$"), r"gray\1"),
    (re.compile(r"^tyre(s?)$"), r"tire\1"),
    (re.compile(r"^cheque(s?)$"), r"check\1"),
    (re.compile(r"^judgement(s?)$"), r"judgment\1"),
    (re.compile(r"^ageing$"), "aging"),
)
# One pass to tell whether any fold applies (nearly every word: none does).
_SPELLING_ANY = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in _SPELLING))
# Punctuation that separates words ("one-billion-dlr", "U.S.-Ukraine", "(Wire)"); "'", "." and ","
# stay so "country's", "U.S." and "1,200" survive as single tokens, then are trimmed per token.
_SEPARATORS = str.maketrans({c: " " for c in '!"#$%&()*+/:;<=>?@[\\]^_`{|}~-'})
_TRIM = "'.,"


def _is_furniture(paragraph: str) -> bool:
    return len(paragraph.split()) <= _MAX_FURNITURE_WORDS and bool(_FURNITURE.match(paragraph))


def story_text(text: str) -> str:
    """The story as prose, keeping case: markup, typography variants and furniture removed.

    Datelines stay: an added one costs a shingle or two, while the date in the wire's own
    dateline is what tells this week's templated notice from last week's.

    Shared by signatures and verification, so both see the same words.
    """
    if "<" in text or "&" in text:  # a body delivered as HTML by one feed and as text by another
        text = html.unescape(_TAG.sub(" ", _BLOCK_END.sub("\n\n", text)))
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p and not _is_furniture(p))


def raw_words(text: str) -> list[str]:
    """Whitespace/punctuation-split words of a story text, case kept, edges not yet trimmed."""
    return text.translate(_SEPARATORS).split()


def fold_word(raw: str) -> str:
    """One raw word as a shingling token: lower case, edge punctuation and thousands separators
    dropped, UK spelling folded to US. Empty when nothing word-like is left."""
    word = raw.strip(_TRIM).lower()
    if any(c.isdigit() for c in word):
        return word.replace(",", "")
    if _SPELLING_ANY.match(word):
        for pattern, replacement in _SPELLING:
            word, hits = pattern.subn(replacement, word)
            if hits:
                break
    return word


class Tokenizer:
    """Text -> folded tokens and their stable hashes, memoising per word.

    Word frequencies are Zipfian, so after a few hundred articles nearly every word is a dictionary
    hit; that memo is what makes shingling fast enough. One instance per DoFn (built in setup).
    """

    _MAX_MEMO = 500_000  # bounds memory on long-running workers

    def __init__(self) -> None:
        self._memo: dict[str, tuple[str, int]] = {}

    def lookup(self, raw: str) -> tuple[str, int]:
        """(folded token, its hash) of one raw word; the token is empty for bare punctuation."""
        hit = self._memo.get(raw)
        if hit is None:
            if len(self._memo) >= self._MAX_MEMO:
                self._memo.clear()
            word = fold_word(raw)
            hit = self._memo[raw] = (word, zlib.crc32(word.encode("utf-8")))
        return hit

    def _lookup_all(self, story: str) -> list[tuple[str, int]]:
        raws = raw_words(story)
        found = list(map(self._memo.get, raws))
        if None in found:  # only misses pay for a Python-level call
            found = [hit or self.lookup(raw) for hit, raw in zip(found, raws, strict=True)]
        return found

    def words(self, story: str) -> list[str]:
        """The folded tokens of a story text (``story_text`` output)."""
        return [w for w, _ in self._lookup_all(story) if w]

    def hashes(self, story: str) -> np.ndarray:
        """Stable 32-bit hashes (CRC-32) of the folded tokens, as uint64 for shingle arithmetic."""
        return np.array([h for w, h in self._lookup_all(story) if w], dtype=np.uint64)


# --- hashing -----------------------------------------------------------------------------------

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_POLY = np.uint64(0x100000001B3)  # FNV-64 prime: combines token hashes into a shingle hash


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads structured 64-bit values over all bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingle_hashes(hashes: np.ndarray, size: int) -> np.ndarray:
    """64-bit hashes of the word ``size``-grams in text order (position i: the one at token i).

    A text shorter than ``size`` tokens is one shingle; an empty text has none.
    """
    n = len(hashes)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    width = max(1, n - size + 1)
    grams = min(size, n)
    combined = np.zeros(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(grams):
            combined = combined * _POLY + hashes[offset : offset + width] + np.uint64(offset + 1)
        return mix64(combined)


def batch_shingle_hashes(token_arrays: Sequence[np.ndarray], size: int) -> list[np.ndarray]:
    """``shingle_hashes`` of many texts in one NumPy pass (same values, per text).

    The windows are hashed over the concatenated tokens and those crossing a text boundary are
    dropped, which spares a dozen small NumPy calls per article.
    """
    lengths = np.fromiter((len(t) for t in token_arrays), dtype=np.int64, count=len(token_arrays))
    if not len(lengths) or lengths.sum() < size:
        return [shingle_hashes(t, size) for t in token_arrays]
    tokens = np.concatenate(token_arrays)
    width = len(tokens) - size + 1
    combined = np.zeros(width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(size):
            combined = combined * _POLY + tokens[offset : offset + width] + np.uint64(offset + 1)
        hashed = mix64(combined)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    result = []
    for text, start, end in zip(token_arrays, starts.tolist(), ends.tolist(), strict=True):
        if end - start >= size:
            result.append(hashed[start : end - size + 1])
        else:  # shorter than a shingle: one shingle of what there is
            result.append(shingle_hashes(text, size))
    return result


# --- MinHash -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinHashParams:
    """Everything a signature depends on; stored beside signatures so old ones can be checked."""

    num_perm: int = 128
    bands: int = 32
    shingle_size: int = 5
    lead_shingles: int = 25
    seed: int = 20240611

    def __post_init__(self) -> None:
        if self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")
        if min(self.num_perm, self.bands, self.shingle_size, self.lead_shingles) < 1:
            raise ValueError("MinHash parameters must be positive")

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    def fingerprint(self) -> str:
        """A compact, human-readable tag of the parameters (stored in the signature index)."""
        return (
            f"minhash-v1;perm={self.num_perm};bands={self.bands};k={self.shingle_size};"
            f"lead={self.lead_shingles};seed={self.seed}"
        )


# Columns (shingles) hashed per NumPy pass: bounds the (num_perm x columns) work matrix to ~8 MB.
_CHUNK_COLUMNS = 8192


class MinHasher:
    """Vectorised MinHash over batches of shingle-hash arrays (picklable; no global state)."""

    def __init__(self, params: MinHashParams):
        self.params = params
        rng = np.random.Generator(np.random.PCG64(params.seed))
        # Multiply-shift hashing: h_i(x) = (a_i * x + b_i) mod 2^64, top 32 bits; a_i odd.
        self._a = (rng.integers(0, 2**63, size=(params.num_perm, 1), dtype=np.uint64) << 1) | 1
        self._b = rng.integers(0, 2**63, size=(params.num_perm, 1), dtype=np.uint64)
        self._band_salt = mix64(np.arange(1, params.bands + 1, dtype=np.uint64))
        self._row_weights = mix64(np.arange(101, 101 + params.rows, dtype=np.uint64))

    def signatures(self, shingles: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(whole-text, lead) signatures, each ``uint32[len(shingles), num_perm]``.

        An article without shingles gets the all-ones signature (it collides with nothing).
        """
        count, perm = len(shingles), self.params.num_perm
        whole = np.full((count, perm), 0xFFFFFFFF, dtype=np.uint32)
        lead = whole.copy()
        start = 0
        while start < count:
            stop, columns = start, 0
            while stop < count and (
                stop == start or columns + len(shingles[stop]) <= _CHUNK_COLUMNS
            ):
                columns += len(shingles[stop])
                stop += 1
            self._fill(shingles[start:stop], whole[start:stop], lead[start:stop])
            start = stop
        return whole, lead

    def _fill(self, shingles: Sequence[np.ndarray], whole: np.ndarray, lead: np.ndarray) -> None:
        lengths = np.fromiter((len(s) for s in shingles), dtype=np.int64, count=len(shingles))
        present = np.flatnonzero(lengths)
        if not len(present):
            return
        values = np.concatenate([shingles[i] for i in present])
        # The minimum of the full 64-bit products orders like the minimum of their top 32 bits, so
        # the shift runs on the (articles x num_perm) result, not on every shingle.
        hashed = np.multiply(self._a, values[None, :])
        np.add(hashed, self._b, out=hashed)
        sizes = lengths[present]
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        lead_ends = starts + np.minimum(sizes, self.params.lead_shingles)
        # reduceat over [start, lead_end) then [lead_end, next start): the lead and the rest. When
        # the last article has no rest its lead runs to the end, so its rest bound is left out.
        bounds = np.empty(2 * len(present), dtype=np.int64)
        bounds[0::2], bounds[1::2] = starts, lead_ends
        last_has_rest = lead_ends[-1] < len(values)
        mins = np.minimum.reduceat(hashed, bounds if last_has_rest else bounds[:-1], axis=1)
        if not last_has_rest:
            mins = np.concatenate((mins, mins[:, -1:]), axis=1)  # a placeholder, masked below
        lead_min = (mins[:, 0::2].T >> np.uint64(32)).astype(np.uint32)
        rest_min = (mins[:, 1::2].T >> np.uint64(32)).astype(np.uint32)
        has_rest = (lead_ends < starts + sizes)[:, None]
        lead[present] = lead_min
        whole[present] = np.where(has_rest, np.minimum(lead_min, rest_min), lead_min)

    def band_key_matrix(self, whole: np.ndarray, lead: np.ndarray) -> np.ndarray:
        """LSH band keys of each article's two views, ``uint64[count, 2 * bands]`` (63 bits).

        A key hashes the band's index with its rows, so equal keys mean an equal band; the views
        share one key space, which is what lets a brief's whole text meet a story's lead. The rows
        of articles without shingles are meaningless: see ``has_shingles``.
        """
        count, bands, rows = len(whole), self.params.bands, self.params.rows
        both = np.concatenate((whole, lead), axis=1).astype(np.uint64)
        with np.errstate(over="ignore"):
            weighted = both.reshape(count, 2 * bands, rows) * self._row_weights
            keys = mix64(weighted.sum(axis=2) ^ np.tile(self._band_salt, 2))
        # 63 bits: a key then fits Beam's integer encoding (a larger int is pickled).
        keys >>= np.uint64(1)
        return keys

    def band_keys(self, whole: np.ndarray, lead: np.ndarray) -> list[list[int]]:
        """``band_key_matrix`` per article: sorted, without repeats; none without shingles."""
        keys = self.band_key_matrix(whole, lead)
        signed = has_shingles(whole)
        return [sorted(set(row)) if signed[i] else [] for i, row in enumerate(keys.tolist())]


def has_shingles(whole: np.ndarray) -> np.ndarray:
    """Per article of a batch of whole-text signatures: False for the all-ones signature of an
    article without shingles (it collides with nothing)."""
    return ~(whole == 0xFFFFFFFF).all(axis=1)


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
    """The MinHash estimate of resemblance from two signatures."""
    return float(np.mean(a == b))
