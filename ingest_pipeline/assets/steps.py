"""What every step of the ingest graph does with the files of its run.

A run covers a batch of files (a partition range), and Dagster records a materialization for
every partition of a step's output. A rejected file must not look materialized, so the steps
yield no asset output: each logs one materialization per file that really got this far, and
the run's last step fails the run when a file went no further. Dagster then shows exactly
those partitions as failed (planned in a failed run, not materialized) and every other one as
materialized; a later successful run of the file turns it green. See README "What you see".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import dagster as dg
from pydantic import TypeAdapter, ValidationError

from ingest_pipeline.resources.object_store import ObjectStore
from ingest_pipeline.resources.records_io import handoff_key

T = TypeVar("T")

RAW_FILE = "raw_file"
VALIDATED_FRAME = "validated_frame"
DRUID_SPEC = "druid_spec"
DRUID_DATASOURCE = "druid_datasource"
#: The assets in the order a file passes them.
ASSET_ORDER = (RAW_FILE, VALIDATED_FRAME, DRUID_SPEC, DRUID_DATASOURCE)

#: A step that raises an error no verdict explains (Postgres or the S3 store restarting under
#: it) runs again in the same run after 5, 15, 35 and 75 s. In the soak a Postgres kill failed a
#: batch's raw_file (reading the run's partition range) and left its files without a verdict:
#: Dagster retries no step by default, and run_retries skip op failures. A file's verdict
#: (fail_for_unfinished) is final: its Failure does not retry.
STEP_RETRIES = dg.RetryPolicy(max_retries=4, delay=5, backoff=dg.Backoff.EXPONENTIAL)
#: The IO manager of the records the steps hand each other (resources/records_io.py).
RECORDS_IO = "records_io"
#: Files a run failure names before "and N more".
NAMED_IN_FAILURE = 5
#: Materialization metadata: the record of the step that materialized the file.
RECORD = "record"


def check_outs(specs: Sequence[dg.AssetCheckSpec]) -> dict[str, dg.Out]:
    """The op outputs the graph maps to these checks: never yielded (each evaluation is logged
    on its file's partition instead), so optional."""
    return {spec.get_python_identifier(): dg.Out(is_required=False) for spec in specs}


def hand_on(
    context: dg.OpExecutionContext, store: ObjectStore, record: object, output: str
) -> Iterator[dg.Output]:
    """The step's record for the next step through RecordsIOManager; in a run that ends at
    this step (Dagster refuses an output nothing selected reads) it is stored where the IO
    manager would have, so a later run can take it (stored_records)."""
    if output in context.selected_output_names:
        yield dg.Output(record, output)
        return
    key = handoff_key(context.run_id, context.get_step_execution_context().step.key, output)
    body = TypeAdapter(type(record)).dump_json(record)
    store.put_bytes(store.validated_bucket, key, body)


def is_selected(context: dg.OpExecutionContext, asset: str) -> bool:
    return dg.AssetKey(asset) in context.selected_asset_keys


def materialize(
    context: dg.OpExecutionContext, asset: str, partition: str, metadata: Mapping[str, Any]
) -> None:
    """Record that this file got through `asset` (when the run materializes that asset)."""
    if is_selected(context, asset):
        context.log_event(
            dg.AssetMaterialization(asset_key=asset, partition=partition, metadata=metadata)
        )


def log_checks(
    context: dg.OpExecutionContext, partition: str, results: Sequence[dg.AssetCheckResult]
) -> None:
    """Record the selected checks' verdicts on this file's partition (a result yielded by a
    step over many partitions would be recorded on none)."""
    wanted = context.selected_asset_check_keys
    for result in results:
        assert result.asset_key is not None and result.check_name is not None
        if dg.AssetCheckKey(result.asset_key, result.check_name) not in wanted:
            continue
        # log_event's annotation omits AssetCheckEvaluation, which it records (and Dagster's
        # own code logs this way): a check result on one partition of a range step.
        context.log_event(
            dg.AssetCheckEvaluation(  # type: ignore[arg-type]
                asset_key=result.asset_key,
                check_name=result.check_name,
                passed=result.passed,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
                partition=partition,
            )
        )


def ends_the_run(context: dg.OpExecutionContext, asset: str) -> bool:
    """No later asset (nor a check of one) is part of this run: this step is its last."""
    later = ASSET_ORDER[ASSET_ORDER.index(asset) + 1 :]
    wanted = {key.to_user_string() for key in context.selected_asset_keys}
    wanted |= {key.asset_key.to_user_string() for key in context.selected_asset_check_keys}
    return not wanted.intersection(later)


def fail_for_unfinished(
    context: dg.OpExecutionContext, asset: str, unfinished: Mapping[str, str]
) -> None:
    """At the run's last step, fail the run if a file went no further: partition -> why (the
    problem's sentence: the summary names the file once)."""
    if not unfinished or not ends_the_run(context, asset):
        return
    raise dg.Failure(
        description=unfinished_summary(unfinished, len(context.partition_keys)),
        metadata={"not_ingested": dg.MetadataValue.json(dict(sorted(unfinished.items())))},
        allow_retries=False,  # the verdicts are recorded: running again decides the same
    )


def unfinished_summary(unfinished: Mapping[str, str], total: int) -> str:
    """The run failure's one line: how many of the run's files went no further, the first
    few named with why, and (when there are any) that the others are ingested."""
    named = [f"{partition}: {why}" for partition, why in sorted(unfinished.items())]
    more = len(named) - NAMED_IN_FAILURE
    if len(unfinished) == 1 == total:
        head = "The file was not ingested."
    elif len(unfinished) == total:
        head = f"None of the {total} files was ingested."
    else:
        head = f"{len(unfinished)} of {total} files not ingested; every other file of this run is."
    return (
        f"{head} "
        + " | ".join(named[:NAMED_IN_FAILURE])
        + (f" | and {more} more" if more > 0 else "")
    )


def record_link(
    context: dg.OpExecutionContext, store: ObjectStore, output: str
) -> dg.MetadataValue:
    """Where RecordsIOManager stores this step's `output` (linked from each materialization, so
    a later run that does not materialize the asset again can take the record)."""
    key = handoff_key(context.run_id, context.get_step_execution_context().step.key, output)
    return dg.MetadataValue.path(f"s3://{store.validated_bucket}/{key}")


def stored_records(
    context: dg.OpExecutionContext, store: ObjectStore, asset: str, record_type: type[T]
) -> list[T] | None:
    """The records behind `asset`'s latest materialization of each of this run's files, when
    the run does not materialize `asset` itself (a subset run: e.g. retrying only the Druid
    step takes the stored plans instead of validating the files again); None when the run
    materializes it or a file has no such record, or one an older version wrote in another
    shape (then the step computes it)."""
    if is_selected(context, asset):
        return None
    uris: list[str] = []
    for partition in context.partition_keys:
        found = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
            limit=1,
        ).records
        materialization = found[0].asset_materialization if found else None
        link = materialization.metadata.get(RECORD) if materialization else None
        if link is None:
            return None
        if str(link.value) not in uris:
            uris.append(str(link.value))
    adapter = TypeAdapter(record_type)
    records = []
    for uri in uris:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = store.get_bytes(bucket, key)
        if body is None:
            return None
        try:
            records.append(adapter.validate_json(body))
        except ValidationError as error:  # written by an older version of the records
            context.log.warning(f"{asset}: the stored record {uri} is not readable ({error})")
            return None
    context.log.info(f"{asset} is not materialized in this run: its stored records are used")
    return records
