"""Reads of the broker that decide what a file's task does are kept only while every segment
of the datasource is served (DruidSegments.read_while_served).

CI's 5-minute soak at 468b51a: a historical was killed between the wait for segments and the
read of a batch's earlier rows; the broker answered "Object 'soak_7_17664_0' not found" and
three new files got a `failed` verdict with nothing submitted. The same moment can instead
give an answer from part of the segments ("this file has no rows"), which would turn a re-run
into a duplicate append, or a retraction into the loss of every neighbour's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import PrivateAttr

from ingest_pipeline.planning import plan_retraction
from ingest_pipeline.records import (
    DatasourceState,
    IngestionPlan,
    IngestLimits,
    SourceRows,
    TaskOutcome,
)
from ingest_pipeline.resources import druid_queries, druid_segments
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.druid_wire import DruidRefused, DruidUnavailable
from ingest_pipeline_tests.fakes import ACCESS
from ingest_pipeline_tests.unit.assets.helpers import SkippingClock

DATASOURCE = "soak_7_17664_0"
KEY = "uploads/soak_7_17664_0/new_00012.csv"
NEIGHBOUR = "uploads/soak_7_17664_0/new_00003.csv"
LIMITS = IngestLimits(60, 60, 5, 5_000_000)
#: The broker's answer in CI's soak, verbatim.
TABLE_UNKNOWN = {
    "error": "Plan validation failed",
    "errorMessage": "org.apache.calcite.runtime.CalciteContextException: From line 1, column 86 "
    f"to line 1, column 101: Object '{DATASOURCE}' not found",
    "errorClass": "org.apache.calcite.tools.ValidationException",
    "host": None,
}
#: The broker's answer in CI's soak at d41c78b, verbatim: it served every segment and knew the
#: table, but had re-read the metadata of only some of them after a historical came back.
SOURCE_KEY_UNKNOWN = {
    "error": "Plan validation failed",
    "errorMessage": "org.apache.calcite.runtime.CalciteContextException: From line 1, column "
    "109 to line 1, column 122: Column '__source_key' not found in any table",
    "errorClass": "org.apache.calcite.tools.ValidationException",
    "host": None,
}
BAD_SQL = {
    "error": "Plan validation failed",
    "errorMessage": "org.apache.calcite.runtime.CalciteContextException: Column 'x' not found "
    "in any table",
    "errorClass": "org.apache.calcite.tools.ValidationException",
    "host": None,
}


@dataclass(frozen=True)
class Read:
    """What one read of the datasource's rows answers, and whether the broker serves every
    segment right after it (False: a historical went away during it and comes back)."""

    rows: dict[str, int] | None  # None: the table is unknown ("Object ... not found")
    served_after: bool = True
    refusal: dict[str, Any] | None = None  # the broker's 400 answer instead of rows


@dataclass
class Broker:
    """A broker and coordinator whose answers to the rows read follow `reads` in order."""

    reads: Iterator[Read]
    refuse_with: dict[str, Any] | None = None
    data_reads: int = 0
    unserved_checks: int = 0
    columns_behind: int = 0  # how many column lists still lack __source_key
    seen: list[str] = field(default_factory=list)

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/loadstatus"):
            return httpx.Response(200, json={DATASOURCE: 100.0})
        if request.url.path != "/druid/v2/sql":
            return httpx.Response(200, json={"numChangedSegments": 1})
        query = json.loads(request.content)["query"]
        if "COUNT(*) AS live" in query:
            if self.unserved_checks:
                self.unserved_checks -= 1
                return httpx.Response(200, json=[{"live": 2, "available": 1}])
            return httpx.Response(200, json=[{"live": 2, "available": 2}])
        if "INFORMATION_SCHEMA.TABLES" in query:
            return httpx.Response(200, json=[{"n": 1}])
        if "INFORMATION_SCHEMA.COLUMNS" in query:
            columns = [{"COLUMN_NAME": "points", "DATA_TYPE": "BIGINT"}]
            if self.columns_behind:
                self.columns_behind -= 1
                return httpx.Response(200, json=columns)
            source_key = {"COLUMN_NAME": "__source_key", "DATA_TYPE": "VARCHAR"}
            return httpx.Response(200, json=[*columns, source_key])
        if '"start", "end"' in query:
            return httpx.Response(200, json=[])
        return self.read(query)

    def read(self, query: str) -> httpx.Response:
        if self.refuse_with is not None:
            return httpx.Response(400, json=self.refuse_with)
        self.data_reads += 1
        now = next(self.reads)
        if not now.served_after:
            self.unserved_checks = 1
        if now.refusal is not None:
            return httpx.Response(400, json=now.refusal)
        if now.rows is None:
            return httpx.Response(400, json=TABLE_UNKNOWN)
        if "GROUP BY 1" in query:  # rows by source key
            return httpx.Response(
                200,
                json=[
                    {
                        "k": k,
                        "n": n,
                        "t0": "2024-07-01T00:00:00.000Z",
                        "t1": "2024-07-01T01:00:00.000Z",
                    }
                    for k, n in now.rows.items()
                ],
            )
        return httpx.Response(200, json=[{"n": sum(now.rows.values())}])  # total rows


@pytest.fixture(autouse=True)
def no_wait(monkeypatch: pytest.MonkeyPatch) -> SkippingClock:
    clock = SkippingClock()
    monkeypatch.setattr(druid_segments, "time", clock)
    monkeypatch.setattr(druid_queries, "time", clock)
    return clock


def druid_over(broker: Broker) -> DruidResource:
    druid = DruidResource(router_url="http://druid")
    druid._client = httpx.Client(transport=httpx.MockTransport(broker.answer))
    return druid


def test_a_table_the_broker_forgets_mid_read_is_read_again_not_a_failed_file() -> None:
    broker = Broker(iter([Read(None, served_after=False), Read({KEY: 1042})]))

    state = druid_over(broker).datasource_state(DATASOURCE, [KEY], 60)

    assert state.previous[KEY].count == 1042
    assert broker.data_reads == 2


def test_an_answer_from_part_of_the_segments_is_not_taken_as_the_file_having_no_rows() -> None:
    # The first answer misses the file: taken, a re-run of it would be appended a second time.
    broker = Broker(iter([Read({}, served_after=False), Read({KEY: 1042})]))

    state = druid_over(broker).datasource_state(DATASOURCE, [KEY], 60)

    assert state.previous == {
        KEY: SourceRows(1042, datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 1, 1, tzinfo=UTC))
    }


def test_a_broker_that_keeps_losing_the_table_is_unavailable_after_the_timeout(
    no_wait: SkippingClock,
) -> None:
    broker = Broker(iter(Read(None, served_after=False) for _ in range(1000)))

    with pytest.raises(DruidUnavailable, match=f"lost segments of datasource '{DATASOURCE}'"):
        druid_over(broker).datasource_state(DATASOURCE, [KEY], 60)

    assert 60 <= no_wait.skipped < 70
    assert broker.data_reads > 2


def test_a_schema_that_does_not_know_the_source_key_column_yet_is_read_again() -> None:
    broker = Broker(iter([Read({}, refusal=SOURCE_KEY_UNKNOWN), Read({KEY: 1042})]))

    state = druid_over(broker).datasource_state(DATASOURCE, [KEY], 60)

    assert state.previous[KEY].count == 1042
    assert broker.data_reads == 2


def test_a_column_list_without_the_source_key_column_is_read_again() -> None:
    # Planning would compare the file's types with part of the datasource's columns.
    broker = Broker(iter([Read({KEY: 1042}), Read({KEY: 1042})]), columns_behind=1)

    state = druid_over(broker).datasource_state(DATASOURCE, [KEY], 60)

    assert set(state.columns) == {"points", "__source_key"}
    assert broker.data_reads == 1  # the rows are read once the columns are whole


def test_a_schema_that_stays_behind_is_unavailable_after_the_timeout_saying_so(
    no_wait: SkippingClock,
) -> None:
    broker = Broker(iter(Read({}, refusal=SOURCE_KEY_UNKNOWN) for _ in range(1000)))

    with pytest.raises(DruidUnavailable, match="schema lagged .*Column '__source_key' not found"):
        druid_over(broker).datasource_state(DATASOURCE, [KEY], 60)

    assert 60 <= no_wait.skipped < 70


def test_any_other_refusal_of_the_read_is_raised_at_once() -> None:
    broker = Broker(iter([]), refuse_with=BAD_SQL)

    with pytest.raises(DruidRefused, match="Column 'x' not found"):
        druid_over(broker).datasource_state(DATASOURCE, [KEY], 60)


def test_rows_awaited_after_a_task_ride_out_a_table_the_broker_forgot() -> None:
    broker = Broker(iter([Read(None), Read(None), Read({KEY: 1042})]))

    rows = druid_over(broker).wait_for_source_rows(DATASOURCE, {KEY: 1042}, 60)

    assert rows[KEY].count == 1042


class RetractingDruid(DruidResource):
    """Its retraction task succeeds without a server (the broker fake answers the rest)."""

    _tasks: list[str] = PrivateAttr(default_factory=list)

    def run_plan_task(self, plan: IngestionPlan, limits: IngestLimits) -> TaskOutcome:
        self._tasks.append(plan.task_id)
        return TaskOutcome(plan.task_id, "SUCCESS", None, {})


def test_a_retraction_counts_the_datasource_from_every_segment_before_emptying_it() -> None:
    # The file has 30 rows; mid-count the broker sees only its segment: 30 of 60 in all.
    broker = Broker(
        iter(
            [
                Read({KEY: 30}, served_after=False),
                Read({KEY: 30, NEIGHBOUR: 30}),
                Read({NEIGHBOUR: 30}),
            ]
        )
    )
    druid = RetractingDruid(router_url="http://druid")
    druid._client = httpx.Client(transport=httpx.MockTransport(broker.answer))
    rows = SourceRows(30, datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 1, 1, tzinfo=UTC))
    state = DatasourceState(True, {"points": "BIGINT"}, None, {KEY: rows})
    task = plan_retraction("soak_7_17664_0/new_00012.csv", KEY, state, "DAY", ACCESS).task
    assert task is not None

    done = druid.retract(task, KEY, LIMITS)

    assert "DELETE /druid/coordinator/v1/datasources/soak_7_17664_0" not in broker.seen
    assert druid._tasks == [task.task_id]
    assert done.rows_left.count == 0
