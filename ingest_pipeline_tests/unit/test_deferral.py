"""While a dataset's ingest run waits in Dagster's queue, the sensor requests nothing more for
that dataset: new versions stay undecided (a listing finds them again; in queue mode the
cursor holds them) and the first tick after the run starts requests them all in one run.
Without this, a steady stream of uploads became one queued run per tick per dataset, and the
60-minute soak of 302963a ended with 653 runs queued and uploads 58 minutes from a verdict."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from ingest_pipeline.sensor_state import EventCursor, decode_state, encode_state
from ingest_pipeline.sensors import decode_cursor, plan_tick
from ingest_pipeline_tests.fakes import InMemoryEventQueue, InMemoryObjectStore
from ingest_pipeline_tests.unit.test_event_deletes import delete_event
from ingest_pipeline_tests.unit.test_event_sensor import BODY, put_event
from ingest_pipeline_tests.unit.test_event_sensor import tick as queue_tick
from ingest_pipeline_tests.unit.test_sensors import obj, partition_key_of
from ingest_pipeline_tests.unit.test_sensors import tick as listing_tick


def queued_run(instance: dg.DagsterInstance, dataset: str, job: str = "ingest_upload") -> str:
    """A run of `job` for `dataset` waiting in the run queue, as the sensor would have made."""
    run_id = str(uuid.uuid4())
    location = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="ingest_pipeline"))
    instance.add_run(
        dg.DagsterRun(
            job_name=job,
            run_id=run_id,
            status=dg.DagsterRunStatus.QUEUED,
            tags={"ingest/dataset": dataset, "ingest/files": "1"},
            # Dagster requires one for a queued run (the daemon launches it from there)
            remote_job_origin=RemoteJobOrigin(RemoteRepositoryOrigin(location, "repo"), job),
        )
    )
    return run_id


def starts(instance: dg.DagsterInstance, run_id: str) -> None:
    """The run leaves the queue (the coordinator launched it)."""
    instance.delete_run(run_id)
    instance.add_run(
        dg.DagsterRun(
            job_name="ingest_upload",
            run_id=run_id,
            status=dg.DagsterRunStatus.STARTED,
            tags={"ingest/dataset": "s"},
        )
    )


# --------------------------------------------------------------------------- plan_tick


def test_versions_of_a_waiting_dataset_are_deferred_undecided_and_get_no_partition() -> None:
    new_s, new_t = obj("uploads/s/b.csv", "eb"), obj("uploads/t/c.csv", "ec")
    overwrite = obj("uploads/s/a.csv", "e2")
    plan = plan_tick(
        [overwrite, new_s, new_t],
        {"uploads/s/a.csv": "e1"},
        partition_key_of,
        100,
        existing_partitions={"s/a.csv"},
        waiting={"s"},
    )
    assert [v.partition_key for v in plan.versions] == ["t/c.csv"]
    assert plan.deferred == (overwrite, new_s)
    assert plan.next_seen == {"uploads/s/a.csv": "e1", "uploads/t/c.csv": "ec"}
    assert plan.new_partitions == ("t/c.csv",)


def test_a_file_in_a_subfolder_of_a_waiting_dataset_is_deferred_too() -> None:
    nested = obj("uploads/s/2024/03/b.csv", "eb")
    plan = plan_tick([nested], {}, partition_key_of, 100, waiting={"s"})
    assert plan.deferred == (nested,)
    assert plan.runs == () and plan.next_seen == {}


def test_a_waiting_dataset_still_skips_and_forgets_deleted_keys() -> None:
    plan = plan_tick(
        [obj("uploads/s/empty.csv", size=0)],
        {"uploads/s/gone.csv": "e1"},
        partition_key_of,
        100,
        waiting={"s"},
    )
    assert plan.deferred == () and plan.runs == ()
    assert [s.key for s in plan.skipped] == ["uploads/s/empty.csv"]
    assert plan.removed == ("uploads/s/gone.csv",)


# --------------------------------------------------------------------------- listing mode


def test_listing_files_wait_for_the_queued_run_then_go_together_in_one_run() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        run_id = queued_run(instance, "s")
        first = [obj("uploads/s/a.csv", "ea"), obj("uploads/t/z.csv", "ez")]
        result = listing_tick(instance, first, None)
        assert [r.run_key for r in result.run_requests] == ["t/z.csv@ez"]
        assert decode_cursor(result.cursor) == {"uploads/t/z.csv": "ez"}

        both = [*first, obj("uploads/s/b.csv", "eb")]
        waiting = listing_tick(instance, both, result.cursor)
        assert waiting.run_requests == [] and waiting.cursor == result.cursor

        starts(instance, run_id)
        (batch,) = listing_tick(instance, both, waiting.cursor).run_requests
        assert batch.tags["ingest/files"] == "2"
        assert (batch.tags["dagster/asset_partition_range_start"], batch.run_key[:12]) == (
            "s/a.csv",
            "s/batch of 2",
        )


def test_a_queued_run_of_another_job_or_dataset_does_not_hold_files_back() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        queued_run(instance, "s", job="retract_upload")
        queued_run(instance, "t")
        result = listing_tick(instance, [obj("uploads/s/a.csv", "ea")], None)
        assert [r.run_key for r in result.run_requests] == ["s/a.csv@ea"]


# --------------------------------------------------------------------------- queue mode


def first_file_held(
    instance: dg.DagsterInstance, store: InMemoryObjectStore, queue: InMemoryEventQueue
) -> tuple[str, dg.SensorResult]:
    """A run of dataset s is queued when s/a.csv's event arrives: the tick requests nothing.
    The queued run's id and that tick's result."""
    run_id = queued_run(instance, "s")
    put_event(queue, "uploads/s/a.csv", store.put_upload("s/a.csv", BODY), "01")
    first = queue_tick(instance, store, queue, None)
    assert first.run_requests == []
    return run_id, first


def test_queue_mode_keeps_deferred_objects_in_the_cursor_once_their_messages_are_deleted() -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    with dg.DagsterInstance.ephemeral() as instance:
        run_id, first = first_file_held(instance, store, queue)
        assert [o.key for o in decode_state(first.cursor).deferred] == ["uploads/s/a.csv"]

        put_event(queue, "uploads/s/b.csv", store.put_upload("s/b.csv", BODY), "02")
        second = queue_tick(instance, store, queue, first.cursor)
        assert second.run_requests == [] and queue.in_flight() == 1  # a.csv's message deleted
        state = decode_state(second.cursor)
        assert sorted(o.key for o in state.deferred) == ["uploads/s/a.csv", "uploads/s/b.csv"]

        starts(instance, run_id)
        third = queue_tick(instance, store, queue, second.cursor)
        (batch,) = third.run_requests
        assert batch.tags["ingest/files"] == "2"
        assert decode_state(third.cursor).deferred == () and queue.in_flight() == 0


def test_a_deferred_object_deleted_before_its_run_is_never_requested() -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    with dg.DagsterInstance.ephemeral() as instance:
        run_id, first = first_file_held(instance, store, queue)
        store.delete(store.uploads_bucket, "uploads/s/a.csv")
        delete_event(queue, "uploads/s/a.csv", "02")
        starts(instance, run_id)
        second = queue_tick(instance, store, queue, first.cursor)
        assert second.run_requests == [] and decode_state(second.cursor).deferred == ()


def test_a_newer_event_replaces_the_deferred_version_of_its_key() -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    with dg.DagsterInstance.ephemeral() as instance:
        run_id, first = first_file_held(instance, store, queue)
        newer = store.put_upload("s/a.csv", BODY + b"2024-01-02T00:00:00Z,2\n")
        put_event(queue, "uploads/s/a.csv", newer, "02")
        starts(instance, run_id)
        (request,) = queue_tick(instance, store, queue, first.cursor).run_requests
        assert request.run_key == f"s/a.csv@{newer}"


def test_deferred_objects_round_trip_through_the_cursor() -> None:
    deferred = (obj("uploads/s/a.csv", "ea", size=12), obj("uploads/s/b c.csv", "eb"))
    assert decode_state(encode_state(EventCursor(deferred=deferred))).deferred == deferred


def test_a_tick_with_nothing_new_does_not_ask_for_queued_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=3600)
    with dg.DagsterInstance.ephemeral() as instance:
        asked: list[object] = []
        real_get_runs = instance.get_runs

        def counted(*args: object, **kwargs: object) -> object:
            asked.append(kwargs.get("filters"))
            return real_get_runs(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(instance, "get_runs", counted)
        queued_run(instance, "s")
        first = queue_tick(instance, store, queue, None)  # the first tick reconciles: s is empty
        asked.clear()
        idle = queue_tick(instance, store, queue, first.cursor)
        assert idle.run_requests == [] and asked == []  # nothing new: no run query

        put_event(queue, "uploads/s/a.csv", store.put_upload("s/a.csv", BODY), "01")
        held = queue_tick(instance, store, queue, idle.cursor)
        assert held.run_requests == [] and len(asked) == 1  # new: asked once, s is queued
