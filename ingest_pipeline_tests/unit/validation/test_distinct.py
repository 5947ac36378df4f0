"""Exact distinct counts, in memory and spilled to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ingest_pipeline.validation import distinct
from ingest_pipeline_tests.unit.validation.helpers import (
    assert_streams_the_same,
    lines_to_text,
    read_csv_text,
)


def test_distinct_count_spilled_to_disk_is_exact(tmp_path: Path) -> None:
    values = pl.Series([i % 5_003 for i in range(40_000)], dtype=pl.Int64)
    spilled = distinct.DistinctCount(tmp_path, memory_hashes=1_000)
    in_memory = distinct.DistinctCount()
    for start in range(0, len(values), 3_000):  # repeats span batches and the spill point
        batch = values.slice(start, 3_000).hash()
        spilled.add(batch)
        in_memory.add(batch)
    assert spilled.count() == in_memory.count() == 5_003
    buckets = list(tmp_path.glob("distinct-*.u64"))
    assert len(buckets) == distinct.SPILL_BUCKETS
    # every distinct hash went to disk once per batch it appeared in, none was kept back
    assert sum(len(np.fromfile(p, dtype=np.uint64)) for p in buckets) >= 5_003


def test_streaming_matches_validate_when_counts_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distinct, "DISTINCT_MEMORY_HASHES", 8)
    lines = ["ts,city,note"]
    for i in range(300):
        lines.append(f"2024-01-{i % 28 + 1:02d}T00:00:00Z,city{i % 11},n{i % 97}")
    summary = assert_streams_the_same(
        tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None, 40
    )
    assert summary is not None
    assert summary.report["city"]["distinct"] == 11
    assert summary.report["note"]["distinct"] == 97
    # rows repeat when (day, city, note) repeats: i and i + lcm(28, 11, 97) never meet below 300
    expected = pl.DataFrame([line.split(",") for line in lines[1:]], orient="row").unique()
    assert summary.duplicate_rows == 300 - expected.height
    assert not list(tmp_path.glob("distinct-*")), "the spill folder is removed afterwards"
