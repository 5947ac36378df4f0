"""Validation and Druid output: time handling, rejections, reports, and a round-trip property."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest_pipeline.datasets import DatasetConfig, load_dataset_configs
from ingest_pipeline.naming import (
    InvalidDatasetName,
    druid_safe_column_names,
    validate_dataset_name,
)
from ingest_pipeline.reading import ReadResult, read_frame
from ingest_pipeline.validation import (
    ValidationResult,
    ValidationSummary,
    distinct,
    validate,
    validate_to_files,
    write_druid_ndjson,
    write_parquet,
)
from ingest_pipeline.vocabulary import (
    CONSTANT_TIME,
    LINE_COLUMN,
    NULL_MARKERS,
    SOURCE_KEY_COLUMN,
    TIME_COLUMN,
    FileRejected,
)


def _csv(tmp_path: Path, text: str, config: DatasetConfig | None = None) -> ValidationResult:
    path = tmp_path / "upload.csv"
    path.write_text(text, encoding="utf-8")
    result = read_frame(path, "uploads/ds/upload.csv")
    return validate(
        result.frame,
        "uploads/ds/upload.csv",
        "ds",
        config,
        rejected=result.rejected,
        notes=result.warnings,
    )


def _times(result: ValidationResult) -> list[datetime]:
    return result.frame[TIME_COLUMN].to_list()


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a", "a", "a"], ["a", "a_2", "a_3"]),
        (["a", "a", "a_2"], ["a", "a_3", "a_2"]),  # no collision with a later original
        ([" id ", "", "  "], ["id", "column_2", "column_3"]),
        (
            ["__time", "__source_key", "__line"],
            ["time_original", "source_key_original", "line_original"],
        ),
        (
            ["Prix (€)", "e-mail", "a.b", "Größe", "日付"],
            ["Prix", "e_mail", "a_b", "Größe", "日付"],
        ),
        (["_id", "x\ny"], ["_id", "x_y"]),
    ],
)
def test_druid_safe_column_names(names: list[str], expected: list[str]) -> None:
    assert druid_safe_column_names(names) == expected


@given(st.lists(st.text(max_size=8), max_size=12))
def test_druid_safe_column_names_are_unique_nonblank_and_idempotent(names: list[str]) -> None:
    safe = druid_safe_column_names(names)
    assert len(safe) == len(names)
    assert len(set(safe)) == len(safe)
    assert all(name and name not in {TIME_COLUMN, SOURCE_KEY_COLUMN, LINE_COLUMN} for name in safe)
    assert druid_safe_column_names(safe) == safe


@pytest.mark.parametrize("name", ["sales", "Sales-2024", "a_b", "x" * 255])
def test_valid_dataset_names(name: str) -> None:
    assert validate_dataset_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "_x", "a/b", "my sales", "tab\there", "x" * 256])
def test_invalid_dataset_names(name: str) -> None:
    with pytest.raises(InvalidDatasetName, match="A-Z"):
        validate_dataset_name(name)


def test_validate_rejects_a_bad_dataset_name_naming_the_file() -> None:
    with pytest.raises(FileRejected, match="uploads/my sales/x.csv"):
        validate(pl.DataFrame({"a": [1]}), "uploads/my sales/x.csv", "my sales")


# --------------------------------------------------------------------------- rows


def test_header_only_is_rejected_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        _csv(tmp_path, "a,b\n")
    assert "uploads/ds/upload.csv" in str(caught.value)
    assert "no data rows" in str(caught.value)


def test_ragged_rows_reject_the_file_by_default(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        _csv(tmp_path, "a,b\n1,2\n3\n4,5\n")
    assert caught.value.row == 3
    assert "1 of 3 rows" in str(caught.value)
    assert "max_rejected_share" in str(caught.value)


def test_ragged_rows_are_skipped_and_listed_within_the_allowed_share(tmp_path: Path) -> None:
    result = _csv(tmp_path, "a,b\n1,2\n3\n4,5\n", DatasetConfig(max_rejected_share=0.5))
    assert result.row_count == 2
    assert result.frame["a"].to_list() == [1, 4]
    assert [r.line for r in result.rejected] == [3]


def test_all_rows_rejected_is_an_error_even_with_a_generous_share(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="2 of 2 rows"):
        _csv(tmp_path, "ts,v\nsoon,1\nlater,2\n", DatasetConfig("ts", max_rejected_share=1.0))


# --------------------------------------------------------------------------- time


def test_epoch_seconds_and_milliseconds_give_the_same_time(tmp_path: Path) -> None:
    seconds = _csv(tmp_path, "timestamp,v\n1700000000,1\n1700000001,2\n")
    millis = _csv(tmp_path, "timestamp,v\n1700000000000,1\n1700000001500,2\n")
    assert _times(seconds) == [_utc(2023, 11, 14, 22, 13, 20), _utc(2023, 11, 14, 22, 13, 21)]
    assert _times(millis)[0] == _times(seconds)[0]
    assert _times(millis)[1] == _utc(2023, 11, 14, 22, 13, 21, 500000)
    assert seconds.frame.schema[TIME_COLUMN] == pl.Datetime("ms", "UTC")


def test_yyyymmdd_integers_are_dates_not_epoch_seconds(tmp_path: Path) -> None:
    result = _csv(tmp_path, "date,v\n20240131,1\n19991231,2\n")
    assert _times(result) == [_utc(2024, 1, 31), _utc(1999, 12, 31)]


def test_zoned_times_convert_to_utc_and_naive_times_are_utc(tmp_path: Path) -> None:
    text = (
        "event_time,v\n"
        "2024-03-01T10:00:00+02:00,1\n"
        "2024-03-01T10:00:00Z,2\n"
        "2024-03-01 10:00:00,3\n"
        "2024-03-01T10:00:00.123-0500,4\n"
        "2024/03/01,5\n"
        "1969-07-20T20:17:40,6\n"
        "2999-12-31T23:59:59 UTC,7\n"
    )
    result = _csv(tmp_path, text)
    assert result.time_column == "event_time"
    assert _times(result) == [
        _utc(2024, 3, 1, 8),
        _utc(2024, 3, 1, 10),
        _utc(2024, 3, 1, 10),
        _utc(2024, 3, 1, 15, 0, 0, 123000),
        _utc(2024, 3, 1),
        _utc(1969, 7, 20, 20, 17, 40),
        _utc(2999, 12, 31, 23, 59, 59),
    ]
    # The original text stays queryable as a dimension.
    assert result.frame["event_time"][0] == "2024-03-01T10:00:00+02:00"


def test_no_time_column_uses_the_constant_time(tmp_path: Path) -> None:
    result = _csv(tmp_path, "name,qty\nbolt,3\nnut,4\n")
    assert result.time_column is None
    assert _times(result) == [CONSTANT_TIME, CONSTANT_TIME]
    assert CONSTANT_TIME == _utc(2000, 1, 1)
    assert any("constant time 2000-01-01T00:00:00.000Z" in w for w in result.warnings)


def test_a_time_named_column_that_is_not_time_is_ignored(tmp_path: Path) -> None:
    result = _csv(tmp_path, "date,qty\nsoon,3\nlater,4\n")
    assert result.time_column is None
    assert result.row_count == 2


def test_unparseable_times_are_rejected_rows_with_lines(tmp_path: Path) -> None:
    text = "ts,v\n2024-01-01,1\nnot a date,2\n,3\n2024-01-02,4\n"
    with pytest.raises(FileRejected) as caught:
        _csv(tmp_path, text)
    assert caught.value.row == 3
    assert "unparseable time 'not a date'" in str(caught.value)
    result = _csv(tmp_path, text, DatasetConfig(max_rejected_share=0.5))
    assert result.rejected == [
        (3, "unparseable time 'not a date' in column 'ts'"),
        (4, "missing time value in column 'ts'"),
    ]
    assert result.frame["v"].to_list() == [1, 4]


def test_configured_time_column_and_format(tmp_path: Path) -> None:
    config = DatasetConfig(time_column="Jour", time_format="%d/%m/%Y %H:%M")
    result = _csv(tmp_path, "Jour,created_at\n31/12/2023 23:30,2020-01-01\n", config)
    assert result.time_column == "Jour"
    assert _times(result) == [_utc(2023, 12, 31, 23, 30)]
    assert not any("auto-detected" in w for w in result.warnings)


def test_configured_time_column_may_use_the_uploaded_name(tmp_path: Path) -> None:
    result = _csv(tmp_path, "Order Date,v\n2024-05-06,1\n", DatasetConfig("Order Date"))
    assert result.time_column == "Order_Date"
    assert _times(result) == [_utc(2024, 5, 6)]


def test_missing_configured_time_column_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        _csv(tmp_path, "a,b\n1,2\n", DatasetConfig(time_column="when"))
    assert caught.value.column == "when"
    assert "columns: a, b" in str(caught.value)


def test_a_column_named___time_is_kept_and_used(tmp_path: Path) -> None:
    result = _csv(tmp_path, "__time,v\n2024-01-01T00:00:00Z,1\n")
    assert result.time_column == "time_original"
    assert result.frame.columns == [TIME_COLUMN, "time_original", "v", SOURCE_KEY_COLUMN]


def test_datetime_and_date_dtypes_from_parquet_like_frames() -> None:
    frame = pl.DataFrame(
        {
            "created_at": [datetime(2024, 1, 1, 12)],
            "birthday": [datetime(1990, 5, 17).date()],
        }
    ).with_columns(pl.col("created_at").dt.replace_time_zone("Europe/Paris"))
    result = validate(frame, "k", "ds")
    assert _times(result) == [_utc(2024, 1, 1, 11)]
    assert result.frame["created_at"].to_list() == ["2024-01-01T11:00:00.000Z"]
    assert result.frame["birthday"].to_list() == ["1990-05-17"]


# --------------------------------------------------------------------------- types and report


def test_druid_types_and_conversions() -> None:
    frame = pl.DataFrame(
        {
            "i": [1, None, 3],
            "f": [1.5, float("nan"), float("inf")],
            "flag": [True, False, None],
            "nested": [{"a": 1}, None, {"a": 2}],
            "items": [[1, 2], None, []],
            "u": pl.Series([2**64 - 1, 0, 1], dtype=pl.UInt64),
        }
    )
    result = validate(frame, "k", "ds")
    assert result.schema == [
        ("i", "long"),
        ("f", "double"),
        ("flag", "string"),
        ("nested", "string"),
        ("items", "string"),
        ("u", "string"),
    ]
    out = result.frame
    assert out["f"].to_list() == [1.5, None, None]
    assert out["flag"].to_list() == ["true", "false", None]
    assert out["nested"].to_list() == ['{"a":1}', None, '{"a":2}']
    assert out["items"].to_list() == ["[1,2]", None, "[]"]
    assert out["u"].to_list() == [str(2**64 - 1), "0", "1"]
    assert any("2 NaN/infinite values" in w for w in result.warnings)


def test_report_counts_nulls_ranges_distincts_and_duplicates(tmp_path: Path) -> None:
    text = "ts,qty,price,city\n2024-01-01,1,2.5,Oslo\n2024-01-01,1,2.5,Oslo\n2024-01-03,,9.0,\n"
    result = _csv(tmp_path, text, DatasetConfig(null_ratio_warn=0.2))
    report = result.report
    assert report["qty"] == {
        "druid_type": "long",
        "nulls": 1,
        "null_ratio": 0.333333,
        "min": 1,
        "max": 1,
    }
    assert report["price"]["min"] == 2.5 and report["price"]["max"] == 9.0
    assert report["city"] == {
        "druid_type": "string",
        "nulls": 1,
        "null_ratio": 0.333333,
        "distinct": 1,
    }
    assert report[TIME_COLUMN]["min"] == "2024-01-01T00:00:00.000Z"
    assert report[TIME_COLUMN]["max"] == "2024-01-03T00:00:00.000Z"
    assert result.duplicate_rows == 1
    assert any("1 rows are exact duplicates" in w for w in result.warnings)
    assert any("'qty' is 33% null" in w for w in result.warnings)
    json.dumps(report)  # must be JSON-serialisable for UI metadata
    assert result.frame[SOURCE_KEY_COLUMN].to_list() == ["uploads/ds/upload.csv"] * 3


def test_configured_dimensions_restrict_the_output(tmp_path: Path) -> None:
    result = _csv(tmp_path, "ts,a,b,c\n2024-01-01,1,2,3\n", DatasetConfig(dimensions=["c", "a"]))
    assert result.schema == [("a", "long"), ("c", "long")]
    assert result.frame.columns == [TIME_COLUMN, "a", "c", SOURCE_KEY_COLUMN]
    with pytest.raises(FileRejected, match=r"\['zz'\]"):
        _csv(tmp_path, "a\n1\n", DatasetConfig(dimensions=["a", "zz"]))


# --------------------------------------------------------------------------- config


def test_load_dataset_configs(tmp_path: Path) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text(
        "datasets:\n"
        "  sales:\n"
        "    time_column: order_date\n"
        "    time_format: '%d/%m/%Y'\n"
        "    dimensions: [region, amount]\n"
        "    segment_granularity: month\n"
        "    max_rejected_share: 0.01\n"
        "  logs: {}\n"
    )
    configs = load_dataset_configs(path)
    assert configs["sales"] == DatasetConfig(
        "order_date", "%d/%m/%Y", ["region", "amount"], "MONTH", 0.01, 0.5
    )
    assert configs["logs"] == DatasetConfig()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("sales:\n  time_colum: x\n", "unknown setting"),
        ("sales:\n  segment_granularity: fortnight\n", "segment_granularity"),
        ("sales:\n  max_rejected_share: 2\n", "between 0 and 1"),
        ("bad name:\n  time_column: x\n", "not allowed"),
    ],
)
def test_load_dataset_configs_errors(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ValueError, match=message):
        load_dataset_configs(path)


# --------------------------------------------------------------------------- output files


def test_write_druid_ndjson_and_parquet(tmp_path: Path) -> None:
    result = _csv(tmp_path, "ts,v,s\n2024-01-02T03:04:05.678+01:00,1,é\n1960-01-01,,x\n")
    ndjson = write_druid_ndjson(result.frame, tmp_path / "out.json.gz")
    with gzip.open(ndjson, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    assert rows[0] == {
        "__time": "2024-01-02T02:04:05.678Z",
        "ts": "2024-01-02T03:04:05.678+01:00",
        "v": 1,
        "s": "é",
        "__source_key": "uploads/ds/upload.csv",
    }
    assert rows[1]["__time"] == "1960-01-01T00:00:00.000Z" and rows[1]["v"] is None
    parquet = write_parquet(result.frame, tmp_path / "out.parquet")
    assert pl.read_parquet(parquet).equals(result.frame)


# --------------------------------------------------------------------------- round trip

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
    result = _csv(tmp_path, buffer.getvalue())
    _assert_streams_the_same(tmp_path, read_frame(tmp_path / "upload.csv", _KEY), None, 4)

    assert result.row_count == len(rows)
    assert result.rejected == []
    assert result.time_column == "ts"
    out = result.frame
    assert _times(result) == [ts.replace(tzinfo=UTC) for ts, *_ in rows]
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


# --------------------------------------------------------------------------- bounded memory

_KEY = "uploads/ds/upload.csv"


def _read_ndjson_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _stream(
    tmp_path: Path, parsed: ReadResult, config: DatasetConfig | None, batch_rows: int
) -> ValidationSummary:
    return validate_to_files(
        parsed,
        _KEY,
        "ds",
        config,
        ndjson_path=tmp_path / "stream.ndjson.gz",
        parquet_path=tmp_path / "stream.parquet",
        batch_rows=batch_rows,
        preview_rows=10,
    )


def _assert_streams_the_same(
    tmp_path: Path, parsed: ReadResult, config: DatasetConfig | None, batch_rows: int = 7
) -> ValidationSummary | None:
    """`validate_to_files` in batches gives what `validate` + the writers give, or its error."""
    try:
        whole = validate(
            parsed.frame, _KEY, "ds", config, rejected=parsed.rejected, notes=parsed.warnings
        )
    except FileRejected as expected:
        with pytest.raises(FileRejected) as caught:
            _stream(tmp_path, parsed, config, batch_rows)
        assert str(caught.value) == str(expected)
        assert (caught.value.row, caught.value.column) == (expected.row, expected.column)
        return None
    summary = _stream(tmp_path, parsed, config, batch_rows)
    for name in (
        "row_count",
        "rejected",
        "report",
        "time_column",
        "duplicate_rows",
        "schema",
        "time_min",
        "time_max",
        "warnings",
    ):
        assert getattr(summary, name) == getattr(whole, name), name
    assert summary.preview.equals(whole.frame.head(10))
    assert pl.read_parquet(tmp_path / "stream.parquet").equals(whole.frame)
    reference = write_druid_ndjson(whole.frame, tmp_path / "whole.ndjson.gz")
    assert _read_ndjson_gz(tmp_path / "stream.ndjson.gz") == _read_ndjson_gz(reference)
    return summary


def _csv_file(tmp_path: Path, text: str) -> ReadResult:
    path = tmp_path / "upload.csv"
    path.write_text(text, encoding="utf-8")
    return read_frame(path, _KEY)


def _rows(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def test_streaming_matches_validate_across_many_batches(tmp_path: Path) -> None:
    lines = ["ts,qty,price,city,note"]
    for i in range(60):
        qty = "" if i % 4 == 0 else str(i * 3 - 50)
        city = "" if i % 5 == 0 else f"city{i % 6}"
        lines.append(f"2024-01-{i % 28 + 1:02d}T{i % 24:02d}:00:00Z,{qty},{i / 8},{city},n{i}")
    lines[45] = lines[3]  # a duplicate of a row six batches earlier
    lines[52] = lines[3]
    lines.append("1999-12-31T23:59:59Z,100000,-7.5,far,last")  # min/max in the last batch
    summary = _assert_streams_the_same(tmp_path, _csv_file(tmp_path, _rows(lines)), None)
    assert summary is not None
    assert summary.row_count == 61
    assert summary.duplicate_rows == 2
    assert summary.report["qty"]["max"] == 100000
    assert summary.report["price"]["min"] == -7.5
    assert summary.report["city"]["distinct"] == 7  # city0..city5 and "far"
    assert summary.report["note"]["distinct"] == 59
    assert summary.report[TIME_COLUMN]["min"] == "1999-12-31T23:59:59.000Z"
    assert summary.report["qty"]["null_ratio"] == round(14 / 61, 6)  # row 45 was null


def test_streaming_reports_rejected_rows_of_later_batches_by_line(tmp_path: Path) -> None:
    lines = ["ts,v,text"]
    for i in range(40):
        lines.append(f"2024-02-01T00:00:{i:02d}Z,{i},plain")
    lines[5] = '2024-02-01T00:00:04Z,4,"two\nlines"'  # quoted newline: lines != rows
    lines[20] = "not a time,19,x"
    lines[33] = ",32,x"
    lines[37] = "1,2"  # ragged: the reader rejects it
    parsed = _csv_file(tmp_path, _rows(lines))
    config = DatasetConfig(max_rejected_share=0.1)
    summary = _assert_streams_the_same(tmp_path, parsed, config)
    assert summary is not None
    assert summary.rejected == [
        (22, "unparseable time 'not a time' in column 'ts'"),
        (35, "missing time value in column 'ts'"),
        (39, "has 2 fields but the header has 3"),
    ]
    assert summary.row_count == 37
    # The same file with the default share: rejected, with the same message as `validate`.
    _assert_streams_the_same(tmp_path, parsed, None)


def test_streaming_rejection_quotes_the_first_rows_across_batches(tmp_path: Path) -> None:
    lines = ["ts,v"] + [f"{'bad' if i % 3 == 0 else '2024-01-01'},{i}" for i in range(50)]
    lines[25] = "2024-01-01"  # a ragged row among the time rejections
    parsed = _csv_file(tmp_path, _rows(lines))
    assert _assert_streams_the_same(tmp_path, parsed, DatasetConfig(max_rejected_share=0.3)) is None
    with pytest.raises(FileRejected, match=r"17 of 50 rows .* and 12 more") as caught:
        _stream(tmp_path, parsed, DatasetConfig(max_rejected_share=0.3), 7)
    assert caught.value.row == 2
    summary = _assert_streams_the_same(tmp_path, parsed, DatasetConfig(max_rejected_share=0.5))
    assert summary is not None and len(summary.rejected) == 17


def test_streaming_time_column_whose_first_batch_is_all_null(tmp_path: Path) -> None:
    lines = ["name,event_time,v"] + [f"n{i},,{i}" for i in range(10)]
    lines += [f"n{i},2024-03-{i - 9:02d} 10:00,{i}" for i in range(10, 30)]
    parsed = _csv_file(tmp_path, _rows(lines))
    summary = _assert_streams_the_same(tmp_path, parsed, DatasetConfig(max_rejected_share=0.5))
    assert summary is not None
    assert summary.time_column == "event_time"
    assert summary.rejected[0] == (2, "missing time value in column 'event_time'")
    assert summary.preview["v"].to_list() == list(range(10, 20))
    # Not one value parses: all rows rejected, with the same message.
    lines = ["name,ts,v"] + [f"n{i},{'' if i < 10 else 'soon'},{i}" for i in range(20)]
    config = DatasetConfig("ts", max_rejected_share=1.0)
    assert _assert_streams_the_same(tmp_path, _csv_file(tmp_path, _rows(lines)), config) is None


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
        parsed = _csv_file(tmp_path, text)
    except FileRejected:
        pytest.fail("the reader should accept these files")
    _assert_streams_the_same(tmp_path, parsed, config)


def test_streaming_matches_validate_on_ndjson(tmp_path: Path) -> None:
    records = [{"time": f"2024-01-01T00:{i:02d}:00Z", "v": i, "tags": [i, "x"]} for i in range(30)]
    records[20]["late"] = {"a": 1}  # a key first seen in a later batch
    records[25]["v"] = 2.5
    text = "\n".join(json.dumps(r) for r in records) + "\nnot json\n"
    path = tmp_path / "upload.ndjson"
    path.write_text(text, encoding="utf-8")
    parsed = read_frame(path, "uploads/ds/upload.ndjson")
    summary = _assert_streams_the_same(tmp_path, parsed, DatasetConfig(max_rejected_share=0.1))
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
    summary = _assert_streams_the_same(tmp_path, read_frame(path, _KEY), None)
    assert summary is not None
    assert dict(summary.schema)["big"] == "string"  # decided by the last batch's maximum
    assert dict(summary.schema)["small"] == "long"


def test_distinct_count_spilled_to_disk_is_exact(tmp_path: Path) -> None:
    values = pl.Series([i % 5_003 for i in range(40_000)], dtype=pl.Int64)
    spilled = distinct.DistinctCount(tmp_path, memory_hashes=1_000)
    in_memory = distinct.DistinctCount()
    for start in range(0, len(values), 3_000):  # repeats span batches and the spill point
        batch = values.slice(start, 3_000).hash()
        spilled.add(batch)
        in_memory.add(batch)
    assert spilled.count() == in_memory.count() == 5_003
    buckets = list(tmp_path.glob("distinct-*.u64"))
    assert len(buckets) == distinct.SPILL_BUCKETS
    # every distinct hash went to disk once per batch it appeared in, none was kept back
    assert sum(len(np.fromfile(p, dtype=np.uint64)) for p in buckets) >= 5_003


def test_streaming_matches_validate_when_counts_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(distinct, "DISTINCT_MEMORY_HASHES", 8)
    lines = ["ts,city,note"]
    for i in range(300):
        lines.append(f"2024-01-{i % 28 + 1:02d}T00:00:00Z,city{i % 11},n{i % 97}")
    summary = _assert_streams_the_same(tmp_path, _csv_file(tmp_path, _rows(lines)), None, 40)
    assert summary is not None
    assert summary.report["city"]["distinct"] == 11
    assert summary.report["note"]["distinct"] == 97
    # rows repeat when (day, city, note) repeats: i and i + lcm(28, 11, 97) never meet below 300
    expected = pl.DataFrame([line.split(",") for line in lines[1:]], orient="row").unique()
    assert summary.duplicate_rows == 300 - expected.height
    assert not list(tmp_path.glob("distinct-*")), "the spill folder is removed afterwards"


def test_a_value_over_max_value_bytes_rejects_the_file_at_its_line(tmp_path: Path) -> None:
    big = "x" * 3_000
    text = _rows(
        ["ts,note,other", "2024-01-01,short,a", f'2024-01-02,"{big}",b', "2024-01-03,ok,c"]
    )
    config = DatasetConfig(max_value_bytes=2_000)
    parsed = _csv_file(tmp_path, text)
    with pytest.raises(FileRejected) as caught:
        validate(parsed.frame, _KEY, "ds", config, rejected=parsed.rejected)
    error = caught.value
    assert (error.row, error.column) == (3, "note")
    assert "3,000 bytes" in str(error) and "max_value_bytes" in str(error) and _KEY in str(error)
    _assert_streams_the_same(tmp_path, parsed, config, batch_rows=1)  # same error, streamed

    # Leaving the column out with `dimensions` accepts the file; the default limit is 1 MiB.
    assert (
        validate(
            parsed.frame, _KEY, "ds", DatasetConfig(max_value_bytes=2_000, dimensions=["other"])
        ).row_count
        == 3
    )
    assert validate(parsed.frame, _KEY, "ds").row_count == 3
    with pytest.raises(ValueError, match="max_value_bytes"):
        DatasetConfig(max_value_bytes=0)


@pytest.mark.parametrize("key", ["uploads/ds/../x.csv", "uploads/ds/./x.csv", "../ds/x.csv"])
def test_dot_segments_in_the_key_reject_the_file(key: str) -> None:
    frame = pl.DataFrame({"ts": ["2024-01-01"], "v": [1]})
    with pytest.raises(FileRejected, match=r"'\.\.' path segment") as caught:
        validate(frame, key, "ds")
    assert caught.value.key == key


def test_dots_inside_a_name_are_fine() -> None:
    frame = pl.DataFrame({"ts": ["2024-01-01"], "v": [1]})
    assert validate(frame, "uploads/ds/two..dots.csv", "ds").row_count == 1
