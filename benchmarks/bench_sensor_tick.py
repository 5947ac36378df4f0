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

    INGEST_STACK_DIR=/tmp/st1 python benchmarks/bench_sensor_tick.py
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

from ingest_pipeline import sensors
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, load_settings


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
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"s3": storage})
    context.log.setLevel(logging.WARNING)  # the summary line per tick would flood the table
    result = sensors.upload_sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="do not delete the objects")
    args = parser.parse_args()

    settings = load_settings()
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
    limit = sensors.MAX_REQUESTS_PER_TICK
    print(f"S3 {settings.s3_endpoint}  bucket {UPLOADS_BUCKET}  prefix {prefix}")
    try:
        seconds = upload(client, prefix, args.objects, args.threads)
        print(
            f"uploaded {args.objects:,} objects with {args.threads} threads in {seconds:.1f}s "
            f"({args.objects / seconds:,.0f}/s)"
        )
        listed = bare_listing(storage.client(), prefix)  # warm-up; also checks the upload
        assert listed == args.objects, (listed, args.objects)

        # Interleaved rounds: drift in the machine's load hits every measurement alike.
        names = ["baseline", "first", "all_new", "idle", "plan"]
        times: dict[str, list[float]] = {name: [] for name in names}
        notes: dict[str, str] = {}
        full_cursor = ""
        for _ in range(args.repeat):
            started = time.perf_counter()
            listed = bare_listing(storage.client(), prefix)
            times["baseline"].append(time.perf_counter() - started)
            notes["baseline"] = f"{listed:,} keys"

            instance = dg.DagsterInstance.ephemeral()
            started = time.perf_counter()
            result = tick(storage, instance, None)
            times["first"].append(time.perf_counter() - started)
            notes["first"] = f"{len(result.run_requests):,} runs"

            instance = dg.DagsterInstance.ephemeral()
            sensors.MAX_REQUESTS_PER_TICK = args.objects
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

            # The sensor's own work without S3: decode cursor, plan, encode cursor.
            objects = list(storage.list_uploads())
            started = time.perf_counter()
            seen = sensors.decode_cursor(full_cursor)
            plan = sensors.plan_tick(objects, seen, storage.partition_key, limit)
            sensors.encode_cursor(plan.next_seen)
            times["plan"].append(time.perf_counter() - started)
            notes["plan"] = f"{len(objects):,} objects, {len(plan.requests)} runs"

        def drain(inst: dg.DagsterInstance) -> tuple[int, int]:
            cursor, ticks, runs = None, 0, 0
            while True:
                res = tick(storage, inst, cursor)
                ticks, runs, cursor = ticks + 1, runs + len(res.run_requests), res.cursor
                if not res.run_requests:
                    return ticks, runs

        started = time.perf_counter()
        ticks, runs = drain(dg.DagsterInstance.ephemeral())
        drained = [time.perf_counter() - started]

        pages = -(-args.objects // 1000)
        rows: list[tuple[str, list[float], str]] = [
            (f"baseline: list_objects_v2, {pages} pages", times["baseline"], notes["baseline"]),
            (f"tick 1: {args.objects:,} new, limit {limit}", times["first"], notes["first"]),
            (f"tick 1: {args.objects:,} new, no limit", times["all_new"], notes["all_new"]),
            ("tick 2: nothing new", times["idle"], notes["idle"]),
            ("  of which sensor CPU (no S3), idle", times["plan"], notes["plan"]),
            (f"drain at limit {limit}: {ticks} ticks", drained, f"{runs:,} runs"),
        ]
        cursor_bytes = len(full_cursor)

        baseline = statistics.median(times["baseline"])
        print()
        print(f"{'measurement':<38} {'median s':>9} {'min s':>8} {'x baseline':>11}  result")
        print("-" * 80)
        for name, values, note in rows:
            median = statistics.median(values)
            print(
                f"{name:<38} {median:>9.3f} {min(values):>8.3f} {median / baseline:>10.2f}x  {note}"
            )
        print("-" * 80)
        print(
            f"repeats: {args.repeat} (drain: 1); cursor with {args.objects:,} keys: "
            f"{cursor_bytes:,} bytes (zlib+base64)"
        )
    finally:
        if not args.keep:
            delete_prefix(client, prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
