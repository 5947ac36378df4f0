"""druid_datasource: run the run's Druid tasks, wait until each file's rows are queryable,
verify them file by file, and record every file's verdict."""

from collections.abc import Iterator, Mapping

import dagster as dg

from ingest_pipeline.assets.steps import (
    DRUID_DATASOURCE,
    STEP_RETRIES,
    check_outs,
    fail_for_unfinished,
    log_checks,
    materialize,
)
from ingest_pipeline.assets.verdicts import verdict_metadata, verdict_observation
from ingest_pipeline.checks import (
    INGESTION_CHECKS,
    failed_warnings,
    ingestion_check_results,
    not_in_druid,
)
from ingest_pipeline.records import (
    IngestedTask,
    IngestionPlan,
    IngestionPlans,
    IngestLimits,
    NotPlannedKind,
    PlannedFile,
    ValidationOutcomes,
)
from ingest_pipeline.resources.druid_service import DruidService
from ingest_pipeline.resources.druid_wire import DruidError, DruidTaskFailed
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.verdict import FileVerdict, Outcome, Stage
from ingest_pipeline.vocabulary import Problem

RERUN = "materialize the file's partition again (or upload it again) once Druid is healthy"


@dg.op(
    name=DRUID_DATASOURCE,
    retry_policy=STEP_RETRIES,
    ins={"plans": dg.In(IngestionPlans), "outcomes": dg.In(ValidationOutcomes)},
    out={DRUID_DATASOURCE: dg.Out(is_required=False), **check_outs(INGESTION_CHECKS)},
    pool="druid",
)
def druid_datasource_step(
    context: dg.OpExecutionContext,
    plans: IngestionPlans,
    outcomes: ValidationOutcomes,
    druid: DruidService,
    pipeline_settings: PipelineSettings,
) -> Iterator[dg.Output]:
    verdicts = verdicts_before_druid(plans, outcomes, context.run_id)
    for verdict in verdicts:
        if verdict.stage is Stage.DRUID_SPEC:
            message = verdict.message()
            log_checks(context, verdict.partition, [not_in_druid(verdict.partition, message)])
    record_verdicts(context, verdicts)
    limits = pipeline_settings.ingest_limits()
    for plan in plans.plans:
        # Each task's verdicts once it is done: an error in a later task (the step's retries
        # then fail the step) must not leave files whose rows are in Druid, materialized and
        # green, without a verdict.
        done = ingest(context, plan, druid, limits)
        record_verdicts(context, done)
        verdicts.extend(done)
    unfinished = {
        v.partition: v.problem.sentence() if v.problem else v.message()
        for v in verdicts
        if v.outcome is not Outcome.INGESTED
    }
    fail_for_unfinished(context, DRUID_DATASOURCE, unfinished)
    yield from ()


def record_verdicts(context: dg.OpExecutionContext, verdicts: list[FileVerdict]) -> None:
    for verdict in verdicts:
        context.log_event(verdict_observation(verdict))


def verdicts_before_druid(
    plans: IngestionPlans, outcomes: ValidationOutcomes, run_id: str
) -> list[FileVerdict]:
    """The verdicts of the run's files that stopped before a Druid task."""
    verdicts = [
        FileVerdict(p, Outcome.REJECTED, Stage.RAW_FILE, m.etag, m.problem, run_id=run_id)
        for p, m in outcomes.missing.items()
    ]
    verdicts += [
        FileVerdict(
            p, Outcome.REJECTED, Stage.VALIDATED_FRAME, r.upload.etag, r.problem, run_id=run_id
        )
        for p, r in outcomes.rejected.items()
    ]
    for refused in plans.refused:
        validated = outcomes.validated.get(refused.partition_key)
        verdicts.append(
            FileVerdict(
                refused.partition_key,
                Outcome.REJECTED if refused.kind is NotPlannedKind.REFUSED else Outcome.FAILED,
                Stage.DRUID_SPEC,
                validated.upload.etag if validated else None,
                refused.problem,
                validated.row_count if validated else None,
                run_id=run_id,
            )
        )
    return verdicts


def ingest(
    context: dg.OpExecutionContext, plan: IngestionPlan, druid: DruidService, limits: IngestLimits
) -> list[FileVerdict]:
    """Run one task; each of its files' checks, materialization and verdict."""
    try:
        done = druid.ingest(plan, limits)
    except DruidError as error:
        return failed_task(context, plan, error)
    context.log.info(f"Druid task {done.outcome.task_id} for {len(plan.files)} file(s) succeeded")
    verdicts = []
    for planned in plan.files:
        results = ingestion_check_results(
            planned,
            plan,
            done.rows[planned.source_key],
            done.outcome,
            done.served,
            done.columns,
        )
        log_checks(context, planned.partition_key, results)
        verdict = ingested_verdict(planned, done, results, context.run_id)
        if verdict.outcome is Outcome.INGESTED:
            metadata = file_metadata(planned, plan, done) | verdict_metadata(verdict)
            materialize(context, DRUID_DATASOURCE, planned.partition_key, metadata)
        verdicts.append(verdict)
    return verdicts


def ingested_verdict(
    planned: PlannedFile,
    done: IngestedTask,
    results: list[dg.AssetCheckResult],
    run_id: str,
) -> FileVerdict:
    """Ingested if every ERROR check passed; failed (the first failed check's why) if not.
    Its warnings: the file's failed WARN checks, of validation and of the ingestion."""
    failed = [r for r in results if not r.passed]
    errors = [r for r in failed if r.severity == dg.AssetCheckSeverity.ERROR]
    problem = None
    if errors:
        problem = Problem(
            f"{errors[0].check_name} failed: {errors[0].description}",
            "see the check's metadata on the file's druid_datasource partition; " + RERUN,
        )
    return FileVerdict(
        partition=planned.partition_key,
        outcome=Outcome.FAILED if errors else Outcome.INGESTED,
        stage=Stage.DRUID_DATASOURCE,
        etag=planned.etag,
        problem=problem,
        rows=done.rows[planned.source_key].count,
        druid_task_id=done.outcome.task_id,
        seconds_to_queryable=round(done.queryable_seconds, 2),
        run_id=run_id,
        warnings=planned.validation_warnings + failed_warnings(results),
        schema_drift=planned.schema_drift,
    )


def failed_task(
    context: dg.OpExecutionContext, plan: IngestionPlan, error: DruidError
) -> list[FileVerdict]:
    """Every file of a failed task: a failed check with Druid's reason and log, a verdict."""
    outcome = error.outcome if isinstance(error, DruidTaskFailed) else None
    problem = Problem(str(error), "see the task's log tail on the failed check; " + RERUN)
    context.log.error(f"{len(plan.files)} file(s) not ingested: {error}")
    verdicts = []
    for planned in plan.files:
        message = problem.message(planned.partition_key)
        check = not_in_druid(planned.source_key, message, failure_metadata(error))
        log_checks(context, planned.partition_key, [check])
        verdicts.append(
            FileVerdict(
                planned.partition_key,
                Outcome.FAILED,
                Stage.DRUID_DATASOURCE,
                planned.etag,
                problem,
                druid_task_id=outcome.task_id if outcome else plan.task_id,
                run_id=context.run_id,
            )
        )
    return verdicts


def file_metadata(
    planned: PlannedFile, plan: IngestionPlan, done: IngestedTask
) -> dict[str, object]:
    found = done.rows[planned.source_key]
    return {
        "datasource": plan.datasource,
        "druid_task_id": done.outcome.task_id,
        "files_in_task": len(plan.files),
        "dagster/row_count": found.count,
        "row_stats_of_task": dg.MetadataValue.json(dict(done.outcome.row_stats)),
        # a task that succeeded with a message: its worker died after it published
        **({"druid_note": done.outcome.error_message} if done.outcome.error_message else {}),
        "interval": f"{found.first} .. {found.last}",
        "mode": plan.mode.describe(),
        "segments_in_datasource": done.segments.count,
        "median_rows_per_segment": done.segments.median_rows,
        "task_seconds": round(done.task_seconds, 2),
        "segment_load_seconds": round(done.segment_load_seconds, 2),
        "seconds_submit_to_queryable": round(done.queryable_seconds, 2),
    }


def failure_metadata(error: DruidError) -> Mapping[str, dg.MetadataValue]:
    """What a person needs to see of a failed task in the UI: Druid's error and the log."""
    outcome = error.outcome if isinstance(error, DruidTaskFailed) else None
    if outcome is None:
        return {}
    return {
        "task_id": dg.MetadataValue.text(outcome.task_id),
        "druid_error": dg.MetadataValue.text(outcome.error_message or ""),
        "root_cause": dg.MetadataValue.text(outcome.root_cause),
        "row_stats": dg.MetadataValue.json(dict(outcome.row_stats)),
        "parse_exceptions": dg.MetadataValue.json(list(outcome.parse_exceptions[:20])),
        "task_log_tail": dg.MetadataValue.md(f"```\n{outcome.log_tail}\n```"),
    }
