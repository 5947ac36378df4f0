"""upload_sensor: every new object, and every object overwritten with new content (new ETag),
becomes a dynamic partition and one run, exactly once per version.

The cursor is the map key -> ETag of every version already requested (zlib-compressed JSON),
so it does not depend on listing order or last-modified seconds: keys that sort before others,
objects sharing a second, and thousands of objects (listed 1000 a page) are all compared
against it. Each run key is key@etag, so even a cursor lost with a failed tick cannot request
a version twice (Dagster never launches the same run key twice for a sensor).
"""

import base64
import json
import os
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

import dagster as dg

from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.vocabulary import DATA_EXTENSIONS, GZIP_EXTENSIONS

#: Characters Dagster refuses in partition keys.
FORBIDDEN_IN_PARTITION_KEY = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")
#: Seconds between ticks. Dagster fixes it when the definitions load, so it is read from the
#: environment then (INGEST_SENSOR_INTERVAL_SECONDS), not through a resource.
SENSOR_INTERVAL_SECONDS = int(os.environ.get("INGEST_SENSOR_INTERVAL_SECONDS", "15"))
#: Run requests per tick: the rest wait for the next tick, so a tick stays well inside its timeout.
MAX_REQUESTS_PER_TICK = 500

ingest_job = dg.define_asset_job(
    "ingest_upload",
    selection=dg.AssetSelection.groups("ingest"),
    # The four steps run one after another anyway; one process saves a Python start per step.
    executor_def=dg.in_process_executor,
    description="raw_file -> validated_frame -> druid_spec -> druid_datasource for one upload",
)


def encode_cursor(seen: dict[str, str]) -> str:
    return base64.b64encode(zlib.compress(json.dumps(seen, sort_keys=True).encode())).decode()


def decode_cursor(cursor: str | None) -> dict[str, str]:
    if not cursor:
        return {}
    return dict(json.loads(zlib.decompress(base64.b64decode(cursor))))


def skip_reason(obj: ObjectInfo, partition_key: str) -> str | None:
    """Why an object is not a data file to ingest, or None if it is."""
    name = PurePosixPath(obj.key).name
    lower = name.lower()
    if obj.key.endswith("/"):
        return "folder marker"
    if obj.size == 0:
        return "zero bytes"
    if name.startswith((".", "_", "~")) or lower.endswith((".tmp", ".part", ".crdownload", "~")):
        return "temporary or hidden name"
    stem = lower
    for suffix in GZIP_EXTENSIONS:
        stem = stem.removesuffix(suffix)
    if not stem.endswith(DATA_EXTENSIONS) and not lower.endswith(GZIP_EXTENSIONS):
        return f"unknown extension (expected one of {', '.join(DATA_EXTENSIONS)}, optionally .gz)"
    if "/" not in partition_key:
        return "not under a dataset folder (<prefix>/<dataset>/<file>)"
    if any(bad in partition_key for bad in FORBIDDEN_IN_PARTITION_KEY):
        return "key contains characters Dagster partition keys cannot hold (control chars, '...')"
    return None


@dataclass(frozen=True)
class VersionToIngest:
    """A new object, or an object overwritten with new content, to run once."""

    partition_key: str
    etag: str


@dataclass(frozen=True)
class SkippedObject:
    key: str
    reason: str


@dataclass(frozen=True)
class TickPlan:
    """What one sensor tick decides: runs to request, the next cursor, objects skipped."""

    requests: tuple[VersionToIngest, ...]
    next_seen: dict[str, str]
    skipped: tuple[SkippedObject, ...]


def plan_tick(
    objects: Iterable[ObjectInfo],
    seen: dict[str, str],
    partition_key_of: Callable[[str], str],
    limit: int,
) -> TickPlan:
    """Compare a listing with the cursor (key -> ETag already decided)."""
    requests: list[VersionToIngest] = []
    skipped: list[SkippedObject] = []
    next_seen = dict(seen)
    present = set()
    for obj in objects:
        present.add(obj.key)
        if seen.get(obj.key) == obj.etag:
            continue
        partition_key = partition_key_of(obj.key)
        reason = skip_reason(obj, partition_key)
        if reason:
            if obj.key not in seen:
                skipped.append(SkippedObject(obj.key, reason))
            next_seen[obj.key] = obj.etag  # decided; log it once, not every tick
            continue
        if len(requests) >= limit:
            continue  # next tick
        requests.append(VersionToIngest(partition_key, obj.etag))
        next_seen[obj.key] = obj.etag
    # Deleted objects leave the cursor (keeps it small); a later upload is new again.
    for key in set(next_seen) - present:
        del next_seen[key]
    return TickPlan(tuple(requests), next_seen, tuple(skipped))


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed objects under the uploads prefix -> partition + run.",
)
def upload_sensor(context: dg.SensorEvaluationContext, s3: S3Storage) -> dg.SensorResult:
    started = time.monotonic()
    seen = decode_cursor(context.cursor)
    objects = list(s3.list_uploads())
    plan = plan_tick(objects, seen, s3.partition_key, MAX_REQUESTS_PER_TICK)
    for skipped in plan.skipped:
        context.log.info(f"skipped s3://{s3.uploads_bucket}/{skipped.key}: {skipped.reason}")
    new_keys = sorted(
        {request.partition_key for request in plan.requests}
        - set(context.instance.get_dynamic_partitions(upload_partitions.name))
    )
    context.log.info(
        f"listed {len(objects)} objects, requested {len(plan.requests)} runs, "
        f"{len(new_keys)} new partitions in {time.monotonic() - started:.2f}s"
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                partition_key=request.partition_key,
                run_key=f"{request.partition_key}@{request.etag}",
                tags={"ingest/etag": request.etag},
            )
            for request in plan.requests
        ],
        dynamic_partitions_requests=[upload_partitions.build_add_request(new_keys)]
        if new_keys
        else [],
        cursor=encode_cursor(plan.next_seen),
    )
