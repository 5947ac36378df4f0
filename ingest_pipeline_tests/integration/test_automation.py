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

from ingest_pipeline.checks import INGESTION_CHECKS, VALIDATION_CHECKS
from ingest_pipeline.sensors import decode_cursor
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests import runs as graph_runs
from ingest_pipeline_tests.integration.automation import (
    assert_no_more_runs,
    check_results,
    completed_ticks_since,
    csv,
    put,
    runs_for,
    source_rows,
    wait_for_completed_ticks,
    wait_for_runs,
)
from ingest_pipeline_tests.runs import ASSETS

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
    # a daemon that ticks (first in the module, it has just started), so that "no tick while it
    # is down" below says something
    wait_for_completed_ticks(automation, since=0.0)
    automation.stop_daemon()
    stopped = time.time()
    put(s3, automation, f"{dataset}/late.csv", csv(1_000))
    time.sleep(5)  # longer than the 3 s interval: a running daemon would have ticked
    # no tick in the window (the daemon is down), hence no run: the instance says both
    assert completed_ticks_since(automation.instance(), stopped) == []
    assert runs_for(automation.instance(), f"{dataset}/late.csv") == []
    automation.start_daemon()
    (run,) = wait_for_runs(automation, {f"{dataset}/late.csv": 1})[f"{dataset}/late.csv"]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert_no_more_runs(automation, {f"{dataset}/late.csv": 1})
    assert source_rows(druid, dataset, automation, "late.csv") == 1_000


def test_a_bad_file_in_a_batch_stops_only_itself(automation, s3, druid) -> None:
    dataset = f"mixed_{uuid.uuid4().hex[:6]}"
    automation.stop_daemon()  # both files in S3 before the next tick: one batch run
    put(s3, automation, f"{dataset}/header_only.csv", b"ts,team,points\n")
    put(s3, automation, f"{dataset}/good.csv", csv(5))
    automation.start_daemon()
    bad_key, good_key = f"{dataset}/header_only.csv", f"{dataset}/good.csv"
    runs = wait_for_runs(automation, {bad_key: 1, good_key: 1})
    (run,) = runs[bad_key]
    # one run for both; it fails because of the bad file, after ingesting the good one
    assert runs[good_key] == [run] and run.status == dg.DagsterRunStatus.FAILURE
    instance = automation.instance()
    assert check_results(instance, run, bad_key) == {"file_is_ingestible": False}
    good_checks = check_results(instance, run, good_key)
    every_check = {spec.name for spec in (*VALIDATION_CHECKS, *INGESTION_CHECKS)}
    assert set(good_checks) == every_check and all(good_checks.values()), good_checks
    events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    (failed,) = [
        e.dagster_event.event_specific_data
        for e in events
        if not e.dagster_event.event_specific_data.passed
    ]
    assert failed.partition == bad_key
    assert "header_only.csv" in failed.description and "no data rows" in failed.description
    # the bad file got only as far as raw_file; the good one through every asset
    materialized = [
        e.dagster_event.event_specific_data.materialization
        for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    ]
    by_file: dict[str | None, set[str]] = {}
    for m in materialized:
        by_file.setdefault(m.partition, set()).add(m.asset_key.to_user_string())
    assert by_file == {bad_key: {"raw_file"}, good_key: set(ASSETS)}
    verdicts = graph_runs.verdicts(instance, run.run_id)
    assert verdicts[bad_key].outcome is Outcome.REJECTED
    assert verdicts[good_key].outcome is Outcome.INGESTED and verdicts[good_key].rows == 5
    assert source_rows(druid, dataset, automation, "header_only.csv") == 0
    assert source_rows(druid, dataset, automation, "good.csv") == 5
