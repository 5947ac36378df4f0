"""How long is a queue-mode upload_sensor tick with 1,000,000 versions decided, against 1,000?

No stack: an ephemeral Dagster instance (SQLite in memory; its key-value store holds the
decided versions, seen_store.py), the tests' in-memory queue and object store. For each N the
store is loaded with N decided versions (a bulk insert into Dagster's `kvs` table: setup, not
measured) and the object store holds 1,000 of them. Each measured tick (event_sensor.
plan_queue_tick, a reconciliation page due) decodes the cursor, writes the previous tick's
pending decisions, receives 500 events (250 new keys, 250 decided versions announced again),
lists one page of the 1,000 decided objects, looks up those 1,500 keys, plans, encodes the
cursor. For comparison, the cursor of VERSION 2 (the whole key -> ETag map in it): encoding and
decoding N keys, which every tick did before. Both as this process's CPU seconds (all of the
work is in-process, SQLite included, so a loaded machine changes them less) and wall seconds.

    python benchmarks/bench_queue_tick.py
    python benchmarks/bench_queue_tick.py --sizes 1000 --repeat 3   # a quick look
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import logging
import statistics
import sys
import time
import zlib

import common  # noqa: F401  (puts the checkout on sys.path, for the tests' fakes)
import dagster as dg
from dagster._core.storage.runs.schema import KeyValueStoreTable

from ingest_pipeline.event_sensor import plan_queue_tick
from ingest_pipeline.seen_store import NAMESPACE
from ingest_pipeline.sensor_state import Reconciliation, decode_state, encode_state
from ingest_pipeline.tick_plan import BatchCaps
from ingest_pipeline_tests.fakes import InMemoryEventQueue, InMemoryObjectStore

BODY = b"ts,x\n2024-01-01T00:00:00Z,1\n"
PAGE = 1000
EVENTS = 500
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


def measure_tick(count: int, repeat: int) -> tuple[list[float], list[float], int]:
    """CPU and wall seconds of each measured tick with `count` versions decided, and the last
    cursor's length."""
    queue = InMemoryEventQueue(reconcile_interval_seconds=300)
    store = InMemoryObjectStore()
    listed = set(range(0, count, max(1, count // PAGE))[:PAGE])
    for n in listed:
        store.put_bytes(store.uploads_bucket, key_of(n), BODY)
    cpu: list[float] = []
    wall: list[float] = []
    with dg.DagsterInstance.ephemeral() as instance:
        load_decided(instance, count)
        instance.run_storage.set_cursor_values({NAMESPACE + key_of(n): BODY_ETAG for n in listed})
        cursor = plan_queue_tick(None, instance, store, queue, BatchCaps()).cursor
        for round_ in range(repeat):
            for i in range(EVENTS // 2):
                new = count + round_ * EVENTS + i
                queue.send(event(key_of(new), etag_of(new), f"{new:016X}"))
                old = (i * 7919) % count  # decided: announced again, nothing to do
                etag = BODY_ETAG if old in listed else etag_of(old)
                queue.send(event(key_of(old), etag, f"{count * 10 + new:016X}"))
            cursor = page_due(cursor)
            started, started_cpu = time.perf_counter(), time.process_time()
            tick = plan_queue_tick(cursor, instance, store, queue, BatchCaps())
            cpu.append(time.process_time() - started_cpu)
            wall.append(time.perf_counter() - started)
            assert len(tick.plan.versions) == EVENTS // 2, len(tick.plan.versions)
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
    args = parser.parse_args()
    logging.getLogger("dagster").setLevel(logging.WARNING)
    print(f"{'decided':>10} {'tick CPU s':>11} {'wall s':>7} {'cursor':>7}  VERSION 2 cursor")
    for count in args.sizes:
        cpu, wall, cursor = measure_tick(count, args.repeat)
        old, old_length = old_cursor_seconds(count)
        print(
            f"{count:>10,} {statistics.median(cpu):>11.3f} {statistics.median(wall):>7.3f} "
            f"{cursor:>7,}  {old_length:,} chars, {old:.2f} CPU s to encode + decode"
        )
    print(
        f"medians of {args.repeat} ticks per size ({EVENTS} events, a page of {PAGE} keys each); "
        "ephemeral in-memory SQLite instance"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
