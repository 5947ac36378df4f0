"""Which column __time comes from: the configured one, or the best by its values.

Without a configured column every candidate is screened by the first pass's statistics, the
ones left are parsed over the whole file (once: the winner's values wait for the conversion
pass) and ranked (`time_scoring`). The choice comes with its facts (`findings.TimeFacts`): each
candidate's verdict, the time-like columns left unused, the constant time if none was used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import NamedTuple

import polars as pl

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.findings import (
    CandidateVerdict,
    ConstantTime,
    TimeCandidateReport,
    TimeFacts,
    UnusedTimeColumn,
    time_column_lines,
)
from ingest_pipeline.validation.date_parts import DatePartsSearch, date_expr, find_date_parts
from ingest_pipeline.validation.early_times import EarlyTimes
from ingest_pipeline.validation.source import Aggregation, BatchSource, KeptColumn, aggregate
from ingest_pipeline.validation.stats import ColumnStats
from ingest_pipeline.validation.time_of_day import find_time_of_day, with_time_of_day
from ingest_pipeline.validation.time_scoring import (
    TimeCandidate,
    assess_candidate,
    losing_reason,
    not_a_time,
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
)
from ingest_pipeline.vocabulary import CONSTANT_TIME, FileRejected


class TimeChoice(NamedTuple):
    """The column __time comes from, how it is parsed, and how many rows it gives a time."""

    column: str | None  # None: every row gets CONSTANT_TIME
    expr: pl.Expr
    kept: int
    facts: TimeFacts = TimeFacts()
    warning: str | None = None  # auto-detected: what was chosen over what
    values: KeptColumn | None = None  # `expr` over every batch, computed while choosing


def configured_time_column(
    source: BatchSource,
    name: str,
    dtype: pl.DataType,
    config: DatasetConfig,
    stats: ColumnStats,
    early: EarlyTimes,
) -> TimeChoice:
    """The configured column, parsed by `time_format` or by its values; it always wins."""
    plan = time_plan(dtype, config.time_format, stats)
    expr = time_expr(name, dtype, config.time_format, plan)
    kept = early.values(source, {0: plan}, {0: expr})[0]
    parsed = sum(values.count() for values in kept.batches())
    chosen = TimeCandidateReport(name, CandidateVerdict.CHOSEN, "the configured time_column")
    return TimeChoice(name, expr, parsed, TimeFacts(candidates=(chosen,)), None, kept)


class _Scored(NamedTuple):
    candidates: list[TimeCandidate]  # in the order given
    exprs: dict[int, pl.Expr]  # how each usable one (by index) is parsed
    kept: dict[int, KeptColumn]  # its values over every batch


def _score(
    source: BatchSource,
    candidates: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
    stats: Sequence[ColumnStats],
    early: EarlyTimes,
) -> _Scored:
    """Screen every candidate by its statistics, parse those left (in one pass, or none if the
    first pass parsed them already) and score them by the values that parse."""
    screened = {
        i: screen_candidate(name, dtypes[name], stats[i]) for i, name in enumerate(candidates)
    }
    plans = {i: p for i, p in screened.items() if isinstance(p, TimePlan)}
    exprs = {i: time_expr(candidates[i], dtypes[candidates[i]], None, p) for i, p in plans.items()}
    # Parsed once: the values of the chosen column wait for the conversion pass.
    kept = early.values(source, plans, exprs)
    scored = []
    for i, name in enumerate(candidates):
        verdict = screened[i]
        if isinstance(verdict, TimePlan):
            parsed = sum(values.count() for values in kept[i].batches())
            scored.append(assess_candidate(name, verdict, stats[i], parsed))
        else:
            scored.append(not_a_time(name, stats[i].n, verdict))
    return _Scored(scored, exprs, kept)


def choose_time_column(
    key: str,
    dataset: str,
    source: BatchSource,
    candidates: Sequence[str],
    dtypes: Mapping[str, pl.DataType],
    stats: Sequence[ColumnStats],
    rows: int,
    early: EarlyTimes,
) -> TimeChoice:
    """The candidate whose values make the best time column (see `time_scoring.rank_candidates`).

    Columns without a time name that are equally good and disagree reject the file: nothing
    says which is meant. `rows`: the rows of the file (each gets the constant time if no
    column gives the rows a time)."""
    scored = _score(source, candidates, dtypes, stats, early)
    ranking = rank_candidates(scored.candidates)
    if ranking.tied:
        _reject_unless_tied_agree(key, dataset, source, ranking.tied, scored.exprs, candidates)
    named = set(time_candidates(list(candidates)))
    shown = [c for c in scored.candidates if c.time_like or c.column in named]
    if not ranking.usable:
        reject_undecided_local_dates(key, dataset, scored.candidates)
        parts = find_date_parts(source, dtypes, rows, UTC_MS)
        if parts.found is not None:
            return _from_date_parts(parts, source, dtypes, rows, shown, dataset)
        facts = TimeFacts(
            candidates=tuple(c.describe(CandidateVerdict.NOT_A_TIME) for c in shown),
            constant=ConstantTime(tuple((c.column, c.reason) for c in shown)),
        )
        return TimeChoice(None, pl.lit(CONSTANT_TIME, dtype=UTC_MS), rows, facts)
    winner = ranking.usable[0]
    facts = _winner_facts(winner, shown)
    index = candidates.index(winner.column)
    warning = _auto_detected_warning(winner, facts, dataset)
    choice = TimeChoice(
        winner.column, scored.exprs[index], winner.parsed, facts, warning, scored.kept[index]
    )
    if winner.kind != "date":
        return choice
    return _with_time_of_day(choice, source, dtypes, rows)


def _from_date_parts(
    search: DatePartsSearch,
    source: BatchSource,
    dtypes: Mapping[str, pl.DataType],
    rows: int,
    shown: Sequence[TimeCandidate],
    dataset: str,
) -> TimeChoice:
    """No column holds a time, but columns of their own hold a date's parts: their date."""
    parts = search.found
    assert parts is not None
    used = ", ".join(repr(c) for c in parts.columns())
    chosen = TimeCandidateReport(
        parts.year, CandidateVerdict.CHOSEN, f"date parts {used}: {parts.first_instant()}"
    )
    others = [c.describe(CandidateVerdict.NOT_A_TIME) for c in shown]
    warning = (
        f"no column holds a date or time; __time is built from the date parts in {used}: "
        f"{parts.first_instant()}. The columns stay as they are. To use another column set "
        f"in datasets.yaml:\n{time_column_lines(dataset, '<name>')}"
    )
    if search.untaken:
        listed = ", ".join(repr(c) for c in search.untaken)
        warning += (
            f"\nNot used: {listed}, named like a date part but not one in every row, or one "
            "of several such columns"
        )
    facts = TimeFacts(
        candidates=(chosen, *(c for c in others if c.column not in parts.columns())),
        date_parts=parts,
    )
    choice = TimeChoice(parts.year, date_expr(parts, dtypes, UTC_MS), search.dates, facts, warning)
    if parts.day is None or parts.hour is not None:
        return choice
    return _with_time_of_day(choice, source, dtypes, rows)  # a clock column beside the parts


def _with_time_of_day(
    choice: TimeChoice, source: BatchSource, dtypes: Mapping[str, pl.DataType], rows: int
) -> TimeChoice:
    """Dates only: plus the time of day of a column of its own, if one clearly holds it."""
    assert choice.column is not None and choice.warning is not None
    search = find_time_of_day(source, choice.column, dtypes, rows)
    time_of_day = search.found
    if time_of_day is None:
        facts = replace(
            choice.facts,
            times_of_day_untaken=search.ambiguous,
            hours_ending_untaken=search.hours_ending,
        )
        notes = facts.untaken_times_of_day(choice.column)
        if not notes:
            return choice
        return choice._replace(facts=facts, warning="\n".join([choice.warning, *notes]))
    added = (
        f"{choice.warning}\nplus the time of day from {time_of_day.column!r} (a "
        f"{'time of day' if time_of_day.unit != 'hour' else 'whole hour 0..23'} in every row): "
        "__time is each row's date and time. To take the dates alone, set time_column in "
        "datasets.yaml (a configured column is used alone)"
    )
    return choice._replace(
        expr=with_time_of_day(choice.expr, time_of_day, UTC_MS),
        facts=replace(choice.facts, time_of_day=time_of_day),
        warning=added,
        values=None,  # the dates were kept while choosing; the conversion pass adds the time
    )


def _winner_facts(winner: TimeCandidate, shown: Sequence[TimeCandidate]) -> TimeFacts:
    """The report of a choice (the winner first) and the usable columns it left unused."""
    report = [winner.describe(CandidateVerdict.CHOSEN)]
    unused = []
    for loser in shown:
        if loser is winner:
            continue
        if loser.kind is None:
            report.append(loser.describe(CandidateVerdict.NOT_A_TIME))
            continue
        why = losing_reason(loser, winner)
        report.append(loser.describe(CandidateVerdict.LOST, why))
        assert loser.format is not None
        unused.append(
            UnusedTimeColumn(
                loser.column, loser.format.value, loser.parsed, loser.values, winner.column, why
            )
        )
    return TimeFacts(candidates=tuple(report), unused=tuple(unused))


def _auto_detected_warning(winner: TimeCandidate, facts: TimeFacts, dataset: str) -> str:
    warning = f"time column auto-detected: {winner.column!r} ({winner.reason})"
    lines = [f"{c.column!r}: {c.reason}" for c in facts.candidates[1:]]
    if lines:
        warning += (
            f" over {'; '.join(lines)}. To use another column set in datasets.yaml:\n"
            f"{time_column_lines(dataset, '<name>')}"
        )
    return warning


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
    differ = {
        c.column: Aggregation(first.ne_missing(exprs[candidates.index(c.column)]).sum(), "sum")
        for c in tied[1:]
    }
    counts = aggregate(source, differ)
    if not any(counts.values()):
        return
    described = "; ".join(f"{c.column!r} ({c.reason})" for c in tied)
    raise FileRejected(
        key,
        f"the time column is ambiguous: {described} are equally good and give different times",
        f"say which one is the time column in datasets.yaml:\n"
        f"{time_column_lines(dataset, tied[0].column)}",
        column=tied[0].column,
    )


def time_column_warnings(choice: TimeChoice, config: DatasetConfig, dataset: str) -> list[str]:
    """What a person should know of the choice: the constant time, or what was chosen."""
    if choice.facts.constant is not None:
        return [choice.facts.constant.message(dataset)]
    if config.time_column is None and choice.warning:
        return [choice.warning]
    return []
