"""`ingest-pipeline status`: per dataset, what Dagster saw and what Druid holds.

From Dagster's instance and Druid's SQL only, no storage of its own: each file's latest
FileVerdict (the observation its run or the sensor recorded), overruled by Dagster's own
record of the file's latest attempt when that attempt is newer: a run still going (pending),
or a run that ended without a verdict (it crashed: failed, with the run's message).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ingest_pipeline.assets.verdicts import VERDICT_ASSET, read_verdict
from ingest_pipeline.console.runs import retry_state, run_facts
from ingest_pipeline.console.verdicts import (
    FAILED,
    INGESTED,
    PENDING,
    REJECTED,
    RETRACTED,
    SKIPPED,
    STYLE,
    run_links,
    run_url,
    shown,
    verdict_from_run,
)
from ingest_pipeline.partitions import UPLOADS
from ingest_pipeline.records import DatasourceSummary
from ingest_pipeline.resources.druid import DruidError, DruidResource
from ingest_pipeline.verdict import FileVerdict


@dataclass
class FileState:
    partition: str
    outcome: str
    run_id: str | None = None
    finished_at: float | None = None
    detail: str = ""
    url: str | None = None
    schema_drift: tuple[str, ...] = ()  # of the file's latest verdict


@dataclass
class DatasetStatus:
    dataset: str
    files: list[FileState] = field(default_factory=list)
    druid: DatasourceSummary | None = None
    druid_error: str | None = None  # Druid could not be asked

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.files if f.outcome == outcome)

    def failures(self, limit: int) -> list[FileState]:
        bad = [f for f in self.files if f.outcome in (REJECTED, FAILED)]
        return sorted(bad, key=lambda f: f.finished_at or 0.0, reverse=True)[:limit]


def dataset_of(partition: str) -> str:
    return partition.partition("/")[0]


@dataclass(frozen=True)
class RecordedVerdict:
    verdict: FileVerdict
    timestamp: float


def collect_status(
    instance: dg.DagsterInstance,
    druid: DruidResource | None,
    dataset: str | None = None,
    ui_base: str | None = None,
) -> list[DatasetStatus]:
    partitions = [
        p
        for p in instance.get_dynamic_partitions(UPLOADS)
        if dataset is None or dataset_of(p) == dataset
    ]
    states = file_states(instance, partitions, ui_base)
    statuses: dict[str, DatasetStatus] = {}
    if dataset is not None:
        statuses[dataset] = DatasetStatus(dataset)
    for partition in sorted(partitions):
        name = dataset_of(partition)
        statuses.setdefault(name, DatasetStatus(name)).files.append(states[partition])
    if druid is not None:
        for status in statuses.values():
            try:
                status.druid = druid.datasource_summary(status.dataset)
            except DruidError as error:
                status.druid_error = str(error)
    return [statuses[name] for name in sorted(statuses)]


def file_states(
    instance: dg.DagsterInstance, partitions: Sequence[str], ui_base: str | None
) -> dict[str, FileState]:
    """Each file's state: its latest verdict, unless a newer attempt has none (yet)."""
    verdicts = latest_verdicts(instance, partitions)
    attempts = unfinished_attempts(instance, partitions)
    runs = (
        {
            run.run_id: run
            for run in instance.get_runs(
                filters=dg.RunsFilter(run_ids=sorted({run_id for run_id in attempts.values()}))
            )
        }
        if attempts
        else {}
    )
    states = {}
    for partition in partitions:
        recorded = verdicts.get(partition)
        run = runs.get(attempts.get(partition, ""))
        if run is not None and (recorded is None or recorded.verdict.run_id != run.run_id):
            states[partition] = attempt_state(instance, partition, run, ui_base)
        elif recorded is not None:
            row = shown(recorded.verdict, ui_base)
            states[partition] = FileState(
                partition,
                row.outcome,
                row.run_id,
                recorded.timestamp,
                row.detail,
                row.url,
                recorded.verdict.schema_drift,
            )
        else:
            states[partition] = FileState(
                partition, PENDING, detail="no run yet (the sensor requests one)"
            )
    return states


def latest_verdicts(
    instance: dg.DagsterInstance, partitions: Sequence[str]
) -> dict[str, RecordedVerdict]:
    """Each partition's newest verdict: one grouped query for the newest observation ids, one
    for those observations (not a scan of every verdict ever recorded)."""
    if not partitions:
        return {}
    storage = instance.event_log_storage
    newest = storage.get_latest_storage_id_by_partition(
        VERDICT_ASSET, dg.DagsterEventType.ASSET_OBSERVATION, set(partitions)
    )
    found: dict[str, RecordedVerdict] = {}
    ids = sorted(newest.values())
    for start in range(0, len(ids), 1000):
        records = storage.get_event_records(
            dg.EventRecordsFilter(
                event_type=dg.DagsterEventType.ASSET_OBSERVATION,
                storage_ids=ids[start : start + 1000],
            ),
            limit=1000,
        )
        for record in records:
            observation = record.asset_observation
            verdict = read_verdict(observation.metadata) if observation else None
            if verdict is not None:
                found[verdict.partition] = RecordedVerdict(verdict, record.timestamp)
    return found


def unfinished_attempts(
    instance: dg.DagsterInstance, partitions: Sequence[str]
) -> Mapping[str, str]:
    """Partition -> run id of its latest attempt at druid_datasource that has not (yet)
    materialized it: running, queued, or ended without getting this file in."""
    storage = instance.event_log_storage
    attempts = storage.get_latest_asset_partition_materialization_attempts_without_materializations(
        VERDICT_ASSET
    )
    wanted = set(partitions)
    return {partition: run_id for partition, (run_id, _) in attempts.items() if partition in wanted}


def attempt_state(
    instance: dg.DagsterInstance, partition: str, run: dg.DagsterRun, ui_base: str | None
) -> FileState:
    """A file whose latest run has said nothing about it yet, or never will (it crashed)."""
    url = run_url(ui_base, run.run_id)
    if not run.is_finished or retry_state(instance, run) is not None:
        return FileState(
            partition, PENDING, run.run_id, None, f"run {run.status.value.lower()}", url
        )
    verdict = verdict_from_run(partition, run_facts(instance, run, partition), ui_base)
    record = instance.get_run_record_by_id(run.run_id)
    finished_at = record.end_time if record is not None else None
    return FileState(partition, verdict.outcome, run.run_id, finished_at, verdict.detail, url)


def time_range(summary: DatasourceSummary | None) -> str:
    if summary is None or summary.first is None or summary.last is None:
        return ""
    return f"{short_time(summary.first)} .. {short_time(summary.last)}"


def short_time(moment: datetime) -> str:
    """'2024-07-01T00:00:00Z', milliseconds only when there are some."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return text.replace(".000Z", "Z")


def in_druid(status: DatasetStatus) -> Text:
    if status.druid_error:
        return Text("Druid unreachable", style="red")
    return Text("not in Druid")


def status_table(statuses: Sequence[DatasetStatus]) -> Table:
    table = Table(title="datasets", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("dataset", "left"),
        ("seen", "right"),  # files seen: the dataset's upload partitions
        ("ingested", "right"),
        ("rejected", "right"),
        ("failed", "right"),
        ("skipped", "right"),
        ("retracted", "right"),
        ("pending", "right"),
        ("rows in Druid", "right"),
        ("time range in Druid", "left"),
        ("segments", "right"),
    )
    for name, justify in columns:
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
            str(status.count(RETRACTED)),
            str(status.count(PENDING)),
            f"{druid.rows:,}" if druid else in_druid(status),
            time_range(druid),
            str(druid.segments) if druid else "0",
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


def drift_table(statuses: Sequence[DatasetStatus]) -> Table | None:
    """Files whose columns differed from the datasource's when they were ingested, and what
    the dataset's schema contract did (datasets.yaml `columns:` / `types:`)."""
    rows = [f for s in statuses for f in s.files if f.schema_drift]
    if not rows:
        return None
    table = Table(title="schema drift (per file, against the datasource)", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("drift", overflow="fold", ratio=3)
    for state in sorted(rows, key=lambda f: f.finished_at or 0.0, reverse=True):
        table.add_row(Text(state.partition), Text("; ".join(state.schema_drift)))
    return table


def print_status_report(
    console: Console, statuses: Sequence[DatasetStatus], one_dataset: bool, failures: int
) -> None:
    """The datasets table, Druid's errors, (for one dataset) the schema drift of its files,
    and the newest failures with links to their runs."""
    console.print(status_table(statuses))
    for error in sorted({s.druid_error for s in statuses if s.druid_error}):
        console.print(f"[red]Druid:[/] {escape(error)}")
    drift = drift_table(statuses) if one_dataset else None
    if drift is not None:
        console.print(drift)
    failed = failures_table(statuses, failures)
    if failed is not None:
        console.print(failed)
        links = run_links(failure_links(statuses, failures))
        console.print(
            "runs in the Dagster UI:\n  " + "\n  ".join(links), soft_wrap=True, markup=False
        )
