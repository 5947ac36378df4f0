"""Choosing the time column by its values, when the dataset config names none.

Every column of a type that may hold times is scored over the whole file: `candidate_stat_exprs`
(cheap aggregations in the planner's first pass), `screen_candidate` (numbers outside plausible
epoch years, clock times, date parts and plain text are out), `assess_candidate` (after the
second pass counted the values that parse), `rank_candidates` (the best first). Names only break
ties, and keep identifiers out of the epoch guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, NamedTuple

import polars as pl

from ingest_pipeline.findings import CandidateVerdict, TimeCandidateReport, TimeKind
from ingest_pipeline.validation.excel_days import excel_day
from ingest_pipeline.validation.local_dates import (
    LOCAL_DATE_FIX,
    SHORT_YEARS_NOTE,
    local_date_order,
    local_date_stat_exprs,
)
from ingest_pipeline.validation.number_times import (
    epoch_span,
    may_be_excel_days,
    may_be_yyyymmdd,
    number_reason,
)
from ingest_pipeline.validation.stats import ColumnStats, Stat
from ingest_pipeline.validation.time_reasons import (
    AllNull,
    DateOrder,
    Loss,
    NotDateText,
    NotTime,
    NotYyyymmdd,
    TimeFormat,
    TooFewParse,
    UndecidedLocalDates,
    UntimelyType,
)
from ingest_pipeline.validation.time_text import text_stat_exprs
from ingest_pipeline.validation.timing import (
    AUTO_DETECT_MIN_PARSE_SHARE,
    TIME_NAME_HINTS,
    TimePlan,
    epoch_unit_of,
    time_candidates,
    time_stat_exprs,
)
from ingest_pipeline.vocabulary import FileRejected

Evidence = Literal["typed", "text", "epoch", "none"]


class TimeCandidate(NamedTuple):
    """One column scored as the time column (see `assess_candidate`).

    `kind` is None when the column cannot be the time column: `not_time` says why. Otherwise
    `format` says how its values parse (`span`: the epoch range, as dates)."""

    column: str
    kind: TimeKind | None
    evidence: Evidence  # typed beats text beats epoch numbers
    values: int  # non-null values
    parsed: int  # values that parse to a time: the rows this column gives a time
    name_rank: int  # 2: an exact time name, 1: named like a time, 0: a neutral name
    format: TimeFormat | None = None
    not_time: NotTime | None = None
    plan: TimePlan | None = None
    span: tuple[str, str] | None = None  # epoch numbers: first .. last, as dates
    short_years: int = 0  # day-month or month-day text: values with a year in 2 digits
    date_order: DateOrder | None = None  # day-month or month-day text: what decided its order

    @property
    def reason(self) -> str:
        """Why it is no time, or what kind of time it holds (a sentence for the report)."""
        if self.not_time is not None:
            return self.not_time.message()
        share = f"{self.parsed} of {self.values} values parse"
        what = "timestamps" if self.kind == "timestamp" else "dates only"
        unit = self.plan.unit if self.plan is not None else None
        if self.format in (TimeFormat.TYPED_TIMESTAMP, TimeFormat.TYPED_DATE):
            return what
        if self.format is TimeFormat.YYYYMMDD:
            return "yyyymmdd dates only"
        if self.format is TimeFormat.EPOCH and self.span is not None:
            return f"epoch {unit} ({self.span[0]} .. {self.span[1]})"
        if self.format is TimeFormat.EXCEL and self.span is not None:
            return f"{self.format} ({self.span[0]} .. {self.span[1]}): {share}"
        if self.format is TimeFormat.EPOCH_TEXT:
            return f"epoch {unit} as text: {share}"
        years = f", {SHORT_YEARS_NOTE}" if self.short_years else ""
        if self.format in (TimeFormat.DAY_FIRST, TimeFormat.MONTH_FIRST):
            first = TimeFormat.DAY_FIRST
            order = self.date_order or (
                DateOrder.DAY_FIRST if self.format is first else DateOrder.MONTH_FIRST
            )
            return f"{what} ({order.value}{years}): {share}"
        return f"{what}{f' ({years[2:]})' if years else ''}: {share}"

    @property
    def time_like(self) -> bool:
        """Usable, or not but looking like time of some kind (worth a line in the report)."""
        return self.kind is not None or (self.not_time is not None and self.not_time.time_like)

    def describe(self, verdict: CandidateVerdict, lost_to: str = "") -> TimeCandidateReport:
        """The report's entry (`lost_to`: why the winner beat it)."""
        return TimeCandidateReport(
            column=self.column,
            verdict=verdict,
            reason=f"{self.reason}; {lost_to}" if lost_to else self.reason,
            kind=self.kind,
            values=self.values,
            rows_with_time=self.parsed,
            format=self.format.value if self.format is not None else None,
        )


def not_a_time(name: str, values: int, why: NotTime) -> TimeCandidate:
    return TimeCandidate(name, None, "none", values, 0, 0, not_time=why)


def may_be_time(dtype: pl.DataType) -> bool:
    """Whether a column of `dtype` is scored as a possible time column at all."""
    return (
        dtype == pl.String
        or dtype == pl.Date
        or isinstance(dtype, pl.Datetime)
        or dtype.is_numeric()
    )


def candidate_stat_exprs(name: str, dtype: pl.DataType) -> dict[Stat, pl.Expr]:
    """Cheap whole-column aggregations `screen_candidate` needs (run in the planner's first pass).

    Min/max/count statistics for numbers; anchored pattern counts for text.
    """
    column = pl.col(name)
    stats = {Stat.N: column.count()}
    if dtype.is_numeric():
        stats |= {
            Stat.MIN: column.min(),
            Stat.MAX: column.max(),
            Stat.MAX_ABS: column.cast(pl.Float64, strict=False).abs().max(),
        }
        if dtype.is_integer():
            # clock times (HHMM) never have a minute part of 60 or more
            stats[Stat.HHMM_BAD] = (column.cast(pl.Int64, strict=False) % 100 >= 60).sum()
    elif dtype == pl.String:
        stats |= text_stat_exprs(name) | local_date_stat_exprs(name)
        if time_candidates([name]):  # epoch numbers as text count only under a time name
            stats |= time_stat_exprs(name, dtype, None)
    return stats


def _name_rank(name: str) -> int:
    lowered = name.lower()
    if lowered in TIME_NAME_HINTS:
        return 2
    return 1 if time_candidates([name]) else 0


def screen_candidate(name: str, dtype: pl.DataType, stats: ColumnStats) -> TimePlan | NotTime:
    """From the first-pass statistics: how to parse the column, or why it is no time column.

    Integers in the yyyymmdd range come back as TimePlan("yyyymmdd"): the second pass counts
    which of them are dates (as epoch seconds they would all be in 1970: no time either way).
    """
    if stats.n == 0:
        return AllNull()
    if isinstance(dtype, pl.Datetime):
        return TimePlan("datetime")
    if dtype == pl.Date:
        return TimePlan("date")
    if dtype.is_numeric():
        if dtype.is_integer() and may_be_yyyymmdd(name, stats):
            return TimePlan("yyyymmdd")
        if may_be_excel_days(name, stats):
            return TimePlan("excel")
        reason = number_reason(name, stats)
        return reason if reason else TimePlan("epoch", epoch_unit_of(stats.max_abs))
    if dtype == pl.String:
        epoch_like = stats.max_abs is not None  # only under a time name
        half = AUTO_DETECT_MIN_PARSE_SHARE * stats.n
        if stats.dated < half and not epoch_like:
            if stats.local_like < half:
                return NotDateText(stats.dated, stats.n)
            order = local_date_order(stats)
            if isinstance(order, NotTime):
                return order
            return TimePlan("local", day_first=order.day_first)
        return TimePlan("text", epoch_unit_of(stats.max_abs))
    return UntimelyType()


def assess_candidate(name: str, plan: TimePlan, stats: ColumnStats, parsed: int) -> TimeCandidate:
    """The column's score once the second pass counted the values that parse by `plan`."""
    values, rank = stats.n, _name_rank(name)
    if plan.how == "yyyymmdd" and parsed < values:
        assert isinstance(stats.min, int) and isinstance(stats.max, int)
        why: NotTime = NotYyyymmdd(stats.min, stats.max, values - parsed)
        return TimeCandidate(name, None, "none", values, parsed, rank, not_time=why)
    if parsed == 0 or parsed < AUTO_DETECT_MIN_PARSE_SHARE * values:
        why = TooFewParse(parsed, values)
        return TimeCandidate(name, None, "none", values, parsed, rank, not_time=why)
    kind, evidence, fmt = _what_parses(plan, stats, parsed)
    span = None
    if fmt is TimeFormat.EPOCH:
        assert stats.min is not None and stats.max is not None
        span = epoch_span(stats.min, stats.max, plan.unit or "s")
    elif fmt is TimeFormat.EXCEL:
        assert stats.min is not None and stats.max is not None
        span = excel_day(stats.min), excel_day(stats.max)
    short_years = stats.local_short_years if plan.how == "local" else stats.named_short_years
    order = local_date_order(stats) if plan.how == "local" else None
    date_order = order if isinstance(order, DateOrder) else None
    return TimeCandidate(
        name, kind, evidence, values, parsed, rank, fmt, None, plan, span, short_years, date_order
    )


def _what_parses(
    plan: TimePlan, stats: ColumnStats, parsed: int
) -> tuple[TimeKind, Evidence, TimeFormat]:
    """The kind of time a usable column gives, the evidence for it and how its values parse."""
    if plan.how == "datetime":
        return "timestamp", "typed", TimeFormat.TYPED_TIMESTAMP
    if plan.how == "date":
        return "date", "typed", TimeFormat.TYPED_DATE
    if plan.how == "yyyymmdd":
        return "date", "text", TimeFormat.YYYYMMDD
    if plan.how == "epoch":
        return "timestamp", "epoch", TimeFormat.EPOCH
    if plan.how == "excel":
        return ("date" if isinstance(stats.max, int) else "timestamp"), "epoch", TimeFormat.EXCEL
    if plan.how == "local":
        fmt = TimeFormat.DAY_FIRST if plan.day_first else TimeFormat.MONTH_FIRST
        return ("timestamp" if stats.local_timed * 2 >= parsed else "date"), "text", fmt
    if (stats.timed + stats.named_timed) * 2 >= parsed:
        return "timestamp", "text", _text_format(stats)
    if stats.dated * 2 < parsed:  # mostly epoch numbers as text
        return "timestamp", "epoch", TimeFormat.EPOCH_TEXT
    return "date", "text", _text_format(stats)


def _text_format(stats: ColumnStats) -> TimeFormat:
    return TimeFormat.MONTH_NAME if stats.named_like > stats.iso_like else TimeFormat.ISO


_KINDS: Final = {"timestamp": 1, "date": 0}
_EVIDENCE: Final = {"typed": 2, "text": 1, "epoch": 0, "none": -1}


def candidate_score(candidate: TimeCandidate) -> tuple[int, int, int, int]:
    """Higher is better: rows given a time, full timestamps over dates, typed or ISO values over
    epoch numbers, then an exact time name over a time-like name over a neutral one."""
    return (
        candidate.parsed,
        _KINDS.get(candidate.kind or "", -1),
        _EVIDENCE[candidate.evidence],
        candidate.name_rank,
    )


class Ranking(NamedTuple):
    """The usable candidates best first; `tied`: the neutral-named ones as good as the best."""

    usable: list[TimeCandidate]
    tied: list[TimeCandidate]


def rank_candidates(candidates: Sequence[TimeCandidate]) -> Ranking:
    """Order the usable candidates; ties go to the name order of `time_candidates`, then the
    column order (a stable sort of the candidates as given: time names first, in hint order).

    Among columns without any time in their name nothing says which is meant: all of those as
    good as the best are `tied` (the caller rejects the file unless their values agree).
    """
    usable = sorted((c for c in candidates if c.kind), key=candidate_score, reverse=True)
    if not usable:
        return Ranking([], [])
    best = candidate_score(usable[0])
    tied = [c for c in usable if candidate_score(c) == best] if best[3] == 0 else []
    return Ranking(usable, tied if len(tied) > 1 else [])


def loss(loser: TimeCandidate, winner: TimeCandidate) -> Loss:
    """Why a usable candidate lost to the winner (the first score component that differs)."""
    ours, theirs = candidate_score(loser), candidate_score(winner)
    for i, why in enumerate((Loss.FEWER_ROWS, Loss.DATES_ONLY, Loss.EPOCH_BELOW, Loss.NAMED_LESS)):
        if ours[i] != theirs[i]:
            return why
    return Loss.NAME_ORDER


def losing_reason(loser: TimeCandidate, winner: TimeCandidate) -> str:
    """`loss` as a sentence."""
    return loss(loser, winner).message(loser.column, loser.parsed, winner.column, winner.parsed)


def reject_undecided_local_dates(key: str, dataset: str, scored: Sequence[TimeCandidate]) -> None:
    """Dates like 03/01/2024 in every row and nothing else holds a time: a constant time
    would hide them, either order may be wrong. The file waits for the person to say."""
    for candidate in scored:
        if isinstance(candidate.not_time, UndecidedLocalDates):
            raise FileRejected(
                key,
                f"column {candidate.column!r} holds {candidate.reason}",
                f"{LOCAL_DATE_FIX}:\n{dataset}:\n  time_column: {candidate.column}\n"
                '  time_format: "%d/%m/%Y"',
                column=candidate.column,
            )
