"""upload_sensor: every new object, and every object overwritten with new content (new ETag),
becomes a dynamic partition and is run exactly once per version. New files of one dataset
found in a tick become ONE run over their partition range (up to the batch caps), so a burst
of uploads is one Druid task per dataset, not one per file; an overwrite runs alone.

The cursor is the map key -> ETag of every version already requested (zlib-compressed JSON),
so it does not depend on listing order or last-modified seconds: keys that sort before others,
objects sharing a second, and thousands of objects (listed 1000 a page) are all compared
against it. Each run key is key@etag (a batch: a digest of its key@etag list), so a tick can never
request the same versions twice (Dagster never launches the same run key twice for a sensor).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

import dagster as dg

from ingest_pipeline.assets.verdicts import verdict_observation
from ingest_pipeline.partitions import UPLOADS, upload_partitions
from ingest_pipeline.pools import repair_stale_pool_defaults
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.environment import sensor_interval_seconds
from ingest_pipeline.resources.object_store import ObjectStore
from ingest_pipeline.resources.settings import SensorSettings
from ingest_pipeline.verdict import FileVerdict, Outcome, Stage
from ingest_pipeline.vocabulary import DATA_EXTENSIONS, GZIP_EXTENSIONS, Problem

#: Characters Dagster refuses in partition keys.
FORBIDDEN_IN_PARTITION_KEY = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")
#: Seconds between ticks. Dagster fixes it when the definitions load, so it is read then
#: (INGEST_SENSOR_INTERVAL_SECONDS), not through a resource.
SENSOR_INTERVAL_SECONDS = sensor_interval_seconds()
#: Run requests per tick: the rest wait for the next tick, so a tick stays well inside its timeout.
MAX_REQUESTS_PER_TICK = 500
#: Run tags: which dataset a run ingests (one run per dataset at a time, see dagster.yaml) and
#: how many files; the range tags make one run cover a batch of partitions.
DATASET_TAG = "ingest/dataset"
FILES_TAG = "ingest/files"
ETAG_TAG = "ingest/etag"
PARTITION_TAG = "dagster/partition"
#: `ingest-pipeline ingest` runs a file in its own process (no queue, no sensor) and tags that
#: run with this and the object's ETag; the sensor never runs such a version again.
LAUNCHED_BY_TAG = "ingest/launched_by"
LAUNCHED_BY_CLI = "ingest-pipeline ingest"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

ingest_job = dg.define_asset_job(
    "ingest_upload",
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


class SkipReason(StrEnum):
    """Why the sensor does not ingest an object. The visible ones get a partition and a
    `skipped` verdict a person sees in the UI; the others (folder markers, temporary names,
    keys Dagster cannot hold) are only logged."""

    FOLDER_MARKER = "folder marker"
    ZERO_BYTES = "zero bytes"
    HIDDEN_NAME = "temporary or hidden name"
    UNKNOWN_EXTENSION = "unknown extension"
    NOT_IN_DATASET = "not under a dataset folder"
    FORBIDDEN_CHARACTERS = "key contains characters Dagster partition keys cannot hold"

    @property
    def visible(self) -> bool:
        return self in (
            SkipReason.ZERO_BYTES,
            SkipReason.UNKNOWN_EXTENSION,
            SkipReason.NOT_IN_DATASET,
        )

    @property
    def message(self) -> str:
        if self is SkipReason.UNKNOWN_EXTENSION:
            return f"{self.value} (expected one of {', '.join(DATA_EXTENSIONS)}, optionally .gz)"
        if self is SkipReason.NOT_IN_DATASET:
            return f"{self.value} (<prefix>/<dataset>/<file>)"
        if self is SkipReason.FORBIDDEN_CHARACTERS:
            return f"{self.value} (control chars, '...')"
        return self.value

    def problem(self) -> Problem:
        return Problem(self.message, _SKIP_FIXES.get(self, "nothing to do: it is not data"))


_SKIP_FIXES = {
    SkipReason.ZERO_BYTES: "upload the file again with its content",
    SkipReason.UNKNOWN_EXTENSION: "give the file one of those extensions (optionally .gz) and "
    "upload it again",
    SkipReason.NOT_IN_DATASET: "upload it as <prefix>/<dataset>/<file>; the dataset names the "
    "Druid datasource",
    SkipReason.FORBIDDEN_CHARACTERS: "rename it without control characters or '...'",
}


def skip_reason(obj: ObjectInfo, partition_key: str) -> SkipReason | None:
    """Why an object is not a data file to ingest, or None if it is."""
    name = PurePosixPath(obj.key).name
    lower = name.lower()
    if obj.key.endswith("/"):
        return SkipReason.FOLDER_MARKER
    if obj.size == 0:
        return SkipReason.ZERO_BYTES
    if name.startswith((".", "_", "~")) or lower.endswith((".tmp", ".part", ".crdownload", "~")):
        return SkipReason.HIDDEN_NAME
    stem = lower
    for suffix in GZIP_EXTENSIONS:
        stem = stem.removesuffix(suffix)
    if not stem.endswith(DATA_EXTENSIONS) and not lower.endswith(GZIP_EXTENSIONS):
        return SkipReason.UNKNOWN_EXTENSION
    if "/" not in partition_key:
        return SkipReason.NOT_IN_DATASET
    if any(bad in partition_key for bad in FORBIDDEN_IN_PARTITION_KEY):
        return SkipReason.FORBIDDEN_CHARACTERS
    return None


@dataclass(frozen=True)
class VersionToIngest:
    """A new object, or an object overwritten with new content, to run once."""

    partition_key: str
    etag: str
    size: int = field(default=0, compare=False)  # counts against the batch's byte cap


@dataclass(frozen=True)
class RunToRequest:
    """One run: a single version, or a batch of new files of one dataset whose partitions are
    added together (contiguous), so the run covers them as one partition range."""

    versions: tuple[VersionToIngest, ...]

    @property
    def dataset(self) -> str:
        return self.versions[0].partition_key.partition("/")[0]

    @property
    def run_key(self) -> str:
        """Deterministic: the same versions are never requested twice (Dagster refuses a run
        key it has seen)."""
        if len(self.versions) == 1:
            only = self.versions[0]
            return f"{only.partition_key}@{only.etag}"
        text = "\n".join(f"{v.partition_key}@{v.etag}" for v in self.versions)
        digest = hashlib.sha256(text.encode()).hexdigest()[:20]
        return f"{self.dataset}/batch of {len(self.versions)}@{digest}"

    def run_request(self) -> dg.RunRequest:
        tags = {DATASET_TAG: self.dataset, FILES_TAG: str(len(self.versions))}
        if len(self.versions) == 1:
            only = self.versions[0]
            return dg.RunRequest(
                partition_key=only.partition_key,
                run_key=self.run_key,
                tags={**tags, ETAG_TAG: only.etag},
            )
        return dg.RunRequest(
            run_key=self.run_key,
            tags={
                **tags,
                RANGE_START_TAG: self.versions[0].partition_key,
                RANGE_END_TAG: self.versions[-1].partition_key,
            },
        )


@dataclass(frozen=True)
class SkippedObject:
    key: str
    reason: SkipReason
    partition_key: str | None = None  # its partition, when it gets one to carry the verdict
    etag: str | None = field(default=None, compare=False)

    def verdict(self) -> FileVerdict | None:
        """The `skipped` verdict shown on its partition (None: it has no partition)."""
        if self.partition_key is None:
            return None
        return FileVerdict(
            self.partition_key, Outcome.SKIPPED, Stage.SENSOR, self.etag, self.reason.problem()
        )


@dataclass(frozen=True)
class BatchCaps:
    """How much one run may take: new files of one dataset are batched up to these."""

    max_files: int = 200
    max_bytes: int = 2 * 1024**3

    @classmethod
    def of(cls, settings: SensorSettings) -> BatchCaps:
        return cls(max(1, settings.batch_max_files), max(1, settings.batch_max_bytes))


@dataclass(frozen=True)
class TickPlan:
    """What one sensor tick decides: runs to request, partitions to add (in this order: each
    batch's keys contiguous), the next cursor, objects skipped."""

    runs: tuple[RunToRequest, ...]
    new_partitions: tuple[str, ...]
    next_seen: dict[str, str]
    skipped: tuple[SkippedObject, ...]
    ran_elsewhere: tuple[str, ...] = ()  # partitions whose version `ingest-pipeline ingest` ran

    @property
    def versions(self) -> list[VersionToIngest]:
        return [v for run in self.runs for v in run.versions]


def plan_tick(
    objects: Iterable[ObjectInfo],
    seen: dict[str, str],
    partition_key_of: Callable[[str], str],
    limit: int,
    existing_partitions: Collection[str] = (),
    caps: BatchCaps = BatchCaps(),
    ran_elsewhere: Collection[tuple[str, str]] = (),
) -> TickPlan:
    """Compare a listing with the cursor (key -> ETag already decided) and group the new
    versions into runs: new files of a dataset in batches, a known partition alone. Versions
    in `ran_elsewhere` ((partition, ETag) run by `ingest-pipeline ingest`) are decided."""
    wanted: list[VersionToIngest] = []
    skipped: list[SkippedObject] = []
    elsewhere: list[str] = []
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
                partition = partition_key if reason.visible else None
                skipped.append(SkippedObject(obj.key, reason, partition, obj.etag))
            next_seen[obj.key] = obj.etag  # decided; log it once, not every tick
            continue
        if (partition_key, obj.etag) in ran_elsewhere:
            elsewhere.append(partition_key)
            next_seen[obj.key] = obj.etag
            continue
        if len(wanted) >= limit:
            continue  # next tick
        wanted.append(VersionToIngest(partition_key, obj.etag, obj.size))
        next_seen[obj.key] = obj.etag
    # Deleted objects leave the cursor (keeps it small); a later upload is new again.
    for key in set(next_seen) - present:
        del next_seen[key]
    existing = set(existing_partitions)
    runs = group_runs(wanted, existing, caps)
    new_partitions = [v.partition_key for run in runs for v in run.versions]
    new_partitions = [k for k in new_partitions if k not in existing]
    new_partitions += sorted(
        {s.partition_key for s in skipped if s.partition_key} - existing - set(new_partitions)
    )
    return TickPlan(tuple(runs), tuple(new_partitions), next_seen, tuple(skipped), tuple(elsewhere))


def versions_run_by_cli(
    instance: dg.DagsterInstance,
    objects: Iterable[ObjectInfo],
    seen: dict[str, str],
    partition_key_of: Callable[[str], str],
    existing_partitions: Collection[str],
) -> set[tuple[str, str]]:
    """(partition, ETag) of the listed versions the sensor has not decided that
    `ingest-pipeline ingest` already ran (only existing partitions can have been: the command
    adds the partition before it uploads). One query, none when no such version is listed."""
    etags = {
        obj.etag
        for obj in objects
        if seen.get(obj.key) != obj.etag and partition_key_of(obj.key) in existing_partitions
    }
    if not etags:
        return set()
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={LAUNCHED_BY_TAG: LAUNCHED_BY_CLI, ETAG_TAG: sorted(etags)})
    )
    return {(run.tags.get(PARTITION_TAG, ""), run.tags[ETAG_TAG]) for run in runs}


def group_runs(
    versions: Sequence[VersionToIngest], existing: Collection[str], caps: BatchCaps
) -> list[RunToRequest]:
    """New partitions of one dataset, sorted by key, in batches within the caps; a version of
    a partition that exists already (an overwrite) alone: it cannot join a contiguous range."""
    runs: list[RunToRequest] = []
    by_dataset: dict[str, list[VersionToIngest]] = {}
    for version in sorted(versions, key=lambda v: v.partition_key):
        if version.partition_key in existing:
            runs.append(RunToRequest((version,)))
        else:
            by_dataset.setdefault(version.partition_key.partition("/")[0], []).append(version)
    for dataset_versions in by_dataset.values():
        batch: list[VersionToIngest] = []
        for version in dataset_versions:
            too_many = len(batch) >= caps.max_files
            too_big = batch and sum(v.size for v in batch) + version.size > caps.max_bytes
            if too_many or too_big:
                runs.append(RunToRequest(tuple(batch)))
                batch = []
            batch.append(version)
        if batch:
            runs.append(RunToRequest(tuple(batch)))
    return runs


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New or changed objects under the uploads prefix -> partitions + runs (new "
    "files of a dataset batched into one run over their partition range).",
)
def upload_sensor(
    context: dg.SensorEvaluationContext, s3: ObjectStore, sensor_settings: SensorSettings
) -> dg.SensorResult:
    started = time.monotonic()
    # Before this tick's runs claim the Druid pool (see pools.py: a Dagster bug on Postgres).
    for pool in repair_stale_pool_defaults(context.instance):
        context.log.info(
            f"pool {pool!r}: its earlier default limit removed (dagster.yaml's applies)"
        )
    seen = decode_cursor(context.cursor)
    objects = list(s3.list_uploads())
    existing = set(context.instance.get_dynamic_partitions(UPLOADS))
    plan = plan_tick(
        objects,
        seen,
        s3.partition_key,
        MAX_REQUESTS_PER_TICK,
        existing,
        BatchCaps.of(sensor_settings),
        versions_run_by_cli(context.instance, objects, seen, s3.partition_key, existing),
    )
    for skipped in plan.skipped:
        context.log.info(
            f"skipped s3://{s3.uploads_bucket}/{skipped.key}: {skipped.reason.message}"
        )
    for partition_key in plan.ran_elsewhere:
        context.log.info(f"{partition_key}: this version was run by `{LAUNCHED_BY_CLI}`")
    context.log.info(
        f"listed {len(objects)} objects, requested {len(plan.versions)} versions in "
        f"{len(plan.runs)} runs, {len(plan.new_partitions)} new partitions in "
        f"{time.monotonic() - started:.2f}s"
    )
    return dg.SensorResult(
        run_requests=[run.run_request() for run in plan.runs],
        dynamic_partitions_requests=[upload_partitions.build_add_request(list(plan.new_partitions))]
        if plan.new_partitions
        else [],
        # A skipped upload's verdict on its partition: a person sees it in the UI.
        asset_events=[
            verdict_observation(verdict)
            for verdict in (skipped.verdict() for skipped in plan.skipped)
            if verdict is not None
        ],
        cursor=encode_cursor(plan.next_seen),
    )
