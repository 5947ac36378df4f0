"""One file, upload -> queryable with its exact row count, and where the time goes.

Against the running local stack, with a Dagster daemon of its own (own database and uploads
prefix, default settings otherwise), for each trigger mode in the same invocation:

  events    the sensor reads the stack's S3 events queue (INGEST_EVENTS_QUEUE_URL; ticks 1 s)
  listing   the sensor lists the bucket (the default without a queue; ticks 15 s)

it uploads one file (default 1 MB, a day of its own) at a time and, polling every 0.2 s, stamps
when each milestone is first seen: the run created (the sensor's tick), the run started (the
run queue and the run worker's launch), the Druid task created (after raw_file, validated_frame,
druid_spec and the submit), the task RUNNING (a worker took it), SUCCESS (ingested, published),
the segment in the coordinator's metadata view (its metadata poll), the segment served by a
historical (the coordinator's assignment and the load), and the broker answering the exact
count (its view). Prints each sample's phases, the median per phase, and the median total with
the ratio listing / events.

    python benchmarks/bench_latency.py                      # 10 samples per mode
    python benchmarks/bench_latency.py --samples 3 --modes events
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from common import running_stack  # first: puts the checkout (and its test helpers) on sys.path

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.settings import REPO_ROOT, UPLOADS_BUCKET, StackSettings
from ingest_pipeline_tests.integration.automation import Automation

POLL_SECONDS = 0.2
MILESTONES = (
    "uploaded",
    "run created",
    "run started",
    "task created",
    "task running",
    "task succeeded",
    "segment in metadata",
    "segment served",
    "queryable",
)
PHASES = (
    ("sensor", "uploaded", "run created"),
    ("run launch", "run created", "run started"),
    ("steps + submit", "run started", "task created"),
    ("task to a worker", "task created", "task running"),
    ("task runs", "task running", "task succeeded"),
    ("metadata poll", "task succeeded", "segment in metadata"),
    ("assign + load", "segment in metadata", "segment served"),
    ("broker view", "segment served", "queryable"),
)


@dataclass
class Sample:
    key: str
    rows: int
    seen: dict[str, float] = field(default_factory=dict)

    def stamp(self, milestone: str, at: float | None = None) -> None:
        self.seen.setdefault(milestone, time.time() if at is None else at)

    def phase(self, start: str, end: str) -> float:
        if start not in self.seen or end not in self.seen:
            return float("nan")
        return self.seen[end] - self.seen[start]

    @property
    def total(self) -> float:
        return self.phase("uploaded", "queryable")


def file_body(day: int, target_bytes: int) -> tuple[bytes, int]:
    """A CSV of about `target_bytes`: a time column over one day of its own, a few dimensions."""
    lines = ["ts,store,product,units,price"]
    size, i = 0, 0
    while size < target_bytes:
        line = (
            f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}T{(i // 3600) % 24:02d}:"
            f"{(i // 60) % 60:02d}:{i % 60:02d}Z,s{i % 17},p{i % 101},{i % 9},{(i % 997) / 4:.2f}"
        )
        lines.append(line)
        size += len(line) + 1
        i += 1
    return ("\n".join(lines) + "\n").encode(), i


class Watcher:
    """Reads the state of one sample's milestones from Dagster and Druid (SQL written here)."""

    def __init__(self, auto: Automation, druid: DruidResource, dataset: str) -> None:
        self.instance = auto.instance()
        self.druid = druid
        self.dataset = dataset
        self.router = druid.router_url.rstrip("/")

    def segment_counts(self) -> tuple[int, int]:
        """(used segments in the coordinator's metadata view, segments served by historicals)"""
        base = f"{self.router}/druid/coordinator/v1"
        used = self.druid.request(
            "GET", f"{base}/metadata/datasources/{self.dataset}/segments", ok_status=(200, 204, 404)
        )
        served = self.druid.request(
            "GET", f"{base}/datasources/{self.dataset}/segments", ok_status=(200, 204, 404)
        )
        return (
            len(used.json()) if used.status_code == 200 else 0,
            len(served.json()) if served.status_code == 200 else 0,
        )

    def newest_task(self, since: float) -> dict | None:
        url = f"{self.router}/druid/indexer/v1/tasks"
        tasks = self.druid.request("GET", url, params={"datasource": self.dataset}).json()
        fresh = [
            t
            for t in tasks
            if t.get("type") == "index_parallel" and _epoch(t["createdTime"]) >= since - 1
        ]
        return max(fresh, key=lambda t: t["createdTime"]) if fresh else None

    def source_rows(self, key: str) -> int:
        if not self.druid.broker_sees(self.dataset):  # SQL on an unknown table is a 400
            return 0
        found = self.druid.sql(
            f'SELECT COUNT(*) AS n FROM "{self.dataset}" WHERE "__source_key" = ?', [key]
        )
        return int(found[0]["n"]) if found else 0

    def observe(self, sample: Sample, segments_before: tuple[int, int]) -> None:
        since = sample.seen["uploaded"]
        records = [
            r
            for r in self.instance.get_run_records(limit=5)
            if r.create_timestamp.timestamp() >= since - 1
        ]
        if records:
            record = min(records, key=lambda r: r.create_timestamp.timestamp())
            sample.stamp("run created", record.create_timestamp.timestamp())
            if record.start_time:
                sample.stamp("run started", record.start_time)
        task = self.newest_task(since)
        if task:
            sample.stamp("task created", _epoch(task["createdTime"]))
            if task.get("statusCode") == "RUNNING" and task.get("location", {}).get("host"):
                sample.stamp("task running")
            if task.get("statusCode") == "SUCCESS":
                sample.stamp("task running")
                sample.stamp("task succeeded")
        used, served = self.segment_counts()
        if "task succeeded" in sample.seen and used > segments_before[0]:
            sample.stamp("segment in metadata")
        if "segment in metadata" in sample.seen and served > segments_before[1]:
            sample.stamp("segment served")
        if "segment served" in sample.seen and self.source_rows(sample.key) == sample.rows:
            sample.stamp("queryable")


def _epoch(druid_time: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(druid_time.replace("Z", "+00:00")).timestamp()


def start_automation(stack: StackSettings, home: Path, mode: str) -> Automation:
    auto = Automation.on_a_new_database(stack, home)
    if mode == "events":
        auto.use_events_queue()
    auto.start_daemon()
    return auto


def run_mode(
    stack: StackSettings, mode: str, samples: int, size: int, timeout: float
) -> list[Sample]:
    druid = DruidResource(router_url=stack.druid_url("router"))
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        aws_access_key_id=stack.s3_access_key,
        aws_secret_access_key=stack.s3_secret_key,
        region_name=stack.s3_region,
    )
    done: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as home:
        auto = start_automation(stack, Path(home), mode)
        try:
            dataset = f"latency_{mode}_{uuid.uuid4().hex[:6]}"
            watcher = Watcher(auto, druid, dataset)
            time.sleep(8)  # the daemon's sensor has ticked once: samples meet a live sensor
            for index in range(samples):
                body, rows = file_body(index, size)
                key = f"{auto.prefix}{dataset}/sample{index:02d}.csv"
                sample = Sample(key, rows)
                before = watcher.segment_counts()
                s3.put_object(Bucket=UPLOADS_BUCKET, Key=key, Body=body)
                sample.stamp("uploaded")
                deadline = time.monotonic() + timeout
                while "queryable" not in sample.seen:
                    if time.monotonic() > deadline:
                        raise SystemExit(
                            f"[{mode}] {key} not queryable in {timeout:.0f}s: "
                            f"seen {sorted(sample.seen, key=sample.seen.get)}"
                        )
                    watcher.observe(sample, before)
                    time.sleep(POLL_SECONDS)
                print(f"[{mode}] sample {index}: {format_phases(sample)}", file=sys.stderr)
                done.append(sample)
                time.sleep(2)  # the run finishes its checks before the next upload
        finally:
            auto.stop()
    return done


def format_phases(sample: Sample) -> str:
    parts = [f"{name} {sample.phase(a, b):.1f}" for name, a, b in PHASES]
    return f"total {sample.total:.1f}s = " + ", ".join(parts)


def print_report(results: dict[str, list[Sample]], size: int) -> None:
    print(
        f"upload -> queryable (exact count), one {size / 1e6:.1f} MB file at a time; "
        "median seconds per phase"
    )
    modes = list(results)
    print(f"{'phase':22}" + "".join(f"{m:>10}" for m in modes))
    for name, a, b in PHASES:
        cells = [statistics.median(s.phase(a, b) for s in results[m]) for m in modes]
        print(f"{name:22}" + "".join(f"{c:10.2f}" for c in cells))
    totals = {m: statistics.median(s.total for s in results[m]) for m in modes}
    print(f"{'TOTAL (median)':22}" + "".join(f"{totals[m]:10.2f}" for m in modes))
    for m in modes:
        samples = ", ".join(f"{s.total:.1f}" for s in results[m])
        print(f"{m} samples s: {samples}")
    if "events" in totals and "listing" in totals:
        print(f"listing / events median: {totals['listing'] / totals['events']:.2f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--size-mb", type=float, default=1.0)
    parser.add_argument("--modes", default="events,listing", help="comma-separated")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    stack = running_stack()
    os.environ.setdefault("PYTHONPATH", str(REPO_ROOT))
    size = int(args.size_mb * 1_000_000)
    results = {
        mode.strip(): run_mode(stack, mode.strip(), args.samples, size, args.timeout)
        for mode in args.modes.split(",")
    }
    print_report(results, size)


if __name__ == "__main__":
    main()
