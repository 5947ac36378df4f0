"""A date in columns of its own, part by part ("year,country,gdp"; "Year,Month,Passengers";
"year,month,day,hour,minute,..."): when no column holds a date or time, __time is each row's
year, quarter, month, day, hour or minute (its first instant), not one constant time for every
row (a loud but useless result: every time filter and chart of a yearly panel would be wrong).

Taken only when it is safe to: columns named exactly like the part, one per part, holding it in
every row: integers (a year 1000..2999; a month 1..12, or its English name; a quarter 1..4, or
Q1..Q4; a day 1..31 beside a month; an hour 0..23 beside a day; a minute 0..59 beside an hour).
A part left out because two columns are named like it, or because some rows lack it, is not
guessed: the coarser date is taken, and the warning names what was used and what not. A row
whose parts make no date (2023-02-30) is rejected like an unparseable time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, NamedTuple

import polars as pl

from ingest_pipeline.findings import DateParts
from ingest_pipeline.validation.source import Aggregation, BatchSource, aggregate
from ingest_pipeline.validation.time_text import naive_utc

Part = Literal["year", "quarter", "month", "day", "day_of_year", "hour", "minute"]

# Exact names (lower case) of each part in English, German, French, Spanish, Italian, Dutch, and
# the abbreviations of weather and climate data (NASA POWER's YEAR,MO,DY,HR; YEAR,DOY).
_NAMES: Final[Mapping[Part, frozenset[str]]] = {
    "year": frozenset({"year", "yr", "yyyy", "jahr", "annee", "année", "ano", "año", "anio"}
                      | {"anno", "jaar"}),
    "quarter": frozenset({"quarter", "qtr", "quartal", "trimestre", "kwartaal"}),
    "month": frozenset({"month", "mon", "mm", "month_num", "month_number", "monat", "mois"}
                       | {"mes", "mese", "maand", "mo", "mth", "mnth"}),
    "day": frozenset({"day", "dd", "dom", "day_of_month", "dayofmonth", "tag", "jour", "dia"}
                     | {"día", "giorno", "dag", "dy"}),
    # instead of a month and a day: 1..366
    "day_of_year": frozenset({"doy", "day_of_year", "dayofyear", "jday", "julian_day", "yday"}),
    "hour": frozenset({"hour", "hr", "hour_of_day", "hod", "stunde", "heure", "hora", "ora"}
                      | {"uur", "hh"}),
    # not "min": a minimum (of a temperature, say) may hold 0..59 as well
    "minute": frozenset({"minute", "minutes", "minuten", "minuto", "minuut"}),
}  # fmt: skip
#: Integers in these years are years (not epoch seconds, which would all be in 1970's first hour).
PLAUSIBLE_YEARS: Final = (1000, 2999)
_RANGES: Final[Mapping[Part, tuple[int, int]]] = {
    "year": PLAUSIBLE_YEARS,
    "quarter": (1, 4),
    "month": (1, 12),
    "day": (1, 31),
    "day_of_year": (1, 366),
    "hour": (0, 23),
    "minute": (0, 59),
}
_MONTH_NUMBERS: Final = {
    name: number
    for number, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")),
        start=1,
    )
    for name in names
}  # fmt: skip


_NAMED: Final = ("month", "quarter")  # parts that may be text: January, Q1


def _part_of(name: str, dtype: pl.DataType) -> Part | None:
    lower = name.lower()
    for part, names in _NAMES.items():
        if lower in names and (dtype.is_integer() or (dtype == pl.String and part in _NAMED)):
            return part
    return None


def part_expr(name: str, part: Part, dtype: pl.DataType) -> pl.Expr:
    """Column `name` as the integer part (null where a value is none: out of range, or text
    that names no month or quarter)."""
    if dtype == pl.String:
        text = pl.col(name).str.strip_chars().str.to_lowercase()
        if part == "month":
            number = text.str.strip_suffix(".").replace_strict(
                _MONTH_NUMBERS, default=None, return_dtype=pl.Int64
            )
        else:  # a quarter: "Q1", "q1", "1"
            number = text.str.extract(r"^q?([1-4])$", 1).cast(pl.Int64)
    else:
        number = pl.col(name).cast(pl.Int64)
    low, high = _RANGES[part]
    return pl.when((number >= low) & (number <= high)).then(number)


def date_expr(parts: DateParts, dtypes: Mapping[str, pl.DataType], utc_ms: pl.DataType) -> pl.Expr:
    """Each row's first instant from its parts, UTC (null: the parts make no date)."""
    year = part_expr(parts.year, "year", dtypes[parts.year])
    if parts.month is not None:
        month = part_expr(parts.month, "month", dtypes[parts.month])
    elif parts.quarter is not None:
        month = part_expr(parts.quarter, "quarter", dtypes[parts.quarter]) * 3 - 2
    else:
        month = pl.lit(1)
    day = pl.lit(1) if parts.day is None else part_expr(parts.day, "day", dtypes[parts.day])
    hour = pl.lit(0) if parts.hour is None else part_expr(parts.hour, "hour", dtypes[parts.hour])
    minute = (
        pl.lit(0)
        if parts.minute is None
        else part_expr(parts.minute, "minute", dtypes[parts.minute])
    )
    # Through text: pl.datetime raises on a day its month does not have, strptime gives null.
    if parts.day_of_year is not None:  # the 366th day of 2023 is none
        doy = part_expr(parts.day_of_year, "day_of_year", dtypes[parts.day_of_year])
        text = pl.format("{}-{} {}:{}", year, doy, hour, minute)
        return naive_utc(text, "%Y-%j %H:%M").cast(utc_ms)
    text = pl.format("{}-{}-{} {}:{}", year, month, day, hour, minute)
    return naive_utc(text, "%Y-%m-%d %H:%M").cast(utc_ms)


class DatePartsSearch(NamedTuple):
    found: DateParts | None = None
    dates: int = 0  # rows the parts give a date (the others are rejected, like unparseable times)
    # named like a part but left out: several columns for one part, or gaps in some rows
    untaken: tuple[str, ...] = ()


def find_date_parts(
    source: BatchSource, dtypes: Mapping[str, pl.DataType], rows: int, utc_ms: pl.DataType
) -> DatePartsSearch:
    """The year (and quarter or month, and day) columns that give the rows a date, if any:
    one pass counting each named column's parts, one counting the composed dates."""
    named: dict[Part, list[str]] = {part: [] for part in _NAMES}
    for name, dtype in dtypes.items():
        if (part := _part_of(name, dtype)) is not None:
            named[part].append(name)
    if not named["year"] or rows == 0:
        return DatePartsSearch()
    columns = [(name, part) for part, names in named.items() for name in names]
    counts = aggregate(
        source,
        {
            name: Aggregation(part_expr(name, part, dtypes[name]).is_not_null().sum(), "sum")
            for name, part in columns
        },
    )
    whole = {part: [n for n in names if counts[n] == rows] for part, names in named.items()}

    def one(part: Part) -> str | None:
        return whole[part][0] if len(whole[part]) == 1 else None

    year = one("year")
    if year is None:
        return DatePartsSearch(untaken=tuple(name for name, _ in columns))
    month = one("month")
    day = one("day") if month is not None else None
    day_of_year = one("day_of_year") if month is None else None
    hour = one("hour") if day is not None or day_of_year is not None else None
    parts = DateParts(
        year=year,
        month=month,
        quarter=one("quarter") if month is None and day_of_year is None else None,
        day=day,
        day_of_year=day_of_year,
        hour=hour,
        minute=one("minute") if hour is not None else None,
    )
    composed = aggregate(
        source, {"dates": Aggregation(date_expr(parts, dtypes, utc_ms).count(), "sum")}
    )
    untaken = tuple(name for name, _ in columns if name not in parts.columns())
    return DatePartsSearch(parts, composed["dates"], untaken)
