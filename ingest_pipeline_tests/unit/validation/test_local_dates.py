"""Day-first and month-first date text (31.01.2024, 1/31/2024 1:05 PM), as spreadsheets export
it: the order is decided by the whole column's values, every row parses by it, and a column no
value decides is refused with the config lines that fix it (never a silent constant time)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.validation.stats import ColumnStats
from ingest_pipeline.validation.time_reasons import DateOrder, NotTime
from ingest_pipeline.validation.time_scoring import screen_candidate
from ingest_pipeline.validation.time_text import local_date_order
from ingest_pipeline.validation.timing import TimePlan, parse_time
from ingest_pipeline.vocabulary import TIME_COLUMN, FileRejected
from ingest_pipeline_tests.unit.validation.helpers import (
    assert_streams_the_same,
    lines_to_text,
    read_csv_text,
    validate_csv,
)

DAYS = [date(2023, 1, 1) + timedelta(days=9 * i) for i in range(40)]  # days above 12 included


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_german_dotted_dates_are_the_time_day_first(tmp_path: Path) -> None:
    lines = ["Datum;Umsatz;Filiale"]
    lines += [f"{d:%d.%m.%Y};{i}99,50;F{i % 3}" for i, d in enumerate(DAYS)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "Datum"
    assert result.frame[TIME_COLUMN].to_list() == [_midnight(d) for d in DAYS]
    chosen = result.report[TIME_COLUMN]["candidates"][0]
    assert chosen["reason"] == "dates only (day first): 40 of 40 values parse"
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


def test_us_dates_with_am_pm_are_timestamps_month_first(tmp_path: Path) -> None:
    start = datetime(2024, 3, 1)
    stamps = [start + timedelta(hours=7 * i, minutes=i) for i in range(60)]
    lines = ["id,created,comment"]
    # no zero padding, 12 AM is midnight and 12 PM noon, as Excel writes them
    for i, t in enumerate(stamps):
        hour12 = t.hour % 12 or 12
        clock = f"{hour12}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"
        lines.append(f'{i},{t.month}/{t.day}/{t.year} {clock},"note {i}"')
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "created"
    assert result.frame[TIME_COLUMN].to_list() == [t.replace(tzinfo=UTC) for t in stamps]
    chosen = result.report[TIME_COLUMN]["candidates"][0]
    assert chosen["reason"] == "timestamps (month first): 60 of 60 values parse"
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


def test_an_order_no_value_decides_is_refused_with_the_config_lines(tmp_path: Path) -> None:
    lines = ["when,amount"] + [f"0{m}/0{d}/2024,{m * d}" for m in range(1, 10) for d in (1, 5)]
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, lines_to_text(lines))
    message = str(caught.value)
    assert "column 'when' holds dates whose day and month order no value decides" in message
    assert "'09/05/2024'" in message  # a sample value
    assert 'ds:\n  time_column: when\n  time_format: "%d/%m/%Y"' in message
    assert caught.value.column == "when"
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


def test_the_configured_format_settles_it(tmp_path: Path) -> None:
    lines = ["when,amount"] + [f"0{m}/0{d}/2024,{m * d}" for m in range(1, 10) for d in (1, 5)]
    config = DatasetConfig(time_column="when", time_format="%d/%m/%Y")
    result = validate_csv(tmp_path, lines_to_text(lines), config)
    assert result.frame[TIME_COLUMN][1] == datetime(2024, 5, 1, tzinfo=UTC)  # 01/05/2024


def test_an_undecided_column_beside_a_real_time_only_loses(tmp_path: Path) -> None:
    lines = ["due,at"] + [f"0{m}/01/2024,2024-05-0{m}T10:00:00Z" for m in range(1, 10)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "at"
    entries = {e["column"]: e for e in result.report[TIME_COLUMN]["candidates"]}
    assert entries["due"]["reason"].startswith("dates whose day and month order no value")


def test_a_configured_column_of_dotted_dates_parses_day_first(tmp_path: Path) -> None:
    lines = ["Datum,x"] + [f"{d:%d.%m.%Y},1" for d in DAYS]
    result = validate_csv(tmp_path, lines_to_text(lines), DatasetConfig(time_column="Datum"))
    assert result.frame[TIME_COLUMN].to_list() == [_midnight(d) for d in DAYS]


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (31, 12, DateOrder.DAY_FIRST),
        (12, 31, DateOrder.MONTH_FIRST),
        (31, 31, "text, not dates"),
        (12, 12, "dates whose day and month order no value decides"),
    ],
)
def test_the_order_comes_from_the_largest_parts(first: int, second: int, expected) -> None:
    order = local_date_order(ColumnStats(local_first_max=first, local_second_max=second))
    if isinstance(expected, DateOrder):
        assert order is expected
    else:
        assert isinstance(order, NotTime) and expected in order.message()


def test_mostly_local_date_text_screens_as_local_and_mostly_words_do_not() -> None:
    stats = ColumnStats(n=4, iso_like=0, timed=0, local_first_max=28, local_second_max=2)
    assert screen_candidate("x", pl.String, replace(stats, local_like=4)) == TimePlan(
        "local", day_first=True
    )
    words = screen_candidate("x", pl.String, replace(stats, local_like=1))
    assert isinstance(words, NotTime) and "text, not times" in words.message()


def test_parse_time_reads_each_separator_and_clock_by_one_order() -> None:
    values = pl.Series(
        ["13.01.2024", "1/2/2024 13:45", "02-03-2024 07:08:09.5", " 4.5.2024 12:00 am ", None]
    )
    assert parse_time(values).to_list() == [
        datetime(2024, 1, 13, tzinfo=UTC),
        datetime(2024, 2, 1, 13, 45, tzinfo=UTC),
        datetime(2024, 3, 2, 7, 8, 9, 500_000, tzinfo=UTC),
        datetime(2024, 5, 4, 0, 0, tzinfo=UTC),
        None,
    ]
