"""A soak under chaos: a steady, seeded stream of uploads while stack and Dagster processes are
killed or paused at random, then exact accounting.

Against the running local stack (`ingest-pipeline stack up`), with a Dagster daemon and
webserver of its own (own Postgres database and uploads prefix, like the tests'):
  workload  new files, overwrites, header-only (rejected) and zero-byte (skipped) objects over 5
            datasets, seeded; sizes from 1 KB to --max-kb; deletes of ingested or rejected files
            once decided (2 datasets under `on_delete: retract`, 3 under keep); every action in
            a JSON-lines history. --events: the sensor reads the stack's S3 events queue (the
            queue and the s3-events relay join the chaos)
  chaos     every 30-90 s (seeded) SIGKILL or SIGSTOP/SIGCONT of one of: dagster daemon,
            webserver, code server, Postgres, S3 store, ZooKeeper, coordinator-overlord, broker,
            historical, middleManager, a running peon, router; then `stack up` and the daemon
            restarted, as an operator would; the next fault only after recovery
  checker   after a quiet period: each key's rows and SUM in Druid (SQL) equal its latest
            version's, rejected, skipped and retracted keys have none and their verdict (a
            retracted key the sensor never saw needs none), no run unfinished,
            every partition's colour matches its verdict
Prints a table (actions, faults by component, files, rows, violations, slowest upload ->
verdict) and exits 1 on any violation.

    python benchmarks/soak.py --minutes 60 --seed 1          # the hour (benchmarks/results/)
    (CI's 5-minute version: scripts/test.sh, run by .ci/run)
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path

import boto3
from common import running_stack  # first: puts the checkout (and its test helpers) on sys.path
from soak_chaos import Chaos, Fault, chaos_loop
from soak_check import Expected, Report, check, is_for, wait_until_quiet
from soak_explain import explain

from ingest_pipeline.console.status import latest_verdicts
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, StackSettings
from ingest_pipeline.stack.stack import Stack
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests.integration.automation import Automation

DATASETS = 5
#: The first datasets retract deleted files' rows; the others keep them.
RETRACTING = 2
#: Shares of the actions: a new good file, an overwrite of one, header only, zero bytes, and
#: a delete of a file whose latest version has its verdict (a person deletes a file the
#: pipeline decided; a delete before that has no one right answer under keep: the 10-minute
#: soak of 84c7f89 deleted files whose run had not started and expected their rows).
MIX = (
    ("new", 0.54),
    ("overwrite", 0.23),
    ("header_only", 0.1),
    ("zero_bytes", 0.05),
    ("delete", 0.08),
)


def good_csv(rng: random.Random, max_kb: int, version: int) -> tuple[bytes, int, int]:
    """A CSV of 1 KB to `max_kb` KB (log-uniform), its rows and SUM(points)."""
    target = int(1024 * max(1, max_kb) ** rng.random())
    day = rng.randrange(1, 29)
    lines, size, total, i = ["ts,team,points,comment"], 0, 0, 0
    while size < target:
        points = rng.randrange(0, 10_000) + version
        clock = f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        line = f"2024-05-{day:02d}T{clock}Z,t{i % 5},{points},v{version}"
        lines.append(line)
        size += len(line) + 1
        total += points
        i += 1
    return ("\n".join(lines) + "\n").encode(), i, total


class Workload:
    """Seeded uploads; `expected` is each key's latest version."""

    def __init__(
        self,
        s3: object,
        prefix: str,
        rng: random.Random,
        max_kb: int,
        tag: str,
        decided: Callable[[Mapping[str, Expected]], set[str]] = lambda wanted: set(wanted),
    ) -> None:
        self.s3, self.prefix, self.rng, self.max_kb = s3, prefix, rng, max_kb
        self.decided = decided  # which of these keys' latest versions have their verdict
        self.datasets = [f"soak_{tag}_{d}" for d in range(DATASETS)]
        self.expected: dict[str, Expected] = {}
        self.good: list[str] = []
        self.deletable: list[str] = []  # ingested or rejected keys still in the bucket
        self.actions: collections.Counter[str] = collections.Counter()
        self.count = 0  # act() calls so far (uploads and deletes): numbers new keys and bodies

    @property
    def uploads(self) -> int:
        """PUTs so far (new files, overwrites, header-only and zero-byte objects)."""
        return sum(self.actions.values()) - self.deletes

    @property
    def deletes(self) -> int:
        return self.actions["delete_retract"] + self.actions["delete_keep"]

    def act(self, history: list[dict]) -> None:
        kind = self.rng.choices([k for k, _ in MIX], [w for _, w in MIX])[0]
        if kind == "overwrite" and not self.good:
            kind = "new"
        if kind == "delete":
            decided = sorted(self.decided({k: self.expected[k] for k in self.deletable}))
            if decided:
                self.count += 1
                self.delete(self.rng.choice(decided), history)
                return
            kind = "new"
        self.count += 1
        if kind == "overwrite":
            key = self.rng.choice(self.good)
        else:
            key = f"{self.rng.choice(self.datasets)}/{kind}_{self.count:05d}.csv"
        body, outcome, rows, points = self.body(kind)
        etag = self.put(key, body)
        self.expected[key] = Expected(etag, outcome, rows, points, time.time())
        if outcome is Outcome.INGESTED and key not in self.good:
            self.good.append(key)
        if outcome in (Outcome.INGESTED, Outcome.REJECTED) and key not in self.deletable:
            self.deletable.append(key)
        if outcome is not Outcome.INGESTED and key in self.good:
            self.good.remove(key)
        if outcome is Outcome.SKIPPED and key in self.deletable:
            self.deletable.remove(key)
        self.actions[kind] += 1
        history.append({"at": time.time(), "action": kind, "key": key, "etag": etag, "rows": rows})

    def delete(self, key: str, history: list[dict]) -> None:
        """Delete a file: under retract its rows must go (a `retracted` verdict), under keep
        they stay (its expectation is unchanged)."""
        for _ in range(120):
            try:
                self.s3.delete_object(Bucket=UPLOADS_BUCKET, Key=self.prefix + key)  # type: ignore[attr-defined]
                break
            except Exception:  # noqa: BLE001 - the store is being restarted
                time.sleep(1.0)
        else:
            raise SystemExit(f"S3 refused to delete {key} for 2 minutes")
        self.deletable.remove(key)
        if key in self.good:
            self.good.remove(key)
        retracts = key.split("/")[0] in self.datasets[:RETRACTING]
        if retracts:
            self.expected[key] = Expected("", Outcome.RETRACTED, 0, 0, time.time())
        kind = "delete_retract" if retracts else "delete_keep"
        self.actions[kind] += 1
        history.append({"at": time.time(), "action": kind, "key": key})

    def body(self, kind: str) -> tuple[bytes, Outcome, int, int]:
        if kind == "header_only":
            return b"ts,team,points,comment\n", Outcome.REJECTED, 0, 0
        if kind == "zero_bytes":
            return b"", Outcome.SKIPPED, 0, 0
        body, rows, points = good_csv(self.rng, self.max_kb, self.count)
        return body, Outcome.INGESTED, rows, points

    def put(self, key: str, body: bytes) -> str:
        """Upload, retried while the S3 store is down (a fault): an operator's client would."""
        for _ in range(120):
            try:
                response = self.s3.put_object(  # type: ignore[attr-defined]
                    Bucket=UPLOADS_BUCKET, Key=self.prefix + key, Body=body
                )
                return response["ETag"].strip('"')
            except Exception:  # noqa: BLE001 - the store is being restarted
                time.sleep(1.0)
        raise SystemExit(f"S3 refused {key} for 2 minutes")


def decided_by(auto: Automation) -> Callable[[Mapping[str, Expected]], set[str]]:
    def decided(wanted: Mapping[str, Expected]) -> set[str]:
        try:
            recorded = latest_verdicts(auto.instance(), sorted(wanted))
        except Exception:  # noqa: BLE001 - Postgres is being restarted: delete another time
            return set()
        return {key for key, found in recorded.items() if is_for(found.verdict, wanted[key])}

    return decided


def start_automation(stack: StackSettings, home: Path, tag: str, events: bool) -> Automation:
    auto = Automation.on_a_new_database(stack, home)
    auto.configure_datasets(
        {f"soak_{tag}_{d}": {"on_delete": "retract"} for d in range(RETRACTING)}
    )
    if events:
        auto.use_events_queue()
    auto.start_daemon()
    auto.start_webserver()
    return auto


def print_report(
    workload: Workload,
    faults: list[Fault],
    report: Report,
    minutes: float,
    caught_up: float,
    out=sys.stdout,
) -> None:
    injected = injected_faults(faults)
    by_component = collections.Counter(f"{f.component} ({f.how})" for f in injected)
    outcomes = collections.Counter(e.outcome.value for e in workload.expected.values())
    print(
        f"soak: {minutes:.1f} min, {workload.count} actions: {workload.uploads} uploads, "
        f"{workload.deletes} deletes",
        file=out,
    )
    print(f"  actions      {dict(workload.actions)}", file=out)
    print(
        f"  files        {len(workload.expected)} keys, latest versions {dict(outcomes)}", file=out
    )
    print(
        f"  faults       {len(injected)} over {len({f.component for f in injected})} components",
        file=out,
    )
    for name, count in sorted(by_component.items()):
        print(f"    {name:<34}{count}", file=out)
    recovery = max((f.recovered_seconds for f in injected), default=0.0)
    print(f"  recovery     slowest {recovery:.0f}s", file=out)
    print(f"  rows         {report.rows_checked:,} checked in Druid", file=out)
    print(f"  slowest      upload -> verdict {report.slowest_seconds:.0f}s", file=out)
    state = "every version decided" if not report.undecided else "still behind"
    print(f"  quiet period {caught_up:.0f}s after the last upload and fault: {state}", file=out)
    print(f"  violations   {len(report.violations)}", file=out)
    for kind, texts in sorted(report.by_kind().items()):
        print(f"    {kind:<34}{len(texts)}", file=out)
        for text in texts[:20]:  # a backlog's thousands would bury a wrong row
            print(f"      {text}", file=out)
    if report.explanations:
        print("  undecided keys, times in seconds since the soak began:", file=out)
    for line in report.explanations:
        print(f"    {line}", file=out)


def explain_undecided(
    auto: Automation,
    report: Report,
    history: list[dict],
    faults: list[Fault],
    since: float,
    most: int = 10,
) -> list[str]:
    """soak_explain's account of the first `most` keys left without their verdict, after the
    faults' times."""
    if not report.undecided:
        return []
    lines = [
        f"fault    +{f.at:6.1f}s {f.component} ({f.how}), back in {f.recovered_seconds:.0f}s"
        for f in injected_faults(faults)
    ]
    for key in sorted(report.undecided)[:most]:
        uploads = [
            (entry["at"], entry["action"], entry.get("etag", ""))
            for entry in history
            if entry.get("key") == key
        ]
        lines += explain(auto.instance(), key, auto.prefix, uploads, since)
    return lines


def injected_faults(faults: list[Fault]) -> list[Fault]:
    """The faults that hit a running process (one whose target was not running is none)."""
    return [f for f in faults if f.pid is not None]


def shortfalls(uploads: int, faults: int, min_uploads: int, min_faults: int) -> list[str]:
    """What the run fell short of: a soak that uploaded or injected too little proves too
    little, so CI fails it like a violation (a chaos loop that stopped injecting would
    otherwise pass quietly)."""
    short = []
    if uploads < min_uploads:
        short.append(f"only {uploads} uploads, at least {min_uploads} wanted: raise --rate")
    if faults < min_faults:
        short.append(f"only {faults} faults, at least {min_faults} wanted: see --fault-gap")
    return short


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument(
        "--rate", type=float, default=20, help="actions (uploads and deletes) per minute"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-kb", type=int, default=2048, help="largest file (KB)")
    parser.add_argument("--fault-gap", default="30,90", help="seconds between faults: lo,hi")
    # The quiet period lasts until every version has its verdict: on 2 cores the pipeline falls
    # behind under chaos (an overwrite is a run and a Druid task of its own) and catches up
    # after; the report says how long that took, and a key still undecided is a violation.
    parser.add_argument("--quiet-timeout", type=float, default=3600)
    parser.add_argument("--history", type=Path, default=None, help="JSON lines of every action")
    parser.add_argument(
        "--events", action="store_true", help="the sensor reads the S3 events queue"
    )
    parser.add_argument(
        "--min-uploads", type=int, default=0, help="fewer PUTs (deletes not counted) fail the run"
    )
    parser.add_argument("--min-faults", type=int, default=0, help="fewer fails the run")
    args = parser.parse_args()
    stack_settings = running_stack()
    stack = Stack(stack_settings)
    rng = random.Random(args.seed)
    gap = tuple(float(x) for x in args.fault_gap.split(","))
    s3 = boto3.client(
        "s3",
        endpoint_url=stack_settings.s3_endpoint,
        aws_access_key_id=stack_settings.s3_access_key,
        aws_secret_access_key=stack_settings.s3_secret_key,
        region_name=stack_settings.s3_region,
    )
    druid = DruidResource(router_url=stack_settings.druid_url("router"))
    history: list[dict] = []
    faults: list[Fault] = []
    tag = f"{args.seed}_{int(time.time()) % 100000}"
    with tempfile.TemporaryDirectory(prefix="soak-") as home:
        auto = start_automation(stack_settings, Path(home), tag, args.events)
        try:
            workload = Workload(
                s3, auto.prefix, random.Random(args.seed + 1), args.max_kb, tag, decided_by(auto)
            )
            started, started_wall = time.monotonic(), time.time()
            until = started + args.minutes * 60
            chaos = Chaos(stack, auto, random.Random(args.seed + 2), args.events)
            unrecovered: list[BaseException] = []

            def chaos_thread() -> None:
                try:
                    chaos_loop(chaos, rng, started, until, gap, faults.append)
                except BaseException as error:  # a fault the stack did not recover from
                    unrecovered.append(error)
                    raise

            thread = threading.Thread(target=chaos_thread, daemon=True)
            thread.start()
            while time.monotonic() < until and not unrecovered:
                workload.act(history)
                time.sleep(workload.rng.expovariate(args.rate / 60))
            thread.join()
            if unrecovered:
                raise SystemExit(f"soak stopped: a fault was not recovered: {unrecovered[0]}")
            chaos.recover()  # the last fault's component is back before the quiet period
            quiet_from = time.monotonic()
            decided = wait_until_quiet(auto.instance, workload.expected, args.quiet_timeout)
            caught_up = time.monotonic() - quiet_from
            report = check(auto.instance(), druid, auto.prefix, workload.expected, decided)
            report.explanations = explain_undecided(auto, report, history, faults, started_wall)
        finally:
            auto.stop()
            kept = Path(tempfile.gettempdir()) / f"soak-daemon-{int(time.time())}.log"
            shutil.copy(Path(home) / "daemon.log", kept)  # the runs' story, for a violation
            print(f"daemon log: {kept}")
    if args.history:
        with args.history.open("w") as out:
            for entry in history:
                out.write(json.dumps(entry) + "\n")
            for fault in faults:
                out.write(json.dumps({"fault": asdict(fault)}) + "\n")
    print_report(workload, faults, report, args.minutes, caught_up)
    injected = len(injected_faults(faults))
    short = shortfalls(workload.uploads, injected, args.min_uploads, args.min_faults)
    for line in short:
        print(f"  SHORT        {line}")
    sys.exit(1 if report.violations or short else 0)


if __name__ == "__main__":
    main()
