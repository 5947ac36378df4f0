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
from ingest_pipeline.verdict import FileVerdict, Outcome
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
    done = ingested_already(context)
    if done is not None:
        context.log.info(
            f"{done.partition}: version {done.etag} is ingested already (run {done.run_id}, "
            "which read the object after it changed to this version): nothing left to do"
        )
        yield from hand_on(context, s3, RawFiles({}, {}), "uploads")
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
    None when there is nothing to do: it is gone and its verdict stands
    (`verdict_standing_when_gone`), or, in a run asked for a version, the version it holds now
    is the one its latest verdict says was ingested (a run asked for an older version, queued
    behind the run that read and ingested the newest: no second Druid task for it)."""
    dataset, name = split_partition_key(partition)
    key = s3.upload_key(partition)
    try:
        info = s3.head(s3.uploads_bucket, key)
    except ObjectGone:
        standing = verdict_standing_when_gone(context.instance, partition)
        if standing is None:
            context.log.warning(GONE.message(key))
            return MissingUpload(partition, key, GONE)
        context.log.info(
            f"{key}: deleted before this run read it; its partition keeps its verdict "
            f"({standing.outcome.value} {standing.etag or ''} by run {standing.run_id}): "
            "nothing to do"
        )
        return None
    if ETAG_TAG in context.run.tags:
        verdict = latest_verdict(context.instance, partition)
        if verdict and verdict.outcome is Outcome.INGESTED and verdict.etag == info.etag:
            context.log.info(
                f"{key}: the version it holds now ({info.etag}) is ingested already by run "
                f"{verdict.run_id}: nothing to do"
            )
            return None
    head = s3.read_head(info.bucket, info.key, 8) if info.size else b""
    file_format, compression = guess_format(head, info.key)
    return UploadedObject(dataset, name, info, file_format, compression)


def ingested_already(context: dg.OpExecutionContext) -> FileVerdict | None:
    """For a run asked for one version (the sensor's and the CLI's single-file runs carry its
    ETag): the verdict of an earlier run that ingested that very version, else None. That run
    was asked for an older version and read the object after it changed; running again would
    repeat its Druid task, or, were the file deleted since, fail it and turn a partition whose
    rows are in Druid red (seen in the soak). A rejected or failed version runs again: a
    run that decides nothing leaves its partition grey, not red. A run without the tag (from
    the UI) always runs."""
    etag = context.run.tags.get(ETAG_TAG)
    if etag is None or len(context.partition_keys) != 1:
        return None
    verdict = latest_verdict(context.instance, context.partition_keys[0])
    if verdict is None or verdict.outcome is not Outcome.INGESTED or verdict.etag != etag:
        return None
    return verdict


def verdict_standing_when_gone(instance: dg.DagsterInstance, partition: str) -> FileVerdict | None:
    """For a partition whose object is gone: its latest verdict if that one stands, else None
    (the run records `GONE`). An `ingested` verdict stands: that version's rows are what Druid
    holds (under on_delete: keep they stay; under retract the delete's own run retracts
    them): a run asked for an older version, queued behind the run that ingested the newest,
    must not turn the partition red after a delete (the soak's sequence: a file written three
    times in 16 s, then deleted). A `retracted` verdict stands too: the delete is recorded."""
    verdict = latest_verdict(instance, partition)
    if verdict is not None and verdict.outcome in (Outcome.INGESTED, Outcome.RETRACTED):
        return verdict
    return None


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
