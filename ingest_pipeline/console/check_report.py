"""What `ingest-pipeline check` prints: a checked file as lines for a person or JSON for a
machine (pure: the command gathers a `CheckedFile`, this only shows it).

Every sentence comes from where the pipeline makes it: the rejection is `FileRejected`'s
`Problem`, the time column's reasons are the `TimeFacts` of validation, the WARN verdicts are
the checks' own descriptions (`checks.py`), so `check` says what the partition would say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ingest_pipeline.vocabulary import (
    CONSTANT_TIME_ISO,
    SOURCE_KEY_COLUMN,
    TIME_COLUMN,
    Problem,
    RejectedRow,
    iso_utc,
)

if TYPE_CHECKING:  # the types only: every command's start would load Polars for the reader's
    from ingest_pipeline.datasets import DatasetConfig
    from ingest_pipeline.findings import ColumnReport
    from ingest_pipeline.reading import DetectedFormat
    from ingest_pipeline.records import ValidatedUpload

#: Rejected rows listed (the count says how many there are in all).
SHOWN_REJECTED = 20
CONTRACT_NOT_CHECKED = "contract not checked: no stack reachable"


@dataclass(frozen=True)
class CheckLine:
    """One validation check as the file's partition would record it."""

    name: str
    passed: bool
    description: str | None
    details: tuple[str, ...] = ()  # the description's parts, each listed on its own


@dataclass(frozen=True)
class CheckedFile:
    """A local file as the pipeline would see it: validated (`outcome`) or `problem`."""

    path: str  # as given on the command line: every message names it
    key: str  # the object key an upload would give it
    dataset: str
    dataset_from: str  # why this dataset: "--dataset" or "the folder's name"
    settings_from: str  # where the dataset's settings come from
    file_format: DetectedFormat | None
    outcome: ValidatedUpload | None
    problem: Problem | None
    checks: tuple[CheckLine, ...] = ()
    contract: tuple[str, ...] = ()  # the schema contract's verdict, or why it was not checked
    rejected_rows: tuple[RejectedRow, ...] = ()  # the first rows that rejected the file

    @property
    def rejected(self) -> bool:
        return self.problem is not None

    def verdict(self) -> str:
        if self.problem is not None:
            return f"would be REJECTED: {self.problem.message(self.path)}"
        assert self.outcome is not None
        return f"would be ingested into datasource {self.dataset!r}: {self.outcome.row_count} rows"


def contract_lines(
    config: DatasetConfig,
    dataset: str,
    druid_columns: Mapping[str, str] | str,
    outcome: ValidatedUpload | None,
) -> tuple[str, ...]:
    """The dataset's schema contract against the datasource's columns (`druid_columns`, or why
    they could not be read): the file's drift in the sentences its partition would record."""
    if isinstance(druid_columns, str):
        return (f"{CONTRACT_NOT_CHECKED} ({druid_columns})",)
    head = f"contract: columns: {config.columns}, types: {config.types}; datasource {dataset!r}"
    user_columns = [c for c in druid_columns if c not in (TIME_COLUMN, SOURCE_KEY_COLUMN)]
    if not user_columns:
        return (f"{head} is new (no columns in Druid): this file's columns become its schema",)
    head += f" has {len(user_columns)} columns"
    if outcome is None:
        return (head,)
    drift = outcome.schema_drift
    said = drift.sentences()
    left_out = rejected_lines(
        drift.discarded_sample, drift.discarded_rows, "rows left out", indent="  "
    )
    return (
        head + (": this file's drift:" if said else ": no drift"),
        *(f"  - {s}" for s in said),
        *left_out,
    )


def describe_format(found: DetectedFormat | None) -> str:
    if found is None:
        return "not detected"
    parts = [found.format.upper()]
    if found.delimiter is not None:
        parts.append(f"delimiter {found.delimiter!r}")
    parts.append(found.encoding)
    parts.append(f"{found.compression} compressed" if found.compression else "uncompressed")
    return ", ".join(parts)


def indented(text: str, prefix: str = "    ") -> str:
    """A sentence of several lines (a datasets.yaml snippet) kept under its item."""
    return text.replace("\n", "\n" + prefix)


def check_lines(checked: CheckedFile) -> list[str]:
    """The report a person reads, top to bottom, ending with the one-line verdict."""
    lines = [
        f"file: {checked.path} (uploaded as {checked.key})",
        f"dataset: {checked.dataset} ({checked.dataset_from}); settings: {checked.settings_from}",
        f"format: {describe_format(checked.file_format)}",
    ]
    if checked.outcome is not None:
        lines += outcome_lines(checked.outcome)
        lines += ["checks (WARN: a failed one is a warning, the file is still ingested):"]
        for check in checked.checks:
            lines += check_line(check)
    else:
        lines += rejected_lines(checked.rejected_rows, len(checked.rejected_rows))
    lines += checked.contract
    lines.append(checked.verdict())
    return lines


def check_line(check: CheckLine) -> list[str]:
    head = f"  {'ok  ' if check.passed else 'FAIL'}  {check.name}"
    if check.details:
        return [head + ":", *(f"    - {indented(d, '      ')}" for d in check.details)]
    return [head + (f": {indented(check.description)}" if check.description else "")]


def rejected_lines(
    rows: Sequence[RejectedRow], total: int, what: str = "rejected rows", indent: str = ""
) -> list[str]:
    if not rows:
        return []
    shown = rows[:SHOWN_REJECTED]
    return [
        f"{indent}{what} ({len(shown)} of {total} shown):",
        *(f"{indent}  line {row.line}: {row.reason}" for row in shown),
    ]


def outcome_lines(outcome: ValidatedUpload) -> list[str]:
    rows = outcome.row_count
    rejected = outcome.rejected_rows
    lines = [
        f"rows: {rows} to ingest, {len(rejected)} rejected, "
        f"{outcome.duplicate_rows} duplicates of an earlier row",
        *time_lines(outcome),
        "schema (column -> Druid type):",
        f"  __time: timestamp (from {time_source(outcome)})",
    ]
    width = max((len(name) for name, _ in outcome.schema), default=0)
    for name, druid_type in outcome.schema:
        entry = outcome.column_report.get(name)
        lines.append(f"  {name + ':':<{width + 1}} {druid_type:<6}  {column_facts(entry)}")
    lines += rejected_lines(rejected, len(rejected))
    if outcome.warnings:
        lines.append("warnings:")
        lines += [f"  - {indented(w)}" for w in outcome.warnings]
    return lines


def time_source(outcome: ValidatedUpload) -> str:
    column, facts = outcome.time_column, outcome.time_facts
    if column is None:
        return f"the constant {CONSTANT_TIME_ISO}"
    parts = facts.date_parts
    date = repr(column) if parts is None else " + ".join(repr(c) for c in parts.columns())
    if facts.time_of_day is not None:
        return f"{date} + time of day from {facts.time_of_day.column!r}"
    return date


def column_facts(entry: ColumnReport | None) -> str:
    if entry is None:
        return ""
    facts = f"{entry.null_ratio:.0%} null"
    if entry.druid_type in ("long", "double"):
        return facts + (f", {entry.min} .. {entry.max}" if entry.min is not None else "")
    return facts + f", {entry.distinct} distinct"


def time_lines(outcome: ValidatedUpload) -> list[str]:
    """The time column and why: every candidate with its verdict and reason (winner first)."""
    span = f"{iso_utc(outcome.time_min)} .. {iso_utc(outcome.time_max)}"
    if outcome.time_column is None:
        head = f"time: none found, every row gets the constant {CONSTANT_TIME_ISO}"
    else:
        chosen = outcome.time_facts.candidates[:1]
        why = f" ({chosen[0].reason})" if chosen else ""
        source = time_source(outcome)
        head = f"time: __time from {source}{why}, {span}"
    lines = [head]
    if outcome.time_facts.candidates:
        lines.append("  candidates (the winner first):")
        lines += [
            f"    {c.verdict.value}: {c.column!r}"
            + (f" [{c.format}]" if c.format else "")
            + f": {c.reason}"
            for c in outcome.time_facts.candidates
        ]
    return lines


def check_json(checked: CheckedFile) -> dict[str, Any]:
    """The same facts for a machine (`check --json`)."""
    found = checked.file_format
    document: dict[str, Any] = {
        "file": checked.path,
        "key": checked.key,
        "dataset": checked.dataset,
        "verdict": "rejected" if checked.rejected else "ingested",
        "message": checked.verdict(),
        "format": None if found is None else describe_format(found),
        "contract": list(checked.contract),
    }
    if checked.problem is not None:
        problem = checked.problem
        document["problem"] = {
            "what": problem.what,
            "line": problem.line,
            "column": problem.column,
            "fix": problem.fix,
        }
        document["rejected_sample"] = [[r.line, r.reason] for r in checked.rejected_rows]
    if checked.outcome is not None:
        document |= outcome_json(checked.outcome, checked.checks)
    return document


def outcome_json(outcome: ValidatedUpload, checks: Sequence[CheckLine]) -> dict[str, Any]:
    return {
        "rows": outcome.row_count,
        "duplicate_rows": outcome.duplicate_rows,
        "time_column": outcome.time_column,
        "time_min": iso_utc(outcome.time_min),
        "time_max": iso_utc(outcome.time_max),
        "time_candidates": [c.to_json() for c in outcome.time_facts.candidates],
        "schema": dict(outcome.schema),
        "columns": {name: entry.to_json() for name, entry in outcome.column_report.items()},
        "rejected_rows": len(outcome.rejected_rows),
        "rejected_sample": [[r.line, r.reason] for r in outcome.rejected_rows[:SHOWN_REJECTED]],
        "warnings": list(outcome.warnings),
        "schema_drift": outcome.schema_drift.to_json(),
        "checks": [
            {"check": c.name, "passed": c.passed, "description": c.description} for c in checks
        ],
    }
