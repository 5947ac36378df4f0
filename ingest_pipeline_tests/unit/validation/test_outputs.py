"""Druid NDJSON.gz and Parquet files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl

from ingest_pipeline.validation import write_druid_ndjson, write_parquet
from ingest_pipeline_tests.unit.validation.helpers import validate_csv


def test_write_druid_ndjson_and_parquet(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, "ts,v,s\n2024-01-02T03:04:05.678+01:00,1,é\n1960-01-01,,x\n")
    ndjson = write_druid_ndjson(result.frame, tmp_path / "out.json.gz")
    with gzip.open(ndjson, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    assert rows[0] == {
        "__time": "2024-01-02T02:04:05.678Z",
        "ts": "2024-01-02T03:04:05.678+01:00",
        "v": 1,
        "s": "é",
        "__source_key": "uploads/ds/upload.csv",
    }
    assert rows[1]["__time"] == "1960-01-01T00:00:00.000Z" and rows[1]["v"] is None
    parquet = write_parquet(result.frame, tmp_path / "out.parquet")
    assert pl.read_parquet(parquet).equals(result.frame)
