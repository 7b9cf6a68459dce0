"""Claims quality against hand annotations: precision and recall of direct quotes, their speakers
and reported statements, on the five seed articles and 22 Reuters stories.

    python -m benchmarks.claims.evaluate [--verbose] [--check]

Annotations live in tests/fixtures/claims/ (seeds_gold.json with the seed files beside it,
reuters_gold.json with the story texts); their guideline is in the files. Matching:
- a gold quote is found by a direct_quote row whose quote is the same text (case, quote marks,
  spacing and edge punctuation aside), or covers 80% of it;
- a gold reported statement (an anchor text in the sentence) is found by a reported_speech row whose
  sentence span contains the anchor;
- a speaker is right when equal after lower-casing and dropping leading articles and quantifiers.
``--check`` exits 1 when a floor of issue 4 is missed (quotes found >= 0.95, right speaker >= 0.9,
precision >= 0.9), on either corpus.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from transforms.claims import extract_claims

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "claims"
FLOORS = {"quote_recall": 0.95, "quote_speaker": 0.9, "quote_precision": 0.9}
_LEADING = re.compile(r"^(?:(?:the|a|an|one|two|three|many|some|several|most)\s+)+")


def seed_text(raw: str) -> str:
    """A seed file as the reader hands it on: NFC, one paragraph per line, blank-line separated."""
    lines = (" ".join(line.split()) for line in unicodedata.normalize("NFC", raw).split("\n"))
    return "\n\n".join(line for line in lines if line)


def _article(article_id: str, text: str, source: str | None) -> dict:
    return {
        "article_id": article_id,
        "cluster_id": article_id,
        "is_duplicate": False,
        "text": text,
        "source": source,
        "url": None,
        "date": "1970-01-01",
        "topic": "general",
    }


def load(corpus: str) -> list[tuple[dict, dict]]:
    """(article row, gold annotations) pairs of a corpus: "seeds" or "reuters"."""
    gold = json.loads((FIXTURES / f"{corpus}_gold.json").read_text(encoding="utf-8"))["articles"]
    if corpus == "seeds":
        return [
            (
                _article(
                    stem, seed_text((FIXTURES / "seeds" / f"{stem}.txt").read_text("utf-8")), stem
                ),
                g,
            )
            for stem, g in sorted(gold.items())
        ]
    return [(_article(a["id"], a["text"], a["source"]), a) for a in gold]


def norm_quote(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.lower().split()).strip(" .,;:!?\"'")


def norm_speaker(text: str | None) -> str:
    if not text:
        return ""
    text = " ".join(text.lower().replace("’s", "").replace("'s", "").split())
    return _LEADING.sub("", text)


@dataclass
class Tally:
    gold: int = 0
    predicted: int = 0
    found: int = 0
    right_speaker: int = 0
    misses: list[str] = field(default_factory=list)

    def ratios(self) -> dict[str, float]:
        def ratio(a: int, b: int) -> float:
            return a / b if b else 1.0

        return {
            "recall": ratio(self.found, self.gold),
            "precision": ratio(self.found, self.predicted),
            "speaker": ratio(self.right_speaker, self.found),
        }


def _same_quote(gold: str, predicted: str) -> bool:
    g, p = norm_quote(gold), norm_quote(predicted)
    if g == p:
        return True
    shorter, longer = sorted((g, p), key=len)
    return bool(shorter) and shorter in longer and len(shorter) >= 0.8 * len(longer)


def score_article(
    article: dict, gold: dict, rows: list[dict], quotes: Tally, reported: Tally
) -> None:
    text = article["text"]
    predicted_quotes = [r for r in rows if r["claim_type"] == "direct_quote"]
    quotes.gold += len(gold["quotes"])
    quotes.predicted += len(predicted_quotes)
    unmatched = list(predicted_quotes)
    for item in gold["quotes"]:
        match = next((r for r in unmatched if _same_quote(item["quote"], r["quote"])), None)
        if match is None:
            quotes.misses.append(
                f"{article['article_id']}: quote not found: {item['quote'][:70]!r}"
            )
            continue
        unmatched.remove(match)
        quotes.found += 1
        if norm_speaker(match["speaker"]) == norm_speaker(item["speaker"]):
            quotes.right_speaker += 1
        else:
            quotes.misses.append(
                f"{article['article_id']}: quote {item['quote'][:40]!r} "
                f"speaker {match['speaker']!r} != {item['speaker']!r}"
            )
    for row in unmatched:
        quotes.misses.append(f"{article['article_id']}: extra quote {row['quote'][:70]!r}")

    predicted_reports = [r for r in rows if r["claim_type"] == "reported_speech"]
    reported.gold += len(gold["reported"])
    reported.predicted += len(predicted_reports)
    unmatched = list(predicted_reports)
    for item in gold["reported"]:
        position = text.find(item["anchor"])
        if position < 0:
            raise ValueError(f"{article['article_id']}: anchor not in text: {item['anchor']!r}")
        covering = [r for r in unmatched if r["char_start"] <= position < r["char_end"]]
        if not covering:
            reported.misses.append(f"{article['article_id']}: report not found: {item['anchor']!r}")
            continue
        want = norm_speaker(item["speaker"])
        match = next((r for r in covering if norm_speaker(r["speaker"]) == want), covering[0])
        unmatched.remove(match)
        reported.found += 1
        if norm_speaker(match["speaker"]) == want:
            reported.right_speaker += 1
        else:
            reported.misses.append(
                f"{article['article_id']}: report {item['anchor']!r} speaker {match['speaker']!r}"
                f" != {item['speaker']!r}"
            )
    for row in unmatched:
        reported.misses.append(f"{article['article_id']}: extra report {row['sentence'][:70]!r}")


def evaluate(corpus: str) -> tuple[Tally, Tally, int]:
    quotes, reported = Tally(), Tally()
    claims = 0
    for article, gold in load(corpus):
        rows = extract_claims(article)
        claims += len(rows)
        score_article(article, gold, rows, quotes, reported)
    return quotes, reported, claims


def floors_met(quotes: Tally) -> bool:
    r = quotes.ratios()
    return (
        r["recall"] >= FLOORS["quote_recall"]
        and r["speaker"] >= FLOORS["quote_speaker"]
        and r["precision"] >= FLOORS["quote_precision"]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--check", action="store_true", help="exit 1 when a floor is missed")
    args = parser.parse_args(argv)
    header = (
        f"{'corpus':8} {'kind':9} {'gold':>5} {'pred':>5} {'found':>5} "
        f"{'recall':>7} {'precision':>9} {'speaker':>8}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for corpus in ("seeds", "reuters"):
        quotes, reported, claims = evaluate(corpus)
        for kind, tally in (("quotes", quotes), ("reported", reported)):
            r = tally.ratios()
            print(
                f"{corpus:8} {kind:9} {tally.gold:5d} {tally.predicted:5d} {tally.found:5d} "
                f"{r['recall']:7.3f} {r['precision']:9.3f} {r['speaker']:8.3f}"
            )
        both = quotes.found + reported.found
        speakers = (quotes.right_speaker + reported.right_speaker) / both if both else 1.0
        print(
            f"{corpus:8} {'all':9} claims={claims} "
            f"speakers right on found statements={speakers:.3f}"
        )
        ok = ok and floors_met(quotes)
        if args.verbose:
            for line in quotes.misses + reported.misses:
                print("   ", line)
    floors = ", ".join(f"{k} >= {v}" for k, v in FLOORS.items())
    print(f"floors ({floors}): {'met' if ok else 'MISSED'}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
