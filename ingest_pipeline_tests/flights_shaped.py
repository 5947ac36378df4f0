"""A synthetic table shaped like the public NYC flights data (issue #11), computed from the row
number with Polars expressions (300k rows in a fraction of a second).

Many time-like columns, one real timestamp: integer clock times (HHMM) with nulls for cancelled
flights after row 100, durations, date parts, a few text columns and `time_hour` (ISO 8601, Z),
the last column as in the real data. The expected time of every row comes from the generator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

FLIGHTS_COLUMNS = (
    "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,"
    "carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour"
).split(",")
# Fewer columns (and a row id to find rows by) for the trip through Druid.
NARROW_COLUMNS = ["flight_id", "dep_time", "dep_delay", "air_time", "carrier", "hour", "time_hour"]
BASE = datetime(2013, 1, 1, tzinfo=UTC)


def is_cancelled(i: int) -> bool:
    """Row `i` has no dep_time, dep_delay, arr_time, arr_delay, air_time (like the real data)."""
    return i > 100 and i % 41 == 0


def _hhmm(minutes: pl.Expr) -> pl.Expr:
    """Minutes after midnight (from -1440 on, any day) as a clock time HHMM."""
    minutes = (minutes + 24 * 60) % (24 * 60)
    return minutes // 60 * 100 + minutes % 60


def _hour_offset(i: pl.Expr | int) -> pl.Expr | int:
    """Row `i`'s time_hour: this many hours after BASE."""
    return (i * 7919) % (365 * 24)


def flights_csv(rows: int, columns: list[str] | None = None) -> tuple[bytes, list[datetime]]:
    """CSV text of `rows` flights (with `columns`, default all) and each row's `time_hour`."""
    columns = columns or FLIGHTS_COLUMNS
    i = pl.col("flight_id")
    hour = pl.lit(BASE) + pl.duration(hours=_hour_offset(i))
    sched_dep = (_hour_offset(i) % 24) * 60 + (i * 13) % 60  # BASE is midnight
    delay = (i * 37) % 181 - 30  # -30..150 minutes
    air = 20 + (i * 11) % 600
    cancelled = (i > 100) & (i % 41 == 0)  # is_cancelled

    def unless_cancelled(value: pl.Expr) -> pl.Expr:
        return pl.when(cancelled).then(None).otherwise(value)

    carrier = pl.lit(pl.Series(["UA", "AA", "B6", "DL", "EV", "MQ"])).gather(i % 6)
    airports = pl.lit(pl.Series(["EWR", "LGA", "JFK"]))
    values = {
        "year": hour.dt.year(),
        "month": hour.dt.month(),
        "day": hour.dt.day(),
        "dep_time": unless_cancelled(_hhmm(sched_dep + delay)),
        "sched_dep_time": _hhmm(sched_dep),
        "dep_delay": unless_cancelled(delay),
        "arr_time": unless_cancelled(_hhmm(sched_dep + delay + air + 15)),
        "sched_arr_time": _hhmm(sched_dep + air + 15),
        "arr_delay": unless_cancelled(delay - 3),
        "carrier": carrier,
        "flight": 1 + (i * 7) % 5000,
        "tailnum": pl.format("N{}{}", (i * 31) % 9000 + 100, carrier),
        "origin": airports.gather(i % 3),
        "dest": airports.gather((i + 1) % 3) + "X",
        "air_time": unless_cancelled(air.cast(pl.Float64)),
        "distance": 100 + (i * 17) % 4900,
        "hour": hour.dt.hour(),
        "minute": (i * 13) % 60,
        "time_hour": hour.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    frame = pl.DataFrame({"flight_id": pl.int_range(0, rows, dtype=pl.Int64, eager=True)})
    table = frame.select(i if c == "flight_id" else values[c].alias(c) for c in columns)
    times = [BASE + timedelta(hours=_hour_offset(n)) for n in range(rows)]
    return table.write_csv().encode(), times
