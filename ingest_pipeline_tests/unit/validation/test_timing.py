"""The time column: detection, parsing of every shape of time, the constant time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.validation import validate
from ingest_pipeline.validation.stats import ColumnStats
from ingest_pipeline.validation.timing import TimePlan, epoch_unit, time_candidates, time_plan
from ingest_pipeline.vocabulary import CONSTANT_TIME, SOURCE_KEY_COLUMN, TIME_COLUMN, FileRejected
from ingest_pipeline_tests.unit.validation.helpers import times, utc, validate_csv


def test_epoch_seconds_and_milliseconds_give_the_same_time(tmp_path: Path) -> None:
    seconds = validate_csv(tmp_path, "timestamp,v\n1700000000,1\n1700000001,2\n")
    millis = validate_csv(tmp_path, "timestamp,v\n1700000000000,1\n1700000001500,2\n")
    assert times(seconds) == [utc(2023, 11, 14, 22, 13, 20), utc(2023, 11, 14, 22, 13, 21)]
    assert times(millis)[0] == times(seconds)[0]
    assert times(millis)[1] == utc(2023, 11, 14, 22, 13, 21, 500000)
    assert seconds.frame.schema[TIME_COLUMN] == pl.Datetime("ms", "UTC")


def test_yyyymmdd_integers_are_dates_not_epoch_seconds(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, "date,v\n20240131,1\n19991231,2\n")
    assert times(result) == [utc(2024, 1, 31), utc(1999, 12, 31)]


def test_zoned_times_convert_to_utc_and_naive_times_are_utc(tmp_path: Path) -> None:
    text = (
        "event_time,v\n"
        "2024-03-01T10:00:00+02:00,1\n"
        "2024-03-01T10:00:00Z,2\n"
        "2024-03-01 10:00:00,3\n"
        "2024-03-01T10:00:00.123-0500,4\n"
        "2024/03/01,5\n"
        "1969-07-20T20:17:40,6\n"
        "2999-12-31T23:59:59 UTC,7\n"
    )
    result = validate_csv(tmp_path, text)
    assert result.time_column == "event_time"
    assert times(result) == [
        utc(2024, 3, 1, 8),
        utc(2024, 3, 1, 10),
        utc(2024, 3, 1, 10),
        utc(2024, 3, 1, 15, 0, 0, 123000),
        utc(2024, 3, 1),
        utc(1969, 7, 20, 20, 17, 40),
        utc(2999, 12, 31, 23, 59, 59),
    ]
    # The original text stays queryable as a dimension.
    assert result.frame["event_time"][0] == "2024-03-01T10:00:00+02:00"


def test_no_time_column_uses_the_constant_time(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, "name,qty\nbolt,3\nnut,4\n")
    assert result.time_column is None
    assert times(result) == [CONSTANT_TIME, CONSTANT_TIME]
    assert CONSTANT_TIME == utc(2000, 1, 1)
    assert any("constant time 2000-01-01T00:00:00.000Z" in w for w in result.warnings)


def test_a_time_named_column_that_is_not_time_is_ignored(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, "date,qty\nsoon,3\nlater,4\n")
    assert result.time_column is None
    assert result.row_count == 2


def test_unparseable_times_are_rejected_rows_with_lines(tmp_path: Path) -> None:
    text = "ts,v\n2024-01-01,1\nnot a date,2\n,3\n2024-01-02,4\n"
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, text)
    assert caught.value.row == 3
    assert "unparseable time 'not a date'" in str(caught.value)
    result = validate_csv(tmp_path, text, DatasetConfig(max_rejected_share=0.5))
    assert result.rejected == [
        (3, "unparseable time 'not a date' in column 'ts'"),
        (4, "missing time value in column 'ts'"),
    ]
    assert result.frame["v"].to_list() == [1, 4]


def test_configured_time_column_and_format(tmp_path: Path) -> None:
    config = DatasetConfig(time_column="Jour", time_format="%d/%m/%Y %H:%M")
    result = validate_csv(tmp_path, "Jour,created_at\n31/12/2023 23:30,2020-01-01\n", config)
    assert result.time_column == "Jour"
    assert times(result) == [utc(2023, 12, 31, 23, 30)]
    assert not any("auto-detected" in w for w in result.warnings)


def test_configured_time_column_may_use_the_uploaded_name(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, "Order Date,v\n2024-05-06,1\n", DatasetConfig("Order Date"))
    assert result.time_column == "Order_Date"
    assert times(result) == [utc(2024, 5, 6)]


def test_missing_configured_time_column_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, "a,b\n1,2\n", DatasetConfig(time_column="when"))
    assert caught.value.column == "when"
    assert "columns: a, b" in str(caught.value)


def test_a_column_named___time_is_kept_and_used(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, "__time,v\n2024-01-01T00:00:00Z,1\n")
    assert result.time_column == "time_original"
    assert result.frame.columns == [TIME_COLUMN, "time_original", "v", SOURCE_KEY_COLUMN]


def test_datetime_and_date_dtypes_from_parquet_like_frames() -> None:
    frame = pl.DataFrame(
        {
            "created_at": [datetime(2024, 1, 1, 12)],
            "birthday": [datetime(1990, 5, 17).date()],
        }
    ).with_columns(pl.col("created_at").dt.replace_time_zone("Europe/Paris"))
    result = validate(frame, "k", "ds")
    assert times(result) == [utc(2024, 1, 1, 11)]
    assert result.frame["created_at"].to_list() == ["2024-01-01T11:00:00.000Z"]
    assert result.frame["birthday"].to_list() == ["1990-05-17"]


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["id", "Timestamp", "value"], ["Timestamp"]),
        (["created_at", "ts"], ["ts", "created_at"]),  # exact names in hint order first
        (["time", "time_original"], ["time_original", "time"]),  # a renamed __time wins
        (["order_date", "amount", "date_of_birth"], ["order_date", "date_of_birth"]),  # shapes
        (["TS", "ts"], ["TS", "ts"]),  # the first column wins a case clash
        (["name", "timezone", "updates", "dates"], []),
    ],
)
def test_time_candidates(columns: list[str], expected: list[str]) -> None:
    assert time_candidates(columns) == expected


@pytest.mark.parametrize(
    ("max_abs", "unit"),
    [
        (0.0, "s"),
        (1.7e9, "s"),
        (99_999_999_999.0, "s"),  # the year 5138 in seconds
        (1e11, "ms"),  # 1973 in milliseconds
        (1.7e12, "ms"),
        (1.7e15, "us"),
        (1.7e18, "ns"),
    ],
)
def test_epoch_unit_follows_the_magnitude(max_abs: float, unit: str) -> None:
    assert epoch_unit(max_abs) == unit


_YMD = {"min": 20240101, "max": 20241231, "nulls": 0, "ymd_nulls": 0, "max_abs": 2.0e7}


@pytest.mark.parametrize(
    ("dtype", "time_format", "stats", "expected"),
    [
        (pl.Int64, None, _YMD, TimePlan("yyyymmdd")),
        # one value that is no date (month 13): the integers are epoch seconds after all
        (pl.Int64, None, {**_YMD, "max": 20241399, "ymd_nulls": 1}, TimePlan("epoch", "s")),
        (
            pl.Int64,
            None,
            {**_YMD, "min": 1_700_000_000_000, "max": 1_800_000_000_000, "max_abs": 1.8e12},
            TimePlan("epoch", "ms"),
        ),
        (pl.Float64, None, {"max_abs": 1.7e9}, TimePlan("epoch", "s")),
        (pl.String, None, {"max_abs": None}, TimePlan("text", "s")),
        (pl.String, None, {"max_abs": 1.7e12}, TimePlan("text", "ms")),  # epoch-like text
        (pl.String, "%d/%m/%Y", {}, TimePlan("text", "s")),
        (pl.Int64, "%Y%m%d", {}, TimePlan("text", "s")),  # a format: parsed as text
        (pl.Int64, "posix", {}, TimePlan("epoch", "s")),
        (pl.String, "millis", {}, TimePlan("epoch", "ms")),
        (pl.Datetime("us", "Europe/Paris"), None, {}, TimePlan("datetime")),
        (pl.Date, None, {}, TimePlan("date")),
        (pl.Boolean, None, {}, TimePlan("none")),
    ],
)
def test_time_plan(
    dtype: pl.DataType, time_format: str | None, stats: dict[str, Any], expected: TimePlan
) -> None:
    assert time_plan(dtype, time_format, ColumnStats(**stats)) == expected
