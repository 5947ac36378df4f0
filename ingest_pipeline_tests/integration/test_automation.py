"""Automation with a real Dagster daemon and webserver on Postgres: uploads flow in by themselves.

The daemon gets its own Postgres database and uploads prefix, so it sees only this test's files
and its sensor cursor starts empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import psycopg2
import pytest

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.sensors import decode_cursor
from ingest_pipeline.stack.processes import tail
from ingest_pipeline.stack.settings import REPO_ROOT, UPLOADS_BUCKET, StackSettings, free_port

pytestmark = pytest.mark.integration
RUN_TIMEOUT = 300


class Automation:
    """A daemon + webserver pair on a private database, restartable mid-test."""

    def __init__(self, stack: StackSettings, home: Path) -> None:
        self.stack = stack
        self.home = home
        self.prefix = f"auto-{uuid.uuid4().hex[:8]}/"
        self.database = f"dagster_auto_{uuid.uuid4().hex[:8]}"
        self.web_port = free_port()
        self.env = {
            **os.environ,
            **stack.client_env(),
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_DB": self.database,
            "INGEST_UPLOADS_PREFIX": self.prefix,
            "INGEST_SENSOR_INTERVAL_SECONDS": "3",
        }
        self.daemon: subprocess.Popen | None = None
        self.webserver: subprocess.Popen | None = None

    def start_daemon(self) -> None:
        self.daemon = self._spawn("daemon", ["dagster-daemon", "run"])

    def stop_daemon(self) -> None:
        assert self.daemon is not None
        self.daemon.terminate()
        self.daemon.wait(timeout=60)
        self.daemon = None

    def start_webserver(self) -> None:
        self.webserver = self._spawn(
            "webserver", ["dagster-webserver", "-h", "127.0.0.1", "-p", str(self.web_port)]
        )

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        executable = Path(sys.executable).parent / argv[0]
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        return subprocess.Popen(
            [str(executable), *argv[1:], "-w", str(REPO_ROOT / "workspace.yaml")],
            env=self.env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{tail(self.home / f'{name}.log', 60)}" for name in ("daemon", "webserver")
        )

    def instance(self) -> dg.DagsterInstance:
        previous = {k: os.environ.get(k) for k in ("DAGSTER_PG_DB", "DAGSTER_HOME")}
        os.environ.update(DAGSTER_PG_DB=self.database, DAGSTER_HOME=str(self.home))
        try:
            return dg.DagsterInstance.get()
        finally:
            for key, value in previous.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def stop(self) -> None:
        for proc in (self.daemon, self.webserver):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)


@pytest.fixture(scope="module")
def automation(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Automation]:
    home = tmp_path_factory.mktemp("automation_home")
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    auto = Automation(stack, home)
    conn = psycopg2.connect(stack.postgres_url("postgres"))
    conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{auto.database}"')
    conn.close()
    auto.start_daemon()
    auto.start_webserver()
    yield auto
    auto.stop()


@pytest.fixture(scope="module")
def druid(stack: StackSettings) -> DruidResource:
    return DruidResource(router_url=stack.druid_url("router"))


def csv(rows: int, offset: int = 0, day: str = "2024-07-01") -> bytes:
    lines = ["ts,team,points"]
    lines += [
        f"{day}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z,t{i % 4},{i + offset}" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def put(s3, auto: Automation, partition: str, body: bytes) -> str:
    response = s3.put_object(Bucket=UPLOADS_BUCKET, Key=auto.prefix + partition, Body=body)
    return response["ETag"].strip('"')


def runs_for(instance: dg.DagsterInstance, partition: str) -> list[dg.DagsterRun]:
    records = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/partition": partition}))
    return [record.dagster_run for record in records]


def wait_for_runs(
    auto: Automation, expected: dict[str, int], timeout: float = RUN_TIMEOUT
) -> dict[str, list[dg.DagsterRun]]:
    """Until each partition has `expected` finished runs; fails with the daemon's log if not."""
    instance = auto.instance()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {p: runs_for(instance, p) for p in expected}
        if all(
            len(runs) >= expected[p] and all(r.is_finished for r in runs)
            for p, runs in found.items()
        ):
            return found
        time.sleep(2)
    raise AssertionError(f"runs did not finish in {timeout}s: {found}\n{auto.logs()}")


def source_rows(druid: DruidResource, dataset: str, auto: Automation, name: str) -> int:
    return int(druid.rows_of_source(dataset, f"{auto.prefix}{dataset}/{name}")["n"])


def check_results(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict[str, bool]:
    events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return {
        e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data.passed
        for e in events
    }


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
        checks = check_results(instance, run)
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
    time.sleep(8)  # two more ticks: still no third run
    assert len(runs_for(instance, f"{scores}/a.csv")) == 2
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
    time.sleep(8)
    assert len(runs_for(automation.instance(), f"{dataset}/late.csv")) == 1
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
