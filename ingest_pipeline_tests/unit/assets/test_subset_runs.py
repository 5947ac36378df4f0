"""Runs that materialize only some of the four assets, as a person launches them from the UI
(or the fault tests do): the steps before them take the stored records instead of computing
them again, and the run's last step decides whether the run failed."""

from __future__ import annotations

import json

from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests.fakes import FakeDruid
from ingest_pipeline_tests.runs import metadata_of
from ingest_pipeline_tests.unit.assets.helpers import csv, new_world

PREPARE = ["raw_file", "validated_frame", "druid_spec"]


def test_retrying_only_the_druid_step_uses_the_stored_plans_without_reading_the_file() -> None:
    world = new_world(fail_datasources=["s"])
    world.upload("s/a.csv", csv(6))
    world.upload("s/b.csv", csv(4, offset=9))
    failed = world.run(["s/a.csv", "s/b.csv"])
    assert not failed.success
    task_id = metadata_of(failed, "druid_spec", "s/a.csv")["druid_task_id"]
    assert world.statuses("druid_datasource") == (set(), {"s/a.csv", "s/b.csv"})

    # Druid is healthy again; the uploads are gone, so any step that read them would fail
    world.druid = FakeDruid(store=world.store, name=world.druid.name)
    for key in ("uploads/s/a.csv", "uploads/s/b.csv"):
        world.store.delete(world.store.uploads_bucket, key)
    retried = world.run(["s/a.csv", "s/b.csv"], selection=["druid_datasource"])

    assert retried.success
    assert world.druid.task_runs() == {task_id: 1}  # the stored task, not a new plan
    assert world.statuses("druid_datasource") == ({"s/a.csv", "s/b.csv"}, set())
    assert world.statuses("validated_frame") == ({"s/a.csv", "s/b.csv"}, set())  # untouched
    assert {p: v.rows for p, v in world.verdicts(retried.run_id).items()} == {
        "s/a.csv": 6,
        "s/b.csv": 4,
    }


def test_a_run_ending_before_druid_fails_only_when_a_file_went_no_further() -> None:
    world = new_world()
    world.upload("s/a.csv", csv(6))
    prepared = world.run(["s/a.csv"], selection=PREPARE)
    assert prepared.success
    assert world.druid.task_runs() == {}  # nothing reached Druid
    assert world.statuses("druid_spec") == ({"s/a.csv"}, set())
    ingested = world.run(["s/a.csv"], selection=["druid_datasource"])
    assert ingested.success and world.druid.row_count("s") == 6

    world.upload("s/bad.csv", b"ts,team,points\n")
    rejected = world.run(["s/bad.csv"], selection=["raw_file", "validated_frame"])
    assert not rejected.success
    assert world.statuses("validated_frame") == ({"s/a.csv"}, {"s/bad.csv"})
    assert world.statuses("raw_file") == ({"s/a.csv", "s/bad.csv"}, set())
    assert world.verdicts(rejected.run_id) == {}  # no druid_datasource step: no verdict


def test_stored_plans_holding_files_outside_the_run_are_planned_anew() -> None:
    world = new_world(fail_datasources=["s"])
    world.upload("s/a.csv", csv(6))
    world.upload("s/b.csv", csv(4, offset=9))
    world.run(["s/a.csv", "s/b.csv"])  # one task for both; it failed
    world.druid = FakeDruid(store=world.store, name=world.druid.name)
    alone = world.run(["s/a.csv"], selection=["druid_datasource"])
    assert alone.success
    assert world.verdicts(alone.run_id)["s/a.csv"].outcome is Outcome.INGESTED
    assert world.druid.row_count("s") == 6  # b.csv is not ingested behind the run's back


def test_a_stored_record_in_an_older_shape_is_computed_anew() -> None:
    world = new_world()
    world.upload("s/a.csv", csv(6))
    prepared = world.run(["s/a.csv"], selection=PREPARE)
    link = str(metadata_of(prepared, "validated_frame", "s/a.csv")["record"])
    bucket, _, key = link.removeprefix("s3://").partition("/")
    stored = json.loads(world.store.get_bytes(bucket, key) or b"")
    # before the column report was typed, it held __time's entry among the columns
    old = {"druid_type": "time", "source": "ts", "min": "2024-07-01T00:00:00.000Z"}
    stored["validated"]["s/a.csv"]["column_report"]["__time"] = old
    world.store.put_bytes(bucket, key, json.dumps(stored).encode())

    ingested = world.run(["s/a.csv"], selection=["druid_spec", "druid_datasource"])

    assert ingested.success and world.druid.row_count("s") == 6
    assert world.verdicts(ingested.run_id)["s/a.csv"].rows == 6
