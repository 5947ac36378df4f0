"""How long is a queue-mode upload_sensor tick with 1,000,000 versions decided, against 1,000?

An ephemeral Dagster instance (SQLite in memory; its key-value store holds the decided
versions, seen_store.py), or with `--postgres` an instance on a new database of the running
stack's Postgres (run, event-log and key-value storage there, as the daemon's), and the tests'
in-memory queue and object store. For each N the store is loaded with N decided versions (a
bulk insert into Dagster's `kvs` table: setup, not measured). The bucket's first 1,000 keys in
key order are its reconciliation page (more follow: the page is truncated, as a page of a
bucket of N objects is). Each measured tick (event_sensor.plan_queue_tick, a reconciliation
page due) decodes the cursor, writes the previous tick's pending decisions, receives the events
(half new keys, half decided versions announced again), lists the page, reads the decided
versions of the page's key range (one range query: it finds deletes whose event was lost) and
of the events' keys, plans, encodes the cursor. For comparison, the cursor of VERSION 2 (the
whole key -> ETag map in it): encoding and decoding N keys, which every tick did before. As
this process's CPU seconds (with SQLite all the work is in-process, so a loaded machine changes
them less) and wall seconds (with Postgres the database's share is in wall only).

    python benchmarks/bench_queue_tick.py
    python benchmarks/bench_queue_tick.py --postgres --events 10   # the stack's Postgres
    python benchmarks/bench_queue_tick.py --sizes 1000 --repeat 3   # a quick look
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import json
import logging
import statistics
import sys
import time
import uuid
import zlib
from collections.abc import Iterator

import common
import dagster as dg
import psycopg2
from dagster._core.storage.runs.schema import KeyValueStoreTable

from ingest_pipeline.event_sensor import plan_queue_tick
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.seen_store import NAMESPACE
from ingest_pipeline.sensor_state import Reconciliation, decode_state, encode_state
from ingest_pipeline.tick_plan import BatchCaps
from ingest_pipeline_tests.fakes import InMemoryEventQueue, InMemoryObjectStore

BODY = b"ts,x\n2024-01-01T00:00:00Z,1\n"
PAGE = 1000


class FirstPageOfABigBucket(InMemoryObjectStore):
    """Holds the bucket's first page only; says more keys follow it when the bucket is bigger."""

    more_follow: bool = False

    def list_uploads_page(
        self, start_after: str | None, max_keys: int
    ) -> tuple[list[ObjectInfo], bool]:
        objects, truncated = super().list_uploads_page(start_after, max_keys)
        return objects, truncated or self.more_follow


BODY_ETAG = InMemoryObjectStore().put_upload("x/y.csv", BODY)  # every listed object's


def key_of(n: int) -> str:
    return f"uploads/d{n % 10}/f{n:07d}.csv"


def etag_of(n: int) -> str:
    return f"{n:032x}"


def load_decided(instance: dg.DagsterInstance, count: int) -> None:
    """N decided versions straight into the kvs table (Dagster's set_cursor_values takes
    minutes for a million rows; this is setup, not what is measured)."""
    storage = instance.run_storage
    for start in range(0, count, 100_000):
        rows = [
            {"key": NAMESPACE + key_of(n), "value": etag_of(n)}
            for n in range(start, min(count, start + 100_000))
        ]
        with storage.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(KeyValueStoreTable.insert(), rows)


def event(key: str, etag: str, sequencer: str) -> str:
    obj = {"key": key, "eTag": etag, "size": len(BODY), "sequencer": sequencer}
    record = {
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-12-05T18:00:00.000Z",
        "s3": {"bucket": {"name": "ingest-uploads"}, "object": obj},
    }
    return json.dumps({"Records": [record]})


def page_due(cursor: str) -> str:
    """The cursor with a reconciliation page due (every measured tick lists one)."""
    return encode_state(dataclasses.replace(decode_state(cursor), reconciliation=Reconciliation()))


@contextlib.contextmanager
def an_instance(postgres: bool) -> Iterator[dg.DagsterInstance]:
    """An ephemeral in-memory instance, or one on a new database of the stack's Postgres
    (dropped afterwards)."""
    if not postgres:
        with dg.DagsterInstance.ephemeral() as instance:
            yield instance
        return
    stack = common.running_stack()
    database = f"bench_tick_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(stack.postgres_url("postgres"))
    admin.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {database}")
    try:
        storage = {"postgres": {"postgres_url": stack.postgres_url(database)}}
        with dg.DagsterInstance.local_temp(overrides={"storage": storage}) as instance:
            yield instance
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


def measure_tick(
    count: int, repeat: int, events: int, postgres: bool
) -> tuple[list[float], list[float], int]:
    """CPU and wall seconds of each measured tick with `count` versions decided, and the last
    cursor's length."""
    queue = InMemoryEventQueue(reconcile_interval_seconds=300)
    store = FirstPageOfABigBucket(more_follow=count > PAGE)
    listed = set(sorted(range(count), key=key_of)[:PAGE])  # the bucket's first page
    for n in listed:
        store.put_bytes(store.uploads_bucket, key_of(n), BODY)
    cpu: list[float] = []
    wall: list[float] = []
    with an_instance(postgres) as instance:
        load_decided(instance, count)
        instance.run_storage.set_cursor_values({NAMESPACE + key_of(n): BODY_ETAG for n in listed})
        cursor = plan_queue_tick(None, instance, store, queue, BatchCaps()).cursor
        for round_ in range(repeat):
            for i in range(events // 2):
                new = count + round_ * events + i  # uploaded: in the bucket too
                store.put_bytes(store.uploads_bucket, key_of(new), BODY)
                queue.send(event(key_of(new), BODY_ETAG, f"{new:016X}"))
                old = (i * 7919) % count  # decided: announced again, nothing to do
                etag = BODY_ETAG if old in listed else etag_of(old)
                queue.send(event(key_of(old), etag, f"{count * 10 + new:016X}"))
            cursor = page_due(cursor)
            started, started_cpu = time.perf_counter(), time.process_time()
            tick = plan_queue_tick(cursor, instance, store, queue, BatchCaps())
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
            assert len(tick.plan.versions) == events // 2, len(tick.plan.versions)
            assert tick.deletes == ()  # every decided key of the page's range is listed
            cursor = tick.cursor
    return cpu, wall, len(cursor)


def old_cursor_seconds(count: int) -> tuple[float, int]:
    """CPU seconds to encode and decode a VERSION 2 cursor of `count` keys (json + zlib +
    base64), and its length."""
    seen = {key_of(n): etag_of(n) for n in range(count)}
    started = time.process_time()
    data = {"v": 2, "seen": seen, "acks": [], "seq": {}, "rec": [None, False, None, 0]}
    text = base64.b64encode(zlib.compress(json.dumps(data, sort_keys=True).encode())).decode()
    decoded = json.loads(zlib.decompress(base64.b64decode(text)))
    assert len(decoded["seen"]) == count
    return time.process_time() - started, len(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--events", type=int, default=500, help="events a tick receives")
    parser.add_argument(
        "--postgres", action="store_true", help="the running stack's Postgres, not SQLite"
    )
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.WARNING)
    print(f"{'decided':>10} {'tick CPU s':>11} {'wall s':>7} {'cursor':>7}  VERSION 2 cursor")
    for count in args.sizes:
        cpu, wall, cursor = measure_tick(count, args.repeat, args.events, args.postgres)
        old, old_length = old_cursor_seconds(count)
        print(
            f"{count:>10,} {statistics.median(cpu):>11.3f} {statistics.median(wall):>7.3f} "
            f"{cursor:>7,}  {old_length:,} chars, {old:.2f} CPU s to encode + decode"
        )
    print(
        f"medians of {args.repeat} ticks per size ({args.events} events, a page of {PAGE} keys "
        "each); "
        + ("a new database on the stack's Postgres" if args.postgres else "in-memory SQLite")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
