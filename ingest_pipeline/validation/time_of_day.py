"""A time of day in a column of its own, next to a dates-only time column ("Datum;Uhrzeit",
"date,time"): __time is then the date plus that time of day, not the date's midnight for every
row of a day (a silent loss: an hourly file would collapse to one time a day).

Taken only when it is safe to: the chosen column holds dates only (an auto-detected one; a
configured `time_column` is used alone), and exactly one other column is named like a time of
day and holds a clock time (H:MM, HH:MM:SS, HH:MM:SS.fff, optionally am/pm; or Parquet's
TIME) in every row. A duration ("0:45" under "duration") is not named like one; two such
columns (a start and an end) are not guessed between, and the report names them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import polars as pl

from ingest_pipeline.findings import TimeOfDay
from ingest_pipeline.validation.source import Aggregation, BatchSource, aggregate

_CLOCK: Final = (
    r"^\s*(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,3})\d*)?)?"
    r"\s*(?P<ampm>[aApP]\.?[mM]\.?)?\s*$"
)
# Names of a time-of-day column (English, German, French, Spanish, Italian, Dutch), and of
# durations, which share the clock's shape.
_NAMED_LIKE: Final = re.compile(r"time|zeit|uhr|heure|hora|^ora$|tijd|clock|hour|^hh?:?mm")
_NAMED_UNLIKE: Final = re.compile(r"duration|elapsed|dauer|durée|duree|spent|lap|runtime|length")


def named_like_time_of_day(name: str) -> bool:
    lower = name.lower()
    return bool(_NAMED_LIKE.search(lower)) and not _NAMED_UNLIKE.search(lower)


def clock_ms_expr(name: str, typed: bool = False) -> pl.Expr:
    """Column `name`'s clock times as milliseconds after midnight (null: not a clock time);
    `typed`: a time of day typed as such (Parquet's TIME), taken as it is."""
    if typed:
        return pl.col(name).cast(pl.Int64) // 1_000_000  # nanoseconds after midnight
    parts = pl.col(name).cast(pl.String).str.extract_groups(_CLOCK)
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


def find_time_of_day(
    source: BatchSource, date_column: str, dtypes: Mapping[str, pl.DataType], rows: int
) -> tuple[TimeOfDay | None, tuple[str, ...]]:
    """(the column to take the time of day from, or None; the columns that were all clock
    times but too many to choose from). One pass over the columns named like one."""
    named = [
        name
        for name, dtype in dtypes.items()
        if name != date_column
        and (dtype == pl.String or dtype == pl.Time)
        and named_like_time_of_day(name)
    ]
    if not named or rows == 0:
        return None, ()
    counts = aggregate(
        source,
        {
            name: Aggregation(
                clock_ms_expr(name, dtypes[name] == pl.Time).is_not_null().sum(), "sum"
            )
            for name in named
        },
    )
    everywhere = tuple(name for name in named if counts[name] == rows)
    if len(everywhere) != 1:
        return None, everywhere
    return TimeOfDay(everywhere[0], rows, dtypes[everywhere[0]] == pl.Time), ()


def with_time_of_day(date_expr: pl.Expr, time_of_day: TimeOfDay, utc_ms: pl.DataType) -> pl.Expr:
    """The dates of `date_expr` plus the time of day of every row."""
    offset = pl.duration(milliseconds=clock_ms_expr(time_of_day.column, time_of_day.typed))
    return (date_expr + offset).cast(utc_ms)
