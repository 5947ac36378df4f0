"""A run created without its planned events (its sensor daemon killed between the run's row and
them) still shows the file it rejects red: its first step writes them (assets/planned.py)."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import pytest
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import execute_run

from ingest_pipeline.assets.ingest import ingest
from ingest_pipeline.sensors import RANGE_END_TAG, RANGE_START_TAG, ingest_job
from ingest_pipeline_tests.unit.assets.helpers import World, csv, new_world

GOOD, BAD = "s/a.csv", "s/b.csv"
PLANNED = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED


def run_created_without_planned_events(world: World, partitions: list[str]) -> dg.DagsterRun:
    """The run as the sensor daemon leaves it when killed inside create_run."""
    job = dg.Definitions(
        assets=[ingest], jobs=[ingest_job], resources=world.resources()
    ).resolve_job_def(ingest_job.name)
    run = world.instance.create_run_for_job(
        job, tags={RANGE_START_TAG: partitions[0], RANGE_END_TAG: partitions[-1]}
    )
    assert world.instance.get_records_for_run(run.run_id, of_type=PLANNED).records
    world.instance.event_log_storage.delete_events(run.run_id)  # as if never written
    assert not world.instance.get_records_for_run(run.run_id, of_type=PLANNED).records
    return run


def test_a_rejected_file_of_a_run_created_without_planned_events_is_red() -> None:
    world = new_world()
    world.upload(BAD, b"ts,team,points\n")
    world.upload(GOOD, csv(5))
    run = run_created_without_planned_events(world, [BAD, GOOD])
    job = dg.Definitions(
        assets=[ingest], jobs=[ingest_job], resources=world.resources()
    ).resolve_job_def(ingest_job.name)
    result = execute_run(InMemoryJob(job), run, world.instance)
    assert not result.success
    assert world.statuses("validated_frame") == ({GOOD}, {BAD})
    assert world.statuses("druid_datasource") == ({GOOD}, {BAD})


def test_a_run_with_its_planned_events_gets_no_second_set() -> None:
    world = new_world()
    world.upload(GOOD, csv(5))
    result = world.run([GOOD])
    planned = world.instance.get_records_for_run(result.run_id, of_type=PLANNED, limit=100)
    assert len(planned.records) == 4  # one per asset of the run, written once


def druid_datasource_only(entry: dg.EventLogEntry) -> bool:
    assert entry.dagster_event is not None
    return entry.dagster_event.asset_key == dg.AssetKey("druid_datasource")


def all_but_the_bad_file_s_validated_frame(entry: dg.EventLogEntry) -> bool:
    assert entry.dagster_event is not None
    data = entry.dagster_event.event_specific_data
    bad = getattr(data, "partition", None) == BAD
    return not (bad and entry.dagster_event.asset_key == dg.AssetKey("validated_frame"))


@pytest.mark.parametrize("kept", [druid_datasource_only, all_but_the_bad_file_s_validated_frame])
def test_a_run_created_with_only_part_of_its_planned_events_shows_its_rejected_file_red(
    kept: Callable[[dg.EventLogEntry], bool],
) -> None:
    """The daemon killed midway through writing them: only some were stored."""
    world = new_world()
    world.upload(BAD, b"ts,team,points\n")
    world.upload(GOOD, csv(5))
    job = dg.Definitions(
        assets=[ingest], jobs=[ingest_job], resources=world.resources()
    ).resolve_job_def(ingest_job.name)
    run = world.instance.create_run_for_job(job, tags={RANGE_START_TAG: BAD, RANGE_END_TAG: GOOD})
    written = world.instance.all_logs(run.run_id, of_type=PLANNED)
    world.instance.event_log_storage.delete_events(run.run_id)
    for entry in filter(kept, written):
        world.instance.event_log_storage.store_event(entry)
    assert len(world.instance.all_logs(run.run_id, of_type=PLANNED)) < len(written)
    result = execute_run(InMemoryJob(job), run, world.instance)
    assert not result.success
    assert world.statuses("validated_frame") == ({GOOD}, {BAD})
    assert world.statuses("druid_datasource") == ({GOOD}, {BAD})
