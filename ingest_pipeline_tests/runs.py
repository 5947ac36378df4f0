"""Running the ingest graph in a test's process and reading what it recorded: one place for
the unit tests (fakes) and the integration tests (the real stack)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from ingest_pipeline.assets.ingest import ingest
from ingest_pipeline.assets.verdicts import VERDICT_ASSET, read_verdict
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.sensors import RANGE_END_TAG, RANGE_START_TAG, ingest_job
from ingest_pipeline.verdict import FileVerdict

ASSETS = ("raw_file", "validated_frame", "druid_spec", "druid_datasource")


def materialize(
    instance: dg.DagsterInstance,
    partitions: str | Sequence[str],
    resources: Mapping[str, Any],
    selection: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """One run of the ingest job over `partitions` (added if new, in this order, so they are
    one contiguous range), as the sensor would launch it; `selection`: a subset of ASSETS."""
    keys = [partitions] if isinstance(partitions, str) else list(partitions)
    known = set(instance.get_dynamic_partitions(upload_partitions.name))
    new = [key for key in keys if key not in known]
    if new:
        instance.add_dynamic_partitions(upload_partitions.name, new)
    job = dg.Definitions(assets=[ingest], jobs=[ingest_job], resources=dict(resources))
    range_tags = {RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]} if len(keys) > 1 else {}
    return job.resolve_job_def(ingest_job.name).execute_in_process(
        instance=instance,
        partition_key=keys[0] if len(keys) == 1 else None,
        tags={**range_tags, **(tags or {})},
        asset_selection=[dg.AssetKey(a) for a in selection] if selection else None,
        raise_on_error=False,
    )


def materializations(
    result: dg.ExecuteInProcessResult, asset: str
) -> dict[str, dg.AssetMaterialization]:
    """partition -> the run's materialization of `asset` for it."""
    found = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == dg.AssetKey(asset):
            found[materialization.partition or ""] = materialization
    return found


def metadata_of(result: dg.ExecuteInProcessResult, asset: str, partition: str) -> dict[str, Any]:
    """The plain metadata values of `asset`'s materialization of `partition` in this run."""
    materialization = materializations(result, asset)[partition]
    return {key: value.value for key, value in materialization.metadata.items()}


def verdicts(instance: dg.DagsterInstance, run_id: str) -> dict[str, FileVerdict]:
    """Each file's verdict as the run recorded it."""
    found = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_OBSERVATION):
        observation = entry.asset_observation
        if observation is not None and observation.asset_key == VERDICT_ASSET:
            verdict = read_verdict(observation.metadata)
            if verdict is not None:
                found[verdict.partition] = verdict
    return found


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The first failed step's error, whole."""
    failure = next(e for e in result.all_events if e.is_step_failure)
    return failure.step_failure_data.error.to_string() if failure.step_failure_data.error else ""


def assert_success(result: dg.ExecuteInProcessResult) -> None:
    failures = [
        e.step_failure_data.error.to_string()
        for e in result.all_events
        if e.is_step_failure and e.step_failure_data.error
    ]
    assert result.success, "\n".join(failures)


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """`ingest-pipeline ARGS` in a new process (this interpreter), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "ingest_pipeline.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env) if env is not None else None,
    )
