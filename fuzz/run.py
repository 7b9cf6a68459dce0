"""Coverage-guided fuzzing of one reader with atheris (libFuzzer); see fuzz/README.md.

    python -m fuzz.run READER [libFuzzer flags] [CORPUS_DIR ...]

READER is one of feed, json, html, text, opml. A violation of the readers' contract
(fuzz/contract.py) is a crash: libFuzzer stops and writes the input to crash-<sha1>.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["transforms", "feedparser", "trafilatura", "justext"]):
    from fuzz.contract import READER_FILES, FileContract


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in READER_FILES:
        sys.exit(f"usage: python -m fuzz.run {{{','.join(READER_FILES)}}} [libFuzzer flags]")
    name = READER_FILES[sys.argv.pop(1)]
    # Pages are parsed in this process: libFuzzer's -timeout stands in for --extract-timeout.
    contract = FileContract(Path(tempfile.mkdtemp(prefix="wirestream-fuzz-")), extract_timeout=0)
    atheris.Setup(sys.argv, lambda data: contract.rows(name, data))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
