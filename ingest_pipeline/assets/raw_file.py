"""raw_file: each uploaded object as it is (no copy); its ETag is in the metadata."""

import dagster as dg
from pydantic import TypeAdapter

from ingest_pipeline.assets.handoff import RECORD_METADATA, save_handoff
from ingest_pipeline.file_kinds import guess_format
from ingest_pipeline.partitions import split_partition_key, upload_partitions
from ingest_pipeline.records import RawFiles, UploadedObject
from ingest_pipeline.resources.s3 import ObjectGone, S3Storage

RAW_FILES = TypeAdapter(RawFiles)


@dg.asset(
    partitions_def=upload_partitions,
    group_name="ingest",
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="An object uploaded under s3://<uploads bucket>/<prefix>/<dataset>/<file>.",
)
def raw_file(context: dg.AssetExecutionContext, s3: S3Storage) -> dg.MaterializeResult:
    uploads: dict[str, UploadedObject] = {}
    missing: dict[str, str] = {}
    for partition in context.partition_keys:
        dataset, name = split_partition_key(partition)
        try:
            info = s3.head(s3.uploads_bucket, s3.upload_key(partition))
        except ObjectGone as gone:
            missing[partition] = (
                f"{gone} no longer exists (deleted after it was detected). Nothing was "
                "ingested; upload it again to ingest it."
            )
            context.log.warning(missing[partition])
            continue
        head = s3.read_head(info.bucket, info.key, 8) if info.size else b""
        file_format, compression = guess_format(head, info.key)
        uploads[partition] = UploadedObject(dataset, name, info, file_format, compression)
    if not uploads:
        raise dg.Failure(description="; ".join(missing.values()))
    record_uri = save_handoff(
        s3, context.run.run_id, "raw_file", RawFiles(uploads, missing), RAW_FILES
    )
    for partition, upload in uploads.items():
        info = upload.object
        context.add_asset_metadata(
            {
                "uri": dg.MetadataValue.path(info.uri),
                "size_bytes": info.size,
                "etag": info.etag,
                "last_modified": info.last_modified.isoformat(),
                "format": upload.file_format,
                "compression": upload.compression or "none",
                "dataset": upload.dataset,
                RECORD_METADATA: dg.MetadataValue.path(record_uri),
            },
            partition_key=partition,
        )
    for partition, why in missing.items():
        context.add_asset_metadata(
            {
                "verdict": "missing",
                "problem": why,
                RECORD_METADATA: dg.MetadataValue.path(record_uri),
            },
            partition_key=partition,
        )
    return dg.MaterializeResult(metadata={"files": len(uploads), "missing": len(missing)})
