"""A date in columns of its own, part by part (a yearly panel, "Year,Month,Passengers",
"year,month,day,hour"): with no column holding a time, __time is each row's year, quarter,
month, day, hour or minute, never one constant time for every row; a configured year column
is read as years, not as epoch seconds in 1970's first hour."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.findings import DateParts
from ingest_pipeline.reading import read_frame
from ingest_pipeline.vocabulary import CONSTANT_TIME, TIME_COLUMN, FileRejected
from ingest_pipeline_tests.unit.validation.helpers import (
    assert_streams_the_same,
    times,
    utc,
    validate_csv,
)


def test_a_yearly_panel_lands_on_the_first_day_of_each_year(tmp_path: Path) -> None:
    rows = [f"{year},{country},{year - 1900}.5" for year in range(1990, 2024) for country in "AB"]
    result = validate_csv(tmp_path, "year,country,gdp\n" + "\n".join(rows) + "\n")
    assert result.time_column == "year"
    assert result.time_facts.date_parts == DateParts("year")
    assert times(result)[:3] == [utc(1990, 1, 1), utc(1990, 1, 1), utc(1991, 1, 1)]
    assert result.frame["year"].to_list()[:2] == [1990, 1990]  # the column stays as it is
    (warning,) = [w for w in result.warnings if "date parts" in w]
    assert "'year': the first day of each year" in warning
    assert result.report[TIME_COLUMN]["source"] == "date parts year"


@pytest.mark.parametrize(
    ("header", "rows", "expected", "instant"),
    [
        (
            "Year,Month,Passengers",
            ["1949,January,112", "1949,feb,118", "1950,Dec.,115"],
            [utc(1949, 1, 1), utc(1949, 2, 1), utc(1950, 12, 1)],
            "the first day of each month",
        ),
        (
            "jahr,monat,umsatz",
            ["2023,1,5", "2023,12,6", "2024,2,7"],
            [utc(2023, 1, 1), utc(2023, 12, 1), utc(2024, 2, 1)],
            "the first day of each month",
        ),
        (
            "year,quarter,revenue",
            ["2015,Q1,1", "2015,q4,2", "2016,3,3"],
            [utc(2015, 1, 1), utc(2015, 10, 1), utc(2016, 7, 1)],
            "the first day of each quarter",
        ),
        (
            "year,month,day,sales",
            ["2024,2,29,1", "2023,12,31,2", "2024,1,1,3"],
            [utc(2024, 2, 29), utc(2023, 12, 31), utc(2024, 1, 1)],
            "midnight of each day",
        ),
        (  # flights-shaped, without time_hour: to the minute; "min" is no minute
            "year,month,day,hour,minute,min",
            ["2013,1,1,5,15,3", "2013,1,1,23,59,50", "2013,12,31,0,0,7"],
            [utc(2013, 1, 1, 5, 15), utc(2013, 1, 1, 23, 59), utc(2013, 12, 31)],
            "each row's minute",
        ),
        (  # NASA POWER's hourly export
            "YEAR,MO,DY,HR,T2M",
            ["2023,1,1,0,-1.5", "2023,1,1,23,0.25", "2023,12,31,5,2"],
            [utc(2023, 1, 1), utc(2023, 1, 1, 23), utc(2023, 12, 31, 5)],
            "the start of each row's hour",
        ),
        (  # a day of the year instead of a month and a day (2024 is a leap year)
            "year,doy,precip",
            ["2023,1,0.0", "2023,365,1.5", "2024,60,2", "2024,366,3"],
            [utc(2023, 1, 1), utc(2023, 12, 31), utc(2024, 2, 29), utc(2024, 12, 31)],
            "midnight of each day",
        ),
        (
            "YEAR,DOY,HR,T2M",
            ["2023,32,6,1", "2023,33,18,2"],
            [utc(2023, 2, 1, 6), utc(2023, 2, 2, 18)],
            "the start of each row's hour",
        ),
    ],
    ids=["month names", "german", "quarters", "days", "minutes", "nasa power", "doy", "doy hr"],
)
def test_date_parts_in_columns_of_their_own_make_each_row_s_time(
    tmp_path: Path, header: str, rows: list[str], expected: list, instant: str
) -> None:
    result = validate_csv(tmp_path, header + "\n" + "\n".join(rows) + "\n")
    assert times(result) == expected
    assert result.time_facts.date_parts is not None
    assert instant in next(w for w in result.warnings if "date parts" in w)
    parsed = read_frame(tmp_path / "upload.csv", "uploads/ds/upload.csv")
    assert_streams_the_same(tmp_path, parsed, None, batch_rows=2)


def test_a_clock_column_beside_the_day_parts_gives_the_time_of_day(tmp_path: Path) -> None:
    text = "year,month,day,time,v\n2024,3,1,14:30,1\n2024,3,2,08:05,2\n"
    result = validate_csv(tmp_path, text)
    assert times(result) == [utc(2024, 3, 1, 14, 30), utc(2024, 3, 2, 8, 5)]
    assert result.report[TIME_COLUMN]["source"] == (
        "date parts year + month + day + time of day from time"
    )


def test_a_real_time_column_wins_over_the_parts(tmp_path: Path) -> None:
    text = "year,month,day,hour,time_hour\n2013,1,1,5,2013-01-01T05:00:00Z\n"
    result = validate_csv(tmp_path, text + "2013,1,1,6,2013-01-01T06:00:00Z\n")
    assert result.time_column == "time_hour"
    assert result.time_facts.date_parts is None


def test_a_part_not_in_every_row_or_named_twice_is_left_out_and_said(tmp_path: Path) -> None:
    # a month missing in one row: the year alone, and the warning says what was not used
    result = validate_csv(tmp_path, "year,month,v\n2020,1,1\n2020,,2\n2021,3,3\n")
    assert result.time_facts.date_parts == DateParts("year")
    warning = next(w for w in result.warnings if "date parts" in w)
    assert "Not used: 'month'" in warning
    # two year columns: nothing says which one, so no date from parts (the constant time)
    two = validate_csv(tmp_path, "year,yr,v\n2020,2019,1\n2021,2020,2\n")
    assert two.time_column is None
    assert two.frame[TIME_COLUMN].unique().to_list() == [CONSTANT_TIME]


@pytest.mark.parametrize(
    "text",
    [
        "year,v\n2020,1\n,2\n",  # a year missing: not a part in every row
        "year,v\n20,1\n21,2\n",  # not years
        "count,month,v\n2020,1,1\n2021,2,2\n",  # no column named like a year
        "year,v\n2020.5,1\n2021.0,2\n",  # not integers
    ],
    ids=["gap", "short years", "no year name", "floats"],
)
def test_no_date_from_parts_that_are_not_whole(tmp_path: Path, text: str) -> None:
    result = validate_csv(tmp_path, text)
    assert result.time_column is None
    assert any("no time column found" in w for w in result.warnings)


def test_a_day_its_month_does_not_have_rejects_its_row_by_line(tmp_path: Path) -> None:
    text = "year,month,day,v\n2023,2,28,1\n2023,2,30,2\n2024,2,29,3\n"
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, text)
    assert "line 3: no date from 'year', 'month', 'day': '2023-2-30'" in str(caught.value)
    allowed = validate_csv(tmp_path, text, DatasetConfig(max_rejected_share=0.5))
    assert times(allowed) == [utc(2023, 2, 28), utc(2024, 2, 29)]


def test_a_configured_year_column_is_years_not_1970(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, "year,v\n1990,1\n2023,2\n", DatasetConfig(time_column="year"))
    assert times(result) == [utc(1990, 1, 1), utc(2023, 1, 1)]


def test_a_day_of_the_year_its_year_has_not_rejects_that_row(tmp_path: Path) -> None:
    text = "year,doy,v\n2023,365,1\n2023,366,2\n2024,366,3\n"
    with pytest.raises(FileRejected) as rejected:
        validate_csv(tmp_path, text)
    assert "line 3: no date from 'year', 'doy': '2023-366'" in str(rejected.value)
