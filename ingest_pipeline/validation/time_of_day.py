"""A time of day in a column of its own, next to a dates-only time column ("Datum;Uhrzeit",
"date,time"): __time is then the date plus that time of day, not the date's midnight for every
row of a day (a silent loss: an hourly file would collapse to one time a day).

Taken only when it is safe to: the chosen column holds dates only (an auto-detected one; a
configured `time_column` is used alone), and exactly one other column is named like a time of
day and holds a clock time (H:MM, HH:MM:SS, HH:MM:SS.fff, HH.MM.SS, optionally am/pm; or Parquet's
TIME) in every row, or else exactly one integer column named like the hour ("hour", "Stunde")
holds 0..23 in every row. A duration ("0:45" under "duration") is not named like one; two such
columns (a start and an end) are not guessed between, and hours 1..24 (the hour ending at that
time, as energy markets count them, or starting?) are not guessed either: the report names
them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final, NamedTuple

import polars as pl

from ingest_pipeline.findings import TimeOfDay, TimeOfDayUnit
from ingest_pipeline.validation.source import Aggregation, BatchSource, aggregate

_CLOCK: Final = (
    r"^\s*(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,3})\d*)?)?"
    r"\s*(?P<ampm>[aApP]\.?[mM]\.?)?\s*$"
)
# 18.00.00, as Italian (and Finnish, Danish) clocks are written: with all three parts only (18.30
# may be a decimal number)
_DOTTED_CLOCK: Final = r"^\s*(\d{1,2})\.(\d{2})\.(\d{2})\s*$"
# Names of a time-of-day column (English, German, French, Spanish, Italian, Dutch), and of
# durations, which share the clock's shape.
_NAMED_LIKE: Final = re.compile(r"time|zeit|uhr|heure|hora|^ora$|tijd|clock|hour|^hh?:?mm")
_NAMED_UNLIKE: Final = re.compile(r"duration|elapsed|dauer|durée|duree|spent|lap|runtime|length")
# Integer columns of the hour of the day, by exact name only (an integer is a count otherwise).
_HOUR_NAMES: Final = frozenset(
    {"hour", "hr", "hour_of_day", "hod", "stunde", "heure", "hora", "ora", "uur"}
)


def named_like_time_of_day(name: str) -> bool:
    lower = name.lower()
    return bool(_NAMED_LIKE.search(lower)) and not _NAMED_UNLIKE.search(lower)


def clock_ms_expr(name: str, unit: TimeOfDayUnit = "clock") -> pl.Expr:
    """Column `name`'s times of day as milliseconds after midnight (null: not one): clock
    text, a typed time of day (Parquet's TIME), or an hour 0..23."""
    if unit == "time":
        return pl.col(name).cast(pl.Int64) // 1_000_000  # nanoseconds after midnight
    if unit == "hour":
        hour = pl.col(name).cast(pl.Int64)
        return pl.when((hour >= 0) & (hour <= 23)).then(hour * 3_600_000)
    text = pl.col(name).cast(pl.String).str.replace(_DOTTED_CLOCK, "${1}:${2}:${3}")
    parts = text.str.extract_groups(_CLOCK)
    hour = parts.struct.field("h").cast(pl.Int64)
    minute = parts.struct.field("m").cast(pl.Int64)
    second = parts.struct.field("s").cast(pl.Int64).fill_null(0)
    millis = parts.struct.field("f").str.pad_end(3, "0").cast(pl.Int64).fill_null(0)
    ampm = parts.struct.field("ampm").str.to_lowercase().str.slice(0, 1)
    # 12-hour clocks: 12:xx am is 0:xx, 1-11 pm are 13-23; an hour 0 or over 12 is no such time
    hour24 = (
        pl.when(ampm.is_null())
        .then(hour)
        .when((hour < 1) | (hour > 12))
        .then(None)
        .when(ampm == "a")
        .then(hour % 12)
        .otherwise(hour % 12 + 12)
    )
    valid = (hour24 < 24) & (minute < 60) & (second < 60)
    total = ((hour24 * 60 + minute) * 60 + second) * 1000 + millis
    return pl.when(valid).then(total).otherwise(None)


class TimeOfDaySearch(NamedTuple):
    """What the columns beside a dates-only time column say of its rows' times of day."""

    found: TimeOfDay | None = None  # the one to add to the dates
    ambiguous: tuple[str, ...] = ()  # several, each a time of day in every row
    hours_ending: tuple[str, ...] = ()  # hours 1..24: maybe the hour ending, not starting


def _unit(name: str, dtype: pl.DataType) -> TimeOfDayUnit | None:
    if dtype == pl.String and named_like_time_of_day(name):
        return "clock"
    if dtype == pl.Time and named_like_time_of_day(name):
        return "time"
    if dtype.is_integer() and name.lower() in _HOUR_NAMES:
        return "hour"
    return None


def find_time_of_day(
    source: BatchSource, date_column: str, dtypes: Mapping[str, pl.DataType], rows: int
) -> TimeOfDaySearch:
    """One pass over the columns that may hold the dates' times of day (see the module doc):
    a clock (text or typed) in every row first, else an hour 0..23 in every row."""
    units = {
        name: unit
        for name, dtype in dtypes.items()
        if name != date_column and (unit := _unit(name, dtype)) is not None
    }
    if not units or rows == 0:
        return TimeOfDaySearch()
    found: dict[str, Aggregation] = {}
    for name, unit in units.items():
        found[name] = Aggregation(clock_ms_expr(name, unit).is_not_null().sum(), "sum")
        if unit == "hour":
            hour = pl.col(name)
            found[f"{name}\0ending"] = Aggregation(((hour >= 1) & (hour <= 24)).sum(), "sum")
    counts = aggregate(source, found)
    everywhere = [name for name in units if counts[name] == rows]
    clocks = tuple(name for name in everywhere if units[name] != "hour")
    hours = tuple(name for name in everywhere if units[name] == "hour")
    for usable in (clocks, hours):
        if len(usable) == 1:
            return TimeOfDaySearch(TimeOfDay(usable[0], rows, units[usable[0]]))
        if usable:
            return TimeOfDaySearch(ambiguous=usable)
    ending = tuple(
        name for name, unit in units.items() if unit == "hour" and counts[f"{name}\0ending"] == rows
    )
    return TimeOfDaySearch(hours_ending=ending)


def with_time_of_day(date_expr: pl.Expr, time_of_day: TimeOfDay, utc_ms: pl.DataType) -> pl.Expr:
    """The dates of `date_expr` plus the time of day of every row."""
    offset = pl.duration(milliseconds=clock_ms_expr(time_of_day.column, time_of_day.unit))
    return (date_expr + offset).cast(utc_ms)
