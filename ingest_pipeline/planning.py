"""How validated files go into their datasource (pure: no Dagster, no HTTP).

Druid replaces data by time chunk, not by file. Files Druid has never seen are appended, many
in one task; a file seen before is replaced, alone, over the chunks its old and new rows occupy
(see spec.py for the task). A file deleted under `on_delete: retract` is replaced by
nothing: the same task over the chunks its rows occupy, without a file (plan_retraction).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from ingest_pipeline.records import (
    Append,
    DatasourceState,
    DruidS3Access,
    IngestionPlan,
    IngestionPlans,
    IngestMode,
    PlannedFile,
    RefusedFile,
    Replace,
    RetractionPlan,
    ValidatedUpload,
)
from ingest_pipeline.spec import (
    build_index_spec,
    choose_segment_granularity,
    count_time_chunks,
    granularity_of_interval,
    interval_cover,
    interval_span,
    merge_intervals,
)
from ingest_pipeline.vocabulary import (
    SQL_TO_DRUID_TYPE,
    TIME_COLUMN,
    DruidColumnType,
    DruidType,
    FileRejected,
)


def plan_ingestion(
    validated: Sequence[ValidatedUpload],
    state: DatasourceState,
    configured_granularity: str | None,
    access: DruidS3Access,
    run_identity: str = "",
) -> IngestionPlans:
    """The Druid tasks that put these files (one datasource) into it: new files appended
    together (as few tasks as the time-chunk bound allows), each file seen before replaced
    alone. A file refused here (too many time chunks) stops only itself."""
    datasources = {v.upload.datasource for v in validated}
    if len(datasources) != 1:
        raise ValueError(f"plan one datasource at a time, got {sorted(datasources)}")
    granularity = choose_granularity(validated, state, configured_granularity)
    refused: list[RefusedFile] = []
    fresh: list[ValidatedUpload] = []
    seen: list[ValidatedUpload] = []
    for one in validated:
        try:
            check_time_chunks(one, granularity)
        except TooManyTimeChunks as refusal:
            upload = one.upload
            refused.append(RefusedFile(upload.partition_key, upload.key, refusal.as_problem()))
            continue
        (seen if state.previous_rows(one.upload.key).count else fresh).append(one)
    plans = [
        build_plan(
            group,
            Append(tuple(cover_of(group, granularity))),
            state,
            granularity,
            access,
            run_identity,
        )
        for group in append_groups(fresh, granularity)
    ]
    for one in seen:
        mode = choose_mode(one, state, granularity)
        plans.append(build_plan([one], mode, state, granularity, access, run_identity))
    return IngestionPlans(tuple(plans), tuple(refused))


def build_plan(
    files: Sequence[ValidatedUpload],
    mode: IngestMode,
    state: DatasourceState,
    granularity: str,
    access: DruidS3Access,
    run_identity: str,
) -> IngestionPlan:
    datasource = files[0].upload.datasource
    spec = build_index_spec(
        datasource,
        merged_schema(files),
        [one.artifacts.druid_input_uri for one in files],
        endpoint_url=access.endpoint_url,
        region=access.region,
        access_key_id=access.access_key_id,
        secret_access_key=access.secret_access_key,
        time_min=min(one.time_min for one in files),
        time_max=max(one.time_max for one in files),
        mode=mode,
        segment_granularity=granularity,
        existing_dimensions=existing_dimensions(state),
    )
    task_id = task_id_for(datasource, spec, run_identity)
    return IngestionPlan(
        datasource=datasource,
        task_id=task_id,
        mode=mode,
        segment_granularity=granularity,
        files=tuple(planned_file(one) for one in files),
        spec={"id": task_id, **spec},
    )


def planned_file(validated: ValidatedUpload) -> PlannedFile:
    upload = validated.upload
    return PlannedFile(
        partition_key=upload.partition_key,
        source_key=upload.key,
        etag=upload.etag,
        validated_rows=validated.row_count,
        validated_interval=(validated.time_min, validated.time_max),
        specified_columns=validated.columns,
        validation_warnings=validated.check_warnings,
        schema_drift=tuple(validated.schema_drift.sentences()),
    )


def task_id_for(datasource: str, spec: object, run_identity: str) -> str:
    """The same spec in the same run (or its retries) gets the same id: a retried run finds
    the task it submitted before instead of ingesting the files twice."""
    text = json.dumps([run_identity, spec], sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", datasource)[:80]
    return f"ingest_{safe}_{digest[:24]}"


def merged_schema(files: Sequence[ValidatedUpload]) -> list[tuple[str, DruidType]]:
    """Every file's columns, first seen first; a type clash between files becomes string."""
    types: dict[str, DruidType] = {}
    for one in files:
        for name, druid_type in one.schema:
            types[name] = druid_type if types.get(name, druid_type) == druid_type else "string"
    return list(types.items())


def cover_of(files: Sequence[ValidatedUpload], granularity: str) -> list[str]:
    """The time chunks these files' rows fall in, merged (gaps between files stay gaps)."""
    covers = [c for one in files for c in interval_cover(one.time_min, one.time_max, granularity)]
    return merge_intervals(covers)


def chunks_in(intervals: Sequence[str], granularity: str) -> int:
    if granularity.upper() == "ALL":
        return 1  # ETERNITY, one chunk: its bounds are beyond what datetime parses
    return sum(count_time_chunks(*interval_span(i), granularity) for i in intervals)


def append_groups(
    files: Sequence[ValidatedUpload], granularity: str
) -> list[list[ValidatedUpload]]:
    """New files in as few append tasks as possible, each touching at most
    MAX_TIME_CHUNKS_PER_FILE chunks (the worker builds every chunk's segment in its heap)."""
    groups: list[list[ValidatedUpload]] = []
    for one in sorted(files, key=lambda v: (v.time_min, v.upload.key)):
        if groups and chunks_in(cover_of([*groups[-1], one], granularity), granularity) <= (
            MAX_TIME_CHUNKS_PER_FILE
        ):
            groups[-1].append(one)
        else:
            groups.append([one])
    return groups


def existing_dimensions(state: DatasourceState) -> list[tuple[str, DruidColumnType]]:
    """The datasource's columns as Druid dimensions, so rewritten neighbours keep theirs."""
    return [
        (name, SQL_TO_DRUID_TYPE[sql_type])
        for name, sql_type in state.columns.items()
        if sql_type in SQL_TO_DRUID_TYPE and name != TIME_COLUMN
    ]


def choose_granularity(
    validated: Sequence[ValidatedUpload], state: DatasourceState, configured: str | None
) -> str:
    """One granularity per datasource: the configured one, else the one its segments already
    have (files must not mix segment sizes), else one that suits these first files together."""
    if configured:
        return configured
    if state.segment_interval:
        return granularity_of_interval(*state.segment_interval)
    return choose_segment_granularity(
        min(v.time_min for v in validated),
        max(v.time_max for v in validated),
        sum(v.row_count for v in validated),
    )


#: Time chunks one file may touch. Each chunk is a segment (or more) the Druid worker builds in
#: its heap: a file spanning 1900-2200 at DAY granularity (110k chunks) kills it with an
#: OutOfMemoryError that Druid reports only as "exited unsuccessfully with code[3]".
MAX_TIME_CHUNKS_PER_FILE = 2_000


class TooManyTimeChunks(FileRejected):
    """The file's time span cut at the datasource's granularity is more chunks than allowed."""


def check_time_chunks(validated: ValidatedUpload, granularity: str) -> int:
    """The number of time chunks the file touches; TooManyTimeChunks past the bound."""
    chunks = count_time_chunks(validated.time_min, validated.time_max, granularity)
    if chunks > MAX_TIME_CHUNKS_PER_FILE:
        raise TooManyTimeChunks(
            validated.upload.key,
            f"its times span {validated.time_min:%Y-%m-%d} to "
            f"{validated.time_max:%Y-%m-%d}, which is {chunks:,} {granularity} time chunks of "
            f"datasource '{validated.upload.datasource}' (at most {MAX_TIME_CHUNKS_PER_FILE:,} "
            "per file; more would exhaust the Druid worker's memory)",
            f"correct the dates (column '{validated.time_column}') if they are wrong, split the "
            "file, or give the dataset a coarser segment_granularity in datasets.yaml (a new "
            "datasource)",
        )
    return chunks


def choose_mode(validated: ValidatedUpload, state: DatasourceState, granularity: str) -> IngestMode:
    """Append a file Druid has not seen; replace one it has, over its old and new chunks."""
    new_cover = interval_cover(validated.time_min, validated.time_max, granularity)
    previous = state.previous_rows(validated.upload.key)
    if not previous.count:
        return Append(tuple(new_cover))
    if previous.first is None or previous.last is None:
        raise ValueError(f"{previous.count} earlier rows of the file but no time range")
    old_cover = interval_cover(previous.first, previous.last, granularity)
    intervals = tuple(merge_intervals(old_cover + new_cover))
    return Replace(intervals, previous.count, validated.upload.key)


def plan_retraction(
    partition_key: str,
    source_key: str,
    state: DatasourceState,
    configured_granularity: str | None,
    access: DruidS3Access,
    run_identity: str = "",
) -> RetractionPlan:
    """The replace of a deleted file by nothing: one atomic task over the time chunks its rows
    (the latest version's, whatever was ingested last) occupy, reading back every other
    file's rows there and dropping the old segments. No task when Druid holds no row of it."""
    previous = state.previous_rows(source_key)
    if not previous.count:
        return RetractionPlan(partition_key, source_key, 0, None)
    if previous.first is None or previous.last is None:
        raise ValueError(f"{previous.count} rows of {source_key} but no time range")
    granularity = configured_granularity or (
        granularity_of_interval(*state.segment_interval) if state.segment_interval else "ALL"
    )
    mode = Replace(
        tuple(interval_cover(previous.first, previous.last, granularity)),
        previous.count,
        source_key,
    )
    datasource = partition_key.partition("/")[0]
    spec = build_index_spec(
        datasource,
        [],
        [],
        endpoint_url=access.endpoint_url,
        region=access.region,
        access_key_id=access.access_key_id,
        secret_access_key=access.secret_access_key,
        time_min=previous.first,
        time_max=previous.last,
        mode=mode,
        segment_granularity=granularity,
        existing_dimensions=existing_dimensions(state),
    )
    task_id = task_id_for(datasource, spec, run_identity)
    task = IngestionPlan(datasource, task_id, mode, granularity, (), {"id": task_id, **spec})
    return RetractionPlan(partition_key, source_key, previous.count, task)
