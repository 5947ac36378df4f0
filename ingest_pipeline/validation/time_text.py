"""Time written as text: the shapes read without a time_format, their statistics, their parse.

Three families, each recognised by an anchored regex over the whole column (`text_stat_exprs`;
`local_dates.local_date_stat_exprs`) and parsed row by row:

- ISO 8601: `2024-01-05`, `2024-01-05T13:45:00.123Z`, `2024/01/05 13:45:00`, a month alone
  (`2024-03`, `2024/03`: its first day), a quarter (`2024-Q1`, `Q1 2024`: its first day), with
  or without a
  zone (`+01:00`, `+0100`, `+01`, `Z`, `UTC`, or an abbreviation of one meaning: `CET`, `EST`);
- dates with an English month name (full or 3 letters, any case), day and month in either
  order or after the year, an optional weekday and time: `Jan 1 2000`, `January 5, 2024`,
  `01-Jan-2024`, `5 Jan 2024 13:45`, RFC 2822 `Fri, 05 Jan 2024 13:45:00 +0000`;
- day-month-year or month-day-year numbers (`31.01.2024`, `1/31/2024 1:05 PM`), in the order
  the whole column's values decide (`local_dates.py`).

Epoch numbers written as text (9+ digits) are read too. Naive times are taken as UTC; zoned
ones are converted to UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import polars as pl

from ingest_pipeline.validation.stats import Stat

UTC_MS: Final = pl.Datetime("ms", "UTC")  # the dtype of __time
EpochUnit = Literal["s", "ms", "us", "ns"]

# --------------------------------------------------------------------------- shapes

# Text that can parse as ISO without a time_format starts with a yyyy-mm-dd (or yyyy/mm/dd,
# 2024-3-1, or 2024.03.01 with its zeros: 2024.1.2 may be a version).
ISO_DATE_TEXT: Final = r"^\s*\d{4}(?:[-/]\d{1,2}[-/]\d{1,2}|\.\d{2}\.\d{2})"
ISO_TIMED_TEXT: Final = ISO_DATE_TEXT + r"(T|\s+)\d"
# A month alone (2024-03, 2024/03: monthly figures), in 1900..2099: its first day. The years
# keep codes shaped like it ("1000-10") out.
YEAR_MONTH_TEXT: Final = r"^\s*((?:19|20)\d{2})[-/](0[1-9]|1[0-2])\s*$"
# A quarter (2024-Q1, 2024Q1, Q1 2024: quarterly figures), in 1900..2099: its first day.
QUARTER_TEXT: Final = (
    r"^\s*(?:((?:19|20)\d{2})\s*[-/ ]?\s*[qQ]([1-4])|[qQ]([1-4])\s*[-/ ]?\s*((?:19|20)\d{2}))\s*$"
)
_EPOCH_TEXT = r"^-?\d{9,}(\.\d+)?$"  # 9+ digits: not a year, not a date

_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_MONTH = (  # captured: the name as written (chrono's %B reads full and 3-letter names)
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(\d{4})"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[ap]m)?"
_OFFSET = r"\s*[+-]\d{2}(?::?\d{2})?"
# The three orders of a month-name date; the groups are numbered across them (one matches).
_NAMED_ORDERS: Final = (
    rf"{_MONTH}\s+{_DAY},?\s+{_YEAR}",  # Jan 1, 2000: groups 1-3 month, day, year
    rf"{_DAY}[-\s/.]+{_MONTH}[-\s/.,]+(\d{{4}}|\d{{2}})",  # 01-Jan-2024, 01-JAN-24: 4-6
    rf"{_YEAR}[-\s/]{_MONTH}[-\s/]{_DAY}",  # 2024-Jan-05: 7-9 year, month, day
)
#: Any month-name date, with an optional weekday (RFC 2822), time (10) and UTC offset (11);
#: a zone named Z, UTC or GMT is dropped (naive times are UTC).
NAMED_DATE_TEXT: Final = (
    rf"(?i)^\s*{_WEEKDAY}(?:{'|'.join(_NAMED_ORDERS)})"
    rf"(?:(?:\s*,\s*|\s+|T)({_CLOCK})({_OFFSET})?(?:\s*(?:z|utc|gmt))?)?\s*$"
)
# One replace rewrites every order as "2024-Jan-05 13:45:00 +0100" (unmatched groups are empty).
_NAMED_AS_ISO: Final = "${7}${3}${6}-${1}${5}${8}-${2}${4}${9} ${10}${11}"
# A month and its year alone (March 2024, Mar. 2024; Excel's mmm-yy: Mar-24): its first day. A
# 2-digit year only after a dash or slash: "Mar 24" is more likely the 24th of March.
MONTH_YEAR_TEXT: Final = rf"(?i)^\s*{_MONTH}(?:[-/]\s*(\d{{4}}|\d{{2}})|[\s.,]+(\d{{4}}))\s*$"
# Month-name text with a year in 2 digits (01-Mar-24, Oracle's DD-MON-YY; Mar-24)
_NAMED_SHORT_YEAR: Final = (
    rf"(?i)^\s*(?:{_WEEKDAY}{_DAY}[-\s/.]+{_MONTH}[-\s/.,]+\d{{2}}(?:\D|$)"
    rf"|{_MONTH}[-/]\s*\d{{2}}\s*$)"
)

# one regex of the four (one pass over the text, not four)
_ISO_LIKE_TEXT: Final = "|".join(
    f"(?:{shape})" for shape in (ISO_DATE_TEXT, YEAR_MONTH_TEXT, QUARTER_TEXT, MONTH_YEAR_TEXT)
)


def text_stat_exprs(name: str) -> dict[Stat, pl.Expr]:
    """Whole-column counts of ISO and month-name dates (those with a time, too)."""
    column = pl.col(name)
    named = column.str.contains(NAMED_DATE_TEXT)
    return {
        Stat.ISO_LIKE: column.str.contains(_ISO_LIKE_TEXT).sum(),
        Stat.ISO_TIMED: column.str.contains(ISO_TIMED_TEXT).sum(),
        Stat.NAMED_LIKE: named.sum(),
        # only over the month-name values (none, in most text columns)
        Stat.NAMED_TIMED: column.filter(named).str.contains(r"\d:\d\d").sum(),
        Stat.NAMED_SHORT_YEARS: column.str.contains(_NAMED_SHORT_YEAR).sum(),
    }


# --------------------------------------------------------------------------- parsing


def epoch_expr(values: pl.Expr, integer: bool, unit: EpochUnit) -> pl.Expr:
    """Epoch numbers in `unit` as UTC datetimes (ms)."""
    per_ms = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}[unit]
    if integer:
        # Integer arithmetic: no float rounding of large epoch values.
        ints = values.cast(pl.Int64)
        millis = ints * 1000 if unit == "s" else ints // int(round(1 / per_ms))
    else:
        millis = (values.cast(pl.Float64, strict=False) * per_ms).round(0)
        millis = millis.cast(pl.Int64, strict=False)
    return pl.from_epoch(millis, time_unit="ms").dt.replace_time_zone("UTC")


def epoch_text(text: pl.Expr) -> pl.Expr:
    """Stripped time text that looks like an epoch number, else null."""
    return pl.when(text.str.contains(_EPOCH_TEXT)).then(text)


#: Zone abbreviations that name one offset wherever they are used. Left out, so that such text
#: stays unparsed rather than silently shifted: CST (US Central or China), IST (India, Ireland,
#: Israel), BST (British Summer or Bangladesh), AST (Atlantic or Arabia).
ZONE_OFFSETS: Final = {
    "EST": "-05:00", "EDT": "-04:00", "CDT": "-05:00", "MST": "-07:00", "MDT": "-06:00",
    "PST": "-08:00", "PDT": "-07:00", "AKST": "-09:00", "AKDT": "-08:00", "HST": "-10:00",
    "WET": "+00:00", "WEST": "+01:00", "CET": "+01:00", "CEST": "+02:00", "MET": "+01:00",
    "MEST": "+02:00", "EET": "+02:00", "EEST": "+03:00", "MSK": "+03:00", "JST": "+09:00",
    "KST": "+09:00", "HKT": "+08:00", "SGT": "+08:00", "AWST": "+08:00", "ACST": "+09:30",
    "ACDT": "+10:30", "AEST": "+10:00", "AEDT": "+11:00", "NZST": "+12:00", "NZDT": "+13:00",
}  # fmt: skip
_ZONE_ABBREVIATION = r"\s+([A-Za-z]{3,4})$"


def _zone_abbreviation_as_offset(values: pl.Expr) -> pl.Expr:
    """`2024-01-05 13:45 CET` as `2024-01-05 13:45+01:00` (an unknown abbreviation stays)."""
    named = values.str.extract(_ZONE_ABBREVIATION, 1).str.to_uppercase()
    offset = named.replace_strict(ZONE_OFFSETS, default=None, return_dtype=pl.String)
    without = values.str.replace(_ZONE_ABBREVIATION, "")
    return pl.when(offset.is_not_null()).then(without + offset).otherwise(values)


def _normalised_time_text(values: pl.Expr) -> pl.Expr:
    return (
        _zone_abbreviation_as_offset(values.str.strip_chars())
        .str.replace(
            r"^(\d{4})(?:/(\d{1,2})/(\d{1,2})|\.(\d{2})\.(\d{2}))", "${1}-${2}${4}-${3}${5}"
        )
        .str.replace(YEAR_MONTH_TEXT, "${1}-${2}-01")
        .str.replace(r"^(\d{4}-\d{1,2}-\d{1,2}) +(\d)", "${1}T${2}")
        .str.replace(r"(?i)\s*(z|utc|gmt)$", "+00:00")
    )


# Tried in order; the first that parses a value wins. ISO text is normalised first (see
# `_normalised_time_text`), so "2024-01-02 03:04Z" and "2024/01/02" reach these in ISO shape.
_ZONED_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")  # %#z: +01 too
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
# Month-name dates rewritten by `_named_iso`, the commonest shapes first (a value matches one
# format at most); %#z reads +01, +0100 and +01:00.
_NAMED_FORMATS = (
    "%Y-%B-%d",
    "%Y-%B-%d %H:%M",
    "%Y-%B-%d %H:%M:%S%.f",
    "%Y-%B-%d %I:%M %p",
    "%Y-%B-%d %I:%M:%S %p",
)
_NAMED_ZONED_FORMATS = (
    "%Y-%B-%d %H:%M:%S%.f%#z",
    "%Y-%B-%d %H:%M%#z",
    "%Y-%B-%d %I:%M:%S %p%#z",
    "%Y-%B-%d %I:%M %p%#z",
)
# ISO 8601 in UTC with a "Z", the commonest time text: `_normalised_time_text` would only turn
# its "Z" into "+00:00" for the first zoned format, so parsing it as it is gives the same time.
# Fixed-width shapes first: Polars parses those ~4x faster than the general `%.f`.
_ISO_Z_FORMATS = ("%Y-%m-%dT%H:%M:%S.%3fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S%.fZ")


def _named_iso(text: pl.Expr) -> pl.Expr:
    """Month-name dates as "yyyy-Month-d[ clock[offset]]" (others unchanged: they do not parse)."""
    return (
        text.str.replace(NAMED_DATE_TEXT, _NAMED_AS_ISO)
        .str.replace(r"(?i)-sept-", "-sep-")  # the one name chrono does not read
        .pipe(with_century, r"^()", r"(-)")  # 01-Mar-24 is now 24-Mar-01: its year
        .str.strip_chars()
    )


#: Excel's reading of a year in 2 digits (see SHORT_YEARS_NOTE): its first digit, its century.
_CENTURIES: Final = (("[0-2]", "20"), ("[3-9]", "19"))


def with_century(text: pl.Expr, before: str, after: str) -> pl.Expr:
    """`text` whose year in 2 digits, between the regexes `before` and `after` (one group
    each), is written with its century as Excel reads it (00..29: 20xx, 30..99: 19xx)."""
    for first, century in _CENTURIES:
        text = text.str.replace(f"{before}({first}\\d){after}", f"${{1}}{century}${{2}}${{3}}")
    return text


def naive_utc(text: pl.Expr, fmt: str) -> pl.Expr:
    """Text without a zone, parsed by `fmt` and taken as UTC (null: it does not parse)."""
    return text.str.strptime(pl.Datetime("ms"), fmt, strict=False).dt.replace_time_zone("UTC")


def month_year_expr(text: pl.Expr) -> pl.Expr:
    """A month and its year alone (see MONTH_YEAR_TEXT) as its first day, UTC (null: none)."""
    groups = text.str.extract_groups(MONTH_YEAR_TEXT)
    month = groups.struct.field("1").str.to_lowercase().str.slice(0, 3)
    year = with_century(
        pl.coalesce(groups.struct.field("2"), groups.struct.field("3")), "^()", "()$"
    )
    return naive_utc(pl.format("{}-{}-01", year, month), "%Y-%b-%d")


def quarter_expr(text: pl.Expr) -> pl.Expr:
    """Quarters (see QUARTER_TEXT) as their first day, UTC (null: no quarter)."""
    groups = text.str.extract_groups(QUARTER_TEXT)
    year = pl.coalesce(groups.struct.field("1"), groups.struct.field("4"))
    quarter = pl.coalesce(groups.struct.field("2"), groups.struct.field("3")).cast(pl.Int64)
    return naive_utc(pl.format("{}-{}-01", year, quarter * 3 - 2), "%Y-%m-%d")


def _strptime_utc(text: pl.Expr, formats: Sequence[str], zoned: bool) -> list[pl.Expr]:
    if zoned:
        return [text.str.strptime(UTC_MS, fmt, strict=False) for fmt in formats]
    return [naive_utc(text, fmt) for fmt in formats]


def _named_formats(rewritten: pl.Expr) -> list[pl.Expr]:
    """Month-name text rewritten by `_named_iso`, parsed by each format in turn."""
    return _strptime_utc(rewritten, _NAMED_FORMATS, False) + _strptime_utc(
        rewritten, _NAMED_ZONED_FORMATS, True
    )


def _iso_candidates(text: pl.Expr, unit: EpochUnit) -> list[pl.Expr]:
    """Normalised ISO (or epoch) text parsed by each format in turn."""
    candidates = _strptime_utc(text, _ZONED_FORMATS, True)
    candidates += _strptime_utc(text, _NAIVE_FORMATS, False)
    candidates.append(epoch_expr(epoch_text(text), False, unit))
    return candidates


def text_time_candidates(text: pl.Expr, unit: EpochUnit) -> list[pl.Expr]:
    """Stripped time text parsed by each format in turn: the first non-null one is its time
    (the plain definition `parse_text_times` computes faster)."""
    named = pl.when(text.str.contains(NAMED_DATE_TEXT))
    return (
        [named.then(c) for c in _named_formats(_named_iso(text))]
        + [quarter_expr(text), month_year_expr(text)]
        + _iso_candidates(_normalised_time_text(text), unit)
    )


def _parse_in_turn(text: pl.DataFrame, candidates: Sequence[pl.Expr]) -> pl.Series:
    """Column "t" of `text` parsed by the first of `candidates` that gives a value: each
    candidate parses only the values the ones before it left null (what `pl.coalesce` of them
    all gives, without parsing every value every way)."""
    parsed: pl.Series | None = None
    for candidate in candidates:
        if parsed is None:
            parsed = text.select(candidate.cast(UTC_MS)).to_series()
            continue
        missing = (parsed.is_null() & text["t"].is_not_null()).arg_true()
        if missing.len() == 0:
            break
        found = text[missing].select(candidate.cast(UTC_MS)).to_series()
        parsed = parsed.scatter(missing, found)
    assert parsed is not None
    return parsed


def parse_text_times(values: pl.Series, unit: EpochUnit) -> pl.Series:
    """`pl.coalesce(text_time_candidates(...))` over the stripped text, without parsing every
    value every way: ISO "...Z" text as it is first, then month-name text by its formats, the
    rest normalised by the ISO formats (the two groups share no value that parses)."""
    text = pl.DataFrame({"t": values}).select(pl.col("t").str.strip_chars())
    parsed = _parse_in_turn(text, _strptime_utc(pl.col("t"), _ISO_Z_FORMATS, False))
    todo = text.with_row_index("i").filter(parsed.is_null() & text["t"].is_not_null())
    if todo.height == 0:
        return parsed.alias(values.name)
    is_named = pl.col("t").str.contains(NAMED_DATE_TEXT)
    is_period = pl.col("t").str.contains(QUARTER_TEXT) | pl.col("t").str.contains(MONTH_YEAR_TEXT)
    named, periods = todo.filter(is_named), todo.filter(is_period)
    others = todo.filter(~is_named & ~is_period)
    # each group rewritten once, then parsed by one format after the other
    named = named.with_columns(_named_iso(pl.col("t")))
    others = others.with_columns(_normalised_time_text(pl.col("t")))
    for rows, candidates in (
        (named, _named_formats(pl.col("t"))),
        (periods, [quarter_expr(pl.col("t")), month_year_expr(pl.col("t"))]),
        (others, _iso_candidates(pl.col("t"), unit)),
    ):
        if rows.height:
            parsed = parsed.scatter(rows["i"], _parse_in_turn(rows.select("t"), candidates))
    return four_digit_years(parsed, text["t"]).alias(values.name)


def four_digit_years(parsed: pl.Series, text: pl.Series) -> pl.Series:
    """Text read without a time_format names its year in 4 digits: chrono's %Y also takes
    "24" (24-02-01) as the year 24, a silent wrong time. A time before the year 1000 from text
    without 4 digits in a row is no time (0001-01-01, a "no date" sentinel, stays the year 1)."""
    early = parsed.dt.year() < 1000
    if not early.any():
        return parsed
    two_digit = early & ~text.str.contains(r"\d{4}").fill_null(False)
    return parsed.scatter(two_digit.arg_true(), None)


def text_time_expr(values: pl.Expr, time_format: str | None, unit: EpochUnit | None) -> pl.Expr:
    """Time text parsed by `time_format`, or else by every shape this module reads."""
    if time_format is not None:
        zoned = "%z" in time_format or "%#z" in time_format
        parsed = values.str.strptime(
            UTC_MS if zoned else pl.Datetime("ms"), time_format, strict=False
        )
        return parsed if zoned else parsed.dt.replace_time_zone("UTC")
    return values.map_batches(
        lambda text: parse_text_times(text, unit or "s"), return_dtype=UTC_MS, is_elementwise=True
    )
