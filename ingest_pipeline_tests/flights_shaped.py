"""A synthetic table shaped like the public NYC flights data (issue #11), built with plain Python.

Many time-like columns, one real timestamp: integer clock times (HHMM) with nulls for cancelled
flights after row 100, durations, date parts, a few text columns and `time_hour` (ISO 8601, Z),
the last column as in the real data. The expected time of every row comes from the generator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

FLIGHTS_COLUMNS = (
    "year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,"
    "carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour"
).split(",")
# Fewer columns (and a row id to find rows by) for the trip through Druid.
NARROW_COLUMNS = ["flight_id", "dep_time", "dep_delay", "air_time", "carrier", "hour", "time_hour"]


def is_cancelled(i: int) -> bool:
    """Row `i` has no dep_time, dep_delay, arr_time, arr_delay, air_time (like the real data)."""
    return i > 100 and i % 41 == 0


def _hhmm(minutes: int) -> int:
    minutes %= 24 * 60
    return minutes // 60 * 100 + minutes % 60


def flights_csv(rows: int, columns: list[str] | None = None) -> tuple[bytes, list[datetime]]:
    """CSV text of `rows` flights (with `columns`, default all) and each row's `time_hour`."""
    columns = columns or FLIGHTS_COLUMNS
    base = datetime(2013, 1, 1, tzinfo=UTC)
    carriers = ["UA", "AA", "B6", "DL", "EV", "MQ"]
    airports = ["EWR", "LGA", "JFK"]
    lines = [",".join(columns)]
    times = []
    for i in range(rows):
        scheduled = base + timedelta(hours=(i * 7919) % (365 * 24), minutes=(i * 13) % 60)
        hour = scheduled.replace(minute=0)
        sched_dep = scheduled.hour * 60 + scheduled.minute
        delay = (i * 37) % 181 - 30  # -30..150 minutes
        air = 20 + (i * 11) % 600
        cancelled = is_cancelled(i)
        values = {
            "flight_id": i,
            "year": hour.year,
            "month": hour.month,
            "day": hour.day,
            "dep_time": "" if cancelled else _hhmm(sched_dep + delay),
            "sched_dep_time": _hhmm(sched_dep),
            "dep_delay": "" if cancelled else delay,
            "arr_time": "" if cancelled else _hhmm(sched_dep + delay + air + 15),
            "sched_arr_time": _hhmm(sched_dep + air + 15),
            "arr_delay": "" if cancelled else delay - 3,
            "carrier": carriers[i % 6],
            "flight": 1 + (i * 7) % 5000,
            "tailnum": f"N{(i * 31) % 9000 + 100}{carriers[i % 6]}",
            "origin": airports[i % 3],
            "dest": airports[(i + 1) % 3] + "X",
            "air_time": "" if cancelled else float(air),
            "distance": 100 + (i * 17) % 4900,
            "hour": hour.hour,
            "minute": scheduled.minute,
            "time_hour": hour.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        lines.append(",".join(str(values[c]) for c in columns))
        times.append(hour)
    return ("\n".join(lines) + "\n").encode(), times
