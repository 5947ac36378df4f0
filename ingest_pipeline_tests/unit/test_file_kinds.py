"""The first look at an upload's kind, from magic bytes and name."""

from __future__ import annotations

import pytest

from ingest_pipeline.file_kinds import guess_format


@pytest.mark.parametrize(
    ("head", "key", "expected"),
    [
        (b"a,b\n1,2", "d/x.csv", ("csv", None)),
        (b"a\tb\n", "d/x.TSV", ("csv", None)),
        (b"\x1f\x8b\x08\x00", "d/x.csv.gz", ("csv", "gzip")),
        (b"\x1f\x8b\x08\x00", "d/x.csv", ("csv", "gzip")),  # gzip without .gz
        (b"PAR1\x15\x04", "d/x.bin", ("parquet", None)),  # magic bytes win over the name
        (b'{"a": 1}', "d/x.jsonl", ("ndjson", None)),
        (b'{"a": 1}', "d/x.ndjson.gzip", ("ndjson", None)),
        (b"\x00\x01", "d/x.docx", ("unknown", None)),
    ],
)
def test_guess_format(head: bytes, key: str, expected: tuple[str, str | None]) -> None:
    assert guess_format(head, key) == expected
