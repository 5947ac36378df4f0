"""The time of every row, through the real ingest graph on the fakes: month-name dates land in
Druid at their own instants, and a file whose rows all got the constant time says so on its
partition's checks and in its verdict (the run stays green: a WARN, not a rejection)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests.unit.assets.helpers import csv, new_world

TIME_CHECKS = ("time_like_columns_used", "rows_have_their_own_time")


def check_evaluations(
    instance: dg.DagsterInstance, run_id: str, partition: str
) -> dict[str, dg.AssetCheckEvaluation]:
    """The run's check evaluations recorded on `partition`, by check name."""
    found = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        assert entry.dagster_event is not None
        evaluation = entry.dagster_event.event_specific_data
        assert isinstance(evaluation, dg.AssetCheckEvaluation)
        if evaluation.partition == partition:
            found[evaluation.check_name] = evaluation
    return found


def test_month_name_dates_land_in_druid_at_their_own_instants() -> None:
    months = [(2000 + m // 12, m % 12 + 1) for m in range(30)]
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
    names += ["Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    lines = ["symbol,date,price"]
    lines += [
        f"MSFT,{names[month - 1]} 1 {year},{i + 0.5}" for i, (year, month) in enumerate(months)
    ]
    world = new_world()
    world.upload("stocks/prices.csv", ("\n".join(lines) + "\n").encode())

    result = world.run(["stocks/prices.csv"])

    assert result.success
    rows = world.druid.rows_of("stocks", "uploads/stocks/prices.csv")
    expected = [f"{datetime(y, m, 1, tzinfo=UTC):%Y-%m-%dT%H:%M:%S.000Z}" for y, m in months]
    assert [row["__time"] for row in rows] == expected
    assert [row["date"] for row in rows][:2] == ["Jan 1 2000", "Feb 1 2000"]
    verdict = world.verdicts(result.run_id)["stocks/prices.csv"]
    assert verdict.outcome is Outcome.INGESTED and verdict.rows == 30
    assert verdict.warnings == ()
    evaluations = check_evaluations(world.instance, result.run_id, "stocks/prices.csv")
    assert all(evaluations[name].passed for name in TIME_CHECKS)


def test_a_file_without_a_time_warns_on_its_partition_and_in_its_verdict() -> None:
    world = new_world()
    world.upload("parts/stock.csv", b"name,qty\nbolt,3\nnut,4\n")

    result = world.run(["parts/stock.csv"])

    assert result.success  # ingested: a warning, not a rejection
    evaluations = check_evaluations(world.instance, result.run_id, "parts/stock.csv")
    constant = evaluations["rows_have_their_own_time"]
    assert constant.passed is False
    assert constant.severity == dg.AssetCheckSeverity.WARN
    assert constant.description is not None
    assert constant.description.startswith(
        "no time column found: every row gets the constant time 2000-01-01T00:00:00.000Z"
    )
    assert "parts:\n  time_column: <column>" in constant.description
    assert evaluations["time_like_columns_used"].passed is True
    verdict = world.verdicts(result.run_id)["parts/stock.csv"]
    assert verdict.outcome is Outcome.INGESTED
    assert verdict.warnings == (f"rows_have_their_own_time: {constant.description}",)
    assert "warnings: rows_have_their_own_time: no time column found" in verdict.message()
    rows = world.druid.rows_of("parts", "uploads/parts/stock.csv")
    assert [row["__time"] for row in rows] == ["2000-01-01T00:00:00.000Z"] * 2
    body = world.store.get_bytes(
        world.store.validated_bucket, "validated/parts/stock.csv.report.json"
    )
    report = json.loads(body or b"")
    assert report["constant_time"] == {"examined": []}
    assert report["unused_time_columns"] == []
    assert report["columns"]["__time"]["source"] == "constant 2000-01-01T00:00:00.000Z"


def test_a_time_like_column_left_unused_warns_in_the_verdict() -> None:
    world = new_world()
    lines = ["at,shipped,v"]
    lines += [f"2024-07-01T10:{i:02d}:00Z,{i + 1:02d}-Jul-2024,{i}" for i in range(20)]
    world.upload("orders/a.csv", ("\n".join(lines) + "\n").encode())

    result = world.run(["orders/a.csv"])

    assert result.success
    evaluations = check_evaluations(world.instance, result.run_id, "orders/a.csv")
    unused = evaluations["time_like_columns_used"]
    assert unused.passed is False and unused.severity == dg.AssetCheckSeverity.WARN
    assert unused.description is not None
    assert "column 'shipped' looks like a time" in unused.description
    assert "20 of 20 values parse, 100%" in unused.description
    assert unused.description.endswith("orders:\n  time_column: shipped")
    assert evaluations["rows_have_their_own_time"].passed is True
    verdict = world.verdicts(result.run_id)["orders/a.csv"]
    assert verdict.warnings == (f"time_like_columns_used: {unused.description}",)


def test_both_time_checks_pass_on_a_normal_file() -> None:
    world = new_world()
    world.upload("s/a.csv", csv(5))
    result = world.run(["s/a.csv"])
    assert result.success
    evaluations = check_evaluations(world.instance, result.run_id, "s/a.csv")
    for name in TIME_CHECKS:
        assert evaluations[name].passed is True, name
        assert evaluations[name].severity == dg.AssetCheckSeverity.WARN
        assert evaluations[name].description is None
    assert world.verdicts(result.run_id)["s/a.csv"].warnings == ()
