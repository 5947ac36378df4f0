"""The time column chosen by its values, through the real stack (issue #11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.vocabulary import iso_utc
from ingest_pipeline_tests.flights_shaped import NARROW_COLUMNS, flights_csv, is_cancelled
from ingest_pipeline_tests.integration.test_pipeline import materialize, unique_dataset, upload
from ingest_pipeline_tests.runs import assert_success, metadata_of

pytestmark = pytest.mark.integration


def test_a_flights_shaped_file_lands_whole_with_time_hour_as_time(
    instance: dg.DagsterInstance, druid: DruidResource, s3
) -> None:
    rows = 300_000
    body, expected = flights_csv(rows, NARROW_COLUMNS)
    dataset = unique_dataset("flights")
    key = upload(s3, dataset, "flights.csv", body)
    result = materialize(instance, key)
    assert_success(result)
    assert metadata_of(result, "validated_frame", key)["time_column"] == "time_hour"

    cancelled = sum(1 for i in range(rows) if is_cancelled(i))
    totals = druid.sql(
        f"SELECT COUNT(*) AS n, COUNT(dep_time) AS with_dep_time, MIN(__time) AS t0, "
        f'MAX(__time) AS t1 FROM "{dataset}"',
        context={"useApproximateCountDistinct": False},  # Druid's default is a sketch
    )
    assert totals == [
        {
            "n": rows,
            "with_dep_time": rows - cancelled,
            "t0": iso_utc(min(expected)),
            "t1": iso_utc(max(expected)),
        }
    ]
    sample = [0, 100, 123, 12_345, 200_001, rows - 1]  # 123: a cancelled flight
    found = druid.sql(  # a scan: Druid SQL orders it by __time only, so sort here
        f'SELECT flight_id, __time AS t, dep_time, time_hour FROM "{dataset}" '
        f"WHERE flight_id IN ({', '.join('?' * len(sample))})",
        sample,
    )
    found.sort(key=lambda r: r["flight_id"])
    assert [(r["flight_id"], r["t"]) for r in found] == [(i, iso_utc(expected[i])) for i in sample]
    assert [r["time_hour"] for r in found] == [
        expected[i].strftime("%Y-%m-%dT%H:%M:%SZ") for i in sample
    ]
    assert found[2]["dep_time"] is None and found[0]["dep_time"] is not None


def test_a_year_of_hourly_rows_with_date_and_time_of_day_apart_lands_hour_by_hour(
    instance: dg.DagsterInstance, druid: DruidResource, s3
) -> None:
    # A European export: dd.mm.yyyy dates, the time of day in a column of its own, ";"
    # and decimal commas; nulls in a measure after row 100.
    start = datetime(2023, 1, 1, tzinfo=UTC)
    hours = 8760
    lines = ["Datum;Uhrzeit;Zaehler;Wert"]
    for hour in range(hours):
        at = start + timedelta(hours=hour)
        value = "" if hour > 100 and hour % 7 == 0 else f"{hour % 50},{hour % 10}"
        lines.append(f"{at:%d.%m.%Y};{at:%H:%M};{hour};{value}")
    dataset = unique_dataset("hourly_eu")
    key = upload(s3, dataset, "zaehler.csv", ("\n".join(lines) + "\n").encode())
    result = materialize(instance, key)
    assert_success(result)
    meta = metadata_of(result, "validated_frame", key)
    assert meta["time_column"] == "Datum + time of day from Uhrzeit"

    totals = druid.sql(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT __time) AS times, MIN(__time) AS t0, "
        f'MAX(__time) AS t1 FROM "{dataset}"',
        context={"useApproximateCountDistinct": False},  # Druid's default is a sketch
    )
    assert totals == [
        {
            "n": hours,
            "times": hours,
            "t0": iso_utc(start),
            "t1": iso_utc(start + timedelta(hours=hours - 1)),
        }
    ]
    sample = [0, 13, 101, 4_000, hours - 1]
    found = druid.sql(
        f'SELECT Zaehler, __time AS t FROM "{dataset}" '
        f"WHERE Zaehler IN ({', '.join('?' * len(sample))}) ORDER BY __time",
        sample,
    )
    assert found == [{"Zaehler": i, "t": iso_utc(start + timedelta(hours=i))} for i in sample]
