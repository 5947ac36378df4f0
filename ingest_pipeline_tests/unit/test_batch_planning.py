"""Planning a batch of files (one run over a partition range): new files appended together in
one task, files seen before replaced alone, a refused file stopping only itself, the time-chunk
bound splitting big appends, task ids stable within a run and new across runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest_pipeline.planning import merged_schema, plan_ingestion
from ingest_pipeline.records import (
    Append,
    DatasourceState,
    IngestionPlan,
    Replace,
    SourceRows,
    ValidatedArtifacts,
    ValidatedUpload,
)
from ingest_pipeline.spec import ETERNITY
from ingest_pipeline_tests.unit.records_factory import ACCESS, upload, validated


def day_file(name: str, day: int, rows: int = 10, schema=None) -> ValidatedUpload:  # noqa: ANN001
    start = datetime(2024, 7, day, 1, tzinfo=UTC)
    return validated(
        upload=upload(name=name, etag=f"etag-{name}"),
        row_count=rows,
        time_min=start,
        time_max=start + timedelta(hours=5),
        schema=schema or (("team", "string"), ("points", "long")),
        artifacts=ValidatedArtifacts(f"s3://v/{name}.ndjson.gz", "s3://v/p", "s3://v/r"),
    )


def seen_state(**previous: SourceRows) -> DatasourceState:
    """A DAY datasource holding earlier rows of the files named (keys uploads/sales/<name>)."""
    return DatasourceState(
        True,
        {"team": "VARCHAR", "points": "BIGINT"},
        (datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 2, tzinfo=UTC)),
        {f"uploads/sales/{name.replace('_', '.')}": rows for name, rows in previous.items()},
    )


def test_three_new_files_are_one_append_task_reading_all_three() -> None:
    files = [day_file("c.csv", 3), day_file("a.csv", 1), day_file("b.csv", 2)]
    result = plan_ingestion(files, DatasourceState.empty(), "DAY", ACCESS, run_identity="run-1")
    (plan,) = result.plans
    assert result.refused == ()
    assert plan.mode == Append(("2024-07-01T00:00:00.000Z/2024-07-04T00:00:00.000Z",))
    assert [f.partition_key for f in plan.files] == ["sales/a.csv", "sales/b.csv", "sales/c.csv"]
    assert plan.validated_rows == 30
    source = plan.spec["spec"]["ioConfig"]["inputSource"]
    assert source["uris"] == [
        "s3://v/a.csv.ndjson.gz",
        "s3://v/b.csv.ndjson.gz",
        "s3://v/c.csv.ndjson.gz",
    ]
    assert plan.spec["spec"]["ioConfig"]["appendToExisting"] is True
    assert plan.spec["id"] == plan.task_id and plan.task_id.startswith("ingest_sales_")


def test_gaps_between_files_stay_out_of_the_locked_intervals() -> None:
    files = [day_file("a.csv", 1), day_file("b.csv", 20)]
    (plan,) = plan_ingestion(files, DatasourceState.empty(), "DAY", ACCESS).plans
    assert plan.mode == Append(
        (
            "2024-07-01T00:00:00.000Z/2024-07-02T00:00:00.000Z",
            "2024-07-20T00:00:00.000Z/2024-07-21T00:00:00.000Z",
        )
    )


def test_a_file_seen_before_is_replaced_alone_beside_the_append_of_new_ones() -> None:
    old = SourceRows(4, datetime(2024, 7, 2, 3, tzinfo=UTC), datetime(2024, 7, 2, 4, tzinfo=UTC))
    files = [day_file("a.csv", 1), day_file("b.csv", 2), day_file("c.csv", 3)]
    result = plan_ingestion(files, seen_state(b_csv=old), None, ACCESS)
    append, replace = result.plans
    assert [f.partition_key for f in append.files] == ["sales/a.csv", "sales/c.csv"]
    assert isinstance(append.mode, Append)
    assert [f.partition_key for f in replace.files] == ["sales/b.csv"]
    assert replace.mode == Replace(
        ("2024-07-02T00:00:00.000Z/2024-07-03T00:00:00.000Z",), 4, "uploads/sales/b.csv"
    )
    assert append.segment_granularity == replace.segment_granularity == "DAY"  # the datasource's


def test_a_file_spanning_centuries_is_refused_and_the_others_still_planned() -> None:
    centuries = validated(
        upload=upload(name="bad.csv"),
        time_min=datetime(1900, 1, 1, tzinfo=UTC),
        time_max=datetime(2200, 12, 31, tzinfo=UTC),
    )
    result = plan_ingestion([day_file("a.csv", 1), centuries], seen_state(), None, ACCESS)
    (plan,) = result.plans
    assert [f.partition_key for f in plan.files] == ["sales/a.csv"]
    (refused,) = result.refused
    assert refused.partition_key == "sales/bad.csv"
    assert "1900-01-01 to 2200-12-31" in refused.problem.what
    assert "109,938 DAY" in refused.problem.what


def test_appends_are_split_so_no_task_touches_more_than_2000_chunks() -> None:
    # 3 files of 900 hourly chunks each (37.5 days at HOUR), back to back: 2,700 chunks.
    files = []
    for index in range(3):
        start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=900 * index)
        files.append(
            validated(
                upload=upload(name=f"f{index}.csv"),
                time_min=start,
                time_max=start + timedelta(hours=899),
            )
        )
    plans = plan_ingestion(files, DatasourceState.empty(), "HOUR", ACCESS).plans
    assert [[f.partition_key for f in p.files] for p in plans] == [
        ["sales/f0.csv", "sales/f1.csv"],
        ["sales/f2.csv"],
    ]


def test_task_ids_are_stable_within_a_run_and_new_in_another_run() -> None:
    files = [day_file("a.csv", 1), day_file("b.csv", 2)]
    empty = DatasourceState.empty()
    first = plan_ingestion(files, empty, "DAY", ACCESS, run_identity="run-1").plans[0]
    again = plan_ingestion(files, empty, "DAY", ACCESS, run_identity="run-1").plans[0]
    other = plan_ingestion(files, empty, "DAY", ACCESS, run_identity="run-2").plans[0]
    assert first.task_id == again.task_id
    assert first.task_id != other.task_id


def test_the_tasks_of_one_run_each_get_their_own_id() -> None:
    old = SourceRows(4, datetime(2024, 7, 2, 3, tzinfo=UTC), datetime(2024, 7, 2, 4, tzinfo=UTC))
    files = [day_file("a.csv", 1), day_file("b.csv", 2)]
    result = plan_ingestion(files, seen_state(b_csv=old), None, ACCESS, run_identity="run-1")
    append, replace = result.plans
    assert append.task_id != replace.task_id
    assert append.spec["id"] == append.task_id and replace.spec["id"] == replace.task_id


def test_a_type_clash_between_files_of_one_task_becomes_string_for_both() -> None:
    a = day_file("a.csv", 1, schema=(("code", "long"), ("team", "string")))
    b = day_file("b.csv", 2, schema=(("code", "string"), ("extra", "double")))
    assert merged_schema([a, b]) == [("code", "string"), ("team", "string"), ("extra", "double")]
    (plan,) = plan_ingestion([a, b], DatasourceState.empty(), "DAY", ACCESS).plans
    assert plan.specified_columns == {"code": "string", "team": "string", "extra": "double"}


def test_a_new_datasource_s_granularity_comes_from_all_new_files_together() -> None:
    # 12 files of 100k rows, one per month: 1.2M rows over a year is YEAR (< 1M per month).
    files = [
        validated(
            upload=upload(name=f"m{month}.csv"),
            row_count=100_000,
            time_min=datetime(2024, month, 1, tzinfo=UTC),
            time_max=datetime(2024, month, 28, tzinfo=UTC),
        )
        for month in range(1, 13)
    ]
    (plan,) = plan_ingestion(files, DatasourceState.empty(), None, ACCESS).plans
    assert plan.segment_granularity == "YEAR"
    assert plan.mode == Append(("2024-01-01T00:00:00.000Z/2025-01-01T00:00:00.000Z",))


def test_new_small_files_over_many_years_are_one_append_over_all_time() -> None:
    # Few rows over decades is ALL granularity (one segment): the whole batch is one task over
    # eternity. Two such files in one batch failed the druid_spec step: counting the batch's
    # chunks parsed Druid's eternity bounds as ISO dates.
    files = [
        validated(
            upload=upload(name=f"{year}.csv"),
            row_count=3,
            time_min=datetime(year, 1, 1, tzinfo=UTC),
            time_max=datetime(year, 12, 1, tzinfo=UTC),
        )
        for year in (2000, 2012, 2024)
    ]
    result = plan_ingestion(files, DatasourceState.empty(), None, ACCESS)
    (plan,) = result.plans
    assert result.refused == ()
    assert plan.segment_granularity == "ALL"
    assert plan.mode == Append((ETERNITY,))
    assert [f.partition_key for f in plan.files] == [
        "sales/2000.csv",
        "sales/2012.csv",
        "sales/2024.csv",
    ]


def test_every_file_after_a_refused_one_is_still_planned_or_refused() -> None:
    def centuries(name: str) -> ValidatedUpload:
        return validated(
            upload=upload(name=name, etag=f"etag-{name}"),
            time_min=datetime(1900, 1, 1, tzinfo=UTC),
            time_max=datetime(2200, 12, 31, tzinfo=UTC),
        )

    old = SourceRows(4, datetime(2024, 7, 3, 3, tzinfo=UTC), datetime(2024, 7, 3, 4, tzinfo=UTC))
    files = [
        day_file("a.csv", 1),
        centuries("bad1.csv"),
        day_file("b.csv", 2),
        centuries("bad2.csv"),
        day_file("c.csv", 3),  # seen before: replaced
    ]
    result = plan_ingestion(files, seen_state(c_csv=old), None, ACCESS)
    planned = [[f.partition_key for f in plan.files] for plan in result.plans]
    assert planned == [["sales/a.csv", "sales/b.csv"], ["sales/c.csv"]]
    assert [r.partition_key for r in result.refused] == ["sales/bad1.csv", "sales/bad2.csv"]


def test_a_replace_task_id_is_stable_within_a_run_and_new_in_another_run() -> None:
    old = SourceRows(4, datetime(2024, 7, 1, 3, tzinfo=UTC), datetime(2024, 7, 1, 4, tzinfo=UTC))
    state = seen_state(a_csv=old)

    def replace_plan(run: str) -> IngestionPlan:
        (plan,) = plan_ingestion([day_file("a.csv", 1)], state, None, ACCESS, run).plans
        assert isinstance(plan.mode, Replace)
        return plan

    first, again, other = replace_plan("run-1"), replace_plan("run-1"), replace_plan("run-2")
    assert first.task_id == again.task_id and first.spec == again.spec
    assert first.task_id != other.task_id
    assert first.spec["id"] == first.task_id and first.task_id.startswith("ingest_sales_")


def test_a_type_clash_becomes_string_whichever_file_comes_last() -> None:
    text_first = day_file("a.csv", 1, schema=(("code", "string"),))
    number_last = day_file("b.csv", 2, schema=(("code", "long"),))
    assert merged_schema([text_first, number_last]) == [("code", "string")]
    longs = day_file("c.csv", 3, schema=(("code", "long"),))
    doubles = day_file("d.csv", 4, schema=(("code", "double"),))
    assert merged_schema([longs, doubles]) == [("code", "string")]
    assert merged_schema([longs, doubles, longs]) == [("code", "string")]
    assert merged_schema([longs, longs]) == [("code", "long")]


def hours_file(name: str, first_hour: int, hours: int) -> ValidatedUpload:
    """A file whose rows touch `hours` HOUR chunks from 2024-01-01 + `first_hour` hours."""
    start = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=first_hour)
    return validated(
        upload=upload(name=name), time_min=start, time_max=start + timedelta(hours=hours - 1)
    )


def test_appends_are_grouped_in_time_order_not_name_or_arrival_order() -> None:
    # 900 hourly chunks each; by time: b (0..899), c (900..1799), a (1800..2699); 1,800
    # hours after 2024-01-01 (a leap year) is 2024-03-16
    files = [hours_file("a.csv", 1800, 900), hours_file("b.csv", 0, 900)]
    files.append(hours_file("c.csv", 900, 900))
    plans = plan_ingestion(files, DatasourceState.empty(), "HOUR", ACCESS).plans
    assert [[f.partition_key for f in p.files] for p in plans] == [
        ["sales/b.csv", "sales/c.csv"],
        ["sales/a.csv"],
    ]
    assert plans[0].mode == Append(("2024-01-01T00:00:00.000Z/2024-03-16T00:00:00.000Z",))


def test_an_append_may_touch_exactly_2000_chunks_not_2001() -> None:
    at_bound = [hours_file("a.csv", 0, 1000), hours_file("b.csv", 1000, 1000)]
    (plan,) = plan_ingestion(at_bound, DatasourceState.empty(), "HOUR", ACCESS).plans
    assert [f.partition_key for f in plan.files] == ["sales/a.csv", "sales/b.csv"]
    past_bound = [hours_file("a.csv", 0, 1000), hours_file("b.csv", 1000, 1001)]
    plans = plan_ingestion(past_bound, DatasourceState.empty(), "HOUR", ACCESS).plans
    assert [[f.partition_key for f in p.files] for p in plans] == [["sales/a.csv"], ["sales/b.csv"]]
