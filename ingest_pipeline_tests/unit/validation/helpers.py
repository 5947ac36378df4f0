"""Shared by the validation tests: validate CSV text, and compare streaming with in-memory."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.reading import ReadResult, read_frame
from ingest_pipeline.validation import (
    ValidationResult,
    ValidationSummary,
    validate,
    validate_to_files,
    write_druid_ndjson,
)
from ingest_pipeline.vocabulary import TIME_COLUMN, FileRejected


def validate_csv(
    tmp_path: Path, text: str, config: DatasetConfig | None = None
) -> ValidationResult:
    path = tmp_path / "upload.csv"
    path.write_text(text, encoding="utf-8")
    decimal_comma = config is not None and config.decimal_comma
    result = read_frame(path, "uploads/ds/upload.csv", decimal_comma=decimal_comma)
    return validate(
        result.frame,
        "uploads/ds/upload.csv",
        "ds",
        config,
        rejected=result.rejected,
        notes=result.warnings,
    )


def times(result: ValidationResult) -> list[datetime]:
    return result.frame[TIME_COLUMN].to_list()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


KEY = "uploads/ds/upload.csv"


def read_ndjson_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def stream_to_files(
    tmp_path: Path, parsed: ReadResult, config: DatasetConfig | None, batch_rows: int
) -> ValidationSummary:
    return validate_to_files(
        parsed,
        KEY,
        "ds",
        config,
        ndjson_path=tmp_path / "stream.ndjson.gz",
        parquet_path=tmp_path / "stream.parquet",
        batch_rows=batch_rows,
        preview_rows=10,
    )


def assert_streams_the_same(
    tmp_path: Path, parsed: ReadResult, config: DatasetConfig | None, batch_rows: int = 7
) -> ValidationSummary | None:
    """`validate_to_files` in batches gives what `validate` + the writers give, or its error."""
    try:
        whole = validate(
            parsed.frame, KEY, "ds", config, rejected=parsed.rejected, notes=parsed.warnings
        )
    except FileRejected as expected:
        with pytest.raises(FileRejected) as caught:
            stream_to_files(tmp_path, parsed, config, batch_rows)
        assert str(caught.value) == str(expected)
        assert (caught.value.row, caught.value.column) == (expected.row, expected.column)
        return None
    summary = stream_to_files(tmp_path, parsed, config, batch_rows)
    for name in (
        "row_count",
        "rejected",
        "report",
        "time_column",
        "duplicate_rows",
        "schema",
        "time_min",
        "time_max",
        "warnings",
    ):
        assert getattr(summary, name) == getattr(whole, name), name
    assert summary.preview.equals(whole.frame.head(10))
    assert pl.read_parquet(tmp_path / "stream.parquet").equals(whole.frame)
    reference = write_druid_ndjson(whole.frame, tmp_path / "whole.ndjson.gz")
    assert read_ndjson_gz(tmp_path / "stream.ndjson.gz") == read_ndjson_gz(reference)
    return summary


def read_csv_text(tmp_path: Path, text: str) -> ReadResult:
    path = tmp_path / "upload.csv"
    path.write_text(text, encoding="utf-8")
    return read_frame(path, KEY)


def lines_to_text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"
