"""A dates-only time column plus a time of day in a column of its own ("Datum;Uhrzeit"):
__time is each row's date and time, not midnight for every row of a day."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.findings import TimeOfDay
from ingest_pipeline.reading import read_frame
from ingest_pipeline.validation import validate
from ingest_pipeline.validation.time_of_day import clock_ms_expr, named_like_time_of_day
from ingest_pipeline_tests.unit.validation.helpers import (
    assert_streams_the_same,
    times,
    utc,
    validate_csv,
)

HOUR_MS = 3_600_000


@pytest.mark.parametrize(
    ("text", "millis"),
    [
        ("14:30", 14 * HOUR_MS + 30 * 60_000),
        ("9:05:07", 9 * HOUR_MS + 5 * 60_000 + 7_000),
        ("00:45:30.5", 45 * 60_000 + 30_500),
        ("23:59:59,123", 24 * HOUR_MS - 1_000 + 123),
        (" 07:00 ", 7 * HOUR_MS),
        ("12:00 am", 0),
        ("12:30 PM", 12 * HOUR_MS + 30 * 60_000),
        ("1:15 p.m.", 13 * HOUR_MS + 15 * 60_000),
        ("11:59 AM", 11 * HOUR_MS + 59 * 60_000),
        ("24:00", None),
        ("14:60", None),
        ("13:00 pm", None),
        ("0:30 am", None),
        ("1430", None),
        ("18.00.00", 18 * 3_600_000),  # Italian clocks (the UCI Air Quality data)
        (" 7.05.09 ", (7 * 3600 + 5 * 60 + 9) * 1000),
        ("18.30", None),  # may be a decimal number
        ("24.00.00", None),
        ("2024-03-01 14:30", None),
        ("noon", None),
        (None, None),
    ],
)
def test_clock_times_become_milliseconds_after_midnight(
    text: str | None, millis: int | None
) -> None:
    parsed = pl.DataFrame({"t": [text]}, schema={"t": pl.String}).select(clock_ms_expr("t"))
    assert parsed.item() == millis


@pytest.mark.parametrize(
    ("name", "named_like"),
    [
        ("time", True),
        ("Uhrzeit", True),
        ("Start Time", True),
        ("heure", True),
        ("hour", True),
        ("duration", False),
        ("elapsed_time", False),
        ("lap_time", False),
        ("Dauer", False),
        ("comment", False),
    ],
)
def test_a_time_of_day_column_is_named_like_one_and_not_like_a_duration(
    name: str, named_like: bool
) -> None:
    assert named_like_time_of_day(name) is named_like


def hourly_eu_csv(hours: int) -> str:
    start = datetime(2023, 1, 1)
    lines = ["Datum;Uhrzeit;Menge"]
    for hour in range(hours):
        at = start + timedelta(hours=hour)
        lines.append(f"{at:%d.%m.%Y};{at:%H:%M};{hour % 10}")
    return "\n".join(lines) + "\n"


def test_a_year_of_hourly_rows_with_date_and_time_apart_gets_every_hour(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, hourly_eu_csv(8760))
    expected = [utc(2023, 1, 1) + timedelta(hours=h) for h in range(8760)]
    assert times(result) == expected
    assert result.time_facts.time_of_day == TimeOfDay("Uhrzeit", 8760)
    assert result.report["__time"]["source"] == "Datum + time of day from Uhrzeit"
    assert any("plus the time of day from 'Uhrzeit'" in w for w in result.warnings)


def test_the_air_quality_data_s_dotted_clocks_give_each_row_its_hour(tmp_path: Path) -> None:
    """UCI's Air Quality file: `Date;Time;CO(GT);...` with 10/03/2004;18.00.00;2,6;..."""
    stamps = [datetime(2004, 3, 10, 18) + timedelta(hours=h) for h in range(72)]
    rows = [f"{t:%d/%m/%Y};{t:%H.%M.%S};2,{h % 10};{1300 + h};;" for h, t in enumerate(stamps)]
    result = validate_csv(tmp_path, "Date;Time;CO(GT);PT08.S1(CO);;\n" + "\n".join(rows) + "\n")
    assert times(result) == [t.replace(tzinfo=UTC) for t in stamps]
    assert result.time_facts.time_of_day == TimeOfDay("Time", 72)


def test_batch_by_batch_the_time_of_day_is_added_as_in_one_piece(tmp_path: Path) -> None:
    path = tmp_path / "hourly.csv"
    path.write_text(hourly_eu_csv(1000))
    summary = assert_streams_the_same(tmp_path, read_frame(path, "uploads/ds/upload.csv"), None)
    assert summary is not None
    assert summary.time_facts.time_of_day == TimeOfDay("Uhrzeit", 1000)
    assert (summary.time_min, summary.time_max) == (
        utc(2023, 1, 1),
        utc(2023, 1, 1) + timedelta(hours=999),
    )


def test_month_first_dates_and_12_hour_clocks(tmp_path: Path) -> None:
    text = (
        "order_date,order_time,qty\n"
        "03/01/2024,9:15 AM,1\n03/01/2024,1:40 PM,2\n03/14/2024,12:05 am,3\n"
    )
    assert times(validate_csv(tmp_path, text)) == [
        utc(2024, 3, 1, 9, 15),
        utc(2024, 3, 1, 13, 40),
        utc(2024, 3, 14, 0, 5),
    ]


def test_a_start_and_an_end_time_are_not_guessed_between_and_the_report_says_so(
    tmp_path: Path,
) -> None:
    text = "date,start_time,end_time\n2024-03-01,08:00,09:30\n2024-03-02,10:00,11:15\n"
    result = validate_csv(tmp_path, text)
    assert times(result) == [utc(2024, 3, 1), utc(2024, 3, 2)]
    assert result.time_facts.time_of_day is None
    note = next(w for w in result.warnings if "each hold a time of day" in w)
    assert "'start_time', 'end_time'" in note and "midnight" in note


@pytest.mark.parametrize(
    "text",
    [
        # a duration shares the clock's shape
        "date,duration,v\n2024-03-01,0:45,1\n2024-03-02,1:30,2\n",
        # a time of day missing in one row: not every row can have its own time
        "date,time,v\n2024-03-01,08:00,1\n2024-03-02,,2\n",
        # not a clock time in every row
        "date,time,v\n2024-03-01,08:00,1\n2024-03-02,late,2\n",
    ],
)
def test_dates_stay_dates_when_no_column_surely_holds_their_time_of_day(
    tmp_path: Path, text: str
) -> None:
    result = validate_csv(tmp_path, text)
    assert times(result) == [utc(2024, 3, 1), utc(2024, 3, 2)]
    assert result.time_facts.time_of_day is None


def test_full_timestamps_take_no_time_of_day_from_elsewhere(tmp_path: Path) -> None:
    text = "ts,local_time\n2024-03-01T10:00:00Z,11:00\n2024-03-02T10:00:00Z,11:00\n"
    result = validate_csv(tmp_path, text)
    assert times(result) == [utc(2024, 3, 1, 10), utc(2024, 3, 2, 10)]
    assert result.time_facts.time_of_day is None


def test_a_parquet_date_and_time_of_day_are_one_time(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "day": [date(2024, 3, 1), date(2024, 3, 1), date(2024, 3, 2)],
            "time": [time(9, 15), time(17, 40, 5, 250_000), time(0, 0)],
            "v": [1, 2, 3],
        }
    )
    path = tmp_path / "typed.parquet"
    frame.write_parquet(path)
    parsed = read_frame(path, "uploads/ds/typed.parquet")
    result = validate(parsed.frame, "uploads/ds/typed.parquet", "ds", None)
    assert times(result) == [
        utc(2024, 3, 1, 9, 15),
        utc(2024, 3, 1, 17, 40, 5, 250_000),
        utc(2024, 3, 2),
    ]
    assert result.time_facts.time_of_day == TimeOfDay("time", 3, "time")


def test_a_date_and_an_hour_0_to_23_are_one_time(tmp_path: Path) -> None:
    lines = ["date,hour,load_mw"] + [
        f"2024-03-0{1 + h // 24},{h % 24},{100 + h}" for h in range(48)
    ]
    result = validate_csv(tmp_path, "\n".join(lines) + "\n")
    assert times(result) == [utc(2024, 3, 1) + timedelta(hours=h) for h in range(48)]
    assert result.time_facts.time_of_day == TimeOfDay("hour", 48, "hour")


def test_hours_1_to_24_are_not_guessed_and_the_check_says_so(tmp_path: Path) -> None:
    # energy markets count the hour ending: 24 is the last hour of the day, or the next midnight
    lines = ["date,Hour,price"] + [f"2024-03-01,{h},{h * 2}" for h in range(1, 25)]
    result = validate_csv(tmp_path, "\n".join(lines) + "\n")
    assert set(times(result)) == {utc(2024, 3, 1)}
    assert result.time_facts.time_of_day is None
    assert result.time_facts.hours_ending_untaken == ("Hour",)
    assert any("'Hour' holds hours 1..24" in w for w in result.warnings)


def test_an_integer_column_not_named_like_the_hour_is_no_time_of_day(tmp_path: Path) -> None:
    lines = ["date,count"] + [f"2024-03-01,{h}" for h in range(24)]
    result = validate_csv(tmp_path, "\n".join(lines) + "\n")
    assert set(times(result)) == {utc(2024, 3, 1)}
    assert result.time_facts == replace(
        result.time_facts, time_of_day=None, hours_ending_untaken=()
    )
