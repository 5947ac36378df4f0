"""validated_frame: parse and check the upload with Polars, store typed data for Druid and people.

Writes to the validated bucket, beside nothing else of the file's:
  validated/<dataset>/<file>.parquet        typed data, for people and other tools
  validated/<dataset>/<file>.ndjson.gz      the same rows, the input of the Druid task
  validated/<dataset>/<file>.report.json    per-column report and rejected rows
A file that cannot be ingested is not an error of the pipeline: it is not materialized, its
ingestible check fails on its partition with why and the fix, and the spec takes only the
validated files, so a bad file in a batch stops only itself.
"""

import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath

import dagster as dg

from ingest_pipeline.assets.presentation import column_schema, markdown_preview
from ingest_pipeline.assets.publishing import publish_validated
from ingest_pipeline.assets.steps import (
    RECORD,
    RECORDS_IO,
    STEP_RETRIES,
    VALIDATED_FRAME,
    check_outs,
    fail_for_unfinished,
    hand_on,
    log_checks,
    materialize,
    record_link,
    stored_records,
)
from ingest_pipeline.checks import (
    VALIDATION_CHECKS,
    failed_warnings,
    not_ingestible,
    validation_check_results,
)
from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.file_validation import validate_local_file, validated_upload
from ingest_pipeline.findings import time_column_label
from ingest_pipeline.records import (
    RawFiles,
    RejectedUpload,
    UploadedObject,
    ValidatedUpload,
    ValidationOutcomes,
)
from ingest_pipeline.resources.druid_service import DruidService
from ingest_pipeline.resources.object_store import ObjectChanged, ObjectGone, ObjectStore
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.validation import ValidationSummary
from ingest_pipeline.validation.contract import DatasetSchema, dataset_schema_of
from ingest_pipeline.vocabulary import FileRejected

PREVIEW_ROWS = 10


# The checks are reported per file (one evaluation on each partition) and none is invented: a
# rejected file gets only the failing ingestible check. Blocking is per file: the spec reads
# only the validated ones, so a bad file in a batch stops only itself.
@dg.op(
    name=VALIDATED_FRAME,
    retry_policy=STEP_RETRIES,
    ins={"uploads": dg.In(RawFiles)},
    out={
        "outcomes": dg.Out(ValidationOutcomes, io_manager_key=RECORDS_IO, is_required=False),
        VALIDATED_FRAME: dg.Out(is_required=False),
        **check_outs(VALIDATION_CHECKS),
    },
)
def validated_frame_step(
    context: dg.OpExecutionContext,
    uploads: RawFiles,
    s3: ObjectStore,
    druid: DruidService,
    pipeline_settings: PipelineSettings,
) -> Iterator[dg.Output]:
    stored = stored_records(context, s3, VALIDATED_FRAME, ValidationOutcomes)
    if stored is not None:
        wanted = set(context.partition_keys)
        found = {p: v for record in stored for p, v in record.validated.items() if p in wanted}
        yield from hand_on(context, s3, ValidationOutcomes(found, {}, {}), "outcomes")
        return
    link = record_link(context, s3, "outcomes")
    # Read datasets.yaml once per dataset, not once per file and again per check.
    configs = {
        u.dataset: pipeline_settings.dataset_config(u.dataset) for u in uploads.uploads.values()
    }
    # The datasources' current columns: the schema contract holds each file to them.
    known_columns = {
        datasource: druid.known_columns(datasource)
        for datasource in {u.datasource for u in uploads.uploads.values()}
    }
    validated: dict[str, ValidatedUpload] = {}
    rejected: dict[str, RejectedUpload] = {}
    for partition, upload in uploads.uploads.items():
        schema = dataset_schema_of(known_columns[upload.datasource])
        outcome, metadata = validate_one(context, upload, s3, configs[upload.dataset], schema)
        if isinstance(outcome, ValidatedUpload):
            validated[partition] = outcome
            materialize(context, VALIDATED_FRAME, partition, {**metadata, RECORD: link})
        else:
            rejected[partition] = outcome
    for partition, gone in uploads.missing.items():
        log_checks(context, partition, [not_ingestible(gone.key, gone.problem.message(gone.key))])
    decided: list[tuple[str, ValidatedUpload | RejectedUpload]] = [
        *validated.items(),
        *rejected.items(),
    ]
    for partition, outcome in decided:
        config = configs[outcome.upload.dataset]
        existing = known_columns.get(outcome.upload.datasource, {})
        results = validation_check_results(outcome, existing, config.null_ratio_warn)
        log_checks(context, partition, results)
        if isinstance(outcome, ValidatedUpload):  # its warnings go on to its verdict
            validated[partition] = replace(outcome, check_warnings=failed_warnings(results))
    unfinished = {p: r.problem.sentence() for p, r in rejected.items()}
    unfinished |= {p: m.problem.sentence() for p, m in uploads.missing.items()}
    fail_for_unfinished(context, VALIDATED_FRAME, unfinished)
    yield from hand_on(
        context, s3, ValidationOutcomes(validated, rejected, uploads.missing), "outcomes"
    )


def validate_one(
    context: dg.OpExecutionContext,
    upload: UploadedObject,
    s3: ObjectStore,
    config: DatasetConfig,
    dataset_schema: DatasetSchema,
) -> tuple[ValidatedUpload | RejectedUpload, dict[str, object]]:
    """One file's verdict and the metadata a person reads on its partition."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="validate-") as workdir:
        try:
            summary, ndjson_path, parquet_path = validate_upload(
                upload, s3, config, workdir, dataset_schema
            )
        except FileRejected as rejection:
            context.log.error(str(rejection))
            return RejectedUpload(upload, rejection.as_problem()), {}
        validate_seconds = time.monotonic() - started
        artifacts = publish_validated(s3, upload, summary, ndjson_path, parquet_path)
    validated = validated_upload(upload, summary, artifacts)
    return validated, {
        "etag": upload.etag,
        "dagster/row_count": validated.row_count,
        "rejected_rows": len(validated.rejected_rows),
        "duplicate_rows": validated.duplicate_rows,
        "time_column": time_column_label(validated.time_column, validated.time_facts),
        "time_range": f"{validated.time_min.isoformat()} .. {validated.time_max.isoformat()}",
        "dagster/column_schema": column_schema(validated.schema),
        "preview": dg.MetadataValue.md(markdown_preview(summary.preview)),
        "warnings": dg.MetadataValue.json(list(validated.warnings)),
        "schema_drift": dg.MetadataValue.json(validated.schema_drift.to_json()),
        "parquet": dg.MetadataValue.path(artifacts.parquet_uri),
        "druid_input": dg.MetadataValue.path(artifacts.druid_input_uri),
        "report": dg.MetadataValue.path(artifacts.report_uri),
        "validate_seconds": round(validate_seconds, 3),
    }


def validate_upload(
    upload: UploadedObject,
    s3: ObjectStore,
    config: DatasetConfig,
    workdir: str,
    dataset_schema: DatasetSchema | None = None,
) -> tuple[ValidationSummary, Path, Path]:
    """Download exactly the version raw_file saw and validate it (`validate_local_file`, the
    code `ingest-pipeline check` runs too). FileRejected says why a file cannot be ingested."""
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
    checked = validate_local_file(
        local,
        upload.key,
        upload.dataset,
        config,
        workdir,
        preview_rows=PREVIEW_ROWS,
        dataset_schema=dataset_schema,
    )
    return checked.summary, checked.ndjson_path, checked.parquet_path
