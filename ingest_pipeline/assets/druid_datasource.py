"""druid_datasource: run the Druid task, wait until its rows are queryable, verify them."""

import time
from typing import Any

import dagster as dg

from ingest_pipeline.checks import INGESTION_CHECKS, ingestion_check_results
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources.druid import DruidError, DruidResource
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
    druid_spec: dict[str, Any],
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
):  # noqa: ANN201 - yields an Output and check results
    datasource = druid_spec["datasource"]
    source_key = druid_spec["source_key"]
    submitted = time.monotonic()
    task_id = druid.submit_task(druid_spec["spec"])
    context.log.info(f"submitted Druid task {task_id} for {source_key}")
    outcome = druid.wait_for_task(task_id, pipeline_settings.ingestion_timeout_seconds)
    task_seconds = time.monotonic() - submitted
    if not outcome.succeeded:
        raise dg.Failure(
            description=(
                f"Druid task {task_id} for {source_key} FAILED: {outcome.error_message}"
                + (f" | root cause: {outcome.root_cause}" if outcome.root_cause else "")
            ),
            metadata={
                "task_id": task_id,
                "druid_error": outcome.error_message or "",
                "root_cause": outcome.root_cause,
                "row_stats": dg.MetadataValue.json(outcome.row_stats),
                "parse_exceptions": dg.MetadataValue.json(outcome.parse_exceptions[:20]),
                "task_log_tail": dg.MetadataValue.md(f"```\n{outcome.log_tail}\n```"),
            },
        )
    try:
        load_seconds = druid.wait_for_segments(
            datasource, pipeline_settings.segment_load_timeout_seconds
        )
    except DruidError as error:
        raise dg.Failure(
            description=f"Druid task {task_id} succeeded but {error}",
            metadata={"task_id": task_id},
        ) from None
    # Loaded segments are not yet proof: the broker's view can lag (e.g. after a coordinator
    # restart). Queryable means the broker returns this file's rows.
    rows = druid.wait_for_source_rows(
        datasource,
        source_key,
        expected=druid_spec["validated_rows"],
        timeout_seconds=pipeline_settings.segment_load_timeout_seconds,
    )
    queryable_seconds = time.monotonic() - submitted
    segments = druid.sql(
        "SELECT COUNT(*) AS n FROM sys.segments WHERE datasource = ? AND is_published = 1 "
        "AND is_overshadowed = 0",
        [datasource],
    )[0]["n"]
    yield dg.Output(
        {
            "datasource": datasource,
            "source_key": source_key,
            "task_id": task_id,
            "rows": rows["n"],
        },
        metadata={
            "datasource": datasource,
            "druid_task_id": task_id,
            "dagster/row_count": rows["n"],
            "row_stats": dg.MetadataValue.json(outcome.row_stats),
            "interval": f"{rows['t0']} .. {rows['t1']}",
            "segments_in_datasource": segments,
            "task_seconds": round(task_seconds, 2),
            "segment_load_seconds": round(load_seconds, 2),
            "seconds_submit_to_queryable": round(queryable_seconds, 2),
            "mode": druid_spec["mode"],
        },
    )
    yield from ingestion_check_results(
        validated_rows=druid_spec["validated_rows"],
        rows_in_druid=rows["n"],
        row_stats=outcome.row_stats,
        # What the wait above saw when every segment was loaded and served. Asking again here
        # would judge a neighbour file's ingestion that published meanwhile, not this one.
        load_percent=100.0,
        specified=druid_spec["specified_columns"],
        actual_columns=druid.datasource_columns(datasource),
    )
