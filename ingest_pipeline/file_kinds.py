"""What kind of data file an object is, from its first bytes and its name (pure)."""

from __future__ import annotations

from ingest_pipeline.vocabulary import EXTENSIONS_BY_FORMAT, GZIP_EXTENSIONS


def guess_format(head: bytes, key: str) -> tuple[str, str | None]:
    """(format, compression): a first look for the UI (magic bytes, then extension);
    validation decides for real."""
    compression = "gzip" if head.startswith(b"\x1f\x8b") else None
    if head.startswith(b"PAR1"):
        return "parquet", None
    stem = key.lower()
    for suffix in GZIP_EXTENSIONS:
        stem = stem.removesuffix(suffix)
    for file_format, extensions in EXTENSIONS_BY_FORMAT.items():
        if stem.endswith(extensions):
            return file_format, compression
    return "unknown", compression
