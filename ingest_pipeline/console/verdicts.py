"""What happened to each uploaded file, from its run's record; and the tables that show it.

Records are plain data built from Dagster's run status, step/materialization events (metadata
keys only) and check evaluations, so the verdict rules and the tables are tested without a
stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from ingest_pipeline.checks import INGESTIBLE

#: The steps of one file's run, in order (asset keys; the in-process job has one step each).
STEPS = ("raw_file", "validated_frame", "druid_spec", "druid_datasource")

INGESTED, REJECTED, FAILED, SKIPPED, PENDING, TIMED_OUT, UPLOADED = (
    "ingested",
    "rejected",
    "failed",
    "skipped",
    "pending",
    "timed out",
    "uploaded",
)
#: Outcomes that make `upload --wait` exit non-zero.
BAD_OUTCOMES = (REJECTED, FAILED, TIMED_OUT)
STYLE = {
    INGESTED: "green",
    REJECTED: "red",
    FAILED: "red",
    TIMED_OUT: "red",
    SKIPPED: "yellow",
    PENDING: "yellow",
    UPLOADED: "cyan",
}


@dataclass(frozen=True)
class CheckFact:
    name: str
    asset: str
    passed: bool
    severity: str  # "ERROR" or "WARN"
    description: str | None = None


@dataclass
class RunFacts:
    """The parts of one run's record a verdict is made from."""

    run_id: str
    status: str  # DagsterRunStatus value: QUEUED, STARTED, SUCCESS, FAILURE, CANCELED, ...
    steps_started: list[str] = field(default_factory=list)
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset -> metadata
    checks: list[CheckFact] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # step failure / run failure messages

    @property
    def finished(self) -> bool:
        return self.status in ("SUCCESS", "FAILURE", "CANCELED")

    @property
    def current_step(self) -> str | None:
        return self.steps_started[-1] if self.steps_started else None


@dataclass
class Verdict:
    """One line of the verdict table."""

    partition: str
    outcome: str
    rows: int | None = None
    detail: str = ""
    run_id: str | None = None
    url: str | None = None
    local: str | None = None

    @property
    def bad(self) -> bool:
        return self.outcome in BAD_OUTCOMES


def run_url(ui_base: str | None, run_id: str | None) -> str | None:
    if not ui_base or not run_id:
        return None
    return f"{ui_base.rstrip('/')}/runs/{run_id}"


def verdict_from_run(
    partition: str, facts: RunFacts, ui_base: str | None = None, local: str | None = None
) -> Verdict:
    """ingested (rows), rejected (the blocking check's message and fix), failed (the failed
    check's or the run's message), or pending while the run is not finished."""
    url = run_url(ui_base, facts.run_id)
    base = {"partition": partition, "run_id": facts.run_id, "url": url, "local": local}
    failed_checks = [c for c in facts.checks if not c.passed]
    rejection = next((c for c in failed_checks if c.name == INGESTIBLE), None)
    if rejection is not None:
        return Verdict(outcome=REJECTED, detail=rejection.description or "", **base)
    if not facts.finished:
        step = facts.current_step
        detail = f"run {facts.status.lower()}" + (f", at {step}" if step else "")
        return Verdict(outcome=PENDING, detail=detail, **base)
    if facts.status == "SUCCESS":
        druid = facts.materialized.get("druid_datasource", {})
        rows = druid.get("dagster/row_count")
        parts = []
        if druid.get("druid_task_id"):
            parts.append(f"Druid task {druid['druid_task_id']}")
        if druid.get("seconds_submit_to_queryable") is not None:
            parts.append(f"queryable {druid['seconds_submit_to_queryable']}s after submit")
        errors = [c for c in failed_checks if c.severity == "ERROR"]
        warnings = [c for c in failed_checks if c.severity != "ERROR"]
        if errors:
            return Verdict(outcome=FAILED, rows=rows, detail=check_lines(errors), **base)
        if warnings:
            parts.append("warnings: " + check_lines(warnings))
        return Verdict(outcome=INGESTED, rows=rows, detail="; ".join(parts), **base)
    errors = [c for c in failed_checks if c.severity == "ERROR"]
    messages = [check_lines(errors)] if errors else []
    messages += facts.failures
    detail = "\n".join(m for m in messages if m) or f"run {facts.status.lower()}"
    return Verdict(outcome=FAILED, detail=detail, **base)


def check_lines(checks: Iterable[CheckFact]) -> str:
    return "; ".join(
        f"{c.name}" + (f": {c.description}" if c.description else " failed") for c in checks
    )


def skipped_verdict(partition: str, reason: str, local: str | None = None) -> Verdict:
    return Verdict(
        partition=partition,
        outcome=SKIPPED,
        detail=f"not ingested by the sensor: {reason}",
        local=local,
    )


def timed_out(verdict: Verdict | None, partition: str, seconds: float) -> Verdict:
    """The last known state of a file whose run did not finish in time."""
    waited = f"no finished run within {seconds:.0f}s"
    if verdict is None:
        return Verdict(
            partition=partition,
            outcome=TIMED_OUT,
            detail=f"{waited}; the sensor has not started one",
        )
    detail = f"{waited} ({verdict.detail})" if verdict.detail else waited
    return Verdict(
        partition=partition,
        outcome=TIMED_OUT,
        detail=detail,
        run_id=verdict.run_id,
        url=verdict.url,
        local=verdict.local,
    )


def verdict_table(verdicts: Sequence[Verdict], title: str = "verdicts") -> Table:
    """One row per file; the run column is the run id's first 8 characters, as the UI shows
    it (`run_links` lists the full links, which must not be cut by a narrow terminal)."""
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("file", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("details", overflow="fold", ratio=3)
    table.add_column("run", no_wrap=True)
    for verdict in verdicts:
        table.add_row(
            Text(verdict.partition),
            Text(verdict.outcome, style=STYLE.get(verdict.outcome, "")),
            "" if verdict.rows is None else f"{verdict.rows:,}",
            Text(verdict.detail),
            (verdict.run_id or "")[:8],
        )
    return table


def run_links(rows: Iterable[tuple[str, str | None]]) -> list[str]:
    """'<file>  <url>' lines for the rows that have a run link, one link per line, uncut."""
    return [f"{partition}  {url}" for partition, url in rows if url]


def summary_line(verdicts: Sequence[Verdict]) -> str:
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict.outcome] = counts.get(verdict.outcome, 0) + 1
    order = (INGESTED, REJECTED, FAILED, TIMED_OUT, SKIPPED, PENDING, UPLOADED)
    return ", ".join(f"{counts[o]} {o}" for o in order if counts.get(o))


def plain_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Dagster metadata values -> plain values (MetadataValue.value where it has one)."""
    return {key: getattr(value, "value", value) for key, value in metadata.items()}
