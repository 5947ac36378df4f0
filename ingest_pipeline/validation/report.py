"""What validation found: per-column totals added up batch by batch, and the final summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from ingest_pipeline.findings import ColumnReport, SchemaDrift, TimeFacts, time_report_json
from ingest_pipeline.validation.distinct import DistinctCount
from ingest_pipeline.validation.druid_types import POLARS_DTYPE_OF
from ingest_pipeline.validation.timing import UTC_MS
from ingest_pipeline.vocabulary import SOURCE_KEY_COLUMN, TIME_COLUMN, DruidType, RejectedRow


@dataclass
class ValidationSummary:
    """What `validate_to_files` found: a `ValidationResult` without the rows (in the files)."""

    row_count: int
    rejected: list[RejectedRow]
    column_report: dict[str, ColumnReport]  # per output user column
    time_column: str | None  # the user column __time came from; None = CONSTANT_TIME
    duplicate_rows: int
    schema: list[tuple[str, DruidType]]  # user columns in order; excludes __time, __source_key
    time_min: datetime
    time_max: datetime
    warnings: list[str]
    preview: pl.DataFrame  # the first output rows, as `ValidationResult.frame` has them
    time_facts: TimeFacts  # how __time was decided
    # the file's columns against the datasource's, and what the schema contract did
    schema_drift: SchemaDrift = field(default_factory=SchemaDrift, kw_only=True)

    @property
    def report(self) -> dict[str, dict[str, Any]]:
        """Every column's report and __time's, as JSON (the published report's "columns")."""
        report = {name: entry.to_json() for name, entry in self.column_report.items()}
        report[TIME_COLUMN] = time_report_json(
            self.time_column, self.time_min, self.time_max, self.time_facts
        )
        return report


@dataclass
class ValidationResult(ValidationSummary):
    """What `validate` found, with the rows in memory."""

    frame: pl.DataFrame  # __time (UTC, ms), the user's columns (Druid types), __source_key


class ConvertedColumn(NamedTuple):
    """One user column of a batch in its Druid type (see `to_druid_column`)."""

    name: str
    values: pl.Series
    druid_type: DruidType
    nulled: int  # NaN/infinite values stored as null


@dataclass
class ColumnTotals:
    """One output column's report, added up over the batches."""

    distinct: DistinctCount
    nulls: int = 0
    nulled: int = 0  # NaN/infinite values stored as null
    low: Any = None
    high: Any = None

    @staticmethod
    def batch_exprs(name: str, druid_type: DruidType) -> list[pl.Expr]:
        """What `add` needs of one batch of the column, as expressions over the output batch."""
        values = pl.col(name)
        exprs = [values.null_count().alias(f"nulls.{name}")]
        if druid_type in ("long", "double"):
            # Non-finite floats were nulled by to_druid_column: min/max are JSON-safe numbers.
            exprs += [values.min().alias(f"min.{name}"), values.max().alias(f"max.{name}")]
        else:
            exprs.append(values.drop_nulls().hash().implode().alias(f"hash.{name}"))
        return exprs

    def add(self, name: str, found: pl.DataFrame, nulled: int) -> None:
        """Add one batch's `batch_exprs` results (one row of `found`)."""
        self.nulls += found.item(0, f"nulls.{name}")
        self.nulled += nulled
        if f"hash.{name}" in found.columns:
            self.distinct.add(found.item(0, f"hash.{name}"))
            return
        low, high = found.item(0, f"min.{name}"), found.item(0, f"max.{name}")
        if low is not None:
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)

    def report(self, druid_type: DruidType, rows: int) -> ColumnReport:
        ratio = round(self.nulls / rows, 6) if rows else 0.0
        if druid_type in ("long", "double"):
            return ColumnReport(druid_type, self.nulls, ratio, min=self.low, max=self.high)
        return ColumnReport(druid_type, self.nulls, ratio, distinct=self.distinct.count())


class BatchTally:
    """The output batches seen so far, added up: the makings of a `ValidationSummary`.

    With `spill_dir`, the distinct and duplicate counts keep their hashes there once they
    outgrow memory (see `DistinctCount`).
    """

    def __init__(self, columns: Sequence[str], preview_rows: int, spill_dir: Path | None) -> None:
        self.rows = 0
        self._columns = list(columns)
        self._totals = {name: ColumnTotals(DistinctCount(spill_dir)) for name in columns}
        # exact duplicate rows are legal but usually a mistake
        self._rows_distinct = DistinctCount(spill_dir)
        self._schema: list[tuple[str, DruidType]] | None = None
        self._time_min: datetime | None = None
        self._time_max: datetime | None = None
        self._preview_rows = preview_rows
        self._preview: list[pl.DataFrame] = []

    def add(
        self, data: pl.DataFrame, converted: Sequence[ConvertedColumn], output: pl.DataFrame
    ) -> None:
        """Count one batch: `data` with __time and the user columns, as `converted` to `output`."""
        batch_schema = [(c.name, c.druid_type) for c in converted]
        # One query for every column's counts (Polars runs them in parallel), not one each.
        exprs = [e for c in converted for e in ColumnTotals.batch_exprs(c.name, c.druid_type)]
        time = pl.col(TIME_COLUMN)
        found = output.select(*exprs, time.min().alias("time.min"), time.max().alias("time.max"))
        for column in converted:
            self._totals[column.name].add(column.name, found, column.nulled)
        if self._schema is None:
            self._schema = batch_schema
        assert batch_schema == self._schema, (batch_schema, self._schema)  # dtypes fixed per file
        if self._columns:
            self._rows_distinct.add(data.select(self._columns).hash_rows())
        low, high = found.item(0, "time.min"), found.item(0, "time.max")
        assert isinstance(low, datetime) and isinstance(high, datetime)  # height > 0
        self._time_min = low if self._time_min is None else min(self._time_min, low)
        self._time_max = high if self._time_max is None else max(self._time_max, high)
        self.rows += data.height
        shown = sum(p.height for p in self._preview)
        if shown < self._preview_rows:
            self._preview.append(output.head(self._preview_rows - shown))

    def summary(
        self,
        rejected: list[RejectedRow],
        time_column: str | None,
        warnings: Sequence[str],
        null_ratio_warn: float,
        time_facts: TimeFacts,
    ) -> ValidationSummary:
        """The report over every batch (at least one kept row: rejection is decided before)."""
        schema, time_min, time_max = self._schema, self._time_min, self._time_max
        assert schema is not None and time_min is not None and time_max is not None
        rows = self.rows
        warnings = list(warnings)
        report: dict[str, ColumnReport] = {}
        for name, druid_type in schema:
            totals = self._totals[name]
            report[name] = totals.report(druid_type, rows)
            if totals.nulled:
                warnings.append(
                    f"column {name!r}: {totals.nulled} NaN/infinite values stored as null"
                )
            if report[name].null_ratio > null_ratio_warn:
                warnings.append(f"column {name!r} is {report[name].null_ratio:.0%} null")
        duplicate_rows = rows - self._rows_distinct.count() if self._columns else 0
        if duplicate_rows:
            warnings.append(f"{duplicate_rows} rows are exact duplicates of an earlier row")
        empty = pl.DataFrame(
            schema={
                TIME_COLUMN: UTC_MS,
                **{name: POLARS_DTYPE_OF[druid_type] for name, druid_type in schema},
                SOURCE_KEY_COLUMN: pl.String,
            }
        )
        return ValidationSummary(
            row_count=rows,
            rejected=rejected,
            column_report=report,
            time_column=time_column,
            duplicate_rows=duplicate_rows,
            schema=schema,
            time_min=time_min,
            time_max=time_max,
            warnings=warnings,
            preview=pl.concat(self._preview) if self._preview else empty,
            time_facts=time_facts,
        )
