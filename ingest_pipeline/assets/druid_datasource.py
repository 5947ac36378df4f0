"""druid_datasource: run the Druid task, wait until its rows are queryable, verify them."""

import time
from collections.abc import Iterator

import dagster as dg

from ingest_pipeline.checks import INGESTION_CHECKS, ingestion_check_results, selected
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.records import IngestedFile, IngestionPlan
from ingest_pipeline.resources.druid import DruidResource, DruidTaskFailed, DruidUnavailable
from ingest_pipeline.resources.settings import PipelineSettings


@dg.asset(
    partitions_def=upload_partitions,
    group_name="ingest",
    pool="druid",
    check_specs=INGESTION_CHECKS,
    description="This file's rows in the Druid datasource named by its dataset, queryable.",
)
def druid_datasource(
    context: dg.AssetExecutionContext,
    druid_spec: IngestionPlan,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
) -> Iterator[dg.Output[IngestedFile] | dg.AssetCheckResult]:
    plan = druid_spec
    submitted = time.monotonic()
    try:
        outcome = druid.run_task(plan.spec, pipeline_settings.ingestion_timeout_seconds)
    except DruidTaskFailed as failed:
        raise dg.Failure(
            description=f"{plan.source_key}: {failed}", metadata=failure_metadata(failed)
        ) from None
    task_seconds = time.monotonic() - submitted
    context.log.info(f"Druid task {outcome.task_id} for {plan.source_key} succeeded")
    try:
        load_seconds = druid.wait_for_segments(
            plan.datasource, pipeline_settings.segment_load_timeout_seconds
        )
    except DruidUnavailable as error:
        raise dg.Failure(
            description=f"Druid task {outcome.task_id} succeeded but {error}",
            metadata={"task_id": outcome.task_id},
        ) from None
    # Loaded segments are not yet proof: the broker's view can lag (e.g. after a coordinator
    # restart). Queryable means the broker returns this file's rows.
    rows = druid.wait_for_source_rows(
        plan.datasource,
        plan.source_key,
        expected=plan.validated_rows,
        timeout_seconds=pipeline_settings.segment_load_timeout_seconds,
    )
    queryable_seconds = time.monotonic() - submitted
    served = druid.wait_for_segments_served(
        plan.datasource, *plan.validated_interval, pipeline_settings.segment_load_timeout_seconds
    )
    # The broker refreshes its schema after segments load: a new column can lag behind rows.
    columns = druid.wait_for_columns(
        plan.datasource, list(plan.specified_columns), pipeline_settings.schema_wait_seconds
    )
    segments = druid.segment_stats(plan.datasource)
    druid.ensure_auto_compaction(
        plan.datasource, plan.segment_granularity, pipeline_settings.max_rows_per_segment
    )
    yield dg.Output(
        IngestedFile(plan.datasource, plan.source_key, outcome.task_id, rows.count),
        metadata={
            "datasource": plan.datasource,
            "druid_task_id": outcome.task_id,
            "dagster/row_count": rows.count,
            "row_stats": dg.MetadataValue.json(dict(outcome.row_stats)),
            "interval": f"{rows.first} .. {rows.last}",
            "segments_in_datasource": segments.count,
            "median_rows_per_segment": segments.median_rows,
            "task_seconds": round(task_seconds, 2),
            "segment_load_seconds": round(load_seconds, 2),
            "seconds_submit_to_queryable": round(queryable_seconds, 2),
            "mode": plan.mode.describe(),
        },
    )
    yield from selected(context, ingestion_check_results(plan, rows, outcome, served, columns))


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
