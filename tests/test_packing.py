from datetime import datetime, timezone

import numpy as np

from transforms.packing import compress, decompress, pack_rows, unpack_rows


def test_rows_come_back_as_they_went_in():
    rows = [
        {
            "article_id": "a1",
            "published_at": datetime(1987, 3, 2, tzinfo=timezone.utc),
            "categories": ["earn", "usa"],
            "text": "Shr 1.20 dlrs vs 1.10 dlrs " * 40,
            "_signatures": np.arange(256, dtype=np.uint32).tobytes(),
        },
        {"article_id": "a2", "published_at": None, "categories": [], "text": ""},
    ]
    frame = pack_rows(rows)
    assert unpack_rows(frame) == rows
    assert len(frame) < len(rows[0]["text"])  # one compressed frame, not the rows as they are


def test_a_frame_holds_its_size_and_nothing_else():
    data = b"wire " * 1000
    assert bytes(decompress(compress(data))) == data
    assert bytes(decompress(compress(b""))) == b""
