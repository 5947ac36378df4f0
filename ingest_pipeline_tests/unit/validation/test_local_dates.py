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
from ingest_pipeline.validation.local_dates import local_date_order
from ingest_pipeline.validation.stats import ColumnStats
from ingest_pipeline.validation.time_reasons import DateOrder, NotTime
from ingest_pipeline.validation.time_scoring import screen_candidate
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


EARLY_DAYS = [date(2024, m, d) for m in range(1, 13) for d in (1, 5, 12)]  # no day above 12


def test_dotted_dates_no_value_decides_are_day_first_and_said(tmp_path: Path) -> None:
    """A German export of the first days of each month: 01.03.2024 is the 1st of March, as
    nobody writes the month first with dots; the report says what decided it."""
    lines = ["Datum;Umsatz"] + [f"{d:%d.%m.%Y};{d.day},50" for d in EARLY_DAYS]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "Datum"
    assert result.frame[TIME_COLUMN].to_list() == [_midnight(d) for d in EARLY_DAYS]
    chosen = result.report[TIME_COLUMN]["candidates"][0]
    assert chosen["reason"] == (
        "dates only (day first, as dates with dots are written: no part above 12 says): "
        "36 of 36 values parse"
    )
    assert any("day first, as dates with dots" in w for w in result.warnings)
    configured = validate_csv(tmp_path, lines_to_text(lines), DatasetConfig(time_column="Datum"))
    assert configured.frame[TIME_COLUMN].to_list() == [_midnight(d) for d in EARLY_DAYS]


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda d: f"{d:%m/%d/%Y}", id="slashes"),
        pytest.param(lambda d: f"{d:%m-%d-%Y}", id="dashes"),
        pytest.param(lambda d: f"{d:%d.%m.%Y}" if d.month % 2 else f"{d:%d/%m/%Y}", id="mixed"),
    ],
)
def test_only_dots_throughout_decide_an_undecided_order(tmp_path: Path, shape) -> None:
    lines = ["when,amount"] + [f"{shape(d)},1" for d in EARLY_DAYS]
    with pytest.raises(FileRejected, match="day and month order no value decides"):
        validate_csv(tmp_path, lines_to_text(lines))


MONTHS = [date(y, m, 1) for y in (1985, 1986, 1987) for m in range(1, 13)]


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        pytest.param("{d.month}/1/{d.year}", "month first: every date", id="FRED's monthly"),
        pytest.param("01/{d.month:02d}/{d.year}", "day first: every date", id="day first"),
    ],
)
def test_monthly_dates_on_the_1st_take_the_part_always_1_for_the_day(
    tmp_path: Path, shape: str, reason: str
) -> None:
    lines = ['"DATE","IPG2211A2N"'] + [f"{shape.format(d=d)},7{i}.5" for i, d in enumerate(MONTHS)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.frame[TIME_COLUMN].to_list() == [_midnight(d) for d in MONTHS]
    chosen = result.report[TIME_COLUMN]["candidates"][0]
    assert (
        chosen["reason"] == f"dates only ({reason} is the 1st of its month): 36 of 36 values parse"
    )


def test_the_1st_of_two_months_or_of_one_decides_nothing(tmp_path: Path) -> None:
    lines = ["when,v", "1/1/2024,1", "2/1/2024,2", "1/1/2025,3"]  # January 2nd, or February 1st?
    with pytest.raises(FileRejected, match="day and month order no value decides"):
        validate_csv(tmp_path, lines_to_text(lines))
    lines = ["when,v", "1/3/2024,1", "1/3/2024,2"]  # one date: the 1st of March, or January 3rd?
    with pytest.raises(FileRejected, match="day and month order no value decides"):
        validate_csv(tmp_path, lines_to_text(lines))


def test_the_configured_format_settles_it(tmp_path: Path) -> None:
    lines = ["when,amount"] + [f"0{m}/0{d}/2024,{m * d}" for m in range(1, 10) for d in (1, 5)]
    config = DatasetConfig(time_column="when", time_format="%d/%m/%Y")
    result = validate_csv(tmp_path, lines_to_text(lines), config)
    assert result.frame[TIME_COLUMN][1] == datetime(2024, 5, 1, tzinfo=UTC)  # 01/05/2024


def test_an_undecided_column_beside_a_real_time_only_loses(tmp_path: Path) -> None:
    lines = ["due,at"] + [f"0{m}/0{10 - m}/2024,2024-05-0{m}T10:00:00Z" for m in range(1, 10)]
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
        (12, 12, DateOrder.DAY_FIRST_BY_DOTS),  # every value with dots
        (12, 31, DateOrder.MONTH_FIRST),  # the values decide, dots or not
    ],
)
def test_the_order_comes_from_the_largest_parts(first: int, second: int, expected) -> None:
    dotted = 5 if expected in (DateOrder.DAY_FIRST_BY_DOTS, DateOrder.MONTH_FIRST) else 0
    stats = ColumnStats(local_like=5, local_dotted=dotted)
    order = local_date_order(replace(stats, local_first_max=first, local_second_max=second))
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
