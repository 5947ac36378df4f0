"""Whole-file decisions: which columns are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.vocabulary import SOURCE_KEY_COLUMN, TIME_COLUMN, FileRejected
from ingest_pipeline_tests.unit.validation.helpers import validate_csv


def test_configured_dimensions_restrict_the_output(tmp_path: Path) -> None:
    result = validate_csv(
        tmp_path, "ts,a,b,c\n2024-01-01,1,2,3\n", DatasetConfig(dimensions=["c", "a"])
    )
    assert result.schema == [("a", "long"), ("c", "long")]
    assert result.frame.columns == [TIME_COLUMN, "a", "c", SOURCE_KEY_COLUMN]
    with pytest.raises(FileRejected, match=r"\['zz'\]"):
        validate_csv(tmp_path, "a\n1\n", DatasetConfig(dimensions=["a", "zz"]))
