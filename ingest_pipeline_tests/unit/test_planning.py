"""The ingestion planner: append vs replace, granularity, the spec it hands to Druid."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from ingest_pipeline.planning import (
    TooManyTimeChunks,
    check_time_chunks,
    choose_granularity,
    choose_mode,
    existing_dimensions,
    plan_ingestion,
    plan_retraction,
    task_id_for,
)
from ingest_pipeline.records import Append, Replace, RetractionPlan, SourceRows
from ingest_pipeline.vocabulary import Problem
from ingest_pipeline_tests.unit.records_factory import ACCESS, T0, T1, state, upload, validated


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


def test_files_of_two_datasources_are_not_planned_together() -> None:
    files = [validated(), validated(upload=upload("stock"))]
    with pytest.raises(ValueError, match=r"one datasource at a time, got \['sales', 'stock'\]"):
        plan_ingestion(files, state(), "DAY", ACCESS)


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


def test_a_refused_span_at_month_granularity_counts_whole_months() -> None:
    centuries = validated(
        time_min=datetime(1900, 1, 1, tzinfo=UTC), time_max=datetime(2200, 12, 31, tzinfo=UTC)
    )
    with pytest.raises(TooManyTimeChunks, match="which is 3,612 MONTH time chunks of"):
        check_time_chunks(centuries, "MONTH")


def test_a_refused_span_says_in_full_what_is_wrong_and_what_to_do() -> None:
    centuries = validated(
        time_min=datetime(1900, 1, 1, tzinfo=UTC), time_max=datetime(2200, 12, 31, tzinfo=UTC)
    )
    with pytest.raises(TooManyTimeChunks) as refused:
        check_time_chunks(centuries, "DAY")
    assert refused.value.as_problem() == Problem(
        "its times span 1900-01-01 to 2200-12-31, which is 109,938 DAY time chunks of "
        "datasource 'sales' (at most 2,000 per file; more would exhaust the Druid worker's "
        "memory)",
        "correct the dates (column 'ts') if they are wrong, split the file, or give the dataset "
        "a coarser segment_granularity in datasets.yaml (a new datasource)",
    )


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


def test_the_same_spec_gets_the_same_task_id_whatever_order_its_keys_were_built_in() -> None:
    one = {"type": "index_parallel", "spec": {"a": 1, "b": [1, 2]}}
    same = {"spec": {"b": [1, 2], "a": 1}, "type": "index_parallel"}
    assert task_id_for("sales", one, "run-1") == task_id_for("sales", same, "run-1")
    assert task_id_for("sales", one, "run-1") != task_id_for("sales", one, "run-2")


def test_a_task_id_writes_the_datasource_with_only_letters_digits_dash_and_underscore() -> None:
    task_id = task_id_for("Sales.EU 2024/q1", {"type": "index_parallel"}, "run-1")
    assert re.fullmatch(r"ingest_Sales_EU_2024_q1_[0-9a-f]{24}", task_id), task_id


def test_a_task_id_holds_at_most_80_characters_of_the_datasource() -> None:
    task_id = task_id_for("a" * 100, {"type": "index_parallel"}, "run-1")
    assert re.fullmatch(r"ingest_a{80}_[0-9a-f]{24}", task_id), task_id


# --------------------------------------------------------------------------- plan_retraction

KEY = "uploads/sales/a.csv"
ROWS = SourceRows(30, datetime(2024, 7, 1, 5, tzinfo=UTC), datetime(2024, 7, 2, 1, tzinfo=UTC))
DAY_SEGMENT = (datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 2, tzinfo=UTC))


def test_a_retraction_names_the_deleted_file_whether_druid_holds_rows_of_it_or_not() -> None:
    nothing = plan_retraction("sales/a.csv", KEY, state(), None, ACCESS)
    assert nothing == RetractionPlan("sales/a.csv", KEY, 0, None)
    some = plan_retraction("sales/a.csv", KEY, state(previous=ROWS), "DAY", ACCESS)
    assert (some.partition_key, some.source_key, some.rows_in_druid) == ("sales/a.csv", KEY, 30)


@pytest.mark.parametrize(("first", "last"), [(T0, None), (None, T1), (None, None)])
def test_rows_to_retract_without_both_ends_of_their_time_range_are_refused(
    first: datetime | None, last: datetime | None
) -> None:
    rows = state(previous=SourceRows(30, first, last))
    with pytest.raises(ValueError, match="^30 rows of uploads/sales/a.csv but no time range$"):
        plan_retraction("sales/a.csv", KEY, rows, "DAY", ACCESS)


def test_a_retraction_without_a_configured_granularity_takes_the_datasource_s() -> None:
    held = state(previous=ROWS, segment_interval=DAY_SEGMENT)
    task = plan_retraction("sales/a.csv", KEY, held, None, ACCESS).task
    assert task is not None and task.segment_granularity == "DAY"
    assert task.mode == Replace(("2024-07-01T00:00:00.000Z/2024-07-03T00:00:00.000Z",), 30, KEY)


def test_a_retraction_with_no_granularity_configured_or_held_is_over_all_time() -> None:
    task = plan_retraction("sales/a.csv", KEY, state(previous=ROWS), None, ACCESS).task
    assert task is not None and task.segment_granularity == "ALL"
    eternity = "-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z"
    assert task.mode == Replace((eternity,), 30, KEY)


def test_a_retraction_of_a_file_in_a_subfolder_rewrites_its_top_folder_s_datasource() -> None:
    key = "uploads/sales/2024/a.csv"
    held = state(previous=ROWS, key=key)
    task = plan_retraction("sales/2024/a.csv", key, held, "DAY", ACCESS).task
    assert task is not None and task.datasource == "sales"
    assert task.spec["spec"]["dataSchema"]["dataSource"] == "sales"
    assert task.task_id.startswith("ingest_sales_")


def test_a_retraction_task_s_spec_carries_its_id() -> None:
    task = plan_retraction("sales/a.csv", KEY, state(previous=ROWS), "DAY", ACCESS, "run-1").task
    assert task is not None and task.spec["id"] == task.task_id


def test_retraction_task_ids_differ_by_file_and_by_run() -> None:
    def task_id(name: str, run: str) -> str:
        key = f"uploads/sales/{name}"
        held = state(previous=ROWS, key=key)
        task = plan_retraction(f"sales/{name}", key, held, "DAY", ACCESS, run).task
        assert task is not None
        return task.task_id

    ids = {task_id("a.csv", "run-1"), task_id("b.csv", "run-1"), task_id("a.csv", "run-2")}
    assert len(ids) == 3
    assert task_id("a.csv", "run-1") == task_id("a.csv", "run-1")
