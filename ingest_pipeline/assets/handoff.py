"""How an asset hands its records to the next one: JSON in S3, never a pickle.

An asset run over many partitions has one output for all of them, which Dagster's pickle IO
managers refuse, and a pickle under DAGSTER_HOME does not exist on another machine. So each
asset writes one typed record per run to s3://<validated bucket>/handoff/<run id>/<asset>.json
and links it from every partition's materialization ("record"). The next asset reads this
run's record, or, when its upstream did not run in this run (a partial selection, a
re-execution), the records linked from each partition's latest materialization.
"""

from __future__ import annotations

from typing import TypeVar

import dagster as dg
from pydantic import TypeAdapter

from ingest_pipeline.resources.s3 import S3Storage

RECORD_METADATA = "record"

T = TypeVar("T")


def handoff_key(run_id: str, asset: str) -> str:
    return f"handoff/{run_id}/{asset}.json"


def save_handoff(s3: S3Storage, run_id: str, asset: str, value: T, adapter: TypeAdapter[T]) -> str:
    """Store the record; returns its s3:// URI (for the metadata)."""
    return s3.put_bytes(s3.validated_bucket, handoff_key(run_id, asset), adapter.dump_json(value))


def load_handoffs(
    context: dg.AssetExecutionContext, s3: S3Storage, asset: str, adapter: TypeAdapter[T]
) -> list[T]:
    """The upstream asset's records covering this run's partitions (this run's first)."""
    own = s3.get_bytes(s3.validated_bucket, handoff_key(context.run.run_id, asset))
    if own is not None:
        return [adapter.validate_json(own)]
    uris: list[str] = []
    for partition in context.partition_keys:
        result = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]),
            limit=1,
        )
        if not result.records:
            raise dg.Failure(
                description=f"{asset} was never materialized for {partition}: materialize it "
                "(or the whole ingest job) first"
            )
        materialization = result.records[0].asset_materialization
        link = materialization.metadata.get(RECORD_METADATA) if materialization else None
        if link is None:
            raise dg.Failure(description=f"{asset} of {partition} has no stored record: re-run it")
        uri = str(link.value)
        if uri not in uris:
            uris.append(uri)
    records = []
    for uri in uris:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = s3.get_bytes(bucket, key)
        if body is None:
            raise dg.Failure(description=f"the record {uri} is gone: re-run {asset}")
        records.append(adapter.validate_json(body))
    return records
