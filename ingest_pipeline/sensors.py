"""upload_sensor: every new object, and every object overwritten with new content (new ETag),
becomes a dynamic partition and is run exactly once per version. New files of one dataset
found in a tick become ONE run over their partition range (up to the batch caps), so a burst
of uploads is one Druid task per dataset, not one per file; an overwrite runs alone.

The cursor is the map key -> ETag of every version already requested (zlib-compressed JSON),
so it does not depend on listing order or last-modified seconds: keys that sort before others,
objects sharing a second, and thousands of objects (listed 1000 a page) are all compared
against it. Each run key is key@etag (a batch: a digest of its key@etag list), so a tick can never
request the same versions twice (Dagster never launches the same run key twice for a sensor).

Where the objects come from: with INGEST_EVENTS_QUEUE_URL set, from the bucket's S3 event
notifications in an SQS queue plus a slow paginated reconciliation listing (event_sensor.py,
its cursor: sensor_state.py); without, from a listing of the whole prefix every tick. What a
tick decides is the same either way (tick_plan.py).
"""

from __future__ import annotations

import base64
import functools
import json
import time
import zlib
from collections.abc import Callable, Collection, Iterator

import dagster as dg

from ingest_pipeline.assets.retract import retract_job
from ingest_pipeline.assets.verdicts import verdict_observation
from ingest_pipeline.datasets import DeleteMode
from ingest_pipeline.event_sensor import plan_queue_tick
from ingest_pipeline.partitions import UPLOADS, upload_partitions
from ingest_pipeline.pools import repair_stale_pool_defaults
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.environment import sensor_interval_seconds
from ingest_pipeline.resources.event_queue import EventQueue
from ingest_pipeline.resources.object_store import ObjectStore
from ingest_pipeline.resources.settings import PipelineSettings, SensorSettings
from ingest_pipeline.tick_plan import (
    DATASET_TAG,
    ETAG_TAG,
    FILES_TAG,
    FORBIDDEN_IN_PARTITION_KEY,
    INGEST_JOB,
    LAUNCHED_BY_CLI,
    LAUNCHED_BY_TAG,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    BatchCaps,
    DeleteDecision,
    DeletedObject,
    RunToRequest,
    SkippedObject,
    SkipReason,
    TickPlan,
    VersionToIngest,
    decide_deletes,
    group_runs,
    plan_tick,
    skip_reason,
    versions_run_by_cli,
)

__all__ = [
    "DATASET_TAG",
    "ETAG_TAG",
    "FILES_TAG",
    "FORBIDDEN_IN_PARTITION_KEY",
    "LAUNCHED_BY_CLI",
    "LAUNCHED_BY_TAG",
    "PARTITION_TAG",
    "RANGE_END_TAG",
    "RANGE_START_TAG",
    "BatchCaps",
    "RunToRequest",
    "SkipReason",
    "SkippedObject",
    "TickPlan",
    "VersionToIngest",
    "decode_cursor",
    "encode_cursor",
    "group_runs",
    "ingest_job",
    "plan_tick",
    "skip_reason",
    "upload_sensor",
    "versions_run_by_cli",
]

#: Seconds between ticks. Dagster fixes it when the definitions load, so it is read then
#: (INGEST_SENSOR_INTERVAL_SECONDS), not through a resource.
SENSOR_INTERVAL_SECONDS = sensor_interval_seconds()
#: Run requests per tick: the rest wait for the next tick, so a tick stays well inside its timeout.
MAX_REQUESTS_PER_TICK = 500

ingest_job = dg.define_asset_job(
    INGEST_JOB,
    selection=dg.AssetSelection.groups("ingest"),
    # The four steps run one after another anyway; one process saves a Python start per step.
    executor_def=dg.in_process_executor,
    description="raw_file -> validated_frame -> druid_spec -> druid_datasource for one upload "
    "or a batch of uploads (a partition range)",
)


def encode_cursor(seen: dict[str, str]) -> str:
    return base64.b64encode(zlib.compress(json.dumps(seen, sort_keys=True).encode())).decode()


def decode_cursor(cursor: str | None) -> dict[str, str]:
    if not cursor:
        return {}
    return dict(json.loads(zlib.decompress(base64.b64decode(cursor))))


@dg.sensor(
    jobs=[ingest_job, retract_job],
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed objects under the uploads prefix -> partitions + runs (new "
    "files of a dataset batched into one run over their partition range); from the bucket's "
    "S3 events in a queue when INGEST_EVENTS_QUEUE_URL is set, else by listing; a delete "
    "event of a dataset with on_delete: retract -> a retract_upload run.",
)
def upload_sensor(
    context: dg.SensorEvaluationContext,
    s3: ObjectStore,
    sensor_settings: SensorSettings,
    events: EventQueue,
    pipeline_settings: PipelineSettings,
) -> dg.SensorResult:
    started = time.monotonic()
    # Before this tick's runs claim the Druid pool (see pools.py: a Dagster bug on Postgres).
    for pool in repair_stale_pool_defaults(context.instance):
        context.log.info(
            f"pool {pool!r}: its earlier default limit removed (dagster.yaml's applies)"
        )
    caps = BatchCaps.of(sensor_settings)
    on_delete = functools.cache(on_delete_of(pipeline_settings))
    waiting = QueuedDatasets(context.instance)
    if events.configured:
        tick = plan_queue_tick(
            context.cursor, context.instance, s3, events, caps, on_delete, waiting
        )
        plan, cursor, summary, deletes = tick.plan, tick.cursor, tick.summary, tick.deletes
        for note in tick.notes:
            context.log.info(note)
    else:
        plan, cursor, summary, deletes = listing_tick(context, s3, caps, on_delete, waiting)
    if plan.deferred:
        context.log.info(deferred_note(plan.deferred, s3.partition_key))
    for deleted in deletes:  # once: the delete leaves the cursor in the same tick
        context.log.info(delete_note(s3.uploads_bucket, deleted))
    retractions = [r for r in (d.run_request() for d in deletes) if r is not None]
    for skipped in plan.skipped:
        context.log.info(
            f"skipped s3://{s3.uploads_bucket}/{skipped.key}: {skipped.reason.message}"
        )
    for partition_key in plan.ran_elsewhere:
        context.log.info(f"{partition_key}: this version was run by `{LAUNCHED_BY_CLI}`")
    context.log.info(
        f"{summary}; requested {len(plan.versions)} versions in {len(plan.runs)} runs, "
        f"{len(plan.new_partitions)} new partitions, {len(retractions)} retractions in "
        f"{time.monotonic() - started:.2f}s"
    )
    return dg.SensorResult(
        run_requests=[*(run.run_request() for run in plan.runs), *retractions],
        dynamic_partitions_requests=[upload_partitions.build_add_request(list(plan.new_partitions))]
        if plan.new_partitions
        else [],
        # A skipped upload's verdict on its partition: a person sees it in the UI.
        asset_events=[
            verdict_observation(verdict)
            for verdict in (skipped.verdict() for skipped in plan.skipped)
            if verdict is not None
        ],
        cursor=cursor,
    )


class QueuedDatasets(Collection[str]):
    """datasets_with_a_queued_run, asked of the instance on first use only: a tick with no new
    version asks nothing (in queue mode the sensor ticks every second or two)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self._instance = instance

    @functools.cached_property
    def _queued(self) -> frozenset[str]:
        return datasets_with_a_queued_run(self._instance)

    def __contains__(self, dataset: object) -> bool:
        return dataset in self._queued

    def __iter__(self) -> Iterator[str]:
        return iter(self._queued)

    def __len__(self) -> int:
        return len(self._queued)


def datasets_with_a_queued_run(instance: dg.DagsterInstance) -> frozenset[str]:
    """Datasets whose ingest run still waits in Dagster's queue. Their new files wait for the
    first tick after it starts, and one run takes them all: a run per tick per dataset queued
    up behind each other instead (the 60-minute soak of 302963a ended with 653 queued)."""
    queued = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=INGEST_JOB,
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED],
        )
    )
    return frozenset(run.tags[DATASET_TAG] for run in queued if DATASET_TAG in run.tags)


def deferred_note(deferred: tuple[ObjectInfo, ...], partition_key: Callable[[str], str]) -> str:
    datasets = sorted({partition_key(obj.key).partition("/")[0] for obj in deferred})
    return (
        f"{len(deferred)} new versions wait for the next run of their dataset (a run of "
        f"{', '.join(datasets)} is still queued; the next tick after it starts requests them)"
    )


def on_delete_of(settings: PipelineSettings) -> Callable[[str], DeleteMode]:
    def on_delete(dataset: str) -> DeleteMode:
        return settings.dataset_config(dataset).on_delete

    return on_delete


def delete_note(bucket: str, deleted: DeletedObject) -> str:
    where = f"deleted: s3://{bucket}/{deleted.key}"
    if deleted.decision is DeleteDecision.RETRACT:
        return f"{where}: retract_upload requested for {deleted.partition_key} (on_delete: retract)"
    if deleted.decision is DeleteDecision.KEEP:
        return f"{where}: its rows stay in Druid (on_delete: keep)"
    return f"{where}: never ingested (no partition), nothing to retract"


def listing_tick(
    context: dg.SensorEvaluationContext,
    s3: ObjectStore,
    caps: BatchCaps,
    on_delete: Callable[[str], DeleteMode],
    waiting: Collection[str] = frozenset(),
) -> tuple[TickPlan, str, str, tuple[DeletedObject, ...]]:
    """No queue: list every object under the prefix and compare with the cursor; a key the
    cursor knew that the listing lacks was deleted (seen in exactly this tick: the cursor
    forgets it with this tick's run requests)."""
    seen = decode_cursor(context.cursor)
    objects = list(s3.list_uploads())
    existing = set(context.instance.get_dynamic_partitions(UPLOADS))
    plan = plan_tick(
        objects,
        seen,
        s3.partition_key,
        MAX_REQUESTS_PER_TICK,
        existing,
        caps,
        versions_run_by_cli(context.instance, objects, seen, s3.partition_key, existing),
        waiting=waiting,
    )
    listed = f"listed@{int(time.time() * 1000)}"
    deletes = decide_deletes(
        [(key, listed) for key in plan.removed], s3.partition_key, on_delete, existing
    )
    return plan, encode_cursor(plan.next_seen), f"listed {len(objects)} objects", deletes
