"""upload_sensor in queue mode, tick by tick, on an in-memory queue and store: what it requests
from events, when it deletes messages, how a redelivery and the reconciliation are handled."""

from __future__ import annotations

import json

import dagster as dg
from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

from ingest_pipeline import sensors
from ingest_pipeline.resources.event_queue import EventQueue
from ingest_pipeline.resources.settings import PipelineSettings, SensorSettings
from ingest_pipeline.sensor_state import decode_state
from ingest_pipeline_tests.fakes import InMemoryEventQueue, InMemoryObjectStore

BODY = b"ts,x\n2024-01-01T00:00:00Z,1\n"


def put_event(queue: InMemoryEventQueue, key: str, etag: str, sequencer: str) -> None:
    queue.send(
        json.dumps(
            {
                "Records": [
                    {
                        "eventName": "ObjectCreated:Put",
                        "eventTime": "2026-12-05T18:00:00.000Z",
                        "s3": {
                            "bucket": {"name": "ingest-uploads"},
                            "object": {
                                "key": key.replace(" ", "+"),
                                "eTag": etag,
                                "size": len(BODY),
                                "sequencer": sequencer,
                            },
                        },
                    }
                ]
            }
        )
    )


def tick(
    instance: dg.DagsterInstance,
    store: InMemoryObjectStore,
    queue: InMemoryEventQueue,
    cursor: str | None,
    settings: PipelineSettings | None = None,
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "s3": store,
            "sensor_settings": SensorSettings(),
            "events": queue,
            "pipeline_settings": settings or PipelineSettings(),
        },
    )
    result = sensors.upload_sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests:  # as the daemon applies them
        instance.add_dynamic_partitions("uploads", list(request.partition_keys))
    return result


def test_events_become_one_batch_and_their_messages_are_deleted_by_the_next_tick() -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    etags = [store.put_upload(f"a/{name}.csv", BODY) for name in ("one", "two words")]
    put_event(queue, "uploads/a/one.csv", etags[0], "01")
    put_event(queue, "uploads/a/two words.csv", etags[1], "02")
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, store, queue, None)
        (request,) = first.run_requests
        assert request.tags["ingest/files"] == "2"
        assert queue.in_flight() == 2  # not deleted before the tick's requests are recorded
        state = decode_state(first.cursor)
        assert len(state.acks) == 2 and state.reconciliation.pages == 0
        second = tick(instance, store, queue, first.cursor)
        assert second.run_requests == [] and queue.in_flight() == 0


def test_a_redelivered_message_requests_nothing_new() -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    etag = store.put_upload("a/one.csv", BODY)
    put_event(queue, "uploads/a/one.csv", etag, "01")
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, store, queue, None)
        assert len(first.run_requests) == 1
        queue.redeliver()  # the tick's cursor was stored, but say the delete came too late
        second = tick(instance, store, queue, first.cursor)
        assert second.run_requests == []


def test_an_overwrite_event_runs_the_new_version_alone() -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    put_event(queue, "uploads/a/one.csv", store.put_upload("a/one.csv", BODY), "01")
    with dg.DagsterInstance.ephemeral() as instance:
        cursor = tick(instance, store, queue, None).cursor
        new_etag = store.put_upload("a/one.csv", BODY + b"2024-01-02T00:00:00Z,2\n")
        put_event(queue, "uploads/a/one.csv", new_etag, "02")
        (request,) = tick(instance, store, queue, cursor).run_requests
        assert request.run_key == f"a/one.csv@{new_etag}"


def test_the_reconciliation_finds_a_file_no_event_announced_a_page_a_tick() -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=300)
    store.put_upload("a/quiet.csv", BODY)
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, store, queue, None)  # a fresh cursor: a pass at once
        (request,) = first.run_requests
        assert request.run_key.startswith("a/quiet.csv@")
        rec = decode_state(first.cursor).reconciliation
        assert (rec.running, rec.pages) == (False, 1) and rec.finished_at is not None
        second = tick(instance, store, queue, first.cursor)  # not due again for 300 s
        assert second.run_requests == []
        assert decode_state(second.cursor).reconciliation.pages == 1


def test_a_listing_cursor_carries_over_to_queue_mode() -> None:
    store = InMemoryObjectStore()
    store.put_upload("a/old.csv", BODY)
    with dg.DagsterInstance.ephemeral() as instance:
        listing = tick(instance, store, InMemoryEventQueue(queue_url=None), None)
        assert len(listing.run_requests) == 1
        queue = InMemoryEventQueue(reconcile_interval_seconds=300)
        evented = tick(instance, store, queue, listing.cursor)
        assert evented.run_requests == []  # the pass finds a/old.csv decided


def test_a_tick_s_long_poll_ends_before_the_sensor_daemon_looks_again() -> None:
    # The daemon skips a sensor whose tick still runs at its next look: a poll as long as the
    # look's period left the queue unread for a whole period (uploads waited 3.7-5.5 s).
    # half a second for the tick's own work around the poll
    assert EventQueue().wait_seconds + 0.5 < MIN_INTERVAL_LOOP_TIME
