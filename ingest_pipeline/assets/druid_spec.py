"""druid_spec: the index_parallel tasks for a run's validated files (new files appended
together, one task per datasource; a file seen before replaced alone)."""

from collections import defaultdict
from collections.abc import Iterator, Sequence

import dagster as dg

from ingest_pipeline.assets.steps import (
    DRUID_SPEC,
    RECORD,
    RECORDS_IO,
    STEP_RETRIES,
    fail_for_unfinished,
    hand_on,
    materialize,
    record_link,
    stored_records,
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
    retry_policy=STEP_RETRIES,
    ins={"outcomes": dg.In(ValidationOutcomes)},
    out={
        "plans": dg.Out(IngestionPlans, io_manager_key=RECORDS_IO, is_required=False),
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
    reused = stored_plans(context, s3)
    if reused is not None:
        yield from hand_on(context, s3, reused, "plans")
        return
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
    link = record_link(context, s3, "plans")
    for plan in plans:
        for planned in plan.files:
            metadata = {**plan_metadata(plan), RECORD: link}
            materialize(context, DRUID_SPEC, planned.partition_key, metadata)
    unfinished = {p: r.problem.sentence() for p, r in outcomes.rejected.items()}
    unfinished |= {p: m.problem.sentence() for p, m in outcomes.missing.items()}
    unfinished |= {r.partition_key: r.problem.sentence() for r in refused}
    fail_for_unfinished(context, DRUID_SPEC, unfinished)
    yield from hand_on(context, s3, IngestionPlans(tuple(plans), tuple(refused)), "plans")


def stored_plans(context: dg.OpExecutionContext, s3: ObjectStore) -> IngestionPlans | None:
    """The stored tasks of this run's files when the run does not plan them (retrying only the
    Druid step reuses the task ids, so a task that succeeded is followed, not run twice); None
    to plan anew, also when a stored task holds files this run does not (it would ingest them
    without recording it)."""
    stored = stored_records(context, s3, DRUID_SPEC, IngestionPlans)
    if stored is None:
        return None
    wanted = set(context.partition_keys)
    plans = {
        plan.task_id: plan
        for record in stored
        for plan in record.plans
        if any(f.partition_key in wanted for f in plan.files)
    }
    outside = {f.partition_key for plan in plans.values() for f in plan.files} - wanted
    if outside:
        context.log.warning(
            f"the stored Druid tasks of these files also ingest {sorted(outside)[:5]}: planning "
            "anew for this run's files only"
        )
        return None
    return IngestionPlans(tuple(plans.values()), ())


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
