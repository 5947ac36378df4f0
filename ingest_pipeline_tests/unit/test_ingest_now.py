"""`ingest-pipeline ingest` decides between following the sensor's run and running here by
whether a daemon ticks upload_sensor: the decision over stored sensor states, no servers. And
the sensor's side: which listed versions it looks up among the runs the command made."""

from __future__ import annotations

import dagster as dg
import pytest

from ingest_pipeline.console.ingest_now import SensorTicks, sensor_activity
from ingest_pipeline.tick_plan import versions_run_by_cli
from ingest_pipeline_tests.unit.test_sensors import cli_run, obj, partition_key_of

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("sensors", "ticking", "reason"),
    [
        ([], False, "no Dagster daemon has ticked upload_sensor on this instance"),
        ([SensorTicks(False, NOW - 4, 3)], True, "upload_sensor ticked 4 s ago"),
        # three intervals + 20 s is the bound: 29 s for a 3 s sensor
        ([SensorTicks(False, NOW - 29, 3)], True, "upload_sensor ticked 29 s ago"),
        ([SensorTicks(False, NOW - 30, 3)], False, "upload_sensor last ticked 30 s ago: no daemon"),
        ([SensorTicks(False, NOW - 60, 15)], True, "upload_sensor ticked 60 s ago"),
        (
            [SensorTicks(False, NOW - 66, 15)],
            False,
            "upload_sensor last ticked 66 s ago: no daemon",
        ),
        (
            [SensorTicks(True, NOW - 1, 3)],
            False,
            "upload_sensor is stopped (Dagster UI: Automation)",
        ),
        (
            [SensorTicks(False, 0, 15)],
            False,
            "upload_sensor has never ticked: no daemon",
        ),
        # one location's sensor stopped, another's ticking: ticking
        (
            [SensorTicks(True, NOW - 1, 3), SensorTicks(False, NOW - 2, 3)],
            True,
            "upload_sensor ticked 2 s ago",
        ),
        # the newest of the sensors that are not stopped is reported
        (
            [SensorTicks(False, NOW - 500, 3), SensorTicks(False, NOW - 100, 3)],
            False,
            "upload_sensor last ticked 100 s ago: no daemon",
        ),
    ],
)
def test_a_sensor_ticks_when_not_stopped_and_its_last_tick_is_recent(
    sensors: list[SensorTicks], ticking: bool, reason: str
) -> None:
    activity = sensor_activity(sensors, NOW)
    assert (activity.ticking, activity.reason) == (ticking, reason)


def test_only_undecided_versions_of_existing_partitions_are_looked_up_among_its_runs() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        cli_run(instance, "r1", "s/a.csv", "ea")
        cli_run(instance, "r2", "s/b.csv", "eb")
        objects = [obj("uploads/s/a.csv", "ea"), obj("uploads/s/b.csv", "eb")]
        # a.csv's version is decided already; b.csv has no partition (the command adds it first)
        decided = {"uploads/s/a.csv": "ea"}
        found = versions_run_by_cli(instance, objects, decided, partition_key_of, {"s/a.csv"})
        assert found == set()
        both = {"s/a.csv", "s/b.csv"}
        found = versions_run_by_cli(instance, objects, {}, partition_key_of, both)
        assert found == {("s/a.csv", "ea"), ("s/b.csv", "eb")}
