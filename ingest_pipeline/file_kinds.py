"""What kind of data file an object is, from its first bytes and its name (pure)."""

from __future__ import annotations

CSV_EXTENSIONS = (".csv", ".tsv", ".txt", ".psv", ".tab")
JSON_EXTENSIONS = (".json", ".ndjson", ".jsonl")
PARQUET_EXTENSIONS = (".parquet", ".pq")
DATA_EXTENSIONS = CSV_EXTENSIONS + JSON_EXTENSIONS + PARQUET_EXTENSIONS
COMPRESSED_SUFFIXES = (".gz", ".gzip")


def guess_format(head: bytes, key: str) -> tuple[str, str | None]:
    """(format, compression): a first look for the UI (magic bytes, then extension);
    validation decides for real."""
    compression = "gzip" if head.startswith(b"\x1f\x8b") else None
    if head.startswith(b"PAR1"):
        return "parquet", None
    stem = key.lower().removesuffix(".gz").removesuffix(".gzip")
    for suffixes, name in (
        (PARQUET_EXTENSIONS, "parquet"),
        (JSON_EXTENSIONS, "ndjson"),
        (CSV_EXTENSIONS, "csv"),
    ):
        if stem.endswith(suffixes):
            return name, compression
    return "unknown", compression
