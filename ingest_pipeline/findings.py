"""What validation found in a file, as typed records: each column's report and how __time was
decided (every candidate scored, the time-like columns left unused, the constant time).

Validation makes them (`validation.report`, `validation.time_choice`), `records.ValidatedUpload`
carries them from asset to asset, the checks and the published JSON report read them. A leaf
beside `vocabulary` (it imports nothing else of the project), so the records, the spec and the
validator can all import it without reaching each other. Sentences for people are made from
the fields here, at the edge (`message`, `to_json`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from ingest_pipeline.vocabulary import (
    CONSTANT_TIME_ISO,
    DRUID_TO_SQL_TYPE,
    DruidType,
    RejectedRow,
    iso_utc,
)

TimeKind = Literal["timestamp", "date"]


@dataclass(frozen=True)
class ColumnReport:
    """One output column: nulls, and the range (numbers) or distinct count (text)."""

    druid_type: DruidType
    nulls: int
    null_ratio: float
    min: int | float | None = None  # long and double columns
    max: int | float | None = None
    distinct: int | None = None  # string columns

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "druid_type": self.druid_type,
            "nulls": self.nulls,
            "null_ratio": self.null_ratio,
        }
        if self.druid_type in ("long", "double"):
            entry["min"], entry["max"] = self.min, self.max
        else:
            entry["distinct"] = self.distinct
        return entry


class CandidateVerdict(StrEnum):
    CHOSEN = "chosen"
    LOST = "lost"  # holds times, but another column holds better ones
    NOT_A_TIME = "not a time"


@dataclass(frozen=True)
class TimeCandidateReport:
    """One column considered for __time, as the report lists it (the winner first).

    `values`, `rows_with_time` and `kind` are None for a configured time column (it is not
    scored: it wins)."""

    column: str
    verdict: CandidateVerdict
    reason: str
    kind: TimeKind | None = None
    values: int | None = None  # non-null values
    rows_with_time: int | None = None  # values that parse to a time
    format: str | None = None  # how its values parse (see `validation.time_reasons.TimeFormat`)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"column": self.column, "verdict": self.verdict.value}
        if self.values is not None:
            entry |= {
                "kind": self.kind or "not a time",
                "values": self.values,
                "rows_with_time": self.rows_with_time,
            }
        entry["reason"] = self.reason
        if self.format is not None:
            entry["format"] = self.format
        return entry


def time_column_lines(dataset: str, column: str) -> str:
    """The datasets.yaml lines that make `column` the time column of `dataset`."""
    return f"{dataset}:\n  time_column: {column}"


@dataclass(frozen=True)
class UnusedTimeColumn:
    """A column whose values look like times (most of them parse) that did not become __time."""

    column: str
    format: str  # how its values parse
    parsed: int  # values that parse to a time
    values: int  # non-null values
    chosen: str  # the column __time comes from instead
    why: str  # why `chosen` won

    @property
    def share(self) -> float:
        return self.parsed / self.values if self.values else 0.0

    def message(self, dataset: str) -> str:
        return (
            f"column {self.column!r} looks like a time ({self.format}: {self.parsed} of "
            f"{self.values} values parse, {self.share:.0%}) but __time comes from "
            f"{self.chosen!r} ({self.why}); to use {self.column!r} instead, set in datasets.yaml:"
            f"\n{time_column_lines(dataset, self.column)}"
        )


@dataclass(frozen=True)
class ConstantTime:
    """Every row got the constant time: no column gave the rows a time of their own."""

    examined: tuple[tuple[str, str], ...]  # (column, why it is no time column) worth naming

    def why(self) -> str:
        if not self.examined:
            return "no column holds dates or times in a format this pipeline reads"
        return "; ".join(f"{column!r}: {reason}" for column, reason in self.examined)

    def message(self, dataset: str) -> str:
        return (
            f"no time column found: every row gets the constant time {CONSTANT_TIME_ISO}, so "
            f"every time filter and time chart of this data is wrong ({self.why()}). Fix: if "
            "the rows have a time, name its column (and its strftime pattern, unless it is "
            "ISO 8601, epoch numbers or month-name dates) in datasets.yaml:\n"
            f'{dataset}:\n  time_column: <column>\n  time_format: "<pattern, e.g. %d/%m/%Y>"'
        )


#: How a column holds the time of day: clock text (14:30), a typed TIME, an hour 0..23.
TimeOfDayUnit = Literal["clock", "time", "hour"]


@dataclass(frozen=True)
class TimeOfDay:
    """The column whose clock times were added to a dates-only time column's dates."""

    column: str
    rows: int  # rows it gave a time of day (every row of the file)
    unit: TimeOfDayUnit = "clock"


@dataclass(frozen=True)
class DateParts:
    """The columns whose parts made each row's date, when no column held one (a year, and a
    quarter or a month, a day beside a month, or a day of the year; an hour beside a day, a
    minute beside an hour)."""

    year: str
    month: str | None = None
    quarter: str | None = None
    day: str | None = None
    hour: str | None = None
    minute: str | None = None
    day_of_year: str | None = None  # 1..366, instead of a month and a day (YEAR,DOY)

    def columns(self) -> tuple[str, ...]:
        parts = (self.year, self.quarter, self.month, self.day, self.day_of_year, self.hour)
        return tuple(c for c in (*parts, self.minute) if c is not None)

    def first_instant(self) -> str:
        """Which instant of the period __time is ('the first day of each month')."""
        if self.hour is not None:
            return "each row's minute" if self.minute else "the start of each row's hour"
        if self.day is not None or self.day_of_year is not None:
            return "midnight of each day"
        period = "month" if self.month else "quarter" if self.quarter else "year"
        return f"the first day of each {period}"

    def label(self) -> str:
        return " + ".join(self.columns())


@dataclass(frozen=True)
class TimeFacts:
    """How __time was decided: the candidates (winner first), the time-like columns left
    unused, the constant time if no column was used, and the time of day added to dates."""

    candidates: tuple[TimeCandidateReport, ...] = ()
    unused: tuple[UnusedTimeColumn, ...] = ()
    constant: ConstantTime | None = None
    time_of_day: TimeOfDay | None = None
    date_parts: DateParts | None = None  # the date from parts in columns of their own
    # columns that each held a time of day in every row, too many to know which one is meant
    times_of_day_untaken: tuple[str, ...] = ()
    hours_ending_untaken: tuple[str, ...] = ()  # hours 1..24: ending or starting at them?

    def untaken_times_of_day(self, time_column: str | None) -> list[str]:
        """What a person should know of the times of day left out (none, or messages)."""
        if time_column is None:
            return []
        found = []
        if self.times_of_day_untaken:
            listed = ", ".join(repr(c) for c in self.times_of_day_untaken)
            found.append(
                f"{listed} each hold a time of day in every row; __time takes the dates of "
                f"{time_column!r} at midnight, because nothing says which time of day belongs to "
                "them. Fix: upload the date and its time of day in one column (e.g. "
                "2024-03-01 14:30), which becomes __time"
            )
        for hours in self.hours_ending_untaken:
            found.append(
                f"{hours!r} holds hours 1..24 (the hour ending then, or starting?); __time takes "
                f"the dates of {time_column!r} at midnight. Fix: upload the date and its time "
                "in one column (e.g. 2024-03-01 14:00), or hours 0..23 that start the hour"
            )
        return found


@dataclass(frozen=True)
class TypeChange:
    """A column whose type in this file is not the datasource's."""

    column: str
    in_file: DruidType
    in_datasource: DruidType


@dataclass(frozen=True)
class SchemaDrift:
    """How a file's columns differ from its datasource's, and what the dataset's contract
    (datasets.yaml `columns:` / `types:`) did about it. `compared` is False for a new
    datasource: there was nothing to compare with."""

    compared: bool = False
    added: tuple[tuple[str, DruidType], ...] = ()  # new columns, ingested (columns: evolve)
    dropped: tuple[str, ...] = ()  # new columns left out (columns: discard)
    missing: tuple[str, ...] = ()  # the datasource's columns this file does not have
    changed: tuple[TypeChange, ...] = ()  # stored with the file's type (types: evolve)
    converted: tuple[TypeChange, ...] = ()  # every value fits: stored as the datasource's type
    discarded_rows: int = 0  # rows left out for a value of the wrong type (types: discard_row)
    discarded_sample: tuple[RejectedRow, ...] = ()  # the first of them, by line

    @property
    def drifted(self) -> bool:
        """Anything a person should look at (a compatible conversion is not)."""
        return bool(
            self.added or self.dropped or self.missing or self.changed or self.discarded_rows
        )

    def sentences(self) -> list[str]:
        said = [f"new column {name!r} ({druid_type})" for name, druid_type in self.added]
        said += [
            f"column {c.column!r} is {c.in_file} here, {DRUID_TO_SQL_TYPE[c.in_datasource]} in "
            "Druid"
            for c in self.changed
        ]
        if self.missing:
            said.append(f"columns missing from this file: {', '.join(self.missing)}")
        return said + self.contract_sentences()

    def contract_sentences(self) -> list[str]:
        """What the contract left out of the file (columns, rows)."""
        said = []
        if self.dropped:
            said.append(
                f"new column(s) left out (columns: discard): {', '.join(map(repr, self.dropped))}"
            )
        if self.discarded_rows:
            first = self.discarded_sample[0]
            said.append(
                f"{self.discarded_rows} row(s) left out (types: discard_row), the first at line "
                f"{first.line}: {first.reason}"
            )
        return said

    def to_json(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "added": dict(self.added),
            "dropped": list(self.dropped),
            "missing": list(self.missing),
            "changed": [vars(c) for c in self.changed],
            "converted": [vars(c) for c in self.converted],
            "discarded_rows": self.discarded_rows,
            "discarded_sample": [[row.line, row.reason] for row in self.discarded_sample],
        }


def time_source_text(time_column: str | None, facts: TimeFacts) -> str:
    """Where __time comes from, in a few words ('Datum' + time of day from 'Uhrzeit')."""
    if time_column is None:
        return f"constant {CONSTANT_TIME_ISO}"
    date = time_column if facts.date_parts is None else f"date parts {facts.date_parts.label()}"
    if facts.time_of_day is None:
        return date
    return f"{date} + time of day from {facts.time_of_day.column}"


def time_column_label(time_column: str | None, facts: TimeFacts) -> str:
    """The time column as the UI's metadata shows it."""
    if time_column is None:
        return "(none: constant time)"
    return time_source_text(time_column, facts)


def time_report_json(
    time_column: str | None, time_min: datetime, time_max: datetime, facts: TimeFacts
) -> dict[str, Any]:
    """The report's __time entry."""
    entry: dict[str, Any] = {
        "druid_type": "time",
        "source": time_source_text(time_column, facts),
        "min": iso_utc(time_min),
        "max": iso_utc(time_max),
    }
    if facts.candidates:  # the time column candidates, the winner first, each with its reason
        entry["candidates"] = [c.to_json() for c in facts.candidates]
    return entry
