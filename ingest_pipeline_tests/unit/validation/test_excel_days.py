"""Excel's day numbers (45292 is 2024-01-01), as a date column saved in the General format holds
them: taken under a date's name in 1990..2040 and said; anything else is left as it was."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.validation.excel_days import excel_day, named_like_a_date
from ingest_pipeline.vocabulary import CONSTANT_TIME, TIME_COLUMN
from ingest_pipeline_tests.unit.validation.helpers import (
    assert_streams_the_same,
    lines_to_text,
    read_csv_text,
    validate_csv,
)

DAYS = [date(2023, 11, 1) + timedelta(days=3 * i) for i in range(120)]


def _excel(day: date) -> int:
    return (day - date(1899, 12, 30)).days


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_day_numbers_under_a_date_name_are_those_days_and_said(tmp_path: Path) -> None:
    lines = ["order_date,region,amount"] + [f"{_excel(d)},r{i % 4},{i}" for i, d in enumerate(DAYS)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "order_date"
    assert result.frame[TIME_COLUMN].to_list() == [_midnight(d) for d in DAYS]
    chosen = result.report[TIME_COLUMN]["candidates"][0]
    assert chosen["reason"] == (
        f"Excel day numbers ({DAYS[0]} .. {DAYS[-1]}): {len(DAYS)} of {len(DAYS)} values parse"
    )
    assert (chosen["kind"], chosen["format"]) == ("date", "Excel day numbers")
    assert any("Excel day numbers" in w for w in result.warnings)
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


@pytest.mark.parametrize("decimals", [6, 10])  # 10: as Excel writes a General number
def test_a_fraction_is_the_time_of_day_to_the_second(tmp_path: Path, decimals: int) -> None:
    stamps = [
        datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=7 * i, seconds=i) for i in range(60)
    ]
    day_zero = datetime(1899, 12, 30, tzinfo=UTC)
    lines = ["OrderDate,v"] + [
        f"{(t - day_zero) / timedelta(days=1):.{decimals}f},{i}" for i, t in enumerate(stamps)
    ]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "OrderDate"
    assert result.frame[TIME_COLUMN].to_list() == stamps
    assert result.report[TIME_COLUMN]["candidates"][0]["kind"] == "timestamp"


def test_dates_written_as_text_win_over_day_numbers_of_the_same_rows(tmp_path: Path) -> None:
    """Day numbers are the weakest evidence of a date, as epoch numbers are."""
    lines = ["order_date,ship_date"] + [f"{_excel(d)},{d + timedelta(days=2)}" for d in DAYS]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "ship_date"
    loser = result.report[TIME_COLUMN]["candidates"][1]
    assert loser["column"] == "order_date" and loser["kind"] == "date"


def test_a_configured_column_of_day_numbers_is_not_read_as_1970(tmp_path: Path) -> None:
    lines = ["when,v"] + [f"{_excel(d)},1" for d in DAYS]
    result = validate_csv(tmp_path, lines_to_text(lines), DatasetConfig(time_column="when"))
    assert result.frame[TIME_COLUMN].to_list() == [_midnight(d) for d in DAYS]


@pytest.mark.parametrize(
    ("name", "values"),
    [
        pytest.param("amount", [_excel(d) for d in DAYS], id="not named like a date"),
        pytest.param("date_id", [_excel(d) for d in DAYS], id="an identifier"),
        pytest.param("update_count", [_excel(d) for d in DAYS], id="date inside a word"),
        # Unix day numbers: 2023-11-01 is day 19662 since 1970, Excel's 1953
        pytest.param("date", [(d - date(1970, 1, 1)).days for d in DAYS], id="unix days"),
        pytest.param("date", [30000 + i for i in range(120)], id="before 1990"),
    ],
)
def test_other_numbers_are_not_taken_for_day_numbers(tmp_path: Path, name: str, values) -> None:
    lines = [f"{name},v"] + [f"{n},1" for n in values]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column is None
    assert set(result.frame[TIME_COLUMN].to_list()) == {CONSTANT_TIME}


def test_names_that_say_date() -> None:
    said = ["date", "Date", "order_date", "OrderDate", "Datum", "fecha", "day", "invoice date"]
    assert all(named_like_a_date(n) for n in said)
    assert not any(named_like_a_date(n) for n in ["update", "updates", "candidate", "today_x"])
    assert excel_day(45292) == "2024-01-01" and excel_day(45292.75) == "2024-01-01"
