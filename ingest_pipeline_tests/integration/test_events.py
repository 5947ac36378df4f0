"""The sensor driven by S3 event notifications through the stack's real queue (ElasticMQ), fed by
the stack's s3-events relay from the S3 store's filer: no listing needed for an upload, a lost
message found by the reconciliation listing, a lost delete retracted by it, and a queue server
killed mid-burst losing nothing and ingesting nothing twice. A real daemon on its own database
and uploads prefix.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import dagster as dg
import pytest

from ingest_pipeline.sensor_state import decode_state
from ingest_pipeline.stack.queue import QueueServer, sqs_client
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, StackSettings
from ingest_pipeline_tests.integration.automation import (
    Automation,
    assert_no_more_runs,
    csv,
    decided,
    put,
    runs_for,
    sensor_state,
    source_rows,
    wait_for_runs,
)

# serial: every upload of every test feeds the one events queue this module's daemon reads
pytestmark = [pytest.mark.integration, pytest.mark.serial]


def restart_daemon(auto: Automation, reconcile_seconds: int) -> None:
    auto.stop_daemon()
    auto.env["INGEST_RECONCILE_INTERVAL_SECONDS"] = str(reconcile_seconds)
    auto.start_daemon()


def cursor_of(auto: Automation):
    return decode_state(sensor_state(auto.instance()).instigator_data.cursor)


def take_message_of(stack: StackSettings, key: str, timeout: float = 30) -> None:
    """Receive and delete the queue's message about `key`: an event lost on purpose (other
    messages are left to reappear at once)."""
    client = sqs_client(stack)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = client.receive_message(
            QueueUrl=stack.events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        )
        for message in got.get("Messages", []):
            if key.replace(" ", "+") in message["Body"]:
                client.delete_message(
                    QueueUrl=stack.events_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                return
            client.change_message_visibility(
                QueueUrl=stack.events_queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
    raise AssertionError(f"no message about {key} in {timeout}s")


def test_an_upload_is_ingested_from_its_event_without_any_listing(
    events_automation, s3, druid
) -> None:
    auto = events_automation
    dataset = f"evented_{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    put(s3, auto, f"{dataset}/first file.csv", csv(40))
    (run,) = wait_for_runs(auto, {f"{dataset}/first file.csv": 1})[f"{dataset}/first file.csv"]
    elapsed = time.monotonic() - started
    assert run.status == dg.DagsterRunStatus.SUCCESS, auto.logs()
    assert source_rows(druid, dataset, auto, "first file.csv") == 40
    state = cursor_of(auto)
    assert state.reconciliation.pages == 0  # the reconciliation never listed
    assert decided(auto.instance(), f"{auto.prefix}{dataset}/first file.csv")
    assert_no_more_runs(auto, {f"{dataset}/first file.csv": 1})
    print(f"\nupload -> queryable through the queue in {elapsed:.1f}s")


def test_a_lost_message_is_found_by_the_reconciliation(events_automation, stack, s3, druid) -> None:
    auto = events_automation
    dataset = f"lost_{uuid.uuid4().hex[:6]}"
    auto.stop_daemon()
    put(s3, auto, f"{dataset}/lost.csv", csv(25))
    take_message_of(stack, f"{auto.prefix}{dataset}/lost.csv")
    auto.env["INGEST_RECONCILE_INTERVAL_SECONDS"] = "10"
    auto.start_daemon()
    (run,) = wait_for_runs(auto, {f"{dataset}/lost.csv": 1})[f"{dataset}/lost.csv"]
    assert run.status == dg.DagsterRunStatus.SUCCESS, auto.logs()
    assert source_rows(druid, dataset, auto, "lost.csv") == 25
    assert cursor_of(auto).reconciliation.pages >= 1
    assert_no_more_runs(auto, {f"{dataset}/lost.csv": 1})
    restart_daemon(auto, 0)


def test_a_lost_delete_is_retracted_by_the_reconciliation(
    events_automation, stack, s3, druid
) -> None:
    auto = events_automation
    dataset = f"lostdel_{uuid.uuid4().hex[:6]}"
    auto.configure_datasets({dataset: {"on_delete": "retract"}})
    gone, stays = f"{dataset}/gone.csv", f"{dataset}/stays.csv"
    put(s3, auto, gone, csv(15))
    put(s3, auto, stays, csv(9, offset=100))  # the same day: the same time chunk
    for run in wait_for_runs(auto, {gone: 1, stays: 1})[gone]:
        assert run.status == dg.DagsterRunStatus.SUCCESS, auto.logs()
    assert source_rows(druid, dataset, auto, "gone.csv") == 15
    auto.stop_daemon()
    s3.delete_object(Bucket=UPLOADS_BUCKET, Key=auto.prefix + gone)
    take_message_of(stack, f"{auto.prefix}{gone}")  # the delete's event, lost on purpose
    auto.env["INGEST_RECONCILE_INTERVAL_SECONDS"] = "10"
    auto.start_daemon()
    retraction = wait_for_runs(auto, {gone: 2})[gone][0]
    assert retraction.job_name == "retract_upload", auto.logs()
    assert retraction.status == dg.DagsterRunStatus.SUCCESS, auto.logs()
    assert "@deleted:listed@" in retraction.tags["dagster/run_key"]
    assert source_rows(druid, dataset, auto, "gone.csv") == 0
    assert source_rows(druid, dataset, auto, "stays.csv") == 9
    assert decided(auto.instance(), f"{auto.prefix}{gone}") is None  # forgotten
    assert_no_more_runs(auto, {gone: 2, stays: 1})
    restart_daemon(auto, 0)


def test_the_queue_server_killed_mid_burst_loses_nothing_and_ingests_each_file_once(
    events_automation, stack, s3, druid
) -> None:
    auto = events_automation
    dataset = f"burst_{uuid.uuid4().hex[:6]}"
    names = [f"f{i:02d}.csv" for i in range(12)]
    queue = QueueServer(stack)

    def upload_all() -> None:
        for name in names:
            put(s3, auto, f"{dataset}/{name}", csv(10 + names.index(name)))
            time.sleep(0.3)

    uploader = threading.Thread(target=upload_all)
    uploader.start()
    time.sleep(1)
    pid = queue.pid()
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # mid-burst, without warning
    uploader.join()
    queue.pid_file.unlink(missing_ok=True)
    queue.start()  # its messages were kept on disk; the relay resends what it could not send
    runs = wait_for_runs(auto, {f"{dataset}/{n}": 1 for n in names})
    for name, found in runs.items():
        assert [r.status for r in found] == [dg.DagsterRunStatus.SUCCESS], (name, auto.logs())
    assert_no_more_runs(auto, {f"{dataset}/{n}": 1 for n in names})
    for name in names:
        assert source_rows(druid, dataset, auto, name) == 10 + names.index(name)
    assert all(len(runs_for(auto.instance(), f"{dataset}/{n}")) == 1 for n in names)
