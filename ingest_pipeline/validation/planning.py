"""The decisions that need the whole file, made before any batch is converted.

`plan_validation` runs the steps below in order; each either narrows the plan or raises
`FileRejected` with the message `validate` always gave. One pass gathers row count, text sizes
and time statistics and parses the likely time columns (`early_times`); a second parses the
other time candidates, only if any (or a guess was wrong); a third reads UInt64 maxima, only if
there are such columns; for a rejected file only, a pass quotes its first rejected rows, and
for equally good time columns without a time name, a pass compares their times.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import polars as pl

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.findings import TimeFacts
from ingest_pipeline.naming import describe_renames, druid_safe_column_names, resolve_column
from ingest_pipeline.validation.contract import ContractPlan, DatasetSchema, plan_contract
from ingest_pipeline.validation.druid_types import overflows_druid_long
from ingest_pipeline.validation.early_times import EarlyTimes
from ingest_pipeline.validation.rejections import (
    QUOTED_REJECTIONS,
    oversized_value_error,
    rejection_error,
    split_by_time,
    too_many_rejected,
)
from ingest_pipeline.validation.source import (
    Aggregation,
    BatchSource,
    KeptColumn,
    aggregate,
    scan,
    unreadable_error,
)
from ingest_pipeline.validation.stats import ColumnStats, Stat
from ingest_pipeline.validation.time_choice import (
    TimeChoice,
    choose_time_column,
    configured_time_column,
    time_column_warnings,
)
from ingest_pipeline.validation.time_scoring import candidate_stat_exprs, may_be_time
from ingest_pipeline.validation.timing import time_candidates, time_stat_exprs
from ingest_pipeline.vocabulary import LINE_COLUMN, FileRejected, RejectedRow


@dataclass(frozen=True)
class ValidationPlan:
    """What every batch is checked and converted by."""

    key: str
    dataset: str
    config: DatasetConfig
    source: BatchSource  # batches with LINE_COLUMN (Int64) and the Druid-safe user columns
    rows_seen: int  # rows of the frame plus rows the reader rejected
    reader_rejected: list[RejectedRow]  # sorted by line
    time_column: str | None  # None: CONSTANT_TIME
    time: pl.Expr  # __time of a row; null rejects the row
    # `time` evaluated over the source's batches already (by the time column choice), if so
    time_values: KeptColumn | None
    columns: list[str]  # output user columns, in order (after `dimensions` and the contract)
    uint_as_string: frozenset[str]  # UInt64 columns with values beyond Druid's long
    warnings: list[str]
    time_facts: TimeFacts  # the time column candidates and why each won or lost
    contract: ContractPlan  # the dataset's schema contract against the datasource's columns


class FirstPass(NamedTuple):
    """What the first pass over the file found."""

    rows: int
    longest: Mapping[str, int | None]  # UTF-8 bytes of the longest value of each text column
    stats: list[ColumnStats]  # of each time candidate, in order


def plan_validation(
    frame: pl.LazyFrame,
    key: str,
    dataset: str,
    config: DatasetConfig,
    reader_rejected: Iterable[RejectedRow],
    notes: Iterable[str],
    batch_rows: int | None,
    raw_batches: Callable[..., Iterator[pl.DataFrame]] | None = None,
    keep_dir: Path | None = None,
    rows: int | None = None,
    dataset_schema: DatasetSchema | None = None,
) -> ValidationPlan:
    """Decide names, time column, time parsing and whole-file verdicts from cheap passes.

    `keep_dir`: where the parsed time values wait for the conversion pass (None: in memory).
    `rows`: the rows of `frame`, if the reader knows (see `BatchSource.rows`).
    `dataset_schema`: the datasource's columns, for the dataset's schema contract (None: new).
    """
    source, dtypes, renamed = _open_source(frame, key, batch_rows, raw_batches)
    source.keep_dir, source.rows = keep_dir, rows
    warnings = [*notes, *([renamed] if renamed else [])]
    user_columns = list(dtypes)
    texts = [name for name, dtype in dtypes.items() if dtype == pl.String]
    candidates = _time_column_candidates(config, dtypes)
    # The likely time columns are parsed in the first pass already (see `early_times`).
    early = EarlyTimes(candidates, dtypes, config.time_format, config.time_column is not None)
    first = _first_pass(source, candidates, texts, dtypes, config, early)

    rejected_by_reader = sorted(reader_rejected)
    rows_seen = first.rows + len(rejected_by_reader)
    _check_there_are_rows(key, rows_seen)
    _check_configured_time_column_found(key, config, candidates, user_columns)
    choice = _time_choice(key, dataset, source, candidates, dtypes, config, first, early)
    warnings += time_column_warnings(choice, config, dataset)
    _reject_if_too_many_rows_fail(
        source, key, dataset, config, rejected_by_reader, rows_seen, first.rows, choice
    )

    columns = _output_columns(key, dataset, config, user_columns)
    warnings += _duration_notes(columns, dtypes)
    contract, columns = plan_contract(key, dataset, config, columns, dataset_schema)
    _reject_oversized_values(source, columns, texts, first.longest, config, dataset)
    return ValidationPlan(
        key=key,
        dataset=dataset,
        config=config,
        source=source,
        rows_seen=rows_seen,
        reader_rejected=rejected_by_reader,
        time_column=choice.column,
        time=choice.expr,
        time_values=choice.values,
        columns=columns,
        uint_as_string=_uints_beyond_druid_long(source, columns, dtypes, choice.expr),
        warnings=warnings,
        time_facts=choice.facts,
        contract=contract,
    )


def _open_source(
    frame: pl.LazyFrame,
    key: str,
    batch_rows: int | None,
    raw_batches: Callable[..., Iterator[pl.DataFrame]] | None,
) -> tuple[BatchSource, dict[str, pl.DataType], str | None]:
    """Batches with line numbers and Druid-safe names: (source, dtype by name, rename warning)."""
    try:
        source_schema = frame.collect_schema()
    except pl.exceptions.PolarsError as error:
        raise unreadable_error(key, error) from None
    if LINE_COLUMN not in source_schema:
        frame = frame.with_row_index(LINE_COLUMN, offset=1)
        raw_batches = None  # batch by batch, the row numbers would restart

    raw_columns = [c for c in source_schema.names() if c != LINE_COLUMN]
    user_columns = druid_safe_column_names(raw_columns)
    renamed = describe_renames(raw_columns, user_columns)

    def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = frame.with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
        if renamed:
            # strict=False: a batch may hold only some of the columns
            frame = frame.rename(dict(zip(raw_columns, user_columns, strict=True)), strict=False)
        return frame

    source = BatchSource(prepare(frame), key, batch_rows, raw_batches, prepare)
    source.raw_names = dict(zip(user_columns, raw_columns, strict=True))
    dtypes = {new: source_schema[old] for old, new in zip(raw_columns, user_columns, strict=True)}
    return source, dtypes, renamed


def _time_column_candidates(config: DatasetConfig, dtypes: Mapping[str, pl.DataType]) -> list[str]:
    """The configured time column if it is in the file, else every column of a type that may
    hold times: those named like a time first (in `time_candidates` order), then the others."""
    if config.time_column is not None:
        configured = resolve_column(config.time_column, list(dtypes))
        return [configured] if configured is not None else []
    named = time_candidates(list(dtypes))
    ordered = named + [c for c in dtypes if c not in named]
    return [c for c in ordered if may_be_time(dtypes[c])]


def _first_pass(
    source: BatchSource,
    candidates: Sequence[str],
    texts: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
    config: DatasetConfig,
    early: EarlyTimes,
) -> FirstPass:
    """Row count, longest text value per text column, time statistics of each candidate; the
    likely time columns parsed on the way (`early`)."""
    aggregations: dict[Hashable, Aggregation] = {"rows": Aggregation(pl.len(), "sum")}
    for name in texts:
        aggregations[("bytes", name)] = Aggregation(pl.col(name).str.len_bytes().max(), "max")
    for i, name in enumerate(candidates):
        exprs: dict[Stat, pl.Expr]
        if config.time_column is not None:
            exprs = {Stat.N: pl.col(name).count()}
            exprs |= time_stat_exprs(name, dtypes[name], config.time_format)
        else:
            exprs = candidate_stat_exprs(name, dtypes[name])
        for stat, expr in exprs.items():
            aggregations[(i, stat)] = Aggregation(expr, stat.combine)
    found, parsed = scan(source, aggregations, early.exprs)
    early.found(parsed)
    per_candidate: list[dict[Stat, object]] = [{} for _ in candidates]
    for k, value in found.items():
        if isinstance(k, tuple) and isinstance(k[1], Stat):
            per_candidate[k[0]][k[1]] = value
    return FirstPass(
        rows=found["rows"],
        longest={name: found[("bytes", name)] for name in texts},
        stats=[ColumnStats.of(values) for values in per_candidate],
    )


def _check_there_are_rows(key: str, rows_seen: int) -> None:
    if rows_seen == 0:
        raise FileRejected(
            key, "the file has no data rows", "upload a file with at least one data row"
        )


def _check_configured_time_column_found(
    key: str, config: DatasetConfig, candidates: Sequence[str], user_columns: Sequence[str]
) -> None:
    if config.time_column is not None and not candidates:
        raise FileRejected(
            key,
            f"the configured time column {config.time_column!r} is not in the file "
            f"(columns: {', '.join(user_columns)})",
            "rename the column in the file or fix time_column in the dataset config",
            column=config.time_column,
        )


def _time_choice(
    key: str,
    dataset: str,
    source: BatchSource,
    candidates: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
    config: DatasetConfig,
    first: FirstPass,
    early: EarlyTimes,
) -> TimeChoice:
    if config.time_column is not None:
        name = candidates[0]
        return configured_time_column(source, name, dtypes[name], config, first.stats[0], early)
    return choose_time_column(
        key, dataset, source, candidates, dtypes, first.stats, first.rows, early
    )


def _reject_if_too_many_rows_fail(
    source: BatchSource,
    key: str,
    dataset: str,
    config: DatasetConfig,
    reader_rejected: Sequence[RejectedRow],
    rows_seen: int,
    rows: int,
    choice: TimeChoice,
) -> None:
    """Reject the file now if the reader's and the time column's rejections exceed the share."""
    rejected = len(reader_rejected) + rows - choice.kept
    if not too_many_rejected(rejected, choice.kept, rows_seen, config):
        return
    # Quote the first rejected rows: one pass over two columns, keeping a handful.
    first = list(reader_rejected[:QUOTED_REJECTIONS])
    if choice.column is not None:
        # every column the time is made of (a date's parts, a time of day beside its date)
        for batch in source.batches([LINE_COLUMN, *dict.fromkeys(choice.expr.meta.root_names())]):
            bad = split_by_time(batch, choice.expr, choice.facts.date_parts or choice.column)[1]
            first = sorted([*first, *bad])[:QUOTED_REJECTIONS]
    raise rejection_error(key, first, rejected, rows_seen, config, dataset)


def _output_columns(
    key: str, dataset: str, config: DatasetConfig, user_columns: list[str]
) -> list[str]:
    """The user columns to write: all, or those of `dimensions` (in file order)."""
    if config.dimensions is None:
        return user_columns
    resolved = {d: resolve_column(d, user_columns) for d in config.dimensions}
    missing = [d for d, name in resolved.items() if name is None]
    if missing:
        raise FileRejected(
            key,
            f"configured dimensions {missing} are not in the file (columns: {user_columns})",
            f"fix dimensions for dataset {dataset!r} in the dataset config",
            column=missing[0],
        )
    chosen = set(resolved.values())
    return [c for c in user_columns if c in chosen]


def _duration_notes(columns: Sequence[str], dtypes: Mapping[str, pl.DataType]) -> list[str]:
    """Durations (Parquet's) have no Druid type: they are written as whole milliseconds."""
    durations = [c for c in columns if isinstance(dtypes[c], pl.Duration)]
    if not durations:
        return []
    return [f"durations stored as whole milliseconds (Druid long) in: {', '.join(durations)}"]


def _reject_oversized_values(
    source: BatchSource,
    columns: Sequence[str],
    texts: Sequence[str],
    longest: Mapping[str, int | None],
    config: DatasetConfig,
    dataset: str,
) -> None:
    for name in texts:
        if name in columns and (longest[name] or 0) > config.max_value_bytes:
            raise oversized_value_error(source, name, config, dataset)


def _uints_beyond_druid_long(
    source: BatchSource,
    columns: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
    time: pl.Expr,
) -> frozenset[str]:
    """UInt64 columns to write as text: a value among the kept rows overflows Druid's long."""
    uints = [c for c in columns if dtypes[c] == pl.UInt64]
    if not uints:
        return frozenset()
    keep = time.is_not_null()
    maxima = aggregate(source, {c: Aggregation(pl.col(c).filter(keep).max(), "max") for c in uints})
    return frozenset(c for c in uints if overflows_druid_long(maxima[c]))
