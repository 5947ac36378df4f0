"""validated_frame: parse and check the upload with Polars, store typed data for Druid and people.

Writes to the validated bucket, beside nothing else of the file's:
  validated/<dataset>/<file>.parquet        typed data, for people and other tools
  validated/<dataset>/<file>.ndjson.gz      the same rows, the input of the Druid task
  validated/<dataset>/<file>.report.json    per-column report and rejected rows
A file that cannot be ingested is not an error of the pipeline: the asset records why and the
file's ingestible check fails on its partition; the spec takes only the validated files, so a
bad file in a batch stops only itself.
"""

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import dagster as dg
from pydantic import TypeAdapter

from ingest_pipeline.assets.handoff import RECORD_METADATA, load_handoffs, save_handoff
from ingest_pipeline.assets.presentation import column_schema, markdown_preview
from ingest_pipeline.assets.publishing import publish_validated
from ingest_pipeline.checks import (
    VALIDATION_CHECKS,
    log_check_evaluations,
    not_ingestible,
    validation_check_results,
)
from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.reading import read_frame
from ingest_pipeline.records import (
    RawFiles,
    RejectedUpload,
    UploadedObject,
    ValidatedUpload,
    ValidationOutcomes,
)
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.s3 import ObjectChanged, ObjectGone, S3Storage
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.validation import ValidationSummary, validate_to_files
from ingest_pipeline.vocabulary import FileRejected

PREVIEW_ROWS = 10
OUTCOMES = TypeAdapter(ValidationOutcomes)
RAW_FILES = TypeAdapter(RawFiles)


# A multi_asset so the checks are reported per file (one evaluation per partition) and none is
# invented: a rejected file gets only the failing ingestible check. Blocking is per file: the
# spec reads only the validated ones, so a bad file in a batch stops only itself.
@dg.multi_asset(
    outs={
        "validated_frame": dg.AssetOut(
            group_name="ingest",
            description="The upload parsed, typed and checked; typed Parquet + NDJSON.gz in S3.",
        )
    },
    partitions_def=upload_partitions,
    deps=["raw_file"],
    check_specs=VALIDATION_CHECKS,
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def validated_frame(
    context: dg.AssetExecutionContext,
    s3: S3Storage,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
) -> Iterator[dg.MaterializeResult]:
    uploads: dict[str, UploadedObject] = {}
    missing: dict[str, str] = {}
    for record in load_handoffs(context, s3, "raw_file", RAW_FILES):
        uploads.update(record.uploads)
        missing.update(record.missing)
    validated: dict[str, ValidatedUpload] = {}
    rejected: dict[str, RejectedUpload] = {}
    metadata: dict[str, dict[str, object]] = {}
    # Read datasets.yaml once per dataset, not once per file and again per check.
    configs = {u.dataset: pipeline_settings.dataset_config(u.dataset) for u in uploads.values()}
    for partition in context.partition_keys:
        upload = uploads.get(partition)
        if upload is None:
            reason = missing.get(partition, f"raw_file has no record of {partition}: re-run it")
            context.log.error(reason)
            metadata[partition] = {"accepted": False, "problem": reason}
            log_check_evaluations(context, partition, [not_ingestible(partition, reason)])
            continue
        config = configs[upload.dataset]
        outcome, metadata[partition] = validate_one(context, upload, s3, config)
        if isinstance(outcome, ValidatedUpload):
            validated[partition] = outcome
        else:
            rejected[partition] = outcome
    record_uri = save_handoff(
        s3, context.run.run_id, "validated_frame", ValidationOutcomes(validated, rejected), OUTCOMES
    )
    existing_by_datasource = {
        datasource: druid.datasource_columns(datasource) if druid.broker_sees(datasource) else {}
        for datasource in {v.upload.datasource for v in validated.values()}
    }
    for partition, outcome in [*validated.items(), *rejected.items()]:
        existing = existing_by_datasource.get(outcome.upload.datasource, {})
        warn = configs[outcome.upload.dataset].null_ratio_warn
        results = validation_check_results(outcome, existing, warn)
        log_check_evaluations(context, partition, results)
    for partition, values in metadata.items():
        values[RECORD_METADATA] = dg.MetadataValue.path(record_uri)
        context.add_asset_metadata(values, partition_key=partition)
    yield dg.MaterializeResult(
        asset_key="validated_frame",
        metadata={
            "files_validated": len(validated),
            "files_rejected": len(metadata) - len(validated),
        },
    )


def validate_one(
    context: dg.AssetExecutionContext,
    upload: UploadedObject,
    s3: S3Storage,
    config: DatasetConfig,
) -> tuple[ValidatedUpload | RejectedUpload, dict[str, object]]:
    """One file's verdict and the metadata a person reads on its partition."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="validate-") as workdir:
        try:
            summary, ndjson_path, parquet_path = validate_upload(upload, s3, config, workdir)
        except FileRejected as rejection:
            context.log.error(str(rejection))
            rejected = RejectedUpload(upload, str(rejection))
            return rejected, {"accepted": False, "problem": rejected.problem, "etag": upload.etag}
        validate_seconds = time.monotonic() - started
        artifacts = publish_validated(s3, upload, summary, ndjson_path, parquet_path)
    validated = ValidatedUpload(
        upload=upload,
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
    return validated, {
        "accepted": True,
        "etag": upload.etag,
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
    }


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
