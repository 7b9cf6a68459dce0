"""Shingling normalisation, MinHash signatures and LSH band keys (transforms/minhash.py)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from transforms.minhash import (
    MinHasher,
    MinHashParams,
    Tokenizer,
    fold_word,
    jaccard_estimate,
    shingle_hashes,
    story_text,
)

FIXTURES = Path(__file__).parent / "fixtures" / "dedup"


def body(name: str) -> str:
    """A fixture's article text (the lines after the title, date and blank line)."""
    return (FIXTURES / name).read_text(encoding="utf-8").split("\n", 3)[3]


def shingles_of(text: str, params: MinHashParams) -> np.ndarray:
    return shingle_hashes(Tokenizer().hashes(story_text(text)), params.shingle_size)


def brute_force(hasher: MinHasher, shingles: np.ndarray) -> np.ndarray:
    """The textbook definition: per permutation, the minimum over the shingles (top 32 bits)."""
    with np.errstate(over="ignore"):
        values = (hasher._a * shingles[None, :] + hasher._b) >> np.uint64(32)
    return values.min(axis=1).astype(np.uint32)


def test_story_text_drops_furniture_markup_and_typography():
    text = (
        "<div><p>By Staff Reporter</p><p>The \u201cfirst\u201d line \u2014 here.</p></div>\n\n"
        "Advertisement\n\nShare this article\n\nSecond  paragraph &amp; more.\n\n"
        "Read more: Another headline entirely\n\nCopyright 1987 Wire Service. All rights reserved."
    )
    assert story_text(text).split() == (
        ["The", '"first"', "line", "-", "here.", "Second", "paragraph", "&", "more."]
    )


def test_story_text_keeps_prose_that_merely_mentions_furniture_words():
    text = "Advertisement revenue fell 12 pct in the quarter as clients cut budgets, it said."
    assert story_text(text) == text
    # A byline is names only; a short paragraph opening with "By" is prose.
    assert story_text("By Jane Mercer and Tom Okafor\n\nBy noon it was over.") == (
        "By noon it was over."
    )


@pytest.mark.parametrize(
    ("uk", "us"),
    [
        ("colour", "color"),
        ("labour", "labor"),
        ("organised", "organized"),
        ("organisation", "organization"),
        ("analyse", "analyze"),
        ("centre", "center"),
        ("metres", "meters"),
        ("catalogue", "catalog"),
        ("travelled", "traveled"),
        ("defence", "defense"),
        ("programme", "program"),
        ("paediatric", "pediatric"),
        ("tyres", "tires"),
    ],
)
def test_fold_word_maps_uk_and_us_spelling_together(uk, us):
    assert fold_word(uk) == fold_word(us)


@pytest.mark.parametrize("word", ["four", "hour", "your", "rise", "wise", "called", "four."])
def test_fold_word_leaves_short_words_alone(word):
    assert fold_word(word) == word.strip(".")


def test_tokenizer_folds_case_punctuation_and_thousands():
    words = Tokenizer().words("The U.S. economy's 1,200 dlrs, (or 12.5 pct) - rose.")
    assert words == ["the", "u.s", "economy's", "1200", "dlrs", "or", "12.5", "pct", "rose"]


def test_token_hashes_are_crc32_of_the_folded_word():
    # Stable across processes and workers (Python's hash() is salted per process).
    assert Tokenizer().hashes("Colour").tolist() == [zlib.crc32(b"color")]


def test_shingle_hashes_shapes():
    hashes = Tokenizer().hashes("one two three four five six seven")
    assert len(shingle_hashes(hashes, 5)) == 3
    assert len(shingle_hashes(hashes[:3], 5)) == 1  # a short text is one shingle
    assert len(shingle_hashes(hashes[:0], 5)) == 0
    # Order matters inside a shingle: "a b c" differs from "c b a".
    forward = shingle_hashes(Tokenizer().hashes("a b c"), 3)
    backward = shingle_hashes(Tokenizer().hashes("c b a"), 3)
    assert forward[0] != backward[0]


def test_signatures_match_the_definition_for_both_views():
    params = MinHashParams()
    hasher = MinHasher(params)
    texts = [body("quake.txt"), body("iran.txt"), body("quake.brief.txt"), "", "too short"]
    shingles = [shingles_of(t, params) for t in texts]
    whole, lead = hasher.signatures(shingles)
    for i, sh in enumerate(shingles):
        if len(sh) == 0:
            assert (whole[i] == 0xFFFFFFFF).all() and (lead[i] == 0xFFFFFFFF).all()
            continue
        assert (whole[i] == brute_force(hasher, sh)).all()
        assert (lead[i] == brute_force(hasher, sh[: params.lead_shingles])).all()


def test_signatures_do_not_depend_on_batching_or_instance():
    params = MinHashParams()
    rng = np.random.Generator(np.random.PCG64(7))
    # Enough shingles to force several NumPy chunks in one call.
    shingles = [rng.integers(0, 2**63, size=n, dtype=np.uint64) for n in rng.integers(0, 900, 40)]
    together, _ = MinHasher(params).signatures(shingles)
    one_by_one = np.concatenate([MinHasher(params).signatures([s])[0] for s in shingles])
    assert (together == one_by_one).all()


def test_signature_estimate_tracks_jaccard():
    params = MinHashParams(num_perm=256, bands=32)
    base = np.arange(1, 401, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    other = np.concatenate((base[:300], base[:100] + np.uint64(1)))  # 300 shared of 500
    whole, _ = MinHasher(params).signatures([base, other])
    assert jaccard_estimate(whole[0], whole[1]) == pytest.approx(300 / 500, abs=0.08)


def test_band_keys_let_a_brief_meet_the_full_story_through_its_lead():
    params = MinHashParams()
    hasher = MinHasher(params)
    story, brief, other = (
        shingles_of(body(n), params) for n in ("quake.txt", "quake.brief.txt", "iran.txt")
    )
    whole, lead = hasher.signatures([story, brief, other])
    keys = hasher.band_keys(whole, lead)
    whole_only = hasher.band_keys(whole, whole)
    assert not set(whole_only[0]) & set(whole_only[1])  # whole texts alone are too far apart
    assert set(keys[0]) & set(keys[1])  # the story's lead view meets the brief
    assert not set(keys[0]) & set(keys[2])
    assert keys[0] == sorted(set(keys[0]))


def test_band_keys_of_an_empty_text_are_empty():
    hasher = MinHasher(MinHashParams())
    whole, lead = hasher.signatures([np.empty(0, dtype=np.uint64)])
    assert hasher.band_keys(whole, lead) == [[]]


def test_params_validate_and_fingerprint():
    with pytest.raises(ValueError):
        MinHashParams(num_perm=100, bands=32)
    assert MinHashParams().fingerprint() == MinHashParams().fingerprint()
    assert MinHashParams(seed=1).fingerprint() != MinHashParams().fingerprint()
