"""druid_spec: the index_parallel task for one validated file, replacing its earlier rows."""

import dagster as dg

from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.planning import TooManyTimeChunks, plan_ingestion
from ingest_pipeline.records import (
    IngestionPlan,
    RejectedUpload,
    ValidatedUpload,
    ValidationOutcome,
)
from ingest_pipeline.resources.druid import DruidResource, DruidUnavailable
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.spec import redact_spec


@dg.asset(
    partitions_def=upload_partitions,
    group_name="ingest",
    description="Druid native batch spec: typed dimensions, rollup off, S3 input with endpoint, "
    "path-style and credential providers; re-ingestion replaces only this file's rows.",
)
def druid_spec(
    context: dg.AssetExecutionContext,
    validated_frame: ValidationOutcome,
    s3: S3Storage,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
) -> dg.Output[IngestionPlan]:
    if isinstance(validated_frame, RejectedUpload):
        # Only reachable when run without its blocking check (e.g. a partial selection).
        raise dg.Failure(description=f"not ingestible: {validated_frame.problem}")
    assert isinstance(validated_frame, ValidatedUpload)
    upload = validated_frame.upload
    try:
        state = druid.datasource_state(
            upload.datasource, upload.key, pipeline_settings.segment_load_timeout_seconds
        )
    except DruidUnavailable as error:
        raise dg.Failure(
            description=f"cannot tell safely whether {upload.key} is already in Druid: "
            f"{error}. Nothing was submitted; re-run when the segments are served."
        ) from None
    configured = pipeline_settings.dataset_config(upload.dataset).segment_granularity
    try:
        plan = plan_ingestion(validated_frame, state, configured, s3.druid_access())
    except TooManyTimeChunks as refused:
        raise dg.Failure(description=f"not submitted to Druid: {refused}") from None
    context.log.info(
        f"{upload.key}: {plan.mode.describe()}; {state.previous.count} earlier rows of this "
        "file in Druid"
    )
    return dg.Output(
        plan,
        data_version=dg.DataVersion(upload.etag),
        metadata={
            "datasource": plan.datasource,
            "mode": plan.mode.describe(),
            "previous_rows_of_this_file": state.previous.count,
            "segment_granularity": plan.segment_granularity,
            "intervals": dg.MetadataValue.json(list(plan.mode.intervals)),
            "spec": dg.MetadataValue.json(redact_spec(plan.spec)),
        },
    )
