"""Asset check verdicts: each check passes on good values and FAILS on bad ones."""

from __future__ import annotations

import dagster as dg
import pytest

from ingest_pipeline import checks
from ingest_pipeline.findings import ConstantTime, TimeFacts, TimeOfDay, UnusedTimeColumn
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


def by_name(results: list[dg.AssetCheckResult]) -> dict[str, dg.AssetCheckResult]:
    return {result.check_name: result for result in results}


# --------------------------------------------------------------------------- validation


def test_a_rejected_file_fails_only_the_blocking_check_with_its_reason() -> None:
    results = checks.validation_check_results(
        RejectedUpload(upload(), Problem("the file has no data rows", "add rows")), {}, 0.5
    )
    assert len(results) == 1
    (result,) = results
    assert result.check_name == checks.INGESTIBLE and result.passed is False
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert result.description == "uploads/sales/a.csv: the file has no data rows. Fix: add rows"


def test_a_clean_file_passes_every_validation_check() -> None:
    results = by_name(checks.validation_check_results(validated(), {}, 0.5))
    assert set(results) == {
        checks.INGESTIBLE,
        checks.NULL_RATIOS,
        checks.NO_DUPLICATE_ROWS,
        checks.SCHEMA_MATCHES_DATASOURCE,
        checks.TIME_LIKE_COLUMNS_USED,
        checks.ROWS_HAVE_THEIR_OWN_TIME,
    }
    assert all(result.passed for result in results.values())


def test_null_heavy_columns_fail_the_null_ratio_check() -> None:
    report = {"region": text_column(0.9), "qty": number_column(0.5), "x": text_column(0.0)}
    result = by_name(checks.validation_check_results(validated(column_report=report), {}, 0.5))[
        checks.NULL_RATIOS
    ]
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert result.description == "columns above 50% null: region (90%)"  # 0.5 is not above


def test_duplicates_fail_the_duplicate_check() -> None:
    result = by_name(checks.validation_check_results(validated(duplicate_rows=2), {}, 0.5))[
        checks.NO_DUPLICATE_ROWS
    ]
    assert result.passed is False
    assert result.description == "2 rows repeat an earlier row exactly"


def test_rejected_rows_are_reported_on_the_passing_blocking_check() -> None:
    rows = (RejectedRow(7, "missing time value"),)
    result = by_name(checks.validation_check_results(validated(rejected_rows=rows), {}, 0.5))[
        checks.INGESTIBLE
    ]
    assert result.passed is True
    assert result.metadata["rejected_rows"] == dg.MetadataValue.int(1)


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ({}, []),  # a new datasource has nothing to drift from
        (
            {
                "__time": "TIMESTAMP",
                "__source_key": "VARCHAR",
                "region": "VARCHAR",
                "qty": "BIGINT",
            },
            [],
        ),
        ({"region": "VARCHAR", "qty": "VARCHAR"}, ["column 'qty' is long here, VARCHAR in Druid"]),
        ({"region": "VARCHAR"}, ["new column 'qty' (long)"]),
        (
            {"region": "VARCHAR", "qty": "BIGINT", "city": "VARCHAR"},
            ["columns missing from this file: city"],
        ),
    ],
)
def test_schema_drift(existing: dict[str, str], expected: list[str]) -> None:
    assert checks.schema_drift(validated().schema, existing) == expected
    result = by_name(checks.validation_check_results(validated(), existing, 0.5))[
        checks.SCHEMA_MATCHES_DATASOURCE
    ]
    assert result.passed is (not expected)


# --------------------------------------------------------------------------- ingestion

GOOD_COLUMNS = {"__time": "TIMESTAMP", "region": "VARCHAR", "qty": "BIGINT"}


def ingestion(
    rows: int = 3,
    served: SegmentsServed | None = None,
    columns: dict[str, str] | None = None,
    **row_stats: int,
) -> dict[str, dg.AssetCheckResult]:
    return by_name(
        checks.ingestion_check_results(
            planned_file(validated_rows=3),
            plan(validated_rows=3),
            SourceRows(rows, T0, T1),
            outcome(**row_stats),
            served or SegmentsServed(2, 2),
            GOOD_COLUMNS if columns is None else columns,
        )
    )


def test_a_clean_ingestion_passes_every_check() -> None:
    results = ingestion()
    assert set(results) == {
        checks.ROWS_MATCH,
        checks.NO_UNPARSEABLE,
        checks.SEGMENTS_LOADED,
        checks.COLUMNS_AS_SPECIFIED,
    }
    assert all(result.passed for result in results.values())


@pytest.mark.parametrize("rows", [0, 2, 6])  # none, lost rows, a duplicated file
def test_a_row_mismatch_fails(rows: int) -> None:
    result = ingestion(rows=rows)[checks.ROWS_MATCH]
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.ERROR
    assert f"Druid holds {rows} rows of this file, validation produced 3" in result.description


@pytest.mark.parametrize("stat", ["unparseable", "processedWithError", "thrownAway"])
def test_bad_rows_in_the_task_report_fail(stat: str) -> None:
    result = ingestion(**{stat: 1})[checks.NO_UNPARSEABLE]
    assert result.passed is False and stat in result.description


@pytest.mark.parametrize(
    "served", [SegmentsServed(3, 2), SegmentsServed(0, 0), SegmentsServed(1, 0)]
)
def test_segments_not_all_queryable_fail(served: SegmentsServed) -> None:
    result = ingestion(served=served)[checks.SEGMENTS_LOADED]
    assert result.passed is False
    assert result.metadata["published_segments"] == dg.MetadataValue.int(served.published)


@pytest.mark.parametrize(
    "columns",
    [
        {"region": "VARCHAR"},  # qty missing
        {"region": "VARCHAR", "qty": "VARCHAR"},  # long became string (a type clash)
    ],
)
def test_columns_not_as_specified_fail(columns: dict[str, str]) -> None:
    result = ingestion(columns=columns)[checks.COLUMNS_AS_SPECIFIED]
    assert result.passed is False and "qty" in result.description


def test_a_time_like_column_left_unused_fails_its_check() -> None:
    unused = UnusedTimeColumn("shipped", "ISO 8601 text", 9, 10, "ts", "dates only")
    results = checks.validation_check_results(
        validated(time_facts=TimeFacts(unused=(unused,))), {}, 0.5
    )
    result = by_name(results)[checks.TIME_LIKE_COLUMNS_USED]
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert result.description is not None
    assert "column 'shipped' looks like a time (ISO 8601 text: 9 of 10 values parse, 90%)" in (
        result.description
    )
    assert result.description.endswith("sales:\n  time_column: shipped")
    assert by_name(results)[checks.ROWS_HAVE_THEIR_OWN_TIME].passed is True


def test_times_of_day_too_many_to_choose_from_fail_the_time_like_check() -> None:
    facts = TimeFacts(times_of_day_untaken=("start_time", "end_time"))
    results = checks.validation_check_results(validated(time_facts=facts), {}, 0.5)
    result = by_name(results)[checks.TIME_LIKE_COLUMNS_USED]
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert result.description is not None
    assert result.description.startswith(
        "'start_time', 'end_time' each hold a time of day in every row; __time takes the dates "
        "of 'ts' at midnight"
    )


def test_a_time_of_day_taken_is_named_beside_the_time_column() -> None:
    facts = TimeFacts(time_of_day=TimeOfDay("Uhrzeit", 10))
    results = checks.validation_check_results(validated(time_facts=facts), {}, 0.5)
    result = by_name(results)[checks.TIME_LIKE_COLUMNS_USED]
    assert result.passed is True
    assert result.metadata["time_column"] == dg.MetadataValue.text("ts + time of day from Uhrzeit")


def test_the_constant_time_fails_its_check_and_the_failed_warn_checks_are_verdict_sentences() -> (
    None
):
    facts = TimeFacts(constant=ConstantTime(()))
    results = checks.validation_check_results(
        validated(time_column=None, time_facts=facts, duplicate_rows=2), {}, 0.5
    )
    result = by_name(results)[checks.ROWS_HAVE_THEIR_OWN_TIME]
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert by_name(results)[checks.TIME_LIKE_COLUMNS_USED].passed is True
    warnings = checks.failed_warnings(results)
    assert warnings == (
        "no_duplicate_rows: 2 rows repeat an earlier row exactly",
        f"rows_have_their_own_time: {result.description}",
    )


def test_every_unused_time_like_column_is_named_and_its_share_kept_to_four_places() -> None:
    shipped = UnusedTimeColumn("shipped", "ISO 8601 text", 2, 3, "ts", "fewer rows")
    billed = UnusedTimeColumn("billed", "ISO 8601 text", 38, 40, "ts", "dates only")
    results = checks.validation_check_results(
        validated(time_facts=TimeFacts(unused=(shipped, billed))), {}, 0.5
    )
    result = by_name(results)[checks.TIME_LIKE_COLUMNS_USED]
    assert result.passed is False
    assert result.description == f"{shipped.message('sales')}; {billed.message('sales')}"
    shipped_shown = {"column": "shipped", "format": "ISO 8601 text", "parsed": 2, "values": 3}
    billed_shown = {"column": "billed", "format": "ISO 8601 text", "parsed": 38, "values": 40}
    shown = [
        shipped_shown | {"chosen": "ts", "why": "fewer rows", "share": 0.6667},  # not 0.66667
        billed_shown | {"chosen": "ts", "why": "dates only", "share": 0.95},
    ]
    assert result.metadata["unused_time_like_columns"] == dg.MetadataValue.json(shown)


def test_a_constant_time_file_passes_the_time_like_check_and_says_no_column_gave_its_time() -> None:
    facts = TimeFacts(constant=ConstantTime(()))
    results = checks.validation_check_results(
        validated(time_column=None, time_facts=facts), {}, 0.5
    )
    result = by_name(results)[checks.TIME_LIKE_COLUMNS_USED]
    assert result.passed is True and result.description is None
    assert result.metadata["time_column"] == dg.MetadataValue.text("(none: constant time)")
