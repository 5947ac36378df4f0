"""The report: nulls, ranges, distinct values, duplicates."""

from __future__ import annotations

import json
from pathlib import Path

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.vocabulary import SOURCE_KEY_COLUMN, TIME_COLUMN
from ingest_pipeline_tests.unit.validation.helpers import validate_csv


def test_report_counts_nulls_ranges_distincts_and_duplicates(tmp_path: Path) -> None:
    text = "ts,qty,price,city\n2024-01-01,1,2.5,Oslo\n2024-01-01,1,2.5,Oslo\n2024-01-03,,9.0,\n"
    result = validate_csv(tmp_path, text, DatasetConfig(null_ratio_warn=0.2))
    report = result.report
    assert report["qty"] == {
        "druid_type": "long",
        "nulls": 1,
        "null_ratio": 0.333333,
        "min": 1,
        "max": 1,
    }
    assert report["price"]["min"] == 2.5 and report["price"]["max"] == 9.0
    assert report["city"] == {
        "druid_type": "string",
        "nulls": 1,
        "null_ratio": 0.333333,
        "distinct": 1,
    }
    assert report[TIME_COLUMN]["min"] == "2024-01-01T00:00:00.000Z"
    assert report[TIME_COLUMN]["max"] == "2024-01-03T00:00:00.000Z"
    assert result.duplicate_rows == 1
    assert any("1 rows are exact duplicates" in w for w in result.warnings)
    assert any("'qty' is 33% null" in w for w in result.warnings)
    json.dumps(report)  # must be JSON-serialisable for UI metadata
    assert result.frame[SOURCE_KEY_COLUMN].to_list() == ["uploads/ds/upload.csv"] * 3
