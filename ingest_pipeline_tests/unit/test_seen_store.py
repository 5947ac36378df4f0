"""Queue mode's decided versions in Dagster's key-value store (seen_store.py): a tick's
decisions reach the store with the next tick, so a tick whose cursor was lost is decided again;
a version decided long ago is found in the store; a delete makes the same content new again;
a version 2 cursor's whole map moves to the store in one tick; the cursor stays small."""

from __future__ import annotations

import base64
import json
import zlib

import dagster as dg
import pytest

from ingest_pipeline import event_sensor
from ingest_pipeline.event_sensor import plan_queue_tick
from ingest_pipeline.seen_store import NAMESPACE, SeenStore, decided_etag
from ingest_pipeline.sensor_state import (
    decode_state,
    overlay,
    prefix_range,
    seen_changes,
    split_pending,
)
from ingest_pipeline.tick_plan import BatchCaps
from ingest_pipeline_tests.fakes import InMemoryEventQueue, InMemoryObjectStore
from ingest_pipeline_tests.unit.test_event_deletes import delete_event
from ingest_pipeline_tests.unit.test_event_sensor import BODY, put_event, tick

ONE, TWO = "uploads/a/one.csv", "uploads/a/two.csv"


def run_keys(result: dg.SensorResult) -> list[str | None]:
    return [request.run_key for request in result.run_requests]


def test_new_and_existing_keys_are_written_together_and_forgotten_reads_absent() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        seen = SeenStore.of(instance)
        assert seen.write({"k1": "e1"}) == 1
        # on SQLite one set_cursor_values of an existing and a new key drops the new one
        assert seen.write({"k1": "e2", "k2": "e3", "k3": ""}) == 2
        assert seen.lookup(["k1", "k2", "k3"]) == {"k1": "e2", "k2": "e3"}
        assert seen.write({"k1": "e2", "k2": ""}) == 1  # a value stored already: not again
        assert seen.lookup(["k1", "k2"]) == {"k1": "e2"}
        assert instance.run_storage.get_cursor_values({NAMESPACE + "k2"}) == {NAMESPACE + "k2": ""}
        assert decided_etag(instance, {"k1": ""}, "k1") is None  # forgotten by a pending delete
        assert decided_etag(instance, {}, "k1") == "e2"


def test_changes_are_the_keys_whose_etag_differs_and_deleted_ones_as_empty() -> None:
    before = {"same": "e", "overwritten": "e1", "deleted": "e"}
    after = {"same": "e", "overwritten": "e2", "new": "e"}
    assert seen_changes(before, after) == {"deleted": "", "new": "e", "overwritten": "e2"}


def test_pending_decisions_overlay_the_store_and_are_written_in_key_order() -> None:
    stored = {"a": "e1", "b": "e2"}
    assert overlay(stored, {"a": "", "b": "e3", "c": "e4", "z": "e5"}, ["a", "b", "c"]) == {
        "b": "e3",
        "c": "e4",
    }
    assert split_pending({"c": "3", "a": "1", "b": ""}, 2) == ({"a": "1", "b": ""}, {"c": "3"})


def one_upload_announced() -> tuple[InMemoryObjectStore, InMemoryEventQueue, str]:
    """A store holding a/one.csv and a queue holding its upload event: store, queue, ETag."""
    store, queue = InMemoryObjectStore(), InMemoryEventQueue(reconcile_interval_seconds=0)
    one = store.put_upload("a/one.csv", BODY)
    put_event(queue, ONE, one, "01")
    return store, queue, one


def test_decisions_reach_the_store_with_the_next_tick_and_a_lost_tick_decides_again() -> None:
    store, queue, one = one_upload_announced()
    with dg.DagsterInstance.ephemeral() as instance:
        seen = SeenStore.of(instance)
        first = tick(instance, store, queue, None)
        assert run_keys(first) == [f"a/one.csv@{one}"]
        assert seen.lookup([ONE]) == {} and decode_state(first.cursor).pending == {ONE: one}
        two = store.put_upload("a/two.csv", BODY + b"2024-01-02T00:00:00Z,2\n")
        put_event(queue, TWO, two, "02")
        second = tick(instance, store, queue, first.cursor)
        assert seen.lookup([ONE, TWO]) == {ONE: one}  # first's, not yet second's
        # the daemon died before recording second's runs and cursor: it evaluates again from
        # first's cursor, and two.csv's message comes back after its visibility timeout
        queue.redeliver()
        again = tick(instance, store, queue, first.cursor)
        assert run_keys(again) == run_keys(second) == [f"a/two.csv@{two}"]
        third = tick(instance, store, queue, again.cursor)
        assert run_keys(third) == [] and seen.lookup([ONE, TWO]) == {ONE: one, TWO: two}


def test_a_version_decided_long_ago_requests_nothing_and_its_new_etag_a_run() -> None:
    store, queue, one = one_upload_announced()
    with dg.DagsterInstance.ephemeral() as instance:
        cursor = tick(instance, store, queue, None).cursor
        for _ in range(3):
            cursor = tick(instance, store, queue, cursor).cursor
        assert decode_state(cursor).pending == {}  # in the store only
        put_event(queue, ONE, one, "05")  # the same content uploaded again: a later event
        same = tick(instance, store, queue, cursor)
        assert run_keys(same) == []
        new = store.put_upload("a/one.csv", BODY + b"2024-01-02T00:00:00Z,2\n")
        put_event(queue, ONE, new, "06")
        assert run_keys(tick(instance, store, queue, same.cursor)) == [f"a/one.csv@{new}"]


def test_a_delete_makes_the_same_content_new_again_after_the_next_tick() -> None:
    store, queue, one = one_upload_announced()
    with dg.DagsterInstance.ephemeral() as instance:
        seen = SeenStore.of(instance)
        cursor = tick(instance, store, queue, None).cursor
        cursor = tick(instance, store, queue, cursor).cursor
        assert seen.lookup([ONE]) == {ONE: one}
        store.delete(store.uploads_bucket, ONE)
        delete_event(queue, ONE, "02")
        deleted = tick(instance, store, queue, cursor)
        assert decode_state(deleted.cursor).pending == {ONE: ""}
        assert seen.lookup([ONE]) == {ONE: one}  # until the next tick
        put_event(queue, ONE, store.put_upload("a/one.csv", BODY), "03")
        again = tick(instance, store, queue, deleted.cursor)
        assert run_keys(again) == [f"a/one.csv@{one}"]


def version_2_cursor(seen: dict[str, str]) -> str:
    data = {"v": 2, "seen": seen, "acks": [], "seq": {}, "rec": [None, False, None, 0]}
    return base64.b64encode(zlib.compress(json.dumps(data, sort_keys=True).encode())).decode()


def test_a_version_2_cursor_s_map_moves_to_the_store_in_one_tick() -> None:
    old = {f"uploads/d{n % 10}/f{n:06d}.csv": f"{n:032x}" for n in range(20_000)}
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    with dg.DagsterInstance.ephemeral() as instance:
        store = InMemoryObjectStore()
        cursor = version_2_cursor(old)
        assert len(cursor) > 100_000
        upgraded = plan_queue_tick(cursor, instance, store, queue, BatchCaps())
        assert len(upgraded.cursor) < 200 and decode_state(upgraded.cursor).pending == {}
        assert SeenStore.of(instance).lookup(old) == old
        put_event(queue, "uploads/d7/f000007.csv", old["uploads/d7/f000007.csv"], "01")
        assert plan_queue_tick(upgraded.cursor, instance, store, queue, BatchCaps()).plan.runs == ()


def test_a_large_upgrade_is_written_over_several_ticks_and_read_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(event_sensor, "FLUSH_KEYS_PER_TICK", 1000)
    old = {f"uploads/d{n % 10}/f{n:06d}.csv": f"{n:032x}" for n in range(2500)}
    last = max(old)  # written last: key order
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    with dg.DagsterInstance.ephemeral() as instance:
        store, seen = InMemoryObjectStore(), SeenStore.of(instance)
        first = plan_queue_tick(version_2_cursor(old), instance, store, queue, BatchCaps())
        assert len(seen.lookup(old)) == 1000 and len(decode_state(first.cursor).pending) == 1500
        put_event(queue, last, old[last], "01")  # decided, still pending: nothing to request
        second = plan_queue_tick(first.cursor, instance, store, queue, BatchCaps())
        assert second.plan.runs == () and len(seen.lookup(old)) == 2000
        third = plan_queue_tick(second.cursor, instance, store, queue, BatchCaps())
        assert decode_state(third.cursor).pending == {} and seen.lookup(old) == old


def test_the_cursor_stays_small_over_20000_keys_decided_in_many_ticks() -> None:
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    keys = {f"uploads/d{n % 10}/f{n:06d}.csv": f"{n:032x}" for n in range(20_000)}
    with dg.DagsterInstance.ephemeral() as instance:
        store = InMemoryObjectStore()
        cursor, sizes, requested = None, [], 0
        for n, (key, etag) in enumerate(keys.items()):
            put_event(queue, key, etag, f"{n + 1:016X}")
        while True:
            done = plan_queue_tick(cursor, instance, store, queue, BatchCaps())
            cursor, requested = done.cursor, requested + len(done.plan.versions)
            sizes.append(len(cursor))
            if not done.plan.versions:
                break
        assert requested == 20_000 and len(sizes) == 41
        assert max(sizes) < 64 * 1024, max(sizes)
        assert SeenStore.of(instance).lookup(keys) == keys


def test_a_range_read_returns_the_decided_keys_under_the_prefix_in_byte_order() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        seen = SeenStore.of(instance)
        seen.write(
            {
                "uploads/a/1.csv": "e1",
                "uploads/a/2.csv": "e2",
                "uploads/a/3.csv": "",  # forgotten: not decided
                "uploads/a/Z.csv": "e4",  # upper case sorts before lower case in bytes
                "uploads/a/é.csv": "e5",  # beyond ASCII: after every ASCII key
                "uploads0": "x",  # beyond the prefix
                "other/a/1.csv": "x",  # before it
            }
        )
        instance.run_storage.set_cursor_values({"dagster.cursor": "x"})  # not the namespace
        everything = seen.decided_in(prefix_range("uploads/", None, None), 100)
        assert list(everything) == [
            "uploads/a/1.csv",
            "uploads/a/2.csv",
            "uploads/a/Z.csv",
            "uploads/a/é.csv",
        ]
        # a page's range: after its start (excluded) through its last key (included)
        page = seen.decided_in(prefix_range("uploads/", "uploads/a/1.csv", "uploads/a/Z.csv"), 9)
        assert page == {"uploads/a/2.csv": "e2", "uploads/a/Z.csv": "e4"}
        assert list(seen.decided_in(prefix_range("uploads/", None, None), 2)) == [
            "uploads/a/1.csv",
            "uploads/a/2.csv",
        ]  # the first `limit` decided keys, forgotten ones not counted
