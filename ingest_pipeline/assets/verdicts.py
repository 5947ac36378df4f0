"""A FileVerdict as Dagster events: an observation on the file's druid_datasource partition
(every outcome, also files that never reached Druid) and metadata a person reads in the UI.
Readers (`status`, `upload --wait`) parse it back with `read_verdict`, the one counterpart of
`verdict_metadata`."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from ingest_pipeline.assets.steps import DRUID_DATASOURCE
from ingest_pipeline.verdict import FileVerdict

#: The outcome as a word the UI shows; the whole record as JSON beside it.
VERDICT = "verdict"
VERDICT_RECORD = "verdict_record"
VERDICT_ASSET = dg.AssetKey(DRUID_DATASOURCE)


def verdict_metadata(verdict: FileVerdict) -> dict[str, dg.MetadataValue]:
    return {
        VERDICT: dg.MetadataValue.text(verdict.outcome.value),
        "why": dg.MetadataValue.text(verdict.message()),
        VERDICT_RECORD: dg.MetadataValue.json(verdict.to_json()),
    }


def verdict_observation(verdict: FileVerdict) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=VERDICT_ASSET, partition=verdict.partition, metadata=verdict_metadata(verdict)
    )


def read_verdict(metadata: Mapping[str, object]) -> FileVerdict | None:
    """The verdict in an event's metadata, or None if it carries none."""
    value = metadata.get(VERDICT_RECORD)
    data = getattr(value, "data", value)  # a JsonMetadataValue, or already plain
    return FileVerdict.from_json(data) if isinstance(data, Mapping) else None


def latest_verdict(instance: dg.DagsterInstance, partition: str) -> FileVerdict | None:
    """The partition's newest verdict (None: it has none yet)."""
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=VERDICT_ASSET, asset_partitions=[partition]), limit=1
    ).records
    observation = records[0].asset_observation if records else None
    return read_verdict(observation.metadata) if observation else None
