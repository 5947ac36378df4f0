"""Choosing the time column by its values, when the dataset config names none.

Every column of a type that may hold times is scored over the whole file: `candidate_stat_exprs`
(cheap aggregations in the planner's first pass), `screen_candidate` (numbers outside plausible
epoch years, clock times, date parts and plain text are out), `assess_candidate` (after the
second pass counted the values that parse), `rank_candidates` (the best first). Names only break
ties, and keep identifiers out of the epoch guess.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, NamedTuple

import polars as pl

from ingest_pipeline.validation.timing import (
    AUTO_DETECT_MIN_PARSE_SHARE,
    LOCAL_DATE_FIX,
    TIME_NAME_HINTS,
    UNDECIDED_LOCAL_DATES,
    TimePlan,
    epoch_unit_of,
    local_date_order,
    local_date_stat_exprs,
    time_candidates,
    time_stat_exprs,
)
from ingest_pipeline.vocabulary import FileRejected

TimeKind = Literal["timestamp", "date"]
# Epoch numbers are a time only if every value falls in these years (in the unit the largest
# value implies): counts, ids, durations and clock times land in 1970 or far beyond 2100.
EPOCH_PLAUSIBLE_MS: Final = (31_536_000_000, 4_102_444_800_000)  # 1971-01-01 .. 2100-01-01
EPOCH_PLAUSIBLE_YEARS: Final = "1971..2099"
_MS_PER_UNIT: Final[Mapping[str, float]] = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
# Text that can parse without a time_format starts with a yyyy-mm-dd (or yyyy/mm/dd) date.
_ISO_DATE_TEXT = r"^\s*\d{4}[-/]\d{2}[-/]\d{2}"
_ISO_TIMED_TEXT = _ISO_DATE_TEXT + r"(T|\s+)\d"
_IDENTIFIER_NAME = re.compile(r"(^|_)(id|ids|key|code|number|num|no|zip|zipcode|phone|count)$")
_DATE_PART_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "year": (1000, 2999),
    "month": (1, 12),
    "day": (1, 31),
    "hour": (0, 24),
    "minute": (0, 60),
    "second": (0, 61),
    "week": (0, 53),
    "weekday": (0, 7),
    "dow": (0, 7),
    "quarter": (1, 4),
}
_DURATION_NAME = re.compile(
    r"(^|_)(delay|duration|elapsed|time|secs?|seconds|mins?|minutes|hours?|ms|millis|age)$"
)


class TimeCandidate(NamedTuple):
    """One column scored as the time column (see `assess_candidate`).

    `kind` is None when the column cannot be the time column; `reason` says why, or what it is.
    """

    column: str
    kind: TimeKind | None
    evidence: Literal["typed", "text", "epoch", "none"]  # typed beats text beats epoch numbers
    values: int  # non-null values
    parsed: int  # values that parse to a time: the rows this column gives a time
    reason: str
    name_rank: int  # 2: an exact time name, 1: named like a time, 0: a neutral name

    def describe(self, verdict: str) -> dict[str, Any]:
        """The JSON entry of the validation report."""
        return {
            "column": self.column,
            "verdict": verdict,
            "kind": self.kind or "not a time",
            "values": self.values,
            "rows_with_time": self.parsed,
            "reason": self.reason,
        }


def may_be_time(dtype: pl.DataType) -> bool:
    """Whether a column of `dtype` is scored as a possible time column at all."""
    return (
        dtype == pl.String
        or dtype == pl.Date
        or isinstance(dtype, pl.Datetime)
        or dtype.is_numeric()
    )


def candidate_stat_exprs(name: str, dtype: pl.DataType) -> dict[str, pl.Expr]:
    """Cheap whole-column aggregations `screen_candidate` needs (run in the planner's first pass).

    Min/max/count statistics for numbers; two anchored pattern counts for text.
    """
    column = pl.col(name)
    stats = {"n": column.count()}
    if dtype.is_numeric():
        stats |= {
            "min": column.min(),
            "max": column.max(),
            "max_abs": column.cast(pl.Float64, strict=False).abs().max(),
        }
        if dtype.is_integer():
            # clock times (HHMM) never have a minute part of 60 or more
            stats["hhmm_bad"] = (column.cast(pl.Int64, strict=False) % 100 >= 60).sum()
    elif dtype == pl.String:
        stats |= {
            "iso_like": column.str.contains(_ISO_DATE_TEXT).sum(),
            "timed": column.str.contains(_ISO_TIMED_TEXT).sum(),
        }
        stats |= local_date_stat_exprs(name)
        if time_candidates([name]):  # epoch numbers as text count only under a time name
            stats |= time_stat_exprs(name, dtype, None)
    return stats


def _name_rank(name: str) -> int:
    lowered = name.lower()
    if lowered in TIME_NAME_HINTS:
        return 2
    return 1 if time_candidates([name]) else 0


def _in_years(ms: float) -> str:
    """An epoch in ms as a rough date (years far out of range are shown as a year)."""
    try:
        return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)).date().isoformat()
    except (OverflowError, ValueError):  # beyond datetime's years 1..9999, infinite or NaN
        return f"year {1970 + ms / 3.15576e10:.0f}" if math.isfinite(ms) else str(ms)


def _number_reason(name: str, stats: Mapping[str, Any]) -> str | None:
    """Why numbers are no epoch times (None: they may be, in a plausible range)."""
    low, high = stats["min"], stats["max"]
    lowered = name.lower()
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"numbers with NaN or infinite values ({low}..{high}), not epoch times"
    if isinstance(low, int) and isinstance(high, int):
        time_named = bool(time_candidates([name]) or _DURATION_NAME.search(lowered))
        for part, (first, last) in _DATE_PART_RANGES.items():
            if (lowered == part or lowered.endswith("_" + part)) and first <= low <= high <= last:
                return f"date part ({part} {low}..{high}), not a timestamp"
        if 1000 <= low <= high <= 2999 and ("year" in lowered or not time_named):
            return f"years ({low}..{high}), not timestamps"
        # HHMM: no minute part of 60 or more, among enough values (or under a time name)
        if (
            0 <= low <= high <= 2400
            and high >= 100
            and stats.get("hhmm_bad") == 0
            and (stats["n"] >= 50 or time_named)
        ):
            return f"clock times as HHMM integers ({low}..{high}), not timestamps"
    if _IDENTIFIER_NAME.search(lowered):
        return "named like an identifier or a count, not taken as epoch numbers"
    unit = epoch_unit_of(stats["max_abs"])
    first_ms, last_ms = (float(v) * _MS_PER_UNIT[unit] for v in (low, high))
    if EPOCH_PLAUSIBLE_MS[0] <= first_ms <= last_ms < EPOCH_PLAUSIBLE_MS[1]:
        return None
    what = "durations" if _DURATION_NAME.search(lowered) else "numbers"
    return (
        f"{what} ({low}..{high}), not epoch times: as epoch {unit} they would span "
        f"{_in_years(first_ms)} .. {_in_years(last_ms)}, outside {EPOCH_PLAUSIBLE_YEARS}"
    )


def screen_candidate(name: str, dtype: pl.DataType, stats: Mapping[str, Any]) -> TimePlan | str:
    """From the first-pass statistics: how to parse the column, or why it is no time column.

    Integers in the yyyymmdd range come back as TimePlan("yyyymmdd"): the second pass counts
    which of them are dates (as epoch seconds they would all be in 1970: no time either way).
    """
    if stats["n"] == 0:
        return "all values are null"
    if isinstance(dtype, pl.Datetime):
        return TimePlan("datetime")
    if dtype == pl.Date:
        return TimePlan("date")
    if dtype.is_numeric():
        low, high = stats["min"], stats["max"]
        if dtype.is_integer() and 10000101 <= low <= high <= 99991231:
            return TimePlan("yyyymmdd")
        reason = _number_reason(name, stats)
        return reason if reason else TimePlan("epoch", epoch_unit_of(stats["max_abs"]))
    if dtype == pl.String:
        epoch_like = stats.get("max_abs") is not None  # only under a time name
        half = AUTO_DETECT_MIN_PARSE_SHARE * stats["n"]
        if stats["iso_like"] < half and not epoch_like and stats.get("local_like", 0) >= half:
            order = local_date_order(stats)
            return order if isinstance(order, str) else TimePlan("local", day_first=order)
        if stats["iso_like"] < half and not epoch_like:
            return (
                f"text, not times: {stats['iso_like']} of {stats['n']} values start with a "
                "yyyy-mm-dd date"
            )
        return TimePlan("text", epoch_unit_of(stats.get("max_abs")))
    return "not a type that holds times"


def assess_candidate(
    name: str, plan: TimePlan, stats: Mapping[str, Any], parsed: int
) -> TimeCandidate:
    """The column's score once the second pass counted the values that parse by `plan`."""
    values = stats["n"]
    rank = _name_rank(name)

    def no(reason: str) -> TimeCandidate:
        return TimeCandidate(name, None, "none", values, parsed, reason, rank)

    if plan.how == "yyyymmdd" and parsed < values:
        return no(
            f"numbers ({stats['min']}..{stats['max']}), not dates: {values - parsed} are no "
            "yyyymmdd date, and as epoch seconds they would all fall in 1970"
        )
    if parsed == 0 or parsed < AUTO_DETECT_MIN_PARSE_SHARE * values:
        return no(f"only {parsed} of {values} values parse as times")
    share = f"{parsed} of {values} values parse"
    if plan.how == "datetime":
        return TimeCandidate(name, "timestamp", "typed", values, parsed, "timestamps", rank)
    if plan.how == "date":
        return TimeCandidate(name, "date", "typed", values, parsed, "dates only", rank)
    if plan.how == "yyyymmdd":
        return TimeCandidate(name, "date", "text", values, parsed, "yyyymmdd dates only", rank)
    if plan.how == "epoch":
        low, high = (float(stats[k]) * _MS_PER_UNIT[plan.unit or "s"] for k in ("min", "max"))
        reason = f"epoch {plan.unit} ({_in_years(low)} .. {_in_years(high)})"
        return TimeCandidate(name, "timestamp", "epoch", values, parsed, reason, rank)
    if plan.how == "local":
        order = "day first" if plan.day_first else "month first"
        if stats.get("local_timed", 0) * 2 >= parsed:
            reason = f"timestamps ({order}): {share}"
            return TimeCandidate(name, "timestamp", "text", values, parsed, reason, rank)
        reason = f"dates only ({order}): {share}"
        return TimeCandidate(name, "date", "text", values, parsed, reason, rank)
    timed = stats.get("timed", 0)
    if timed * 2 >= parsed:
        reason = f"timestamps: {share}"
        return TimeCandidate(name, "timestamp", "text", values, parsed, reason, rank)
    if stats.get("iso_like", 0) * 2 < parsed:  # mostly epoch numbers as text
        reason = f"epoch {plan.unit} as text: {share}"
        return TimeCandidate(name, "timestamp", "epoch", values, parsed, reason, rank)
    return TimeCandidate(name, "date", "text", values, parsed, f"dates only: {share}", rank)


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


def losing_reason(loser: TimeCandidate, winner: TimeCandidate) -> str:
    """Why a usable candidate lost to the winner (the first score component that differs)."""
    ours, theirs = candidate_score(loser), candidate_score(winner)
    if ours[0] != theirs[0]:
        return f"gives fewer rows a time ({loser.parsed}) than {winner.column!r} ({winner.parsed})"
    if ours[1] != theirs[1]:
        return f"dates only, {winner.column!r} has full timestamps"
    if ours[2] != theirs[2]:
        return f"epoch numbers rank below {winner.column!r}'s typed or ISO 8601 times"
    if ours[3] != theirs[3]:
        return f"{winner.column!r} is named more like a time"
    return f"as good, but {winner.column!r} comes first in name order"


def reject_undecided_local_dates(key: str, dataset: str, scored: Sequence[TimeCandidate]) -> None:
    """Dates like 03/01/2024 in every row and nothing else holds a time: a constant time
    would hide them, either order may be wrong. The file waits for the person to say."""
    for candidate in scored:
        if candidate.reason.startswith(UNDECIDED_LOCAL_DATES):
            raise FileRejected(
                key,
                f"column {candidate.column!r} holds {candidate.reason}",
                f"{LOCAL_DATE_FIX}:\n{dataset}:\n  time_column: {candidate.column}\n"
                '  time_format: "%d/%m/%Y"',
                column=candidate.column,
            )


def is_time_like(reason: str) -> bool:
    """Whether an excluded column looked like time of some kind (worth a line in the report);
    other numbers and text are listed only under a time name."""
    return reason.startswith(
        (
            "date part",
            "years",
            "clock times",
            "durations",
            "named like an identifier",
            UNDECIDED_LOCAL_DATES,
        )
    )
