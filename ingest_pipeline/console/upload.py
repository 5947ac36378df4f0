"""`ingest-pipeline upload`: send files with progress bars, then follow each file's run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ingest_pipeline.console.paths import UploadItem
from ingest_pipeline.console.runs import (
    FollowedRun,
    StepNews,
    read_new_events,
    runs_for_versions,
)
from ingest_pipeline.console.verdicts import (
    STEPS,
    RunFacts,
    Verdict,
    skipped_verdict,
    timed_out,
    verdict_from_run,
)
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.object_store import ObjectStore
from ingest_pipeline.sensors import SkipReason, skip_reason

#: Files at least this big get a byte progress bar of their own.
LARGE_FILE_BYTES = 1 << 20


@dataclass
class Uploaded:
    item: UploadItem
    info: ObjectInfo
    skipped: SkipReason | None  # why the sensor will skip it, None when it will be ingested


class AmountColumn(ProgressColumn):
    """'12.5/31.0 MB' for byte tasks, '3/40 files' for the file count."""

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "files":
            return Text(f"{int(task.completed)}/{int(task.total or 0)} files")
        if task.fields.get("unit") == "steps":
            return Text(task.fields.get("step", ""), style="dim")
        done, total = task.completed / 1e6, (task.total or 0) / 1e6
        return Text(f"{done:.1f}/{total:.1f} MB")


def upload_items(s3: ObjectStore, items: Sequence[UploadItem], console: Console) -> list[Uploaded]:
    """Upload every item with a bar per file count and per byte of large files."""
    sizes = [item.local.stat().st_size for item in items]
    uploaded = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        AmountColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        files = progress.add_task("uploading", total=len(items), unit="files")
        everything = progress.add_task("bytes", total=max(sum(sizes), 1), unit="bytes")
        for item, size in zip(items, sizes, strict=True):
            key = s3.upload_key(item.partition)
            bar = None
            if size >= LARGE_FILE_BYTES:
                bar = progress.add_task(f"  {item.partition}", total=size, unit="bytes")

            def sent(count: int, bar: TaskID | None = bar) -> None:
                progress.advance(everything, count)
                if bar is not None:
                    progress.advance(bar, count)

            s3.upload_file(item.local, s3.uploads_bucket, key, callback=sent)
            if bar is not None:
                progress.remove_task(bar)
            info = s3.head(s3.uploads_bucket, key)
            reason = skip_reason(info, item.partition)
            uploaded.append(Uploaded(item, info, reason))
            progress.advance(files)
            progress.console.print(
                f"uploaded {escape(str(item.local))} -> {escape(info.uri)}"
                + (f" [yellow](will be skipped: {escape(reason.message)})[/]" if reason else ""),
                highlight=False,
            )
    return uploaded


Version = tuple[str, str]  # (partition, ETag)


def follow_runs(
    instance: dg.DagsterInstance,
    uploads: Sequence[Uploaded],
    timeout: float,
    console: Console,
    ui_base: str | None,
    poll_seconds: float = 1.0,
) -> list[Verdict]:
    """Follow each upload's sensor run step by step until all finished or `timeout` passed."""
    verdicts: dict[str, Verdict] = {
        u.item.partition: skipped_verdict(u.item.partition, u.skipped.message, str(u.item.local))
        for u in uploads
        if u.skipped
    }
    waiting = {(u.item.partition, u.info.etag): u for u in uploads if not u.skipped}
    followed: dict[Version, FollowedRun] = {}
    # A batch run is found by its partition range; one created before the uploads is older.
    since = min((u.info.last_modified.timestamp() for u in uploads), default=0.0) - 5.0
    deadline = time.monotonic() + timeout
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), AmountColumn())
    with Progress(*columns, console=console) as progress:
        bars = {
            version: progress.add_task(
                version[0], total=len(STEPS), unit="steps", step="waiting for the sensor"
            )
            for version in waiting
        }
        while True:
            poll(instance, progress, bars, followed, since, ui_base)
            if all(v in followed and followed[v].done for v in waiting):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(poll_seconds)
    for version, upload in waiting.items():
        verdicts[version[0]] = final_verdict(
            version[0], followed.get(version), timeout, ui_base, str(upload.item.local)
        )
    return [verdicts[u.item.partition] for u in uploads]


def poll(
    instance: dg.DagsterInstance,
    progress: Progress,
    bars: dict[Version, TaskID],
    followed: dict[Version, FollowedRun],
    since: float,
    ui_base: str | None,
) -> None:
    """Find the runs of versions not followed yet; show what the followed runs did since."""
    pending = [v for v in bars if v not in followed]
    for version, run in runs_for_versions(instance, pending, since).items():
        followed[version] = FollowedRun(
            RunFacts(run.run_id, run.status.value), partition=version[0]
        )
        progress.console.print(
            f"{escape(version[0])}: run {run.run_id} ({run_url_text(ui_base, run.run_id)})",
            highlight=False,
        )
    for version, one in followed.items():
        if one.done:
            continue
        for news in read_new_events(instance, one):
            show_news(progress, version[0], news)
        steps_done = sum(1 for s in STEPS if s in one.facts.materialized)
        status = one.facts.status.lower()
        progress.update(
            bars[version],
            completed=len(STEPS) if one.done else steps_done,
            step=status if one.done else (one.facts.current_step or status),
        )


def final_verdict(
    partition: str, run: FollowedRun | None, timeout: float, ui_base: str | None, local: str
) -> Verdict:
    """The run's verdict of the file; timed out (with what was known) if it did not finish."""
    verdict = verdict_from_run(partition, run.facts, ui_base, local) if run else None
    if verdict is None or run is None or not run.done:
        verdict = timed_out(verdict, partition, timeout)
        verdict.local = local
    return verdict


def run_url_text(ui_base: str | None, run_id: str) -> str:
    return f"{ui_base.rstrip('/')}/runs/{run_id}" if ui_base else run_id


def show_news(progress: Progress, partition: str, news: StepNews) -> None:
    if news.ok is None:
        mark = "[dim]…[/]"
    elif news.ok:
        mark = "[green]✓[/]"
    else:
        mark = "[red]✗[/]"
    progress.console.print(
        f"{escape(partition)}: {mark} {news.step} {escape(news.text)}", highlight=False
    )
