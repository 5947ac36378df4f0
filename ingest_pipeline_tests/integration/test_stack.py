"""The local stack against real servers: S3, Druid ingestion end to end, Postgres storage."""

from __future__ import annotations

import io
import json
import os
import subprocess
import uuid
from pathlib import Path

import dagster as dg
import httpx
import polars as pl
import psycopg2
import pytest

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.settings import (
    DEEP_STORAGE_BUCKET,
    TASK_LOG_BUCKET,
    UPLOADS_BUCKET,
    StackSettings,
)
from ingest_pipeline_tests.runs import run_cli

pytestmark = pytest.mark.integration


def druid(stack: StackSettings) -> DruidResource:
    env = stack.client_env()
    return DruidResource(
        router_url=env["INGEST_DRUID_ROUTER_URL"],
        overlord_url=env["INGEST_DRUID_OVERLORD_URL"],
        coordinator_url=env["INGEST_DRUID_COORDINATOR_URL"],
        broker_url=env["INGEST_DRUID_BROKER_URL"],
    )


def test_s3_object_reads_back_through_boto3_and_polars(stack: StackSettings, s3) -> None:
    key = f"stack-test/{uuid.uuid4().hex}.csv"
    body = b"city,visits\nOslo,3\nLima,5\n"
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=key, Body=body)

    assert s3.get_object(Bucket=UPLOADS_BUCKET, Key=key)["Body"].read() == body
    frame = pl.read_csv(
        f"s3://{UPLOADS_BUCKET}/{key}",
        storage_options={
            "aws_endpoint_url": stack.s3_endpoint,
            "aws_access_key_id": stack.s3_access_key,
            "aws_secret_access_key": stack.s3_secret_key,
            "aws_region": stack.s3_region,
            "aws_allow_http": "true",
        },
    )
    assert frame.to_dicts() == [{"city": "Oslo", "visits": 3}, {"city": "Lima", "visits": 5}]


def test_druid_ingests_ndjson_from_s3_end_to_end(stack: StackSettings, s3) -> None:
    datasource = f"stack_smoke_{uuid.uuid4().hex[:8]}"
    key = f"stack-test/{datasource}.json"
    rows = [
        {"ts": f"2024-03-01T{hour:02d}:15:00Z", "kind": "ab"[hour % 2], "amount": hour * 7}
        for hour in range(24)
    ]
    s3.put_object(
        Bucket=UPLOADS_BUCKET,
        Key=key,
        Body="\n".join(json.dumps(row) for row in rows).encode(),
    )
    spec = {
        "type": "index_parallel",
        "spec": {
            "dataSchema": {
                "dataSource": datasource,
                "timestampSpec": {"column": "ts", "format": "iso"},
                "dimensionsSpec": {"dimensions": ["kind", {"type": "long", "name": "amount"}]},
                "granularitySpec": {
                    "segmentGranularity": "day",
                    "queryGranularity": "none",
                    "rollup": False,
                },
            },
            "ioConfig": {
                "type": "index_parallel",
                "inputSource": {
                    "type": "s3",
                    "uris": [f"s3://{UPLOADS_BUCKET}/{key}"],
                    "endpointConfig": {
                        "url": stack.druid_s3_endpoint,
                        "signingRegion": stack.s3_region,
                    },
                    "clientConfig": {
                        "protocol": "http",
                        "enablePathStyleAccess": True,
                        "disableChunkedEncoding": True,
                    },
                    # Without `properties` Druid ignores endpointConfig; the keys come from the
                    # workers' environment, so no secret is in the spec.
                    "properties": {
                        "accessKeyId": {"type": "environment", "variable": "AWS_ACCESS_KEY_ID"},
                        "secretAccessKey": {
                            "type": "environment",
                            "variable": "AWS_SECRET_ACCESS_KEY",
                        },
                    },
                },
                "inputFormat": {"type": "json"},
            },
            "tuningConfig": {
                "type": "index_parallel",
                "partitionsSpec": {"type": "dynamic"},
                "maxParseExceptions": 0,
            },
        },
    }
    client = druid(stack)
    task_id = client.submit_task(spec)
    outcome = client.wait_for_task(task_id, timeout_seconds=300)
    assert outcome.succeeded, f"{outcome.error_message}\n{outcome.log_tail}"
    assert outcome.row_stats["processed"] == len(rows)
    assert outcome.row_stats["unparseable"] == 0

    client.wait_for_segments(datasource, timeout_seconds=120)
    totals = client.sql(
        f'SELECT COUNT(*) AS n, SUM(amount) AS total FROM "{datasource}" WHERE kind = ?', ["a"]
    )
    expected = [r for r in rows if r["kind"] == "a"]
    assert totals == [{"n": len(expected), "total": sum(r["amount"] for r in expected)}]
    everything = client.sql(f'SELECT COUNT(*) AS n FROM "{datasource}" WHERE amount >= ?', [0])
    assert everything == [{"n": len(rows)}]

    segments = s3.list_objects_v2(Bucket=DEEP_STORAGE_BUCKET, Prefix=f"segments/{datasource}/")
    segment_keys = [obj["Key"] for obj in segments.get("Contents", [])]
    assert segment_keys and all(k.endswith("index.zip") for k in segment_keys)
    log_key = f"task-logs/{task_id}/log"
    log_text = s3.get_object(Bucket=TASK_LOG_BUCKET, Key=log_key)["Body"].read().decode()
    assert task_id in log_text


def test_dagster_instance_records_materialization_in_postgres(
    stack: StackSettings, dagster_home
) -> None:
    marker = uuid.uuid4().hex

    @dg.asset(name=f"stack_probe_{marker[:8]}")
    def probe() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"marker": marker})

    instance = dg.DagsterInstance.get()
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"

    result = dg.materialize([probe], instance=instance)
    assert result.success
    event = instance.get_latest_materialization_event(probe.key)
    assert event is not None
    assert event.asset_materialization.metadata["marker"].value == marker

    # Read the event back from Postgres itself, not through Dagster's cache.
    database = os.environ["DAGSTER_PG_DB"]  # the stack's, or a pytest-xdist worker's own
    with psycopg2.connect(stack.postgres_url(database)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
            (result.run_id, "ASSET_MATERIALIZATION"),
        )
        assert cur.fetchone()[0] == 1


def test_stack_up_twice_is_a_no_op_and_status_reports_each_service(stack: StackSettings) -> None:
    before = run_cli("stack", "--stack-dir", str(stack.stack_dir), "status")
    assert before.returncode == 0, before.stdout + before.stderr
    services = ["postgres", "s3", "zookeeper", "coordinator-overlord", "historical", "broker"]
    services += ["middleManager", "router", "queue", "s3-events"]
    pids_before = parse_status(before.stdout)
    assert set(pids_before) == set(services)

    again = run_cli("stack", "--stack-dir", str(stack.stack_dir), "up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "starting" not in again.stdout
    for service in services:
        assert f"{service} already running" in again.stdout
    assert parse_status(again.stdout) == pids_before
    assert "default load rule" not in again.stdout  # set by the first `stack up`, kept


def test_the_stack_keeps_one_replica_of_each_segment_on_its_one_historical(
    stack: StackSettings,
) -> None:
    """Druid's default rule (2 replicas) cannot be met by one historical: the coordinator
    would warn about every segment every second (363 lines a second at 354 segments)."""
    coordinator = stack.druid_url("coordinator-overlord")
    rules = httpx.get(f"{coordinator}/druid/coordinator/v1/rules", timeout=10).json()
    assert rules["_default"] == [{"type": "loadForever", "tieredReplicants": {"_default_tier": 1}}]


def parse_status(text: str) -> dict[str, tuple[str, str]]:
    """service -> (state, pid) from `stack status` output."""
    table: dict[str, tuple[str, str]] = {}
    for line in io.StringIO(text):
        parts = line.split()
        if len(parts) >= 3 and parts[1] in ("up", "down", "unhealthy", "external"):
            table[parts[0]] = (parts[1], parts[2])
            assert parts[1] in ("up", "external"), line
    return table


def test_peons_map_the_class_archive_the_stack_dumped(stack: StackSettings) -> None:
    # The middleManager's own settings for its peons: their JVM flags and class path.
    conf = stack.stack_dir / "druid" / "conf" / "middleManager" / "runtime.properties"
    props = dict(line.split("=", 1) for line in conf.read_text().splitlines() if "=" in line)
    java_opts = json.loads(props["druid.indexer.runner.javaOptsArray"])
    archives = [opt.split("=", 1)[1] for opt in java_opts if opt.startswith("-XX:SharedArchive")]
    assert len(archives) == 1 and Path(archives[0]).is_file()
    # -Xshare:on: the JVM fails instead of starting without the archive.
    version = subprocess.run(
        ["java", *java_opts, "-Xshare:on", "-cp", props["druid.indexer.runner.classpath"]]
        + ["org.apache.druid.cli.Main", "version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert version.returncode == 0, version.stdout + version.stderr
    assert "25.0.0" in version.stdout
