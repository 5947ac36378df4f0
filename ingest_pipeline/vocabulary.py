"""Words every part of the pipeline shares: reserved columns, time, Druid types, file kinds.

A leaf module: it imports nothing of the project, so anything may import it without a circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final, Literal, NamedTuple, get_args

# --------------------------------------------------------------------------- reserved columns

# Columns this pipeline owns. A user column with one of these names is renamed (see
# `naming.druid_safe_column_names`) so it can never be confused with ours.
TIME_COLUMN: Final = "__time"  # Druid's reserved primary timestamp
SOURCE_KEY_COLUMN: Final = "__source_key"  # the S3 key each row came from: re-runs replace a file
LINE_COLUMN: Final = "__line"  # source line number, carried from reading to validation, not written
RESERVED_COLUMNS: Final = frozenset({TIME_COLUMN, SOURCE_KEY_COLUMN, LINE_COLUMN})

# Text that means "no value", in every text format we read: also Excel's #N/A and the "?" of
# UCI's datasets (a number column holding one would otherwise be text).
NULL_MARKERS: Final[tuple[str, ...]] = ("", "NA", "N/A", "n/a", "#N/A", "?", "null", "NULL")

# --------------------------------------------------------------------------- time


def iso_utc(ts: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as Druid prints it; naive datetimes are taken as UTC."""
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    # Explicit fields: strftime("%Y") does not zero-pad years before 1000 on every platform.
    return (
        f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts.hour:02d}:{ts.minute:02d}:"
        f"{ts.second:02d}.{ts.microsecond // 1000:03d}Z"
    )


# Rows of files without a usable time column all get this timestamp (documented in the README):
# a fixed, obviously synthetic instant keeps such datasets in one predictable segment.
CONSTANT_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
CONSTANT_TIME_ISO: Final = iso_utc(CONSTANT_TIME)  # "2000-01-01T00:00:00.000Z"

# Segment granularities Druid accepts here, finest first.
Granularity = Literal["HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "ALL"]
SEGMENT_GRANULARITIES: Final[tuple[Granularity, ...]] = get_args(Granularity)

# --------------------------------------------------------------------------- Druid types

# The dimension types validation writes.
DruidType = Literal["string", "long", "double"]
# The dimension types a datasource may already hold (other writers may have made floats).
DruidColumnType = Literal["string", "long", "float", "double"]
# How Druid SQL (INFORMATION_SCHEMA.COLUMNS) names each dimension type, and back.
DRUID_TO_SQL_TYPE: Final[Mapping[DruidColumnType, str]] = MappingProxyType(
    {"string": "VARCHAR", "long": "BIGINT", "double": "DOUBLE", "float": "FLOAT"}
)
SQL_TO_DRUID_TYPE: Final[Mapping[str, DruidColumnType]] = MappingProxyType(
    {sql: druid for druid, sql in DRUID_TO_SQL_TYPE.items()}
)

# --------------------------------------------------------------------------- data files

#: "json_array": one top-level JSON array of objects (read element by element, like NDJSON);
#: "json_object": one top-level JSON object wrapping such an array (`{"data": [...]}`).
FileFormat = Literal["csv", "ndjson", "json_array", "json_object", "parquet"]
# Object-key extensions (lower case) of each format we read; gzip may wrap any of them.
EXTENSIONS_BY_FORMAT: Final[Mapping[FileFormat, tuple[str, ...]]] = MappingProxyType(
    {
        "csv": (".csv", ".tsv", ".txt", ".psv", ".tab"),
        "ndjson": (".json", ".ndjson", ".jsonl"),
        "parquet": (".parquet", ".pq"),
    }
)
CSV_EXTENSIONS: Final = EXTENSIONS_BY_FORMAT["csv"]
TAB_SEPARATED_EXTENSIONS: Final = (".tsv", ".tab")  # prefer tab when sniffing is a tie
JSON_EXTENSIONS: Final = EXTENSIONS_BY_FORMAT["ndjson"]
PARQUET_EXTENSIONS: Final = EXTENSIONS_BY_FORMAT["parquet"]
DATA_EXTENSIONS: Final = CSV_EXTENSIONS + JSON_EXTENSIONS + PARQUET_EXTENSIONS
GZIP_EXTENSIONS: Final = (".gz", ".gzip")

# --------------------------------------------------------------------------- rejections


@dataclass(frozen=True)
class Problem:
    """Why a file goes no further: what is wrong, where, and what a person does about it.

    A record, not a sentence: the CLI, the checks and the verdict read its parts; `message`
    makes the one line a person reads."""

    what: str
    fix: str
    line: int | None = None
    column: str | None = None

    def sentence(self) -> str:
        """'what (at line L, column 'C'). Fix: fix'"""
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        location = f" (at {', '.join(where)})" if where else ""
        return f"{self.what}{location}. Fix: {self.fix}"

    def message(self, key: str) -> str:
        """The sentence naming the file it is about."""
        return f"{key}: {self.sentence()}"


class FileRejected(Exception):
    """The uploaded file cannot be ingested. str() says which file, what, where and what to do.

    `rejected_rows`: when rows rejected it, the first of them (line and reason) for a list."""

    def __init__(
        self,
        key: str,
        problem: str,
        fix: str,
        row: int | None = None,
        column: str | None = None,
        rejected_rows: tuple[RejectedRow, ...] = (),
    ) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        self.row = row
        self.column = column
        self.rejected_rows = rejected_rows
        super().__init__(str(self))

    def as_problem(self) -> Problem:
        return Problem(self.problem, self.fix, self.row, self.column)

    def __str__(self) -> str:
        return self.as_problem().message(self.key)


class RejectedRow(NamedTuple):
    """One row left out of the ingestion, and why."""

    line: int  # 1-based line of the source file where the row starts (row number for Parquet)
    reason: str
