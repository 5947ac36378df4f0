"""`ingest-pipeline status` reads each file's verdict as the runs recorded it, and Dagster's
own record of a newer attempt that has none: the real graph against the fakes."""

from __future__ import annotations

from ingest_pipeline.assets.verdicts import verdict_observation
from ingest_pipeline.console.status import collect_status
from ingest_pipeline.sensors import SkippedObject, SkipReason
from ingest_pipeline_tests.unit.assets.helpers import csv, new_world


def test_each_file_counts_once_with_its_own_verdict() -> None:
    world = new_world(crash_datasources=["c"])
    world.upload("s/a.csv", csv(5))
    world.upload("s/b.csv", b"ts,team,points\n")
    world.run(["s/a.csv", "s/b.csv"])
    world.upload("c/x.csv", csv(2))
    crashed = world.run(["c/x.csv"])
    world.upload("s/new.csv", csv(1))  # a partition the sensor added, no run yet
    skipped = SkippedObject("uploads/s/empty.csv", SkipReason.ZERO_BYTES, "s/empty.csv", "e0")
    world.instance.add_dynamic_partitions("uploads", ["s/empty.csv"])
    verdict = skipped.verdict()
    assert verdict is not None
    world.instance.report_runless_asset_event(verdict_observation(verdict))

    statuses = {s.dataset: s for s in collect_status(world.instance, None, ui_base="http://ui")}

    files = {f.partition: f for f in statuses["s"].files}
    assert {p: f.outcome for p, f in files.items()} == {
        "s/a.csv": "ingested",
        "s/b.csv": "rejected",
        "s/new.csv": "pending",
        "s/empty.csv": "skipped",
    }
    assert files["s/b.csv"].detail == (
        "s/b.csv: the file has no data rows. Fix: upload a file with at least one data row"
    )
    assert files["s/b.csv"].url is not None and files["s/b.csv"].url.startswith("http://ui/runs/")
    assert files["s/empty.csv"].detail.startswith("not ingested by the sensor: zero bytes")
    (crash,) = statuses["c"].files
    assert crash.outcome == "failed" and crash.run_id == crashed.run_id
    assert "the worker running" in crash.detail and "died" in crash.detail
    assert [f.partition for f in statuses["s"].failures(5)] == ["s/b.csv"]


def test_a_fixed_file_counts_as_ingested_and_no_longer_as_a_failure() -> None:
    world = new_world()
    world.upload("s/b.csv", b"ts,team,points\n")
    world.run(["s/b.csv"])
    world.upload("s/b.csv", csv(4))
    world.run(["s/b.csv"])
    (status,) = collect_status(world.instance, None)
    assert [(f.partition, f.outcome) for f in status.files] == [("s/b.csv", "ingested")]
    assert status.failures(5) == []
