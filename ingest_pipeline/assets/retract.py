"""retract_upload: a file deleted from the bucket under `on_delete: retract` leaves Druid.

A job of one step over the file's partition, requested by upload_sensor from the delete's S3
event (tick_plan.DeletedObject). Its rows go by one atomic task: the replace of an overwritten
file with no new file (planning.plan_retraction), over the time chunks they occupy, every
other file's rows there read back and written again unchanged. The file's druid_datasource
partition then gets a materialization with 0 rows and a `retracted` verdict (a file Druid
held no row of, e.g. a rejected one, gets the verdict with no task). Launched by hand (the
UI's launchpad, a partition of this job) it retracts whatever the dataset's on_delete says:
it is the explicit action; it refuses only while the object exists (uploaded again since).
"""

import dagster as dg

from ingest_pipeline.assets.steps import DRUID_DATASOURCE, STEP_RETRIES
from ingest_pipeline.assets.verdicts import verdict_metadata, verdict_observation
from ingest_pipeline.partitions import split_partition_key, upload_partitions
from ingest_pipeline.planning import plan_retraction
from ingest_pipeline.records import IngestLimits, RetractionPlan
from ingest_pipeline.resources.druid_retraction import MARKED_UNUSED
from ingest_pipeline.resources.druid_service import DruidService
from ingest_pipeline.resources.druid_wire import DruidError
from ingest_pipeline.resources.object_store import ObjectGone, ObjectStore
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.tick_plan import RETRACT_JOB
from ingest_pipeline.verdict import FileVerdict, Outcome, Stage
from ingest_pipeline.vocabulary import Problem

AGAIN = "launch retract_upload for the file's partition again once Druid is healthy"


@dg.op(name="retract_file", pool="druid", retry_policy=STEP_RETRIES)
def retract_file(
    context: dg.OpExecutionContext,
    s3: ObjectStore,
    druid: DruidService,
    pipeline_settings: PipelineSettings,
) -> None:
    partition = context.partition_key
    dataset, _ = split_partition_key(partition)
    key = s3.upload_key(partition)
    try:
        s3.head(s3.uploads_bucket, key)
    except ObjectGone:
        pass
    else:
        context.log.info(
            f"s3://{s3.uploads_bucket}/{key} exists again (uploaded after its delete): not "
            "retracted; its own run ingests the new version"
        )
        return
    timeout = pipeline_settings.segment_load_timeout_seconds
    plan = plan_retraction(
        partition,
        key,
        druid.datasource_state(dataset, [key], timeout),
        pipeline_settings.dataset_config(dataset).segment_granularity,
        s3.druid_access(),
        run_identity=context.run.root_run_id or context.run.run_id,
    )
    verdict = retract(context, plan, druid, pipeline_settings.ingest_limits())
    context.log_event(verdict_observation(verdict))
    if verdict.outcome is not Outcome.RETRACTED:
        raise dg.Failure(description=verdict.message(), allow_retries=False)
    metadata: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(0),
        **verdict_metadata(verdict),
    }
    if plan.task is not None:
        metadata["intervals"] = dg.MetadataValue.json(list(plan.task.mode.intervals))
    context.log_event(
        dg.AssetMaterialization(asset_key=DRUID_DATASOURCE, partition=partition, metadata=metadata)
    )


def retract(
    context: dg.OpExecutionContext, plan: RetractionPlan, druid: DruidService, limits: IngestLimits
) -> FileVerdict:
    """Run the plan's task (if any) and say what Druid holds of the file afterwards."""
    run_id = context.run_id
    if plan.task is None:
        context.log.info(f"{plan.source_key}: no rows in Druid, no task to run")
        return FileVerdict(
            plan.partition_key,
            Outcome.RETRACTED,
            Stage.DRUID_DATASOURCE,
            rows=0,
            run_id=run_id,
            retracted_rows=0,
        )
    task = plan.task
    context.log.info(
        f"{plan.source_key}: task {task.task_id} rewrites {list(task.mode.intervals)} without "
        f"its {plan.rows_in_druid} rows"
    )
    try:
        done = druid.retract(task, plan.source_key, limits)
    except DruidError as error:
        return FileVerdict(
            plan.partition_key,
            Outcome.FAILED,
            Stage.DRUID_DATASOURCE,
            problem=Problem(f"the retraction failed: {error}", AGAIN),
            druid_task_id=task.task_id,
            run_id=run_id,
        )
    if done.rows_left.count:
        problem = Problem(
            f"the retraction task {done.outcome.task_id} succeeded but Druid still returns "
            f"{done.rows_left.count} rows of it",
            AGAIN,
        )
        return FileVerdict(
            plan.partition_key,
            Outcome.FAILED,
            Stage.DRUID_DATASOURCE,
            problem=problem,
            rows=done.rows_left.count,
            druid_task_id=done.outcome.task_id,
            run_id=run_id,
        )
    return FileVerdict(
        plan.partition_key,
        Outcome.RETRACTED,
        Stage.DRUID_DATASOURCE,
        rows=0,
        druid_task_id=None if done.outcome.task_id == MARKED_UNUSED else done.outcome.task_id,
        run_id=run_id,
        retracted_rows=plan.rows_in_druid,
    )


@dg.job(
    name=RETRACT_JOB,
    partitions_def=upload_partitions,
    executor_def=dg.in_process_executor,
    description="A file deleted from the bucket: its rows removed from Druid by one replace "
    "task over their time chunks (datasets.yaml on_delete: retract)",
)
def retract_job() -> None:
    retract_file()
