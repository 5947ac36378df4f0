"""Why a column is or is not the time column, as types: the sentences are made from them.

`NotTime` and its kinds say why a column cannot be the time column (`time_like` says whether
it still looked like time of some kind, worth a line in the report); `TimeFormat` says how a
usable column's values parse; `DateOrder` how day-month text is ordered; `Loss` why a usable
column lost to the winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Final

#: How a column of dates like 03/01/2024 that no value orders is described in reports.
UNDECIDED_LOCAL_DATES: Final = "dates whose day and month order no value decides"
EPOCH_PLAUSIBLE_YEARS: Final = "1971..2099"


class TimeFormat(StrEnum):
    """How the values of a usable time column parse (shown in the report and the checks)."""

    TYPED_TIMESTAMP = "typed timestamps"
    TYPED_DATE = "typed dates"
    YYYYMMDD = "yyyymmdd numbers"
    EPOCH = "epoch numbers"
    EPOCH_TEXT = "epoch numbers as text"
    EXCEL = "Excel day numbers"  # days since 1899-12-30, as a spreadsheet's General format
    ISO = "ISO 8601 text"
    MONTH_NAME = "dates with English month names (Jan 1 2000, RFC 2822)"
    DAY_FIRST = "day-first dates (dd.mm.yyyy)"
    MONTH_FIRST = "month-first dates (mm/dd/yyyy)"


class DateOrder(Enum):
    """The order of day and month in numeric date text, decided by the column's values."""

    DAY_FIRST = "day first"
    MONTH_FIRST = "month first"
    # No part above 12, yet one order is all but certain:
    # every value written with dots (01.03.2024): day first by convention
    DAY_FIRST_BY_DOTS = "day first, as dates with dots are written: no part above 12 says"
    # one part 1 in every value, the other not (monthly figures: 1/1/1985, 2/1/1985, ...)
    MONTH_FIRST_BY_FIRSTS = "month first: every date is the 1st of its month"
    DAY_FIRST_BY_FIRSTS = "day first: every date is the 1st of its month"

    @property
    def day_first(self) -> bool:
        return self not in (DateOrder.MONTH_FIRST, DateOrder.MONTH_FIRST_BY_FIRSTS)


@dataclass(frozen=True)
class NotTime:
    """Why a column cannot be the time column."""

    @property
    def time_like(self) -> bool:
        """Whether the column looked like time of some kind (worth a line in the report)."""
        return False

    def message(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class TimeLike(NotTime):
    """A column that looked like time of some kind, yet cannot be the time column."""

    @property
    def time_like(self) -> bool:
        return True


@dataclass(frozen=True)
class AllNull(NotTime):
    def message(self) -> str:
        return "all values are null"


@dataclass(frozen=True)
class UntimelyType(NotTime):
    def message(self) -> str:
        return "not a type that holds times"


@dataclass(frozen=True)
class NonFinite(NotTime):
    low: float
    high: float

    def message(self) -> str:
        return f"numbers with NaN or infinite values ({self.low}..{self.high}), not epoch times"


@dataclass(frozen=True)
class DatePart(TimeLike):
    part: str
    low: int
    high: int

    def message(self) -> str:
        return f"date part ({self.part} {self.low}..{self.high}), not a timestamp"


@dataclass(frozen=True)
class Years(TimeLike):
    low: int
    high: int

    def message(self) -> str:
        return f"years ({self.low}..{self.high}), not timestamps"


@dataclass(frozen=True)
class ClockTimes(TimeLike):
    low: int
    high: int

    def message(self) -> str:
        return f"clock times as HHMM integers ({self.low}..{self.high}), not timestamps"


@dataclass(frozen=True)
class IdentifierName(TimeLike):
    def message(self) -> str:
        return "named like an identifier, a code or a count, not taken as dates or epoch numbers"


@dataclass(frozen=True)
class OutOfEpochRange(NotTime):
    """Numbers that as epoch times (in the unit their largest implies) leave the plausible
    years; `first`/`last`: that span, as dates or years."""

    low: float
    high: float
    unit: str
    first: str
    last: str
    durations: bool  # named like a duration

    @property
    def time_like(self) -> bool:
        return self.durations

    def message(self) -> str:
        what = "durations" if self.durations else "numbers"
        return (
            f"{what} ({self.low}..{self.high}), not epoch times: as epoch {self.unit} they "
            f"would span {self.first} .. {self.last}, outside {EPOCH_PLAUSIBLE_YEARS}"
        )


@dataclass(frozen=True)
class NotDateText(NotTime):
    dated: int  # values in a date format read without a time_format
    values: int

    def message(self) -> str:
        return (
            f"text, not times: {self.dated} of {self.values} values start with a date "
            "(yyyy-mm-dd, or with an English month name)"
        )


@dataclass(frozen=True)
class NotLocalDates(NotTime):
    def message(self) -> str:
        return "text, not dates: numbers above 12 both before and after the first separator"


@dataclass(frozen=True)
class UndecidedLocalDates(TimeLike):
    sample: str

    def message(self) -> str:
        return f"{UNDECIDED_LOCAL_DATES} (no part above 12, e.g. {self.sample.strip()!r})"


@dataclass(frozen=True)
class NotYyyymmdd(NotTime):
    low: int
    high: int
    not_dates: int

    def message(self) -> str:
        return (
            f"numbers ({self.low}..{self.high}), not dates: {self.not_dates} are no yyyymmdd "
            "date, and as epoch seconds they would all fall in 1970"
        )


@dataclass(frozen=True)
class TooFewParse(NotTime):
    parsed: int
    values: int

    def message(self) -> str:
        return f"only {self.parsed} of {self.values} values parse as times"


class Loss(Enum):
    """Why a usable candidate lost to the winner: the first score component that differs."""

    FEWER_ROWS = "fewer rows"
    DATES_ONLY = "dates only"
    EPOCH_BELOW = "epoch below"
    NAMED_LESS = "named less like a time"
    NAME_ORDER = "name order"

    def message(self, loser: str, loser_parsed: int, winner: str, winner_parsed: int) -> str:
        if self is Loss.FEWER_ROWS:
            return f"gives fewer rows a time ({loser_parsed}) than {winner!r} ({winner_parsed})"
        if self is Loss.DATES_ONLY:
            return f"dates only, {winner!r} has full timestamps"
        if self is Loss.EPOCH_BELOW:
            return f"epoch numbers rank below {winner!r}'s typed or ISO 8601 times"
        if self is Loss.NAMED_LESS:
            return f"{winner!r} is named more like a time"
        return f"as good, but {winner!r} comes first in name order"
