"""raw_file: the uploaded object as it is (no copy); its ETag is the data version."""

import dagster as dg

from ingest_pipeline.file_kinds import guess_format
from ingest_pipeline.partitions import split_partition_key, upload_partitions
from ingest_pipeline.records import UploadedObject
from ingest_pipeline.resources.s3 import ObjectGone, S3Storage


@dg.asset(
    partitions_def=upload_partitions,
    group_name="ingest",
    description="An object uploaded under s3://<uploads bucket>/<prefix>/<dataset>/<file>.",
)
def raw_file(context: dg.AssetExecutionContext, s3: S3Storage) -> dg.Output[UploadedObject]:
    dataset, name = split_partition_key(context.partition_key)
    try:
        info = s3.head(s3.uploads_bucket, s3.upload_key(context.partition_key))
    except ObjectGone as gone:
        raise dg.Failure(
            description=f"{gone} no longer exists (deleted after it was detected). Nothing was "
            "ingested; upload it again to ingest it.",
        ) from None
    head = s3.read_head(info.bucket, info.key, 8) if info.size else b""
    file_format, compression = guess_format(head, info.key)
    upload = UploadedObject(dataset, name, info, file_format, compression)
    return dg.Output(
        upload,
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
