"""validated_frame: parse and check the upload with Polars, store typed data for Druid and people.

Writes to the validated bucket, beside nothing else of the file's:
  validated/<dataset>/<file>.parquet        typed data, for people and other tools
  validated/<dataset>/<file>.ndjson.gz      the same rows, the input of the Druid task
  validated/<dataset>/<file>.report.json    per-column report and rejected rows
A file that cannot be ingested is not an error of the pipeline: the asset records why and its
blocking check fails, which stops the spec and the ingestion of this file only.
"""

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import dagster as dg

from ingest_pipeline.assets.presentation import column_schema, markdown_preview
from ingest_pipeline.assets.publishing import publish_validated
from ingest_pipeline.checks import VALIDATION_CHECKS, selected, validation_check_results
from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.reading import read_frame
from ingest_pipeline.records import (
    RejectedUpload,
    UploadedObject,
    ValidatedUpload,
    ValidationOutcome,
)
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.s3 import ObjectChanged, ObjectGone, S3Storage
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.validation import ValidationSummary, validate_to_files
from ingest_pipeline.vocabulary import FileRejected

PREVIEW_ROWS = 10


# A multi_asset only so the WARN checks may go unreported: a rejected file yields just the
# failing blocking check, and the others show as not evaluated instead of as invented results.
@dg.multi_asset(
    outs={
        "validated_frame": dg.AssetOut(
            group_name="ingest",
            description="The upload parsed, typed and checked; typed Parquet + NDJSON.gz in S3.",
        )
    },
    partitions_def=upload_partitions,
    check_specs=VALIDATION_CHECKS,
    can_subset=True,
)
def validated_frame(
    context: dg.AssetExecutionContext,
    raw_file: UploadedObject,
    s3: S3Storage,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
) -> Iterator[dg.Output[ValidationOutcome] | dg.AssetCheckResult]:
    config = pipeline_settings.dataset_config(raw_file.dataset)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="validate-") as workdir:
        try:
            summary, ndjson_path, parquet_path = validate_upload(raw_file, s3, config, workdir)
        except FileRejected as rejection:
            context.log.error(str(rejection))
            rejected = RejectedUpload(raw_file, str(rejection))
            yield dg.Output(
                rejected,
                output_name="validated_frame",
                data_version=dg.DataVersion(raw_file.etag),
                metadata={"accepted": False, "problem": rejected.problem},
            )
            yield from selected(context, validation_check_results(rejected, {}, 0.0))
            return
        validate_seconds = time.monotonic() - started
        artifacts = publish_validated(s3, raw_file, summary, ndjson_path, parquet_path)

    validated = ValidatedUpload(
        upload=raw_file,
        row_count=summary.row_count,
        schema=tuple(summary.schema),
        time_column=summary.time_column,
        time_min=summary.time_min,
        time_max=summary.time_max,
        duplicate_rows=summary.duplicate_rows,
        rejected_rows=tuple(summary.rejected),
        column_report=summary.report,
        warnings=tuple(summary.warnings),
        artifacts=artifacts,
    )
    yield dg.Output(
        validated,
        output_name="validated_frame",
        data_version=dg.DataVersion(raw_file.etag),
        metadata={
            "accepted": True,
            "dagster/row_count": validated.row_count,
            "rejected_rows": len(validated.rejected_rows),
            "duplicate_rows": validated.duplicate_rows,
            "time_column": validated.time_column or "(none: constant time)",
            "time_range": f"{validated.time_min.isoformat()} .. {validated.time_max.isoformat()}",
            "dagster/column_schema": column_schema(validated.schema),
            "preview": dg.MetadataValue.md(markdown_preview(summary.preview)),
            "warnings": dg.MetadataValue.json(list(validated.warnings)),
            "parquet": dg.MetadataValue.path(artifacts.parquet_uri),
            "druid_input": dg.MetadataValue.path(artifacts.druid_input_uri),
            "report": dg.MetadataValue.path(artifacts.report_uri),
            "validate_seconds": round(validate_seconds, 3),
        },
    )
    datasource = raw_file.datasource
    existing = druid.datasource_columns(datasource) if druid.broker_sees(datasource) else {}
    results = validation_check_results(validated, existing, config.null_ratio_warn)
    yield from selected(context, results)


def validate_upload(
    upload: UploadedObject, s3: S3Storage, config: DatasetConfig, workdir: str
) -> tuple[ValidationSummary, Path, Path]:
    """Download exactly the version raw_file saw and validate it, streaming in batches (memory
    stays bounded whatever the file's size). FileRejected says why a file cannot be ingested."""
    # Keep the file name: its extension is one of the format hints.
    local = Path(workdir) / PurePosixPath(upload.key).name
    try:
        s3.download(upload.object, local)
    except ObjectGone:
        raise FileRejected(
            upload.key, "the object was deleted before it could be validated", "upload it again"
        ) from None
    except ObjectChanged:
        raise FileRejected(
            upload.key,
            "the object was overwritten while this run was starting",
            "nothing to do: the new version is ingested by its own run",
        ) from None
    parsed = read_frame(local, upload.key, workdir=workdir)
    ndjson_path = Path(workdir) / "rows.ndjson.gz"
    parquet_path = Path(workdir) / "rows.parquet"
    summary = validate_to_files(
        parsed,
        upload.key,
        upload.dataset,
        config,
        ndjson_path=ndjson_path,
        parquet_path=parquet_path,
        preview_rows=PREVIEW_ROWS,
    )
    return summary, ndjson_path, parquet_path
