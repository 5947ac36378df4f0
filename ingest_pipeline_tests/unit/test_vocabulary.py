"""The shared words: one map of Druid types, one list of extensions, Druid's time text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest_pipeline.vocabulary import (
    CONSTANT_TIME,
    CONSTANT_TIME_ISO,
    CSV_EXTENSIONS,
    DATA_EXTENSIONS,
    DRUID_TO_SQL_TYPE,
    GZIP_EXTENSIONS,
    SEGMENT_GRANULARITIES,
    SQL_TO_DRUID_TYPE,
    TAB_SEPARATED_EXTENSIONS,
    iso_utc,
)


def test_sql_types_map_both_ways() -> None:
    assert SQL_TO_DRUID_TYPE == {
        "VARCHAR": "string",
        "BIGINT": "long",
        "DOUBLE": "double",
        "FLOAT": "float",
    }
    assert {SQL_TO_DRUID_TYPE[sql]: sql for sql in SQL_TO_DRUID_TYPE} == dict(DRUID_TO_SQL_TYPE)


def test_extensions_are_lower_case_dotted_and_not_shared_between_formats() -> None:
    every = [*DATA_EXTENSIONS, *GZIP_EXTENSIONS]
    assert all(e.startswith(".") and e == e.lower() for e in every)
    assert len(set(every)) == len(every)
    assert set(TAB_SEPARATED_EXTENSIONS) <= set(CSV_EXTENSIONS)


def test_granularities_run_from_finest_to_coarsest() -> None:
    assert SEGMENT_GRANULARITIES == ("HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "ALL")


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (CONSTANT_TIME, CONSTANT_TIME_ISO),
        (datetime(2024, 1, 2, 3, 4, 5, 678_999), "2024-01-02T03:04:05.678Z"),  # naive is UTC
        (datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))), "2023-12-31T23:00:00.000Z"),
        (datetime(999, 1, 1, tzinfo=UTC), "0999-01-01T00:00:00.000Z"),  # zero-padded year
    ],
)
def test_iso_utc(ts: datetime, text: str) -> None:
    assert iso_utc(ts) == text


def test_the_constant_time() -> None:
    assert CONSTANT_TIME_ISO == "2000-01-01T00:00:00.000Z"
