"""druid_datasource: run the run's Druid tasks, wait until each file's rows are queryable,
verify them file by file."""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
from pydantic import TypeAdapter

from ingest_pipeline.assets.handoff import load_handoffs
from ingest_pipeline.checks import (
    INGESTION_CHECKS,
    ingestion_check_results,
    log_check_evaluations,
    not_in_druid,
)
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.records import IngestionPlan, IngestionPlans, PlannedFile, TaskOutcome
from ingest_pipeline.resources.druid import DruidResource, DruidTaskFailed, DruidUnavailable
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings

PLANS = TypeAdapter(IngestionPlans)


@dataclass(frozen=True)
class TaskFailure:
    plan: IngestionPlan
    message: str
    metadata: dict[str, object]


@dg.multi_asset(
    outs={
        "druid_datasource": dg.AssetOut(
            group_name="ingest",
            description="Each file's rows in the Druid datasource named by its dataset, queryable.",
        )
    },
    partitions_def=upload_partitions,
    deps=["druid_spec"],
    pool="druid",
    check_specs=INGESTION_CHECKS,
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def druid_datasource(
    context: dg.AssetExecutionContext,
    s3: S3Storage,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
) -> Iterator[dg.MaterializeResult]:
    wanted = set(context.partition_keys)
    plans: dict[str, IngestionPlan] = {}
    refused: dict[str, str] = {}
    for record in load_handoffs(context, s3, "druid_spec", PLANS):
        for plan in record.plans:
            if any(f.partition_key in wanted for f in plan.files):
                plans[plan.task_id] = plan
        refused.update(
            {r.partition_key: r.reason for r in record.refused if r.partition_key in wanted}
        )
    outside = {f.partition_key for p in plans.values() for f in p.files} - wanted
    if outside:
        # A task appends all its files: run for some, it would duplicate the others.
        raise dg.Failure(
            description=f"the planned Druid tasks also ingest {sorted(outside)[:5]}, which this "
            "run does not include: materialize druid_spec together with druid_datasource"
        )
    failures: list[TaskFailure] = []
    for plan in plans.values():
        failure = ingest(context, plan, druid, pipeline_settings)
        if failure:
            failures.append(failure)
    for partition, reason in refused.items():
        log_check_evaluations(context, partition, [not_in_druid(partition, reason)])
        context.add_asset_metadata(
            {"verdict": "not ingested", "problem": reason}, partition_key=partition
        )
    ingested = {f.partition_key for p in plans.values() for f in p.files}
    for partition in wanted - ingested - set(refused):
        context.add_asset_metadata(
            {"verdict": "not ingested", "problem": "rejected before Druid (see validated_frame)"},
            partition_key=partition,
        )
    if failures:
        for failure in failures:
            for planned in failure.plan.files:
                log_check_evaluations(
                    context,
                    planned.partition_key,
                    [not_in_druid(planned.source_key, failure.message)],
                )
        raise dg.Failure(
            description=" | ".join(f.message for f in failures),
            metadata=failures[0].metadata,
        )
    yield dg.MaterializeResult(
        asset_key="druid_datasource",
        metadata={"druid_tasks": len(plans), "files_ingested": len(ingested)},
    )


def ingest(
    context: dg.AssetExecutionContext,
    plan: IngestionPlan,
    druid: DruidResource,
    settings: PipelineSettings,
) -> TaskFailure | None:
    """Run one task and record each of its files' metadata and checks; a failure is returned."""
    submitted = time.monotonic()
    files = ", ".join(f.source_key for f in plan.files[:3]) + (
        f" and {len(plan.files) - 3} more" if len(plan.files) > 3 else ""
    )
    try:
        outcome = druid.run_task(plan.spec, settings.ingestion_timeout_seconds)
    except DruidTaskFailed as failed:
        return TaskFailure(plan, f"{files}: {failed}", failure_metadata(failed))
    task_seconds = time.monotonic() - submitted
    context.log.info(f"Druid task {outcome.task_id} for {len(plan.files)} file(s) succeeded")
    try:
        load_seconds = druid.wait_for_segments(
            plan.datasource, settings.segment_load_timeout_seconds
        )
    except DruidUnavailable as error:
        message = f"Druid task {outcome.task_id} ({files}) succeeded but {error}"
        return TaskFailure(plan, message, {"task_id": outcome.task_id})
    # Loaded segments are not yet proof: the broker's view can lag (e.g. after a coordinator
    # restart). Queryable means the broker returns each file's rows.
    rows = druid.wait_for_source_rows(
        plan.datasource,
        {f.source_key: f.validated_rows for f in plan.files},
        timeout_seconds=settings.segment_load_timeout_seconds,
    )
    queryable_seconds = time.monotonic() - submitted
    start = min(f.validated_interval[0] for f in plan.files)
    end = max(f.validated_interval[1] for f in plan.files)
    served = druid.wait_for_segments_served(
        plan.datasource, start, end, settings.segment_load_timeout_seconds
    )
    # The broker refreshes its schema after segments load: a new column can lag behind rows.
    columns = druid.wait_for_columns(
        plan.datasource, list(plan.specified_columns), settings.schema_wait_seconds
    )
    segments = druid.segment_stats(plan.datasource)
    druid.ensure_auto_compaction(
        plan.datasource, plan.segment_granularity, settings.max_rows_per_segment
    )
    for planned in plan.files:
        found = rows[planned.source_key]
        context.add_asset_metadata(
            file_metadata(planned, plan, outcome, found.count, found.first, found.last)
            | {
                "segments_in_datasource": segments.count,
                "median_rows_per_segment": segments.median_rows,
                "task_seconds": round(task_seconds, 2),
                "segment_load_seconds": round(load_seconds, 2),
                "seconds_submit_to_queryable": round(queryable_seconds, 2),
            },
            partition_key=planned.partition_key,
        )
        results = ingestion_check_results(planned, plan, found, outcome, served, columns)
        log_check_evaluations(context, planned.partition_key, results)
    return None


def file_metadata(
    planned: PlannedFile,
    plan: IngestionPlan,
    outcome: TaskOutcome,
    rows: int,
    first: datetime | None,
    last: datetime | None,
) -> dict[str, object]:
    return {
        "verdict": "ingested",
        "datasource": plan.datasource,
        "druid_task_id": outcome.task_id,
        "files_in_task": len(plan.files),
        "dagster/row_count": rows,
        "row_stats_of_task": dg.MetadataValue.json(dict(outcome.row_stats)),
        "interval": f"{first} .. {last}",
        "mode": plan.mode.describe(),
    }


def failure_metadata(failed: DruidTaskFailed) -> dict[str, object]:
    """What a person needs to see of a failed task in the UI: Druid's error and the log."""
    outcome = failed.outcome
    if outcome is None:
        return {}
    return {
        "task_id": outcome.task_id,
        "druid_error": outcome.error_message or "",
        "root_cause": outcome.root_cause,
        "row_stats": dg.MetadataValue.json(dict(outcome.row_stats)),
        "parse_exceptions": dg.MetadataValue.json(list(outcome.parse_exceptions[:20])),
        "task_log_tail": dg.MetadataValue.md(f"```\n{outcome.log_tail}\n```"),
    }
