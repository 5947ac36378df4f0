"""Publishing a file's validated forms next to each other in the validated bucket."""

import json
from dataclasses import asdict
from pathlib import Path

from ingest_pipeline.records import UploadedObject, ValidatedArtifacts
from ingest_pipeline.resources.object_store import ObjectStore
from ingest_pipeline.spec import s3_uri
from ingest_pipeline.validation import ValidationSummary


def validated_prefix(upload: UploadedObject) -> str:
    return f"validated/{upload.dataset}/{upload.name}"


def publish_validated(
    s3: ObjectStore,
    upload: UploadedObject,
    summary: ValidationSummary,
    ndjson_path: Path,
    parquet_path: Path,
) -> ValidatedArtifacts:
    """Upload the Druid input (NDJSON.gz), the typed Parquet and the JSON report."""
    bucket, prefix = s3.validated_bucket, validated_prefix(upload)
    report = {
        "file": upload.uri,
        "etag": upload.etag,
        "rows": summary.row_count,
        "rejected_rows": [[row.line, row.reason] for row in summary.rejected],
        "duplicate_rows": summary.duplicate_rows,
        "time_column": summary.time_column,
        "columns": summary.report,
        "warnings": summary.warnings,
        # the time-like columns left unused and the constant time (see findings.TimeFacts)
        "unused_time_columns": [asdict(u) for u in summary.time_facts.unused],
        "constant_time": asdict(constant) if (constant := summary.time_facts.constant) else None,
        "time_of_day_column": (day.column if (day := summary.time_facts.time_of_day) else None),
    }
    s3.upload_file(ndjson_path, bucket, f"{prefix}.ndjson.gz")
    parquet_uri = s3.upload_file(parquet_path, bucket, f"{prefix}.parquet")
    report_uri = s3.put_bytes(
        bucket, f"{prefix}.report.json", json.dumps(report, indent=2, default=str).encode()
    )
    return ValidatedArtifacts(
        # Percent-encoded: keys with spaces, '%' or non-ASCII must survive Druid's URI parsing.
        druid_input_uri=s3_uri(bucket, f"{prefix}.ndjson.gz"),
        parquet_uri=parquet_uri,
        report_uri=report_uri,
    )
