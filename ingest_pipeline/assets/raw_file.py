"""raw_file: each uploaded object as it is (no copy); its ETag is the data version."""

from collections.abc import Iterator

import dagster as dg

from ingest_pipeline.assets.planned import plan_if_unplanned
from ingest_pipeline.assets.steps import (
    RAW_FILE,
    RECORD,
    RECORDS_IO,
    STEP_RETRIES,
    fail_for_unfinished,
    hand_on,
    materialize,
    record_link,
    stored_records,
)
from ingest_pipeline.assets.verdicts import latest_verdict
from ingest_pipeline.file_kinds import guess_format
from ingest_pipeline.partitions import split_partition_key
from ingest_pipeline.records import MissingUpload, RawFiles, UploadedObject
from ingest_pipeline.resources.object_store import ObjectGone, ObjectStore
from ingest_pipeline.tick_plan import ETAG_TAG
from ingest_pipeline.verdict import Outcome
from ingest_pipeline.vocabulary import Problem

GONE = Problem(
    "the object no longer exists (deleted after it was detected); nothing was ingested",
    "upload it again to ingest it",
)


@dg.op(
    name=RAW_FILE,
    retry_policy=STEP_RETRIES,
    out={
        "uploads": dg.Out(RawFiles, io_manager_key=RECORDS_IO, is_required=False),
        RAW_FILE: dg.Out(is_required=False),
    },
)
def raw_file_step(context: dg.OpExecutionContext, s3: ObjectStore) -> Iterator[dg.Output]:
    plan_if_unplanned(context)
    stored = stored_records(context, s3, RAW_FILE, RawFiles)
    if stored is not None:
        wanted = set(context.partition_keys)
        found = {p: u for record in stored for p, u in record.uploads.items() if p in wanted}
        yield from hand_on(context, s3, RawFiles(found, {}), "uploads")
        return
    link = record_link(context, s3, "uploads")
    uploads: dict[str, UploadedObject] = {}
    missing: dict[str, MissingUpload] = {}
    for partition in context.partition_keys:
        read = read_upload(context, s3, partition)
        if isinstance(read, MissingUpload):
            missing[partition] = read
        elif read is not None:
            uploads[partition] = read
            materialize(context, RAW_FILE, partition, {**raw_metadata(read), RECORD: link})
    fail_for_unfinished(context, RAW_FILE, {p: m.problem.sentence() for p, m in missing.items()})
    yield from hand_on(context, s3, RawFiles(uploads, missing), "uploads")


def read_upload(
    context: dg.OpExecutionContext, s3: ObjectStore, partition: str
) -> UploadedObject | MissingUpload | None:
    """The partition's object as the store holds it now, MissingUpload when it is gone, or
    None when there is nothing to do. The partition's latest verdict decides that, read once:

    - In a run asked for one version (the sensor's and the CLI's single-file runs carry its
      ETag), nothing is left when that version, or the one the store holds now, is the one
      the verdict says was ingested. An earlier run, asked for an older version, read the
      object after it changed and ingested it; running again would repeat its Druid task (the
      soak's replay: a run asked for the second of three versions ingested the third again).
      A rejected or failed version runs again. A run without the tag (from the UI) always runs.
    - When the object is gone, an `ingested` verdict stands: that version's rows are what
      Druid holds (under on_delete: keep they stay; under retract the delete's own run
      retracts them), and a run asked for an older version, queued behind the run that
      ingested the newest, must not turn the partition red after a delete (the soak's
      sequence: a file written three times in 16 s, then deleted). A `retracted` verdict
      stands too: the delete is recorded. Any other verdict, or none: `GONE`."""
    dataset, name = split_partition_key(partition)
    key = s3.upload_key(partition)
    asked = context.run.tags.get(ETAG_TAG)
    verdict = latest_verdict(context.instance, partition) if asked else None
    ingested = verdict if verdict and verdict.outcome is Outcome.INGESTED else None
    if ingested and ingested.etag == asked and len(context.partition_keys) == 1:
        context.log.info(
            f"{partition}: version {asked} is ingested already (run {ingested.run_id}, "
            "which read the object after it changed to this version): nothing left to do"
        )
        return None
    try:
        info = s3.head(s3.uploads_bucket, key)
    except ObjectGone:
        verdict = verdict if asked else latest_verdict(context.instance, partition)
        if verdict is None or verdict.outcome not in (Outcome.INGESTED, Outcome.RETRACTED):
            context.log.warning(GONE.message(key))
            return MissingUpload(partition, key, GONE, asked)
        context.log.info(
            f"{key}: deleted before this run read it; its partition keeps its verdict "
            f"({verdict.outcome.value} {verdict.etag or ''} by run {verdict.run_id}): "
            "nothing to do"
        )
        return None
    if ingested and ingested.etag == info.etag:
        context.log.info(
            f"{key}: the version it holds now ({info.etag}) is ingested already by run "
            f"{ingested.run_id}: nothing to do"
        )
        return None
    head = s3.read_head(info.bucket, info.key, 8) if info.size else b""
    file_format, compression = guess_format(head, info.key)
    return UploadedObject(dataset, name, info, file_format, compression)


def raw_metadata(upload: UploadedObject) -> dict[str, object]:
    info = upload.object
    return {
        "uri": dg.MetadataValue.path(info.uri),
        "size_bytes": info.size,
        "etag": info.etag,
        "last_modified": info.last_modified.isoformat(),
        "format": upload.file_format,
        "compression": upload.compression or "none",
        "dataset": upload.dataset,
    }
