"""A step that meets an error no verdict explains runs again in the same run (Postgres or the
S3 store restarting under it); a file's verdict is final and never retried. The real ingest
graph in-process against the in-memory store and Druid."""

from __future__ import annotations

import dagster as dg
from dagster._core.execution.plan.objects import StepFailureData
from dagster._utils.error import SerializableErrorInfo

from ingest_pipeline.console.runs import failure_message
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests.fakes import FakeDruid, InMemoryObjectStore
from ingest_pipeline_tests.unit.assets.helpers import ASSETS, SkippingClock, World, csv

GOOD, BAD = "s/a.csv", "s/b.csv"
#: head() calls that fail before the store answers, by store name (Dagster builds the resource
#: anew from its config for every run, so the count cannot live on the resource).
_FAILURES_LEFT: dict[str, int] = {}


class RestartingStore(InMemoryObjectStore):
    """The in-memory store, refusing its first head() calls as a restarting server would."""

    def head(self, bucket: str, key: str) -> ObjectInfo:
        if _FAILURES_LEFT.get(self.name, 0) > 0:
            _FAILURES_LEFT[self.name] -= 1
            raise ConnectionError(f"{bucket}: connection refused (the store is restarting)")
        return super().head(bucket, key)


def world_whose_store_fails(times: int) -> World:
    store = RestartingStore()
    _FAILURES_LEFT[store.name] = times
    return World(dg.DagsterInstance.ephemeral(), store, FakeDruid(store=store))


def retries(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEvent]:
    return [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def retried_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.step_key or "" for e in retries(result)]


def test_a_step_that_meets_a_restarting_store_runs_again_and_the_files_land(
    retry_wait: SkippingClock,
) -> None:
    world = world_whose_store_fails(0)
    world.upload(GOOD, csv(5))
    world.upload(BAD, b"ts,team,points\n")  # header only: rejected, once
    _FAILURES_LEFT[world.store.name] = 1
    result = world.run([GOOD, BAD])
    assert retried_steps(result) == ["ingest.raw_file"]
    # it waited STEP_RETRIES' first delay, on the skipping clock
    assert [e.step_retry_data.seconds_to_wait for e in retries(result)] == [5]
    assert 0.0 < retry_wait.skipped <= 5.0
    verdicts = world.verdicts(result.run_id)
    assert {p: v.outcome for p, v in verdicts.items()} == {
        GOOD: Outcome.INGESTED,
        BAD: Outcome.REJECTED,
    }
    for asset in ASSETS:
        assert world.statuses(asset)[0] == {GOOD} or asset == "raw_file", asset
    assert world.statuses("raw_file")[0] == {GOOD, BAD}
    assert len(world.druid.rows_of("s", "uploads/" + GOOD)) == 5


def test_a_rejected_file_fails_its_run_without_a_retry(retry_wait: SkippingClock) -> None:
    world = world_whose_store_fails(0)
    world.upload(BAD, b"ts,team,points\n")
    result = world.run([BAD])
    assert not result.success and retried_steps(result) == []
    assert retry_wait.skipped == 0.0
    assert world.verdicts(result.run_id)[BAD].outcome is Outcome.REJECTED


def test_a_step_whose_retries_ran_out_says_what_kept_failing() -> None:
    # the error Dagster records when STEP_RETRIES ran out (execute_plan.py), read as the
    # CLI's `status` and `upload --wait` read a failed step
    cause = SerializableErrorInfo(
        "psycopg2.OperationalError: server closed the connection unexpectedly\n", [], "E"
    )
    wrapped = SerializableErrorInfo(
        'Error occurred while executing op "ingest.raw_file":\n', [], "X", cause
    )
    exhausted = SerializableErrorInfo("Exceeded max_retries of 4\n", [], "R", wrapped)
    assert failure_message(StepFailureData(exhausted, None)) == (
        "psycopg2.OperationalError: server closed the connection unexpectedly (max_retries of 4)"
    )
    assert failure_message(StepFailureData(cause, None)) == (
        "psycopg2.OperationalError: server closed the connection unexpectedly"
    )


def test_a_task_that_crashes_after_another_landed_leaves_the_landed_files_verdict() -> None:
    # One run, two Druid tasks (two datasets): the first lands, the second crashes the step.
    # The first task's file is materialized (green) with its rows in Druid: it must have its
    # verdict, not wait for a step that never finishes.
    world = World(
        dg.DagsterInstance.ephemeral(),
        store := InMemoryObjectStore(),
        FakeDruid(store=store, crash_datasources=["t"]),
    )
    world.upload("s/a.csv", csv(5))
    world.upload("t/x.csv", csv(3))
    result = world.run(["s/a.csv", "t/x.csv"])
    assert not result.success
    verdicts = world.verdicts(result.run_id)
    assert set(verdicts) == {"s/a.csv"}
    assert (verdicts["s/a.csv"].outcome, verdicts["s/a.csv"].rows) == (Outcome.INGESTED, 5)
    assert world.statuses("druid_datasource")[0] == {"s/a.csv"}
