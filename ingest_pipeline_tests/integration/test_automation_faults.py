"""Faults under automation: the daemon killed mid-tick, Postgres restarted, a burst of uploads.

A real daemon (module-scoped, own database and prefix) ingests; the tests SIGKILL it or restart
the stack's Postgres (which Druid's metadata also lives in) and then count rows in Druid.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime

import dagster as dg
import psycopg2
import pytest
import yaml

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.settings import REPO_ROOT, StackSettings
from ingest_pipeline.stack.stack import Stack
from ingest_pipeline_tests.integration.automation import (
    assert_no_more_runs,
    csv,
    put,
    runs_for,
    source_rows,
    wait_for_runs,
)

pytestmark = pytest.mark.integration
# CI bursts 24 files (~4 min); INGEST_TEST_BURST_FILES=200 runs the full-size burst (~35 min).
BURST = int(os.environ.get("INGEST_TEST_BURST_FILES", "24"))
INSTANCE_CONFIG = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
DRUID_POOL_LIMIT = int(INSTANCE_CONFIG["concurrency"]["pools"]["default_limit"])
DATASETS = 3


class RunningTaskSampler(threading.Thread):
    """Samples the overlord's running ingestion tasks of datasources with a given prefix."""

    def __init__(self, druid: DruidResource, prefix: str) -> None:
        super().__init__(daemon=True)
        self.druid, self.prefix = druid, prefix
        self.peak = 0
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        url = f"{self.druid.router_url}/druid/indexer/v1/runningTasks"
        while not self.done.is_set():
            tasks = self.druid.request("GET", url).json()
            ours = [
                t
                for t in tasks
                if t.get("type") == "index_parallel"
                and t.get("dataSource", "").startswith(self.prefix)
            ]
            self.peak = max(self.peak, len(ours))
            self.samples += 1
            time.sleep(0.5)


def runs_created_since(instance: dg.DagsterInstance, since: datetime) -> int:
    """Runs created after `since` (the automation's database holds only this module's runs)."""
    return instance.get_runs_count(dg.RunsFilter(created_after=since))


def test_burst_with_the_daemon_killed_mid_tick_ingests_each_file_once(
    automation, s3, druid
) -> None:
    dataset_prefix = f"burst_{uuid.uuid4().hex[:6]}"
    uploads = {
        f"{dataset_prefix}_{i % DATASETS}/f{i:03d}.csv": csv(10 + i, offset=i) for i in range(BURST)
    }
    sampler = RunningTaskSampler(druid, dataset_prefix)
    sampler.start()
    instance = automation.instance()
    # The whole burst is in S3 before the daemon's next tick: that one tick requests all of it.
    automation.stop_daemon()
    created_after = datetime.now(UTC)
    started = time.monotonic()
    for partition, body in uploads.items():
        put(s3, automation, partition, body)
    automation.start_daemon()

    # Kill the daemon as soon as the tick has submitted its first run of the burst (one batch
    # run per dataset): it may still be submitting the others, its cursor not yet stored.
    deadline = time.monotonic() + 180
    while runs_created_since(instance, created_after) == 0:
        assert time.monotonic() < deadline, automation.logs()
        time.sleep(0.05)
    automation.stop_daemon(kill=True)  # SIGKILL the daemon process alone
    requested_before_kill = runs_created_since(instance, created_after)
    assert 0 < requested_before_kill <= DATASETS, (requested_before_kill, automation.logs())
    automation.start_daemon()

    runs = wait_for_runs(automation, {p: 1 for p in uploads}, timeout=300 + 30 * BURST)
    elapsed = time.monotonic() - started
    assert_no_more_runs(automation, {p: 1 for p in uploads})  # a later tick asks for none again
    sampler.done.set()
    sampler.join(timeout=30)
    for partition in uploads:
        (run,) = runs_for(instance, partition)
        assert run.status == dg.DagsterRunStatus.SUCCESS, (partition, automation.logs())
    assert len(runs) == BURST
    # one run per dataset: the burst was in S3 before the tick that requested it
    assert runs_created_since(instance, created_after) == DATASETS
    assert {run.run_id for (run,) in runs.values()} == {
        r.run_id for r in instance.get_runs(dg.RunsFilter(created_after=created_after))
    }
    for partition, body in uploads.items():
        dataset, name = partition.split("/")
        assert source_rows(druid, dataset, automation, name) == body.count(b"\n") - 1, partition
    for i in range(DATASETS):
        dataset = f"{dataset_prefix}_{i}"
        total = druid.sql(f'SELECT COUNT(*) AS n FROM "{dataset}"')[0]["n"]
        assert total == sum(10 + j for j in range(BURST) if j % DATASETS == i)
    assert 1 <= sampler.peak <= DRUID_POOL_LIMIT, sampler.peak
    print(
        f"\n{BURST} uploads, daemon SIGKILLed after {requested_before_kill} of {DATASETS} batch "
        f"runs were requested: all ingested once in {elapsed:.0f}s; peak concurrent Druid tasks "
        f"{sampler.peak} ({sampler.samples} samples)"
    )


def postgres_answers(stack: StackSettings) -> bool:
    try:
        psycopg2.connect(stack.postgres_url("postgres"), connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


@pytest.mark.serial
def test_postgres_restarted_between_runs_loses_and_repeats_nothing(
    automation, s3, druid, stack
) -> None:
    dataset = f"pgrestart_{uuid.uuid4().hex[:6]}"
    put(s3, automation, f"{dataset}/before.csv", csv(30))
    wait_for_runs(automation, {f"{dataset}/before.csv": 1})

    services = Stack(stack)
    assert postgres_answers(stack)
    assert services.postgres.stop()
    assert not postgres_answers(stack), "Postgres still accepts connections after stop()"
    time.sleep(3)  # the daemon's ticks meet a closed database meanwhile
    services.postgres.start()
    assert postgres_answers(stack)

    put(s3, automation, f"{dataset}/after.csv", csv(20, 500))
    put(s3, automation, f"{dataset}/before.csv", csv(15, 900))  # an overwrite: one new run
    expected = {f"{dataset}/after.csv": 1, f"{dataset}/before.csv": 2}
    runs = wait_for_runs(automation, expected)
    assert_no_more_runs(automation, expected)
    for partition_runs in runs.values():
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in partition_runs), (
            automation.logs()
        )
    assert source_rows(druid, dataset, automation, "before.csv") == 15
    assert source_rows(druid, dataset, automation, "after.csv") == 20
