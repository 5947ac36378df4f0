"""Automation with a real Dagster daemon and webserver on Postgres: uploads flow in by themselves.

The daemon gets its own Postgres database and uploads prefix, so it sees only this test's files
and its sensor cursor starts empty.
"""

from __future__ import annotations

import time
import uuid

import dagster as dg
import httpx
import pytest

from ingest_pipeline.sensors import decode_cursor
from ingest_pipeline_tests.integration.automation import (
    assert_no_more_runs,
    check_results,
    csv,
    put,
    runs_for,
    source_rows,
    wait_for_runs,
)

pytestmark = pytest.mark.integration


def test_uploads_are_ingested_without_manual_action(automation, s3, druid) -> None:
    scores, teams = f"scores_{uuid.uuid4().hex[:6]}", f"teams_{uuid.uuid4().hex[:6]}"
    uploads = {
        f"{scores}/a.csv": csv(30),
        f"{scores}/b.csv": csv(20, 100),
        f"{teams}/c.csv": csv(7),
    }
    started = time.monotonic()
    for partition, body in uploads.items():
        put(s3, automation, partition, body)
    runs = wait_for_runs(automation, {p: 1 for p in uploads})
    elapsed = time.monotonic() - started
    instance = automation.instance()
    for partition, (run,) in runs.items():
        assert run.status == dg.DagsterRunStatus.SUCCESS, automation.logs()
        checks = check_results(instance, run, partition)
        assert checks and all(checks.values()), (partition, checks)
        assert "rows_in_druid_match_validated" in checks
    assert source_rows(druid, scores, automation, "a.csv") == 30
    assert source_rows(druid, scores, automation, "b.csv") == 20
    assert source_rows(druid, teams, automation, "c.csv") == 7
    print(f"\n3 uploads -> queryable through the sensor in {elapsed:.1f}s")

    # The sensor's cursor lives in Postgres (schedule storage of the daemon's database).
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    (state,) = [s for s in instance.all_instigator_state() if s.name == "upload_sensor"]
    cursor = decode_cursor(state.instigator_data.cursor)
    assert {automation.prefix + p for p in uploads} <= set(cursor)

    # The webserver, on the same storage, shows those runs.
    query = "{ runsOrError { ... on Runs { results { runId status } } } }"
    response = httpx.post(
        f"http://127.0.0.1:{automation.web_port}/graphql", json={"query": query}, timeout=30
    )
    listed = {r["runId"]: r["status"] for r in response.json()["data"]["runsOrError"]["results"]}
    for (run,) in runs.values():
        assert listed[run.run_id] == "SUCCESS"

    # Overwrite one file with new content: exactly one new run, and only the new rows.
    put(s3, automation, f"{scores}/a.csv", csv(12, 1000))
    runs = wait_for_runs(automation, {f"{scores}/a.csv": 2})
    assert len(runs[f"{scores}/a.csv"]) == 2
    assert_no_more_runs(automation, {f"{scores}/a.csv": 2})  # a later tick: no third run
    assert source_rows(druid, scores, automation, "a.csv") == 12
    assert source_rows(druid, scores, automation, "b.csv") == 20


def test_upload_while_the_daemon_is_down_is_ingested_once(automation, s3, druid) -> None:
    dataset = f"restart_{uuid.uuid4().hex[:6]}"
    automation.stop_daemon()
    put(s3, automation, f"{dataset}/late.csv", csv(1_000))
    time.sleep(5)
    assert runs_for(automation.instance(), f"{dataset}/late.csv") == []
    automation.start_daemon()
    (run,) = wait_for_runs(automation, {f"{dataset}/late.csv": 1})[f"{dataset}/late.csv"]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert_no_more_runs(automation, {f"{dataset}/late.csv": 1})
    assert source_rows(druid, dataset, automation, "late.csv") == 1_000


def test_blocking_check_stops_a_bad_file_and_others_keep_flowing(automation, s3, druid) -> None:
    dataset = f"mixed_{uuid.uuid4().hex[:6]}"
    put(s3, automation, f"{dataset}/header_only.csv", b"ts,team,points\n")
    put(s3, automation, f"{dataset}/good.csv", csv(5))
    runs = wait_for_runs(automation, {f"{dataset}/header_only.csv": 1, f"{dataset}/good.csv": 1})
    (bad,) = runs[f"{dataset}/header_only.csv"]
    (good,) = runs[f"{dataset}/good.csv"]
    assert good.status == dg.DagsterRunStatus.SUCCESS
    assert bad.status == dg.DagsterRunStatus.FAILURE
    instance = automation.instance()
    assert check_results(instance, bad) == {"file_is_ingestible": False}
    events = instance.all_logs(bad.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    description = events[0].dagster_event.event_specific_data.description
    assert "header_only.csv" in description and "no data rows" in description
    materialized = {
        e.dagster_event.asset_key.to_user_string()
        for e in instance.all_logs(bad.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    }
    assert materialized == {"raw_file", "validated_frame"}  # no spec, no ingestion
    assert source_rows(druid, dataset, automation, "header_only.csv") == 0
    assert source_rows(druid, dataset, automation, "good.csv") == 5
