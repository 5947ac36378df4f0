"""The soak's account of a key left without a verdict for its latest version: what was
uploaded, every verdict recorded for its partition in order, every run that covered it, and
what the sensor decided. Printed with the report, so a CI log alone says where the key stopped
(the daemon's log stays on the machine that ran it)."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ingest_pipeline.assets.verdicts import VERDICT_ASSET, read_verdict
from ingest_pipeline.console.runs import runs_covering
from ingest_pipeline.seen_store import decided_etag
from ingest_pipeline.sensor_state import decode_state
from ingest_pipeline.tick_plan import ETAG_TAG
from ingest_pipeline_tests.integration.automation import stored_sensor_state


def verdict_lines(instance: dg.DagsterInstance, key: str, since: float) -> list[str]:
    """Every verdict recorded for the partition, oldest first (storage id order)."""
    records = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(
            event_type=dg.DagsterEventType.ASSET_OBSERVATION,
            asset_key=VERDICT_ASSET,
            asset_partitions=[key],
        ),
        limit=100,
        ascending=True,
    )
    lines = []
    for record in records:
        observation = record.asset_observation
        verdict = read_verdict(observation.metadata) if observation else None
        if verdict is None:
            continue
        lines.append(
            f"verdict  +{record.timestamp - since:6.1f}s id {record.storage_id} run "
            f"{record.event_log_entry.run_id[:8]}: {verdict.outcome.value} {verdict.etag} "
            f"({verdict.message()[:160]})"
        )
    return lines


def run_lines(instance: dg.DagsterInstance, key: str, since: float) -> list[str]:
    """Every run that covered the partition (retries included), in the order they were made."""
    records = [instance.get_run_record_by_id(run.run_id) for run in runs_covering(instance, key)]
    lines = []
    for record in sorted(filter(None, records), key=lambda r: r.create_timestamp):
        run, ended = record.dagster_run, record.end_time
        tags = run.tags
        lines.append(
            f"run      +{record.create_timestamp.timestamp() - since:6.1f}s {run.run_id[:8]} "
            f"{run.status.value}{f' ended +{ended - since:.1f}s' if ended else ''} etag "
            f"{tags.get(ETAG_TAG, '-')} files {tags.get('ingest/files', '-')} root "
            f"{tags.get('dagster/root_run_id', '-')[:8]} failure "
            f"{tags.get('dagster/failure_reason', '-')}"
        )
    return lines


def explain(
    instance: dg.DagsterInstance,
    key: str,
    prefix: str,
    uploads: Sequence[tuple[float, str, str]],
    since: float,
) -> list[str]:
    """Lines about one undecided key; `uploads`: (wall clock, action, ETag) of each action on
    it, `since`: the soak's start (wall clock), so times read as seconds into the soak."""
    lines = [f"{key}:"]
    lines += [f"  {action:<8} +{at - since:6.1f}s {etag}" for at, action, etag in uploads]
    lines += [f"  {line}" for line in verdict_lines(instance, key, since)]
    lines += [f"  {line}" for line in run_lines(instance, key, since)]
    state = stored_sensor_state(instance)
    data = state.instigator_data if state else None
    cursor = decode_state(data.cursor if data else None)  # type: ignore[union-attr]
    deferred = [obj.etag for obj in cursor.deferred if obj.key == prefix + key]
    lines.append(
        f"  sensor   decided {decided_etag(instance, cursor.pending, prefix + key)}; deferred "
        f"{deferred or 'no'}"
    )
    return lines
