"""How one validated file goes into its datasource (pure: no Dagster, no HTTP).

Druid replaces data by time chunk, not by file. A file Druid has never seen is appended; a file
seen before is replaced over the chunks its old and new rows occupy (see spec.py for the task).
"""

from __future__ import annotations

from ingest_pipeline.records import (
    Append,
    DatasourceState,
    DruidS3Access,
    IngestionPlan,
    IngestMode,
    Replace,
    ValidatedUpload,
)
from ingest_pipeline.spec import (
    build_index_spec,
    choose_segment_granularity,
    count_time_chunks,
    granularity_of_interval,
    interval_cover,
    merge_intervals,
)
from ingest_pipeline.vocabulary import SQL_TO_DRUID_TYPE, TIME_COLUMN, DruidColumnType


def plan_ingestion(
    validated: ValidatedUpload,
    state: DatasourceState,
    configured_granularity: str | None,
    access: DruidS3Access,
) -> IngestionPlan:
    """The Druid task that puts this file's rows into its datasource, and why it looks so."""
    granularity = choose_granularity(validated, state, configured_granularity)
    check_time_chunks(validated, granularity)
    mode = choose_mode(validated, state, granularity)
    upload = validated.upload
    spec = build_index_spec(
        upload.datasource,
        validated.schema,
        validated.artifacts.druid_input_uri,
        upload.key,
        endpoint_url=access.endpoint_url,
        region=access.region,
        access_key_id=access.access_key_id,
        secret_access_key=access.secret_access_key,
        time_min=validated.time_min,
        time_max=validated.time_max,
        mode=mode,
        segment_granularity=granularity,
        existing_dimensions=existing_dimensions(state),
    )
    return IngestionPlan(
        datasource=upload.datasource,
        source_key=upload.key,
        etag=upload.etag,
        mode=mode,
        segment_granularity=granularity,
        validated_rows=validated.row_count,
        validated_interval=(validated.time_min, validated.time_max),
        specified_columns=validated.columns,
        spec=spec,
    )


def existing_dimensions(state: DatasourceState) -> list[tuple[str, DruidColumnType]]:
    """The datasource's columns as Druid dimensions, so rewritten neighbours keep theirs."""
    return [
        (name, SQL_TO_DRUID_TYPE[sql_type])
        for name, sql_type in state.columns.items()
        if sql_type in SQL_TO_DRUID_TYPE and name != TIME_COLUMN
    ]


def choose_granularity(
    validated: ValidatedUpload, state: DatasourceState, configured: str | None
) -> str:
    """One granularity per datasource: the configured one, else the one its segments already
    have (files must not mix segment sizes), else one that suits this first file."""
    if configured:
        return configured
    if state.segment_interval:
        return granularity_of_interval(*state.segment_interval)
    return choose_segment_granularity(validated.time_min, validated.time_max, validated.row_count)


#: Time chunks one file may touch. Each chunk is a segment (or more) the Druid worker builds in
#: its heap: a file spanning 1900-2200 at DAY granularity (110k chunks) kills it with an
#: OutOfMemoryError that Druid reports only as "exited unsuccessfully with code[3]".
MAX_TIME_CHUNKS_PER_FILE = 2_000


class TooManyTimeChunks(ValueError):
    """The file's time span cut at the datasource's granularity is more chunks than allowed."""


def check_time_chunks(validated: ValidatedUpload, granularity: str) -> int:
    """The number of time chunks the file touches; TooManyTimeChunks past the bound."""
    chunks = count_time_chunks(validated.time_min, validated.time_max, granularity)
    if chunks > MAX_TIME_CHUNKS_PER_FILE:
        raise TooManyTimeChunks(
            f"{validated.upload.key}: its times span {validated.time_min:%Y-%m-%d} to "
            f"{validated.time_max:%Y-%m-%d}, which is {chunks:,} {granularity} time chunks of "
            f"datasource '{validated.upload.datasource}' (at most {MAX_TIME_CHUNKS_PER_FILE:,} "
            "per file; more would exhaust the Druid worker's memory). Fix: correct the dates "
            f"(column '{validated.time_column}') if they are wrong, split the file, or give the "
            "dataset a coarser segment_granularity in datasets.yaml (a new datasource)."
        )
    return chunks


def choose_mode(validated: ValidatedUpload, state: DatasourceState, granularity: str) -> IngestMode:
    """Append a file Druid has not seen; replace one it has, over its old and new chunks."""
    new_cover = interval_cover(validated.time_min, validated.time_max, granularity)
    previous = state.previous
    if not previous.count:
        return Append(tuple(new_cover))
    if previous.first is None or previous.last is None:
        raise ValueError(f"{previous.count} earlier rows of the file but no time range")
    old_cover = interval_cover(previous.first, previous.last, granularity)
    return Replace(tuple(merge_intervals(old_cover + new_cover)), previous.count)
