"""Excel's day numbers: a date column saved from a spreadsheet in the General format holds the
days since 1899-12-30 (45292 is 2024-01-01; a fraction is the time of day).

As epoch seconds they would all land in 1970's first day, silently. A column is taken as day
numbers only when its name says date (`date`, `order_date`, `OrderDate`, `datum`, `fecha`, `day`)
and every value falls in 1990..2040: Unix day numbers (19723 is 2024-01-01) stay below that range
until 2060, and a date-named count or id in it is unlikely. The report says so wherever it is
taken."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Final

import polars as pl

from ingest_pipeline.validation.stats import ColumnStats
from ingest_pipeline.validation.time_text import epoch_expr

#: Excel's day 0 (its day 60 is the 29th of February 1900 that never was: later days count on).
EXCEL_DAY_ZERO: Final = date(1899, 12, 30)
#: Excel's day 25569 is 1970-01-01, the Unix epoch.
_UNIX_EPOCH_DAY: Final = 25569
_SECONDS_PER_DAY: Final = 86_400
#: The day numbers taken without a word from the user: 1990-01-01 .. 2040-12-31.
EXCEL_DAYS_PLAUSIBLE: Final = (32874, 51501)
_DATE_NAME: Final = re.compile(r"(^|[^a-z])(date|dates|datum|fecha|day|dt)([^a-z]|$)")
_CAMEL_DATE: Final = re.compile(r"[a-z]Date")


def named_like_a_date(name: str) -> bool:
    return bool(_DATE_NAME.search(name.lower()) or _CAMEL_DATE.search(name))


def in_plausible_days(stats: ColumnStats) -> bool:
    low, high = stats.min, stats.max
    first, last = EXCEL_DAYS_PLAUSIBLE
    return low is not None and high is not None and first <= low <= high <= last


def excel_days_expr(values: pl.Expr) -> pl.Expr:
    """Excel day numbers (a fraction: the time of day) as UTC datetimes, to the second: a
    spreadsheet keeps times to the second, and its text has too few digits for less (6 decimals
    of a day are 86 ms)."""
    days = values.cast(pl.Float64, strict=False) - _UNIX_EPOCH_DAY
    return epoch_expr((days * _SECONDS_PER_DAY).round(0), False, "s")


def excel_day(number: float) -> str:
    """Excel's day `number` as the date it is (its time of day left out)."""
    return (EXCEL_DAY_ZERO + timedelta(days=int(number))).isoformat()
