"""A burst of uploads through the real sensor and daemon: batched runs against one run per file.

Against the running local stack (the one every command uses: $INGEST_STACK_DIR, else the
checkout's .stack), for each mode in the same invocation:

  batched   the sensor's default caps (INGEST_BATCH_MAX_FILES=200): one run per dataset and tick
  cap 1     INGEST_BATCH_MAX_FILES=1: one run and one Druid task per file (the old behaviour)
  events    batched, the sensor on the stack's S3 events queue (ticks 1 s, no listing): a tick
            gathers messages until the queue is quiet for 0.3 s, so the burst should still be
            one run per dataset

it starts a Dagster daemon on a database and uploads prefix of its own, uploads N files (default
200, over 3 datasets, ~50 KB each) as fast as S3 takes them, and waits until every file's rows
are queryable in Druid with its exact count. Then single files, alone, one after the other: the
median of their upload -> queryable latencies (the sensor ticks every 15 s, so one sample varies
by up to a tick with the moment of upload). Prints wall time, files/s, runs, Druid tasks, and the
ratios.

    python benchmarks/bench_burst.py --files 200
    python benchmarks/bench_burst.py --files 6 --modes batched --single-files 1   # a quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import boto3
import dagster as dg
from common import running_stack  # first: puts the checkout (and its test helpers) on sys.path

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.settings import REPO_ROOT, StackSettings
from ingest_pipeline_tests.integration.automation import Automation

DATASETS = 3


@dataclass(frozen=True)
class Figures:
    mode: str
    files: int
    seconds: float
    runs: int
    druid_tasks: int
    single_file_samples: tuple[float, ...]

    @property
    def single_file_seconds(self) -> float:
        return statistics.median(self.single_file_samples)


def file_body(index: int, target_bytes: int = 50_000) -> bytes:
    lines = ["ts,team,points,comment"]
    size, i = 0, 0
    while size < target_bytes:
        line = (
            f"2024-06-{1 + index % 28:02d}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z,"
            f"t{i % 7},{i + index},note {i % 13}"
        )
        lines.append(line)
        size += len(line) + 1
        i += 1
    return ("\n".join(lines) + "\n").encode()


def start_automation(stack: StackSettings, home: Path, mode: str) -> Automation:
    auto = Automation.on_a_new_database(stack, home)
    auto.env["INGEST_BATCH_MAX_FILES"] = "1" if mode == "cap 1" else "200"
    if mode == "events":
        auto.use_events_only()
    auto.start_daemon()
    return auto


def wait_queryable(
    druid: DruidResource, prefix: str, expected: dict[str, dict[str, int]], timeout: float
) -> None:
    """Until every dataset holds each file's exact row count (one GROUP BY per dataset)."""
    deadline = time.monotonic() + timeout
    pending = dict(expected)
    while pending:
        for dataset in list(pending):
            if not druid.broker_sees(dataset):
                continue
            rows = druid.rows_by_source(dataset, [prefix + k for k in pending[dataset]])
            if all(
                rows.get(prefix + k) and rows[prefix + k].count == n
                for k, n in pending[dataset].items()
            ):
                del pending[dataset]
        if time.monotonic() > deadline:
            raise SystemExit(f"not queryable within {timeout:.0f}s: {sorted(pending)}")
        time.sleep(1.0)


def druid_tasks(druid: DruidResource, datasets: list[str]) -> int:
    url = f"{druid.router_url}/druid/indexer/v1/tasks"
    return sum(
        1
        for dataset in datasets
        for task in druid.request("GET", url, params={"datasource": dataset}).json()
        if task.get("type") == "index_parallel"
    )


def run_mode(
    stack: StackSettings, mode: str, files: int, timeout: float, single_files: int
) -> Figures:
    druid = DruidResource(router_url=stack.druid_url("router"))
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.s3_endpoint,
        aws_access_key_id=stack.s3_access_key,
        aws_secret_access_key=stack.s3_secret_key,
        region_name=stack.s3_region,
    )
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as home:
        auto = start_automation(stack, Path(home), mode)
        try:
            tag = uuid.uuid4().hex[:6]
            datasets = [f"burst_{mode.replace(' ', '')}_{tag}_{d}" for d in range(DATASETS)]
            uploads = {f"{datasets[i % DATASETS]}/f{i:04d}.csv": file_body(i) for i in range(files)}
            expected: dict[str, dict[str, int]] = {d: {} for d in datasets}
            for key, body in uploads.items():
                expected[key.split("/")[0]][key] = body.count(b"\n") - 1
            time.sleep(5)  # the daemon's first tick has run: the burst lands on a live sensor
            started = time.monotonic()
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(
                    pool.map(
                        lambda item: s3.put_object(
                            Bucket="ingest-uploads", Key=auto.prefix + item[0], Body=item[1]
                        ),
                        uploads.items(),
                    )
                )
            wait_queryable(druid, auto.prefix, expected, timeout)
            seconds = time.monotonic() - started
            runs = auto.instance().get_runs_count(dg.RunsFilter())
            tasks = druid_tasks(druid, datasets)

            singles = []
            for sample in range(single_files):
                single = f"{datasets[0]}/single{sample}.csv"
                body = file_body(900 + sample)
                started = time.monotonic()
                s3.put_object(Bucket="ingest-uploads", Key=auto.prefix + single, Body=body)
                wait_queryable(
                    druid, auto.prefix, {datasets[0]: {single: body.count(b"\n") - 1}}, timeout
                )
                singles.append(time.monotonic() - started)
            if runs <= 2 * DATASETS + single_files:
                print_timeline(auto.instance(), sys.stderr)
        finally:
            auto.stop()
    return Figures(mode, files, seconds, runs, tasks, tuple(singles))


def print_timeline(instance: dg.DagsterInstance, out: TextIO) -> None:
    """Where a run's time went: queued, started, each step's duration, ended (seconds from the
    first run's creation)."""
    records = sorted(instance.get_run_records(), key=lambda r: r.create_timestamp.timestamp())
    origin = records[0].create_timestamp.timestamp()
    for record in records:
        run = record.dagster_run
        steps = ", ".join(
            f"{step.step_key} {step.end_time - step.start_time:.1f}"
            for step in instance.get_run_step_stats(run.run_id)
            if step.start_time and step.end_time
        )
        print(
            f"run {run.run_id[:8]} {run.status.value}: created "
            f"{record.create_timestamp.timestamp() - origin:.1f}, start "
            f"{(record.start_time or origin) - origin:.1f}, end "
            f"{(record.end_time or origin) - origin:.1f}; {steps}",
            file=out,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--modes", default="batched,cap 1", help="comma-separated")
    parser.add_argument(
        "--single-files", type=int, default=5, help="single uploads after the burst (median)"
    )
    args = parser.parse_args()
    stack = running_stack()
    os.environ.setdefault("PYTHONPATH", str(REPO_ROOT))
    figures = []
    for mode in args.modes.split(","):
        print(f"[{mode}] {args.files} files over {DATASETS} datasets ...", file=sys.stderr)
        figures.append(run_mode(stack, mode.strip(), args.files, args.timeout, args.single_files))
    print(f"{args.files} uploads (~50 KB each, {DATASETS} datasets) -> queryable, exact counts")
    print(f"{'mode':10} {'wall s':>8} {'files/s':>8} {'runs':>5} {'tasks':>6} {'1 file s':>9}")
    for f in figures:
        print(
            f"{f.mode:10} {f.seconds:8.1f} {f.files / f.seconds:8.2f} {f.runs:5d} "
            f"{f.druid_tasks:6d} {f.single_file_seconds:9.1f}"
        )
    for f in figures:
        samples = ", ".join(f"{s:.1f}" for s in f.single_file_samples)
        print(f"{f.mode:10} single-file samples s: {samples}")
    by_mode = {f.mode: f for f in figures}
    if "batched" in by_mode and "cap 1" in by_mode:
        batched, single = by_mode["batched"], by_mode["cap 1"]
        print(
            f"burst speed-up (cap 1 wall / batched wall): {single.seconds / batched.seconds:.2f}x"
        )
        print(
            "single file upload->queryable, batched / cap 1: "
            f"{batched.single_file_seconds / single.single_file_seconds:.2f}"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
