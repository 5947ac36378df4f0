"""Shared by the reading tests: write an upload, read it back."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ingest_pipeline.reading import read_frame


def write_upload(tmp_path: Path, name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def read_upload(tmp_path: Path, name: str, content: bytes | str) -> tuple[pl.DataFrame, list]:
    result = read_frame(write_upload(tmp_path, name, content), f"uploads/{name}")
    return result.frame.collect(), result.rejected
