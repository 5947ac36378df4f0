"""Faults with real processes: Druid services are stopped and restarted under the pipeline.

Each test leaves the stack healthy again (`restored` brings every service back up).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ingest_pipeline.assets.druid_datasource import druid_datasource
from ingest_pipeline.assets.druid_spec import druid_spec
from ingest_pipeline.assets.raw_file import raw_file
from ingest_pipeline.assets.validated_frame import validated_frame
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources import build_resources
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.stack.druid import JavaService, stop_orphan_peons
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, StackSettings
from ingest_pipeline.stack.stack import Stack

pytestmark = pytest.mark.integration
ASSETS = [raw_file, validated_frame, druid_spec, druid_datasource]
ROWS = 40


@pytest.fixture
def restored(stack: StackSettings) -> Iterator[Stack]:
    services = Stack(stack)
    yield services
    services.up()  # whatever a test stopped comes back before the next test


def prepared_upload(s3, instance: dg.DagsterInstance, label: str) -> str:
    """An upload whose first three assets are materialized: only the ingestion is left."""
    dataset = f"fault_{label}_{uuid.uuid4().hex[:6]}"
    body = "ts,v\n" + "".join(f"2024-09-01T00:{i:02d}:00Z,{i}\n" for i in range(ROWS))
    key = f"{dataset}/f.csv"
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}", Body=body.encode())
    instance.add_dynamic_partitions(upload_partitions.name, [key])
    first = materialize(instance, key, ["raw_file", "validated_frame", "druid_spec"])
    assert first.success
    return key


def materialize(
    instance: dg.DagsterInstance,
    key: str,
    selection: list[str] | None = None,
    **overrides: dg.ConfigurableResource,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        partition_key=key,
        instance=instance,
        resources={**build_resources(dg.EnvVar), **overrides},
        selection=selection,
        raise_on_error=False,
    )


def materialize_in_child(key: str) -> tuple[bool, str, str]:
    """All four assets of `key` in this (child) process: success, failure message, spec mode."""
    result = materialize(dg.DagsterInstance.get(), key)
    if not result.success:
        return False, failure_message(result), ""
    spec = result.asset_materializations_for_node("druid_spec")[0].metadata
    return True, "", str(spec["mode"].value)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure)
    return failure.event_specific_data.error.to_string()  # type: ignore[union-attr]


def rows_of(stack: StackSettings, key: str) -> int:
    druid = DruidResource(router_url=stack.druid_url("router"))
    dataset = key.split("/")[0]
    return druid.source_rows(dataset, f"uploads/{key}").count


def rerun_leaves_one_copy(
    stack: StackSettings, instance: dg.DagsterInstance, key: str
) -> dg.ExecuteInProcessResult:
    """Materialize all four assets of `key` again: it succeeds and Druid holds ROWS of it."""
    rerun = materialize(instance, key)
    assert rerun.success, failure_message(rerun)
    assert rows_of(stack, key) == ROWS
    return rerun


def test_overlord_down_at_submit_is_retried_until_it_returns(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "retry")
    restored.java["coordinator-overlord"].stop()

    def bring_back() -> None:
        time.sleep(10)
        restored.up()

    returning = threading.Thread(target=bring_back)
    returning.start()
    patient = DruidResource(
        router_url=stack.druid_url("router"), max_retries=7, retry_base_delay_seconds=2.0
    )
    result = materialize(instance, key, ["druid_datasource"], druid=patient)
    returning.join()
    assert result.success, failure_message(result)
    assert rows_of(stack, key) == ROWS


def test_overlord_down_past_the_retry_budget_fails_clearly_and_reruns_once(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "budget")
    restored.java["coordinator-overlord"].stop()
    impatient = DruidResource(
        router_url=stack.druid_url("router"), max_retries=2, retry_base_delay_seconds=0.5
    )
    result = materialize(instance, key, ["druid_datasource"], druid=impatient)
    assert not result.success
    message = failure_message(result)
    assert "/druid/indexer/v1/task" in message and "after 3 attempts" in message, message

    restored.up()
    rerun_leaves_one_copy(stack, instance, key)


def test_historical_down_times_out_clearly_and_a_rerun_keeps_one_copy(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "historical")
    restored.java["historical"].stop()
    short_wait = PipelineSettings(segment_load_timeout_seconds=15)
    result = materialize(instance, key, ["druid_datasource"], pipeline_settings=short_wait)
    assert not result.success
    message = failure_message(result)
    assert "succeeded but segments" in message and "not all loaded within 15s" in message, message

    restored.up()  # the historical loads what the task published
    rerun = rerun_leaves_one_copy(stack, instance, key)
    spec = rerun.asset_materializations_for_node("druid_spec")[0].metadata
    assert spec["previous_rows_of_this_file"].value == ROWS  # replaced, not appended


class Ingestion:
    """`druid_datasource` of `key` materializing in a thread; returns once Druid runs its task."""

    def __init__(self, stack: StackSettings, instance: dg.DagsterInstance, key: str) -> None:
        self.outcome: dict[str, dg.ExecuteInProcessResult] = {}
        self.thread = threading.Thread(
            target=lambda: self.outcome.update(
                result=materialize(instance, key, ["druid_datasource"])
            )
        )
        self.thread.start()
        druid = DruidResource(router_url=stack.druid_url("router"))
        url = f"{druid.router_url}/druid/indexer/v1/runningTasks"
        dataset = key.split("/")[0]
        deadline = time.monotonic() + 120
        while not any(t.get("dataSource") == dataset for t in druid.request("GET", url).json()):
            assert time.monotonic() < deadline and self.thread.is_alive(), "the task never ran"
            time.sleep(0.2)

    def result(self) -> dg.ExecuteInProcessResult:
        self.thread.join(timeout=600)
        return self.outcome["result"]


def crash(service: JavaService, druid_home: Path) -> None:
    """SIGKILL a Druid service and its peons, as a machine or OOM-killer crash would."""
    pid = service.pid()
    assert pid is not None, f"{service.name} is not running"
    os.killpg(pid, signal.SIGKILL)
    stop_orphan_peons(druid_home)
    service.pid_file.unlink(missing_ok=True)


def test_middle_manager_killed_mid_task_fails_with_druids_status_and_reruns_once(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "mm")
    ingestion = Ingestion(stack, instance, key)  # returns once Druid runs the task
    crash(restored.java["middleManager"], stack.stack_dir / "druid")
    restored.up()  # the middleManager comes back without the task
    result = ingestion.result()
    assert not result.success
    message = failure_message(result)
    assert "FAILED" in message and "disappeared" in message, message

    rerun_leaves_one_copy(stack, instance, key)


def test_a_replace_and_an_append_in_the_same_interval_at_once_both_land(
    stack, s3, dagster_home
) -> None:
    """Druid locks time chunks: the second task waits for the first instead of failing."""
    instance = dg.DagsterInstance.get()
    first = prepared_upload(s3, instance, "locks")
    assert materialize(instance, first, ["druid_datasource"]).success
    dataset = first.split("/")[0]
    second = f"{dataset}/g.csv"
    body = "ts,v\n" + "".join(f"2024-09-01T00:{i:02d}:30Z,{i}\n" for i in range(ROWS // 2))
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{second}", Body=body.encode())
    instance.add_dynamic_partitions(upload_partitions.name, [second])

    # Two processes: Dagster's in-process execution does not run two jobs in one process.
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool:
        # the first is re-run (replace), the second is new (append)
        keys = (first, second)
        outcomes = dict(zip(keys, pool.map(materialize_in_child, keys), strict=True))
    for key, (success, message, _) in outcomes.items():
        assert success, (key, message)
    assert outcomes[first][2].startswith("replace"), outcomes
    assert outcomes[second][2].startswith("append"), outcomes
    assert rows_of(stack, first) == ROWS
    assert rows_of(stack, second) == ROWS // 2


def test_s3_restarted_mid_task_loses_nothing_and_a_rerun_keeps_one_copy(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "s3")
    upload = s3.head_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}")
    ingestion = Ingestion(stack, instance, key)
    assert restored.s3.stop()  # the peon is reading (or about to read) the validated file
    restored.s3.start()  # the same data folder: every object is back
    result = ingestion.result()

    # Nothing stored is lost: the upload is back with the same content.
    after = s3.head_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}")
    assert after["ETag"] == upload["ETag"]
    if not result.success:  # the task met the outage: a clear failure, then a clean re-run
        message = failure_message(result)
        assert "FAILED" in message or "did not answer" in message, message
        rerun_leaves_one_copy(stack, instance, key)
    else:
        assert rows_of(stack, key) == ROWS
    print(f"\nS3 restarted mid-task: the run {'succeeded' if result.success else 'failed, re-ran'}")
