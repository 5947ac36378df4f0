"""How long does an upload_sensor tick take over 10,000 objects, against the bare S3 listing?

Uploads N small objects (default 10,000) under a unique prefix of the running local stack's
uploads bucket (endpoint and keys from `ingest_pipeline.stack.settings.load_settings()`, i.e.
$INGEST_STACK_DIR), then times, in the same run and against the same prefix:

  baseline   the bare list_objects_v2 pagination (what any tick must at least do)
  tick 1     the first tick over N new objects: at the sensor's MAX_REQUESTS_PER_TICK, and
             with no limit (plans and requests all N)
  tick 2     a tick with nothing new (cursor holding all N)
  sensor CPU decode cursor + plan_tick + encode cursor over the listed objects, without S3
  drain      every tick, at the default limit, until a tick requests nothing

Each figure is the median of --repeat interleaved rounds (a "first tick" starts from no cursor
and a fresh ephemeral Dagster instance). The objects are deleted at the end unless --keep.
The stack is the one every command uses ($INGEST_STACK_DIR, else the checkout's .stack).

    python benchmarks/bench_sensor_tick.py
    python benchmarks/bench_sensor_tick.py --objects 2000 --repeat 1   # a quick look
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import dagster as dg
from botocore.config import Config
from common import running_stack

from ingest_pipeline import sensors
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.event_queue import EventQueue
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings, SensorSettings
from ingest_pipeline.stack.settings import UPLOADS_BUCKET


def make_client(settings: Any, pool: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        region_name=settings.s3_region,
        config=Config(
            s3={"addressing_style": "path"},
            max_pool_connections=pool,
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


def upload(client: Any, prefix: str, count: int, threads: int) -> float:
    def put(n: int) -> None:
        body = f"time,dataset,value\n2024-01-01T00:00:00Z,d{n % 10},{n}\n".encode()
        client.put_object(Bucket=UPLOADS_BUCKET, Key=f"{prefix}ds{n % 10}/f{n:06d}.csv", Body=body)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(put, range(count)))
    return time.perf_counter() - started


def delete_prefix(client: Any, prefix: str) -> None:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=UPLOADS_BUCKET, Prefix=prefix):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=UPLOADS_BUCKET, Delete={"Objects": keys, "Quiet": True})


def bare_listing(client: Any, prefix: str) -> int:
    count = 0
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=UPLOADS_BUCKET, Prefix=prefix):
        count += len(page.get("Contents", []))
    return count


def tick(storage: S3Storage, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    """One tick as the daemon runs it: evaluate, then apply the dynamic partition requests."""
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "s3": storage,
            "sensor_settings": SensorSettings(),
            "events": EventQueue(),
            "pipeline_settings": PipelineSettings(),
        },
    )
    context.log.setLevel(logging.WARNING)  # the summary line per tick would flood the table
    result = sensors.upload_sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def sensor_cpu(
    objects: list[ObjectInfo], cursor: str, partition_key_of: Any, limit: int
) -> tuple[float, str]:
    """The sensor's own work without S3 or Dagster: decode the cursor, plan, encode it."""
    started = time.perf_counter()
    seen = sensors.decode_cursor(cursor)
    plan = sensors.plan_tick(objects, seen, partition_key_of, limit)
    sensors.encode_cursor(plan.next_seen)
    return time.perf_counter() - started, f"{len(objects):,} objects, {len(plan.runs)} runs"


Times = dict[str, list[float]]


def one_round(storage: S3Storage, prefix: str, objects: int, times: Times, notes: dict) -> str:
    """One interleaved round of every measurement; the cursor holding all the objects."""
    limit = sensors.MAX_REQUESTS_PER_TICK
    started = time.perf_counter()
    listed = bare_listing(storage.client(), prefix)
    times["baseline"].append(time.perf_counter() - started)
    notes["baseline"] = f"{listed:,} keys"

    started = time.perf_counter()
    result = tick(storage, dg.DagsterInstance.ephemeral(), None)
    times["first"].append(time.perf_counter() - started)
    notes["first"] = f"{len(result.run_requests):,} runs"

    instance = dg.DagsterInstance.ephemeral()
    sensors.MAX_REQUESTS_PER_TICK = objects
    try:
        started = time.perf_counter()
        result = tick(storage, instance, None)
        times["all_new"].append(time.perf_counter() - started)
    finally:
        sensors.MAX_REQUESTS_PER_TICK = limit
    notes["all_new"] = f"{len(result.run_requests):,} runs"
    full_cursor = result.cursor or ""

    started = time.perf_counter()
    result = tick(storage, instance, full_cursor)
    times["idle"].append(time.perf_counter() - started)
    assert not result.run_requests
    notes["idle"] = f"{len(result.run_requests)} runs"

    seconds, notes["plan"] = sensor_cpu(
        list(storage.list_uploads()), full_cursor, storage.partition_key, limit
    )
    times["plan"].append(seconds)
    return full_cursor


def drain(storage: S3Storage) -> tuple[int, int, float]:
    """Ticks at the default limit from no cursor until one requests nothing: ticks, runs, s."""
    instance = dg.DagsterInstance.ephemeral()
    cursor, ticks, runs = None, 0, 0
    started = time.perf_counter()
    while True:
        result = tick(storage, instance, cursor)
        ticks, runs, cursor = ticks + 1, runs + len(result.run_requests), result.cursor
        if not result.run_requests:
            return ticks, runs, time.perf_counter() - started


def print_table(rows: list[tuple[str, list[float], str]]) -> None:
    baseline = statistics.median(rows[0][1])
    print()
    print(f"{'measurement':<38} {'median s':>9} {'min s':>8} {'x baseline':>11}  result")
    print("-" * 80)
    for name, values, note in rows:
        median = statistics.median(values)
        print(f"{name:<38} {median:>9.3f} {min(values):>8.3f} {median / baseline:>10.2f}x  {note}")
    print("-" * 80)


def measure(storage: S3Storage, prefix: str, args: argparse.Namespace) -> None:
    listed = bare_listing(storage.client(), prefix)  # warm-up; also checks the upload
    assert listed == args.objects, (listed, args.objects)
    # Interleaved rounds: drift in the machine's load hits every measurement alike.
    times: Times = {name: [] for name in ("baseline", "first", "all_new", "idle", "plan")}
    notes: dict[str, str] = {}
    for _ in range(args.repeat):
        full_cursor = one_round(storage, prefix, args.objects, times, notes)
    ticks, runs, drained = drain(storage)
    limit, pages = sensors.MAX_REQUESTS_PER_TICK, -(-args.objects // 1000)
    print_table(
        [
            (f"baseline: list_objects_v2, {pages} pages", times["baseline"], notes["baseline"]),
            (f"tick 1: {args.objects:,} new, limit {limit}", times["first"], notes["first"]),
            (f"tick 1: {args.objects:,} new, no limit", times["all_new"], notes["all_new"]),
            ("tick 2: nothing new", times["idle"], notes["idle"]),
            ("  of which sensor CPU (no S3), idle", times["plan"], notes["plan"]),
            (f"drain at limit {limit}: {ticks} ticks", [drained], f"{runs:,} runs"),
        ]
    )
    print(
        f"repeats: {args.repeat} (drain: 1); cursor with {args.objects:,} keys: "
        f"{len(full_cursor):,} bytes (zlib+base64)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="do not delete the objects")
    args = parser.parse_args()

    settings = running_stack()
    prefix = f"bench-sensor-{uuid.uuid4().hex[:12]}/"
    client = make_client(settings, args.threads)
    storage = S3Storage(
        endpoint_url=settings.s3_endpoint,
        access_key_id=settings.s3_access_key,
        secret_access_key=settings.s3_secret_key,
        region=settings.s3_region,
        uploads_bucket=UPLOADS_BUCKET,
        uploads_prefix=prefix,
    )
    print(f"S3 {settings.s3_endpoint}  bucket {UPLOADS_BUCKET}  prefix {prefix}")
    try:
        seconds = upload(client, prefix, args.objects, args.threads)
        print(
            f"uploaded {args.objects:,} objects with {args.threads} threads in {seconds:.1f}s "
            f"({args.objects / seconds:,.0f}/s)"
        )
        measure(storage, prefix, args)
    finally:
        if not args.keep:
            delete_prefix(client, prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
