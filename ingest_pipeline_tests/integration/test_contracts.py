"""Schema contracts through the sensor and the real Druid: a frozen dataset rejects a later
file with a new column (red, with the column and the fix); under `columns: discard` and
`types: discard_row` the new column and the bad rows stay out and the rest lands exactly."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest

from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests import runs as graph_runs
from ingest_pipeline_tests.integration.automation import (
    check_results,
    csv,
    put,
    wait_for_runs,
)

pytestmark = pytest.mark.integration
BAD_POINTS = {7: "tbd", 150: "12.5", 233: "lots"}


def later_export(rows: int, bad: dict[int, str]) -> bytes:
    """Next month's export: a new column `referee`, and some points that are not numbers."""
    lines = ["ts,team,points,referee"]
    lines += [
        f"2024-08-01T{i // 60:02d}:{i % 60:02d}:00Z,t{i % 4},{bad.get(i, i)},r{i % 3}"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_contracts_hold_later_files_to_the_datasource(automation, s3, druid) -> None:
    suffix = uuid.uuid4().hex[:6]
    frozen, tidy = f"frozen_{suffix}", f"tidy_{suffix}"
    automation.configure_datasets(
        {frozen: {"columns": "freeze"}, tidy: {"columns": "discard", "types": "discard_row"}}
    )
    for dataset in (frozen, tidy):
        put(s3, automation, f"{dataset}/july.csv", csv(30))
    wait_for_runs(automation, {f"{frozen}/july.csv": 1, f"{tidy}/july.csv": 1})
    # the datasources now have ts, team, points (BIGINT)

    put(s3, automation, f"{frozen}/august.csv", later_export(40, {}))
    put(s3, automation, f"{tidy}/august.csv", later_export(240, BAD_POINTS))
    frozen_key, tidy_key = f"{frozen}/august.csv", f"{tidy}/august.csv"
    runs = wait_for_runs(automation, {frozen_key: 1, tidy_key: 1})
    instance = automation.instance()

    (run,) = runs[frozen_key]
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert check_results(instance, run, frozen_key) == {"file_is_ingestible": False}
    verdict = graph_runs.verdicts(instance, run.run_id)[frozen_key]
    assert verdict.outcome is Outcome.REJECTED and verdict.problem is not None
    assert verdict.problem.column == "referee"
    assert "columns: freeze" in verdict.problem.what and "columns: evolve" in verdict.problem.fix
    count = 'SELECT COUNT(*) AS n FROM "{}" WHERE "__source_key" LIKE ?'
    assert druid.sql(count.format(frozen), ["%/august.csv"]) == [{"n": 0}]

    (run,) = runs[tidy_key]
    verdict = graph_runs.verdicts(instance, run.run_id)[tidy_key]
    assert verdict.outcome is Outcome.INGESTED, verdict
    kept = [i for i in range(240) if i not in BAD_POINTS]
    rows = druid.sql(
        f'SELECT COUNT(*) AS n, SUM(points) AS total FROM "{tidy}" WHERE "__source_key" LIKE ?',
        ["%/august.csv"],
    )
    assert rows == [{"n": len(kept), "total": sum(kept)}]
    columns = druid.sql(
        "SELECT COLUMN_NAME AS c, DATA_TYPE AS t FROM INFORMATION_SCHEMA.COLUMNS "
        "WHERE TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
        [tidy],
    )
    assert {c["c"]: c["t"] for c in columns} == {
        "__time": "TIMESTAMP",
        "ts": "VARCHAR",
        "team": "VARCHAR",
        "points": "BIGINT",
        "__source_key": "VARCHAR",
    }
    assert verdict.schema_drift == (
        "new column(s) left out (columns: discard): 'referee'",
        "3 row(s) left out (types: discard_row), the first at line 9: column 'points': 'tbd' "
        "is not a long as in Druid",
    )
