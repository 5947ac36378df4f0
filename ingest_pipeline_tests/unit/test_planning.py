"""The ingestion planner: append vs replace, granularity, the spec it hands to Druid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest_pipeline.planning import (
    TooManyTimeChunks,
    check_time_chunks,
    choose_granularity,
    choose_mode,
    existing_dimensions,
    plan_ingestion,
)
from ingest_pipeline.records import Append, Replace, SourceRows
from ingest_pipeline_tests.unit.records_factory import ACCESS, T0, T1, state, validated


@pytest.mark.parametrize(
    ("configured", "segment", "expected"),
    [
        ("MONTH", None, "MONTH"),  # configured wins over everything
        ("MONTH", (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)), "MONTH"),
        (None, (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC)), "DAY"),
        (None, (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)), "YEAR"),
        (None, None, "YEAR"),  # a first file of 3 rows over 8 hours: one chunk, not 9
    ],
)
def test_choose_granularity(
    configured: str | None, segment: tuple[datetime, datetime] | None, expected: str
) -> None:
    chosen = choose_granularity([validated()], state(segment_interval=segment), configured)
    assert chosen == expected


def test_a_file_druid_has_not_seen_is_appended_over_its_own_chunks() -> None:
    mode = choose_mode(validated(), state(), "HOUR")
    assert mode == Append(("2024-03-01T10:00:00.000Z/2024-03-01T19:00:00.000Z",))


def test_a_file_seen_before_is_replaced_over_its_old_and_new_chunks() -> None:
    previous = SourceRows(
        5, datetime(2024, 2, 1, 3, tzinfo=UTC), datetime(2024, 2, 1, 4, tzinfo=UTC)
    )
    mode = choose_mode(validated(), state(previous=previous), "DAY")
    assert mode == Replace(
        (
            "2024-02-01T00:00:00.000Z/2024-02-02T00:00:00.000Z",
            "2024-03-01T00:00:00.000Z/2024-03-02T00:00:00.000Z",
        ),
        previous_rows=5,
        source_key="uploads/sales/a.csv",
    )


def test_overlapping_old_and_new_chunks_merge_into_one_interval() -> None:
    previous = SourceRows(2, T0, T1)
    mode = choose_mode(validated(), state(previous=previous), "HOUR")
    assert mode == Replace(
        ("2024-03-01T10:00:00.000Z/2024-03-01T19:00:00.000Z",), 2, "uploads/sales/a.csv"
    )


def test_previous_rows_without_a_time_range_are_refused() -> None:
    with pytest.raises(ValueError, match="no time range"):
        choose_mode(validated(), state(previous=SourceRows(3, None, None)), "HOUR")


def test_existing_dimensions_map_sql_types_and_leave_out_time_and_unknown_types() -> None:
    columns = {"__time": "TIMESTAMP", "city": "VARCHAR", "n": "BIGINT", "x": "DOUBLE", "c": "OTHER"}
    assert existing_dimensions(state(columns=columns)) == [
        ("city", "string"),
        ("n", "long"),
        ("x", "double"),
    ]


def test_plan_for_a_replace_reads_back_neighbours_and_keeps_their_columns() -> None:
    previous = SourceRows(4, T0, T0)
    plans = plan_ingestion(
        [validated()], state(previous=previous, columns={"old_col": "VARCHAR"}), None, ACCESS
    )
    (plan,) = plans.plans
    assert isinstance(plan.mode, Replace) and plan.mode.previous_rows == 4
    (file,) = plan.files
    assert (plan.datasource, file.source_key, file.etag) == ("sales", "uploads/sales/a.csv", "e1")
    assert plan.validated_rows == 3 and plan.specified_columns == {
        "region": "string",
        "qty": "long",
    }
    io = plan.spec["spec"]["ioConfig"]
    assert io["inputSource"]["type"] == "combining" and io["dropExisting"] is True
    names = [d["name"] for d in plan.spec["spec"]["dataSchema"]["dimensionsSpec"]["dimensions"]]
    assert names == ["region", "qty", "old_col", "__source_key"]
    # no secret in the spec: the worker reads the keys from its environment
    assert io["inputSource"]["delegates"][-1]["properties"]["secretAccessKey"] == {
        "type": "environment",
        "variable": "AWS_SECRET_ACCESS_KEY",
    }


def test_plan_for_a_new_file_appends_with_its_intervals() -> None:
    (plan,) = plan_ingestion([validated()], state(), "DAY", ACCESS).plans
    assert plan.mode == Append(("2024-03-01T00:00:00.000Z/2024-03-02T00:00:00.000Z",))
    granularity = plan.spec["spec"]["dataSchema"]["granularitySpec"]
    assert granularity["segmentGranularity"] == "DAY"
    assert granularity["intervals"] == list(plan.mode.intervals)
    assert plan.spec["spec"]["ioConfig"]["appendToExisting"] is True


def test_a_span_of_centuries_at_day_granularity_is_refused_before_druid() -> None:
    centuries = validated(
        time_min=datetime(1900, 1, 1, tzinfo=UTC), time_max=datetime(2200, 12, 31, tzinfo=UTC)
    )
    with pytest.raises(TooManyTimeChunks) as refused:
        check_time_chunks(centuries, "DAY")
    message = str(refused.value)
    assert "uploads/sales/a.csv" in message and "1900-01-01 to 2200-12-31" in message
    assert "109,938 DAY time chunks" in message and "segment_granularity" in message
    assert check_time_chunks(centuries, "YEAR") == 301  # the same file fits at YEAR


def test_a_file_of_exactly_2000_chunks_is_allowed_and_2001_refused() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    at_bound = validated(time_min=start, time_max=start + timedelta(hours=1999, minutes=59))
    assert check_time_chunks(at_bound, "HOUR") == 2_000
    past_bound = validated(time_min=start, time_max=start + timedelta(hours=2000))
    with pytest.raises(TooManyTimeChunks, match="which is 2,001 HOUR time chunks"):
        check_time_chunks(past_bound, "HOUR")
    (plan,) = plan_ingestion([at_bound], state(), "HOUR", ACCESS).plans
    assert plan.files[0].partition_key == "sales/a.csv"
    refused = plan_ingestion([past_bound], state(), "HOUR", ACCESS)
    assert refused.plans == () and [r.partition_key for r in refused.refused] == ["sales/a.csv"]
