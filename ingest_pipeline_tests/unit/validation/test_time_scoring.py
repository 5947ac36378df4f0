"""The time column chosen by its values: each shape of column, who wins, why the others lose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.findings import CandidateVerdict
from ingest_pipeline.validation import validate
from ingest_pipeline.validation.stats import ColumnStats
from ingest_pipeline.validation.time_reasons import NotTime, TimeFormat, UndecidedLocalDates
from ingest_pipeline.validation.time_scoring import (
    TimeCandidate,
    assess_candidate,
    candidate_stat_exprs,
    losing_reason,
    may_be_time,
    not_a_time,
    rank_candidates,
    reject_undecided_local_dates,
    screen_candidate,
)
from ingest_pipeline.validation.timing import TimePlan
from ingest_pipeline.vocabulary import CONSTANT_TIME, TIME_COLUMN, FileRejected

KEY = "uploads/ds/upload.csv"
ROWS = 6
EPOCH_S = [1_704_067_200 + 3_601 * i for i in range(ROWS)]  # 2024-01-01T00:00:00Z onwards
AS_DATETIMES = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=3_601 * i) for i in range(6)]
ISO_Z = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in AS_DATETIMES]
DATES = [f"2024-02-{d:02d}" for d in range(1, ROWS + 1)]

# Column shapes (6 rows each). Each case: the columns, the expected winner (None: the constant
# time), and for other columns a word their reason in the report must contain.
SHAPES: dict[str, list[Any]] = {
    "iso_z": ISO_Z,
    "dates": DATES,
    "epoch_s": EPOCH_S,
    "epoch_ms": [s * 1000 + 7 for s in EPOCH_S],
    "epoch_us": [s * 1_000_000 + 7_000 for s in EPOCH_S],
    "epoch_ns": [s * 1_000_000_000 + 7_000_000 for s in EPOCH_S],
    "hhmm_nulls": [517, 2359, 0, None, 1230, None],
    "delay": [-5, 0, 12, 300, None, 7],
    "air_time": [30.5, 227.0, None, 45.0, 60.0, 95.25],
    "year": [2013] * ROWS,
    "month": [1, 2, 3, 10, 11, 12],
    "day": [1, 5, 9, 17, 28, 31],
    "hour": [0, 5, 9, 13, 17, 23],
    "minute": [0, 15, 30, 45, 59, 1],
    "years": [1990, 1999, 2005, 2010, 2017, 2024],
    "mixed": [ISO_Z[0], "soon", ISO_Z[2], ISO_Z[3], "later", ISO_Z[5]],
    "mostly_bad": ["n/a yet", "soon", ISO_Z[2], "later", "never", "?"],
    "all_null": [None] * ROWS,
    "ids": [1_700_000_000 + i for i in range(ROWS)],
    "words": ["a", "b", "c", "d", "e", "f"],
}


def _frame(columns: dict[str, str]) -> pl.DataFrame:
    """`{name: shape}` as a frame; an all-null shape is a text column."""
    return pl.DataFrame(
        {
            name: pl.Series(name, SHAPES[shape], dtype=pl.String if shape == "all_null" else None)
            for name, shape in columns.items()
        }
    )


#: The last line of the constant time's warning: the dataset's config, ready to copy.
FORMAT_LINE = '  time_format: "<pattern, e.g. %d/%m/%Y>"'

CASES = [
    # (columns {name: shape}, winner, {loser: word of its reason})
    ({"dep_time": "hhmm_nulls", "time_hour": "iso_z"}, "time_hour", {"dep_time": "HHMM"}),
    ({"sched_dep_time": "hhmm_nulls", "when": "iso_z"}, "when", {"sched_dep_time": "HHMM"}),
    ({"day_of": "dates", "at": "iso_z"}, "at", {"day_of": "dates only"}),
    ({"day_of": "dates", "n": "words"}, "day_of", {}),
    ({"sent": "epoch_s", "n": "words"}, "sent", {}),
    ({"event_ms": "epoch_ms", "wait_secs": "delay"}, "event_ms", {"wait_secs": "durations"}),
    ({"event_ms": "epoch_ms", "qty": "delay"}, "event_ms", {}),  # plain numbers: not listed
    ({"e_us": "epoch_us"}, "e_us", {}),
    ({"e_ns": "epoch_ns"}, "e_ns", {}),
    ({"ts": "epoch_s", "iso": "iso_z"}, "iso", {"ts": "epoch numbers rank below"}),
    ({"dep_time": "hhmm_nulls", "arr_time": "hhmm_nulls"}, None, {"arr_time": "HHMM"}),
    ({"dep_delay": "delay", "air_time": "air_time"}, None, {"dep_delay": "durations"}),
    ({"air_time": "air_time", "at": "iso_z"}, "at", {"air_time": "durations"}),
    (  # date parts make __time only when no column holds a time (see test_date_parts.py)
        {"year": "year", "month": "month", "day": "day", "hour": "hour", "at": "iso_z"},
        "at",
        {p: "date part" for p in ("year", "month", "day", "hour")},
    ),
    ({"yr": "years", "at": "epoch_ms"}, "at", {"yr": "years"}),
    ({"changed": "mixed", "on": "dates"}, "on", {"changed": "fewer rows"}),
    ({"changed": "mixed"}, "changed", {}),  # the only one: its bad rows are rejected later
    ({"date": "mostly_bad", "x": "words"}, None, {"date": "values"}),
    ({"ts": "all_null", "at": "iso_z"}, "at", {"ts": "all values are null"}),
    ({"user_id": "ids", "at": "dates"}, "at", {"user_id": "identifier"}),
    ({"created_at": "iso_z", "updated_at": "epoch_s"}, "created_at", {"updated_at": "rank"}),
    ({"timestamp": "epoch_s", "sent": "epoch_ms"}, "timestamp", {"sent": "named more like"}),
]


@pytest.mark.parametrize(
    ("columns", "winner", "losers"), CASES, ids=[",".join(c[0]) for c in CASES]
)
def test_the_best_column_by_its_values_wins_and_the_others_say_why(
    columns: dict[str, str], winner: str | None, losers: dict[str, str]
) -> None:
    # the mixed column alone: 2 of 6 rows have no time, accepted once rejected rows are allowed
    config = DatasetConfig(max_rejected_share=0.5) if winner == "changed" else None
    result = validate(_frame(columns), KEY, "ds", config)
    assert result.time_column == winner
    entries = {e["column"]: e for e in result.report[TIME_COLUMN].get("candidates", [])}
    for loser, word in losers.items():
        assert entries[loser]["verdict"] in ("lost", "not a time")
        assert word in entries[loser]["reason"], entries[loser]
    if winner is None:
        assert result.frame[TIME_COLUMN].unique().to_list() == [CONSTANT_TIME]
        (warning,) = [w for w in result.warnings if "no time column found" in w]
        assert warning.endswith("datasets.yaml:\nds:\n  time_column: <column>\n" + FORMAT_LINE)
        return
    assert entries[winner]["verdict"] == "chosen"
    assert next(iter(entries)) == winner  # the winner first
    warning = next(w for w in result.warnings if w.startswith("time column auto-detected"))
    if losers:  # a real choice: the warning names the others and the config line
        assert all(repr(loser) in warning for loser in losers)
        assert "ds:\n  time_column: <name>" in warning
    expected = _expected_times(columns[winner])
    kept = [t for t in expected if t is not None]
    assert result.frame[TIME_COLUMN].to_list() == kept


def _expected_times(shape: str) -> list[datetime | None]:
    """The times of a shape, computed with plain Python."""
    ms = {"epoch_ms": 7, "epoch_us": 7, "epoch_ns": 7}.get(shape, 0)
    if shape in ("iso_z", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns"):
        return [t + timedelta(milliseconds=ms) for t in AS_DATETIMES]
    if shape == "dates":
        return [datetime(2024, 2, d, tzinfo=UTC) for d in range(1, ROWS + 1)]
    if shape == "mixed":
        return [
            t if v != "soon" and v != "later" else None
            for t, v in zip(AS_DATETIMES, SHAPES["mixed"], strict=True)
        ]
    raise AssertionError(shape)


def test_event_ms_under_a_neutral_name_is_exact() -> None:
    millis = [1_704_067_200_000 + 1_234_567 * i for i in range(1000)]
    frame = pl.DataFrame({"event_ms": millis, "value": list(range(1000))})
    result = validate(frame, KEY, "ds")
    assert result.time_column == "event_ms"
    expected = [datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=m) for m in millis]
    assert result.frame[TIME_COLUMN].to_list() == expected
    assert result.frame[TIME_COLUMN].min() == datetime(2024, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------- decisions


def _stats(**stats: Any) -> ColumnStats:
    return ColumnStats(**{"n": 5, **stats})


@pytest.mark.parametrize(
    ("name", "dtype", "stats", "expected"),
    [
        (
            "x",
            pl.Int64,
            _stats(min=1_600_000_000, max=1_700_000_000, max_abs=1.7e9, hhmm_bad=5),
            TimePlan("epoch", "s"),
        ),
        (
            "x",
            pl.Int64,
            _stats(min=1, max=336_776, max_abs=336_776.0, hhmm_bad=3),
            "outside 1971..2099",
        ),
        (
            "x",
            pl.Int64,
            _stats(min=20240101, max=20241231, max_abs=2e7, hhmm_bad=0),
            TimePlan("yyyymmdd"),
        ),
        ("dep_time", pl.Int64, _stats(min=1, max=2400, max_abs=2400.0, hhmm_bad=0), "HHMM"),
        ("hour", pl.Int64, _stats(min=0, max=23, max_abs=23.0, hhmm_bad=0), "date part"),
        (
            "x",
            pl.Int64,
            _stats(min=0, max=4_200_000_000_000, max_abs=4.2e12, hhmm_bad=1),
            "1970-01-01 .. 2103",
        ),  # one zero (and a year-2103 value) as epoch ms
        ("x", pl.Float64, _stats(min=1.6e9, max=1.7e9, max_abs=1.7e9), TimePlan("epoch", "s")),
        (
            "order_no",
            pl.Int64,
            _stats(min=1_600_000_000, max=1_700_000_000, max_abs=1.7e9, hhmm_bad=1),
            "identifier",
        ),
        ("x", pl.Float64, _stats(min=float("nan"), max=float("nan"), max_abs=float("nan")), "NaN"),
        ("qty", pl.Int64, _stats(min=1, max=40, max_abs=40.0, hhmm_bad=0), "numbers (1..40)"),
        ("x", pl.String, _stats(iso_like=5, timed=0), TimePlan("text", "s")),
        ("x", pl.String, _stats(iso_like=2, timed=2), "2 of 5 values"),
        ("x", pl.String, _stats(n=0), "all values are null"),
        ("x", pl.Datetime("us"), _stats(), TimePlan("datetime")),
        ("x", pl.Date, _stats(), TimePlan("date")),
    ],
)
def test_screen_candidate(
    name: str, dtype: pl.DataType, stats: ColumnStats, expected: TimePlan | str
) -> None:
    verdict = screen_candidate(name, dtype, stats)
    if isinstance(expected, TimePlan):
        assert verdict == expected
    else:
        assert isinstance(verdict, NotTime) and expected in verdict.message(), verdict


def _candidate(name: str, kind: str | None, evidence: str, parsed: int, rank: int = 0):
    return TimeCandidate(name, kind, evidence, 10, parsed, rank)  # type: ignore[arg-type]


def test_rank_candidates_orders_rows_kind_evidence_then_name() -> None:
    cands = [
        _candidate("epoch", "timestamp", "epoch", 10),
        _candidate("dates", "date", "typed", 10),
        _candidate("sparse", "timestamp", "typed", 9),
        _candidate("iso", "timestamp", "text", 10),
        _candidate("named_iso", "timestamp", "text", 10, rank=1),
        _candidate("none", None, "none", 0),
    ]
    ranking = rank_candidates(cands)
    order = [c.column for c in ranking.usable]
    assert order == ["named_iso", "iso", "epoch", "dates", "sparse"]
    assert ranking.tied == []
    assert "named more like a time" in losing_reason(ranking.usable[1], ranking.usable[0])
    assert "fewer rows" in losing_reason(ranking.usable[4], ranking.usable[0])
    assert "dates only" in losing_reason(ranking.usable[3], ranking.usable[0])


def test_equally_good_neutral_names_are_tied_named_ones_are_not() -> None:
    neutral = [_candidate("a", "timestamp", "text", 10), _candidate("b", "timestamp", "text", 10)]
    assert [c.column for c in rank_candidates(neutral).tied] == ["a", "b"]
    named = [_candidate(c.column, "timestamp", "text", 10, rank=1) for c in neutral]
    assert rank_candidates(named).tied == []
    assert rank_candidates(named).usable[0].column == "a"  # the first in name order


# --------------------------------------------------------------------------- bounds

EPOCH_1971_S = 31_536_000  # 1971-01-01T00:00:00Z
EPOCH_2100_S = 4_102_444_800  # 2100-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("low", "high", "epoch"),
    [
        (EPOCH_1971_S, 1_700_000_000, True),  # from the first instant of 1971
        (EPOCH_1971_S - 1, 1_700_000_000, False),  # one second into 1970: counts, not times
        (5_000_000, 1_700_000_000, False),  # February 1970
        (1_600_000_000, EPOCH_2100_S - 1, True),
        (1_600_000_000, EPOCH_2100_S, False),
        (1_700_000_000, 1_700_000_000, True),  # one instant in every row
    ],
)
def test_epoch_seconds_are_times_only_within_1971_to_2099(low: int, high: int, epoch: bool) -> None:
    stats = _stats(min=low, max=high, max_abs=float(high), hhmm_bad=5)
    verdict = screen_candidate("x", pl.Int64, stats)
    if epoch:
        assert verdict == TimePlan("epoch", "s")
    else:
        assert isinstance(verdict, NotTime) and "outside 1971..2099" in verdict.message()


# ISO-shaped text of which only some values are real instants (months 13, February 30th).
BAD_ISO = ["2024-13-01T00:00:00Z", "2024-02-30T10:00:00Z", "2024-00-10T00:00:00Z"]


def test_iso_text_that_mostly_fails_to_parse_is_not_the_time() -> None:
    values = [*ISO_Z[:2], *BAD_ISO, "2024-04-31T00:00:00Z"]  # 2 of 6 parse
    frame = pl.DataFrame({"created_at": values, "n": list(range(ROWS))})
    result = validate(frame, KEY, "ds")
    assert result.time_column is None
    assert result.frame[TIME_COLUMN].unique().to_list() == [CONSTANT_TIME]
    (entry,) = result.report[TIME_COLUMN]["candidates"]  # listed: it has a time name
    assert entry["column"] == "created_at" and entry["verdict"] == "not a time"
    assert "only 2 of 6 values parse as times" in entry["reason"]


def test_iso_text_of_which_half_parses_is_the_time_and_the_rest_rejected() -> None:
    values = [*ISO_Z[:3], *BAD_ISO]  # 3 of 6 parse: the share auto-detection needs
    frame = pl.DataFrame({"at": values, "n": list(range(ROWS))})
    result = validate(frame, KEY, "ds", DatasetConfig(max_rejected_share=0.5))
    assert result.time_column == "at"
    assert result.frame[TIME_COLUMN].to_list() == AS_DATETIMES[:3]
    assert len(result.rejected) == 3


def test_each_candidate_reports_its_kind_its_non_null_values_and_the_rows_it_gives_a_time() -> None:
    # on: 6 dates; changed: 4 of 6 values parse; dep_time: 4 non-null clock times, no time at all
    frame = _frame({"on": "dates", "changed": "mixed", "dep_time": "hhmm_nulls"})
    result = validate(frame, KEY, "ds")
    shown = [
        (e["column"], e["verdict"], e["kind"], e["values"], e["rows_with_time"])
        for e in result.report[TIME_COLUMN]["candidates"]
    ]
    assert shown == [
        ("on", "chosen", "date", 6, 6),
        ("dep_time", "not a time", "not a time", 4, 0),
        ("changed", "lost", "timestamp", 6, 4),
    ]


@pytest.mark.parametrize(
    ("dtype", "scored"),
    [
        (pl.String, True),
        (pl.Date, True),
        (pl.Datetime("ms"), True),
        (pl.Int32, True),
        (pl.Float64, True),
        (pl.Boolean, False),
        (pl.List(pl.String), False),
        (pl.Time, False),
    ],
)
def test_only_text_dates_datetimes_and_numbers_may_be_the_time(
    dtype: pl.DataType, scored: bool
) -> None:
    assert may_be_time(dtype) is scored


def _first_pass(series: pl.Series) -> dict[str, Any]:
    exprs = candidate_stat_exprs(series.name, series.dtype)
    return pl.DataFrame([series]).select(**exprs).row(0, named=True)


def test_integers_whose_last_two_digits_are_60_or_more_are_no_clock_times() -> None:
    # bad minutes: 60, 1260 and 2399 (minutes 60, 60, 99); 59, 1259, 101 and 0 are clock times
    stats = _first_pass(pl.Series("t", [0, 59, 60, 1259, 1260, 2399, 101, None]))
    assert stats == {"n": 7, "min": 0, "max": 2399, "max_abs": 2399.0, "hhmm_bad": 3}


def test_unsigned_integers_beyond_int64_are_screened_without_an_error() -> None:
    # 2**64 - 1 has no Int64 value: it counts as no clock time rather than failing the file
    stats = _first_pass(pl.Series("t", [2**64 - 1, 1260, 30], dtype=pl.UInt64))
    assert stats["hhmm_bad"] == 1
    assert stats["max_abs"] == float(2**64 - 1)


@pytest.mark.parametrize(
    ("name", "low", "high", "message"),
    [
        # -100000 s is 1969-12-30T20:13:20Z, 5000000 s is 1970-02-27T20:53:20Z
        ("x", -100_000, 5_000_000, "as epoch s they would span 1969-12-30 .. 1970-02-27,"),
        # 1.6e18 ns is 2020-09-13; 3.15576e20 ns is 3.15576e14 ms, 10000 Julian years after 1970
        # (3.15576e10 ms each), beyond the year 9999 a date can show
        ("x", 1.6e18, 3.15576e20, "as epoch ns they would span 2020-09-13 .. year 11970,"),
        # 1e27 ns is 1e21 ms: 31688087814.03 years after 1970
        ("x", 1.6e18, 1e27, "as epoch ns they would span 2020-09-13 .. year 31688089784,"),
        ("yr", 1000, 3000, "numbers (1000..3000), not epoch times"),  # not years: 3000 is out
    ],
)
def test_numbers_outside_the_epoch_years_say_the_dates_or_years_they_would_span(
    name: str, low: float, high: float, message: str
) -> None:
    stats = _stats(min=low, max=high, max_abs=float(max(abs(low), abs(high))), hhmm_bad=1)
    verdict = screen_candidate(name, pl.Float64 if isinstance(low, float) else pl.Int64, stats)
    assert isinstance(verdict, NotTime) and message in verdict.message(), verdict


NOT_EPOCH = (
    "numbers ({}..{}), not epoch times: as epoch s they would span 1970-01-01 .. 1970-01-01, "
    "outside 1971..2099"
)


@pytest.mark.parametrize(
    ("name", "low", "high", "message"),
    [
        ("dep_hour", 0, 23, "date part (hour 0..23), not a timestamp"),  # a name ending _hour
        ("yr", 1000, 2999, "years (1000..2999), not timestamps"),  # both bounds are years
        ("yr", 2013, 2013, "years (2013..2013), not timestamps"),  # one year in every row
        # under a time name (or a duration name) 5 values in 1200..1800 are clock times
        ("shipped_at", 1200, 1800, "clock times as HHMM integers (1200..1800), not timestamps"),
        ("wait_secs", 1200, 1800, "clock times as HHMM integers (1200..1800), not timestamps"),
        ("n", 1200, 1800, "years (1200..1800), not timestamps"),  # a neutral name: years
        ("year_end_date", 1990, 2024, "years (1990..2024), not timestamps"),  # "year" wins
        ("shipped_at", 1230, 1230, "clock times as HHMM integers (1230..1230), not timestamps"),
        ("shipped_at", 0, 100, "clock times as HHMM integers (0..100), not timestamps"),
        ("shipped_at", 0, 2400, "clock times as HHMM integers (0..2400), not timestamps"),
        ("shipped_at", 0, 99, NOT_EPOCH.format(0, 99)),  # below 01:00: no clock time shown
        ("shipped_at", 1200, 2401, NOT_EPOCH.format(1200, 2401)),  # past 24:00
    ],
)
def test_integers_that_are_date_parts_years_or_clock_times(
    name: str, low: int, high: int, message: str
) -> None:
    stats = _stats(min=low, max=high, max_abs=float(high), hhmm_bad=0)
    verdict = screen_candidate(name, pl.Int64, stats)
    assert isinstance(verdict, NotTime) and verdict.message() == message


@pytest.mark.parametrize(
    ("name", "rank"),
    [("Timestamp", 2), ("ts", 2), ("shipped_at", 1), ("amount", 0)],
)
def test_an_exact_time_name_ranks_2_a_time_like_name_1_and_a_neutral_one_0(
    name: str, rank: int
) -> None:
    candidate = assess_candidate(name, TimePlan("datetime"), _stats(), 5)
    assert candidate.name_rank == rank


@pytest.mark.parametrize(("low", "high"), [(1.0, float("inf")), (float("-inf"), 1.0)])
def test_numbers_with_an_infinite_bound_are_no_epoch_times(low: float, high: float) -> None:
    stats = _stats(min=low, max=high, max_abs=float("inf"))
    verdict = screen_candidate("x", pl.Float64, stats)
    assert isinstance(verdict, NotTime)
    assert (
        verdict.message() == f"numbers with NaN or infinite values ({low}..{high}), not epoch times"
    )


@pytest.mark.parametrize(
    ("n", "message"),
    [
        (50, "clock times as HHMM integers (0..2359), not timestamps"),
        (49, NOT_EPOCH.format(0, 2359)),
    ],
)
def test_under_a_neutral_name_integers_are_clock_times_only_among_50_values_or_more(
    n: int, message: str
) -> None:
    stats = _stats(n=n, min=0, max=2359, max_abs=2359.0, hhmm_bad=0)
    verdict = screen_candidate("n", pl.Int64, stats)
    assert isinstance(verdict, NotTime) and verdict.message() == message


@pytest.mark.parametrize(
    ("name", "dtype", "stats", "expected"),
    [
        # yyyymmdd: from the first day of 1900 to the last of 2099, one date in every row too
        (
            "x",
            pl.Int64,
            _stats(min=1900_01_01, max=2099_12_31, max_abs=2.1e7),
            TimePlan("yyyymmdd"),
        ),
        (
            "x",
            pl.Int64,
            _stats(min=2024_01_01, max=2024_01_01, max_abs=2.1e7),
            TimePlan("yyyymmdd"),
        ),
        # epoch numbers as text under a time name, in the unit of their largest value
        ("ts", pl.String, _stats(max_abs=1.7e12), TimePlan("text", "ms")),
        # half the values dated (2 of 4) is enough for text
        ("x", pl.String, _stats(n=4, iso_like=2), TimePlan("text", "s")),
        # half the values local dates (2 of 4): 31 first, so day first
        (
            "x",
            pl.String,
            _stats(n=4, local_like=2, local_first_max=31, local_second_max=12),
            TimePlan("local", day_first=True),
        ),
    ],
)
def test_screen_candidate_at_its_bounds(
    name: str, dtype: pl.DataType, stats: ColumnStats, expected: TimePlan
) -> None:
    assert screen_candidate(name, dtype, stats) == expected


def test_yyyymmdd_integers_of_which_one_is_no_date_are_no_time_and_say_how_many() -> None:
    stats = _stats(min=2024_01_01, max=2024_13_99, max_abs=2.1e7)
    candidate = assess_candidate("x", TimePlan("yyyymmdd"), stats, 4)
    assert (candidate.kind, candidate.values, candidate.parsed) == (None, 5, 4)
    assert candidate.reason == (
        "numbers (20240101..20241399), not dates: 1 are no yyyymmdd date, and as epoch seconds "
        "they would all fall in 1970"
    )


def test_text_of_which_too_few_values_parse_keeps_its_counts_for_the_report() -> None:
    candidate = assess_candidate("x", TimePlan("text", "s"), _stats(n=6), 2)
    assert (candidate.kind, candidate.values, candidate.parsed) == (None, 6, 2)
    assert candidate.describe(CandidateVerdict.NOT_A_TIME).to_json() == {
        "column": "x",
        "verdict": "not a time",
        "kind": "not a time",
        "values": 6,
        "rows_with_time": 2,
        "reason": "only 2 of 6 values parse as times",
    }


@pytest.mark.parametrize(
    ("unit", "scale"),
    [("s", 1), ("ms", 1000)],
)
def test_epoch_numbers_say_their_unit_and_the_dates_they_span(unit: str, scale: int) -> None:
    # 1704067200 s is 2024-01-01T00:00:00Z, 1706745600 s is 2024-02-01T00:00:00Z
    stats = _stats(n=6, min=1_704_067_200 * scale, max=1_706_745_600 * scale)
    candidate = assess_candidate("sent", TimePlan("epoch", unit), stats, 6)  # type: ignore[arg-type]
    assert candidate.reason == f"epoch {unit} (2024-01-01 .. 2024-02-01)"


EPOCH_STATS = {"min": 1_704_067_200, "max": 1_706_745_600}


@pytest.mark.parametrize(
    ("plan", "stats", "expected"),
    [
        (TimePlan("datetime"), {}, ("timestamp", "typed", TimeFormat.TYPED_TIMESTAMP)),
        (TimePlan("date"), {}, ("date", "typed", TimeFormat.TYPED_DATE)),
        (TimePlan("yyyymmdd"), {}, ("date", "text", TimeFormat.YYYYMMDD)),
        (TimePlan("epoch", "s"), EPOCH_STATS, ("timestamp", "epoch", TimeFormat.EPOCH)),
        # local dates: timestamps when at least half of the parsed values (3 of 6) have a time
        (
            TimePlan("local", day_first=True),
            {"local_timed": 3},
            ("timestamp", "text", TimeFormat.DAY_FIRST),
        ),
        (
            TimePlan("local", day_first=False),
            {"local_timed": 2},
            ("date", "text", TimeFormat.MONTH_FIRST),
        ),
        # text: timestamps when at least half have a time (ISO or month-name), month names
        # when more values have them than ISO dates
        (
            TimePlan("text", "s"),
            {"timed": 2, "named_timed": 1},
            ("timestamp", "text", TimeFormat.ISO),
        ),
        (
            TimePlan("text", "s"),
            {"timed": 3, "iso_like": 3, "named_like": 4},
            ("timestamp", "text", TimeFormat.MONTH_NAME),
        ),
        (TimePlan("text", "s"), {"iso_like": 3, "named_like": 3}, ("date", "text", TimeFormat.ISO)),
        # a time on 2 of 6: dates
        (TimePlan("text", "s"), {"timed": 2, "iso_like": 3}, ("date", "text", TimeFormat.ISO)),
        # text dates for fewer than half of the parsed values: epoch numbers as text
        (TimePlan("text", "s"), {"iso_like": 2}, ("timestamp", "epoch", TimeFormat.EPOCH_TEXT)),
        (TimePlan("text", "s"), {"iso_like": 3}, ("date", "text", TimeFormat.ISO)),
    ],
)
def test_what_a_usable_column_gives_kind_evidence_and_format(
    plan: TimePlan, stats: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    candidate = assess_candidate("x", plan, _stats(n=6, **stats), 6)
    assert (candidate.kind, candidate.evidence, candidate.format) == expected


def test_without_a_usable_candidate_the_ranking_is_two_empty_lists() -> None:
    ranking = rank_candidates([_candidate("none", None, "none", 0)])
    assert ranking.usable == [] and ranking.tied == []


def test_a_single_best_neutral_candidate_is_not_tied() -> None:
    ranking = rank_candidates([_candidate("a", "timestamp", "text", 10)])
    assert [c.column for c in ranking.usable] == ["a"] and ranking.tied == []


def test_a_candidate_with_fewer_rows_says_both_counts_and_the_winner() -> None:
    loser, winner = (
        _candidate("b", "timestamp", "text", 9),
        _candidate("a", "timestamp", "text", 10),
    )
    assert losing_reason(loser, winner) == "gives fewer rows a time (9) than 'a' (10)"


def test_undecided_local_dates_reject_the_file_by_its_key() -> None:
    undecided = not_a_time("on", 5, UndecidedLocalDates("03/01/2024"))
    with pytest.raises(FileRejected) as rejected:
        reject_undecided_local_dates(KEY, "ds", [undecided])
    assert (rejected.value.key, rejected.value.column) == (KEY, "on")
