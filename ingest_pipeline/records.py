"""Typed records handed from asset to asset and returned by the resources.

Each is frozen: an asset's output is a fact about one upload, not a bag to fill in later. A
misspelled field fails at import or in a unit test, not at run time against Druid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ingest_pipeline.findings import ColumnReport, SchemaDrift, TimeFacts
from ingest_pipeline.vocabulary import DruidType, Problem, RejectedRow

# --------------------------------------------------------------------------- S3


@dataclass(frozen=True)
class ObjectInfo:
    """One S3 object as a listing or a HEAD reports it."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class UploadedObject:
    """raw_file: an upload under <prefix>/<dataset>/<name>, as it is (no copy)."""

    dataset: str
    name: str
    object: ObjectInfo
    file_format: str  # a first look for the UI; validation decides for real
    compression: str | None

    @property
    def key(self) -> str:
        return self.object.key

    @property
    def uri(self) -> str:
        return self.object.uri

    @property
    def etag(self) -> str:
        return self.object.etag

    @property
    def datasource(self) -> str:
        """The dataset names the Druid datasource."""
        return self.dataset

    @property
    def partition_key(self) -> str:
        """Its Dagster partition: "<dataset>/<name>"."""
        return f"{self.dataset}/{self.name}"


@dataclass(frozen=True)
class DruidS3Access:
    """How Druid's workers reach the store: endpoint, region and credential *providers*
    (e.g. environment variable names), so no secret is written into a spec."""

    endpoint_url: str
    region: str
    access_key_id: Mapping[str, str]
    secret_access_key: Mapping[str, str]


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class ValidatedArtifacts:
    """Where validated_frame stored the file's validated forms (validated bucket)."""

    druid_input_uri: str  # NDJSON.gz, percent-encoded for Druid's URI parser
    parquet_uri: str
    report_uri: str


@dataclass(frozen=True)
class ValidationOutcome:
    """validated_frame of one file: a ValidatedUpload or a RejectedUpload."""

    upload: UploadedObject


@dataclass(frozen=True)
class ValidatedUpload(ValidationOutcome):
    """validated_frame for a file that can be ingested."""

    row_count: int
    schema: tuple[tuple[str, DruidType], ...]  # user columns; no __time, no __source_key
    time_column: str | None  # None: every row gets the constant time
    time_min: datetime
    time_max: datetime
    duplicate_rows: int
    rejected_rows: tuple[RejectedRow, ...]
    column_report: Mapping[str, ColumnReport]  # per user column: nulls, range or distinct
    warnings: tuple[str, ...]
    artifacts: ValidatedArtifacts
    time_facts: TimeFacts = TimeFacts()  # how __time was decided
    # its columns against the datasource's, and what the dataset's schema contract did
    schema_drift: SchemaDrift = SchemaDrift()
    # The failed WARN checks of validation ("check: why"), set once they are evaluated: they
    # travel with the file to its verdict (see PlannedFile.validation_warnings).
    check_warnings: tuple[str, ...] = ()

    @property
    def columns(self) -> dict[str, DruidType]:
        return dict(self.schema)


@dataclass(frozen=True)
class RejectedUpload(ValidationOutcome):
    """validated_frame for a file that cannot be ingested: why, and how to fix it."""

    problem: Problem

    @property
    def message(self) -> str:
        return self.problem.message(self.upload.key)


@dataclass(frozen=True)
class MissingUpload:
    """A partition whose object is gone (deleted after it was detected)."""

    partition_key: str
    key: str
    problem: Problem
    etag: str | None = None  # the version the run was asked for, if one was: it is the one lost


@dataclass(frozen=True)
class RawFiles:
    """raw_file over a run's partitions: the uploads found, and those gone."""

    uploads: Mapping[str, UploadedObject]
    missing: Mapping[str, MissingUpload]


@dataclass(frozen=True)
class ValidationOutcomes:
    """validated_frame over a run's partitions, keyed by partition; a partition whose object
    was gone is among the rejected ones only if raw_file saw it (see `missing`)."""

    validated: Mapping[str, ValidatedUpload]
    rejected: Mapping[str, RejectedUpload]
    missing: Mapping[str, MissingUpload]


# --------------------------------------------------------------------------- Druid


@dataclass(frozen=True)
class SourceRows:
    """How many rows of one uploaded file a datasource holds, and their time span."""

    count: int
    first: datetime | None
    last: datetime | None


NO_ROWS = SourceRows(0, None, None)


@dataclass(frozen=True)
class DatasourceState:
    """What the ingestion planner needs to know of a datasource, gathered in one call."""

    exists: bool
    columns: Mapping[str, str]  # column -> Druid SQL type (VARCHAR, BIGINT, ...)
    segment_interval: tuple[datetime, datetime] | None  # one live segment's interval
    previous: Mapping[str, SourceRows]  # per S3 key asked about: its rows already in it

    @classmethod
    def empty(cls) -> DatasourceState:
        return cls(False, {}, None, {})

    def previous_rows(self, source_key: str) -> SourceRows:
        return self.previous.get(source_key, NO_ROWS)


@dataclass(frozen=True)
class SegmentsServed:
    """Live segments over an interval: how many are published and how many are queryable."""

    published: int
    available: int

    @property
    def all_available(self) -> bool:
        return self.published > 0 and self.available == self.published

    @property
    def percent(self) -> float:
        return 100.0 * self.available / self.published if self.published else 0.0


@dataclass(frozen=True)
class DatasourceSummary:
    """A datasource as `status` shows it: rows, time range, files and live segments."""

    rows: int
    first: datetime | None
    last: datetime | None
    source_files: int
    segments: int


@dataclass(frozen=True)
class SegmentStats:
    """A datasource's live segments: how many, and the median rows in one."""

    count: int
    median_rows: int


@dataclass(frozen=True)
class TaskOutcome:
    """A finished Druid task: its status, row counts and, on failure, what went wrong."""

    task_id: str
    status: str  # SUCCESS or FAILED
    error_message: str | None
    row_stats: Mapping[str, int]
    parse_exceptions: tuple[Any, ...] = ()
    log_tail: str = ""
    root_cause: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"

    def bad_rows(self) -> dict[str, int]:
        return {
            name: int(self.row_stats.get(name, 0) or 0)
            for name in ("unparseable", "processedWithError", "thrownAway")
        }


# --------------------------------------------------------------------------- ingestion


@dataclass(frozen=True)
class Append:
    """Files Druid has never seen: added beside other files' rows in these time chunks."""

    intervals: tuple[str, ...]

    def describe(self) -> str:
        return "append (new files)"


@dataclass(frozen=True)
class Replace:
    """A file seen before: these time chunks are rewritten without its old rows, plus its new."""

    intervals: tuple[str, ...]
    previous_rows: int
    source_key: str  # the file whose old rows are dropped

    def describe(self) -> str:
        return "replace (combining reindex)"


IngestMode = Append | Replace


@dataclass(frozen=True)
class PlannedFile:
    """One validated file inside an ingestion task: what Druid must hold of it afterwards."""

    partition_key: str
    source_key: str
    etag: str
    validated_rows: int
    validated_interval: tuple[datetime, datetime]
    specified_columns: Mapping[str, DruidType]
    validation_warnings: tuple[str, ...] = ()  # the file's failed WARN validation checks
    schema_drift: tuple[str, ...] = ()  # how its columns differ from the datasource's


@dataclass(frozen=True)
class IngestionPlan:
    """One Druid task: the files it ingests into one datasource, and the task JSON."""

    datasource: str
    task_id: str  # derived from the spec: a retried run finds its task instead of a second one
    mode: IngestMode
    segment_granularity: str
    files: tuple[PlannedFile, ...]
    spec: Mapping[str, Any]  # the Druid task JSON, as posted (credentials are providers)

    @property
    def validated_rows(self) -> int:
        return sum(f.validated_rows for f in self.files)

    @property
    def specified_columns(self) -> dict[str, DruidType]:
        columns: dict[str, DruidType] = {}
        for planned in self.files:
            for name, druid_type in planned.specified_columns.items():
                # a clash between files is written as string (see spec.merge_dimensions)
                columns[name] = (
                    druid_type if columns.get(name, druid_type) == druid_type else "string"
                )
        return columns


class NotPlannedKind(StrEnum):
    """Why druid_spec planned no task for a validated file."""

    REFUSED = "refused"  # the file breaks a rule (e.g. too many time chunks): fix the file
    UNAVAILABLE = "unavailable"  # Druid could not be asked safely: re-run later


@dataclass(frozen=True)
class RefusedFile:
    """A validated file druid_spec did not submit, and why."""

    partition_key: str
    source_key: str
    problem: Problem
    kind: NotPlannedKind = NotPlannedKind.REFUSED


@dataclass(frozen=True)
class IngestionPlans:
    """druid_spec over a run's files: the tasks to run and the files refused before Druid."""

    plans: tuple[IngestionPlan, ...]
    refused: tuple[RefusedFile, ...]


@dataclass(frozen=True)
class IngestLimits:
    """How long the Druid side of an ingestion may take, and how segments are compacted."""

    task_timeout_seconds: float
    segment_load_timeout_seconds: float
    schema_wait_seconds: float
    max_rows_per_segment: int


@dataclass(frozen=True)
class IngestedTask:
    """A Druid task that succeeded, and what Druid shows afterwards: each file's rows as the
    broker returns them, the segments over the task's time range, the datasource's columns."""

    outcome: TaskOutcome
    rows: Mapping[str, SourceRows]  # per S3 key of the task's files
    served: SegmentsServed
    columns: Mapping[str, str]  # column -> Druid SQL type
    segments: SegmentStats
    task_seconds: float
    segment_load_seconds: float
    queryable_seconds: float  # submit -> every file's rows returned by the broker


# --------------------------------------------------------------------------- deletes


@dataclass(frozen=True)
class RetractionPlan:
    """A file deleted from the bucket under `on_delete: retract`: the replace task that
    rewrites the time chunks its rows occupy without them (`task` None: Druid holds no row
    of it, e.g. it was rejected, so nothing runs)."""

    partition_key: str
    source_key: str
    rows_in_druid: int
    task: IngestionPlan | None


@dataclass(frozen=True)
class RetractedTask:
    """A retraction task that succeeded, and the file's rows Druid still returns (none)."""

    outcome: TaskOutcome
    rows_left: SourceRows
    task_seconds: float
