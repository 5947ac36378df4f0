"""Asset check results in full: the asset, check, verdict, severity, description and metadata a
person sees in the UI, for passing and failing values (test_checks.py covers each verdict).

Every expected value is written out by hand from the inputs here.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from ingest_pipeline import checks
from ingest_pipeline.findings import ConstantTime, SchemaDrift, TimeFacts, UnusedTimeColumn
from ingest_pipeline.records import RejectedRow, RejectedUpload, SegmentsServed, SourceRows
from ingest_pipeline.vocabulary import Problem
from ingest_pipeline_tests.unit.records_factory import (
    T0,
    T1,
    number_column,
    outcome,
    plan,
    planned_file,
    text_column,
    upload,
    validated,
)

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
FRAME, DATASOURCE = dg.AssetKey("validated_frame"), dg.AssetKey("druid_datasource")
M = dg.MetadataValue
NO_DRIFT = M.json(SchemaDrift().to_json())  # validated without a datasource to compare with


def shown(result: dg.AssetCheckResult) -> tuple[Any, ...]:
    """What the UI shows of a check result."""
    return (
        result.asset_key,
        result.check_name,
        result.passed,
        result.severity,
        result.description,
        dict(result.metadata),
    )


# --------------------------------------------------------------------------- validation


def test_a_rejected_file_in_full() -> None:
    rejected = RejectedUpload(upload(), Problem("the file has no data rows", "add rows under it"))
    results = checks.validation_check_results(rejected, {}, 0.5)
    problem = "uploads/sales/a.csv: the file has no data rows. Fix: add rows under it"
    assert [shown(r) for r in results] == [
        (
            FRAME,
            "file_is_ingestible",
            False,
            ERROR,
            problem,
            {"file": M.text("s3://ingest-uploads/uploads/sales/a.csv"), "problem": M.text(problem)},
        )
    ]


def test_a_clean_file_in_full() -> None:
    existing = {"__time": "TIMESTAMP", "__source_key": "VARCHAR", "region": "VARCHAR"}
    existing["qty"] = "BIGINT"
    results = checks.validation_check_results(validated(), existing, 0.25)
    assert [shown(r) for r in results] == [
        (
            FRAME,
            "file_is_ingestible",
            True,
            ERROR,
            None,
            {
                "rows": M.int(3),
                "rejected_rows": M.int(0),
                "rejected_sample": M.json([]),
                "time_column": M.text("ts"),
            },
        ),
        (
            FRAME,
            "null_ratios_within_threshold",
            True,
            WARN,
            None,
            {"null_ratio_warn": M.float(0.25), "offending": M.json({})},
        ),
        (FRAME, "no_duplicate_rows", True, WARN, None, {"duplicate_rows": M.int(0)}),
        (
            FRAME,
            "schema_matches_datasource",
            True,
            WARN,
            None,
            {
                "datasource_columns": M.json(existing),
                "differences": M.json([]),
                "schema_drift": NO_DRIFT,
            },
        ),
        (
            FRAME,
            "time_like_columns_used",
            True,
            WARN,
            None,
            {"time_column": M.text("ts"), "unused_time_like_columns": M.json([])},
        ),
        (
            FRAME,
            "rows_have_their_own_time",
            True,
            WARN,
            None,
            {"time_column": M.text("ts"), "columns_examined": M.json([])},
        ),
    ]


def test_a_file_of_a_new_datasource_says_there_is_nothing_to_compare_its_schema_with() -> None:
    results = {r.check_name: r for r in checks.validation_check_results(validated(), {}, 0.25)}
    assert shown(results["schema_matches_datasource"]) == (
        FRAME,
        "schema_matches_datasource",
        True,
        WARN,
        "new datasource: no columns to compare with yet",
        {
            "datasource_columns": M.json({}),
            "differences": M.json([]),
            "schema_drift": NO_DRIFT,
        },
    )


def test_a_file_with_every_warning_in_full() -> None:
    rejected = tuple(RejectedRow(line, f"bad value on line {line}") for line in range(2, 27))
    report = {
        "region": text_column(0.75, rows=4),
        "qty": number_column(0.3, rows=10),
        "note": text_column(0.2, rows=5),  # at or under 0.2 is fine
        "x": text_column(0.0),
    }
    existing = {"region": "BIGINT", "qty": "BIGINT", "city": "VARCHAR", "zip": "VARCHAR"}
    result = checks.validation_check_results(
        validated(
            rejected_rows=rejected,
            time_column=None,
            column_report=report,
            duplicate_rows=1,
        ),
        existing,
        0.2,
    )
    ingestible, nulls, duplicates, schema, _, constant = (shown(r) for r in result)
    sample = [[line, f"bad value on line {line}"] for line in range(2, 22)]  # the first 20 of 25
    assert ingestible == (
        FRAME,
        "file_is_ingestible",
        True,
        ERROR,
        None,
        {
            "rows": M.int(3),
            "rejected_rows": M.int(25),
            "rejected_sample": M.json(sample),
            "time_column": M.text("(none: constant time)"),
        },
    )
    assert nulls == (
        FRAME,
        "null_ratios_within_threshold",
        False,
        WARN,
        "columns above 20% null: region (75%), qty (30%)",
        {"null_ratio_warn": M.float(0.2), "offending": M.json({"region": 0.75, "qty": 0.3})},
    )
    assert duplicates == (
        FRAME,
        "no_duplicate_rows",
        False,
        WARN,
        "1 rows repeat an earlier row exactly",
        {"duplicate_rows": M.int(1)},
    )
    differences = [
        "column 'region' is string here, BIGINT in Druid",
        "columns missing from this file: city, zip",
    ]
    assert schema == (
        FRAME,
        "schema_matches_datasource",
        False,
        WARN,
        "column 'region' is string here, BIGINT in Druid; "
        "columns missing from this file: city, zip",
        {
            "datasource_columns": M.json(existing),
            "differences": M.json(differences),
            "schema_drift": NO_DRIFT,
        },
    )
    assert constant == (
        FRAME,
        "rows_have_their_own_time",
        False,
        WARN,
        "no time column found: every row gets the constant time 2000-01-01T00:00:00.000Z, so "
        "every time filter and time chart of this data is wrong (no column holds dates or "
        "times in a format this pipeline reads). Fix: if the rows have a time, name its column "
        "(and its strftime pattern, unless it is ISO 8601, epoch numbers or month-name dates) "
        'in datasets.yaml:\nsales:\n  time_column: <column>\n  time_format: "<pattern, e.g. '
        '%d/%m/%Y>"',
        {"time_column": M.text("(none: constant time)"), "columns_examined": M.json([])},
    )


def test_the_two_time_checks_failing_in_full() -> None:
    facts = TimeFacts(
        unused=(
            UnusedTimeColumn(
                "shipped", "dates with English month names", 38, 40, "created", "dates only"
            ),
        ),
    )
    used = checks.validation_check_results(validated(time_facts=facts), {}, 0.5)
    assert shown(used[4]) == (
        FRAME,
        "time_like_columns_used",
        False,
        WARN,
        "column 'shipped' looks like a time (dates with English month names: 38 of 40 values "
        "parse, 95%) but __time comes from 'created' (dates only); to use 'shipped' instead, "
        "set in datasets.yaml:\nsales:\n  time_column: shipped",
        {
            "time_column": M.text("ts"),
            "unused_time_like_columns": M.json(
                [
                    {
                        "column": "shipped",
                        "format": "dates with English month names",
                        "parsed": 38,
                        "values": 40,
                        "chosen": "created",
                        "why": "dates only",
                        "share": 0.95,
                    }
                ]
            ),
        },
    )
    constant = TimeFacts(constant=ConstantTime((("date", "text, not times: 0 of 5 values"),)))
    (*_, own) = checks.validation_check_results(
        validated(time_column=None, time_facts=constant), {}, 0.5
    )
    assert own.passed is False and own.severity == WARN
    assert own.description is not None
    assert "('date': text, not times: 0 of 5 values)" in own.description
    assert own.metadata["columns_examined"] == M.json([["date", "text, not times: 0 of 5 values"]])


def test_a_type_without_a_sql_name_is_not_called_drift() -> None:
    # a column Druid stores as a complex type: no SQL name to compare, so no claim of drift
    schema = (("payload", "json"), ("n", "long"))
    assert checks.schema_drift(schema, {"payload": "COMPLEX<json>", "n": "BIGINT"}) == []  # type: ignore[arg-type]
    assert checks.schema_drift(schema, {"payload": "OTHER", "n": "VARCHAR"}) == [  # type: ignore[arg-type]
        "column 'n' is long here, VARCHAR in Druid"
    ]


def test_schema_drift_lists_every_difference_in_order() -> None:
    schema = (("a", "string"), ("b", "long"), ("c", "double"), ("d", "string"))
    existing = {"__time": "TIMESTAMP", "b": "VARCHAR", "c": "DOUBLE", "y": "BIGINT", "x": "DOUBLE"}
    assert checks.schema_drift(schema, existing) == [  # type: ignore[arg-type]
        "new column 'a' (string)",
        "column 'b' is long here, VARCHAR in Druid",
        "new column 'd' (string)",
        "columns missing from this file: x, y",
    ]


# --------------------------------------------------------------------------- ingestion

COLUMNS = {"__time": "TIMESTAMP", "region": "VARCHAR", "qty": "BIGINT"}


def test_a_clean_ingestion_in_full() -> None:
    results = checks.ingestion_check_results(
        planned_file(validated_rows=3),
        plan(validated_rows=3),
        SourceRows(3, T0, T1),
        outcome(processed=3),
        SegmentsServed(4, 4),
        COLUMNS,
    )
    no_bad_rows = {"unparseable": M.int(0), "processedWithError": M.int(0), "thrownAway": M.int(0)}
    assert [shown(r) for r in results] == [
        (
            DATASOURCE,
            "rows_in_druid_match_validated",
            True,
            ERROR,
            None,
            {
                "rows_in_druid": M.int(3),
                "validated_rows": M.int(3),
                "druid_task_id": M.text("index_parallel_sales_x"),
            },
        ),
        (
            DATASOURCE,
            "no_unparseable_or_thrown_away_rows",
            True,
            ERROR,
            None,
            {**no_bad_rows, "processed": M.int(3)},
        ),
        (
            DATASOURCE,
            "segments_loaded",
            True,
            ERROR,
            None,
            {
                "published_segments": M.int(4),
                "available_segments": M.int(4),
                "loaded_percent": M.float(100.0),
            },
        ),
        (DATASOURCE, "columns_as_specified", True, WARN, None, {"differences": M.json({})}),
    ]


def test_a_bad_ingestion_in_full() -> None:
    task = outcome(unparseable=2, thrownAway=1)
    task = type(task)(task.task_id, task.status, None, {"unparseable": 2, "thrownAway": 1})
    results = checks.ingestion_check_results(
        planned_file(validated_rows=3),
        plan(validated_rows=3),
        SourceRows(7, T0, T1),
        task,  # no "processed" in the report
        SegmentsServed(3, 2),
        {"region": "VARCHAR"},
    )
    rows, bad, segments, columns = (shown(r) for r in results)
    assert rows == (
        DATASOURCE,
        "rows_in_druid_match_validated",
        False,
        ERROR,
        "Druid holds 7 rows of this file, validation produced 3: re-materialize the file's "
        "partition to replace its rows",
        {
            "rows_in_druid": M.int(7),
            "validated_rows": M.int(3),
            "druid_task_id": M.text("index_parallel_sales_x"),
        },
    )
    assert bad == (
        DATASOURCE,
        "no_unparseable_or_thrown_away_rows",
        False,
        ERROR,
        "Druid's task index_parallel_sales_x reported bad rows: "
        "{'unparseable': 2, 'processedWithError': 0, 'thrownAway': 1}",
        {
            "unparseable": M.int(2),
            "processedWithError": M.int(0),
            "thrownAway": M.int(1),
            "processed": M.int(0),
        },
    )
    assert segments == (
        DATASOURCE,
        "segments_loaded",
        False,
        ERROR,
        "2 of 3 segments over its task's time range are queryable: check the historicals "
        "(load queue, disk, logs)",
        {
            "published_segments": M.int(3),
            "available_segments": M.int(2),
            "loaded_percent": M.float(66.7),
        },
    )
    differences = {"qty": {"specified": "BIGINT", "in_druid": "(missing)"}}
    assert columns == (
        DATASOURCE,
        "columns_as_specified",
        False,
        WARN,
        f"columns differ: {differences}",
        {"differences": M.json(differences)},
    )


def test_a_processed_count_of_none_reads_as_zero_and_a_real_count_is_kept() -> None:
    def processed(stats: dict[str, Any]) -> Any:
        task = outcome()
        task = type(task)(task.task_id, task.status, None, stats)
        (_, bad, _, _) = checks.ingestion_check_results(
            planned_file(), plan(), SourceRows(3, T0, T1), task, SegmentsServed(1, 1), COLUMNS
        )
        return bad.metadata["processed"]

    assert processed({"processed": None}) == M.int(0)
    assert processed({"processed": 5}) == M.int(5)
    assert processed({}) == M.int(0)


def test_a_column_of_another_type_is_reported_with_both_types() -> None:
    (_, _, _, columns) = checks.ingestion_check_results(
        planned_file(),
        plan(),
        SourceRows(3, T0, T1),
        outcome(),
        SegmentsServed(1, 1),
        {**COLUMNS, "qty": "VARCHAR"},
    )
    differences = {"qty": {"specified": "BIGINT", "in_druid": "VARCHAR"}}
    assert columns.description == f"columns differ: {differences}"
    assert columns.metadata["differences"] == M.json(differences)


# --------------------------------------------------------------------------- selected
