"""What happened to one uploaded file: the one record the assets write and every reader reads.

The pipeline writes a FileVerdict for each file a run decided (and the sensor for each object
it skips); the Dagster UI shows it on the file's partition, and `ingest-pipeline status` and
`upload --wait` read it back as this type, never by picking metadata keys out of a dict.
Pure: no Dagster, no I/O (`assets/verdicts.py` turns it into Dagster events).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from ingest_pipeline.vocabulary import Problem


class Outcome(StrEnum):
    INGESTED = "ingested"  # its rows are in Druid, queryable, every ERROR check passed
    REJECTED = "rejected"  # the file itself cannot be ingested: fix it and upload it again
    FAILED = "failed"  # the pipeline or Druid failed: re-run it (the file may be fine)
    SKIPPED = "skipped"  # the sensor does not ingest such objects (zero bytes, unknown kind)
    RETRACTED = "retracted"  # the object was deleted and its rows removed from Druid

    @property
    def bad(self) -> bool:
        """Outcomes a person must act on."""
        return self in (Outcome.REJECTED, Outcome.FAILED)


class Stage(StrEnum):
    """Where a file's way stopped (the asset whose partition is the last green one + 1)."""

    SENSOR = "upload_sensor"
    RAW_FILE = "raw_file"
    VALIDATED_FRAME = "validated_frame"
    DRUID_SPEC = "druid_spec"
    DRUID_DATASOURCE = "druid_datasource"


@dataclass(frozen=True)
class FileVerdict:
    """One file's verdict in one run: the outcome, why, and what Druid holds of it."""

    partition: str
    outcome: Outcome
    stage: Stage
    etag: str | None = None
    problem: Problem | None = None  # None when ingested
    rows: int | None = None  # rows of this file in Druid (ingested) or validated
    druid_task_id: str | None = None
    seconds_to_queryable: float | None = None
    run_id: str | None = None
    warnings: tuple[str, ...] = field(default=())  # failed WARN checks, each a sentence
    # how the file's columns differed from the datasource's (datasets.yaml's schema contract)
    schema_drift: tuple[str, ...] = field(default=())
    # retracted: the rows of the deleted file the retraction removed (0: it had none in Druid)
    retracted_rows: int | None = None

    @property
    def key(self) -> str:
        """The object key below the uploads prefix (the partition key)."""
        return self.partition

    def message(self) -> str:
        """One line for a person: the problem and its fix, or what was ingested."""
        if self.problem is not None:
            return self.problem.message(self.partition)
        if self.outcome is Outcome.INGESTED:
            parts = [f"{self.rows:,} rows" if self.rows is not None else "ingested"]
            if self.druid_task_id:
                parts.append(f"Druid task {self.druid_task_id}")
            if self.seconds_to_queryable is not None:
                parts.append(f"queryable {self.seconds_to_queryable:.2f}s after submit")
            if self.warnings:
                parts.append("warnings: " + "; ".join(self.warnings))
            return "; ".join(parts)
        if self.outcome is Outcome.RETRACTED:
            return retracted_message(self.retracted_rows or 0, self.druid_task_id)
        return self.outcome.value

    def to_json(self) -> dict[str, Any]:
        return dict(_ADAPTER.dump_python(self, mode="json"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileVerdict:
        return _ADAPTER.validate_python(dict(data))


_ADAPTER: TypeAdapter[FileVerdict] = TypeAdapter(FileVerdict)


def retracted_message(removed: int, task_id: str | None) -> str:
    if not removed:
        return "deleted from the bucket; it had no rows in Druid (no task ran)"
    if task_id is None:
        return (
            f"deleted from the bucket; its {removed:,} rows removed from Druid (the datasource's "
            "only rows: its segments marked unused)"
        )
    return f"deleted from the bucket; its {removed:,} rows removed from Druid by task {task_id}"
