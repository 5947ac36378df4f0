"""What one tick of upload_sensor decides, as pure functions: which objects are data files
(SkipReason), which versions are new against the cursor's key -> ETag map (plan_tick) and how
they are grouped into runs (group_runs: new files of a dataset batched into one run over their
partition range, an overwrite alone). Whatever feeds it, a full listing, a page of one or the
S3 events of a queue, the decisions are the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

import dagster as dg

from ingest_pipeline.datasets import DeleteMode
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.settings import SensorSettings
from ingest_pipeline.verdict import FileVerdict, Outcome, Stage
from ingest_pipeline.vocabulary import DATA_EXTENSIONS, GZIP_EXTENSIONS, Problem

#: Characters Dagster refuses in partition keys.
FORBIDDEN_IN_PARTITION_KEY = (
    "...",
    "\a",
    "\b",
    "\f",
    "\n",
    "\r",
    "\t",
    "\v",
    "\0",
)  #: Run tags: which dataset a run ingests (one run per dataset at a time, see dagster.yaml) and
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
#: The sensor's two jobs: ingest versions (the asset graph), retract deleted files.
INGEST_JOB = "ingest_upload"
RETRACT_JOB = "retract_upload"


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
    # any gzip is taken (a.csv.gz and a bare a.gz alike): validation reads what it holds
    if not lower.endswith(DATA_EXTENSIONS + GZIP_EXTENSIONS):
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
                job_name=INGEST_JOB,
                partition_key=only.partition_key,
                run_key=self.run_key,
                tags={**tags, ETAG_TAG: only.etag},
            )
        return dg.RunRequest(
            job_name=INGEST_JOB,
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
    removed: tuple[str, ...] = ()  # keys decided before that the listing no longer holds
    # new versions left undecided: their dataset's previous run is still queued, and the
    # next run takes them all once it starts (not one queued run per tick)
    deferred: tuple[ObjectInfo, ...] = ()

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
    listed: Callable[[str], bool] | None = None,
    waiting: Collection[str] = (),
) -> TickPlan:
    """Compare a listing with the cursor (key -> ETag already decided) and group the new
    versions into runs: new files of a dataset in batches, a known partition alone. Versions
    in `ran_elsewhere` ((partition, ETag) run by `ingest-pipeline ingest`) are decided.
    `listed(key)`: whether `objects` would hold the key if it existed (default: every key,
    a full listing); a decided key it would hold but does not was deleted. Versions of a
    dataset in `waiting` (a run of it is queued) stay undecided: `deferred`."""
    wanted: list[VersionToIngest] = []
    deferred: list[ObjectInfo] = []
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
        if partition_key.partition("/")[0] in waiting:
            deferred.append(obj)
            continue
        if len(wanted) >= limit:
            continue  # next tick
        wanted.append(VersionToIngest(partition_key, obj.etag, obj.size))
        next_seen[obj.key] = obj.etag
    removed = forget_deleted(next_seen, present, listed)
    existing = set(existing_partitions)
    runs = group_runs(wanted, existing, caps)
    return TickPlan(
        tuple(runs),
        partitions_to_add(runs, skipped, existing),
        next_seen,
        tuple(skipped),
        tuple(elsewhere),
        tuple(removed),
        tuple(deferred),
    )


def partitions_to_add(
    runs: Sequence[RunToRequest], skipped: Sequence[SkippedObject], existing: set[str]
) -> tuple[str, ...]:
    """The runs' new partitions in run order (a batch's keys contiguous, so one range), then
    the skipped files' that carry a verdict, sorted."""
    new = [v.partition_key for run in runs for v in run.versions if v.partition_key not in existing]
    new += sorted({s.partition_key for s in skipped if s.partition_key} - existing - set(new))
    return tuple(new)


def forget_deleted(
    seen: dict[str, str], present: set[str], listed: Callable[[str], bool] | None
) -> tuple[str, ...]:
    """Deleted objects leave the cursor `seen` (keeps it small; a later upload is new again):
    the keys it knew that the listing would hold but does not, returned."""
    removed = [k for k in sorted(set(seen) - present) if listed is None or listed(k)]
    for key in removed:
        del seen[key]
    return tuple(removed)


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


class DeleteDecision(StrEnum):
    """What the sensor does about an object deleted from the bucket."""

    RETRACT = "retract"  # on_delete: retract and it has a partition: a retract_upload run
    KEEP = "keep"  # on_delete: keep (the default): its rows stay, nothing runs
    NEVER_INGESTED = "never ingested"  # no partition: the pipeline never took it, nothing runs


@dataclass(frozen=True)
class DeletedObject:
    """An object a delete event removed, and what the sensor does about it."""

    key: str
    partition_key: str
    # the delete event's (a listing: "listed@<tick's epoch ms>"): a later delete of the same
    # key is another run; the same event delivered again is the same run key
    sequencer: str
    decision: DeleteDecision

    @property
    def run_key(self) -> str:
        return f"{self.partition_key}@deleted:{self.sequencer}"

    def run_request(self) -> dg.RunRequest | None:
        if self.decision is not DeleteDecision.RETRACT:
            return None
        return dg.RunRequest(
            job_name=RETRACT_JOB,
            partition_key=self.partition_key,
            run_key=self.run_key,
            tags={DATASET_TAG: self.partition_key.partition("/")[0]},
        )


def decide_deletes(
    removed: Iterable[tuple[str, str]],
    partition_key_of: Callable[[str], str],
    on_delete_of: Callable[[str], DeleteMode],
    existing_partitions: Collection[str],
) -> tuple[DeletedObject, ...]:
    """Per removed (key, sequencer): retract when its dataset says so and the pipeline ever
    took it (it has a partition: ingested, rejected or skipped); keep otherwise."""
    deleted = []
    for key, sequencer in removed:
        partition_key = partition_key_of(key)
        if partition_key not in existing_partitions:
            decision = DeleteDecision.NEVER_INGESTED
        elif on_delete_of(partition_key.partition("/")[0]) is DeleteMode.RETRACT:
            decision = DeleteDecision.RETRACT
        else:
            decision = DeleteDecision.KEEP
        deleted.append(DeletedObject(key, partition_key, sequencer, decision))
    return tuple(deleted)
