"""`ingest-pipeline ingest`: one file ingested now, and never twice.

When a Dagster daemon is ticking the upload sensor, the sensor's run ingests the upload (the
command follows it): a second run of the same file in this process would race it into Druid.
Without one, the file runs here, tagged with its ETag, and the sensor, once it runs, takes that
version as decided.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType
from rich.console import Console

from ingest_pipeline.console.paths import UploadItem
from ingest_pipeline.console.runs import run_facts
from ingest_pipeline.console.upload import upload_items
from ingest_pipeline.console.verdicts import Verdict, verdict_from_run
from ingest_pipeline.pools import repair_stale_pool_defaults
from ingest_pipeline.resources.object_store import ObjectStore
from ingest_pipeline.sensors import (
    DATASET_TAG,
    ETAG_TAG,
    LAUNCHED_BY_CLI,
    LAUNCHED_BY_TAG,
    upload_sensor,
)


@dataclass(frozen=True)
class SensorActivity:
    """Whether a daemon is ticking upload_sensor on this instance, and how we know."""

    ticking: bool
    reason: str


@dataclass(frozen=True)
class SensorTicks:
    """What the instance stores of one upload_sensor: stopped or not, its last tick (epoch
    seconds, 0 = never) and its interval."""

    stopped: bool
    last_tick: float
    interval: float


def sensor_activity(sensors: list[SensorTicks], now: float) -> SensorActivity:
    """Ticking when a sensor is not stopped and its last tick is recent: within three of its
    intervals plus 20 s (a tick may take a while; a daemon gone longer than that ticks no more).
    """
    if not sensors:
        return SensorActivity(False, "no Dagster daemon has ticked upload_sensor on this instance")
    for sensor in sensors:
        age = now - sensor.last_tick
        if not sensor.stopped and age <= 3 * sensor.interval + 20:
            return SensorActivity(True, f"upload_sensor ticked {age:.0f} s ago")
    if all(sensor.stopped for sensor in sensors):
        return SensorActivity(False, "upload_sensor is stopped (Dagster UI: Automation)")
    newest = max(sensor.last_tick for sensor in sensors if not sensor.stopped)
    if not newest:
        return SensorActivity(False, "upload_sensor has never ticked: no daemon")
    return SensorActivity(False, f"upload_sensor last ticked {now - newest:.0f} s ago: no daemon")


def upload_sensor_activity(instance: dg.DagsterInstance) -> SensorActivity:
    default_interval = upload_sensor.minimum_interval_seconds or 30
    sensors = []
    for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        if state.instigator_name != upload_sensor.name:
            continue
        data = state.instigator_data
        last_tick = max(
            getattr(data, "last_tick_start_timestamp", None) or 0,
            getattr(data, "last_tick_timestamp", None) or 0,
        )
        interval = getattr(data, "min_interval", None) or default_interval
        stopped = state.status == InstigatorStatus.STOPPED
        sensors.append(SensorTicks(stopped, last_tick, interval))
    return sensor_activity(sensors, time.time())


def ingest_here(
    instance: dg.DagsterInstance, s3: ObjectStore, item: UploadItem, console: Console
) -> dg.ExecuteInProcessResult:
    """Add the partition, upload, and run the four assets in this process, tagged with the
    object's ETag (the sensor skips this version: see versions_run_by_cli)."""
    from ingest_pipeline.definitions import defs
    from ingest_pipeline.partitions import UPLOADS

    job = defs.resolve_job_def("ingest_upload")
    for pool in repair_stale_pool_defaults(instance):
        console.print(f"pool {pool!r}: its earlier default limit removed (dagster.yaml's applies)")
    # Partition before object: a sensor that lists the object finds the partition, so it looks
    # for this run instead of taking the file as new.
    instance.add_dynamic_partitions(UPLOADS, [item.partition])
    (uploaded,) = upload_items(s3, [item], console)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    return job.execute_in_process(
        partition_key=item.partition,
        instance=instance,
        run_config=quiet,
        tags={
            DATASET_TAG: item.dataset,
            ETAG_TAG: uploaded.info.etag,
            LAUNCHED_BY_TAG: LAUNCHED_BY_CLI,
        },
        raise_on_error=False,
    )


def ran_here_verdict(
    instance: dg.DagsterInstance,
    result: dg.ExecuteInProcessResult,
    item: UploadItem,
    ui_base: str | None,
) -> Verdict:
    """The file's verdict as its run here recorded it (the same record `upload --wait` and
    `status` read)."""
    run = instance.get_run_by_id(result.run_id)
    assert run is not None, result.run_id
    facts = run_facts(instance, run, item.partition)
    return verdict_from_run(item.partition, facts, ui_base, str(item.local))
