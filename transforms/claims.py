"""Claims stage: who said what in each canonical article, quoted or reported, with numbers, and the
same claim matched across outlets.

Pure logic: ``extract_claims(article)`` turns one article row into claim rows (schemas.CLAIMS
columns plus ``date`` and ``topic``); the rules live in claims_text (sentences, quotes),
claims_attribution (speakers, cues, pronouns), claims_features (numbers, entities, hedging,
checkworthiness, terms) and claims_cluster (cross-article matching).

One sentence yields, in order of precedence:
- ``direct_quote`` rows, one per quoted segment that is a quotation rather than a scare quote: at
  least QUOTE_MIN_WORDS words, or standing as the sentence's whole statement (it opens the sentence,
  or follows a colon or a cue). A quote with no attribution in its sentence continues the last
  attributed statement of its paragraph (or of the paragraph before, when it opens its paragraph).
- ``reported_speech`` rows, one per other speaker attributed in the sentence ("X said that ...",
  "according to X"), the text cut to that speaker's clause when the sentence holds several.
- otherwise ``statistic`` when the sentence states a quantity, or ``assertion`` when it is a
  checkable statement: at least ASSERTION_MIN_WORDS words, naming someone or somewhere, with no
  analysis verb, no forecast and no demonstrative subject ("This reflects ...").
Headings, captions, bylines, furniture, questions and calls to action yield nothing.

Beam: ``ExtractClaims`` takes every article (duplicates are skipped: their canonical carries the
claims), extracts, then clusters claims across articles: a GroupByKey on SHARDS shards of blocking
keys (claims_cluster) finds the matching pairs, a single-key GroupByKey over the (few) pairs forms
connected components, handed back to the claims as a side input. While they wait for it the claims
travel as tuples, which Beam encodes and decodes several times faster than dicts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import CLAIMS, SCHEMA_VERSION
from transforms.batches import in_batches
from transforms.buckets import ShardBatch, by_shard
from transforms.claims_attribution import (
    ArticleContext,
    Hit,
    Speaker,
    Token,
    find_hits,
    outside_quotes,
    register_people,
    scan_people,
    tokenize,
    update_focus,
)
from transforms.claims_cluster import (
    SHARDS,
    Signature,
    affiliation,
    block_keys,
    claim_key,
    components,
    entity_norms,
    match_shard,
    number_key,
)
from transforms.claims_features import (
    checkworthiness,
    claim_words,
    content_terms,
    direction,
    entities,
    hedged,
    negated,
    numbers,
)
from transforms.claims_lexicon import CALL_TO_ACTION_OPENERS, CAPTION_MARKERS
from transforms.claims_text import Quote, Sentence, sentences

QUOTE_MIN_WORDS = 4
ASSERTION_MIN_WORDS = 8
MIN_SENTENCE_WORDS = 4

_DEMONSTRATIVE_SUBJECT = re.compile(r"^(?:This|These|That|Those|Such|It|In essence)\b")
_LEADING_JOINER = re.compile(
    r"^(?:[,;:\s]|and\b|but\b|while\b|whereas\b|although\b|though\b)+", re.I
)
_CLAUSE_BREAKS = frozenset({",", ";", "but", "while", "whereas", "although", "though"})


@dataclass(frozen=True)
class _Attributed:
    """The last attributed statement: a quote with no cue of its own continues it."""

    speaker: Speaker
    cue: str | None
    paragraph: int
    sentence_index: int


def claim_id(article_id: str, start: int, end: int, claim_type: str, part: str) -> str:
    basis = f"{article_id}|{start}|{end}|{claim_type}|{part}"
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]


def _is_claim_sentence(sentence: Sentence) -> bool:
    text = sentence.text
    words = text.split()
    if len(words) < MIN_SENTENCE_WORDS and not sentence.quotes:
        return False
    outside = text
    for q in sorted(sentence.quotes, key=lambda q: -q.start):
        outside = outside[: q.start - sentence.start] + outside[q.end - sentence.start :]
    if outside.rstrip("”\"’') ").endswith("?"):
        return False  # a question asks, it does not claim
    first = words[0].strip('“"‘(').lower()
    if first in CALL_TO_ACTION_OPENERS and not sentence.quotes:
        return False
    low = text.lower()
    return not any(map(low.__contains__, CAPTION_MARKERS))


def _quote_token_index(tokens: list[Token], quote: Quote) -> int:
    return next(k for k, t in enumerate(tokens) if t.quote and t.start <= quote.start <= t.end)


def _quote_text(text: str, quote: Quote) -> str:
    return text[quote.start : quote.end].strip().rstrip(",;:").strip()


def _stands_alone(tokens: list[Token], qi: int, hits: list[Hit]) -> bool:
    """The quote is the sentence's whole statement: it opens it, or follows a colon or a cue."""
    if qi == 0:
        return True
    previous = tokens[qi - 1]
    if previous.text == ":":
        return True
    cue_indices = {h.cue_index for h in hits}
    back = qi - 1
    if previous.text == ",":
        back -= 1
    return back in cue_indices or (
        back >= 0 and tokens[back].low in ("that",) and back - 1 in cue_indices
    )


def _quote_hit(tokens: list[Token], qi: int, hits: list[Hit]) -> Hit | None:
    """The attribution a quote belongs to: right after it when it opens the sentence, else the
    nearest one before it, else the first one after it."""
    after = [
        h
        for h in hits
        if h.cue_index > qi and not any(t.quote for t in tokens[qi + 1 : h.cue_index])
    ]
    before = [h for h in hits if h.cue_index < qi]
    if qi == 0 and after:
        return after[0]
    if before:
        return before[-1]
    return after[0] if after else None


def _replace_mention(text: str, sentence: Sentence, hit: Hit, clause: tuple[int, int]) -> str:
    """The clause with the speaker's mention replaced by the full name when it is a pronoun, a
    surname alone or a description ("he said" -> "Vladimir Putin said")."""
    start, end = clause
    mention = text[hit.mention_start : hit.mention_end]
    name = hit.speaker.name
    if (
        hit.speaker.kind == "person"
        and name not in mention
        and start <= hit.mention_start
        and hit.mention_end <= end
    ):
        mention_start = hit.mention_start
        if text[max(start, mention_start - 4) : mention_start].lower() == "the ":
            mention_start -= (
                4  # "According to the Russian president" -> "According to Vladimir Putin"
            )
        return text[start:mention_start] + name + text[hit.mention_end : end]
    return text[start:end]


def _tidy_clause(clause: str) -> str:
    clause = _LEADING_JOINER.sub("", clause).strip()
    clause = clause.rstrip(",;: ")
    if clause and clause[0].islower():
        clause = clause[0].upper() + clause[1:]
    if clause and clause[-1] not in '.!?”"’':
        clause += "."
    return clause


def _clause_spans(
    sentence: Sentence, tokens: list[Token], anchors: list[int]
) -> list[tuple[int, int]]:
    """Cut the sentence before each anchor token (after the first) at the nearest clause break."""
    spans: list[tuple[int, int]] = []
    start = sentence.start
    for previous, anchor in pairwise(anchors):
        cut = next(
            (k for k in range(anchor - 1, previous, -1) if tokens[k].low in _CLAUSE_BREAKS),
            None,
        )
        if cut is None:
            return [(sentence.start, sentence.end)] * len(anchors)
        spans.append((start, tokens[cut].start))
        start = tokens[cut].start
    spans.append((start, sentence.end))
    return spans


def _content_without(text: str, start: int, end: int, hit: Hit | None) -> str:
    """The clause minus the speaker's mention: what matching compares."""
    if hit is None or not (start <= hit.mention_start and hit.mention_end <= end):
        return text[start:end]
    return text[start : hit.mention_start] + " " + text[hit.mention_end : end]


class _Row(dict):
    """A claim row being built."""


def extract_claims(article: dict) -> list[dict]:
    """Claim rows of one article (schemas.CLAIMS columns plus date and topic), in text order."""
    text = article["text"]
    sents = [s for s in sentences(text) if _is_claim_sentence(s)]
    ctx = ArticleContext()
    # First pass: the people the article introduces, so "the Trump administration" in the lead
    # resolves to the full name given further down.
    token_cache = [tokenize(text, s.start, s.end) for s in sents]
    mentions = [scan_people(text, tokens) for tokens in token_cache]
    for found in mentions:
        register_people(found, ctx)
    for person in ctx.persons:
        person.last_seen = -1
    people = tuple(p.name for p in ctx.persons)

    rows: list[dict] = []
    last: _Attributed | None = None
    for index, sentence in enumerate(sents):
        register_people(mentions[index], ctx)
        tokens = outside_quotes(token_cache[index], sentence.quotes, sentence.end)
        hits = find_hits(text, tokens, ctx)
        made = _sentence_claims(text, sentence, index, tokens, hits, last, people, article)
        rows.extend(made)
        update_focus(hits, tokens, text, ctx)
        attributed = [r for r in made if r["speaker"] and r["claim_type"] != "statistic"]
        if attributed:
            final = attributed[-1]
            last = _Attributed(final["_speaker"], final["cue"], sentence.paragraph, index)
        elif last is not None and last.paragraph != sentence.paragraph:
            last = None if not made else last
    for row in rows:
        row.pop("_speaker", None)
    return rows


def _sentence_claims(
    text: str,
    sentence: Sentence,
    index: int,
    tokens: list[Token],
    hits: list[Hit],
    last: _Attributed | None,
    people: tuple[str, ...],
    article: dict,
) -> list[dict]:
    rows: list[dict] = []
    quote_speakers: set[str] = set()
    used_hits: set[int] = set()
    # Each quotation kept, with the index of its placeholder token.
    quotes: list[tuple[Quote, int, Hit | None, _Attributed | None]] = []
    for quote in sentence.quotes:
        quoted = _quote_text(text, quote)
        words = quoted.split()
        if not words or quoted.endswith("?"):
            continue
        qi = _quote_token_index(tokens, quote)
        alone = _stands_alone(tokens, qi, hits)
        if len(words) < QUOTE_MIN_WORDS and not alone:
            continue
        hit = _quote_hit(tokens, qi, hits)
        inherited = None
        if hit is None and last is not None and qi == 0:
            same_paragraph = last.paragraph == sentence.paragraph
            opens_paragraph = sentence.start == _paragraph_start(text, sentence.start)
            if same_paragraph or (opens_paragraph and last.paragraph == sentence.paragraph - 1):
                inherited = last
        if hit is None and inherited is None and len(words) < QUOTE_MIN_WORDS:
            continue
        quotes.append((quote, qi, hit, inherited))
        if hit is not None:
            quote_speakers.add(hit.speaker.name)
            used_hits.add(id(hit))
        elif inherited is not None:
            quote_speakers.add(inherited.speaker.name)

    reported: list[Hit] = []
    for hit in hits:
        if id(hit) in used_hits or hit.speaker.name in quote_speakers:
            continue
        same = next((k for k, r in enumerate(reported) if r.speaker.name == hit.speaker.name), None)
        if same is None:
            reported.append(hit)
        elif reported[same].cue is None and hit.cue is not None:
            # "German Chancellor Friedrich Merz: Warned that ...": the verb is the cue.
            reported[same] = Hit(
                hit.speaker,
                hit.cue,
                reported[same].cue_index,
                reported[same].mention_start,
                reported[same].mention_end,
                hit.kind,
            )
    if len(tokens) < 5:
        reported = []

    # Clauses: with more than one statement in the sentence each gets its own part of it.
    anchors: list[tuple[int, str, object]] = []
    for quote, qi, hit, inherited in quotes:
        anchor = min(qi, _mention_index(tokens, hit)) if hit is not None else qi
        anchors.append((anchor, "quote", (quote, hit, inherited)))
    for hit in reported:
        anchors.append((min(hit.cue_index, _mention_index(tokens, hit)), "reported", hit))
    anchors.sort(key=lambda a: a[0])
    distinct_speakers = {_anchor_speaker(kind, item) for _, kind, item in anchors}
    if len(distinct_speakers) > 1:
        spans = _clause_spans(sentence, tokens, [a[0] for a in anchors])
    else:
        spans = [(sentence.start, sentence.end)] * len(anchors)

    for (_, kind, item), span in zip(anchors, spans, strict=True):
        whole = span == (sentence.start, sentence.end)
        if kind == "quote":
            quote, hit, inherited = item
            quote_words = _quote_text(text, quote)
            if hit is not None:
                claim_text = _replace_mention(text, sentence, hit, span)
                speaker, cue = hit.speaker, hit.cue
            else:
                speaker = inherited.speaker if inherited else None
                cue = inherited.cue if inherited else None
                base = text[span[0] : span[1]]
                claim_text = f"{speaker.name} {cue or 'said'}: {base}" if speaker else base
            rows.append(
                _row(
                    article,
                    sentence,
                    "direct_quote",
                    claim_text if whole else _tidy_clause(claim_text),
                    quote_words,
                    speaker,
                    cue,
                    quote_words,
                    people,
                )
            )
        else:
            hit = item
            claim_text = _replace_mention(text, sentence, hit, span)
            content = _content_without(text, span[0], span[1], hit)
            rows.append(
                _row(
                    article,
                    sentence,
                    "reported_speech",
                    claim_text if whole else _tidy_clause(claim_text),
                    None,
                    hit.speaker,
                    hit.cue,
                    content,
                    people,
                )
            )
    if rows:
        return rows

    if _is_commentary(sentence.text):
        return []
    nums = numbers(sentence.text)
    if nums:
        return [
            _row(
                article,
                sentence,
                "statistic",
                sentence.text,
                None,
                None,
                None,
                sentence.text,
                people,
                nums=nums,
            )
        ]
    if _is_assertion(sentence):
        ents = entities(sentence.text, people)
        if ents:
            return [
                _row(
                    article,
                    sentence,
                    "assertion",
                    sentence.text,
                    None,
                    None,
                    None,
                    sentence.text,
                    people,
                    nums=nums,  # none: numbers(sentence.text) found no quantity above
                    ents=ents,
                )
            ]
    return []


def _anchor_speaker(kind: str, item) -> str | None:
    if kind == "reported":
        return item.speaker.name
    _, hit, inherited = item
    source = hit or inherited
    return source.speaker.name if source else None


def _mention_index(tokens: list[Token], hit: Hit) -> int:
    return next((k for k, t in enumerate(tokens) if t.start >= hit.mention_start), hit.cue_index)


def _paragraph_start(text: str, position: int) -> int:
    return text.rfind("\n", 0, position) + 1


def _is_commentary(text: str) -> bool:
    """The writer's analysis rather than a fact: "This reflects ...", "The statement suggests"."""
    return bool(_DEMONSTRATIVE_SUBJECT.match(text)) or "analysis" in claim_words(text)


def _is_assertion(sentence: Sentence) -> bool:
    text = sentence.text
    if len(text.split()) < ASSERTION_MIN_WORDS:
        return False
    return "forecast" not in claim_words(text)


def _row(
    article: dict,
    sentence: Sentence,
    claim_type: str,
    claim_text: str,
    quote: str | None,
    speaker: Speaker | None,
    cue: str | None,
    content: str,
    people: tuple[str, ...],
    *,
    nums: list[dict] | None = None,
    ents: list[dict] | None = None,
) -> dict:
    """One claim row. ``nums`` and ``ents``: numbers(content) and the entities of claim_text,
    when the caller has them already."""
    if nums is None:
        nums = numbers(content)
    if ents is None:
        speaker_dict = {"name": speaker.name, "kind": speaker.kind} if speaker else None
        ents = entities(claim_text, people, speaker_dict)
    is_hedged = hedged(content)
    neg = negated(content)
    change = direction(content)
    role_words = [speaker.role] if speaker and speaker.role else []
    terms = content_terms(content, [e["name"] for e in ents] + role_words)
    key = claim_key(
        affiliation(speaker.name, speaker.kind, speaker.role) if speaker else None,
        neg,
        change,
        (number_key(n["value"], n["unit"]) for n in nums),
        terms,
    )
    identity = claim_id(
        article["article_id"],
        sentence.start,
        sentence.end,
        claim_type,
        f"{quote or ''}|{speaker.name if speaker else ''}",
    )
    return {
        "claim_id": identity,
        "article_id": article["article_id"],
        "cluster_id": article["cluster_id"],
        "text": claim_text,
        "sentence": sentence.text,
        "char_start": sentence.start,
        "char_end": sentence.end,
        "claim_type": claim_type,
        "quote": quote,
        "speaker": speaker.name if speaker else None,
        "speaker_role": speaker.role if speaker else None,
        "cue": cue,
        "numbers": nums,
        "entities": ents,
        "hedged": is_hedged,
        "checkworthiness": checkworthiness(
            claim_type, nums, speaker.kind if speaker else None, ents, is_hedged, content, change
        ),
        "claim_key": key,
        "claim_cluster_id": identity,
        "corroboration": 1,
        "schema_version": SCHEMA_VERSION,
        "date": article["date"],
        "topic": article["topic"],
        "_speaker": speaker,
    }


# --- matching across articles ---------------------------------------------------------------------


def source_of(article: dict) -> str:
    """Who published the article (for corroboration): source, else URL host, else the article."""
    if article.get("source"):
        return str(article["source"])
    url = article.get("url") or ""
    host = re.match(r"^[a-z]+://([^/]+)", url)
    return host.group(1) if host and not url.startswith("file:") else article["article_id"]


def signature(source: str, claim: dict) -> Signature:
    speaker = claim["speaker"]
    speaker_kind = (
        next((e["kind"] for e in claim["entities"] if e["name"] == speaker), "group")
        if speaker
        else None
    )
    return Signature(
        claim["claim_id"],
        claim["article_id"],
        source,
        claim["claim_key"],
        affiliation(speaker, speaker_kind, claim["speaker_role"]),
        tuple(sorted({number_key(n["value"], n["unit"]) for n in claim["numbers"]})),
        entity_norms(claim["entities"]),
    )


# --- Beam wrapper ---------------------------------------------------------------------------------


class ExtractClaimsFn(beam.DoFn):
    """A batch of articles -> (source, claim) pairs for its canonical articles; duplicates yield
    nothing. The whole batch is extracted before any claim is handed on (see transforms.batches).
    """

    def __init__(self) -> None:
        self.articles = Metrics.counter("claims", "articles")
        self.duplicates_skipped = Metrics.counter("claims", "duplicates_skipped")
        self.by_type = {
            t: Metrics.counter("claims", f"claims_{t}")
            for t in ("direct_quote", "reported_speech", "statistic", "assertion")
        }

    def process(self, articles: Sequence[dict]) -> Iterator[tuple[str, dict]]:
        extracted: list[tuple[str, list[dict]]] = []
        for article in articles:
            if article.get("is_duplicate"):
                self.duplicates_skipped.inc()
                continue
            self.articles.inc()
            extracted.append((source_of(article), extract_claims(article)))
        for source, claims in extracted:
            for claim in claims:
                self.by_type[claim["claim_type"]].inc()
                yield source, claim


def sharded_signatures(pairs: Sequence[tuple[str, dict]]) -> list[tuple[int, ShardBatch]]:
    """A batch of (source, claim) pairs -> (shard, the signatures and block keys that fall in it)
    per shard: a few array elements per batch cross the shuffle, not one per claim and block."""
    sigs = [signature(*pair) for pair in pairs]
    keys, owners = block_keys(sigs)
    return by_shard([tuple(sig) for sig in sigs], keys, owners, SHARDS)


_FIELDS = (*CLAIMS.columns, *CLAIMS.partition_keys)


def claim_row(pair: tuple[str, dict]) -> dict:
    """A (source, claim) pair -> its row: the CLAIMS columns and the partition keys."""
    claim = pair[1]
    return {field: claim[field] for field in _FIELDS}


def cluster_update(component: tuple[str, tuple[str, int]]) -> tuple[str, dict]:
    """(claim id, (cluster id, corroboration)) -> the update ``WriteTable`` applies to its row."""
    claim_id, (cluster_id, corroboration) = component
    return claim_id, {"claim_cluster_id": cluster_id, "corroboration": corroboration}


def _matched(shard_batches: tuple[int, Iterable[ShardBatch]]) -> list:
    return match_shard(shard_batches[1])


class ClusterClaims(beam.PTransform):
    """(source, claim) pairs -> (claim id, {claim_cluster_id, corroboration}) for the claims
    that matched another (few): updates for ``WriteTable``."""

    def expand(self, pairs):
        return (
            pairs
            | "Batch" >> in_batches()
            | "BlockKeys" >> beam.FlatMap(sharded_signatures)
            | "GroupShards" >> beam.GroupByKey()
            | "MatchPairs" >> beam.FlatMap(_matched)
            | "OneGraph" >> beam.Map(lambda edge: ("graph", edge))
            | "GroupEdges" >> beam.GroupByKey()
            | "Components" >> beam.FlatMap(lambda graph: components(graph[1]))
            | "AsUpdates" >> beam.Map(cluster_update)
        )


class ExtractClaims(beam.PTransform):
    """All article rows -> {"claims": claim rows (schemas.CLAIMS columns plus date and topic),
    each its own cluster; "clusters": (claim id, {claim_cluster_id, corroboration}) for the claims
    found in other sources' articles too}.

    The cluster values are set as the claims are written (``WriteTable(..., updates=...)``): the
    rows go on to the writers at once, as compact batches, instead of waiting one by one until
    every article's claims are matched.
    """

    def expand(self, articles):
        pairs = (
            articles
            | "BatchArticles" >> in_batches()
            | "ExtractPerArticle" >> beam.ParDo(ExtractClaimsFn())
        )
        return {
            "claims": pairs | "Rows" >> beam.Map(claim_row),
            "clusters": pairs | "ClusterAcrossArticles" >> ClusterClaims(),
        }
