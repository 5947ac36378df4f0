"""Faults under automation: the daemon killed mid-tick, Postgres restarted, a burst of uploads.

A real daemon (module-scoped, own database and prefix) ingests; the tests SIGKILL it or restart
the stack's Postgres (which Druid's metadata also lives in) and then count rows in Druid.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import dagster as dg
import pytest

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.stack import Stack
from ingest_pipeline_tests.integration.automation import (
    csv,
    put,
    runs_for,
    source_rows,
    wait_for_runs,
)

pytestmark = pytest.mark.integration
# CI bursts 24 files (~4 min); INGEST_TEST_BURST_FILES=200 runs the full-size burst (~35 min).
BURST = int(os.environ.get("INGEST_TEST_BURST_FILES", "24"))
DRUID_POOL_LIMIT = 2  # dagster.yaml: concurrency.pools.default_limit


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


def test_burst_with_the_daemon_killed_mid_tick_ingests_each_file_once(
    automation, s3, druid
) -> None:
    dataset_prefix = f"burst_{uuid.uuid4().hex[:6]}"
    uploads = {
        f"{dataset_prefix}_{i % 3}/f{i:03d}.csv": csv(10 + i, offset=i) for i in range(BURST)
    }
    sampler = RunningTaskSampler(druid, dataset_prefix)
    sampler.start()
    started = time.monotonic()
    for partition, body in uploads.items():
        put(s3, automation, partition, body)

    # Kill the daemon as soon as the sensor has submitted its first run of the burst: the
    # tick is still submitting the others (or has just stored its cursor).
    instance = automation.instance()
    deadline = time.monotonic() + 120
    while not any(runs_for(instance, p) for p in uploads):
        assert time.monotonic() < deadline, automation.logs()
        time.sleep(0.05)
    automation.stop_daemon(kill=True)  # SIGKILL the daemon process alone
    requested_before_kill = sum(1 for p in uploads if runs_for(instance, p))
    time.sleep(2)
    automation.start_daemon()

    runs = wait_for_runs(automation, {p: 1 for p in uploads}, timeout=120 + 20 * BURST)
    elapsed = time.monotonic() - started
    time.sleep(8)  # two more ticks: nothing is requested twice
    sampler.done.set()
    sampler.join(timeout=30)
    for partition in uploads:
        (run,) = runs_for(instance, partition)
        assert run.status == dg.DagsterRunStatus.SUCCESS, (partition, automation.logs())
    assert len(runs) == BURST
    for partition, body in uploads.items():
        dataset, name = partition.split("/")
        assert source_rows(druid, dataset, automation, name) == body.count(b"\n") - 1, partition
    for i in range(3):
        dataset = f"{dataset_prefix}_{i}"
        total = druid.sql(f'SELECT COUNT(*) AS n FROM "{dataset}"')[0]["n"]
        assert total == sum(10 + j for j in range(BURST) if j % 3 == i)
    assert 1 <= sampler.peak <= DRUID_POOL_LIMIT, sampler.peak
    print(
        f"\n{BURST} uploads, daemon SIGKILLed after {requested_before_kill} runs were requested: "
        f"all ingested once in {elapsed:.0f}s; peak concurrent Druid tasks {sampler.peak} "
        f"({sampler.samples} samples)"
    )


def test_postgres_restarted_between_runs_loses_and_repeats_nothing(
    automation, s3, druid, stack
) -> None:
    dataset = f"pgrestart_{uuid.uuid4().hex[:6]}"
    put(s3, automation, f"{dataset}/before.csv", csv(30))
    wait_for_runs(automation, {f"{dataset}/before.csv": 1})

    services = Stack(stack)
    assert services.postgres.stop()
    time.sleep(3)  # the daemon's ticks meet a closed database meanwhile
    services.postgres.start()

    put(s3, automation, f"{dataset}/after.csv", csv(20, 500))
    put(s3, automation, f"{dataset}/before.csv", csv(15, 900))  # an overwrite: one new run
    runs = wait_for_runs(automation, {f"{dataset}/after.csv": 1, f"{dataset}/before.csv": 2})
    time.sleep(8)
    instance = automation.instance()
    assert len(runs_for(instance, f"{dataset}/after.csv")) == 1
    assert len(runs_for(instance, f"{dataset}/before.csv")) == 2
    for partition_runs in runs.values():
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in partition_runs), (
            automation.logs()
        )
    assert source_rows(druid, dataset, automation, "before.csv") == 15
    assert source_rows(druid, dataset, automation, "after.csv") == 20
