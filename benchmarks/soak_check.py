"""The soak's checker: after a quiet period, what Druid and Dagster hold is compared with the
history of what was uploaded. Every expectation comes from the history (the generated files),
the rows from SQL written here, never from the pipeline's own checks."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from ingest_pipeline.console.status import latest_verdicts
from ingest_pipeline.partitions import UPLOADS, upload_partitions
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.verdict import FileVerdict, Outcome

UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


@dataclass(frozen=True)
class Expected:
    """A key's latest version as uploaded: its ETag, what must become of it, and its rows."""

    etag: str  # "" for a deleted file
    outcome: Outcome  # INGESTED, REJECTED, SKIPPED, or RETRACTED (deleted under retract)
    rows: int = 0
    points: int = 0  # SUM(points) over its rows
    uploaded_at: float = 0.0  # wall clock


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)  # one per violation, same order
    undecided: set[str] = field(default_factory=set)  # keys with no verdict of their latest
    explanations: list[str] = field(default_factory=list)  # soak_explain's, for the undecided

    def add(self, kind: str, text: str) -> None:
        self.kinds.append(kind)
        self.violations.append(text)

    def by_kind(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for kind, text in zip(self.kinds, self.violations, strict=True):
            grouped.setdefault(kind, []).append(text)
        return grouped

    slowest_seconds: float = 0.0
    rows_checked: int = 0


def is_for(verdict: FileVerdict, want: Expected) -> bool:
    """Whether a recorded verdict is the one about the expected version (a retraction's is
    about the key: its object is gone)."""
    if want.outcome is Outcome.RETRACTED:
        return verdict.outcome is Outcome.RETRACTED
    return verdict.etag == want.etag


def never_seen(instance: dg.DagsterInstance, key: str) -> bool:
    """A file deleted before the sensor saw it has no partition: nothing to retract, no verdict."""
    return not instance.has_dynamic_partition(UPLOADS, key)


def wait_until_quiet(
    instance_of: object, expected: Mapping[str, Expected], timeout: float
) -> dict[str, float]:
    """Until every key's latest version has a verdict for that ETag (or `timeout`): the
    verdicts' wall-clock times by key."""
    deadline = time.monotonic() + timeout
    while True:
        instance = instance_of()  # type: ignore[operator]
        recorded = latest_verdicts(instance, sorted(expected))
        done = {
            key: found.timestamp
            for key, found in recorded.items()
            if is_for(found.verdict, expected[key])
        }
        done.update(
            (key, 0.0)
            for key, want in expected.items()
            if want.outcome is Outcome.RETRACTED and key not in done and never_seen(instance, key)
        )
        if len(done) == len(expected) or time.monotonic() > deadline:
            return done
        time.sleep(5.0)


def check(
    instance: dg.DagsterInstance,
    druid: DruidResource,
    prefix: str,
    expected: Mapping[str, Expected],
    decided_at: Mapping[str, float],
) -> Report:
    report = Report()
    for key in sorted(set(expected) - set(decided_at)):
        report.undecided.add(key)
        report.add("no verdict (still behind)", f"{key}: no verdict for its latest version")
    recorded = latest_verdicts(instance, sorted(expected))
    for key, want in expected.items():
        found = recorded.get(key)
        if found is not None and is_for(found.verdict, want):
            if found.verdict.outcome is not want.outcome:
                report.add(
                    "wrong verdict",
                    f"{key}: {found.verdict.outcome.value}, expected {want.outcome.value} "
                    f"({found.verdict.message()})",
                )
            if want.outcome is Outcome.INGESTED:
                report.slowest_seconds = max(
                    report.slowest_seconds, found.timestamp - want.uploaded_at
                )
    check_rows(druid, prefix, expected, report)
    check_runs_settled(instance, report)
    check_partition_statuses(instance, expected, report)
    return report


def check_rows(
    druid: DruidResource, prefix: str, expected: Mapping[str, Expected], report: Report
) -> None:
    """Rows and SUM(points) per file, by __source_key: exactly the latest version's."""
    datasets = sorted({key.split("/")[0] for key in expected})
    held: dict[str, tuple[int, int]] = {}
    for dataset in datasets:
        if not druid.broker_sees(dataset):
            continue
        for row in druid.sql(
            f'SELECT "__source_key" AS k, COUNT(*) AS n, SUM(points) AS p FROM "{dataset}" '
            "GROUP BY 1"
        ):
            held[row["k"].removeprefix(prefix)] = (int(row["n"]), int(row["p"] or 0))
    for key, want in expected.items():
        rows = held.get(key, (0, 0))
        report.rows_checked += rows[0]
        wanted = (want.rows, want.points) if want.outcome is Outcome.INGESTED else (0, 0)
        if rows != wanted:
            kind = "rows of an undecided key" if key in report.undecided else "WRONG ROWS"
            report.add(kind, f"{key}: Druid holds (rows, sum) {rows}, expected {wanted}")
    for key in sorted(set(held) - set(expected)):
        report.add("WRONG ROWS", f"{key}: rows in Druid for a key never uploaded")


def check_runs_settled(
    instance: dg.DagsterInstance, report: Report, grace_seconds: float = 300.0
) -> None:
    """No run left unfinished. A run records its files' verdicts before its own end, so the
    last ones get `grace_seconds` (beyond run monitoring's 180 s start timeout) to finish."""
    deadline = time.monotonic() + grace_seconds
    while True:
        unfinished = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED))
        if not unfinished or time.monotonic() > deadline:
            break
        time.sleep(5.0)
    for run in unfinished:
        report.add(f"run still {run.status.value}", f"run {run.run_id} still {run.status.value}")


def check_partition_statuses(
    instance: dg.DagsterInstance, expected: Mapping[str, Expected], report: Report
) -> None:
    """An ingested file's druid_datasource partition is materialized and not failed; a rejected
    one's validated_frame partition is failed (red), as the UI shows them."""
    done, failed = {}, {}
    for asset in ("validated_frame", "druid_datasource"):
        value = get_and_update_asset_status_cache_value(
            instance, dg.AssetKey(asset), upload_partitions
        )
        if value is None:
            done[asset], failed[asset] = set(), set()
            continue
        done[asset] = set(
            value.deserialize_materialized_partition_subsets(upload_partitions).get_partition_keys()
        )
        failed[asset] = set(
            value.deserialize_failed_partition_subsets(upload_partitions).get_partition_keys()
        )
    for key, want in expected.items():
        if want.outcome is Outcome.INGESTED and (
            key not in done["druid_datasource"] or key in failed["druid_datasource"]
        ):
            report.add(
                "colour of an undecided key" if key in report.undecided else "wrong colour",
                f"{key}: ingested but its druid_datasource is not green",
            )
        if want.outcome is Outcome.REJECTED and key not in failed["validated_frame"]:
            report.add(
                "colour of an undecided key" if key in report.undecided else "wrong colour",
                f"{key}: rejected but its validated_frame is not red",
            )
