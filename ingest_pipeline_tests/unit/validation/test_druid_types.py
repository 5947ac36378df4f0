"""Polars columns to Druid dimension types."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl
import pytest

from ingest_pipeline.validation import to_druid_column, validate
from ingest_pipeline.validation.druid_types import overflows_druid_long


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


@pytest.mark.parametrize(
    ("largest", "as_text"),
    [(None, False), (0, False), (2**63 - 1, False), (2**63, True), (2**64 - 1, True)],
)
def test_overflows_druid_long(largest: int | None, as_text: bool) -> None:
    assert overflows_druid_long(largest) is as_text


@pytest.mark.parametrize(
    ("column", "druid_type", "values"),
    [
        (pl.Series([1, None], dtype=pl.Int8), "long", [1, None]),
        (pl.Series([7], dtype=pl.UInt64), "long", [7]),
        (pl.Series([2**64 - 1], dtype=pl.UInt64), "string", [str(2**64 - 1)]),
        (pl.Series([0.5, float("nan")], dtype=pl.Float32), "double", [0.5, None]),
        (pl.Series([True, None]), "string", ["true", None]),
        (pl.Series([date(2024, 2, 29)]), "string", ["2024-02-29"]),
        (pl.Series([datetime(2024, 1, 1, 12, 30)]), "string", ["2024-01-01T12:30:00.000Z"]),
        (pl.Series([b"\x00\xff"]), "string", ["AP8="]),
        (pl.Series(["x", None]), "string", ["x", None]),
    ],
)
def test_to_druid_column_types(column: pl.Series, druid_type: str, values: list[Any]) -> None:
    converted, converted_type, _ = to_druid_column(column)
    assert (converted_type, converted.to_list()) == (druid_type, values)


def test_a_batch_of_uint64_follows_the_whole_column_verdict() -> None:
    small = pl.Series([1, 2], dtype=pl.UInt64)  # this batch fits, a later one did not
    assert to_druid_column(small, uint_as_string=True)[1] == "string"
    assert to_druid_column(small, uint_as_string=False)[1] == "long"
