"""A real Dagster daemon and webserver on the stack, and helpers to follow their runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import psycopg2
import yaml
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorTick,
    InstigatorType,
    TickStatus,
)

from ingest_pipeline.console.runs import ROOT_RUN_TAG, latest_attempts, retry_state, runs_covering
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.seen_store import decided_etag
from ingest_pipeline.sensor_state import decode_state
from ingest_pipeline.stack.processes import tail
from ingest_pipeline.stack.settings import REPO_ROOT, UPLOADS_BUCKET, StackSettings, free_port
from ingest_pipeline_tests.integration.oracles import rows_in_druid

RUN_TIMEOUT = 300


class Automation:
    """A daemon + webserver pair on a private database, restartable mid-test."""

    def __init__(self, stack: StackSettings, home: Path) -> None:
        self.stack = stack
        self.home = home
        self.prefix = f"auto-{uuid.uuid4().hex[:8]}/"
        self.database = f"dagster_auto_{uuid.uuid4().hex[:8]}"
        self.web_port = free_port()
        # the daemon's datasets.yaml (read at each run): tests add their datasets' settings
        self.datasets_config = home / "datasets.yaml"
        self.datasets_config.write_text("{}\n")
        self.env = {
            **os.environ,
            **stack.client_env(),
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_DB": self.database,
            "INGEST_UPLOADS_PREFIX": self.prefix,
            "INGEST_SENSOR_INTERVAL_SECONDS": "3",
            "INGEST_DATASETS_CONFIG": str(self.datasets_config),
        }
        self.daemon: subprocess.Popen | None = None
        self.webserver: subprocess.Popen | None = None

    @classmethod
    def on_a_new_database(cls, stack: StackSettings, home: Path) -> Automation:
        """An Automation in `home` (the project's dagster.yaml) on a Postgres database of its
        own, created here; its daemon and webserver not started yet."""
        (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
        auto = cls(stack, home)
        conn = psycopg2.connect(stack.postgres_url("postgres"))
        conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{auto.database}"')
        conn.close()
        return auto

    def use_events_queue(self) -> None:
        """The sensor reads the stack's S3 events queue instead of listing the bucket."""
        self.env["INGEST_EVENTS_QUEUE_URL"] = self.stack.events_queue_url
        self.env["INGEST_SQS_ENDPOINT_URL"] = self.stack.queue_endpoint

    def use_events_only(self) -> None:
        """The sensor on the events queue, ticking every second, the reconciliation off
        (whatever happens comes from the events)."""
        self.use_events_queue()
        self.env["INGEST_SENSOR_INTERVAL_SECONDS"] = "1"
        self.env["INGEST_RECONCILE_INTERVAL_SECONDS"] = "0"

    @classmethod
    def on_the_events_queue(cls, stack: StackSettings, home: Path) -> Automation:
        """On a new database, events only (`use_events_only`); its daemon started."""
        auto = cls.on_a_new_database(stack, home)
        auto.use_events_only()
        auto.start_daemon()
        return auto

    def start_daemon(self) -> None:
        self.daemon = self._spawn("daemon", ["dagster-daemon", "run"])

    def stop_daemon(self, kill: bool = False) -> None:
        """SIGTERM (a clean shutdown) or, with `kill`, SIGKILL: its tick is cut where it was."""
        assert self.daemon is not None
        if kill:
            self.daemon.kill()
        else:
            self.daemon.terminate()
        try:
            self.daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # seen once in CI after many faults: the daemon did not finish its shutdown in a
            # minute; the tests need it stopped, not a clean exit
            self.daemon.kill()
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

    def configure_datasets(self, settings: dict[str, dict[str, str]]) -> None:
        """Add datasets' settings to the daemon's datasets.yaml (its next run reads them)."""
        document = yaml.safe_load(self.datasets_config.read_text()) or {}
        document.update(settings)
        self.datasets_config.write_text(yaml.safe_dump(document))

    def stop(self) -> None:
        for proc in (self.daemon, self.webserver):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)


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
    """Every run requested for the partition, alone or in a batch (a partition range), newest
    first. A run that crashed and was retried (run_retries) counts once, as its newest retry."""
    return latest_attempts(runs_covering(instance, partition))


def settled(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Finished, and not about to be retried."""
    return run.is_finished and retry_state(instance, run) is None


def wait_for_runs(
    auto: Automation, expected: dict[str, int], timeout: float = RUN_TIMEOUT
) -> dict[str, list[dg.DagsterRun]]:
    """Until each partition has `expected` finished runs; fails with the daemon's log if not."""
    instance = auto.instance()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {p: runs_for(instance, p) for p in expected}
        if all(
            len(runs) >= expected[p] and all(settled(instance, r) for r in runs)
            for p, runs in found.items()
        ):
            for partition, runs in found.items():
                for run in runs:
                    if ROOT_RUN_TAG in run.tags:  # seen once in CI: say why in the output
                        first = instance.get_run_by_id(run.tags[ROOT_RUN_TAG])
                        reason = first.tags.get("dagster/failure_reason") if first else None
                        print(f"{partition}: run {run.tags[ROOT_RUN_TAG]} failed ({reason}),")
                        print(f"  retried as {run.run_id} ({run.status.value})\n{auto.logs()}")
            return found
        time.sleep(2)
    raise AssertionError(f"runs did not finish in {timeout}s: {found}\n{auto.logs()}")


#: A tick that ran to its end: it listed the uploads and decided (requested runs or not).
COMPLETED_TICK = [TickStatus.SUCCESS, TickStatus.SKIPPED]


def stored_sensor_state(
    instance: dg.DagsterInstance, name: str = "upload_sensor"
) -> InstigatorState | None:
    """The sensor's stored state, None before the daemon has evaluated the sensor once."""
    states = [
        s
        for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if s.instigator_name == name
    ]
    assert len(states) <= 1, states
    return states[0] if states else None


def sensor_state(instance: dg.DagsterInstance, name: str = "upload_sensor") -> InstigatorState:
    """The sensor's stored state: its origin and selector ids key its ticks."""
    state = stored_sensor_state(instance, name)
    assert state is not None, f"{name} has no stored state"
    return state


def decided(instance: dg.DagsterInstance, key: str) -> str | None:
    """The ETag the queue-mode sensor has decided for `key` (its cursor's pending decisions
    over the key-value store), None if none."""
    cursor = sensor_state(instance).instigator_data.cursor  # type: ignore[union-attr]
    return decided_etag(instance, decode_state(cursor).pending, key)


def completed_ticks_since(instance: dg.DagsterInstance, since: float) -> list[InstigatorTick]:
    """upload_sensor's ticks that started at or after `since` (epoch seconds) and completed."""
    state = stored_sensor_state(instance)
    if state is None:
        return []  # a daemon just started has not evaluated the sensor yet: no tick at all
    return list(
        instance.get_ticks(
            state.instigator_origin_id, state.selector_id, after=since, statuses=COMPLETED_TICK
        )
    )


def wait_for_completed_ticks(
    auto: Automation, since: float, count: int = 1, timeout: float = 120
) -> list[InstigatorTick]:
    """Until `count` ticks that started after `since` have completed: a window in which the
    sensor really looked again (instead of a sleep that may hold no tick at all)."""
    instance = auto.instance()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ticks = completed_ticks_since(instance, since)
        if len(ticks) >= count:
            return ticks
        time.sleep(1)
    raise AssertionError(f"no {count} completed sensor ticks in {timeout}s\n{auto.logs()}")


def assert_no_more_runs(auto: Automation, expected: dict[str, int]) -> list[InstigatorTick]:
    """After at least one more completed tick, each partition still has `expected` runs."""
    ticks = wait_for_completed_ticks(auto, since=time.time())
    instance = auto.instance()
    found = {p: len(runs_for(instance, p)) for p in expected}
    assert found == expected, (found, [t.status for t in ticks])
    return ticks


def source_rows(druid: DruidResource, dataset: str, auto: Automation, name: str) -> int:
    """Rows of the upload `name` in Druid, counted by SQL written in the tests (oracles.py)."""
    return rows_in_druid(druid, dataset, f"{auto.prefix}{dataset}/{name}")


def check_results(
    instance: dg.DagsterInstance, run: dg.DagsterRun, partition: str | None = None
) -> dict[str, bool]:
    """check name -> passed, for the run's evaluations on `partition` (every one if None)."""
    events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    found = {}
    for event in events:
        data = event.dagster_event.event_specific_data
        if partition is None or data.partition == partition:
            found[data.check_name] = data.passed
    return found
