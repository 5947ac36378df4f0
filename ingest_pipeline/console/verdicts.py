"""What happened to each uploaded file, as a person reads it in a terminal.

A file's verdict is the FileVerdict its run recorded (ingest_pipeline/verdict.py); a run
that ended without one (it crashed, or failed before its last step) is failed with the run's
own message; an unfinished run is pending. Plain data in, tables out: tested without a stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.table import Table
from rich.text import Text

from ingest_pipeline.verdict import FileVerdict, Outcome

#: The steps of one file's run, in order (the ingest graph's assets).
STEPS = ("raw_file", "validated_frame", "druid_spec", "druid_datasource")

INGESTED, REJECTED, FAILED, SKIPPED, RETRACTED = (o.value for o in Outcome)
#: What the terminal shows before or instead of a verdict.
PENDING, TIMED_OUT, UPLOADED = "pending", "timed out", "uploaded"
#: Outcomes that make `upload --wait` exit non-zero.
BAD_OUTCOMES = (REJECTED, FAILED, TIMED_OUT)
STYLE = {
    INGESTED: "green",
    REJECTED: "red",
    FAILED: "red",
    TIMED_OUT: "red",
    SKIPPED: "yellow",
    RETRACTED: "cyan",
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
    """What a run said so far about one file (or every file, for a whole-run view)."""

    run_id: str
    status: str  # DagsterRunStatus value: QUEUED, STARTED, SUCCESS, FAILURE, CANCELED, ...
    steps_started: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)  # assets the file got through
    checks: list[CheckFact] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # step failure / run failure messages
    verdict: FileVerdict | None = None

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


def shown(
    record: FileVerdict,
    ui_base: str | None = None,
    local: str | None = None,
    run_id: str | None = None,
) -> Verdict:
    """A recorded verdict as a table row: ingested rows and task, or the problem and its fix
    (`run_id`: the run it was read from, when the record names none)."""
    run_id = record.run_id or run_id
    detail = record.message()
    if record.outcome is Outcome.SKIPPED and record.problem is not None:
        detail = f"not ingested by the sensor: {record.problem.sentence()}"
    elif record.outcome is Outcome.INGESTED and record.rows is not None:
        detail = detail.removeprefix(f"{record.rows:,} rows").removeprefix("; ")
    return Verdict(
        partition=record.partition,
        outcome=record.outcome.value,
        rows=record.rows if record.outcome is Outcome.INGESTED else None,
        detail=detail,
        run_id=run_id,
        url=run_url(ui_base, run_id),
        local=local,
    )


def verdict_from_run(
    partition: str, facts: RunFacts, ui_base: str | None = None, local: str | None = None
) -> Verdict:
    """The file's recorded verdict; without one, pending while the run goes on, else failed
    with the run's failure (it ended before its last step could say more)."""
    if facts.verdict is not None:
        return shown(facts.verdict, ui_base, local, facts.run_id)
    url = run_url(ui_base, facts.run_id)
    if not facts.finished:
        step = facts.current_step
        detail = f"run {facts.status.lower()}" + (f", at {step}" if step else "")
        return Verdict(partition, PENDING, None, detail, facts.run_id, url, local)
    errors = [c for c in facts.checks if not c.passed and c.severity == "ERROR"]
    messages = [check_lines(errors)] if errors else []
    messages += facts.failures
    detail = "\n".join(m for m in messages if m) or f"run {facts.status.lower()}"
    return Verdict(partition, FAILED, None, detail, facts.run_id, url, local)


def check_lines(checks: Iterable[CheckFact]) -> str:
    return "; ".join(
        f"{c.name}" + (f": {c.description}" if c.description else " failed") for c in checks
    )


def skipped_verdict(partition: str, reason: str, local: str | None = None) -> Verdict:
    """An upload the sensor will skip (known from its name and size at upload time)."""
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
    order = (INGESTED, REJECTED, FAILED, TIMED_OUT, SKIPPED, RETRACTED, PENDING, UPLOADED)
    return ", ".join(f"{counts[o]} {o}" for o in order if counts.get(o))
