"""Why numbers are a time column or not, from their statistics and their column's name: epoch
numbers in plausible years, yyyymmdd dates, Excel day numbers; or date parts, years, clock times,
identifiers and numbers far from any plausible epoch."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Final

from ingest_pipeline.validation.date_parts import PLAUSIBLE_YEARS
from ingest_pipeline.validation.excel_days import in_plausible_days, named_like_a_date
from ingest_pipeline.validation.stats import ColumnStats
from ingest_pipeline.validation.time_reasons import (
    ClockTimes,
    DatePart,
    IdentifierName,
    NonFinite,
    NotTime,
    OutOfEpochRange,
    Years,
)
from ingest_pipeline.validation.timing import epoch_unit_of, time_candidates

# Epoch numbers are a time only if every value falls in these years (in the unit the largest
# value implies): counts, ids, durations and clock times land in 1970 or far beyond 2100.
EPOCH_PLAUSIBLE_MS: Final = (31_536_000_000, 4_102_444_800_000)  # 1971-01-01 .. 2100-01-01
# Integers are read as yyyymmdd dates only in these years (1900..2099), all of them dates.
YYYYMMDD_PLAUSIBLE: Final = (1900_01_01, 2099_12_31)
_MS_PER_UNIT: Final[Mapping[str, float]] = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
IDENTIFIER_NAME = re.compile(r"(^|_)(id|ids|key|code|number|num|no|zip|zipcode|phone|count)$")
_DATE_PART_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "year": PLAUSIBLE_YEARS,
    "month": (1, 12),
    "day": (1, 31),
    "hour": (0, 24),
    "minute": (0, 60),
    "second": (0, 61),
    "week": (0, 53),
    "weekday": (0, 7),
    "dow": (0, 7),
    "quarter": (1, 4),
}
_DURATION_NAME = re.compile(
    r"(^|_)(delay|duration|elapsed|time|secs?|seconds|mins?|minutes|hours?|ms|millis|age)$"
)


def _in_years(ms: float) -> str:
    """An epoch in ms as a rough date (years far out of range are shown as a year)."""
    try:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).date().isoformat()
    except (OverflowError, ValueError):  # beyond datetime's years 1..9999, infinite or NaN
        return f"year {1970 + ms / 3.15576e10:.0f}" if math.isfinite(ms) else str(ms)


def epoch_span(low: float, high: float, unit: str) -> tuple[str, str]:
    return _in_years(float(low) * _MS_PER_UNIT[unit]), _in_years(float(high) * _MS_PER_UNIT[unit])


def _integer_reason(lowered: str, low: int, high: int, stats: ColumnStats) -> NotTime | None:
    """Why integers are date parts, years or clock times (None: none of these)."""
    time_named = bool(time_candidates([lowered]) or _DURATION_NAME.search(lowered))
    for part, (first, last) in _DATE_PART_RANGES.items():
        if (lowered == part or lowered.endswith("_" + part)) and first <= low <= high <= last:
            return DatePart(part, low, high)
    if PLAUSIBLE_YEARS[0] <= low <= high <= PLAUSIBLE_YEARS[1] and (
        "year" in lowered or not time_named
    ):
        return Years(low, high)
    # HHMM: no minute part of 60 or more, among enough values (or under a time name)
    if (
        0 <= low <= high <= 2400
        and high >= 100
        and stats.hhmm_bad == 0
        and (stats.n >= 50 or time_named)
    ):
        return ClockTimes(low, high)
    return None


def number_reason(name: str, stats: ColumnStats) -> NotTime | None:
    """Why numbers are no epoch times (None: they may be, in a plausible range)."""
    low, high = stats.min, stats.max
    assert low is not None and high is not None  # n > 0
    lowered = name.lower()
    if not (math.isfinite(low) and math.isfinite(high)):
        return NonFinite(low, high)
    if isinstance(low, int) and isinstance(high, int):
        reason = _integer_reason(lowered, low, high, stats)
        if reason is not None:
            return reason
    if IDENTIFIER_NAME.search(lowered):
        return IdentifierName()
    unit = epoch_unit_of(stats.max_abs)
    first_ms, last_ms = (float(v) * _MS_PER_UNIT[unit] for v in (low, high))
    if EPOCH_PLAUSIBLE_MS[0] <= first_ms <= last_ms < EPOCH_PLAUSIBLE_MS[1]:
        return None
    first, last = epoch_span(low, high, unit)
    return OutOfEpochRange(low, high, unit, first, last, bool(_DURATION_NAME.search(lowered)))


def may_be_yyyymmdd(name: str, stats: ColumnStats) -> bool:
    """Integers of 8 digits in the plausible years, not named like an identifier or a code
    (whether every one spells a date is counted in the second pass)."""
    low, high = stats.min, stats.max
    return (
        isinstance(low, int)
        and isinstance(high, int)
        and YYYYMMDD_PLAUSIBLE[0] <= low <= high <= YYYYMMDD_PLAUSIBLE[1]
        and not IDENTIFIER_NAME.search(name.lower())
    )


def may_be_excel_days(name: str, stats: ColumnStats) -> bool:
    """Numbers named like a date, not like an identifier, all of them days in 1990..2040 by
    Excel's count (see `excel_days`)."""
    return (
        named_like_a_date(name)
        and not IDENTIFIER_NAME.search(name.lower())
        and in_plausible_days(stats)
    )
