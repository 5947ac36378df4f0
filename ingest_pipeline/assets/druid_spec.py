"""druid_spec: the index_parallel tasks for a run's validated files (new files appended
together, one task per datasource; a file seen before replaced alone)."""

from collections import defaultdict
from collections.abc import Iterator, Sequence

import dagster as dg

from ingest_pipeline.assets.steps import (
    DRUID_SPEC,
    RECORDS_IO,
    fail_for_unfinished,
    materialize,
)
from ingest_pipeline.planning import plan_ingestion
from ingest_pipeline.records import (
    IngestionPlan,
    IngestionPlans,
    NotPlannedKind,
    RefusedFile,
    Replace,
    ValidatedUpload,
    ValidationOutcomes,
)
from ingest_pipeline.resources.druid_service import DruidService
from ingest_pipeline.resources.druid_wire import DruidError
from ingest_pipeline.resources.object_store import ObjectStore
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.spec import redact_spec
from ingest_pipeline.vocabulary import Problem

#: Plans with more files than this show a link to the stored spec, not the spec itself.
SPEC_IN_METADATA_MAX_FILES = 10


@dg.op(
    name=DRUID_SPEC,
    ins={"outcomes": dg.In(ValidationOutcomes)},
    out={
        "plans": dg.Out(IngestionPlans, io_manager_key=RECORDS_IO),
        DRUID_SPEC: dg.Out(is_required=False),
    },
)
def druid_spec_step(
    context: dg.OpExecutionContext,
    outcomes: ValidationOutcomes,
    s3: ObjectStore,
    druid: DruidService,
    pipeline_settings: PipelineSettings,
) -> Iterator[dg.Output]:
    by_datasource: dict[str, list[ValidatedUpload]] = defaultdict(list)
    for one in outcomes.validated.values():
        by_datasource[one.upload.datasource].append(one)
    plans: list[IngestionPlan] = []
    refused: list[RefusedFile] = []
    for datasource, files in sorted(by_datasource.items()):
        batch = plan_datasource(context, datasource, files, s3, druid, pipeline_settings)
        plans.extend(batch.plans)
        refused.extend(batch.refused)
    for refusal in refused:
        context.log.error(f"not submitted to Druid: {refusal.problem.message(refusal.source_key)}")
    for plan in plans:
        for planned in plan.files:
            materialize(context, DRUID_SPEC, planned.partition_key, plan_metadata(plan))
    unfinished = {p: r.message for p, r in outcomes.rejected.items()}
    unfinished |= {p: m.problem.message(m.key) for p, m in outcomes.missing.items()}
    unfinished |= {r.partition_key: r.problem.message(r.source_key) for r in refused}
    fail_for_unfinished(context, DRUID_SPEC, unfinished)
    yield dg.Output(IngestionPlans(tuple(plans), tuple(refused)), "plans")


def plan_metadata(plan: IngestionPlan) -> dict[str, object]:
    spec_shown: object = (
        dg.MetadataValue.json(redact_spec(plan.spec))
        if len(plan.files) <= SPEC_IN_METADATA_MAX_FILES
        else f"{len(plan.files)} files: the spec is in this run's druid_spec record"
    )
    return {
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
    }


def plan_datasource(
    context: dg.OpExecutionContext,
    datasource: str,
    files: Sequence[ValidatedUpload],
    s3: ObjectStore,
    druid: DruidService,
    pipeline_settings: PipelineSettings,
) -> IngestionPlans:
    """One datasource's tasks; if Druid cannot say safely which files it has already, none of
    them is planned (a guess would turn a re-run into a duplicate)."""
    keys = [one.upload.key for one in files]
    try:
        state = druid.datasource_state(
            datasource, keys, pipeline_settings.segment_load_timeout_seconds
        )
    except DruidError as error:
        problem = Problem(
            f"cannot tell safely whether it is already in '{datasource}' ({error}); nothing "
            "was submitted",
            "re-run the file when Druid serves every segment of the datasource",
        )
        return IngestionPlans(
            (),
            tuple(
                RefusedFile(
                    one.upload.partition_key, one.upload.key, problem, NotPlannedKind.UNAVAILABLE
                )
                for one in files
            ),
        )
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
