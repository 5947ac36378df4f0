"""The time column: names that hint at it and how its values become UTC timestamps.

Which column it is, without a configured one, is decided by its values: see `time_scoring`.

Time parsing is split in two so that a file can be parsed batch by batch with the same result
as in one piece: a *plan* holds what depends on the whole column (the epoch unit, from the
largest value; whether integers are yyyymmdd dates, from the range and a parse check), decided
from aggregations (`time_stat_exprs`) that run over a DataFrame or a streamed LazyFrame alike;
`time_expr` then parses each value on its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, NamedTuple

import polars as pl

UTC_MS: Final = pl.Datetime("ms", "UTC")  # the dtype of __time
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

# Tried in order; the first that parses a value wins. Strings are normalised first (see
# `_normalised_time_text`), so "2024-01-02 03:04Z" and "2024/01/02" reach these in ISO shape.
_ZONED_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
_EPOCH_TEXT = re.compile(r"^-?\d{9,}(\.\d+)?$").pattern  # 9+ digits: not a year, not a date

EpochUnit = Literal["s", "ms", "us", "ns"]

# Day-month-year or month-day-year text (31.01.2024, 1/31/2024 13:45, 03/01/2024 12:00 AM), as
# spreadsheets export it: the order is decided for the whole column by its values (a part above
# 12 is the day), then every value parses by that order (never one row one way, one the other).
LOCAL_DATE_TEXT: Final = (
    r"^\s*(\d{1,2})[./-](\d{1,2})[./-]\d{4}"
    r"(?:[ T]+(\d{1,2}:\d{2})(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)?\s*$"
)
_LOCAL_TIME_FORMATS = ("", " %H:%M", " %H:%M:%S%.f", " %I:%M %p", " %I:%M:%S %p")
#: How a column of such dates that no value orders is described (and recognised) in reports.
UNDECIDED_LOCAL_DATES: Final = "dates whose day and month order no value decides"
LOCAL_DATE_FIX: Final = (
    'say which in datasets.yaml: time_column: <name> and time_format: "%d/%m/%Y" (day first) or '
    '"%m/%d/%Y" (month first), with the file\'s separator and time part (e.g. " %H:%M")'
)


def local_date_stat_exprs(name: str) -> dict[str, pl.Expr]:
    """Whole-column counts `local_date_order` decides from (names ending in "max" combine by
    max across batches, the others by sum)."""
    column = pl.col(name)
    local = column.str.contains(LOCAL_DATE_TEXT)
    # The other regexes run only on the matching values (none, in most text columns).
    groups = column.filter(local).str.extract_groups(LOCAL_DATE_TEXT)
    return {
        "local_like": local.sum(),
        "local_timed": groups.struct.field("3").is_not_null().sum(),
        "local_first_max": groups.struct.field("1").cast(pl.Int32).max(),
        "local_second_max": groups.struct.field("2").cast(pl.Int32).max(),
        "local_sample_max": column.filter(local).max(),
    }


def local_date_order(stats: Mapping[str, Any]) -> bool | str:
    """True: day first, False: month first, else why the values decide neither."""
    first, second = stats.get("local_first_max") or 0, stats.get("local_second_max") or 0
    if first > 12 and second <= 12:
        return True
    if second > 12 and first <= 12:
        return False
    if first > 12:
        return "text, not dates: numbers above 12 both before and after the first separator"
    return (
        f"{UNDECIDED_LOCAL_DATES} (no part above 12, e.g. "
        f"{str(stats.get('local_sample_max') or '').strip()!r})"
    )


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

    how: Literal["epoch", "datetime", "date", "yyyymmdd", "text", "local", "none"]
    unit: EpochUnit | None = None  # "epoch": the unit; "text": the unit of epoch-like text
    day_first: bool | None = None  # "local": dd.mm.yyyy (True) or mm/dd/yyyy (False)


def _epoch_expr(values: pl.Expr, integer: bool, unit: EpochUnit) -> pl.Expr:
    per_ms = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}[unit]
    if integer:
        # Integer arithmetic: no float rounding of large epoch values.
        ints = values.cast(pl.Int64)
        millis = ints * 1000 if unit == "s" else ints // int(round(1 / per_ms))
    else:
        millis = (values.cast(pl.Float64, strict=False) * per_ms).round(0)
        millis = millis.cast(pl.Int64, strict=False)
    return pl.from_epoch(millis, time_unit="ms").dt.replace_time_zone("UTC")


def _normalised_time_text(values: pl.Expr) -> pl.Expr:
    return (
        values.str.strip_chars()
        .str.replace(r"^(\d{4})/(\d{2})/(\d{2})", "${1}-${2}-${3}")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}) +(\d)", "${1}T${2}")
        .str.replace(r"(?i)\s*(z|utc|gmt)$", "+00:00")
    )


def _epoch_text(text: pl.Expr) -> pl.Expr:
    """Normalised time text that looks like an epoch number, else null."""
    return pl.when(text.str.contains(_EPOCH_TEXT)).then(text)


def _text_time_expr(values: pl.Expr, time_format: str | None, unit: EpochUnit | None) -> pl.Expr:
    if time_format is not None:
        zoned = "%z" in time_format or "%#z" in time_format
        parsed = values.str.strptime(
            UTC_MS if zoned else pl.Datetime("ms"), time_format, strict=False
        )
        return parsed if zoned else parsed.dt.replace_time_zone("UTC")
    return values.map_batches(
        lambda text: _parse_text_times(text, unit or "s"), return_dtype=UTC_MS, is_elementwise=True
    )


def _text_time_candidates(text: pl.Expr, unit: EpochUnit) -> list[pl.Expr]:
    """Normalised time text parsed by each format in turn: the first non-null one wins."""
    candidates = [text.str.strptime(UTC_MS, fmt, strict=False) for fmt in _ZONED_FORMATS]
    candidates += [
        text.str.strptime(pl.Datetime("ms"), fmt, strict=False).dt.replace_time_zone("UTC")
        for fmt in _NAIVE_FORMATS
    ]
    candidates.append(_epoch_expr(_epoch_text(text), False, unit))
    return candidates


# ISO 8601 in UTC with a "Z", the commonest time text: `_normalised_time_text` would only turn
# its "Z" into "+00:00" for the first zoned format, so parsing it as it is gives the same time.
# Fixed-width shapes first: Polars parses those ~4x faster than the general `%.f`.
_ISO_Z_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%3fZ",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%.fZ",
)


def _parse_in_turn(
    text: pl.DataFrame, candidates: Sequence[pl.Expr], parsed: pl.Series | None = None
) -> pl.Series:
    """Column "t" of `text` parsed by the first of `candidates` that gives a value: each
    candidate parses only the values the ones before it left null (what `pl.coalesce` of them
    all gives, without parsing every value every way)."""
    for candidate in candidates:
        if parsed is None:
            parsed = text.select(candidate.cast(UTC_MS)).to_series()
            continue
        missing = (parsed.is_null() & text["t"].is_not_null()).arg_true()
        if missing.len() == 0:
            break
        found = text[missing].select(candidate.cast(UTC_MS)).to_series()
        parsed = parsed.scatter(missing, found)
    assert parsed is not None
    return parsed


def _parse_text_times(values: pl.Series, unit: EpochUnit) -> pl.Series:
    """`pl.coalesce(_text_time_candidates(...))` over the normalised text, without parsing
    every value every way (see `_parse_in_turn`); ISO "...Z" text skips the normalising."""
    text = pl.DataFrame({"t": values}).select(pl.col("t").str.strip_chars())
    direct = [
        pl.col("t").str.strptime(pl.Datetime("ms"), fmt, strict=False).dt.replace_time_zone("UTC")
        for fmt in _ISO_Z_FORMATS
    ]
    parsed = _parse_in_turn(text, direct)
    todo = (parsed.is_null() & text["t"].is_not_null()).arg_true()
    if todo.len():
        rest = text[todo].select(_normalised_time_text(pl.col("t")))
        parsed = parsed.scatter(
            todo, _parse_in_turn(rest, _text_time_candidates(pl.col("t"), unit))
        )
    return parsed.alias(values.name)


def _local_time_expr(values: pl.Expr, day_first: bool) -> pl.Expr:
    """Day-month-year or month-day-year text (see LOCAL_DATE_TEXT) in the column's order."""
    text = (
        values.str.strip_chars()
        .str.to_uppercase()
        .str.replace(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})[ T]*", "${1}/${2}/${3} ")
        .str.replace(r"\s*([AP]M)$", " ${1}")
        .str.strip_chars()
    )
    date = "%d/%m/%Y" if day_first else "%m/%d/%Y"
    parsed = [
        text.str.strptime(pl.Datetime("ms"), date + clock, strict=False)
        for clock in _LOCAL_TIME_FORMATS
    ]
    return pl.coalesce(parsed).dt.replace_time_zone("UTC")


def _yyyymmdd_expr(name: str) -> pl.Expr:
    return _text_time_expr(pl.col(name).cast(pl.String), "%Y%m%d", None)


def time_stat_exprs(name: str, dtype: pl.DataType, time_format: str | None) -> dict[str, pl.Expr]:
    """Whole-column aggregations `time_plan` needs to parse column `name` (maybe none)."""
    if time_format is not None or isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        return {}
    column = pl.col(name)
    if dtype.is_integer():
        return {
            "min": column.min(),
            "max": column.max(),
            "nulls": column.null_count(),
            "ymd_nulls": _yyyymmdd_expr(name).null_count(),
            "max_abs": column.cast(pl.Float64, strict=False).abs().max(),
        }
    if dtype.is_numeric():
        return {"max_abs": column.cast(pl.Float64, strict=False).abs().max()}
    if dtype == pl.String:
        # Stripping is all `_normalised_time_text` does to text that looks like an epoch
        # number (its other rewrites add "-", "T" or "+00:00"): the same values, 3 regexes less.
        epoch = _epoch_text(column.str.strip_chars())
        stats = {"max_abs": epoch.cast(pl.Float64, strict=False).abs().max()}
        return stats | local_date_stat_exprs(name)
    return {}


def time_plan(dtype: pl.DataType, time_format: str | None, stats: Mapping[str, Any]) -> TimePlan:
    """How to parse a column of `dtype`, given the `time_stat_exprs` results over all of it."""
    if time_format in ("posix", "millis"):
        return TimePlan("epoch", "s" if time_format == "posix" else "ms")
    if isinstance(dtype, pl.Datetime):
        return TimePlan("datetime")
    if dtype == pl.Date:
        return TimePlan("date")
    if dtype.is_integer() and time_format is None:
        # 20240131-style integers: as epoch seconds they would all land in 1970, silently.
        low, high = stats["min"], stats["max"]
        if (
            isinstance(low, int)
            and isinstance(high, int)
            and 10000101 <= low <= high <= 99991231
            and stats["ymd_nulls"] == stats["nulls"]
        ):
            return TimePlan("yyyymmdd")
    if dtype.is_numeric() and time_format is None:
        return TimePlan("epoch", epoch_unit_of(stats["max_abs"]))
    if dtype == pl.String and time_format is None and stats.get("local_like"):
        # mostly dd.mm.yyyy / mm/dd/yyyy text whose values decide the order
        order = local_date_order(stats)
        share = AUTO_DETECT_MIN_PARSE_SHARE * stats.get("n", 0)
        if isinstance(order, bool) and stats["local_like"] >= share:
            return TimePlan("local", day_first=order)
    if dtype == pl.String or dtype.is_numeric():
        return TimePlan("text", epoch_unit_of(stats.get("max_abs")))
    return TimePlan("none")


def likely_plan(
    name: str, dtype: pl.DataType, time_format: str | None, configured: bool
) -> TimePlan | None:
    """`time_plan` guessed before any statistics, so that the pass gathering them can parse the
    column already (None: no guess worth a parse). Exact for typed times and a `time_format`;
    text (configured, or named like a time) is guessed to hold no epoch beyond seconds. The
    planner checks the guess against the real plan and parses again if it was wrong."""
    if time_format is not None or isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        return time_plan(dtype, time_format, {})
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
        parsed = _epoch_expr(column, dtype.is_integer(), plan.unit)
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
        parsed = _yyyymmdd_expr(name)
    elif plan.how == "text":
        parsed = _text_time_expr(column.cast(pl.String), time_format, plan.unit)
    elif plan.how == "local":
        parsed = _local_time_expr(column.cast(pl.String), bool(plan.day_first))
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
    stats = frame.select(**exprs).row(0, named=True) if exprs else {}
    plan = time_plan(values.dtype, time_format, stats)
    parsed = frame.select(time_expr("v", values.dtype, time_format, plan)).to_series()
    return parsed.alias(values.name)
