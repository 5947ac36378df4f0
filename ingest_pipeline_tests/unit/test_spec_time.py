"""Time chunks of specs: granularity choice, chunk counts, interval covers and merges."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest_pipeline.spec import (
    ETERNITY,
    choose_segment_granularity,
    count_time_chunks,
    granularity_of_interval,
    interval_cover,
    interval_span,
    merge_intervals,
)


@pytest.mark.parametrize(
    ("hours", "rows", "expected"),
    [
        (0, 10, "YEAR"),  # tiny data: one coarse chunk that later files fill
        (47, 10, "YEAR"),  # 10 rows over two days: one YEAR chunk, not 48 HOUR ones
        (47, 48_000_000, "HOUR"),  # a million rows an hour
        (24 * 365 - 1, 26_000, "YEAR"),  # a year of hourly rows: not 365 DAY segments
        (24 * 365 - 1, 365_000_000, "DAY"),
        (24 * 365 - 1, 12_000_000, "MONTH"),
        (24 * 366 * 11, 5_000_000, "YEAR"),
        # small data over several years: one ALL chunk, not a YEAR segment of a few rows each
        (24 * 365 * 17, 51, "ALL"),  # 51 rows over 17 years (was 17 segments of 3 rows)
        (24 * 366 * 10 + 24, 120, "ALL"),  # 120 rows over 10 years (was 10 segments)
        (24 * 365 * 2, 1_999, "ALL"),  # just under 1,000 rows per year over two year chunks
        (24 * 365 * 2, 2_000, "YEAR"),  # exactly 1,000 rows per year: YEAR segments
        (24 * 365 * 2, 3_000, "YEAR"),  # 1,000 rows or more per year: YEAR segments
    ],
)
def test_choose_segment_granularity(hours: int, rows: int, expected: str) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime.fromtimestamp(start.timestamp() + hours * 3600, UTC)
    assert choose_segment_granularity(start, end, rows) == expected


@pytest.mark.parametrize(
    ("start", "end", "granularity", "chunks"),
    [
        (datetime(2024, 1, 1, 0, 30), datetime(2024, 1, 1, 0, 40), "HOUR", 1),
        (datetime(2024, 1, 1, 0, 30), datetime(2024, 1, 1, 2, 0), "HOUR", 3),
        (datetime(2024, 1, 1), datetime(2024, 12, 31, 23), "DAY", 366),
        (datetime(2024, 1, 31), datetime(2024, 3, 1), "MONTH", 3),
        (datetime(2023, 12, 31), datetime(2024, 1, 1), "YEAR", 2),
        (datetime(1900, 1, 1), datetime(2200, 12, 31), "YEAR", 301),
        (datetime(2024, 2, 1), datetime(2024, 6, 30), "QUARTER", 2),
        (datetime(2024, 1, 1), datetime(2024, 1, 15), "WEEK", 3),  # Mondays 2024-01-01, 08, 15
        (datetime(1900, 1, 1), datetime(2200, 12, 31), "ALL", 1),
    ],
)
def test_count_time_chunks(start: datetime, end: datetime, granularity: str, chunks: int) -> None:
    assert count_time_chunks(start, end, granularity) == chunks


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("HOUR", "2024-02-29T23:00:00.000Z/2024-03-01T01:00:00.000Z"),
        ("DAY", "2024-02-29T00:00:00.000Z/2024-03-02T00:00:00.000Z"),
        ("WEEK", "2024-02-26T00:00:00.000Z/2024-03-04T00:00:00.000Z"),
        ("MONTH", "2024-02-01T00:00:00.000Z/2024-04-01T00:00:00.000Z"),
        ("QUARTER", "2024-01-01T00:00:00.000Z/2024-04-01T00:00:00.000Z"),
        ("YEAR", "2024-01-01T00:00:00.000Z/2025-01-01T00:00:00.000Z"),
    ],
)
def test_interval_cover(granularity: str, expected: str) -> None:
    start = datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)
    end = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert interval_cover(start, end, granularity) == [expected]


def test_interval_cover_at_year_end_and_naive_input() -> None:
    assert interval_cover(datetime(2023, 12, 31, 23), datetime(2023, 12, 31, 23, 1), "MONTH") == [
        "2023-12-01T00:00:00.000Z/2024-01-01T00:00:00.000Z"
    ]


def test_merge_intervals() -> None:
    merged = merge_intervals(
        [
            "2024-03-01T00:00:00.000Z/2024-03-02T00:00:00.000Z",
            "2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z",
            "2024-03-02T00:00:00.000Z/2024-03-03T00:00:00.000Z",  # touches the first
        ]
    )
    assert merged == [
        "2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z",
        "2024-03-01T00:00:00.000Z/2024-03-03T00:00:00.000Z",
    ]
    assert merge_intervals([ETERNITY, "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"]) == [ETERNITY]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2024, 3, 1, 10), datetime(2024, 3, 1, 11), "HOUR"),
        (datetime(2024, 3, 1), datetime(2024, 3, 2), "DAY"),
        (datetime(2024, 3, 4), datetime(2024, 3, 11), "WEEK"),
        (datetime(2023, 2, 1), datetime(2023, 3, 1), "MONTH"),  # 28 days: the shortest month
        (datetime(2024, 2, 1), datetime(2024, 3, 1), "MONTH"),  # 29 days
        (datetime(2024, 1, 1), datetime(2024, 2, 1), "MONTH"),  # 31 days
        (datetime(2023, 1, 1), datetime(2023, 4, 1), "QUARTER"),  # 90 days
        (datetime(2023, 1, 1), datetime(2024, 1, 1), "YEAR"),  # 365 days
        (datetime(2024, 1, 1), datetime(2025, 1, 1), "YEAR"),  # 366 days
        (datetime(2024, 3, 1), datetime(2024, 3, 3), "ALL"),  # two days is no granularity
    ],
)
def test_granularity_of_an_existing_segment_interval(
    start: datetime, end: datetime, expected: str
) -> None:
    assert granularity_of_interval(start, end) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2024, 3, 1, 10), datetime(2024, 3, 1, 12)),  # two hours (a PT2H segment)
        (datetime(2024, 3, 1), datetime(2024, 3, 2, 1)),  # a day and an hour
        (datetime(2024, 3, 4), datetime(2024, 3, 11, 1)),  # a week and an hour
        (datetime(2024, 1, 1), datetime(2024, 2, 1, 1)),  # the longest month and an hour
        (datetime(2024, 1, 1), datetime(2024, 2, 2)),  # 32 days
        (datetime(2024, 7, 1), datetime(2024, 10, 1, 1)),  # the longest quarter and an hour
        (datetime(2023, 1, 1), datetime(2023, 3, 31)),  # 89 days: shorter than any quarter
        (datetime(2024, 1, 1), datetime(2025, 1, 1, 1)),  # a leap year and an hour
    ],
)
def test_a_segment_interval_just_longer_than_a_granularity_is_none_of_them(
    start: datetime, end: datetime
) -> None:
    # segments cut some other way are left alone: the datasource is treated as one ALL chunk
    assert granularity_of_interval(start, end) == "ALL"


def test_interval_span_is_the_first_and_the_last_microsecond_of_the_interval() -> None:
    assert interval_span("2024-03-01T00:00:00.000Z/2024-03-02T00:00:00.000Z") == (
        datetime(2024, 3, 1, tzinfo=UTC),
        datetime(2024, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("month", "quarter"),
    [
        (3, "2024-01-01T00:00:00.000Z/2024-04-01T00:00:00.000Z"),
        (4, "2024-04-01T00:00:00.000Z/2024-07-01T00:00:00.000Z"),
        (9, "2024-07-01T00:00:00.000Z/2024-10-01T00:00:00.000Z"),
        (10, "2024-10-01T00:00:00.000Z/2025-01-01T00:00:00.000Z"),
        (12, "2024-10-01T00:00:00.000Z/2025-01-01T00:00:00.000Z"),
    ],
)
def test_a_quarter_chunk_starts_in_january_april_july_or_october(month: int, quarter: str) -> None:
    day = datetime(2024, month, 15, 12, tzinfo=UTC)
    assert interval_cover(day, day, "QUARTER") == [quarter]


def test_naive_times_are_utc_and_aware_ones_converted_whatever_the_local_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "EST+5")  # the machine's local time: five hours behind UTC
    time.tzset()
    try:
        naive = datetime(2024, 3, 1, 23, 30)
        assert interval_cover(naive, naive, "HOUR") == [
            "2024-03-01T23:00:00.000Z/2024-03-02T00:00:00.000Z"
        ]
        # 01:30 at UTC+2 is 23:30 UTC the day before
        aware = datetime(2024, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))
        assert interval_cover(aware, aware, "DAY") == [
            "2024-03-01T00:00:00.000Z/2024-03-02T00:00:00.000Z"
        ]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_interval_inside_another_merges_into_it_and_leaves_the_others_alone() -> None:
    merged = merge_intervals(
        [
            "2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z",
            "2024-02-01T00:00:00.000Z/2024-02-02T00:00:00.000Z",
            "2024-03-01T00:00:00.000Z/2024-03-05T00:00:00.000Z",
            "2024-03-02T00:00:00.000Z/2024-03-03T00:00:00.000Z",  # inside the one before
        ]
    )
    assert merged == [
        "2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z/2024-02-02T00:00:00.000Z",
        "2024-03-01T00:00:00.000Z/2024-03-05T00:00:00.000Z",
    ]
