"""Every ingestion check seen failing against the real stack: Druid really holds fewer rows,
really threw rows away, really stopped serving a segment, and the check says so on the file's
partition, the file's verdict is `failed` and its druid_datasource partition is not green.

The fault is put into Druid through the pipeline's own resource (a task spec that filters a
row out; a segment marked unused right after the task), so everything the checks observe
comes from the real Druid. Expected figures are counted here with SQL written in the test.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import dagster as dg
import pytest

from ingest_pipeline.records import IngestedTask, IngestionPlan, IngestLimits, SegmentsServed
from ingest_pipeline.resources import build_resources, resolved_env
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.stack.settings import UPLOADS_BUCKET
from ingest_pipeline.verdict import Outcome, Stage
from ingest_pipeline_tests import runs
from ingest_pipeline_tests.integration.automation import csv

pytestmark = pytest.mark.integration
ROWS = 24


class RowFilteringDruid(DruidResource):
    """The stack's Druid; each task's spec drops the row whose `points` is 0 (a transformSpec
    filter: Druid counts it as thrown away and never stores it)."""

    def ingest(self, plan: IngestionPlan, limits: IngestLimits) -> IngestedTask:
        spec: dict[str, Any] = {**plan.spec, "spec": {**plan.spec["spec"]}}
        schema = {**spec["spec"]["dataSchema"]}
        drop = {"type": "not", "field": {"type": "selector", "dimension": "points", "value": "0"}}
        schema["transformSpec"] = {**schema.get("transformSpec", {}), "filter": drop}
        spec["spec"]["dataSchema"] = schema
        return super().ingest(replace(plan, spec=spec), limits)


class SegmentDroppingDruid(DruidResource):
    """The stack's Druid; right after the task, before the pipeline looks at the segments over
    the file's time range, they are marked unused (dropped behind the pipeline's back)."""

    def wait_for_segments_served(self, datasource, start, end, timeout_seconds) -> SegmentsServed:  # type: ignore[no-untyped-def]
        # every segment of the (test's own) datasource marked unused, as an operator's
        # DELETE /druid/coordinator/v1/datasources/<ds> does
        url = f"{self._url(self.coordinator_url)}/druid/coordinator/v1/datasources/"
        self.request("DELETE", url + quote(datasource, safe=""), ok_status=(200, 204))
        deadline = time.monotonic() + 120  # sys.segments shows it at the next metadata poll
        while self.segments_served(datasource, start, end).published:
            assert time.monotonic() < deadline, "the dropped segments are still listed"
            time.sleep(1)
        return super().wait_for_segments_served(datasource, start, end, timeout_seconds)


def ingest_with(instance: dg.DagsterInstance, s3, druid: DruidResource) -> tuple[str, str]:
    """A new file through the whole graph with `druid`; (partition, run id)."""
    dataset = f"checkfail_{uuid.uuid4().hex[:6]}"
    key = f"{dataset}/f.csv"
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}", Body=csv(ROWS))
    resources = {
        **build_resources(dg.EnvVar),
        "druid": druid,
        "pipeline_settings": PipelineSettings(
            segment_load_timeout_seconds=20, schema_wait_seconds=5
        ),
    }
    result = runs.materialize(instance, key, resources)
    assert not result.success  # the file did not get in as validated: the run says so
    return key, result.run_id


def evaluations(instance: dg.DagsterInstance, run_id: str, partition: str) -> dict[str, Any]:
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    found = {}
    for event in events:
        data = event.dagster_event.asset_check_evaluation_data
        if data.partition == partition:
            found[data.check_name] = data
    return found


def stack_druid(kind: type[DruidResource]) -> DruidResource:
    return kind(**build_resources(resolved_env)["druid"].model_dump())


def test_rows_druid_lost_or_threw_away_fail_their_checks_and_the_file(
    stack, s3, dagster_home, druid
) -> None:
    instance = dg.DagsterInstance.get()
    key, run_id = ingest_with(instance, s3, stack_druid(RowFilteringDruid))
    dataset = key.split("/")[0]
    held = druid.sql(f'SELECT COUNT(*) AS n FROM "{dataset}"')  # the oracle: SQL written here
    assert held == [{"n": ROWS - 1}]

    checks = evaluations(instance, run_id, key)
    rows = checks["rows_in_druid_match_validated"]
    assert not rows.passed
    assert rows.description.startswith(f"Druid holds {ROWS - 1} rows of this file, validation")
    thrown = checks["no_unparseable_or_thrown_away_rows"]
    assert not thrown.passed and "'thrownAway': 1" in thrown.description
    assert checks["segments_loaded"].passed and checks["columns_as_specified"].passed

    verdict = runs.verdicts(instance, run_id)[key]
    assert (verdict.outcome, verdict.stage, verdict.rows) == (
        Outcome.FAILED,
        Stage.DRUID_DATASOURCE,
        ROWS - 1,
    )
    assert verdict.problem is not None
    assert verdict.problem.what.startswith("rows_in_druid_match_validated failed: Druid holds")
    materialized = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("druid_datasource"), asset_partitions=[key]),
        limit=1,
    )
    assert materialized.records == []  # red, not green


def test_a_segment_dropped_after_the_task_fails_segments_loaded(
    stack, s3, dagster_home, druid
) -> None:
    instance = dg.DagsterInstance.get()
    key, run_id = ingest_with(instance, s3, stack_druid(SegmentDroppingDruid))
    dataset = key.split("/")[0]
    live = druid.sql(
        "SELECT segment_id FROM sys.segments WHERE datasource = ? AND is_published = 1 "
        "AND is_overshadowed = 0",
        [dataset],
    )
    assert live == []  # the oracle: nothing of the file is served any more

    checks = evaluations(instance, run_id, key)
    served = checks["segments_loaded"]
    assert not served.passed
    assert served.description.startswith("0 of 0 segments over its task's time range")
    assert checks["rows_in_druid_match_validated"].passed  # counted before the drop
    verdict = runs.verdicts(instance, run_id)[key]
    assert verdict.outcome is Outcome.FAILED and verdict.problem is not None
    assert verdict.problem.what.startswith("segments_loaded failed: 0 of 0 segments")
