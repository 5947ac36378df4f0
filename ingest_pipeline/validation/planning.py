"""The decisions that need the whole file, made before any batch is converted.

`plan_validation` runs the steps below in order; each either narrows the plan or raises
`FileRejected` with the message `validate` always gave. One pass gathers row count, text sizes
and time statistics and parses the likely time columns (`early_times`); a second parses the
other time candidates, only if any (or a guess was wrong); a third reads UInt64 maxima, only if
there are such columns; for a rejected file only, a pass quotes its first rejected rows, and
for equally good time columns without a time name, a pass compares their times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.naming import describe_renames, druid_safe_column_names, resolve_column
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
    BatchSource,
    Combine,
    KeptColumn,
    aggregate,
    scan,
    unreadable_error,
)
from ingest_pipeline.validation.time_scoring import (
    TimeCandidate,
    assess_candidate,
    candidate_stat_exprs,
    is_time_like,
    losing_reason,
    may_be_time,
    rank_candidates,
    reject_undecided_local_dates,
    screen_candidate,
)
from ingest_pipeline.validation.timing import (
    UTC_MS,
    TimePlan,
    time_candidates,
    time_expr,
    time_plan,
    time_stat_exprs,
)
from ingest_pipeline.vocabulary import (
    CONSTANT_TIME,
    CONSTANT_TIME_ISO,
    LINE_COLUMN,
    FileRejected,
    RejectedRow,
)


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
    columns: list[str]  # output user columns, in order (after `dimensions`)
    uint_as_string: frozenset[str]  # UInt64 columns with values beyond Druid's long
    warnings: list[str]
    time_choice: list[dict[str, Any]]  # the time column candidates and why each won or lost


class TimeChoice(NamedTuple):
    """The column __time comes from, how it is parsed, and how many rows it gives a time."""

    column: str | None  # None: every row gets CONSTANT_TIME
    expr: pl.Expr
    kept: int
    report: list[dict[str, Any]] = []  # each candidate scored, the winner first
    warning: str | None = None  # auto-detected: what was chosen over what
    values: KeptColumn | None = None  # `expr` over every batch, computed while choosing


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
) -> ValidationPlan:
    """Decide names, time column, time parsing and whole-file verdicts from cheap passes.

    `keep_dir`: where the parsed time values wait for the conversion pass (None: in memory).
    `rows`: the rows of `frame`, if the reader knows (see `BatchSource.rows`).
    """
    warnings = list(notes)
    source, dtypes, renamed = _open_source(frame, key, batch_rows, raw_batches)
    source.keep_dir, source.rows = keep_dir, rows
    if renamed:
        warnings.append(renamed)
    user_columns = list(dtypes)
    texts = [name for name, dtype in dtypes.items() if dtype == pl.String]
    candidates = _time_column_candidates(config, dtypes)
    # The likely time columns are parsed in the first pass already (see `early_times`).
    early = EarlyTimes(candidates, dtypes, config.time_format, config.time_column is not None)
    stats, parsed = scan(source, _first_pass(candidates, texts, dtypes, config), early.exprs)
    early.found(parsed)

    rejected_by_reader = sorted(reader_rejected)
    rows_seen = stats["rows"] + len(rejected_by_reader)
    _check_there_are_rows(key, rows_seen)
    _check_configured_time_column_found(key, config, candidates, user_columns)

    if config.time_column is not None:
        choice = _configured_time_column(source, candidates[0], dtypes, config, stats, early)
    else:
        choice = _choose_time_column(key, dataset, source, candidates, dtypes, stats, early)
    warnings += _time_column_warnings(choice, config, dataset)
    _reject_if_too_many_rows_fail(
        source, key, dataset, config, rejected_by_reader, rows_seen, stats["rows"], choice
    )

    columns = _output_columns(key, dataset, config, user_columns)
    _reject_oversized_values(source, columns, texts, stats, config, dataset)
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
        time_choice=choice.report,
    )


# --------------------------------------------------------------------------- steps


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
    candidates: Sequence[str],
    texts: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
    config: DatasetConfig,
) -> dict[str, tuple[pl.Expr, Combine]]:
    """Row count, longest text value per text column, time statistics of each candidate."""
    aggregations: dict[str, tuple[pl.Expr, Combine]] = {"rows": (pl.len(), "sum")}
    for name in texts:
        aggregations[f"bytes.{name}"] = (pl.col(name).str.len_bytes().max(), "max")
    for i, name in enumerate(candidates):
        if config.time_column is not None:
            exprs = {"n": pl.col(name).count()}
            exprs |= time_stat_exprs(name, dtypes[name], config.time_format)
        else:
            exprs = candidate_stat_exprs(name, dtypes[name])
        for stat, expr in exprs.items():
            how: Combine = "min" if stat == "min" else "max" if "max" in stat else "sum"
            aggregations[f"{i}.{stat}"] = (expr, how)
    return aggregations


def _stats_of(i: int, stats: Mapping[str, Any]) -> dict[str, Any]:
    prefix = f"{i}."
    return {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)}


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


def _configured_time_column(
    source: BatchSource,
    name: str,
    dtypes: Mapping[str, pl.DataType],
    config: DatasetConfig,
    stats: Mapping[str, Any],
    early: EarlyTimes,
) -> TimeChoice:
    """The configured column, parsed by `time_format` or by its values; it always wins."""
    plan = time_plan(dtypes[name], config.time_format, _stats_of(0, stats))
    expr = time_expr(name, dtypes[name], config.time_format, plan)
    kept = early.values(source, {0: plan}, {0: expr})[0]
    parsed = sum(values.count() for values in kept.batches())
    report = [{"column": name, "verdict": "chosen", "reason": "the configured time_column"}]
    return TimeChoice(name, expr, parsed, report, None, kept)


def _choose_time_column(
    key: str,
    dataset: str,
    source: BatchSource,
    candidates: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
    stats: Mapping[str, Any],
    early: EarlyTimes,
) -> TimeChoice:
    """The candidate whose values make the best time column (see `time_scoring.rank_candidates`).

    The first pass screened every candidate by cheap statistics; this one parses those left
    over the whole file, counting the values that parse. Columns without a time name that are
    equally good and disagree reject the file: nothing says which is meant.
    """
    screened: dict[int, TimePlan | str] = {}
    exprs: dict[int, pl.Expr] = {}
    for i, name in enumerate(candidates):
        screened[i] = plan = screen_candidate(name, dtypes[name], _stats_of(i, stats))
        if isinstance(plan, TimePlan):
            exprs[i] = time_expr(name, dtypes[name], None, plan)
    # Parsed once: the values of the chosen column wait for the conversion pass.
    plans = {i: p for i, p in screened.items() if isinstance(p, TimePlan)}
    kept = {str(i): v for i, v in early.values(source, plans, exprs).items()}
    counts = {k: sum(values.count() for values in column.batches()) for k, column in kept.items()}
    scored: list[TimeCandidate] = []
    for i, name in enumerate(candidates):
        verdict = screened[i]
        if isinstance(verdict, TimePlan):
            scored.append(assess_candidate(name, verdict, _stats_of(i, stats), counts[str(i)]))
        else:
            values = _stats_of(i, stats)["n"]
            scored.append(TimeCandidate(name, None, "none", values, 0, verdict, 0))
    ranking = rank_candidates(scored)
    if ranking.tied:
        _reject_unless_tied_agree(key, dataset, source, ranking.tied, exprs, candidates)
    named = set(time_candidates(list(candidates)))
    shown = [c for c in scored if c.kind or c.column in named or is_time_like(c.reason)]
    if not ranking.usable:
        reject_undecided_local_dates(key, dataset, scored)
        report = [c.describe("not a time") for c in shown]
        return TimeChoice(None, pl.lit(CONSTANT_TIME, dtype=UTC_MS), stats["rows"], report)
    winner = ranking.usable[0]
    report = [winner.describe("chosen")]
    lines = []
    for loser in shown:
        if loser is winner:
            continue
        if loser.kind:
            entry = loser.describe("lost")
            entry["reason"] = f"{loser.reason}; {losing_reason(loser, winner)}"
        else:
            entry = loser.describe("not a time")
        report.append(entry)
        lines.append(f"{loser.column!r}: {entry['reason']}")
    warning = f"time column auto-detected: {winner.column!r} ({winner.reason})"
    if lines:
        warning += (
            f" over {'; '.join(lines)}. To use another column set in datasets.yaml:\n"
            f"{dataset}:\n  time_column: <name>"
        )
    index = candidates.index(winner.column)
    return TimeChoice(winner.column, exprs[index], winner.parsed, report, warning, kept[str(index)])


def _reject_unless_tied_agree(
    key: str,
    dataset: str,
    source: BatchSource,
    tied: Sequence[TimeCandidate],
    exprs: Mapping[int, pl.Expr],
    candidates: Sequence[str],
) -> None:
    """Equally good columns without a time name: fine if they give every row the same time."""
    first = exprs[candidates.index(tied[0].column)]
    differ: dict[str, tuple[pl.Expr, Combine]] = {
        c.column: (first.ne_missing(exprs[candidates.index(c.column)]).sum(), "sum")
        for c in tied[1:]
    }
    counts = aggregate(source, differ)
    if not any(counts.values()):
        return
    described = "; ".join(f"{c.column!r} ({c.reason})" for c in tied)
    raise FileRejected(
        key,
        f"the time column is ambiguous: {described} are equally good and give different times",
        f"say which one is the time column in datasets.yaml:\n{dataset}:\n"
        f"  time_column: {tied[0].column}",
        column=tied[0].column,
    )


def _time_column_warnings(choice: TimeChoice, config: DatasetConfig, dataset: str) -> list[str]:
    if choice.column is None:
        return [
            f"no time column found: every row gets the constant time {CONSTANT_TIME_ISO}; set "
            f"time_column for dataset {dataset!r} in the dataset config if the data has one"
        ]
    if config.time_column is None and choice.warning:
        return [choice.warning]
    return []


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
        for batch in source.batches([LINE_COLUMN, choice.column]):
            bad = split_by_time(batch, choice.expr, choice.column)[1]
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


def _reject_oversized_values(
    source: BatchSource,
    columns: Sequence[str],
    texts: Sequence[str],
    stats: Mapping[str, Any],
    config: DatasetConfig,
    dataset: str,
) -> None:
    for name in texts:
        if name in columns and (stats[f"bytes.{name}"] or 0) > config.max_value_bytes:
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
    maxima = aggregate(source, {c: (pl.col(c).filter(keep).max(), "max") for c in uints})
    return frozenset(c for c in uints if overflows_druid_long(maxima[c]))
