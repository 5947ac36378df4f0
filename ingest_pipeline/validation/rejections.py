"""Rows rejected for their time, and the errors that reject a whole file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.findings import DateParts
from ingest_pipeline.validation.source import BatchSource
from ingest_pipeline.vocabulary import LINE_COLUMN, TIME_COLUMN, FileRejected, RejectedRow

QUOTED_REJECTIONS: Final = 5  # how many rejected rows an error message quotes
LISTED_REJECTIONS: Final = 20  # how many the error carries for a list (`ingest-pipeline check`)


def split_by_time(
    batch: pl.DataFrame, time: pl.Expr, time_source: str | DateParts | None
) -> tuple[pl.DataFrame, list[RejectedRow]]:
    """Add __time (`time`) to a batch: (rows with a time, rows rejected for their time).
    `time_source`: the time column, the date parts, or None (the constant time)."""
    data = batch.with_columns(time.alias(TIME_COLUMN))
    if time_source is None or data[TIME_COLUMN].null_count() == 0:
        return data, []  # (the common case: no filtering, no copy)
    bad = data.filter(pl.col(TIME_COLUMN).is_null())
    if isinstance(time_source, DateParts):
        columns = time_source.columns()
        return data.filter(pl.col(TIME_COLUMN).is_not_null()), [
            RejectedRow(
                row[0],
                f"no date from {', '.join(repr(c) for c in columns)}: "
                f"{'-'.join(str(v) for v in row[1:])[:80]!r}",
            )
            for row in bad.select(LINE_COLUMN, *columns).iter_rows()
        ]
    rejected = [
        RejectedRow(
            line,
            f"missing time value in column {time_source!r}"
            if raw is None
            else f"unparseable time {str(raw)[:80]!r} in column {time_source!r}",
        )
        for line, raw in bad.select(LINE_COLUMN, time_source).iter_rows()
    ]
    return data.filter(pl.col(TIME_COLUMN).is_not_null()), rejected


def too_many_rejected(rejected: int, kept: int, rows_seen: int, config: DatasetConfig) -> bool:
    """Whether `rejected` rows out of `rows_seen` reject the whole file."""
    return rejected > 0 and (kept == 0 or rejected / rows_seen > config.max_rejected_share)


def rejection_error(
    key: str,
    first: Sequence[RejectedRow],
    total: int,
    rows_seen: int,
    config: DatasetConfig,
    dataset: str,
) -> FileRejected:
    """`first`: the rejected rows with the lowest lines (at least QUOTED_REJECTIONS of them)."""
    quoted = "; ".join(f"line {r.line}: {r.reason}" for r in first[:QUOTED_REJECTIONS])
    more = f" and {total - QUOTED_REJECTIONS} more" if total > QUOTED_REJECTIONS else ""
    return FileRejected(
        key,
        f"{total} of {rows_seen} rows cannot be ingested "
        f"(allowed share {config.max_rejected_share:g}): {quoted}{more}",
        "correct those rows and upload the file again, or raise max_rejected_share for "
        f"dataset {dataset!r} in the dataset config to skip them",
        row=first[0].line,
        rejected_rows=tuple(first[:LISTED_REJECTIONS]),
    )


def oversized_value_error(
    source: BatchSource, column: str, config: DatasetConfig, dataset: str
) -> FileRejected:
    """The error for the first value of `column` longer than `max_value_bytes` (one pass)."""
    limit = config.max_value_bytes
    for batch in source.batches([LINE_COLUMN, column]):
        sizes = batch.select(pl.col(LINE_COLUMN), size=pl.col(column).str.len_bytes())
        over = sizes.filter(pl.col("size") > limit)
        if over.height:
            line, size = over.row(0)
            return FileRejected(
                source.key,
                f"a value of {size:,} bytes is longer than the {limit:,} bytes a Druid text "
                "column accepts here",
                "check the quoting around that line (an unclosed quote swallows the lines after "
                f"it), split the value, leave the column out with `dimensions`, or raise "
                f"max_value_bytes for dataset {dataset!r} in the dataset config",
                row=line,
                column=column,
            )
    raise AssertionError(f"no value of {column!r} is over {limit} bytes on the second pass")
