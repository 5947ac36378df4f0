"""The few decisions the typed records make themselves: defaults a caller relies on."""

from __future__ import annotations

from ingest_pipeline.records import (
    NO_ROWS,
    Append,
    DatasourceState,
    Replace,
    SourceRows,
    TaskOutcome,
)
from ingest_pipeline_tests.unit.records_factory import T0, T1


def test_an_empty_datasource_state_is_a_datasource_druid_does_not_have() -> None:
    empty = DatasourceState.empty()
    assert empty == DatasourceState(False, {}, None, {})
    assert empty.previous_rows("uploads/sales/a.csv") == NO_ROWS


def test_a_file_never_ingested_has_no_previous_rows_and_a_known_one_has_its_own() -> None:
    rows = SourceRows(5, T0, T1)
    state = DatasourceState(True, {"qty": "BIGINT"}, (T0, T1), {"uploads/sales/a.csv": rows})
    assert state.previous_rows("uploads/sales/a.csv") == rows
    assert state.previous_rows("uploads/sales/b.csv") == SourceRows(0, None, None)


def test_bad_rows_are_the_three_bad_counters_of_the_task_with_absent_or_null_as_zero() -> None:
    outcome = TaskOutcome(
        "task-1",
        "SUCCESS",
        None,
        {"processed": 9, "unparseable": 2, "processedWithError": None},  # type: ignore[dict-item]
    )
    assert outcome.bad_rows() == {"unparseable": 2, "processedWithError": 0, "thrownAway": 0}


def test_the_ingest_mode_reads_as_append_or_replace_for_a_person() -> None:
    assert Append(("2024-03-01/2024-03-02",)).describe() == "append (new files)"
    replace = Replace(("2024-03-01/2024-03-02",), 5, "uploads/sales/a.csv")
    assert replace.describe() == "replace (combining reindex)"
