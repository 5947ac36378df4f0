"""Time in every common text shape, recognised over the whole column by its values (issue #23):
month names, RFC 2822, yyyymmdd integers, ISO with a space, fractions and offsets.

Every expected instant is computed here with the standard library (strftime of a known
datetime, `email.utils.format_datetime` for RFC 2822), never by the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.vocabulary import CONSTANT_TIME, TIME_COLUMN, FileRejected
from ingest_pipeline_tests.unit.validation.helpers import (
    assert_streams_the_same,
    lines_to_text,
    read_csv_text,
    validate_csv,
)

# 40 instants over two years: days above 12, every month, single-digit days and hours.
INSTANTS = [
    datetime(2023, 1, 1, 0, 0, tzinfo=UTC) + timedelta(days=17 * i, hours=7 * i, minutes=13 * i)
    for i in range(40)
]
DAYS = [datetime(t.year, t.month, t.day, tzinfo=UTC) for t in INSTANTS]
MINUTES = [t.replace(second=0) for t in INSTANTS]


def _month_day_year(t: datetime) -> str:
    return f"{t:%b} {t.day} {t.year}"  # Jan 1 2000


def _day_mon_year(t: datetime) -> str:
    return f"{t:%d-%b-%Y}"  # 01-Jan-2024


def _long_month(t: datetime) -> str:
    return f"{t:%B} {t.day}, {t.year}"  # January 5, 2024


def _day_month_clock(t: datetime) -> str:
    return f"{t.day} {t:%b %Y %H:%M}"  # 5 Jan 2024 13:45


def _slashed_iso(t: datetime) -> str:
    return f"{t:%Y/%m/%d %H:%M:%S}"  # 2024/01/05 13:45:00


def _upper_month(t: datetime) -> str:
    return f"{t:%B}".upper() + f" {t.day}, {t.year}"  # JANUARY 5, 2024


def _lower_abbreviation(t: datetime) -> str:
    return f"{t:%b}".lower() + f" {t.day} {t.year}"  # jan 5 2024


def _month_clock_12h(t: datetime) -> str:
    hour = t.hour % 12 or 12
    return f"{t:%b} {t.day}, {t.year} {hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


# Offsets from -05:00 to +05:30: the text shows local time, the instant is the same.
OFFSETS = [timezone(timedelta(hours=h, minutes=30 * (h % 2))) for h in (-5, 0, 1, 5)]


def _rfc_2822(t: datetime, i: int) -> str:
    return format_datetime(t.astimezone(OFFSETS[i % len(OFFSETS)]))  # Fri, 05 Jan 2024 ...


def _iso_space_fraction_offset(t: datetime, i: int) -> str:
    local = (t + timedelta(milliseconds=125 * i)).astimezone(OFFSETS[i % len(OFFSETS)])
    return local.isoformat(sep=" ", timespec="milliseconds")  # 2024-01-05 13:45:00.125+01:00


def _each(shape: Callable[[datetime], str]) -> Callable[[datetime, int], str]:
    return lambda t, _: shape(t)


# (shape, the values, the exact instants, kind, format in the report)
FORMATS = {
    "Jan 1 2000": (_each(_month_day_year), DAYS, "dates only", "English month names"),
    "01-Jan-2024": (_each(_day_mon_year), DAYS, "dates only", "English month names"),
    "January 5, 2024": (_each(_long_month), DAYS, "dates only", "English month names"),
    "5 Jan 2024 13:45": (_each(_day_month_clock), MINUTES, "timestamps", "English month names"),
    "2024/01/05 13:45:00": (_each(_slashed_iso), INSTANTS, "timestamps", "ISO 8601"),
    "JANUARY 5, 2024": (_each(_upper_month), DAYS, "dates only", "English month names"),
    "jan 5 2024": (_each(_lower_abbreviation), DAYS, "dates only", "English month names"),
    "Jan 5, 2024 1:05 PM": (_each(_month_clock_12h), MINUTES, "timestamps", "month names"),
    "RFC 2822": (_rfc_2822, INSTANTS, "timestamps", "English month names"),
    "ISO space fraction offset": (
        _iso_space_fraction_offset,
        [t + timedelta(milliseconds=125 * i) for i, t in enumerate(INSTANTS)],
        "timestamps",
        "ISO 8601",
    ),
}


@pytest.mark.parametrize("shape", FORMATS, ids=list(FORMATS))
def test_each_format_is_chosen_by_its_values_and_parses_to_the_exact_instant(
    tmp_path: Path, shape: str
) -> None:
    write, expected, kind, fmt = FORMATS[shape]
    lines = ["id,recorded,note"]  # a neutral name: the values decide
    lines += [f'{i},"{write(t, i)}",n{i % 3}' for i, t in enumerate(INSTANTS)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "recorded"
    assert result.frame[TIME_COLUMN].to_list() == expected
    assert result.rejected == []
    chosen = result.report[TIME_COLUMN]["candidates"][0]
    assert chosen["column"] == "recorded" and chosen["verdict"] == "chosen"
    assert chosen["reason"] == f"{kind}: 40 of 40 values parse"
    assert fmt in chosen["format"]
    assert result.frame["recorded"][0] == write(INSTANTS[0], 0)  # the text stays a dimension
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


def test_rfc_2822_offsets_are_applied(tmp_path: Path) -> None:
    text = (
        "sent,subject\n"
        '"Fri, 05 Jan 2024 13:45:00 +0000",a\n'
        '"Fri, 05 Jan 2024 08:45:00 -0500",b\n'
        '"Fri, 5 Jan 2024 19:15:30 +0530",c\n'
        '"Sat, 06 Jan 2024 00:45:00 +1100",d\n'
        '"Fri, 05 Jan 2024 13:45:00 GMT",e\n'
    )
    result = validate_csv(tmp_path, text)
    expected = datetime(2024, 1, 5, 13, 45, tzinfo=UTC)
    assert result.time_column == "sent"
    assert result.frame[TIME_COLUMN].to_list() == [
        expected,
        expected,
        expected + timedelta(seconds=30),
        expected,
        expected,
    ]


# --------------------------------------------------------------------------- the stock table


def _stock_table() -> tuple[str, list[datetime]]:
    """symbol,date,price as the public stock-price table has it: 5 symbols x 112 months."""
    months = [date(2000 + m // 12, m % 12 + 1, 1) for m in range(112)]
    lines, times = ["symbol,date,price"], []
    for s, symbol in enumerate(["MSFT", "AMZN", "IBM", "GOOG", "AAPL"]):
        for m, day in enumerate(months):
            lines.append(f"{symbol},{day:%b} {day.day} {day.year},{10 + s * 7 + m * 0.25:.2f}")
            times.append(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return lines_to_text(lines), times


def test_the_stock_price_table_gets_each_row_its_month_not_the_constant_time(
    tmp_path: Path,
) -> None:
    text, expected = _stock_table()
    result = validate_csv(tmp_path, text)
    assert result.row_count == 560
    assert result.time_column == "date"
    assert result.frame[TIME_COLUMN].to_list() == expected
    assert (result.time_min, result.time_max) == (
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2009, 4, 1, tzinfo=UTC),
    )
    # (the constant time is 2000-01-01 too: that is why every row at it went unnoticed)
    assert result.frame[TIME_COLUMN].n_unique() == 112
    assert not any("no time column found" in w for w in result.warnings)
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, text), None, batch_rows=100)


# --------------------------------------------------------------------------- several columns


def test_of_several_time_like_columns_the_timestamps_win_and_the_dates_are_reported(
    tmp_path: Path,
) -> None:
    lines = ["order,shipped,created,qty"]
    lines += [f'{i},{_day_mon_year(t)},"{_month_clock_12h(t)}",{i}' for i, t in enumerate(INSTANTS)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "created"
    assert result.frame[TIME_COLUMN].to_list() == MINUTES
    entries = {e["column"]: e for e in result.report[TIME_COLUMN]["candidates"]}
    assert entries["shipped"]["verdict"] == "lost"
    assert "dates only" in entries["shipped"]["reason"]
    (unused,) = result.time_facts.unused
    assert (unused.column, unused.parsed, unused.values, unused.chosen) == (
        "shipped",
        40,
        40,
        "created",
    )
    assert "month names" in unused.format


# --------------------------------------------------------------------------- nulls, a year


def test_nulls_after_row_100_neither_break_the_read_nor_the_times(tmp_path: Path) -> None:
    days = [date(2021, 1, 1) + timedelta(days=i) for i in range(300)]
    lines = ["when,price"] + [
        f"{d:%d %B %Y},{'' if i >= 100 else f'{i}.5'}" for i, d in enumerate(days)
    ]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "when"
    assert result.frame[TIME_COLUMN].to_list() == [
        datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days
    ]
    assert result.schema == [("when", "string"), ("price", "double")]
    assert result.frame["price"].null_count() == 200


def test_time_values_missing_after_row_100_are_rejected_rows_by_line(tmp_path: Path) -> None:
    days = [date(2021, 1, 1) + timedelta(days=i) for i in range(150)]
    lines = ["when,n"]
    lines += [f'"{f"{d:%b} {d.day}, {d.year}" if i < 100 else ""}",{i}' for i, d in enumerate(days)]
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, lines_to_text(lines))
    assert caught.value.row == 102  # header on line 1, row 100 (0-based) on line 102
    result = validate_csv(tmp_path, lines_to_text(lines), DatasetConfig(max_rejected_share=0.5))
    assert result.time_column == "when"
    assert result.row_count == 100
    assert result.rejected[0] == (102, "missing time value in column 'when'")
    assert len(result.rejected) == 50
    assert result.frame[TIME_COLUMN].to_list() == [
        datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days[:100]
    ]


def test_a_year_of_hourly_rows_streams_to_exact_instants(tmp_path: Path) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(366 * 24)]  # 2024 is a leap year
    lines = ["reading,kw"] + [f"{_day_month_clock(t)},{h % 97}" for h, t in enumerate(hours)]
    parsed = read_csv_text(tmp_path, lines_to_text(lines))
    summary = assert_streams_the_same(tmp_path, parsed, None, batch_rows=1000)
    assert summary is not None
    assert summary.time_column == "reading" and summary.row_count == 8784
    assert (summary.time_min, summary.time_max) == (start, datetime(2024, 12, 31, 23, tzinfo=UTC))
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.frame[TIME_COLUMN].to_list() == hours


# --------------------------------------------------------------------------- yyyymmdd


def test_yyyymmdd_integers_are_dates_and_an_8_digit_id_column_is_not(tmp_path: Path) -> None:
    days = [date(2023, 11, 20) + timedelta(days=3 * i) for i in range(30)]
    ids = [date(2023, 1, 1) + timedelta(days=i) for i in range(30)]  # valid dates, but ids
    lines = ["order_id,day,amount"] + [
        f"{i:%Y%m%d},{d:%Y%m%d},{n}" for n, (i, d) in enumerate(zip(ids, days, strict=True))
    ]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "day"
    assert result.frame[TIME_COLUMN].to_list() == [
        datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days
    ]
    entries = {e["column"]: e for e in result.report[TIME_COLUMN]["candidates"]}
    assert "identifier" in entries["order_id"]["reason"]
    assert result.frame["order_id"].to_list() == [int(f"{i:%Y%m%d}") for i in ids]


@pytest.mark.parametrize(
    ("header", "values", "why"),
    [
        ("date_code", [20240105 + i for i in range(20)], "identifier"),  # an id/code name
        ("batch_date", [18500101 + i for i in range(20)], "outside 1971..2099"),  # before 1900
        ("lot_date", [20240105, 20241332] * 10, "10 are no yyyymmdd date"),  # month 13
    ],
)
def test_8_digit_numbers_that_are_not_all_plausible_dates_are_no_time(
    tmp_path: Path, header: str, values: list[int], why: str
) -> None:
    lines = [f"{header},qty"] + [f"{v},{i}" for i, v in enumerate(values)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column is None
    assert result.frame[TIME_COLUMN].unique().to_list() == [CONSTANT_TIME]
    (entry,) = result.report[TIME_COLUMN]["candidates"]  # listed: named like a time
    assert entry["column"] == header and entry["verdict"] == "not a time"
    assert why in entry["reason"], entry


# --------------------------------------------------------------------------- partly parsing


def test_month_name_dates_that_partly_fail_are_treated_like_iso_text(tmp_path: Path) -> None:
    """As with ISO text today: chosen if most values parse; the others are rejected rows
    (the whole file unless the dataset allows that share)."""
    values = ["Jan 3 2024", "Feb 30 2024", "Mar 5 2024", "soon", "", "April 7 2024"]
    lines = ["due,v"] + [f"{v},{i}" for i, v in enumerate(values)]
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, lines_to_text(lines))
    assert caught.value.row == 3
    assert "unparseable time 'Feb 30 2024' in column 'due'" in str(caught.value)
    config = DatasetConfig(max_rejected_share=0.5)
    result = validate_csv(tmp_path, lines_to_text(lines), config)
    assert result.time_column == "due"
    assert result.rejected == [
        (3, "unparseable time 'Feb 30 2024' in column 'due'"),
        (5, "unparseable time 'soon' in column 'due'"),
        (6, "missing time value in column 'due'"),
    ]
    assert result.frame[TIME_COLUMN].to_list() == [
        datetime(2024, 1, 3, tzinfo=UTC),
        datetime(2024, 3, 5, tzinfo=UTC),
        datetime(2024, 4, 7, tzinfo=UTC),
    ]
    assert result.frame["v"].to_list() == [0, 2, 5]


def test_a_column_where_fewer_than_half_parse_is_no_time(tmp_path: Path) -> None:
    values = ["Jan 3 2024", "soon", "later", "never", "Feb 4 2024", "tbd"]
    lines = ["date,v"] + [f"{v},{i}" for i, v in enumerate(values)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column is None
    entries = {e["column"]: e for e in result.report[TIME_COLUMN]["candidates"]}
    assert entries["date"]["reason"] == (
        "text, not times: 2 of 6 values start with a date (yyyy-mm-dd, or with an English "
        "month name)"
    )


def test_a_configured_column_of_month_name_dates_parses_without_a_format(tmp_path: Path) -> None:
    text, expected = _stock_table()
    result = validate_csv(tmp_path, text, DatasetConfig(time_column="date"))
    assert result.time_column == "date"
    assert result.frame[TIME_COLUMN].to_list() == expected
    assert result.time_facts.unused == () and result.time_facts.constant is None


# (abbreviation, its offset): written the way logs write local time with a zone name
ZONES = [("CET", 1), ("CEST", 2), ("EST", -5), ("PDT", -7), ("JST", 9), ("utc", 0)]


def test_zone_abbreviations_of_one_meaning_are_applied(tmp_path: Path) -> None:
    lines = ["id,logged,v"]
    for i, t in enumerate(INSTANTS):
        name, hours = ZONES[i % len(ZONES)]
        local = t.astimezone(timezone(timedelta(hours=hours)))
        lines.append(f"{i},{local:%Y-%m-%d %H:%M:%S} {name},{i}")
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "logged"
    assert result.frame[TIME_COLUMN].to_list() == INSTANTS
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


def test_an_ambiguous_zone_abbreviation_is_not_guessed(tmp_path: Path) -> None:
    # CST is US Central (-06:00) or China (+08:00): no time rather than one 14 hours off
    lines = ["id,logged,v"] + [f"{i},2024-01-05 13:45:00 CST,{i}" for i in range(20)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column is None
    assert set(result.frame[TIME_COLUMN].to_list()) == {CONSTANT_TIME}


def test_a_month_alone_is_its_first_day(tmp_path: Path) -> None:
    months = [(2021 + i // 12, 1 + i % 12) for i in range(36)]
    lines = ["period,revenue"] + [
        f"{y}{'-' if i % 2 else '/'}{m:02d},{i * 100}" for i, (y, m) in enumerate(months)
    ]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "period"
    assert result.frame[TIME_COLUMN].to_list() == [datetime(y, m, 1, tzinfo=UTC) for y, m in months]
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


def test_codes_shaped_like_a_month_outside_1900_to_2099_are_no_time(tmp_path: Path) -> None:
    lines = ["code,v"] + [f"{1000 + i}-{1 + i % 12:02d},{i}" for i in range(30)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1/31/24", datetime(2024, 1, 31, tzinfo=UTC)),
        ("12/1/99 13:45", datetime(1999, 12, 1, 13, 45, tzinfo=UTC)),
        ("7/4/29 1:05 PM", datetime(2029, 7, 4, 13, 5, tzinfo=UTC)),
        ("7/4/30", datetime(1930, 7, 4, tzinfo=UTC)),
        ("3/15/2024", datetime(2024, 3, 15, tzinfo=UTC)),  # 4 digits beside 2: as written
    ],
)
def test_a_year_in_2_digits_is_read_as_excel_reads_it_and_said(
    tmp_path: Path, text: str, expected: datetime
) -> None:
    # Excel's US short date (1/31/24): 00..29 are 20xx, 30..99 are 19xx; never the year 24
    lines = ["when,v", "12/25/23,0", f"{text},1", "1/2/24,2"]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.frame[TIME_COLUMN].to_list()[1] == expected
    (chosen,) = [c for c in result.report[TIME_COLUMN]["candidates"] if c["column"] == "when"]
    assert "month first, 2-digit years: 00..29 as 20xx, 30..99 as 19xx" in chosen["reason"]
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


def test_day_first_dates_with_2_digit_years(tmp_path: Path) -> None:
    lines = ["Datum;Wert", "31.12.23;1", "01.02.24 14:30;2"]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.frame[TIME_COLUMN].to_list() == [
        datetime(2023, 12, 31, tzinfo=UTC),
        datetime(2024, 2, 1, 14, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize("late", ["24-02-01", "124-02-01"])
def test_a_year_not_in_4_digits_is_no_time_not_the_year_24(tmp_path: Path, late: str) -> None:
    # (chrono's %Y reads "24" as the year 24: those rows were ingested 2000 years early)
    shape = "2024-{m:02d}-{d:02d}"
    lines = ["when,v"] + [f"{shape.format(m=1, d=10 + i)},{i}" for i in range(9)] + [f"{late},9"]
    with pytest.raises(FileRejected, match=f"line 11: unparseable time '{late}' in column 'when'"):
        validate_csv(tmp_path, lines_to_text(lines))


@pytest.mark.parametrize(
    ("text", "first_day"),
    [
        ("2024-Q1", (2024, 1)),
        ("2024Q2", (2024, 4)),
        ("2024 q3", (2024, 7)),
        ("Q4 2023", (2023, 10)),
        ("q1-1999", (1999, 1)),
    ],
)
def test_a_quarter_is_its_first_day(tmp_path: Path, text: str, first_day: tuple[int, int]) -> None:
    # quarterly figures: before, no time column, so every row got the constant time
    lines = ["period,revenue", "2023-Q4,1", f"{text},2", "Q1 2024,3"]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "period"
    year, month = first_day
    assert result.frame[TIME_COLUMN].to_list()[1] == datetime(year, month, 1, tzinfo=UTC)
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


@pytest.mark.parametrize("code", ["Q5 2024", "2024-Q0", "1850-Q1", "Q12024X"])
def test_codes_shaped_almost_like_a_quarter_are_no_time(tmp_path: Path, code: str) -> None:
    lines = ["code,v"] + [f"{code},{i}" for i in range(5)]
    assert validate_csv(tmp_path, lines_to_text(lines)).time_column is None


@pytest.mark.parametrize(
    ("text", "expected", "short"),
    [
        ("2024-3-1", datetime(2024, 3, 1, tzinfo=UTC), False),  # ISO without its zeros
        ("2024/3/9 7:05", datetime(2024, 3, 9, 7, 5, tzinfo=UTC), False),
        ("2024.03.09 07:05", datetime(2024, 3, 9, 7, 5, tzinfo=UTC), False),  # dotted
        ("March 2024", datetime(2024, 3, 1, tzinfo=UTC), False),  # a month and its year
        ("Mar. 2024", datetime(2024, 3, 1, tzinfo=UTC), False),
        ("Sep-24", datetime(2024, 9, 1, tzinfo=UTC), True),  # Excel's mmm-yy
        ("Dec/99", datetime(1999, 12, 1, tzinfo=UTC), True),
        ("05-Mar-24", datetime(2024, 3, 5, tzinfo=UTC), True),  # Oracle's DD-MON-YY
        ("5 MAR 31 13:45", datetime(1931, 3, 5, 13, 45, tzinfo=UTC), True),
    ],
)
def test_more_shapes_of_dates_read_without_a_time_format(
    tmp_path: Path, text: str, expected: datetime, short: bool
) -> None:
    lines = ["when,v", f"{text},1", f"{text},2"]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.time_column == "when"
    assert result.frame[TIME_COLUMN].to_list() == [expected, expected]
    (chosen,) = result.report[TIME_COLUMN]["candidates"]
    assert ("2-digit years: 00..29 as 20xx, 30..99 as 19xx" in chosen["reason"]) is short
    assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)


def test_dotted_numbers_without_a_date_s_zeros_are_versions_not_dates(tmp_path: Path) -> None:
    lines = ["version,v", "2024.1.2,1", "2024.1.3,2"]
    assert validate_csv(tmp_path, lines_to_text(lines)).time_column is None


def test_a_month_name_and_2_digits_after_a_space_are_no_month_and_year(tmp_path: Path) -> None:
    # "Mar 24" is more likely the 24th of March (of no year) than March 2024
    lines = ["when,v", "Mar 24,1", "Apr 2,2"]
    assert validate_csv(tmp_path, lines_to_text(lines)).time_column is None
