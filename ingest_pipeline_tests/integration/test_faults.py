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
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pytest

from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources import build_resources
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.stack.druid import JavaService, stop_orphan_peons
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, StackSettings
from ingest_pipeline.stack.stack import Stack
from ingest_pipeline_tests import runs
from ingest_pipeline_tests.integration.oracles import rows_in_druid
from ingest_pipeline_tests.runs import failure_message, metadata_of

pytestmark = pytest.mark.integration
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
    """The ingest job over `key`; a run of druid_datasource alone takes the stored plans."""
    return runs.materialize(instance, key, {**build_resources(dg.EnvVar), **overrides}, selection)


def materialize_in_child(key: str) -> tuple[bool, str, str]:
    """All four assets of `key` in this (child) process: success, failure message, spec mode."""
    result = materialize(dg.DagsterInstance.get(), key)
    if not result.success:
        return False, failure_message(result), ""
    return True, "", str(metadata_of(result, "druid_spec", key)["mode"])


def rows_of(stack: StackSettings, key: str) -> int:
    druid = DruidResource(router_url=stack.druid_url("router"))
    dataset = key.split("/")[0]
    return rows_in_druid(druid, dataset, f"uploads/{key}")


def rerun_leaves_one_copy(
    stack: StackSettings, instance: dg.DagsterInstance, key: str
) -> dg.ExecuteInProcessResult:
    """Materialize all four assets of `key` again: it succeeds and Druid holds ROWS of it."""
    rerun = materialize(instance, key)
    assert rerun.success, failure_message(rerun)
    assert rows_of(stack, key) == ROWS
    return rerun


def answers(url: str) -> bool:
    """True if something accepts HTTP at `url` (any status): the probe of a stopped service."""
    try:
        httpx.get(url, timeout=5)
    except httpx.TransportError:
        return False
    return True


def stopped(service: JavaService) -> None:
    """Stop a Druid service and prove it: stop() stopped a process and its port is closed."""
    assert service.stop(), f"{service.name} was not running"
    assert not answers(f"{service.url}/status"), f"{service.name} still answers after stop()"


@dataclass
class Attempt:
    method: str
    path: str
    at: float  # time.monotonic() when the request left
    status: int | None = None  # None: no HTTP answer (connection refused, timeout)


#: Every HTTP request CountingDruid made. Dagster rebuilds a resource from its config for a
#: run, so the record lives here rather than on the instance passed in.
ATTEMPTS: list[Attempt] = []


def _record_request(request: httpx.Request) -> None:
    attempt = Attempt(request.method, request.url.path, time.monotonic())
    request.extensions["attempt"] = attempt
    ATTEMPTS.append(attempt)


def _record_response(response: httpx.Response) -> None:
    response.request.extensions["attempt"].status = response.status_code


class CountingDruid(DruidResource):
    """DruidResource whose HTTP client records each attempt (request, then its status)."""

    def _http(self) -> httpx.Client:
        if self._client is None:
            client = super()._http()
            client.event_hooks = {"request": [_record_request], "response": [_record_response]}
        return super()._http()


def submit_attempts() -> list[Attempt]:
    """The submission's requests: looking its task id up (GET .../task/<id>/status: a retried
    run must find its task, not post a second one), then the POST, up to the accepted POST."""
    attempts = []
    for a in ATTEMPTS:
        post = a.method == "POST" and a.path == "/druid/indexer/v1/task"
        lookup = a.method == "GET" and a.path.startswith("/druid/indexer/v1/task/")
        if post or (lookup and a.path.endswith("/status")):
            attempts.append(a)
        if post and a.status in (200, 202):
            break
    return attempts


def refused(attempts: list[Attempt]) -> list[Attempt]:
    """Attempts the outage answered: no HTTP answer, or an error from the router (it says 400
    or 5xx while the overlord is away); 404 is the overlord's own "no such task"."""
    return [a for a in attempts if a.status not in (200, 202, 404)]


def assert_backed_off(attempts: list[Attempt], base_delay: float) -> None:
    """Attempt i+1 left at least the jittered backoff (0.8 * base * 2**i) after attempt i."""
    for i, (before, after) in enumerate(zip(attempts, attempts[1:], strict=False)):
        assert after.at - before.at >= 0.8 * base_delay * 2**i, (i, attempts)


@pytest.mark.serial
def test_overlord_down_at_submit_is_retried_until_it_returns(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "retry")
    stopped(restored.java["coordinator-overlord"])
    restart: dict[str, float] = {}

    def bring_back() -> None:
        time.sleep(10)
        restart["began"] = time.monotonic()
        restored.up()
        restart["done"] = time.monotonic()

    returning = threading.Thread(target=bring_back)
    returning.start()
    ATTEMPTS.clear()
    patient = CountingDruid(
        router_url=stack.druid_url("router"), max_retries=7, retry_base_delay_seconds=2.0
    )
    result = materialize(instance, key, ["druid_datasource"], druid=patient)
    returning.join()
    assert result.success, failure_message(result)
    assert rows_of(stack, key) == ROWS

    # The submit really met the outage and was retried: refused while the overlord was down,
    # accepted once it was back, with the backoff between attempts.
    posts = submit_attempts()
    down = refused(posts)
    assert len(down) >= 2, posts
    assert down[0].at < restart["began"], (posts, restart)
    assert all(a.status not in (200, 202) for a in posts[:-1]), posts
    assert posts[-1].method == "POST", posts  # posted once, after the lookup got an answer
    assert posts[-1].status == 200 and posts[-1].at > restart["began"], (posts, restart)
    assert_backed_off(down, 2.0)


@pytest.mark.serial
def test_overlord_down_past_the_retry_budget_fails_clearly_and_reruns_once(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "budget")
    stopped(restored.java["coordinator-overlord"])
    ATTEMPTS.clear()
    impatient = CountingDruid(
        router_url=stack.druid_url("router"), max_retries=2, retry_base_delay_seconds=0.5
    )
    result = materialize(instance, key, ["druid_datasource"], druid=impatient)
    assert not result.success
    message = failure_message(result)
    assert "/druid/indexer/v1/task" in message and "after 3 attempts" in message, message
    posts = submit_attempts()  # 1 + max_retries, each refused, none more, and nothing posted
    assert len(posts) == 3 and refused(posts) == posts, posts
    assert all(a.method == "GET" for a in posts), posts
    assert_backed_off(posts, 0.5)

    restored.up()
    rerun_leaves_one_copy(stack, instance, key)


@pytest.mark.serial
def test_historical_down_times_out_clearly_and_a_rerun_keeps_one_copy(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "historical")
    stopped(restored.java["historical"])
    short_wait = PipelineSettings(segment_load_timeout_seconds=15)
    result = materialize(instance, key, ["druid_datasource"], pipeline_settings=short_wait)
    assert not result.success
    message = failure_message(result)
    assert "succeeded but segments" in message and "not all loaded within 15s" in message, message

    restored.up()  # the historical loads what the task published
    rerun = rerun_leaves_one_copy(stack, instance, key)
    spec = metadata_of(rerun, "druid_spec", key)
    assert spec["previous_rows_of_this_file"] == ROWS  # replaced, not appended


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
        self.druid = DruidResource(router_url=stack.druid_url("router"))
        url = f"{self.druid.router_url}/druid/indexer/v1/runningTasks"
        dataset = key.split("/")[0]
        deadline = time.monotonic() + 120
        while True:
            ours = [t for t in self.druid.request("GET", url).json() if t["dataSource"] == dataset]
            if ours:
                break
            assert time.monotonic() < deadline and self.thread.is_alive(), "the task never ran"
            time.sleep(0.2)
        (task,) = ours
        self.task_id: str = task["id"]

    def status(self) -> dict:
        """The overlord's status of the task: status (RUNNING/SUCCESS/FAILED), runnerStatusCode."""
        return self.druid.task_status(self.task_id)

    def assert_running(self) -> None:
        """The task is RUNNING on a worker (not waiting, pending or done)."""
        status = self.status()
        assert (status["status"], status.get("runnerStatusCode")) == ("RUNNING", "RUNNING"), status

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
    deadline = time.monotonic() + 30
    while answers(f"{service.url}/status"):  # SIGKILL lands asynchronously
        assert time.monotonic() < deadline, f"{service.name} still answers after SIGKILL"
        time.sleep(0.2)


@pytest.mark.serial
def test_middle_manager_killed_mid_task_is_submitted_again_and_lands_once(
    stack, s3, dagster_home, restored
) -> None:
    """Found by the soak (benchmarks/soak.py): a task lost with its worker failed the file,
    though nothing was wrong with it. Druid says the task "disappeared on the worker"; the
    append had published nothing, so the same run submits it again and the file lands once."""
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "mm")
    ingestion = Ingestion(stack, instance, key)  # returns once Druid runs the task
    ingestion.assert_running()  # the kill below hits a running task
    crash(restored.java["middleManager"], stack.stack_dir / "druid")
    restored.up()  # the middleManager comes back without the task
    result = ingestion.result()
    assert result.success, failure_message(result)
    assert ingestion.status()["status"] == "FAILED"  # the first task is lost for good
    task_id = metadata_of(result, "druid_datasource", key)["druid_task_id"]
    assert task_id == f"{ingestion.task_id}_2"  # the same spec, submitted once more
    assert rows_of(stack, key) == ROWS

    rerun_leaves_one_copy(stack, instance, key)


class TaskWindows(threading.Thread):
    """Samples the overlord's task list of one datasource: which tasks were active together."""

    def __init__(self, stack: StackSettings, dataset: str) -> None:
        super().__init__(daemon=True)
        self.druid = DruidResource(router_url=stack.druid_url("router"))
        self.dataset = dataset
        self.samples: list[dict[str, str]] = []  # active task id -> runner status, per sample
        self.done = threading.Event()

    def run(self) -> None:
        url = f"{self.druid.router_url}/druid/indexer/v1/tasks"
        while not self.done.is_set():
            tasks = self.druid.request("GET", url, params={"datasource": self.dataset}).json()
            self.samples.append(
                {
                    t["id"]: str(t.get("runnerStatusCode"))
                    for t in tasks
                    if t.get("statusCode") == "RUNNING" and t.get("type") == "index_parallel"
                }
            )
            time.sleep(0.2)

    def overlapping(self) -> list[dict[str, str]]:
        return [sample for sample in self.samples if len(sample) >= 2]

    def active_ids(self) -> set[str]:
        return {task_id for sample in self.samples for task_id in sample}


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

    windows = TaskWindows(stack, dataset)
    windows.start()
    # Two processes: Dagster's in-process execution does not run two jobs in one process.
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool:
        # the first is re-run (replace), the second is new (append)
        keys = (first, second)
        outcomes = dict(zip(keys, pool.map(materialize_in_child, keys), strict=True))
    windows.done.set()
    windows.join(timeout=30)
    for key, (success, message, _) in outcomes.items():
        assert success, (key, message)

    # The two tasks really were in Druid at the same time (one may wait for the other's lock),
    # and both ended SUCCESS.
    overlapping = windows.overlapping()
    assert overlapping, windows.samples
    (pair,) = {frozenset(sample) for sample in overlapping}
    assert pair == windows.active_ids(), windows.samples
    druid = DruidResource(router_url=stack.druid_url("router"))
    assert {druid.task_status(task_id)["status"] for task_id in pair} == {"SUCCESS"}
    # Druid's time chunk lock: never both given to a worker at once (PENDING or RUNNING: each
    # holds its lock), and one waited while the other ran. A task the runner has just finished
    # reads NONE until the queue takes its status (seen once in CI: NONE beside WAITING).
    with_a_worker = {"PENDING", "RUNNING"}
    for sample in overlapping:
        assert sum(state in with_a_worker for state in sample.values()) <= 1, sample
    one_waits = (["PENDING", "WAITING"], ["RUNNING", "WAITING"])
    assert any(sorted(sample.values()) in one_waits for sample in overlapping), windows.samples
    print(f"\ntwo tasks active together in {len(overlapping)} samples, one waiting: {pair}")
    assert outcomes[first][2].startswith("replace"), outcomes
    assert outcomes[second][2].startswith("append"), outcomes
    assert rows_of(stack, first) == ROWS
    assert rows_of(stack, second) == ROWS // 2


@pytest.mark.serial
def test_s3_restarted_mid_task_loses_nothing_and_a_rerun_keeps_one_copy(
    stack, s3, dagster_home, restored
) -> None:
    instance = dg.DagsterInstance.get()
    key = prepared_upload(s3, instance, "s3")
    upload = s3.head_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}")
    ingestion = Ingestion(stack, instance, key)
    ingestion.assert_running()
    assert restored.s3.stop()  # the peon is reading (or about to read) the validated file
    assert not answers(stack.s3_endpoint), "S3 still answers after stop()"
    during = ingestion.status()  # the overlord is up: it reports the task while S3 is down
    restored.s3.start()  # the same data folder: every object is back
    assert answers(stack.s3_endpoint)
    # The outage began while the task ran: it was RUNNING before the stop and still after it.
    assert during["status"] == "RUNNING", during
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
