"""A Druid task whose worker died under it (DruidResource.run_plan_task): run again when
nothing of it landed, taken as done when it had published every file's rows (the 10-minute
soak of 84c7f89 saw a middleManager killed between a batch's publish and its status report:
4 files reported failed while Druid held each one's rows), failed when its rows are partial."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest
from pydantic import PrivateAttr

from ingest_pipeline.records import IngestLimits, Replace, SourceRows, TaskOutcome
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.druid_wire import DruidTaskFailed
from ingest_pipeline_tests.unit.records_factory import T0, T1, plan, planned_file

LIMITS = IngestLimits(60, 60, 5, 5_000_000)
LOST = TaskOutcome(
    "ingest_sales_x",
    "FAILED",
    "This task disappeared on the worker where it was assigned. See overlord logs for more "
    "details.",
    {},
)
ON_ITS_DATA = TaskOutcome("ingest_sales_x", "FAILED", "Max parse exceptions exceeded", {})
DONE = TaskOutcome("ingest_sales_x_2", "SUCCESS", None, {"processed": 5})


class ScriptedDruid(DruidResource):
    """Tasks end as scripted; the datasource holds `rows` (source key -> count)."""

    _outcomes: list[TaskOutcome] = PrivateAttr(default_factory=list)
    _rows: dict[str, int] = PrivateAttr(default_factory=dict)
    _submitted: int = PrivateAttr(default=0)

    def script(self, outcomes: list[TaskOutcome], rows: dict[str, int]) -> ScriptedDruid:
        self._outcomes, self._rows = outcomes, rows
        return self

    def run_task(self, spec: Mapping[str, Any], timeout_seconds: float) -> TaskOutcome:
        outcome = self._outcomes[self._submitted]
        self._submitted += 1
        if not outcome.succeeded:
            raise DruidTaskFailed(outcome.error_message or "", outcome)
        return outcome

    def has_segments(self, datasource: str) -> bool:
        return bool(self._rows)

    def wait_for_segments(self, datasource: str, timeout_seconds: float) -> float:
        return 0.0

    def broker_serves_everything(self, datasource: str) -> bool:
        return True

    def rows_by_source(self, datasource: str, source_keys: Sequence[str]) -> dict[str, SourceRows]:
        return {k: SourceRows(n, T0, T1) for k, n in self._rows.items() if k in source_keys}


def two_files() -> Any:
    files = (planned_file(3, name="a.csv"), planned_file(2, name="b.csv"))
    return replace(plan(), files=files)


def test_a_lost_append_that_had_published_every_file_s_rows_is_done_not_run_again() -> None:
    druid = ScriptedDruid(router_url="http://druid").script(
        [LOST, DONE], {"uploads/sales/a.csv": 3, "uploads/sales/b.csv": 2}
    )
    outcome = druid.run_plan_task(two_files(), LIMITS)
    assert outcome.succeeded and outcome.task_id == "ingest_sales_x"
    assert outcome.error_message is not None and "it had published" in outcome.error_message
    assert druid._submitted == 1


def test_a_lost_append_with_no_rows_in_druid_runs_again() -> None:
    druid = ScriptedDruid(router_url="http://druid").script([LOST, DONE], {})
    assert druid.run_plan_task(two_files(), LIMITS) == DONE
    assert druid._submitted == 2


def test_a_lost_append_whose_rows_are_not_exactly_its_files_fails_and_is_not_run_again() -> None:
    druid = ScriptedDruid(router_url="http://druid").script(
        [LOST, DONE], {"uploads/sales/a.csv": 3}
    )
    with pytest.raises(DruidTaskFailed, match="disappeared on the worker"):
        druid.run_plan_task(two_files(), LIMITS)
    assert druid._submitted == 1


def test_a_task_that_failed_on_its_data_is_neither_run_again_nor_taken_as_done() -> None:
    druid = ScriptedDruid(router_url="http://druid").script(
        [ON_ITS_DATA, DONE], {"uploads/sales/a.csv": 3, "uploads/sales/b.csv": 2}
    )
    with pytest.raises(DruidTaskFailed, match="Max parse exceptions"):
        druid.run_plan_task(two_files(), LIMITS)
    assert druid._submitted == 1


def test_a_lost_replace_runs_again_whatever_druid_holds() -> None:
    overwrite = Replace(("2024-03-01/2024-03-02",), 3, "uploads/sales/a.csv")
    replacing = replace(two_files(), mode=overwrite)
    druid = ScriptedDruid(router_url="http://druid").script(
        [LOST, DONE], {"uploads/sales/a.csv": 3, "uploads/sales/b.csv": 2}
    )
    assert druid.run_plan_task(replacing, LIMITS) == DONE
    assert druid._submitted == 2


def test_a_task_lost_every_time_gives_up_after_three_submissions() -> None:
    druid = ScriptedDruid(router_url="http://druid").script([LOST, LOST, LOST, DONE], {})
    with pytest.raises(DruidTaskFailed):
        druid.run_plan_task(two_files(), LIMITS)
    assert druid._submitted == 3
