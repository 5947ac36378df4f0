"""`ingest-pipeline status`: per dataset, what Dagster saw and what Druid holds.

From Dagster's instance (the `uploads` dynamic partitions, the newest run of each, check
evaluations of failed runs) and Druid's SQL only: no storage of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from rich.table import Table
from rich.text import Text

from ingest_pipeline.console.runs import (
    DATASET_TAG,
    JOB_NAME,
    PARTITIONS_NAME,
    RANGE_END_TAG,
    RANGE_START_TAG,
    run_facts,
)
from ingest_pipeline.console.verdicts import (
    FAILED,
    INGESTED,
    PENDING,
    REJECTED,
    SKIPPED,
    STYLE,
    RunFacts,
    run_url,
    verdict_from_run,
)
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources.druid import DruidError, DruidResource

FINISHED_BAD = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@dataclass
class FileState:
    partition: str
    outcome: str
    run_id: str | None = None
    finished_at: float | None = None
    detail: str = ""
    url: str | None = None


@dataclass
class DatasetStatus:
    dataset: str
    files: list[FileState] = field(default_factory=list)
    druid: dict[str, Any] | None = None  # DruidResource.datasource_summary
    druid_error: str | None = None  # Druid could not be asked

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    def failures(self, limit: int) -> list[FileState]:
        bad = [f for f in self.files if f.outcome in (REJECTED, FAILED)]
        return sorted(bad, key=lambda f: f.finished_at or 0.0, reverse=True)[:limit]


def dataset_of(partition: str) -> str:
    return partition.partition("/")[0]


@dataclass(frozen=True)
class LatestRun:
    """A partition's newest run: alone, or a batch over a partition range."""

    run_id: str
    status: dg.DagsterRunStatus
    start_time: float | None
    end_time: float | None
    batch: bool


def collect_status(
    instance: dg.DagsterInstance,
    druid: DruidResource | None,
    dataset: str | None = None,
    ui_base: str | None = None,
) -> list[DatasetStatus]:
    partitions = [
        p
        for p in instance.get_dynamic_partitions(upload_partitions.name)
        if dataset is None or dataset_of(p) == dataset
    ]
    latest = latest_runs(instance, partitions)
    skipped = skip_reasons(instance, [p for p in partitions if p not in latest])
    statuses: dict[str, DatasetStatus] = {}
    if dataset is not None:
        statuses[dataset] = DatasetStatus(dataset)
    events: dict[str, RunFacts] = {}
    for partition in sorted(partitions):
        status = statuses.setdefault(dataset_of(partition), DatasetStatus(dataset_of(partition)))
        if partition in skipped:
            status.files.append(FileState(partition, SKIPPED, detail=skipped[partition]))
            continue
        status.files.append(file_state(instance, partition, latest.get(partition), ui_base, events))
    if druid is not None:
        for status in statuses.values():
            try:
                status.druid = druid.datasource_summary(status.dataset)
            except DruidError as error:
                status.druid_error = str(error)
    return [statuses[name] for name in sorted(statuses)]


def latest_runs(instance: dg.DagsterInstance, partitions: Sequence[str]) -> dict[str, LatestRun]:
    """Each partition's newest run, among runs of it alone and batch runs covering it."""
    latest: dict[str, LatestRun] = {
        data.partition: LatestRun(
            data.run_id, data.status, data.start_time, data.end_time, batch=False
        )
        for data in instance.get_run_partition_data(dg.RunsFilter(job_name=JOB_NAME))
    }
    datasets = sorted({dataset_of(p) for p in partitions})
    if not datasets:
        return latest
    keys = list(instance.get_dynamic_partitions(PARTITIONS_NAME))
    order = {key: i for i, key in enumerate(keys)}
    wanted = set(partitions)
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=JOB_NAME, tags={DATASET_TAG: datasets})
    )
    for record in records:
        tags = record.dagster_run.tags
        start, end = (
            order.get(tags.get(RANGE_START_TAG, "")),
            order.get(tags.get(RANGE_END_TAG, "")),
        )
        if start is None or end is None:
            continue
        run = LatestRun(
            record.dagster_run.run_id,
            record.dagster_run.status,
            record.start_time,
            record.end_time,
            batch=True,
        )
        # The partitions the batch covered, from its range: each run costs its own size, not
        # the number of files listed.
        for partition in keys[start : end + 1]:
            if partition not in wanted:
                continue
            known = latest.get(partition)
            if known is None or (run.start_time or float("inf")) > (known.start_time or 0.0):
                latest[partition] = run
    return latest


def skip_reasons(instance: dg.DagsterInstance, partitions: Sequence[str]) -> dict[str, str]:
    """The sensor's skipped verdict (an observation on raw_file) of partitions without runs."""
    reasons = {}
    for partition in partitions:
        records = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("raw_file"), asset_partitions=[partition]),
            limit=1,
        ).records
        observation = records[0].asset_observation if records else None
        if observation is not None and "verdict" in observation.metadata:
            reason = observation.metadata.get("reason")
            reasons[partition] = f"skipped by the sensor: {reason.value if reason else '?'}"
    return reasons


def file_state(
    instance: dg.DagsterInstance,
    partition: str,
    run: LatestRun | None,
    ui_base: str | None,
    facts_cache: dict[str, RunFacts],
) -> FileState:
    """The newest run of a partition decides: success, rejected/failed (and why), or pending.
    A batch run's success is each file's own verdict (a file in it may have been rejected)."""
    if run is None:
        return FileState(partition, PENDING, detail="no run yet (the sensor requests one)")
    url = run_url(ui_base, run.run_id)
    finished_at = run.end_time or run.start_time
    if run.status == dg.DagsterRunStatus.SUCCESS and not run.batch:
        return FileState(partition, INGESTED, run.run_id, finished_at, url=url)
    if run.status == dg.DagsterRunStatus.SUCCESS or run.status in FINISHED_BAD:
        facts = facts_cache.get(f"{run.run_id} {partition}")
        if facts is None:
            dagster_run = instance.get_run_by_id(run.run_id)
            facts = (
                run_facts(instance, dagster_run, partition)
                if dagster_run is not None
                else RunFacts(run.run_id, run.status.value)
            )
            facts_cache[f"{run.run_id} {partition}"] = facts
        verdict = verdict_from_run(partition, facts, ui_base)
        return FileState(partition, verdict.outcome, run.run_id, finished_at, verdict.detail, url)
    return FileState(partition, PENDING, run.run_id, None, f"run {run.status.value.lower()}", url)


def time_range(summary: dict[str, Any] | None) -> str:
    if not summary or not summary.get("rows"):
        return ""
    return f"{short_time(summary['t0'])} .. {short_time(summary['t1'])}"


def short_time(timestamp: str) -> str:
    """Druid's '2024-07-01T00:00:00.000Z' without the zero milliseconds."""
    return timestamp.replace(".000Z", "Z")


def in_druid(status: DatasetStatus) -> Text:
    if status.druid_error:
        return Text("Druid unreachable", style="red")
    return Text("not in Druid")


def status_table(statuses: Sequence[DatasetStatus]) -> Table:
    table = Table(title="datasets", title_justify="left")
    for name, justify in (
        ("dataset", "left"),
        ("seen", "right"),  # files seen: the dataset's upload partitions
        ("ingested", "right"),
        ("rejected", "right"),
        ("failed", "right"),
        ("skipped", "right"),
        ("pending", "right"),
        ("rows in Druid", "right"),
        ("time range in Druid", "left"),
        ("segments", "right"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    for status in statuses:
        druid = status.druid
        table.add_row(
            Text(status.dataset),
            str(len(status.files)),
            Text(str(status.count(INGESTED)), style=STYLE[INGESTED]),
            Text(
                str(status.count(REJECTED)), style=STYLE[REJECTED] if status.count(REJECTED) else ""
            ),
            Text(str(status.count(FAILED)), style=STYLE[FAILED] if status.count(FAILED) else ""),
            str(status.count(SKIPPED)),
            str(status.count(PENDING)),
            f"{druid['rows']:,}" if druid else in_druid(status),
            time_range(druid),
            str(druid["segments"]) if druid else "0",
        )
    return table


def failure_links(statuses: Sequence[DatasetStatus], limit: int) -> list[tuple[str, str | None]]:
    return [(f.partition, f.url) for s in statuses for f in s.failures(limit)]


def failures_table(statuses: Sequence[DatasetStatus], limit: int) -> Table | None:
    rows = [(s.dataset, f) for s in statuses for f in s.failures(limit)]
    if not rows:
        return None
    table = Table(title=f"last failures (newest {limit} per dataset)", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("verdict")
    table.add_column("when (UTC)")
    table.add_column("reason", overflow="fold", ratio=3)
    table.add_column("run", no_wrap=True)
    for _, state in rows:
        when = (
            datetime.fromtimestamp(state.finished_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
            if state.finished_at
            else ""
        )
        table.add_row(
            Text(state.partition),
            Text(state.outcome, style=STYLE[state.outcome]),
            when,
            Text(state.detail),
            (state.run_id or "")[:8],
        )
    return table
