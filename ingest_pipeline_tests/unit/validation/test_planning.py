"""Whole-file decisions: which columns are written, which column is the time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.reading import read_frame
from ingest_pipeline.validation import early_times, validate
from ingest_pipeline.validation.planning import plan_validation
from ingest_pipeline.vocabulary import (
    SOURCE_KEY_COLUMN,
    TIME_COLUMN,
    FileRejected,
    Problem,
    RejectedRow,
)
from ingest_pipeline_tests.flights_shaped import flights_csv
from ingest_pipeline_tests.unit.validation.helpers import (
    lines_to_text,
    read_csv_text,
    stream_to_files,
    validate_csv,
)


def test_configured_dimensions_restrict_the_output(tmp_path: Path) -> None:
    result = validate_csv(
        tmp_path, "ts,a,b,c\n2024-01-01,1,2,3\n", DatasetConfig(dimensions=["c", "a"])
    )
    assert result.schema == [("a", "long"), ("c", "long")]
    assert result.frame.columns == [TIME_COLUMN, "a", "c", SOURCE_KEY_COLUMN]
    with pytest.raises(FileRejected, match=r"\['zz'\]"):
        validate_csv(tmp_path, "a\n1\n", DatasetConfig(dimensions=["a", "zz"]))


def test_missing_configured_dimensions_reject_the_file_at_the_first_missing_one(
    tmp_path: Path,
) -> None:
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, "a\n1\n", DatasetConfig(dimensions=["zz", "a", "yy"]))
    assert caught.value.key == "uploads/ds/upload.csv"
    assert caught.value.as_problem() == Problem(
        "configured dimensions ['zz', 'yy'] are not in the file (columns: ['a'])",
        "fix dimensions for dataset 'ds' in the dataset config",
        column="zz",
    )


def test_a_file_without_data_rows_is_rejected_saying_what_to_upload(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, "ts,v\n")
    assert caught.value.key == "uploads/ds/upload.csv"
    assert caught.value.as_problem() == Problem(
        "the file has no data rows", "upload a file with at least one data row"
    )


def test_a_value_of_exactly_max_value_bytes_is_kept_counting_bytes_not_characters(
    tmp_path: Path,
) -> None:
    text = "ts,note\n2024-01-01," + "\u00e9" * 6 + "\n"  # six characters, 12 UTF-8 bytes
    assert validate_csv(tmp_path, text, DatasetConfig(max_value_bytes=12)).row_count == 1
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, text, DatasetConfig(max_value_bytes=11))
    problem = caught.value.as_problem()
    assert (problem.what, problem.line, problem.column) == (
        "a value of 12 bytes is longer than the 11 bytes a Druid text column accepts here",
        2,
        "note",
    )
    assert problem.fix.endswith("raise max_value_bytes for dataset 'ds' in the dataset config")


def test_the_rows_of_a_frame_without_line_numbers_are_numbered_from_one() -> None:
    times = [f"2024-01-{day:02d}" for day in range(1, 11)]
    times[4] = "never"  # the fifth row
    frame = pl.DataFrame({"ts": times, "v": list(range(10))})
    config = DatasetConfig(time_column="ts", max_rejected_share=0.5)
    result = validate(frame, "uploads/ds/f.csv", "ds", config)
    assert result.rejected == [RejectedRow(5, "unparseable time 'never' in column 'ts'")]


def test_a_configured_time_column_takes_dotted_dates_only_when_most_values_are() -> None:
    # one 31.01.2024 among ISO times: the column is ISO text with one bad row, not dotted dates
    # under which every ISO value would fail (the share is of the column's values, counted)
    times = [f"2024-01-{day:02d}T10:00:00Z" for day in range(1, 11)]
    times[6] = "31.01.2024"
    frame = pl.DataFrame({"ts": times, "v": list(range(10))})
    config = DatasetConfig(time_column="ts", max_rejected_share=0.5)
    result = validate(frame, "uploads/ds/f.csv", "ds", config)
    assert result.rejected == [RejectedRow(7, "unparseable time '31.01.2024' in column 'ts'")]
    assert result.frame[TIME_COLUMN][0] == datetime(2024, 1, 1, 10, tzinfo=UTC)


def test_raw_batches_of_a_frame_without_line_numbers_are_left_unused(tmp_path: Path) -> None:
    # read batch by batch, the rows would be numbered again from one in each batch: the frame
    # is numbered once over the whole file and streamed instead
    times = [f"2024-01-{day:02d}" for day in range(1, 11)]
    times[7] = "never"  # the eighth row, in the second batch of five
    frame = pl.DataFrame({"ts": times, "v": list(range(10))})

    def raw_batches(rows: int, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        yield from frame.iter_slices(rows)

    parsed = replace(
        read_csv_text(tmp_path, "a\n1\n"), frame=frame.lazy(), batches=raw_batches, rows=10
    )
    config = DatasetConfig(time_column="ts", max_rejected_share=0.5)
    summary = stream_to_files(tmp_path, parsed, config, batch_rows=5)
    assert summary.rejected == [RejectedRow(8, "unparseable time 'never' in column 'ts'")]


def test_a_csv_of_many_batches_is_validated_from_the_reader_s_batches_a_batch_at_a_time(
    tmp_path: Path,
) -> None:
    # Polars' streaming CSV scan holds memory that grows with the file; the reader's own
    # batches (read from its Arrow copy) hold one batch, and each pass reads them afresh.
    lines = ["ts,store,v"] + [f"2024-01-01T{i % 24:02d}:00:00,s{i % 7},{i}" for i in range(1000)]
    parsed = read_csv_text(tmp_path, lines_to_text(lines))
    assert parsed.batches is not None and parsed.rows == 1000
    reader_batches = parsed.batches
    asked: list[int] = []
    heights: list[int] = []

    def counted(rows: int, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        asked.append(rows)
        for batch in reader_batches(rows, columns):
            heights.append(batch.height)
            yield batch

    summary = stream_to_files(tmp_path, replace(parsed, batches=counted), None, batch_rows=128)

    assert summary.row_count == 1000 and summary.time_column == "ts"
    assert asked and set(asked) == {128}
    assert max(heights) == 128 and sum(heights) % 1000 == 0


def test_too_many_rows_without_a_time_reject_the_file_while_planning() -> None:
    # before any batch is converted; at a share of 1, only when no row at all is left
    frame = pl.DataFrame({"ts": ["never", "2024-01-02", "no", "nope"], "v": [1, 2, 3, 4]})
    config = DatasetConfig(time_column="ts", max_rejected_share=0.5)
    with pytest.raises(FileRejected) as caught:
        plan_validation(frame.lazy(), "uploads/ds/f.csv", "ds", config, [], [], None)
    assert caught.value.as_problem().what.startswith(
        "3 of 4 rows cannot be ingested (allowed share 0.5): "
        "line 1: unparseable time 'never' in column 'ts'; line 3:"
    )
    nothing_kept = frame.with_columns(ts=pl.lit("never"))
    config = DatasetConfig(time_column="ts", max_rejected_share=1.0)
    with pytest.raises(FileRejected) as caught:
        plan_validation(nothing_kept.lazy(), "uploads/ds/f.csv", "ds", config, [], [], None)
    assert caught.value.as_problem().what.startswith(
        "4 of 4 rows cannot be ingested (allowed share 1): "
    )


def test_a_frame_with_names_druid_cannot_take_is_renamed_with_a_warning() -> None:
    frame = pl.DataFrame({"ts": ["2024-01-01"], "unit price": [1]})
    result = validate(frame, "uploads/ds/f.csv", "ds")
    assert result.warnings[0] == "renamed columns for Druid: 'unit price' -> 'unit_price'"
    assert result.schema == [("ts", "string"), ("unit_price", "long")]


def test_a_streamed_frame_polars_cannot_resolve_is_refused_as_unreadable_naming_the_file(
    tmp_path: Path,
) -> None:
    parsed = read_csv_text(tmp_path, "a\n1\n")
    broken = pl.LazyFrame({"a": [1]}).select(pl.col("missing"))  # fails when its schema is read
    with pytest.raises(FileRejected) as caught:
        stream_to_files(tmp_path, replace(parsed, frame=broken, batches=None), None, batch_rows=7)
    assert caught.value.key == "uploads/ds/upload.csv"
    problem = caught.value.as_problem()
    assert problem.what.startswith('the file could not be read (unable to find column "missing"')
    assert problem.fix == "upload a valid file"


# --------------------------------------------------------------------------- the time column


def test_a_configured_time_column_not_in_the_file_rejects_it_naming_the_columns(
    tmp_path: Path,
) -> None:
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, "when,v\n2024-01-01,1\n", DatasetConfig(time_column="ts"))
    assert caught.value.key == "uploads/ds/upload.csv"
    assert caught.value.as_problem() == Problem(
        "the configured time column 'ts' is not in the file (columns: when, v)",
        "rename the column in the file or fix time_column in the dataset config",
        column="ts",
    )


def test_a_flights_shaped_file_gets_every_row_its_time_hour(tmp_path: Path) -> None:
    rows = 300_500
    body, expected = flights_csv(rows)
    parsed = read_csv_text(tmp_path, body.decode())
    summary = stream_to_files(tmp_path, parsed, None, batch_rows=120_000)
    assert summary.time_column == "time_hour"
    assert summary.row_count == rows and summary.rejected == []
    written = pl.read_parquet(tmp_path / "stream.parquet")
    assert written[TIME_COLUMN].to_list() == expected
    assert (summary.time_min, summary.time_max) == (min(expected), max(expected))
    reasons = {e["column"]: e["reason"] for e in summary.report[TIME_COLUMN]["candidates"]}
    assert "HHMM" in reasons["dep_time"] and "HHMM" in reasons["sched_arr_time"]
    assert "durations" in reasons["dep_delay"] and "durations" in reasons["air_time"]
    assert all("date part" in reasons[p] for p in ("year", "month", "day", "hour", "minute"))
    warning = next(w for w in summary.warnings if "auto-detected" in w)
    assert warning.startswith("time column auto-detected: 'time_hour'")
    assert "'dep_time': clock times" in warning and "ds:\n  time_column: <name>" in warning


def test_equally_good_neutral_columns_that_disagree_reject_the_file(tmp_path: Path) -> None:
    text = "sent_ms,received_ms,v\n1704067200000,1704067200500,1\n1704067300000,1704067300100,2\n"
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, text)
    message = str(caught.value)
    assert "ambiguous" in message and "'sent_ms'" in message and "'received_ms'" in message
    assert "datasets.yaml:\nds:\n  time_column: sent_ms" in message
    # The same times in both: nothing to choose, the first wins.
    same = "sent_ms,copy_ms,v\n1704067200000,1704067200000,1\n"
    assert validate_csv(tmp_path, same).time_column == "sent_ms"
    # Said in the config: no question.
    config = DatasetConfig(time_column="received_ms")
    assert validate_csv(tmp_path, text, config).time_column == "received_ms"


def test_an_ambiguous_time_column_refusal_names_the_file(tmp_path: Path) -> None:
    text = "sent_ms,received_ms,v\n1704067200000,1704067200500,1\n1704067300000,1704067300100,2\n"
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, text)
    assert caught.value.key == "uploads/ds/upload.csv"


def test_a_configured_time_column_always_wins(tmp_path: Path) -> None:
    text = "dep_time,time_hour\n1704067200,2013-01-01T05:00:00Z\n"
    result = validate_csv(tmp_path, text, DatasetConfig(time_column="dep_time"))
    assert result.time_column == "dep_time"
    assert result.frame[TIME_COLUMN].to_list() == [datetime(2024, 1, 1, tzinfo=UTC)]
    assert result.report[TIME_COLUMN]["candidates"] == [
        {"column": "dep_time", "verdict": "chosen", "reason": "the configured time_column"}
    ]
    assert not any("auto-detected" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("values", "reparsed"),
    [
        # ISO text under a time name: parsed in the first pass as guessed, kept
        ([f"2024-01-01T00:00:{i:02d}Z" for i in range(30)], []),
        # epoch milliseconds as text: the guess (seconds) was wrong, parsed again
        ([f" {1_704_067_200_000 + i * 1000}" for i in range(30)], ["0"]),
    ],
)
def test_time_column_parsed_in_the_first_pass_unless_the_guess_was_wrong(
    monkeypatch: pytest.MonkeyPatch, values: list[str], reparsed: list[str]
) -> None:
    calls: list[list[str]] = []
    real = early_times.keep

    def spy(source: object, exprs: dict[str, pl.Expr]) -> object:
        calls.append(sorted(exprs))
        return real(source, exprs)  # type: ignore[arg-type]

    monkeypatch.setattr(early_times, "keep", spy)
    frame = pl.DataFrame({"ts": values, "v": list(range(30))}, schema_overrides={"ts": pl.String})
    result = validate(frame, "uploads/ds/f.csv", "ds")
    assert [c for c in calls if c] == ([reparsed] if reparsed else [])
    assert result.time_column == "ts"
    assert result.frame[TIME_COLUMN].to_list() == [
        datetime(2024, 1, 1, 0, 0, i, tzinfo=UTC) for i in range(30)
    ]


# --------------------------------------------------------------------------- UInt64 columns


@pytest.mark.parametrize(
    ("largest_kept", "largest_dropped", "druid_type"),
    [
        (2**63 - 1, 0, "long"),  # the largest value Druid's long holds
        (2**63, 0, "string"),  # one more: text, or it would overflow
        (5, 2**64 - 1, "long"),  # the overflowing value is in a row rejected (no time)
    ],
)
def test_a_uint64_column_is_text_only_when_a_kept_value_overflows_druid_long(
    tmp_path: Path, largest_kept: int, largest_dropped: int, druid_type: str
) -> None:
    n = 20
    times = [datetime(2024, 1, 1, i) for i in range(n - 1)] + [None]  # the last row: no time
    big = [i for i in range(n - 2)] + [largest_kept, largest_dropped]
    frame = pl.DataFrame({"ts": times, "big": pl.Series(big, dtype=pl.UInt64)})
    path = tmp_path / "upload.parquet"
    frame.write_parquet(path)
    parsed = read_frame(path, "uploads/ds/upload.parquet")
    config = DatasetConfig(max_rejected_share=0.1)
    summary = stream_to_files(tmp_path, parsed, config, batch_rows=7)
    assert dict(summary.schema)["big"] == druid_type
    written = pl.read_parquet(tmp_path / "stream.parquet")["big"].to_list()
    expected = big[:-1] if druid_type == "long" else [str(v) for v in big[:-1]]
    assert written == expected
