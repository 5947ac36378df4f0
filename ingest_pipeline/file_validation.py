"""One local file through the reader and the validator, with its dataset's settings (pure: no
Dagster, no S3, no Druid).

The one path every file takes: `validated_frame` runs it on the object it downloaded,
`ingest-pipeline check` on a file on disk, so what `check` prints is what the pipeline does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.reading import DetectedFormat, read_frame
from ingest_pipeline.records import UploadedObject, ValidatedArtifacts, ValidatedUpload
from ingest_pipeline.validation import ValidationSummary, validate_to_files
from ingest_pipeline.validation.contract import DatasetSchema


@dataclass(frozen=True)
class ValidatedFile:
    """What validation made of a file: the summary, how it was read, the files Druid and
    people get (in the work directory given)."""

    summary: ValidationSummary
    format: DetectedFormat
    ndjson_path: Path
    parquet_path: Path


def validate_local_file(
    local: Path,
    key: str,
    dataset: str,
    config: DatasetConfig,
    workdir: str | Path,
    *,
    preview_rows: int = 10,
    dataset_schema: DatasetSchema | None = None,
) -> ValidatedFile:
    """Read and validate `local` as the upload `key` of `dataset`, streaming in batches (memory
    stays bounded whatever the file's size). FileRejected says why a file cannot be ingested.

    `key` names the file in every message and is one of the format hints (its extension).
    `dataset_schema`: the datasource's columns (from Druid), which the dataset's schema
    contract holds the file to; None: a new datasource, nothing to hold it to."""
    parsed = read_frame(local, key, workdir=workdir, decimal_comma=config.decimal_comma)
    ndjson_path = Path(workdir) / "rows.ndjson.gz"
    parquet_path = Path(workdir) / "rows.parquet"
    summary = validate_to_files(
        parsed,
        key,
        dataset,
        config,
        ndjson_path=ndjson_path,
        parquet_path=parquet_path,
        preview_rows=preview_rows,
        dataset_schema=dataset_schema,
    )
    return ValidatedFile(summary, parsed.format, ndjson_path, parquet_path)


def validated_upload(
    upload: UploadedObject, summary: ValidationSummary, artifacts: ValidatedArtifacts
) -> ValidatedUpload:
    """The record of a file that can be ingested (the checks read it; the asset hands it on)."""
    return ValidatedUpload(
        upload=upload,
        row_count=summary.row_count,
        schema=tuple(summary.schema),
        time_column=summary.time_column,
        time_min=summary.time_min,
        time_max=summary.time_max,
        duplicate_rows=summary.duplicate_rows,
        rejected_rows=tuple(summary.rejected),
        column_report=summary.column_report,
        warnings=tuple(summary.warnings),
        artifacts=artifacts,
        time_facts=summary.time_facts,
        schema_drift=summary.schema_drift,
    )
