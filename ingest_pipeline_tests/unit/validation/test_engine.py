"""`validate` and `validate_to_files`: a CSV round trip; streaming gives what memory gives."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.reading import read_frame
from ingest_pipeline.validation import source, validate
from ingest_pipeline.vocabulary import NULL_MARKERS, TIME_COLUMN, FileRejected
from ingest_pipeline_tests.unit.validation.helpers import (
    KEY,
    assert_streams_the_same,
    lines_to_text,
    read_csv_text,
    stream_to_files,
    times,
    validate_csv,
)

_SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=20,
)
# A letter first keeps the column text (no number, no null marker); the rest may hold
# quotes, delimiters, CR/LF and any unicode.
_STRINGS = st.builds(lambda tail: "s" + tail, _SAFE_TEXT)
_ROW = st.tuples(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda ts: ts.replace(microsecond=ts.microsecond // 1000 * 1000)
    ),
    st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | _STRINGS,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(_ROW, min_size=1, max_size=25), delimiter=st.sampled_from([",", ";", "\t", "|"])
)
def test_well_formed_csv_round_trips(tmp_path: Path, rows: list[tuple], delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)  # default \r\n terminator quotes CR and LF
    writer.writerow(["ts", "count", "ratio", "label"])
    for ts, count, ratio, label in rows:
        writer.writerow([ts.isoformat(), count, repr(ratio) if ratio is not None else None, label])
    result = validate_csv(tmp_path, buffer.getvalue())
    assert_streams_the_same(tmp_path, read_frame(tmp_path / "upload.csv", KEY), None, 4)

    assert result.row_count == len(rows)
    assert result.rejected == []
    assert result.time_column == "ts"
    out = result.frame
    assert times(result) == [ts.replace(tzinfo=UTC) for ts, *_ in rows]
    counts = [r[1] for r in rows]
    ratios = [r[2] for r in rows]
    labels = [r[3] for r in rows]
    if any(c is not None for c in counts):
        assert out.schema["count"] == pl.Int64
    assert out["count"].to_list() == counts
    got_ratios = out["ratio"].cast(pl.Float64).to_list()
    assert all(
        (g is None and w is None)
        or (g is not None and w is not None and math.isclose(g, w, rel_tol=0))
        for g, w in zip(got_ratios, ratios, strict=True)
    )
    assert out["label"].to_list() == labels
    assert NULL_MARKERS[0] == ""  # empty text is a null marker: labels are never empty here


def test_streaming_matches_validate_across_many_batches(tmp_path: Path) -> None:
    lines = ["ts,qty,price,city,note"]
    for i in range(60):
        qty = "" if i % 4 == 0 else str(i * 3 - 50)
        city = "" if i % 5 == 0 else f"city{i % 6}"
        lines.append(f"2024-01-{i % 28 + 1:02d}T{i % 24:02d}:00:00Z,{qty},{i / 8},{city},n{i}")
    lines[45] = lines[3]  # a duplicate of a row six batches earlier
    lines[52] = lines[3]
    lines.append("1999-12-31T23:59:59Z,100000,-7.5,far,last")  # min/max in the last batch
    summary = assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), None)
    assert summary is not None
    assert summary.row_count == 61
    assert summary.duplicate_rows == 2
    assert summary.report["qty"]["max"] == 100000
    assert summary.report["price"]["min"] == -7.5
    assert summary.report["city"]["distinct"] == 7  # city0..city5 and "far"
    assert summary.report["note"]["distinct"] == 59
    assert summary.report[TIME_COLUMN]["min"] == "1999-12-31T23:59:59.000Z"
    assert summary.report["qty"]["null_ratio"] == round(14 / 61, 6)  # row 45 was null


@pytest.mark.parametrize("budget", [0, 100])
def test_streaming_matches_validate_with_kept_times_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    """The parsed time values wait on disk past KEEP_MEMORY_BYTES (0: all; 100 bytes: the
    first batch in memory, the rest on disk): the same rows, report and rejections."""
    monkeypatch.setattr(source, "KEEP_MEMORY_BYTES", budget)
    lines = ["ts,v"] + [f"2024-01-{i % 28 + 1:02d}T{i % 24:02d}:00:00Z,{i}" for i in range(40)]
    lines[30] = "not a time,30"
    summary = assert_streams_the_same(
        tmp_path,
        read_csv_text(tmp_path, lines_to_text(lines)),
        DatasetConfig(max_rejected_share=0.1),
    )
    assert summary is not None and summary.row_count == 39
    assert [r.line for r in summary.rejected] == [31]


def test_streaming_reports_rejected_rows_of_later_batches_by_line(tmp_path: Path) -> None:
    lines = ["ts,v,text"]
    for i in range(40):
        lines.append(f"2024-02-01T00:00:{i:02d}Z,{i},plain")
    lines[5] = '2024-02-01T00:00:04Z,4,"two\nlines"'  # quoted newline: lines != rows
    lines[20] = "not a time,19,x"
    lines[33] = ",32,x"
    lines[37] = "1,2"  # ragged: the reader rejects it
    parsed = read_csv_text(tmp_path, lines_to_text(lines))
    config = DatasetConfig(max_rejected_share=0.1)
    summary = assert_streams_the_same(tmp_path, parsed, config)
    assert summary is not None
    assert summary.rejected == [
        (22, "unparseable time 'not a time' in column 'ts'"),
        (35, "missing time value in column 'ts'"),
        (39, "has 2 fields but the header has 3"),
    ]
    assert summary.row_count == 37
    # The same file with the default share: rejected, with the same message as `validate`.
    assert_streams_the_same(tmp_path, parsed, None)


def test_streaming_rejection_quotes_the_first_rows_across_batches(tmp_path: Path) -> None:
    lines = ["ts,v"] + [f"{'bad' if i % 3 == 0 else '2024-01-01'},{i}" for i in range(50)]
    lines[25] = "2024-01-01"  # a ragged row among the time rejections
    parsed = read_csv_text(tmp_path, lines_to_text(lines))
    assert assert_streams_the_same(tmp_path, parsed, DatasetConfig(max_rejected_share=0.3)) is None
    with pytest.raises(FileRejected, match=r"17 of 50 rows .* and 12 more") as caught:
        stream_to_files(tmp_path, parsed, DatasetConfig(max_rejected_share=0.3), 7)
    assert caught.value.row == 2
    summary = assert_streams_the_same(tmp_path, parsed, DatasetConfig(max_rejected_share=0.5))
    assert summary is not None and len(summary.rejected) == 17


def test_streaming_time_column_whose_first_batch_is_all_null(tmp_path: Path) -> None:
    lines = ["name,event_time,v"] + [f"n{i},,{i}" for i in range(10)]
    lines += [f"n{i},2024-03-{i - 9:02d} 10:00,{i}" for i in range(10, 30)]
    parsed = read_csv_text(tmp_path, lines_to_text(lines))
    summary = assert_streams_the_same(tmp_path, parsed, DatasetConfig(max_rejected_share=0.5))
    assert summary is not None
    assert summary.time_column == "event_time"
    assert summary.rejected[0] == (2, "missing time value in column 'event_time'")
    assert summary.preview["v"].to_list() == list(range(10, 20))
    # Not one value parses: all rows rejected, with the same message.
    lines = ["name,ts,v"] + [f"n{i},{'' if i < 10 else 'soon'},{i}" for i in range(20)]
    config = DatasetConfig("ts", max_rejected_share=1.0)
    assert (
        assert_streams_the_same(tmp_path, read_csv_text(tmp_path, lines_to_text(lines)), config)
        is None
    )


@pytest.mark.parametrize(
    ("text", "config"),
    [
        ("a,b\n", None),  # no data rows
        ("name,qty\n" + "".join(f"x{i % 3},{i % 2}\n" for i in range(30)), None),  # no time
        ("date,v\n" + "".join(f"{20240101 + i},{i}\n" for i in range(25)), None),  # yyyymmdd
        ("timestamp,v\n" + "".join(f"{1_700_000_000_000 + i},{i}\n" for i in range(25)), None),
        ("ts,v\n" + "".join(f"{1_700_000_000 + i * 10**12 // 25},x\n" for i in range(25)), None),
        ("a,b\n1,2\n", DatasetConfig(time_column="when")),
        ("ts,a,b,c\n" + "2024-01-01,1,2,3\n" * 20, DatasetConfig(dimensions=["c", "a"])),
        ("a\n1\n", DatasetConfig(dimensions=["a", "zz"])),
        ("Jour;x\n" + "31/12/2023 23:30;1\n" * 9, DatasetConfig("Jour", "%d/%m/%Y %H:%M")),
        ("ts,f\n" + "".join(f"2024-01-01,{v}\n" for v in ["1.5", "NaN", "inf", "2"] * 5), None),
    ],
)
def test_streaming_matches_validate_on_csv(
    tmp_path: Path, text: str, config: DatasetConfig | None
) -> None:
    try:
        parsed = read_csv_text(tmp_path, text)
    except FileRejected:
        pytest.fail("the reader should accept these files")
    assert_streams_the_same(tmp_path, parsed, config)


def test_streaming_matches_validate_on_ndjson(tmp_path: Path) -> None:
    records = [{"time": f"2024-01-01T00:{i:02d}:00Z", "v": i, "tags": [i, "x"]} for i in range(30)]
    records[20]["late"] = {"a": 1}  # a key first seen in a later batch
    records[25]["v"] = 2.5
    text = "\n".join(json.dumps(r) for r in records) + "\nnot json\n"
    path = tmp_path / "upload.ndjson"
    path.write_text(text, encoding="utf-8")
    parsed = read_frame(path, "uploads/ds/upload.ndjson")
    summary = assert_streams_the_same(tmp_path, parsed, DatasetConfig(max_rejected_share=0.1))
    assert summary is not None and summary.rejected == [
        (31, "invalid JSON: Expecting value at column 1")
    ]


def test_streaming_matches_validate_on_parquet(tmp_path: Path) -> None:
    n = 30
    frame = pl.DataFrame(
        {
            "created_at": [datetime(2024, 1, 1, i % 24) for i in range(n)],
            "big": pl.Series([i for i in range(n - 1)] + [2**64 - 1], dtype=pl.UInt64),
            "small": pl.Series(list(range(n)), dtype=pl.UInt64),
            "flag": [i % 2 == 0 for i in range(n)],
            "nested": [{"a": i % 3} for i in range(n)],
        }
    ).with_columns(pl.col("created_at").dt.replace_time_zone("Europe/Paris"))
    path = tmp_path / "upload.parquet"
    frame.write_parquet(path)
    summary = assert_streams_the_same(tmp_path, read_frame(path, KEY), None)
    assert summary is not None
    assert dict(summary.schema)["big"] == "string"  # decided by the last batch's maximum
    assert dict(summary.schema)["small"] == "long"


def test_parquet_durations_times_categories_and_decimals_have_druid_types(tmp_path: Path) -> None:
    # a Duration column stopped the file with "casting from Duration to String not supported"
    n = 12
    frame = pl.DataFrame(
        {
            "at": [datetime(2024, 1, 1, i) for i in range(n)],
            "wait": pl.Series([timedelta(seconds=i, microseconds=1500) for i in range(n)]),
            "clock": [time(i, 30) for i in range(n)],
            "kind": pl.Series(["a", "b"] * (n // 2), dtype=pl.Categorical),
            "price": pl.Series([Decimal(f"{i}.25") for i in range(n)], dtype=pl.Decimal(10, 2)),
        }
    )
    path = tmp_path / "upload.parquet"
    frame.write_parquet(path)
    summary = assert_streams_the_same(tmp_path, read_frame(path, KEY), None, batch_rows=5)
    assert summary is not None
    assert dict(summary.schema) == {
        "at": "string",
        "wait": "long",
        "clock": "string",
        "kind": "string",
        "price": "double",
    }
    assert "durations stored as whole milliseconds (Druid long) in: wait" in summary.warnings
    written = validate(frame, KEY, "ds").frame
    assert written["wait"].to_list()[:2] == [1, 1001]  # 1.5 ms and 1.0015 s, in whole ms
    assert written["clock"].to_list()[0] == "00:30:00"
