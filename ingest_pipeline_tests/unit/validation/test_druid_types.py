"""Polars columns to Druid dimension types."""

from __future__ import annotations

import polars as pl

from ingest_pipeline.validation import validate


def test_druid_types_and_conversions() -> None:
    frame = pl.DataFrame(
        {
            "i": [1, None, 3],
            "f": [1.5, float("nan"), float("inf")],
            "flag": [True, False, None],
            "nested": [{"a": 1}, None, {"a": 2}],
            "items": [[1, 2], None, []],
            "u": pl.Series([2**64 - 1, 0, 1], dtype=pl.UInt64),
        }
    )
    result = validate(frame, "k", "ds")
    assert result.schema == [
        ("i", "long"),
        ("f", "double"),
        ("flag", "string"),
        ("nested", "string"),
        ("items", "string"),
        ("u", "string"),
    ]
    out = result.frame
    assert out["f"].to_list() == [1.5, None, None]
    assert out["flag"].to_list() == ["true", "false", None]
    assert out["nested"].to_list() == ['{"a":1}', None, '{"a":2}']
    assert out["items"].to_list() == ["[1,2]", None, "[]"]
    assert out["u"].to_list() == [str(2**64 - 1), "0", "1"]
    assert any("2 NaN/infinite values" in w for w in result.warnings)
