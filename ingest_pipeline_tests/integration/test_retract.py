"""Deletes through the real stack in queue mode: the relay's ObjectRemoved event, the sensor's
retract_upload run, Druid's replace task. Under `on_delete: retract` a deleted file's rows are
gone and its neighbour in the same time chunk is exact (count and SUM by SQL written here),
also a file alone in its chunk (the chunk ends empty); under keep the rows stay and nothing
runs; a delete of a key the pipeline never took runs nothing. A real daemon on its own
database and uploads prefix, each test with its datasets.yaml entries.
"""

from __future__ import annotations

import time
import uuid

import dagster as dg
import pytest

from ingest_pipeline.stack.settings import UPLOADS_BUCKET
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests import runs as graph_runs
from ingest_pipeline_tests.integration.automation import (
    Automation,
    assert_no_more_runs,
    csv,
    decided,
    put,
    runs_for,
    source_rows,
    wait_for_runs,
)

pytestmark = pytest.mark.integration


def remove(s3, auto: Automation, partition: str) -> None:
    s3.delete_object(Bucket=UPLOADS_BUCKET, Key=auto.prefix + partition)


def wait_until_forgotten(auto: Automation, partition: str, timeout: float = 60) -> None:
    """Until the sensor has acted on the delete event (the key is no longer decided)."""
    key = auto.prefix + partition
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if decided(auto.instance(), key) is None:
            return
        time.sleep(1)
    raise AssertionError(f"the sensor never saw {key} deleted\n{auto.logs()}")


def count_and_sum(druid, dataset: str, source_key: str) -> list[dict]:
    return druid.sql(
        f'SELECT COUNT(*) AS n, SUM(points) AS total FROM "{dataset}" WHERE "__source_key" = ?',
        [source_key],
    )


def test_a_deleted_file_leaves_druid_and_its_neighbour_stays_exact(
    events_automation, s3, druid
) -> None:
    auto = events_automation
    dataset = f"retracted_{uuid.uuid4().hex[:6]}"
    auto.configure_datasets({dataset: {"on_delete": "retract", "segment_granularity": "DAY"}})
    gone, neighbour, alone = (f"{dataset}/{n}.csv" for n in ("gone", "neighbour", "alone"))
    put(s3, auto, gone, csv(30))
    put(s3, auto, neighbour, csv(20, offset=1000))  # the same day: the same time chunk
    put(s3, auto, alone, csv(12, day="2024-07-09"))  # its chunk holds no other file
    for run in wait_for_runs(auto, {gone: 1, neighbour: 1, alone: 1})[gone]:
        assert run.status == dg.DagsterRunStatus.SUCCESS, auto.logs()
    assert source_rows(druid, dataset, auto, "gone.csv") == 30

    remove(s3, auto, gone)
    remove(s3, auto, alone)
    found = wait_for_runs(auto, {gone: 2, alone: 2})

    instance = auto.instance()
    for partition in (gone, alone):
        retraction = found[partition][0]
        assert retraction.job_name == "retract_upload", found[partition]
        assert retraction.status == dg.DagsterRunStatus.SUCCESS, auto.logs()
        verdict = graph_runs.verdicts(instance, retraction.run_id)[partition]
        assert verdict.outcome is Outcome.RETRACTED and verdict.rows == 0
    assert graph_runs.verdicts(instance, found[gone][0].run_id)[gone].retracted_rows == 30
    assert graph_runs.verdicts(instance, found[alone][0].run_id)[alone].retracted_rows == 12
    assert count_and_sum(druid, dataset, auto.prefix + gone) == [{"n": 0, "total": None}]
    assert count_and_sum(druid, dataset, auto.prefix + alone) == [{"n": 0, "total": None}]
    assert count_and_sum(druid, dataset, auto.prefix + neighbour) == [
        {"n": 20, "total": sum(range(1000, 1020))}
    ]
    total = druid.sql(f'SELECT COUNT(*) AS n FROM "{dataset}"')
    assert total == [{"n": 20}]
    assert_no_more_runs(auto, {gone: 2, neighbour: 1, alone: 2})


def test_a_datasource_emptied_by_a_delete_takes_the_next_upload_as_new(
    events_automation, s3, druid
) -> None:
    auto = events_automation
    dataset = f"emptied_{uuid.uuid4().hex[:6]}"
    auto.configure_datasets({dataset: {"on_delete": "retract"}})
    only, later = f"{dataset}/only.csv", f"{dataset}/later.csv"
    put(s3, auto, only, csv(8))
    (run,) = wait_for_runs(auto, {only: 1})[only]
    assert run.status == dg.DagsterRunStatus.SUCCESS, auto.logs()

    remove(s3, auto, only)
    retraction = wait_for_runs(auto, {only: 2})[only][0]
    assert retraction.status == dg.DagsterRunStatus.SUCCESS, auto.logs()
    verdict = graph_runs.verdicts(auto.instance(), retraction.run_id)[only]
    assert verdict.outcome is Outcome.RETRACTED and verdict.retracted_rows == 8, verdict
    put(s3, auto, later, csv(6, offset=50))
    (run,) = wait_for_runs(auto, {later: 1})[later]

    assert run.status == dg.DagsterRunStatus.SUCCESS, auto.logs()
    assert count_and_sum(druid, dataset, auto.prefix + later) == [
        {"n": 6, "total": sum(range(50, 56))}
    ]
    assert druid.sql(f'SELECT COUNT(*) AS n FROM "{dataset}"') == [{"n": 6}]


def test_under_keep_a_deleted_file_keeps_its_rows_and_nothing_runs(
    events_automation, s3, druid
) -> None:
    auto = events_automation
    dataset = f"kept_{uuid.uuid4().hex[:6]}"
    auto.configure_datasets({dataset: {"on_delete": "keep"}})
    partition = f"{dataset}/kept.csv"
    put(s3, auto, partition, csv(15))
    (run,) = wait_for_runs(auto, {partition: 1})[partition]
    assert run.status == dg.DagsterRunStatus.SUCCESS, auto.logs()

    remove(s3, auto, partition)
    wait_until_forgotten(auto, partition)

    assert_no_more_runs(auto, {partition: 1})
    assert source_rows(druid, dataset, auto, "kept.csv") == 15


def test_a_delete_of_a_key_never_ingested_runs_nothing(events_automation, s3) -> None:
    auto = events_automation
    dataset = f"never_{uuid.uuid4().hex[:6]}"
    auto.configure_datasets({dataset: {"on_delete": "retract"}})
    partition = f"{dataset}/.draft.csv"  # a hidden name: logged, never a partition
    put(s3, auto, partition, csv(3))
    deadline = time.monotonic() + 60
    while decided(auto.instance(), auto.prefix + partition) is None:
        assert time.monotonic() < deadline, auto.logs()
        time.sleep(1)

    remove(s3, auto, partition)
    wait_until_forgotten(auto, partition)

    assert_no_more_runs(auto, {partition: 0})
    assert partition not in auto.instance().get_dynamic_partitions("uploads")
    assert runs_for(auto.instance(), partition) == []
