"""druid_spec: the index_parallel task for one validated file, replacing its earlier rows."""

from datetime import datetime
from typing import Any

import dagster as dg

from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources.druid import DruidError, DruidResource
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.spec import (
    build_index_spec,
    choose_segment_granularity,
    granularity_of_interval,
    interval_cover,
    merge_intervals,
    redact_spec,
)


@dg.asset(
    partitions_def=upload_partitions,
    group_name="ingest",
    description="Druid native batch spec: typed dimensions, rollup off, S3 input with endpoint, "
    "path-style and credential providers; re-ingestion replaces only this file's rows.",
)
def druid_spec(
    context: dg.AssetExecutionContext,
    validated_frame: dict[str, Any],
    s3: S3Storage,
    druid: DruidResource,
    pipeline_settings: PipelineSettings,
) -> dg.Output[dict[str, Any]]:
    if not validated_frame["accepted"]:
        # Only reachable when run without its blocking check (e.g. a partial selection).
        raise dg.Failure(description=f"not ingestible: {validated_frame['problem']}")
    datasource = validated_frame["datasource"]
    source_key = validated_frame["source_key"]
    time_min = datetime.fromisoformat(validated_frame["time_min"])
    time_max = datetime.fromisoformat(validated_frame["time_max"])
    config = pipeline_settings.dataset_config(validated_frame["dataset"])

    existing_columns: dict[str, str] = {}
    previous: dict[str, Any] = {"n": 0}
    existing_granularity = None
    if druid.has_segments(datasource):
        # Whether this file has rows already decides append vs replace: ask only once every
        # segment is served, or a historical that is down would turn a re-run into a duplicate.
        try:
            druid.wait_for_segments(datasource, pipeline_settings.segment_load_timeout_seconds)
        except DruidError as error:
            raise dg.Failure(
                description=f"cannot tell safely whether {source_key} is already in Druid: "
                f"{error}. Nothing was submitted; re-run when the segments are served."
            ) from None
        existing_columns = druid.datasource_columns(datasource)
        previous = druid.rows_of_source(datasource, source_key)
        segment = druid.segment_interval(datasource)
        if segment:
            existing_granularity = granularity_of_interval(*map(parse_druid_time, segment))
    # One granularity per datasource: the configured one, else the one its segments already
    # have, else one that suits this first file's time span.
    granularity = (
        config.segment_granularity
        or existing_granularity
        or choose_segment_granularity(time_min, time_max)
    )
    replace_intervals = None
    if previous["n"]:
        replace_intervals = merge_intervals(
            interval_cover(
                parse_druid_time(previous["t0"]), parse_druid_time(previous["t1"]), granularity
            )
            + interval_cover(time_min, time_max, granularity)
        )
    access_key, secret_key = s3.druid_credentials()
    spec = build_index_spec(
        datasource,
        [tuple(pair) for pair in validated_frame["schema"]],
        validated_frame["ndjson_uri"],
        source_key,
        endpoint_url=s3.druid_endpoint,
        region=s3.region,
        access_key_id=access_key,
        secret_access_key=secret_key,
        time_min=time_min,
        time_max=time_max,
        replace_intervals=replace_intervals,
        previous_rows_present=bool(previous["n"]),
        segment_granularity=granularity,
        existing_dimensions=[
            (name, SQL_TO_DRUID[sql_type])
            for name, sql_type in existing_columns.items()
            if sql_type in SQL_TO_DRUID and name not in ("__time",)
        ],
    )
    mode = "replace (combining reindex)" if replace_intervals else "append (new file)"
    context.log.info(f"{source_key}: {mode}; {previous['n']} earlier rows of this file in Druid")
    return dg.Output(
        {
            "datasource": datasource,
            "source_key": source_key,
            "spec": spec,
            "mode": mode,
            "previous_rows": int(previous["n"]),
            "validated_rows": validated_frame["row_count"],
            "specified_columns": dict(validated_frame["schema"]),
        },
        data_version=dg.DataVersion(validated_frame["etag"]),
        metadata={
            "datasource": datasource,
            "mode": mode,
            "previous_rows_of_this_file": int(previous["n"]),
            "segment_granularity": granularity,
            "replace_intervals": dg.MetadataValue.json(replace_intervals or []),
            "spec": dg.MetadataValue.json(redact_spec(spec)),
        },
    )


SQL_TO_DRUID = {"VARCHAR": "string", "BIGINT": "long", "DOUBLE": "double", "FLOAT": "float"}


def parse_druid_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
