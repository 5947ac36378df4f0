"""Reading why a Druid task failed out of its log and report, and which answers are worth
asking again (no servers: HTTP through httpx.MockTransport)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from ingest_pipeline.records import TaskOutcome
from ingest_pipeline.resources import druid as druid_module
from ingest_pipeline.resources.druid import DruidRefused, DruidResource, DruidUnavailable
from ingest_pipeline.resources.druid_wire import (
    ETERNITY_START,
    extract_row_stats,
    is_lost_task,
    parse_segment_bound,
    report_error,
    retry_delay,
    root_cause,
)
from ingest_pipeline.spec import ETERNITY, granularity_of_interval

OOM_LOG = """\
2024-01-01T00:00:01,000 INFO [task-runner-0] o.a.d.indexing.common.task.IndexTask - starting
java.lang.RuntimeException: wrapper
Caused by: java.io.IOException: an earlier, unrelated cause
Terminating due to java.lang.OutOfMemoryError: Java heap space
"""

TRACE_LOG = """\
org.apache.druid.java.util.common.ISE: Failed to publish segments
\tat org.apache.druid.indexing...
Caused by: com.amazonaws.SdkClientException: Unable to execute HTTP request
Caused by: java.net.ConnectException: Connection refused
"""


def test_a_dying_jvm_is_the_root_cause() -> None:
    assert root_cause(OOM_LOG) == "Terminating due to java.lang.OutOfMemoryError: Java heap space"


def test_the_innermost_cause_of_the_last_trace_otherwise() -> None:
    assert root_cause(TRACE_LOG) == "java.net.ConnectException: Connection refused"
    assert root_cause("all fine\n") == ""


def test_row_stats_and_errors_from_a_native_batch_report() -> None:
    reports = {
        "ingestionStatsAndErrors": {
            "payload": {
                "rowStats": {"buildSegments": {"processed": 10, "unparseable": 1}},
                "unparseableEvents": {"buildSegments": ["bad row at line 3"]},
                "errorMsg": "Max parse exceptions[0] exceeded\nat ...",
            }
        }
    }
    stats, exceptions = extract_row_stats(reports)
    assert stats == {"processed": 10, "unparseable": 1}
    assert exceptions == ["bad row at line 3"]
    assert report_error(reports) == "Max parse exceptions[0] exceeded\nat ..."
    assert extract_row_stats({}) == ({}, [])


def test_an_all_segments_eternity_bounds_read_as_all_granularity() -> None:
    start, end = ETERNITY.split("/")
    assert start == ETERNITY_START
    bounds = parse_segment_bound(start), parse_segment_bound(end)
    assert granularity_of_interval(*bounds) == "ALL"
    year = (
        parse_segment_bound("2024-01-01T00:00:00.000Z"),
        parse_segment_bound("2025-01-01T00:00:00.000Z"),
    )
    assert year == (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    assert granularity_of_interval(*year) == "YEAR"


def test_a_task_whose_worker_died_is_told_apart_from_one_that_failed_on_its_data() -> None:
    def failed(message: str, cause: str = "") -> TaskOutcome:
        return TaskOutcome("t", "FAILED", message, {}, root_cause=cause)

    # as Druid 25 says it when the middleManager (and its peon) was SIGKILLed mid-task
    gone = (
        "This task disappeared on the worker where it was assigned. See overlord logs for more "
        "details."
    )
    assert is_lost_task(failed(gone))
    assert is_lost_task(failed("", "Task [x] exited unsuccessfully with code[137]"))
    # seen once in test_batching: the middleManager died between assignment and start
    assert is_lost_task(
        failed(
            "The worker that this task is assigned did not start it in timeout[PT5M]. See "
            "overlord and middleManager/indexer logs for more details."
        )
    )
    # seen in the soak: the S3 store was SIGKILLed under the task, and back seconds later
    assert is_lost_task(
        failed(
            "com.amazonaws.SdkClientException: Unable to execute HTTP request: Connect to "
            "127.0.0.1:21976 [/127.0.0.1] failed: Connection refused"
        )
    )
    assert not is_lost_task(failed("Max parse exceptions[0] exceeded"))
    assert not is_lost_task(failed("Failed to get locks for intervals"))
    assert not is_lost_task(TaskOutcome("t", "SUCCESS", gone, {}))


def druid_behind(
    answer: Callable[[httpx.Request], httpx.Response], max_retries: int = 5
) -> DruidResource:
    """A DruidResource whose HTTP goes to `answer`, retrying without sleeping."""
    druid = DruidResource(
        router_url="http://druid:8888", retry_base_delay_seconds=0.0, max_retries=max_retries
    )
    druid._client = httpx.Client(transport=httpx.MockTransport(answer))
    return druid


def test_an_overlord_electing_a_leader_is_waited_for_not_a_failed_file() -> None:
    # Seen in the 60-minute soak: after ZooKeeper or the overlord restarted, the overlord
    # answered 307 naming itself for a while; the file's task was reported failed.
    asked: list[str] = []

    def electing_then_leader(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if len(asked) < 3:
            return httpx.Response(307, headers={"location": str(request.url)})
        return httpx.Response(200, json={"status": {"status": "SUCCESS"}})

    druid = druid_behind(electing_then_leader)
    url = "http://overlord:8081/druid/indexer/v1/task/t1/status"
    assert druid.request("GET", url).json() == {"status": {"status": "SUCCESS"}}
    assert asked == [url, url, url]


def test_a_redirect_to_another_leader_asks_it_with_the_same_path_and_query() -> None:
    asked: list[str] = []

    def follower_then_leader(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if request.url.host == "overlord-a":
            return httpx.Response(307, headers={"location": "http://overlord-b:8090/whatever"})
        return httpx.Response(200, json={"ok": True})

    druid = druid_behind(follower_then_leader)
    url = "http://overlord-a:8081/druid/indexer/v1/task?state=running"
    druid.request("GET", url)
    assert asked == [url, "http://overlord-b:8090/druid/indexer/v1/task?state=running"]


def test_an_overlord_that_never_elects_a_leader_is_unavailable_not_refused() -> None:
    def electing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(307, headers={"location": str(request.url)})

    with pytest.raises(DruidUnavailable, match="after 6 attempts .*HTTP 307"):
        druid_behind(electing).request("GET", "http://overlord:8081/druid/indexer/v1/task")


def test_bad_credentials_are_refused_at_once_and_named() -> None:
    calls: list[int] = []

    def unauthorized(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(401)

    with pytest.raises(DruidRefused, match="username and password") as refused:
        druid_behind(unauthorized).request("GET", "http://druid:8888/status")
    assert (refused.value.status_code, len(calls)) == (401, 1)


def test_a_task_is_waited_for_through_an_overlord_that_stops_answering_for_a_while() -> None:
    # The task runs on its worker while the overlord restarts: its file is not failed for that.
    status_calls: list[int] = []

    def restarting_overlord(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/status"):
            status_calls.append(1)
            if len(status_calls) <= 6:  # 3 polls of 2 attempts each: DruidUnavailable x3
                return httpx.Response(503)
            return httpx.Response(200, json={"status": {"status": "SUCCESS"}})
        return httpx.Response(200, json={})  # reports

    druid = druid_behind(restarting_overlord, max_retries=1)
    outcome = druid.wait_for_task("t1", timeout_seconds=60, poll_seconds=0.0)
    assert (outcome.status, len(status_calls)) == ("SUCCESS", 7)


def test_an_overlord_silent_past_the_timeout_is_said_unavailable() -> None:
    def silent(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    druid = druid_behind(silent, max_retries=0)
    with pytest.raises(DruidUnavailable, match="did not answer GET .*/task/t1/status"):
        druid.wait_for_task("t1", timeout_seconds=0.05, poll_seconds=0.01)


def test_retries_wait_doubling_delays_capped_at_the_maximum() -> None:
    assert [retry_delay(attempt, 1.0, 30.0) for attempt in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert retry_delay(0, 0.0, 30.0) == 0


def test_by_default_a_call_rides_out_a_druid_restart_of_a_minute_and_then_gives_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The soak killed the coordinator-overlord 5 times; it was back and leader within 33 s,
    # yet the old budget (5 retries, 31 s of sleep) failed files a few seconds short.
    slept: list[float] = []
    monkeypatch.setattr(druid_module.time, "sleep", slept.append)
    monkeypatch.setattr(druid_module.random, "uniform", lambda low, high: 1.0)
    restart_seconds = 60.0

    def restarting(request: httpx.Request) -> httpx.Response:
        if sum(slept) < restart_seconds:
            return httpx.Response(503, text="restarting")
        return httpx.Response(200, json={"status": {"status": "RUNNING"}})

    druid = DruidResource(router_url="http://druid:8888")  # the default retries
    druid._client = httpx.Client(transport=httpx.MockTransport(restarting))
    assert druid.request("GET", "http://druid:8888/x").status_code == 200
    assert sum(slept) == 61  # 1+2+4+8+16+30: back at the first call after 60 s

    slept.clear()
    restart_seconds = float("inf")  # never back: unavailable after about 90 s, not forever
    with pytest.raises(DruidUnavailable, match="after 8 attempts"):
        druid.request("GET", "http://druid:8888/x")
    assert sum(slept) == 91
