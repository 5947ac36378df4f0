"""Which reasons a column is not the time column still count as time-like: those columns get
a line in the report and the time_like_columns_used check (the others are left out)."""

from __future__ import annotations

import pytest

from ingest_pipeline.validation.time_reasons import (
    AllNull,
    ClockTimes,
    DatePart,
    IdentifierName,
    NonFinite,
    NotDateText,
    NotLocalDates,
    NotTime,
    NotYyyymmdd,
    OutOfEpochRange,
    TimeLike,
    TooFewParse,
    UndecidedLocalDates,
    UntimelyType,
    Years,
)


@pytest.mark.parametrize(
    ("reason", "time_like"),
    [
        (DatePart("month", 1, 12), True),
        (Years(1990, 2024), True),
        (ClockTimes(0, 2359), True),
        (IdentifierName(), True),
        (UndecidedLocalDates("03/01/2024"), True),
        (OutOfEpochRange(1.0, 90.0, "seconds", "1970", "1970", durations=True), True),
        (OutOfEpochRange(1.0, 9e15, "ms", "1970", "287396", durations=False), False),
        (AllNull(), False),
        (UntimelyType(), False),
        (NonFinite(0.0, float("inf")), False),
        (NotDateText(1, 10), False),
        (NotLocalDates(), False),
        (NotYyyymmdd(1, 99, 3), False),
        (TooFewParse(2, 10), False),
    ],
)
def test_a_reason_says_whether_its_column_looked_like_time(
    reason: NotTime, time_like: bool
) -> None:
    assert reason.time_like is time_like
    assert isinstance(reason, TimeLike) is (time_like and not isinstance(reason, OutOfEpochRange))
    assert reason.message()  # every kind makes its own sentence
