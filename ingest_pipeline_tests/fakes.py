"""In-memory stand-ins for the object store and Druid, for fast asset-level tests.

They implement the same abstract resources as S3Storage and DruidResource, so the real ingest
graph runs against them in-process: batching, per-file verdicts and partition status, replace
planning, task failures, retries. They prove nothing about S3 or Druid themselves: every claim
that a file is *ingested* is also proven against the real stack (ingest_pipeline_tests/
integration). FakeDruid does what a task does to rows: it reads the task's NDJSON.gz inputs
from the fake store and appends them, or replaces one file's rows.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import dagster as dg
from pydantic import Field

from ingest_pipeline.records import (
    NO_ROWS,
    DatasourceState,
    DruidS3Access,
    IngestedTask,
    IngestionPlan,
    IngestLimits,
    ObjectInfo,
    Replace,
    RetractedTask,
    SegmentsServed,
    SegmentStats,
    SourceRows,
    TaskOutcome,
)
from ingest_pipeline.resources.druid_service import DruidService
from ingest_pipeline.resources.druid_wire import DruidTaskFailed, DruidUnavailable
from ingest_pipeline.resources.event_queue import EventQueue, QueueMessage
from ingest_pipeline.resources.object_store import ObjectChanged, ObjectGone, ObjectStore
from ingest_pipeline.vocabulary import DRUID_TO_SQL_TYPE, SOURCE_KEY_COLUMN, TIME_COLUMN

ACCESS = DruidS3Access(
    "http://fake-s3",
    "us-east-1",
    {"type": "environment", "variable": "K"},
    {"type": "environment", "variable": "S"},
)
WHEN = datetime(2024, 3, 1, 10, tzinfo=UTC)


#: The contents of each fake, by its `name`: Dagster builds a resource anew from its config for
#: every run, so the contents cannot live on the instance a test holds.
_OBJECTS: dict[str, dict[tuple[str, str], bytes]] = {}
_DRUIDS: dict[str, _DruidContents] = {}


@dataclass
class _DruidContents:
    rows: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)  # task id -> times it was run


class InMemoryObjectStore(ObjectStore):
    """Buckets as a dict; ETag = MD5 of the body, as S3 computes it for a single PUT."""

    name: str = Field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def _objects(self) -> dict[tuple[str, str], bytes]:
        return _OBJECTS.setdefault(self.name, {})

    def put_upload(self, partition_key: str, body: bytes) -> str:
        """An upload as a person makes it; returns its ETag."""
        self.put_bytes(self.uploads_bucket, self.upload_key(partition_key), body)
        return _etag(body)

    def delete(self, bucket: str, key: str) -> None:
        self._objects.pop((bucket, key), None)

    def object_keys(self, bucket: str) -> list[str]:
        return sorted(key for b, key in self._objects if b == bucket)

    def head(self, bucket: str, key: str) -> ObjectInfo:
        if (bucket, key) not in self._objects:
            raise ObjectGone(f"s3://{bucket}/{key}")
        body = self._objects[(bucket, key)]
        return ObjectInfo(bucket, key, len(body), _etag(body), WHEN)

    def list_uploads(self) -> Iterator[ObjectInfo]:
        for key in self.object_keys(self.uploads_bucket):
            if key.startswith(self.uploads_prefix):
                yield self.head(self.uploads_bucket, key)

    def download(self, obj: ObjectInfo, path: Path) -> None:
        body = self._objects.get((obj.bucket, obj.key))
        if body is None:
            raise ObjectGone(obj.uri)
        if _etag(body) != obj.etag:
            raise ObjectChanged(obj.uri)
        path.write_bytes(body)

    def read_head(self, bucket: str, key: str, size: int) -> bytes:
        return self._objects[(bucket, key)][:size]

    def upload_file(
        self, path: Path, bucket: str, key: str, callback: Callable[[int], None] | None = None
    ) -> str:
        return self.put_bytes(bucket, key, path.read_bytes())

    def put_bytes(self, bucket: str, key: str, body: bytes) -> str:
        self._objects[(bucket, key)] = bytes(body)
        return f"s3://{bucket}/{key}"

    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        return self._objects.get((bucket, key))

    def druid_access(self) -> DruidS3Access:
        return ACCESS


class FakeDruid(DruidService):
    """Datasources as rows per file. `fail_datasources`: tasks into these fail as Druid's
    would; `unavailable`: Druid cannot say what a datasource holds (planning must not guess);
    `crash_datasources`: ingesting into these raises an unexpected error (the step crashes)."""

    store: InMemoryObjectStore
    fail_datasources: list[str] = []
    unavailable: list[str] = []
    crash_datasources: list[str] = []  # ingest raises what no code expects (a crashed step)
    name: str = Field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def _contents(self) -> _DruidContents:
        return _DRUIDS.setdefault(self.name, _DruidContents())

    @property
    def _rows(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        return self._contents.rows

    @property
    def _columns(self) -> dict[str, dict[str, str]]:
        return self._contents.columns

    @property
    def _tasks(self) -> dict[str, int]:
        return self._contents.tasks

    # ------------------------------------------------------------------ what tests read

    def rows_of(self, datasource: str, source_key: str) -> list[dict[str, Any]]:
        return list(self._rows.get(datasource, {}).get(source_key, []))

    def row_count(self, datasource: str) -> int:
        return sum(len(rows) for rows in self._rows.get(datasource, {}).values())

    def task_runs(self) -> dict[str, int]:
        return dict(self._tasks)

    # ------------------------------------------------------------------ DruidService

    def datasource_state(
        self, datasource: str, source_keys: Sequence[str], timeout_seconds: float
    ) -> DatasourceState:
        if datasource in self.unavailable:
            raise DruidUnavailable(f"segments of datasource '{datasource}' were not all loaded")
        files = self._rows.get(datasource)
        if not files:
            return DatasourceState.empty()
        previous = {key: self._source_rows(datasource, key) for key in source_keys}
        return DatasourceState(
            exists=True,
            columns=dict(self._columns[datasource]),
            segment_interval=None,
            previous={k: v for k, v in previous.items() if v.count},
        )

    def known_columns(self, datasource: str) -> dict[str, str]:
        return dict(self._columns.get(datasource, {}))

    def ingest(self, plan: IngestionPlan, limits: IngestLimits) -> IngestedTask:
        if plan.datasource in self.crash_datasources:
            # final, as a dead run worker is: Dagster's step retries never see it
            raise dg.Failure(f"the worker running {plan.task_id} died", allow_retries=False)
        if plan.datasource in self.fail_datasources:
            outcome = TaskOutcome(plan.task_id, "FAILED", "fake failure", {}, root_cause="boom")
            raise DruidTaskFailed(f"Druid task {plan.task_id} FAILED: fake failure", outcome)
        if plan.task_id not in self._tasks:  # a retried run follows the task, never reruns it
            self._apply(plan)
        self._tasks[plan.task_id] = self._tasks.get(plan.task_id, 0) + 1
        rows = {f.source_key: self._source_rows(plan.datasource, f.source_key) for f in plan.files}
        files = self._rows[plan.datasource]
        return IngestedTask(
            outcome=TaskOutcome(plan.task_id, "SUCCESS", None, {"processed": plan.validated_rows}),
            rows=rows,
            served=SegmentsServed(published=1, available=1),
            columns=dict(self._columns[plan.datasource]),
            segments=SegmentStats(count=1, median_rows=sum(len(r) for r in files.values())),
            task_seconds=0.0,
            segment_load_seconds=0.0,
            queryable_seconds=0.0,
        )

    def retract(self, plan: IngestionPlan, source_key: str, limits: IngestLimits) -> RetractedTask:
        if plan.datasource in self.fail_datasources:
            outcome = TaskOutcome(plan.task_id, "FAILED", "fake failure", {}, root_cause="boom")
            raise DruidTaskFailed(f"Druid task {plan.task_id} FAILED: fake failure", outcome)
        if plan.task_id not in self._tasks:
            self._apply(plan)
        self._tasks[plan.task_id] = self._tasks.get(plan.task_id, 0) + 1
        outcome = TaskOutcome(plan.task_id, "SUCCESS", None, {"processed": 0})
        return RetractedTask(outcome, self._source_rows(plan.datasource, source_key), 0.0)

    # ------------------------------------------------------------------ a task's effect

    def _apply(self, plan: IngestionPlan) -> None:
        files = self._rows.setdefault(plan.datasource, {})
        if isinstance(plan.mode, Replace):
            files.pop(plan.mode.source_key, None)
        for uri in _input_uris(plan.spec):
            bucket, _, key = unquote(uri.removeprefix("s3://")).partition("/")
            body = self.store.get_bytes(bucket, key)
            assert body is not None, f"the task's input {uri} is not in the store"
            for line in gzip.decompress(body).decode().splitlines():
                row = json.loads(line)
                files.setdefault(row[SOURCE_KEY_COLUMN], []).append(row)
        columns = self._columns.setdefault(plan.datasource, {"__time": "TIMESTAMP"})
        for name, druid_type in plan.specified_columns.items():
            columns[name] = DRUID_TO_SQL_TYPE[druid_type]
        columns[SOURCE_KEY_COLUMN] = "VARCHAR"

    def _source_rows(self, datasource: str, source_key: str) -> SourceRows:
        rows = self._rows.get(datasource, {}).get(source_key, [])
        if not rows:
            return NO_ROWS
        times = sorted(datetime.fromisoformat(r[TIME_COLUMN].replace("Z", "+00:00")) for r in rows)
        return SourceRows(len(rows), times[0], times[-1])


def _input_uris(spec: Mapping[str, Any]) -> list[str]:
    """Every S3 URI a task spec reads (the s3 input source, also inside a combining one)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "s3":
                found.extend(node.get("uris", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return found


def _etag(body: bytes) -> str:
    return hashlib.md5(body).hexdigest()  # noqa: S324 - S3's ETag of a single PUT


_QUEUES: dict[str, dict[str, list]] = {}


class InMemoryEventQueue(EventQueue):
    """A queue as a list, for the sensor's decisions in unit tests: a received message stays
    until deleted by its receipt handle and is not received again meanwhile. The real queue
    (ElasticMQ) and the real relay are tested through the stack (integration/test_events.py)."""

    name: str = Field(default_factory=lambda: uuid.uuid4().hex)
    queue_url: str | None = "memory://events"

    @property
    def _state(self) -> dict[str, list]:
        return _QUEUES.setdefault(self.name, {"visible": [], "in_flight": []})

    def send(self, body: str) -> None:
        self._state["visible"].append(body)

    def receive(
        self, max_messages: int, visibility_timeout: int, budget_seconds: float = 20.0
    ) -> list[QueueMessage]:
        taken = self._state["visible"][:max_messages]
        del self._state["visible"][: len(taken)]
        messages = [QueueMessage(uuid.uuid4().hex, body) for body in taken]
        self._state["in_flight"] += [(m.receipt_handle, m.body) for m in messages]
        return messages

    def delete(self, receipt_handles: list[str]) -> list[str]:
        handles = set(receipt_handles)
        self._state["in_flight"] = [m for m in self._state["in_flight"] if m[0] not in handles]
        return []

    def redeliver(self) -> None:
        """Every message in flight becomes visible again (its visibility timeout passed)."""
        self._state["visible"] += [body for _, body in self._state["in_flight"]]
        self._state["in_flight"] = []

    def in_flight(self) -> int:
        return len(self._state["in_flight"])
