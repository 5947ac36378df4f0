"""Secrets never leave their configuration: not in Dagster's event log, not in the spec, not in
Druid's service or task logs. Searched for the real secret values after a real ingestion."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest

from ingest_pipeline.assets.druid_datasource import druid_datasource
from ingest_pipeline.assets.druid_spec import druid_spec
from ingest_pipeline.assets.raw_file import raw_file
from ingest_pipeline.assets.validated_frame import validated_frame
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources import build_resources
from ingest_pipeline.stack.settings import TASK_LOG_BUCKET, UPLOADS_BUCKET, StackSettings

pytestmark = pytest.mark.integration


def test_no_secret_in_event_log_spec_or_logs(stack: StackSettings, s3, dagster_home) -> None:
    secrets = [stack.s3_secret_key, stack.postgres_password]
    # A secret that is part of a public value would be "found" everywhere that value is.
    assert all(secret not in stack.s3_access_key for secret in secrets)
    dataset = f"secrets_{uuid.uuid4().hex[:8]}"
    key = f"{dataset}/s.csv"
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}", Body=b"ts,v\n2024-01-01,1\n")
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(upload_partitions.name, [key])
    result = dg.materialize(
        [raw_file, validated_frame, druid_spec, druid_datasource],
        partition_key=key,
        instance=instance,
        resources=build_resources(dg.EnvVar),
    )
    assert result.success

    events = instance.all_logs(result.run_id)
    serialized = "\n".join(dg.serialize_value(event) for event in events)
    assert "druid_task_id" in serialized  # the search really covers the run's metadata
    spec = result.asset_materializations_for_node("druid_spec")[0].metadata["spec"].value
    assert spec["spec"]["ioConfig"]["inputSource"]["properties"]["secretAccessKey"] == {
        "type": "environment",
        "variable": "AWS_SECRET_ACCESS_KEY",
    }
    task_id = (
        result.asset_materializations_for_node("druid_datasource")[0]
        .metadata["druid_task_id"]
        .value
    )
    task_log = s3.get_object(Bucket=TASK_LOG_BUCKET, Key=f"task-logs/{task_id}/log")["Body"]
    texts = {"event log": serialized, "task log": task_log.read().decode(errors="replace")}
    for path in sorted(stack.log_dir.glob("*.log")):
        if path.resolve().is_file():
            texts[path.name] = path.read_text(errors="replace")
    assert "middleManager.log" in texts and "coordinator-overlord.log" in texts
    for secret in secrets:
        leaks = [name for name, text in texts.items() if secret in text]
        assert leaks == [], f"a secret appears in {leaks}"
