"""Small builders of the typed records, shared by the unit tests (no servers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ingest_pipeline.findings import ColumnReport
from ingest_pipeline.records import (
    Append,
    DatasourceState,
    DruidS3Access,
    IngestionPlan,
    ObjectInfo,
    PlannedFile,
    SourceRows,
    TaskOutcome,
    UploadedObject,
    ValidatedArtifacts,
    ValidatedUpload,
)

T0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
T1 = datetime(2024, 3, 1, 18, tzinfo=UTC)
#: How the planner tells Druid's workers to reach S3: providers, never a secret.
ACCESS = DruidS3Access(
    "http://s3.local:9000",
    "us-east-1",
    {"type": "environment", "variable": "AWS_ACCESS_KEY_ID"},
    {"type": "environment", "variable": "AWS_SECRET_ACCESS_KEY"},
)


def upload(dataset: str = "sales", name: str = "a.csv", etag: str = "e1") -> UploadedObject:
    obj = ObjectInfo("ingest-uploads", f"uploads/{dataset}/{name}", 10, etag, T0)
    return UploadedObject(dataset, name, obj, "csv", None)


def text_column(null_ratio: float, rows: int = 3, distinct: int = 2) -> ColumnReport:
    """A string column's report with this share of nulls (of `rows`)."""
    return ColumnReport("string", round(null_ratio * rows), null_ratio, distinct=distinct)


def number_column(null_ratio: float, rows: int = 3) -> ColumnReport:
    """A long column's report with this share of nulls (of `rows`), values 1..9."""
    return ColumnReport("long", round(null_ratio * rows), null_ratio, min=1, max=9)


def validated(**fields: Any) -> ValidatedUpload:
    values: dict[str, Any] = {
        "upload": upload(),
        "row_count": 3,
        "schema": (("region", "string"), ("qty", "long")),
        "time_column": "ts",
        "time_min": T0,
        "time_max": T1,
        "duplicate_rows": 0,
        "rejected_rows": (),
        "column_report": {"region": text_column(0.0), "qty": number_column(0.0)},
        "warnings": (),
        "artifacts": ValidatedArtifacts("s3://v/a.ndjson.gz", "s3://v/a.parquet", "s3://v/a.json"),
    }
    values.update(fields)
    return ValidatedUpload(**values)


def state(
    previous: SourceRows | None = None,
    columns: dict[str, str] | None = None,
    segment_interval: tuple[datetime, datetime] | None = None,
    key: str = "uploads/sales/a.csv",
) -> DatasourceState:
    """A datasource state; `previous`: the earlier rows of the file at `key`."""
    return DatasourceState(
        bool(columns), columns or {}, segment_interval, {key: previous} if previous else {}
    )


def planned_file(
    validated_rows: int = 3, columns: dict[str, str] | None = None, name: str = "a.csv"
) -> PlannedFile:
    return PlannedFile(
        partition_key=f"sales/{name}",
        source_key=f"uploads/sales/{name}",
        etag="e1",
        validated_rows=validated_rows,
        validated_interval=(T0, T1),
        specified_columns=columns or {"region": "string", "qty": "long"},
    )


def plan(validated_rows: int = 3, columns: dict[str, str] | None = None) -> IngestionPlan:
    return IngestionPlan(
        datasource="sales",
        task_id="ingest_sales_x",
        mode=Append(("2024-03-01T10:00:00.000Z/2024-03-01T19:00:00.000Z",)),
        segment_granularity="HOUR",
        files=(planned_file(validated_rows, columns),),
        spec={},
    )


def outcome(**row_stats: int) -> TaskOutcome:
    return TaskOutcome("index_parallel_sales_x", "SUCCESS", None, {"processed": 3, **row_stats})
