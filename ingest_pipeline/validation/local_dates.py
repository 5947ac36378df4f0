"""Day-month-year and month-day-year text (31.01.2024, 1/31/2024 1:05 PM, 03/01/2024 12:00 AM),
as spreadsheets export it: the order is decided for the whole column by its values
(`local_date_order`), then every value parses by that order (never one row one way, one the
other)."""

from __future__ import annotations

from typing import Final

import polars as pl

from ingest_pipeline.validation.stats import ColumnStats, Stat
from ingest_pipeline.validation.time_reasons import (
    DateOrder,
    NotLocalDates,
    NotTime,
    UndecidedLocalDates,
)
from ingest_pipeline.validation.time_text import with_century

# Day-month-year or month-day-year text (31.01.2024, 1/31/2024 13:45, 03/01/2024 12:00 AM), as
# spreadsheets export it: the order is decided for the whole column by its values (a part above
# 12 is the day), then every value parses by that order (never one row one way, one the other).
# A year in 2 digits (1/31/24, Excel's US short date) is read as Excel reads it: 00..29 are
# 2000..2029, 30..99 are 1930..1999 (the report says so).
LOCAL_DATE_TEXT: Final = (
    r"^\s*(\d{1,2})[./-](\d{1,2})[./-]\d{2}(?:\d{2})?"
    r"(?:[ T]+(\d{1,2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)?\s*$"
)
_SHORT_YEAR: Final = r"^\s*\d{1,2}[./-]\d{1,2}[./-]\d{2}(?:[ T]|$)"
SHORT_YEARS_NOTE: Final = "2-digit years: 00..29 as 20xx, 30..99 as 19xx"
LOCAL_DATE_FIX: Final = (
    'say which in datasets.yaml: time_column: <name> and time_format: "%d/%m/%Y" (day first) or '
    '"%m/%d/%Y" (month first), with the file\'s separator and time part (e.g. " %H:%M")'
)


def local_date_stat_exprs(name: str) -> dict[Stat, pl.Expr]:
    """Whole-column counts `local_date_order` decides from."""
    column = pl.col(name)
    local = column.str.contains(LOCAL_DATE_TEXT)
    # The other regexes run only on the matching values (none, in most text columns).
    groups = column.filter(local).str.extract_groups(LOCAL_DATE_TEXT)
    return {
        Stat.LOCAL_LIKE: local.sum(),
        Stat.LOCAL_TIMED: groups.struct.field("3").is_not_null().sum(),
        Stat.LOCAL_FIRST_MAX: groups.struct.field("1").cast(pl.Int32).max(),
        Stat.LOCAL_SECOND_MAX: groups.struct.field("2").cast(pl.Int32).max(),
        Stat.LOCAL_FIRST_MIN: groups.struct.field("1").cast(pl.Int32).min(),
        Stat.LOCAL_SECOND_MIN: groups.struct.field("2").cast(pl.Int32).min(),
        Stat.LOCAL_SAMPLE: column.filter(local).max(),
        Stat.LOCAL_SHORT_YEARS: column.filter(local).str.contains(_SHORT_YEAR).sum(),
        Stat.LOCAL_DOTTED: column.filter(local).str.contains(r"^\s*\d{1,2}\.\d{1,2}\.").sum(),
    }


def local_date_order(stats: ColumnStats) -> DateOrder | NotTime:
    """The order of day and month the values decide, else why they decide neither."""
    first, second = stats.local_first_max or 0, stats.local_second_max or 0
    if first > 12 and second <= 12:
        return DateOrder.DAY_FIRST
    if second > 12 and first <= 12:
        return DateOrder.MONTH_FIRST
    if first > 12:
        return NotLocalDates()
    if stats.local_dotted and stats.local_dotted == stats.local_like:
        # 01.03.2024: nobody writes the month first with dots (German, Russian, Polish, Turkish,
        # Scandinavian dates are day first; the US writes 03/01/2024)
        return DateOrder.DAY_FIRST_BY_DOTS
    # Monthly figures stamped on the 1st (FRED's 1/1/1985, 2/1/1985): the part always 1 is the
    # day, when the other goes through at least 3 months (one date alone says nothing).
    first_min, second_min = stats.local_first_min or 0, stats.local_second_min or 0
    if second_min == second == 1 and first >= 3 and first_min < first:
        return DateOrder.MONTH_FIRST_BY_FIRSTS
    if first_min == first == 1 and second >= 3 and second_min < second:
        return DateOrder.DAY_FIRST_BY_FIRSTS
    return UndecidedLocalDates(stats.local_sample or "")


_LOCAL_TIME_FORMATS = ("", " %H:%M", " %H:%M:%S%.f", " %I:%M %p", " %I:%M:%S %p")


def local_time_expr(values: pl.Expr, day_first: bool) -> pl.Expr:
    """Day-month-year or month-day-year text (see LOCAL_DATE_TEXT) in the column's order."""
    text = (
        values.str.strip_chars()
        .str.to_uppercase()
        .pipe(with_century, r"^(\d{1,2}[./-]\d{1,2}[./-])", r"([ T]|$)")
        .str.replace(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})[ T]*", "${1}/${2}/${3} ")
        .str.replace(r"\s*([AP]M)$", " ${1}")
        .str.strip_chars()
    )
    date = "%d/%m/%Y" if day_first else "%m/%d/%Y"
    parsed = [
        text.str.strptime(pl.Datetime("ms"), date + clock, strict=False)
        for clock in _LOCAL_TIME_FORMATS
    ]
    # 2 digits of a year were made 4 above: chrono's %Y takes 2/1/24 as the year 24
    shaped = values.str.contains(LOCAL_DATE_TEXT)
    return pl.when(shaped).then(pl.coalesce(parsed)).dt.replace_time_zone("UTC")
