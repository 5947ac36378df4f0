"""Secrets never leave their configuration: not in Dagster's event log, not in the spec, not in
Druid's service or task logs. Searched for the real secret values after a real ingestion."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest

from ingest_pipeline.resources import build_resources
from ingest_pipeline.stack.settings import (
    TASK_LOG_BUCKET,
    UPLOADS_BUCKET,
    VALIDATED_BUCKET,
    StackSettings,
)
from ingest_pipeline_tests.runs import assert_success, materialize, metadata_of

pytestmark = pytest.mark.integration


def test_no_secret_in_event_log_spec_or_logs(stack: StackSettings, s3, dagster_home) -> None:
    secrets = [stack.s3_secret_key, stack.postgres_password]
    # A secret that is part of a public value would be "found" everywhere that value is.
    assert all(secret not in stack.s3_access_key for secret in secrets)
    dataset = f"secrets_{uuid.uuid4().hex[:8]}"
    key = f"{dataset}/s.csv"
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}", Body=b"ts,v\n2024-01-01,1\n")
    instance = dg.DagsterInstance.get()
    result = materialize(instance, key, build_resources(dg.EnvVar))
    assert_success(result)

    events = instance.all_logs(result.run_id)
    serialized = "\n".join(dg.serialize_value(event) for event in events)
    assert "druid_task_id" in serialized  # the search really covers the run's metadata
    spec = metadata_of(result, "druid_spec", key)["spec"]
    assert spec["spec"]["ioConfig"]["inputSource"]["properties"]["secretAccessKey"] == {
        "type": "environment",
        "variable": "AWS_SECRET_ACCESS_KEY",
    }
    task_id = metadata_of(result, "druid_datasource", key)["druid_task_id"]
    task_log = s3.get_object(Bucket=TASK_LOG_BUCKET, Key=f"task-logs/{task_id}/log")["Body"]
    texts = {"event log": serialized, "task log": task_log.read().decode(errors="replace")}
    # the records the steps handed each other (the plans hold the spec)
    listed = s3.list_objects_v2(Bucket=VALIDATED_BUCKET, Prefix=f"handoff/{result.run_id}/")
    records = [item["Key"] for item in listed.get("Contents", [])]
    assert len(records) == 3, records  # raw_file, validated_frame, druid_spec
    for record in records:
        body = s3.get_object(Bucket=VALIDATED_BUCKET, Key=record)["Body"].read()
        texts[record] = body.decode()
    for path in sorted(stack.log_dir.glob("*.log")):
        if path.resolve().is_file():
            texts[path.name] = path.read_text(errors="replace")
    assert "middleManager.log" in texts and "coordinator-overlord.log" in texts
    for secret in secrets:
        leaks = [name for name, text in texts.items() if secret in text]
        assert leaks == [], f"a secret appears in {leaks}"
