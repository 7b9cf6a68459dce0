"""Each claim rule on a sentence from the wild (the seed articles and Reuters-21578 stories)."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import PROJECT
from transforms.buckets import by_shard
from transforms.claims import extract_claims
from transforms.claims_attribution import _TOKEN, tokenize
from transforms.claims_cluster import (
    BANDS,
    SHARDS,
    Signature,
    _CollectorPause,
    block_keys,
    claim_key,
    key_parts,
    match_shard,
    matches,
    numbers_agree,
)
from transforms.claims_features import (
    _NUMBER,
    _NUMBER_ASCII,
    caseless_word_sets,
    checkworthiness,
    direction,
    hedged,
    negated,
    numbers,
)
from transforms.claims_lexicon import DIRECTION_DOWN, DIRECTION_UP, NEGATORS, NON_NEGATING_PHRASES
from transforms.claims_text import dateline_end, sentences


def article(text: str, article_id: str = "a1") -> dict:
    return {
        "article_id": article_id,
        "cluster_id": article_id,
        "is_duplicate": False,
        "text": text,
        "source": None,
        "url": None,
        "date": "2025-11-28",
        "topic": "politics",
    }


def claims(text: str) -> list[dict]:
    return extract_claims(article(text))


# --- sentences and quotes -------------------------------------------------------------------------


def test_dateline_is_not_part_of_the_first_sentence():
    text = "WELLINGTON, March 2 - An earthquake measuring 6.5 on the Richter scale caused damage."
    assert text[dateline_end(text) :].startswith("An earthquake")
    assert dateline_end("U.S. President Donald Trump said the talks went well.") == 0


def test_abbreviations_do_not_split_sentences():
    text = "State outlets said Mr. Putin reiterated his demand. The U.S. side had asked Russia."
    assert [s.text for s in sentences(text)] == [
        "State outlets said Mr. Putin reiterated his demand.",
        "The U.S. side had asked Russia.",
    ]


def test_multi_sentence_quote_stays_one_unit():
    text = (
        "“Work is currently being carried out at the working, expert level. It is precisely at the "
        "expert level that certain results must be achieved,” he explained."
    )
    assert len(sentences(text)) == 1


def test_headings_furniture_questions_and_calls_to_action_are_not_claims():
    text = (
        "Kremlin Says It Is Encouraged By U.S. Talks, Ready To Negotiate Further\n\n"
        "0 Comments\n\nWhat’s Next for Peace Efforts?\n\n"
        "Will Moscow accept the plan, officials asked?\n\n"
        "Subscribe to our newsletter for daily updates from Moscow."
    )
    assert claims(text) == []


def test_paragraph_cut_mid_sentence_is_rejoined():
    # Reuters 1625: the reader split a hard-wrapped quote into three "paragraphs".
    text = (
        'Marx said the talks should not drag on. "If Venezuela and\n\nMexico have concluded their '
        'negotiations, we want to end (ours)\n\nin a reasonable manner and as soon as possible," '
        "he said."
    )
    rows = [r for r in claims(text) if r["claim_type"] == "direct_quote"]
    assert len(rows) == 1
    assert rows[0]["quote"].startswith("If Venezuela and\n\nMexico")


# --- attribution ----------------------------------------------------------------------------------


def test_quote_with_pronoun_resolves_to_full_name_and_role():
    text = (
        "Speaking to reporters, Kremlin spokesman Dmitry Peskov described the consultations as a "
        "normal working process.\n\n"
        "“This kind of direct exchange of views took place for the first time yesterday,” he noted."
    )
    quote = next(r for r in claims(text) if r["claim_type"] == "direct_quote")
    assert quote["speaker"] == "Dmitry Peskov"
    assert quote["speaker_role"] == "Kremlin spokesman"
    assert quote["cue"] == "noted"
    assert quote["text"].endswith("Dmitry Peskov noted.")


def test_surname_alone_resolves_to_the_name_as_first_given():
    text = (
        "Kremlin spokesman Dmitry Peskov said the talks were useful.\n\n"
        "According to Peskov, the discussions represent the first direct exchange of views."
    )
    rows = claims(text)
    assert [r["speaker"] for r in rows] == ["Dmitry Peskov", "Dmitry Peskov"]
    assert rows[1]["cue"] == "according to"


def test_segment_after_said_keeps_the_speaker():
    text = (
        "“Some things were accepted, and some things were marked as unacceptable,” Peskov said. "
        "“This is a normal working process—the search for compromise.”"
    )
    rows = claims(text)
    assert [(r["claim_type"], r["speaker"]) for r in rows] == [
        ("direct_quote", "Peskov"),
        ("direct_quote", "Peskov"),
    ]
    assert rows[1]["quote"] == "This is a normal working process—the search for compromise."
    assert rows[1]["text"].startswith("Peskov said: “This is")


def test_organisations_speak():
    rows = claims("The Kremlin has confirmed that President Vladimir Putin has accepted the plan.")
    assert (rows[0]["claim_type"], rows[0]["speaker"], rows[0]["cue"]) == (
        "reported_speech",
        "Kremlin",
        "confirmed",
    )


def test_group_speaker_after_clause():
    rows = claims(
        "Manila also hopes to tack on another 5.8 billion dlrs to any new agreement, "
        "central bank officials said."
    )
    assert rows[0]["speaker"] == "central bank officials"


def test_participle_cue_belongs_to_the_subject():
    rows = claims(
        "Trump described negotiations as “not easy” but expressed optimism, saying, "
        "“We’re getting close to a deal.”"
    )
    quotes = [r for r in rows if r["claim_type"] == "direct_quote"]
    assert [(q["quote"], q["speaker"], q["cue"]) for q in quotes] == [
        ("We’re getting close to a deal.", "Trump", "saying")
    ]


def test_scare_quotes_are_not_direct_quotes():
    rows = claims("Peskov underscored that Russia does not support “megaphone diplomacy,” a term.")
    assert [r["claim_type"] for r in rows] == ["reported_speech"]
    assert rows[0]["quote"] is None


def test_two_speakers_in_one_sentence_get_their_own_clause():
    rows = claims(
        "While Kyiv claimed earlier this month that only a small Russian contingent was inside the "
        "city, Putin said Kupyansk was already “almost entirely in Russian hands” by November 4."
    )
    assert [(r["claim_type"], r["speaker"]) for r in rows] == [
        ("reported_speech", "Kyiv"),
        ("direct_quote", "Putin"),
    ]
    assert rows[0]["text"].startswith("Kyiv claimed earlier this month")


def test_report_inside_a_report_belongs_to_the_outer_speaker():
    rows = claims("Russian state outlets said Mr. Putin reiterated his demand for Donbas.")
    assert [r["speaker"] for r in rows] == ["Russian state outlets"]


def test_negated_and_passive_cues_are_not_attributions():
    rows = claims(
        "However, the Kremlin spokesman did not specify which elements were welcomed. "
        "No deaths were reported but one man was admitted to hospital in serious condition."
    )
    assert all(r["claim_type"] != "reported_speech" for r in rows)


def test_appositive_names_the_role():
    rows = claims(
        "Jim Townsend, senior fellow at the Center for a New American Security, warned that "
        "Russia may be using delay tactics."
    )
    assert rows[0]["speaker"] == "Jim Townsend"
    assert rows[0]["speaker_role"] == "senior fellow at the Center for a New American Security"
    assert rows[0]["hedged"] is True


def test_definite_description_resolves_to_the_person():
    text = (
        "U.S. Agriculture Secretary Richard Lyng said a marketing loan would serve no purpose.\n\n"
        "However, the USDA secretary said that a loan might be appropriate later."
    )
    assert [r["speaker"] for r in claims(text)] == ["Richard Lyng", "Richard Lyng"]


def test_the_company_resolves_to_the_organisation_named_before():
    text = (
        "SYDNEY, April 13 - Cuts would be insufficient, the ANZ Banking Group Ltd said.\n\n"
        "The political climate meant a continued over-reliance on monetary policy, ANZ said."
    )
    assert [r["speaker"] for r in claims(text)] == ["ANZ Banking Group Ltd"] * 2


def test_quoted_as_saying():
    rows = claims(
        "In a despatch from Washington, Reuters quoted the official as saying Manila's plan was "
        "consistent with the strategy."
    )
    assert (rows[0]["speaker"], rows[0]["cue"]) == ("official", "quoted as saying")


# --- numbers, hedging, polarity, checkworthiness --------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("The country has foreign debt totalling 27.8 billion dlrs.", [(27.8e9, "USD")]),
        (
            "Ongpin wants 5/8 point over the rate, hovering around 6-1/2 pct.",
            [(0.625, "point"), (6.5, "percent")],
        ),
        ("Trump has promoted a 28-point plan.", [(28.0, "point")]),
        (
            "Strikes killed at least six people and injured 13 others.",
            [(6.0, "person"), (13.0, "person")],
        ),
        ("Whakatane has about 16,000 people.", [(16000.0, "person")]),
        ("Kupyansk fell by November 4 after talks in 2025.", []),
    ],
)
def test_numbers_with_units(sentence, expected):
    found = numbers(sentence)
    assert [n["unit"] for n in found] == [unit for _, unit in expected]
    assert [n["value"] for n in found] == pytest.approx([value for value, _ in expected])


def test_hedging_negation_direction():
    assert hedged("Russian officials reportedly identified elements.")
    assert not hedged("Russia accepted the plan.")
    assert negated("the U.S. plan was not rejected as a whole")
    assert not negated("officials accepted some, but not all, elements")
    assert direction("unemployment rose to 4.4%") == "up"
    assert direction("unemployment fell to 4.4%") == "down"


def test_checkworthiness_prefers_numbers_and_named_sources_over_hedged_opinion():
    stat = checkworthiness(
        "statistic",
        [{"value": 6.0}],
        None,
        [{"name": "Kyiv"}],
        False,
        "Strikes in Kyiv killed at least six people.",
        direction("Strikes in Kyiv killed at least six people."),
    )
    hedged_opinion = "We appreciate it, maybe."
    opinion = checkworthiness(
        "direct_quote", [], "person", [], True, hedged_opinion, direction(hedged_opinion)
    )
    assert 0.0 <= opinion < stat <= 1.0


# --- claim matching -------------------------------------------------------------------------------


def _sig(claim_id: str, article_id: str, terms: str, **kw) -> Signature:
    affiliation = kw.get("affiliation", ())
    numbers = kw.get("numbers", ())
    key = claim_key(
        affiliation,
        kw.get("negated", False),
        kw.get("direction", ""),
        numbers,
        sorted(terms.split()),
    )
    return Signature(
        claim_id=claim_id,
        article_id=article_id,
        source=article_id,
        claim_key=key,
        affiliation=affiliation,
        numbers=numbers,
        entities=kw.get("entities", ()),
    )


def test_a_claim_key_reads_back_as_negation_direction_and_terms():
    key = claim_key(("peskov", "russia"), True, "up", [(4.4, "percent")], ["plan", "rate"])
    assert key == "peskov|russia#neg#up#4.4:percent#plan rate"
    assert key_parts(key) == (True, "up", ("plan", "rate"))
    assert key_parts(claim_key(None, False, "", [], [])) == (False, "", ())


def test_claims_in_different_batches_meet_in_the_blocks_they_share():
    def stat(claim_id: str, article_id: str, **kw) -> Signature:
        return _sig(
            claim_id,
            article_id,
            "jobless rate month",
            direction="up",
            numbers=((4.4, "percent"),),
            entities=("labor",),
            **kw,
        )

    rose, same, denied = stat("1", "a"), stat("2", "b"), stat("3", "c", negated=True)
    other = _sig("4", "d", "wheat harvest export tonnes")
    parts = ([rose, other], [same, denied])
    batches = [by_shard([tuple(s) for s in part], *block_keys(part), SHARDS) for part in parts]
    edges = set()
    for shard in range(SHARDS):
        edges.update(match_shard(b for batch in batches for s, b in batch if s == shard))
    assert edges == {(("1", "a"), ("2", "b"))}
    # Polarity is part of every key: a denial shares no block with the claim it denies.
    assert not set(block_keys([rose])[0].tolist()) & set(block_keys([denied])[0].tolist())
    assert len(block_keys([rose])[0]) == BANDS + 1  # its bands, and one quantity x entity block


def test_numbers_and_negation_must_agree_for_a_match():
    rose = _sig("1", "a", "unemployment rate month", direction="up", numbers=((4.4, "percent"),))
    fell = _sig("2", "b", "unemployment rate month", direction="down", numbers=((4.4, "percent"),))
    other = _sig("3", "c", "unemployment rate month", direction="up", numbers=((4.5, "percent"),))
    same = _sig("4", "d", "unemployment rate month", direction="up", numbers=((4.4, "percent"),))
    denied = _sig(
        "5",
        "e",
        "unemployment rate month",
        direction="up",
        negated=True,
        numbers=((4.4, "percent"),),
    )
    assert matches(rose, same)
    assert not matches(rose, fell)
    assert not matches(rose, other)
    assert not matches(rose, denied)
    assert numbers_agree(((4.4, "percent"),), ())
    assert not numbers_agree(((4.4, "percent"),), ((4.5, "percent"),))


def test_speakers_must_be_compatible():
    kremlin = _sig("1", "a", "accept element plan settlement", affiliation=("russia",))
    peskov = _sig("2", "b", "accept element plan settlement", affiliation=("peskov", "russia"))
    kyiv = _sig("3", "c", "accept element plan settlement", affiliation=("ukraine",))
    assert matches(kremlin, peskov)
    assert not matches(kremlin, kyiv)


def test_of_two_known_people_in_one_name_run_the_first_named_wins_in_any_process():
    """Set order changes with PYTHONHASHSEED (seeds 0 and 1 disagree): entities must not."""
    probe = (
        "from transforms.claims_features import entities; "
        "print(entities('Japanese Prime Minister Yasuhiro Nakasone and President Reagan met.', "
        "['Reagan', 'Yasuhiro Nakasone']))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(PROJECT)},
        ).stdout
        for seed in ("0", "1", "2", "3")
    }
    assert len(outputs) == 1
    assert "Yasuhiro Nakasone" in outputs.pop().split("}")[0]


# --- fast paths: the same answers as the plain searches they stand in for -------------------------

# Words of the rules, the characters around them, and characters that fold or lower-case unlike
# ASCII ("ſ" matches "s" under re.IGNORECASE; "İ" lower-cases to two characters).
_PIECES = [
    *"abdesy .,'’-/%$\n\x1c1é_ſİK",
    *("may", "May", "ready to", "not", "n't", "no", "rose", "fell", "cut", "two", "Six"),
    *("16,000", "27.8", "7/8", "15-1/2", "-year", " billion", " people", "Mr.", "U.S.", "“", "”"),
]
_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=14).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=_TEXTS)
def test_caseless_word_sets_find_what_one_search_per_set_finds(text):
    sets = {"one": ["may", "ready to", "not"], "two": ["may be", "rose", "six"], "three": ["cut"]}
    expected = {
        name
        for name, group in sets.items()
        if re.search(rf"\b(?:{'|'.join(map(re.escape, group))})\b", text, re.IGNORECASE)
    }
    assert caseless_word_sets(sets)(text) == expected


def test_caseless_word_sets_refuse_entries_an_ascii_text_may_fold_into():
    with pytest.raises(ValueError):
        caseless_word_sets({"numbers": ["ſix"]})  # "Six" matches it under re.IGNORECASE


@settings(max_examples=400, deadline=None)
@given(text=_TEXTS.filter(str.isascii))
def test_ascii_quantity_regex_matches_as_the_plain_one(text):
    plain = [(m.start(), m.end(), m.groups()) for m in _NUMBER.finditer(text)]
    fast = [(m.start(), m.end() - 1, m.groups()) for m in _NUMBER_ASCII.finditer(" " + text)]
    assert fast == plain


@settings(max_examples=400, deadline=None)
@given(text=_TEXTS, data=st.data())
def test_tokens_are_the_token_regex_matches(text, data):
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    found = [(t.text, t.start, t.end) for t in tokenize(text, start, end)]
    assert found == [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text, start, end)]


@settings(max_examples=400, deadline=None)
@given(text=_TEXTS)
def test_negation_and_direction_read_whole_words(text):
    low = text.lower()
    for phrase in NON_NEGATING_PHRASES:
        low = low.replace(phrase, " ")
    low = low.replace("n’t", " n't").replace("n't", " n't")
    assert negated(text) == bool(NEGATORS & set(re.findall(r"[a-z']+", low)))
    words = set(re.findall(r"[a-z]+", text.lower()))
    up, down = bool(DIRECTION_UP & words), bool(DIRECTION_DOWN & words)
    assert direction(text) == ("up" if up and not down else "down" if down and not up else "")


def test_the_collector_resumes_when_the_last_overlapping_pause_ends():
    # Two shards matched in two threads: their pauses overlap and end in either order.
    paused = _CollectorPause()
    assert gc.isenabled()
    first, second = paused(), paused()
    try:
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert not gc.isenabled()  # the second shard is still being matched
        second.__exit__(None, None, None)
        assert gc.isenabled()
        gc.disable()  # a caller that had paused it keeps it paused
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
