"""Speed of the topic stage on one core: articles per second through AssignTopicFn.

    python benchmarks/topics/speed.py [--articles 20000]

Inputs are the labelled set's articles repeated with new ids: once as stored (text up to ~1,500
characters) and once padded with other articles' paragraphs to 2,000 characters, past the
classifier's reading limit (``max_chars``, 1,000): what a long page costs, since only that much
of it is read (lexicon evidence and model both). Each is timed cold (a fresh worker, empty token
memo) and warm (memo filled by the cold pass), as a worker sees them. The process is pinned to
one CPU where the OS allows it, and rates are CPU time of this process, so a busy machine does
not make the stage look slower than it is. Exits non-zero when a rate is below the floor of
2,000 articles/s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from transforms.topics import AssignTopicFn

EVAL_SET = Path(__file__).with_name("eval_set.jsonl")
FLOOR = 2_000.0


def articles(count: int, pad_to: int | None) -> list[dict]:
    with EVAL_SET.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    paragraphs = [p for row in rows for p in row["text"].split("\n\n")]
    out = []
    for n in range(count):
        row = rows[n % len(rows)]
        text = row["text"]
        filler = n
        while pad_to is not None and len(text) < pad_to:
            text += "\n\n" + paragraphs[filler % len(paragraphs)]
            filler += 7
        out.append(
            {
                "article_id": f"{row['id']}#{n}",
                "title": row["title"],
                "text": text,
                "categories": row["categories"],
            }
        )
    return out


def rate(batch: Sequence[dict], fn: AssignTopicFn) -> float:
    # CPU time of this process: "per core" even when other work shares the machine.
    start = time.process_time()
    for _ in fn.process(batch):
        pass
    return len(batch) / (time.process_time() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        print(f"pinned to CPU {sorted(os.sched_getaffinity(0))}")
    ok = True
    for name, pad in (("as stored (<=1,500 chars)", None), ("padded to 2,000 chars", 2_000)):
        batch = articles(args.articles, pad)
        mean_chars = sum(len(a["text"]) for a in batch) / len(batch)
        fn = AssignTopicFn()
        fn.setup()
        cold, warm = rate(batch, fn), rate(batch, fn)
        ok = ok and min(cold, warm) >= FLOOR
        print(
            f"{name:28s} {len(batch)} articles, mean {mean_chars:,.0f} chars: "
            f"cold {cold:,.0f}/s, warm {warm:,.0f}/s"
        )
    print(f"floor {FLOOR:,.0f} articles/s per core: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
