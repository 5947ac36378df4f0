"""Whole-column statistics of the time candidates: what each is and how batches combine it.

The planner's first pass evaluates `dict[Stat, pl.Expr]` (from `timing.time_stat_exprs` and
`time_scoring.candidate_stat_exprs`) batch by batch; each statistic says how two batches'
values join (`COMBINE`, declared here, not guessed from its name), and the result is read back
as one typed `ColumnStats` per candidate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Final, Literal

Combine = Literal["sum", "min", "max"]  # how one batch's aggregate joins the running one


class Stat(StrEnum):
    """One statistic of a column (the value is the `ColumnStats` field it fills)."""

    N = "n"  # non-null values
    NULLS = "nulls"
    MIN = "min"  # numbers
    MAX = "max"
    MAX_ABS = "max_abs"  # largest magnitude of numbers, or of epoch-like text
    HHMM_BAD = "hhmm_bad"  # integers whose last two digits are no minute (60 or more)
    YMD_NULLS = "ymd_nulls"  # integers that are no yyyymmdd date (nulls included)
    ISO_LIKE = "iso_like"  # text starting with a yyyy-mm-dd date
    ISO_TIMED = "timed"  # ... followed by a time
    NAMED_LIKE = "named_like"  # text dates with an English month name (Jan 1 2000, RFC 2822)
    NAMED_TIMED = "named_timed"  # ... with a time
    NAMED_SHORT_YEARS = "named_short_years"  # ... or a month and year, with a 2-digit year
    LOCAL_LIKE = "local_like"  # dd.mm.yyyy / mm/dd/yyyy text
    LOCAL_TIMED = "local_timed"
    LOCAL_FIRST_MAX = "local_first_max"  # largest number before the first separator
    LOCAL_SECOND_MAX = "local_second_max"  # ... after it
    LOCAL_SAMPLE = "local_sample"  # one such value, quoted in messages
    LOCAL_SHORT_YEARS = "local_short_years"  # ... with a year in 2 digits (1/31/24)
    LOCAL_DOTTED = "local_dotted"  # ... written with dots (31.01.2024)
    LOCAL_FIRST_MIN = "local_first_min"  # smallest number before the first separator
    LOCAL_SECOND_MIN = "local_second_min"  # ... after it

    @property
    def combine(self) -> Combine:
        return COMBINE[self]


COMBINE: Final[Mapping[Stat, Combine]] = {
    Stat.N: "sum",
    Stat.NULLS: "sum",
    Stat.MIN: "min",
    Stat.MAX: "max",
    Stat.MAX_ABS: "max",
    Stat.HHMM_BAD: "sum",
    Stat.YMD_NULLS: "sum",
    Stat.ISO_LIKE: "sum",
    Stat.ISO_TIMED: "sum",
    Stat.NAMED_LIKE: "sum",
    Stat.NAMED_TIMED: "sum",
    Stat.NAMED_SHORT_YEARS: "sum",
    Stat.LOCAL_LIKE: "sum",
    Stat.LOCAL_TIMED: "sum",
    Stat.LOCAL_FIRST_MAX: "max",
    Stat.LOCAL_SECOND_MAX: "max",
    Stat.LOCAL_SAMPLE: "max",
    Stat.LOCAL_SHORT_YEARS: "sum",
    Stat.LOCAL_DOTTED: "sum",
    Stat.LOCAL_FIRST_MIN: "min",
    Stat.LOCAL_SECOND_MIN: "min",
}


@dataclass(frozen=True)
class ColumnStats:
    """The statistics gathered for one column over the whole file (None: not gathered, or no
    value to take the min/max of; the counts are 0 when not gathered)."""

    n: int = 0
    nulls: int = 0
    min: int | float | None = None
    max: int | float | None = None
    max_abs: float | None = None
    hhmm_bad: int | None = None  # gathered for integers only
    ymd_nulls: int = 0
    iso_like: int = 0
    timed: int = 0
    named_like: int = 0
    named_timed: int = 0
    named_short_years: int = 0
    local_like: int = 0
    local_timed: int = 0
    local_first_max: int | None = None
    local_second_max: int | None = None
    local_sample: str | None = None
    local_short_years: int = 0
    local_dotted: int = 0
    local_first_min: int | None = None
    local_second_min: int | None = None

    @classmethod
    def of(cls, values: Mapping[Stat, object]) -> ColumnStats:
        return cls(**{stat.value: value for stat, value in values.items()})  # type: ignore[arg-type]

    @property
    def dated(self) -> int:
        """Text values that start with a date in a format read without a time_format."""
        return self.iso_like + self.named_like


assert set(COMBINE) == set(Stat), "every statistic declares how batches combine it"
assert {f.name for f in fields(ColumnStats)} == {s.value for s in Stat}, "a field per Stat"
