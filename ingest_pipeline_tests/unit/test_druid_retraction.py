"""DruidResource.retract when every row of the datasource is the deleted file's: its segments
are marked unused by one coordinator call, no task runs (a replace would leave tombstones only)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from ingest_pipeline.planning import plan_retraction
from ingest_pipeline.records import DatasourceState, IngestLimits, SourceRows
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.druid_retraction import MARKED_UNUSED
from ingest_pipeline_tests.fakes import ACCESS


def test_a_file_holding_every_row_of_its_datasource_empties_it_without_a_task() -> None:
    seen: list[str] = []

    def druid_answers(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        emptied = "DELETE /druid/coordinator/v1/datasources/s" in seen
        if request.url.path == "/druid/v2/sql":
            if "COUNT(*) AS live" in json.loads(request.content)["query"]:
                return httpx.Response(200, json=[{"live": 1, "available": 1}])
            return httpx.Response(200, json=[{"n": 30}])  # the datasource's rows, and "it exists"
        if request.url.path.endswith("/loadstatus"):
            if emptied:
                return httpx.Response(204)  # no used segment left
            return httpx.Response(200, json={"s": 100.0})
        return httpx.Response(200, json={"numChangedSegments": 1})

    druid = DruidResource(router_url="http://druid")
    druid._client = httpx.Client(transport=httpx.MockTransport(druid_answers))
    rows = SourceRows(30, datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 1, 1, tzinfo=UTC))
    state = DatasourceState(True, {"points": "BIGINT"}, None, {"uploads/s/a.csv": rows})
    task = plan_retraction("s/a.csv", "uploads/s/a.csv", state, "DAY", ACCESS).task
    assert task is not None

    done = druid.retract(task, "uploads/s/a.csv", IngestLimits(60, 60, 5, 5_000_000))

    assert done.outcome.task_id == MARKED_UNUSED and done.rows_left.count == 0
    assert "DELETE /druid/coordinator/v1/datasources/s" in seen
    assert not any(path.startswith("POST /druid/indexer") for path in seen)
