"""validated_frame: parse and check the upload with Polars, store typed data for Druid and people.

Writes to the validated bucket, beside nothing else of the file's:
  validated/<dataset>/<file>.parquet        typed data, for people and other tools
  validated/<dataset>/<file>.ndjson.gz      the same rows, the input of the Druid task
  validated/<dataset>/<file>.report.json    per-column report and rejected rows
A file that cannot be ingested is not an error of the pipeline: the asset records why and its
blocking check fails, which stops the spec and the ingestion of this file only.
"""

import json
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

import dagster as dg
import polars as pl

from ingest_pipeline.checks import VALIDATION_CHECKS, validation_check_results
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.reading import read_frame
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.spec import s3_uri
from ingest_pipeline.validation import validate_to_files
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
    raw_file: dict[str, Any],
    s3: S3Storage,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
):  # noqa: ANN201 - yields an Output and check results
    dataset = raw_file["dataset"]
    config = pipeline_settings.dataset_config(dataset)
    prefix = f"validated/{dataset}/{raw_file['name']}"
    base: dict[str, Any] = {
        "dataset": dataset,
        "datasource": dataset,
        "source_key": raw_file["key"],
        "source_uri": raw_file["uri"],
        "etag": raw_file["etag"],
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="validate-") as workdir:
        # Keep the file name: its extension is one of the format hints.
        local = Path(workdir) / PurePosixPath(raw_file["key"]).name
        try:
            download(s3, raw_file, local)
            parsed = read_frame(local, raw_file["key"], workdir=workdir)
            # Streams the file in batches: memory stays bounded whatever the file's size.
            ndjson_path = Path(workdir) / "rows.ndjson.gz"
            parquet_path = Path(workdir) / "rows.parquet"
            result = validate_to_files(
                parsed,
                raw_file["key"],
                dataset,
                config,
                ndjson_path=ndjson_path,
                parquet_path=parquet_path,
                preview_rows=PREVIEW_ROWS,
            )
        except FileRejected as rejection:
            context.log.error(str(rejection))
            yield dg.Output(
                {**base, "accepted": False, "problem": str(rejection)},
                output_name="validated_frame",
                metadata={"accepted": False, "problem": str(rejection)},
            )
            yield from validation_check_results(
                {**base, "accepted": False, "problem": str(rejection)}, {}, config.null_ratio_warn
            )
            return
        validate_seconds = time.monotonic() - started

        rejected = [[row.line, row.reason] for row in result.rejected]
        report = {
            "file": raw_file["uri"],
            "etag": raw_file["etag"],
            "rows": result.row_count,
            "rejected_rows": rejected,
            "duplicate_rows": result.duplicate_rows,
            "time_column": result.time_column,
            "columns": result.report,
            "warnings": result.warnings,
        }
        bucket = s3.validated_bucket
        s3.upload_file(ndjson_path, bucket, f"{prefix}.ndjson.gz")
        # Percent-encoded: keys with spaces, '%' or non-ASCII must survive Druid's URI parsing.
        ndjson_uri = s3_uri(bucket, f"{prefix}.ndjson.gz")
        parquet_uri = s3.upload_file(parquet_path, bucket, f"{prefix}.parquet")
        report_uri = s3.put_bytes(
            bucket, f"{prefix}.report.json", json.dumps(report, indent=2, default=str).encode()
        )
        preview = result.preview

    value = {
        **base,
        "accepted": True,
        "problem": None,
        "row_count": result.row_count,
        "schema": [list(pair) for pair in result.schema],
        "time_column": result.time_column,
        "time_min": result.time_min.isoformat(),
        "time_max": result.time_max.isoformat(),
        "duplicate_rows": result.duplicate_rows,
        "rejected_rows": rejected,
        "report": result.report,
        "warnings": result.warnings,
        "ndjson_uri": ndjson_uri,
        "parquet_uri": parquet_uri,
        "report_uri": report_uri,
    }
    yield dg.Output(
        value,
        output_name="validated_frame",
        data_version=dg.DataVersion(raw_file["etag"]),
        metadata={
            "accepted": True,
            "dagster/row_count": result.row_count,
            "rejected_rows": len(rejected),
            "duplicate_rows": result.duplicate_rows,
            "time_column": result.time_column or "(none: constant time)",
            "time_range": f"{value['time_min']} .. {value['time_max']}",
            "dagster/column_schema": column_schema(result.schema),
            "preview": dg.MetadataValue.md(markdown_preview(preview)),
            "warnings": dg.MetadataValue.json(result.warnings),
            "parquet": dg.MetadataValue.path(parquet_uri),
            "druid_input": dg.MetadataValue.path(ndjson_uri),
            "report": dg.MetadataValue.path(report_uri),
            "validate_seconds": round(validate_seconds, 3),
        },
    )
    existing = druid.datasource_columns(dataset) if druid.broker_sees(dataset) else {}
    yield from validation_check_results(value, existing, config.null_ratio_warn)


def download(s3: S3Storage, raw_file: dict[str, Any], local: Path) -> None:
    """Fetch exactly the version raw_file saw; a deleted or replaced object is a clear verdict."""
    try:
        s3.download(raw_file["bucket"], raw_file["key"], local, if_match=raw_file["etag"])
    except Exception as error:  # botocore raises ClientError subclasses per code
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NotFound"):
            raise FileRejected(
                raw_file["key"],
                "the object was deleted before it could be validated",
                "upload it again",
            ) from None
        if code in ("412", "PreconditionFailed"):
            raise FileRejected(
                raw_file["key"],
                "the object was overwritten while this run was starting",
                "nothing to do: the new version is ingested by its own run",
            ) from None
        raise


def column_schema(schema: list[tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, druid_type) for name, druid_type in schema])


def markdown_preview(frame: pl.DataFrame) -> str:
    columns = frame.columns
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.iter_rows():
        cells = [str(v).replace("|", "\\|").replace("\n", " ")[:60] for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
