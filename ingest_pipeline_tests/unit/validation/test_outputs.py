"""Druid NDJSON.gz and Parquet files."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.validation import write_druid_ndjson, write_parquet
from ingest_pipeline.validation.outputs import DruidFiles
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


def test_druid_files_a_failed_write_surfaces_after_the_other_write_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = pl.DataFrame({"__time": [datetime(2024, 1, 1, tzinfo=UTC)] * 3, "v": [1, 2, 3]})

    def broken_parquet(self: DruidFiles, batch: pl.DataFrame) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(DruidFiles, "_write_parquet", broken_parquet)
    ndjson = tmp_path / "rows.ndjson.gz"
    for _ in range(2):  # the shared writer threads are fine for the next file
        with pytest.raises(OSError, match="disk full"):
            with DruidFiles(ndjson, tmp_path / "rows.parquet") as files:
                files.write(frame)
                files.write(frame)  # raises here, or at the end: never lost
        with gzip.open(ndjson, "rt") as handle:  # closed after its writes, whole gzip members
            assert [json.loads(line)["v"] for line in handle] == [1, 2, 3]
    monkeypatch.undo()
    with DruidFiles(ndjson, tmp_path / "rows.parquet") as files:
        files.write(frame)
        files.write(frame)
    assert pl.read_parquet(tmp_path / "rows.parquet")["v"].to_list() == [1, 2, 3, 1, 2, 3]
