"""The time column: names that hint at it and how its values become UTC timestamps.

Which column it is, without a configured one, is decided by its values: see `time_scoring`;
the shapes of time text and their parsing are in `time_text`.

Time parsing is split in two so that a file can be parsed batch by batch with the same result
as in one piece: a *plan* holds what depends on the whole column (the epoch unit, from the
largest value; whether integers are yyyymmdd dates, from the range and a parse check), decided
from aggregations (`time_stat_exprs`) that run over a DataFrame or a streamed LazyFrame alike;
`time_expr` then parses each value on its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, Literal, NamedTuple

import polars as pl

from ingest_pipeline.findings import DateParts
from ingest_pipeline.validation.date_parts import PLAUSIBLE_YEARS, date_expr
from ingest_pipeline.validation.excel_days import excel_days_expr, in_plausible_days
from ingest_pipeline.validation.local_dates import (
    local_date_order,
    local_date_stat_exprs,
    local_time_expr,
)
from ingest_pipeline.validation.stats import ColumnStats, Stat
from ingest_pipeline.validation.time_reasons import DateOrder
from ingest_pipeline.validation.time_text import (
    UTC_MS,
    EpochUnit,
    epoch_expr,
    epoch_text,
    text_time_expr,
)

ISO_MS_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.3fZ"  # Polars (chrono) pattern for Druid's ISO form

# --------------------------------------------------------------------------- which column

# Names that hint at the time column (tie-breakers of `time_scoring`): exact names first (in
# priority order), then name shapes.
# `time_original` is what a user column called `__time` becomes: the strongest hint of all.
TIME_NAME_HINTS: Final[tuple[str, ...]] = (
    "time_original",
    "timestamp",
    "time",
    "datetime",
    "event_time",
    "event_timestamp",
    "ts",
    "date",
    "created_at",
    "created",
    "updated_at",
    "occurred_at",
    "dt",
)
_TIME_NAME_PATTERN = re.compile(r"(^|_)(time|timestamp|ts|date|datetime)$|_at$|^(date|time)_")
# An auto-detected candidate must parse for at least this share of its non-null values;
# otherwise a column named "date" holding free text would reject most of the file.
AUTO_DETECT_MIN_PARSE_SHARE: Final = 0.5


def time_candidates(columns: Sequence[str]) -> list[str]:
    """Columns named like a time column, most likely first (by name only)."""
    by_lower = {c.lower(): c for c in reversed(columns)}  # first column wins on clashes
    ordered = [by_lower[h] for h in TIME_NAME_HINTS if h in by_lower]
    ordered += [c for c in columns if _TIME_NAME_PATTERN.search(c.lower()) and c not in ordered]
    return ordered


# --------------------------------------------------------------------------- parsing


def epoch_unit(max_abs: float) -> EpochUnit:
    """The unit of epoch numbers whose largest magnitude is `max_abs`."""
    # Now is ~1.7e9 s = 1.7e12 ms = 1.7e15 us. 1e11 s is the year 5138 and 1e11 ms is 1973,
    # so magnitude separates the units for any realistic data.
    if max_abs < 1e11:
        return "s"
    if max_abs < 1e14:
        return "ms"
    if max_abs < 1e17:
        return "us"
    return "ns"


def epoch_unit_of(max_abs: Any) -> EpochUnit:
    return epoch_unit(float(max_abs) if isinstance(max_abs, int | float) else 0.0)


class TimePlan(NamedTuple):
    """How to parse one time column, decided from the whole column (see `time_plan`)."""

    how: Literal["epoch", "datetime", "date", "yyyymmdd", "year", "excel", "text", "local", "none"]
    unit: EpochUnit | None = None  # "epoch": the unit; "text": the unit of epoch-like text
    day_first: bool | None = None  # "local": dd.mm.yyyy (True) or mm/dd/yyyy (False)


def yyyymmdd_expr(name: str) -> pl.Expr:
    """Integers like 20240131 as the date they spell (null if they spell none)."""
    return text_time_expr(pl.col(name).cast(pl.String), "%Y%m%d", None)


def time_stat_exprs(name: str, dtype: pl.DataType, time_format: str | None) -> dict[Stat, pl.Expr]:
    """Whole-column aggregations `time_plan` needs to parse column `name` (maybe none)."""
    if time_format is not None or isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        return {}
    column = pl.col(name)
    if dtype.is_integer():
        return {
            Stat.MIN: column.min(),
            Stat.MAX: column.max(),
            Stat.NULLS: column.null_count(),
            Stat.YMD_NULLS: yyyymmdd_expr(name).null_count(),
            Stat.MAX_ABS: column.cast(pl.Float64, strict=False).abs().max(),
        }
    if dtype.is_numeric():
        return {
            Stat.MIN: column.min(),
            Stat.MAX: column.max(),
            Stat.MAX_ABS: column.cast(pl.Float64, strict=False).abs().max(),
        }
    if dtype == pl.String:
        # Stripping is all `_normalised_time_text` does to text that looks like an epoch
        # number (its other rewrites add "-", "T" or "+00:00"): the same values, 3 regexes less.
        epoch = epoch_text(column.str.strip_chars())
        stats = {Stat.MAX_ABS: epoch.cast(pl.Float64, strict=False).abs().max()}
        return stats | local_date_stat_exprs(name)
    return {}


def spells_yyyymmdd(stats: ColumnStats, low: int = 10000101, high: int = 99991231) -> bool:
    """Integers between `low` and `high` that all spell a yyyymmdd date."""
    return (
        isinstance(stats.min, int)
        and isinstance(stats.max, int)
        and low <= stats.min <= stats.max <= high
        and stats.ymd_nulls == stats.nulls
    )


def _are_years(stats: ColumnStats) -> bool:
    low, high = stats.min, stats.max
    first, last = PLAUSIBLE_YEARS
    return isinstance(low, int) and isinstance(high, int) and first <= low <= high <= last


def time_plan(dtype: pl.DataType, time_format: str | None, stats: ColumnStats) -> TimePlan:
    """How to parse a column of `dtype`, given the `time_stat_exprs` results over all of it."""
    if time_format in ("posix", "millis"):
        return TimePlan("epoch", "s" if time_format == "posix" else "ms")
    if isinstance(dtype, pl.Datetime):
        return TimePlan("datetime")
    if dtype == pl.Date:
        return TimePlan("date")
    # 20240131-style integers: as epoch seconds they would all land in 1970, silently.
    if dtype.is_integer() and time_format is None and spells_yyyymmdd(stats):
        return TimePlan("yyyymmdd")
    # Years (a configured `year` column): as epoch seconds they would all land in 1970's first
    # hour, silently.
    if dtype.is_integer() and time_format is None and _are_years(stats):
        return TimePlan("year")
    # Excel's day numbers (45292): as epoch seconds, 1970's first day
    if dtype.is_numeric() and time_format is None and in_plausible_days(stats):
        return TimePlan("excel")
    if dtype.is_numeric() and time_format is None:
        return TimePlan("epoch", epoch_unit_of(stats.max_abs))
    if dtype == pl.String and time_format is None and stats.local_like:
        # mostly dd.mm.yyyy / mm/dd/yyyy text whose values decide the order
        order = local_date_order(stats)
        share = AUTO_DETECT_MIN_PARSE_SHARE * stats.n
        if isinstance(order, DateOrder) and stats.local_like >= share:
            return TimePlan("local", day_first=order.day_first)
    if dtype == pl.String or dtype.is_numeric():
        return TimePlan("text", epoch_unit_of(stats.max_abs))
    return TimePlan("none")


def likely_plan(
    name: str, dtype: pl.DataType, time_format: str | None, configured: bool
) -> TimePlan | None:
    """`time_plan` guessed before any statistics, so that the pass gathering them can parse the
    column already (None: no guess worth a parse). Exact for typed times and a `time_format`;
    text (configured, or named like a time) is guessed to hold no epoch beyond seconds. The
    planner checks the guess against the real plan and parses again if it was wrong."""
    if time_format is not None or isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        return time_plan(dtype, time_format, ColumnStats())
    if dtype == pl.String and (configured or time_candidates([name])):
        return TimePlan("text", "s")
    return None


def time_expr(name: str, dtype: pl.DataType, time_format: str | None, plan: TimePlan) -> pl.Expr:
    """Column `name` parsed to UTC datetimes (ms) by `plan`; values that do not parse are null.

    Row-wise: a batch of the column parses exactly as the same rows of the whole column.
    """
    column = pl.col(name)
    if plan.how == "epoch":
        assert plan.unit is not None
        parsed = epoch_expr(column, dtype.is_integer(), plan.unit)
    elif plan.how == "datetime":
        assert isinstance(dtype, pl.Datetime)
        zoned = (
            column.dt.convert_time_zone("UTC")
            if dtype.time_zone
            else column.dt.replace_time_zone("UTC")
        )
        parsed = zoned.cast(UTC_MS)
    elif plan.how == "date":
        parsed = column.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    elif plan.how == "yyyymmdd":
        parsed = yyyymmdd_expr(name)
    elif plan.how == "year":
        parsed = date_expr(DateParts(name), {name: dtype}, UTC_MS)
    elif plan.how == "excel":
        parsed = excel_days_expr(column)
    elif plan.how == "text":
        parsed = text_time_expr(column.cast(pl.String), time_format, plan.unit)
    elif plan.how == "local":
        parsed = local_time_expr(column.cast(pl.String), bool(plan.day_first))
    else:  # all null, as long as the column (a bare literal would be one row in a select)
        parsed = pl.when(column.is_null() & column.is_not_null()).then(pl.lit(None, UTC_MS))
    return parsed.cast(UTC_MS).alias(name)


def parse_time(values: pl.Series, time_format: str | None = None) -> pl.Series:
    """Parse a column to UTC datetimes (ms); values that do not parse become null.

    Zoned text is converted to UTC, naive text is taken as UTC, numbers are epoch seconds or
    milliseconds (by magnitude, see `epoch_unit`) unless `time_format` says "posix"/"millis".
    """
    frame = pl.DataFrame({"v": values})
    exprs = time_stat_exprs("v", values.dtype, time_format)
    found = frame.select(*(e.alias(k.value) for k, e in exprs.items())).row(0) if exprs else ()
    stats = ColumnStats.of(dict(zip(exprs, found, strict=True)))
    plan = time_plan(values.dtype, time_format, stats)
    parsed = frame.select(time_expr("v", values.dtype, time_format, plan)).to_series()
    return parsed.alias(values.name)
