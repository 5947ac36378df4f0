"""raw_file: the uploaded object as it is (no copy); its ETag is the data version."""

from typing import Any

import dagster as dg

from ingest_pipeline.partitions import split_partition_key, upload_partitions
from ingest_pipeline.resources.s3 import S3Storage


@dg.asset(
    partitions_def=upload_partitions,
    group_name="ingest",
    description="An object uploaded under s3://<uploads bucket>/<prefix>/<dataset>/<file>.",
)
def raw_file(context: dg.AssetExecutionContext, s3: S3Storage) -> dg.Output[dict[str, Any]]:
    dataset, name = split_partition_key(context.partition_key)
    key = s3.upload_key(context.partition_key)
    try:
        info = s3.head(s3.uploads_bucket, key)
    except s3.client().exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("404", "NoSuchKey", "NotFound"):
            raise dg.Failure(
                description=f"s3://{s3.uploads_bucket}/{key} no longer exists (deleted after it "
                "was detected). Nothing was ingested; upload it again to ingest it.",
            ) from None
        raise
    head = s3.read_head(s3.uploads_bucket, key, 8) if info.size else b""
    file_format, compression = guess_format(head, key)
    value = {
        "dataset": dataset,
        "name": name,
        "bucket": info.bucket,
        "key": info.key,
        "uri": info.uri,
        "size": info.size,
        "etag": info.etag,
        "last_modified": info.last_modified.isoformat(),
        "format": file_format,
        "compression": compression,
    }
    return dg.Output(
        value,
        data_version=dg.DataVersion(info.etag),
        metadata={
            "uri": dg.MetadataValue.path(info.uri),
            "size_bytes": info.size,
            "etag": info.etag,
            "last_modified": info.last_modified.isoformat(),
            "format": file_format,
            "compression": compression or "none",
            "dataset": dataset,
        },
    )


def guess_format(head: bytes, key: str) -> tuple[str, str | None]:
    """A first look for the UI (magic bytes, then extension); validation decides for real."""
    compression = "gzip" if head.startswith(b"\x1f\x8b") else None
    if head.startswith(b"PAR1"):
        return "parquet", None
    stem = key.lower().removesuffix(".gz").removesuffix(".gzip")
    for suffixes, name in (
        ((".parquet", ".pq"), "parquet"),
        ((".json", ".ndjson", ".jsonl"), "ndjson"),
        ((".csv", ".tsv", ".txt", ".psv", ".tab"), "csv"),
    ):
        if stem.endswith(suffixes):
            return name, compression
    return "unknown", compression
