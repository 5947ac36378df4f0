"""druid_spec: the index_parallel tasks for a run's validated files (new files appended
together, one task per datasource; a file seen before replaced alone)."""

from collections import defaultdict

import dagster as dg
from pydantic import TypeAdapter

from ingest_pipeline.assets.handoff import RECORD_METADATA, load_handoffs, save_handoff
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.planning import plan_ingestion
from ingest_pipeline.records import (
    IngestionPlan,
    IngestionPlans,
    RefusedFile,
    Replace,
    ValidatedUpload,
    ValidationOutcomes,
)
from ingest_pipeline.resources.druid import DruidResource, DruidUnavailable
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.spec import redact_spec

OUTCOMES = TypeAdapter(ValidationOutcomes)
PLANS = TypeAdapter(IngestionPlans)
#: Plans with more files than this show a link to the stored spec, not the spec itself.
SPEC_IN_METADATA_MAX_FILES = 10


@dg.asset(
    partitions_def=upload_partitions,
    group_name="ingest",
    deps=["validated_frame"],
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Druid native batch specs: typed dimensions, rollup off, S3 input with "
    "endpoint, path-style and credential providers; new files appended in one task per "
    "datasource, a re-ingested file replacing only its own rows.",
)
def druid_spec(
    context: dg.AssetExecutionContext,
    s3: S3Storage,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
) -> dg.MaterializeResult:
    wanted = set(context.partition_keys)
    validated: dict[str, ValidatedUpload] = {}
    not_ingestible: dict[str, str] = {}
    for record in load_handoffs(context, s3, "validated_frame", OUTCOMES):
        validated.update({k: v for k, v in record.validated.items() if k in wanted})
        not_ingestible.update({k: r.problem for k, r in record.rejected.items() if k in wanted})
    for partition in wanted - set(validated) - set(not_ingestible):
        not_ingestible[partition] = "validated_frame has no verdict for it: re-run the file"
    if not validated:
        raise dg.Failure(
            description="no file of this run can be ingested: "
            + "; ".join(f"{k}: {why}" for k, why in sorted(not_ingestible.items()))
        )
    by_datasource: dict[str, list[ValidatedUpload]] = defaultdict(list)
    for one in validated.values():
        by_datasource[one.upload.datasource].append(one)
    plans: list[IngestionPlan] = []
    refused: list[RefusedFile] = []
    for datasource, files in sorted(by_datasource.items()):
        batch = plan_datasource(context, datasource, files, s3, druid, pipeline_settings)
        plans.extend(batch.plans)
        refused.extend(batch.refused)
    for refusal in refused:
        context.log.error(f"not submitted to Druid: {refusal.reason}")
    if not plans:
        raise dg.Failure(
            description="no file of this run can be ingested: "
            + "; ".join(f"not submitted to Druid: {r.reason}" for r in refused)
        )
    record = IngestionPlans(tuple(plans), tuple(refused))
    record_uri = save_handoff(s3, context.run.run_id, "druid_spec", record, PLANS)
    link = dg.MetadataValue.path(record_uri)
    for plan in plans:
        spec_shown = (
            dg.MetadataValue.json(redact_spec(plan.spec))
            if len(plan.files) <= SPEC_IN_METADATA_MAX_FILES
            else link
        )
        for planned in plan.files:
            context.add_asset_metadata(
                {
                    "datasource": plan.datasource,
                    "mode": plan.mode.describe(),
                    "previous_rows_of_this_file": plan.mode.previous_rows
                    if isinstance(plan.mode, Replace)
                    else 0,
                    "druid_task_id": plan.task_id,
                    "files_in_task": len(plan.files),
                    "segment_granularity": plan.segment_granularity,
                    "intervals": dg.MetadataValue.json(list(plan.mode.intervals)),
                    "spec": spec_shown,
                    RECORD_METADATA: link,
                },
                partition_key=planned.partition_key,
            )
    for refusal in refused:
        not_ingestible[refusal.partition_key] = f"not submitted to Druid: {refusal.reason}"
    for partition, why in not_ingestible.items():
        context.add_asset_metadata(
            {"verdict": "not ingested", "problem": why, RECORD_METADATA: link},
            partition_key=partition,
        )
    return dg.MaterializeResult(
        metadata={"druid_tasks": len(plans), "files_planned": sum(len(p.files) for p in plans)}
    )


def plan_datasource(
    context: dg.AssetExecutionContext,
    datasource: str,
    files: list[ValidatedUpload],
    s3: S3Storage,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
) -> IngestionPlans:
    keys = [one.upload.key for one in files]
    try:
        state = druid.datasource_state(
            datasource, keys, pipeline_settings.segment_load_timeout_seconds
        )
    except DruidUnavailable as error:
        raise dg.Failure(
            description=f"cannot tell safely whether these files are already in '{datasource}': "
            f"{error}. Nothing was submitted; re-run when the segments are served."
        ) from None
    configured = pipeline_settings.dataset_config(files[0].upload.dataset).segment_granularity
    # The run's root id keeps task ids stable across retries of this run only: a new run of
    # the same files is a new task.
    batch = plan_ingestion(
        files,
        state,
        configured,
        s3.druid_access(),
        run_identity=context.run.root_run_id or context.run.run_id,
    )
    for plan in batch.plans:
        context.log.info(
            f"{datasource}: task {plan.task_id}: {plan.mode.describe()}, {len(plan.files)} "
            f"file(s), {plan.validated_rows} rows"
        )
    return batch
