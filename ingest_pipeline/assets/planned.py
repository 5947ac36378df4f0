"""A run's "planned" events, written again by its first step when Dagster left them out.

Dagster creates a run in two writes: the run's row, then one ASSET_MATERIALIZATION_PLANNED
event per asset (and one per check) over the run's partitions. A partition is shown failed
(red) only when a failed run had planned it and did not materialize it. A sensor daemon killed
between the two writes (seen in CI's 5-minute soak: run b5eb4559) leaves a run without them;
its next tick launches the existing run by its run key, and a file that run rejects stays grey
although its verdict is "rejected". Dagster 1.13.27 writes them through a private method, the
one place this project calls one; `unit/assets/test_planned_events.py` pins it.
"""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.events import AssetMaterializationPlannedData

PLANNED = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED
#: A run's planned events read at most: one per asset and partition (4 assets x the largest
#: batch), far below this.
MAX_PLANNED_EVENTS = 100_000


def plan_if_unplanned(context: dg.OpExecutionContext) -> None:
    """Write the run's planned events if some asset and partition of the run has none: the
    daemon can die after writing only part of them (the 60-minute soak at bde408c: run
    f15d0ba9 of 36 files had them for druid_datasource only, and its 4 rejected files'
    validated_frame stayed grey). Planned events written twice are harmless; missing ones are
    not."""
    instance = context.instance
    run = context.run
    asset_graph = context.job_def.asset_layer.asset_graph
    assets = set(run.asset_selection or asset_graph.materializable_asset_keys)
    missing = {
        (asset, partition) for asset in assets for partition in context.partition_keys
    } - planned_partitions(instance, context.run_id)
    if not missing:
        return
    snapshot_id = run.execution_plan_snapshot_id
    if snapshot_id is None:
        return
    snapshot = instance.get_execution_plan_snapshot(snapshot_id)
    with partition_loading_context(dynamic_partitions_store=instance):
        instance.run_domain._log_asset_planned_events(  # noqa: SLF001 - see the module docstring
            run, snapshot, asset_graph
        )
    unplanned = ", ".join(sorted({asset.to_user_string() for asset, _ in missing}))
    context.log.warning(
        f"this run had no planned materializations of {unplanned} for {len(missing)} asset "
        "partitions (its sensor daemon stopped while creating it): written now, so that a file "
        "it rejects shows red"
    )


def planned_partitions(instance: dg.DagsterInstance, run_id: str) -> set[tuple[dg.AssetKey, str]]:
    """(asset, partition) of every planned event of the run, one partition each or a subset."""
    planned: set[tuple[dg.AssetKey, str]] = set()
    records = instance.get_records_for_run(run_id, of_type=PLANNED, limit=MAX_PLANNED_EVENTS)
    for record in records.records:
        event = record.event_log_entry.dagster_event
        if event is None or event.asset_key is None:
            continue
        data = event.event_specific_data
        if isinstance(data, AssetMaterializationPlannedData):
            if data.partition is not None:
                planned.add((event.asset_key, data.partition))
            elif data.partitions_subset is not None:
                keys = data.partitions_subset.get_partition_keys()
                planned.update((event.asset_key, key) for key in keys)
    return planned
