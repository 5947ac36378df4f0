"""Batching against the real stack and a real daemon: a burst of uploads becomes one run and
one Druid task per dataset, each file still materialized, checked and counted on its own
partition; a bad file stops only itself; overwrites in a burst replace exactly their file; a
middleManager killed under a batch's task leaves every file exactly once after a re-run."""

from __future__ import annotations

import threading
import time
import uuid

import dagster as dg
import pytest

from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources import build_resources
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.sensors import RANGE_END_TAG, RANGE_START_TAG
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, StackSettings
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests import runs as graph_runs
from ingest_pipeline_tests.integration.automation import (
    check_results,
    csv,
    put,
    runs_for,
    wait_for_runs,
)
from ingest_pipeline_tests.integration.test_faults import crash, restored  # noqa: F401
from ingest_pipeline_tests.runs import failure_message, metadata_of

pytestmark = pytest.mark.integration
FILES_PER_DATASET = 20
INGESTION_CHECKS = {
    "rows_in_druid_match_validated",
    "no_unparseable_or_thrown_away_rows",
    "segments_loaded",
    "columns_as_specified",
}
#: Four column layouts for one dataset's files: ingested in one task, each keeps its columns.
LAYOUTS = [
    ("ts,team,points", lambda i: f"t{i % 4},{i}"),
    ("ts,team,points,city", lambda i: f"t{i % 4},{i},city{i % 3}"),
    ("ts,points,ratio", lambda i: f"{i},{i / 8}"),
    ("ts,team,flag", lambda i: f"t{i % 4},{'yes' if i % 2 else 'no'}"),
]


def layout_csv(layout: int, rows: int, day: int) -> bytes:
    header, row = LAYOUTS[layout]
    lines = [header]
    lines += [f"2024-08-{day:02d}T{i // 60:02d}:{i % 60:02d}:00Z,{row(i)}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def druid_tasks(druid: DruidResource, datasource: str) -> list[dict]:
    """The overlord's index_parallel tasks of a datasource (running and complete)."""
    url = f"{druid.router_url}/druid/indexer/v1/tasks"
    tasks = druid.request("GET", url, params={"datasource": datasource}).json()
    return [t for t in tasks if t.get("type") == "index_parallel"]


def running(task: dict) -> bool:
    """The task runs on a worker (the overlord's RUNNING also covers PENDING and WAITING)."""
    return (task["statusCode"], task.get("runnerStatusCode")) == ("RUNNING", "RUNNING")


def latest_materialization(
    instance: dg.DagsterInstance, asset: str, partition: str
) -> dg.AssetMaterialization | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return records[0].asset_materialization if records else None


def rows_per_file(druid: DruidResource, dataset: str, prefix: str) -> dict[str, int]:
    rows = druid.sql(
        f'SELECT "__source_key" AS k, COUNT(*) AS n FROM "{dataset}" GROUP BY 1',
    )
    return {r["k"].removeprefix(prefix): r["n"] for r in rows}


def test_a_burst_over_three_datasets_is_three_runs_with_one_druid_task_each(
    automation, s3, druid
) -> None:
    tag = uuid.uuid4().hex[:6]
    plain, mixed, layouts = f"plain_{tag}", f"mixed_{tag}", f"layouts_{tag}"
    uploads: dict[str, bytes] = {}
    for i in range(FILES_PER_DATASET):
        uploads[f"{plain}/f{i:02d}.csv"] = csv(10 + i, offset=i, day=f"2024-07-{1 + i:02d}")
        uploads[f"{mixed}/f{i:02d}.csv"] = csv(5 + i, offset=i, day=f"2024-07-{1 + i:02d}")
        uploads[f"{layouts}/f{i:02d}.csv"] = layout_csv(i % 4, 6 + i, 1 + i)
    bad = f"{mixed}/f07.csv"
    uploads[bad] = b"ts,team,points\n2024-07-08T00:00:00Z,t1,1\n2024-07-08T01:00:00Z,t2,2,extra\n"

    instance = automation.instance()
    automation.stop_daemon()  # the whole burst is in S3 before the next tick
    started = time.monotonic()
    for partition, body in uploads.items():
        put(s3, automation, partition, body)
    automation.start_daemon()
    runs = wait_for_runs(automation, {p: 1 for p in uploads}, timeout=900)
    elapsed = time.monotonic() - started

    distinct = {run.run_id: run for (run,) in runs.values()}
    assert len(distinct) == 3, sorted(
        run.tags.get("ingest/dataset", "") for run in distinct.values()
    )
    for run in distinct.values():
        dataset = run.tags["ingest/dataset"]
        # a run with a rejected file fails (after ingesting the others): the UI shows it
        expected = dg.DagsterRunStatus.FAILURE if dataset == mixed else dg.DagsterRunStatus.SUCCESS
        assert run.status == expected, automation.logs()
        assert run.tags[RANGE_START_TAG] == f"{dataset}/f00.csv"
        assert run.tags[RANGE_END_TAG] == f"{dataset}/f{FILES_PER_DATASET - 1:02d}.csv"
        assert run.tags["ingest/files"] == str(FILES_PER_DATASET)
    for dataset in (plain, mixed, layouts):
        (task,) = druid_tasks(druid, dataset)  # one Druid task for the dataset's whole batch
        assert task["statusCode"] == "SUCCESS", task

    for partition, body in uploads.items():
        dataset, name = partition.split("/")
        (run,) = runs[partition]
        checks = check_results(instance, run, partition)
        druid_side = latest_materialization(instance, "druid_datasource", partition)
        verdict = graph_runs.verdicts(instance, run.run_id)[partition]
        if partition == bad:
            assert checks == {"file_is_ingestible": False}, checks
            assert druid_side is None  # never materialized: the UI shows it failed
            assert verdict.outcome is Outcome.REJECTED and verdict.problem is not None
            assert verdict.problem.line == 3, verdict  # the ragged row, by its line
            continue
        assert druid_side is not None, partition
        assert (verdict.outcome, verdict.rows) == (Outcome.INGESTED, body.count(b"\n") - 1)
        rows = body.count(b"\n") - 1
        assert checks.keys() >= INGESTION_CHECKS | {"file_is_ingestible"}, (partition, checks)
        assert all(checks.values()), (partition, checks)
        assert druid_side.metadata["dagster/row_count"].value == rows, partition
        assert druid_side.metadata["files_in_task"].value == FILES_PER_DATASET - (dataset == mixed)
        validated = latest_materialization(instance, "validated_frame", partition)
        assert validated is not None and validated.metadata["dagster/row_count"].value == rows

    prefix = automation.prefix
    for dataset in (plain, mixed, layouts):
        expected = {
            p: b.count(b"\n") - 1 for p, b in uploads.items() if p.startswith(f"{dataset}/")
        }
        expected.pop(bad, None)
        assert rows_per_file(druid, dataset, prefix) == expected, dataset
    # four layouts in one task: every column is there with its type
    columns = druid.datasource_columns(layouts)
    for column, sql_type in {
        "team": "VARCHAR",
        "points": "BIGINT",
        "city": "VARCHAR",
        "ratio": "DOUBLE",
        "flag": "VARCHAR",
    }.items():
        assert columns.get(column) == sql_type, columns
    print(f"\n{len(uploads)} uploads over 3 datasets -> 3 runs, 3 Druid tasks in {elapsed:.0f}s")


def test_a_burst_of_overwrites_and_new_files_replaces_exactly_the_overwritten(
    automation, s3, druid
) -> None:
    dataset = f"rewrite_{uuid.uuid4().hex[:6]}"
    first = {f"{dataset}/{n}.csv": csv(12, offset=k) for k, n in enumerate(["a", "b", "c"])}
    for partition, body in first.items():
        put(s3, automation, partition, body)
    wait_for_runs(automation, {p: 1 for p in first}, timeout=600)

    instance = automation.instance()
    automation.stop_daemon()
    second = {
        f"{dataset}/a.csv": csv(30, offset=500),  # overwritten: 12 rows become 30
        f"{dataset}/c.csv": csv(4, offset=900, day="2024-07-03"),  # overwritten, moved in time
        f"{dataset}/d.csv": csv(7),
        f"{dataset}/e.csv": csv(9),
    }
    for partition, body in second.items():
        put(s3, automation, partition, body)
    automation.start_daemon()
    runs = wait_for_runs(
        automation,
        {
            f"{dataset}/a.csv": 2,
            f"{dataset}/c.csv": 2,
            f"{dataset}/d.csv": 1,
            f"{dataset}/e.csv": 1,
        },
        timeout=600,
    )
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for rs in runs.values() for run in rs)
    # the overwrites ran alone (a known partition cannot join a range), the new files together
    (new_batch,) = runs[f"{dataset}/d.csv"]
    assert runs[f"{dataset}/e.csv"][0].run_id == new_batch.run_id
    assert new_batch.tags["ingest/files"] == "2"
    assert rows_per_file(druid, dataset, automation.prefix) == {
        f"{dataset}/a.csv": 30,
        f"{dataset}/b.csv": 12,
        f"{dataset}/c.csv": 4,
        f"{dataset}/d.csv": 7,
        f"{dataset}/e.csv": 9,
    }
    days = druid.sql(
        f"SELECT TIME_FLOOR(__time, 'P1D') AS d, COUNT(*) AS n FROM \"{dataset}\" "
        f'WHERE "__source_key" = ? GROUP BY 1',
        [f"{automation.prefix}{dataset}/c.csv"],
    )
    assert days == [{"d": "2024-07-03T00:00:00.000Z", "n": 4}]
    for partition in second:
        assert check_results(instance, runs_for(instance, partition)[0], partition)[
            "rows_in_druid_match_validated"
        ]


def materialize_range(
    instance: dg.DagsterInstance, keys: list[str], selection: list[str] | None = None
) -> dg.ExecuteInProcessResult:
    return graph_runs.materialize(instance, keys, build_resources(dg.EnvVar), selection)


@pytest.mark.serial
def test_a_batch_whose_middle_manager_dies_mid_task_is_submitted_again_each_file_once(
    stack: StackSettings,
    s3,
    dagster_home,
    restored,  # noqa: F811
) -> None:
    instance = dg.DagsterInstance.get()
    dataset = f"batchmm_{uuid.uuid4().hex[:6]}"
    keys = [f"{dataset}/f{i}.csv" for i in range(3)]
    for i, key in enumerate(keys):
        body = csv(2000 + i, offset=i, day=f"2024-09-0{1 + i}")
        s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}", Body=body)
    instance.add_dynamic_partitions(upload_partitions.name, keys)
    prepared = materialize_range(instance, keys, ["raw_file", "validated_frame", "druid_spec"])
    assert prepared.success

    druid = DruidResource(router_url=stack.druid_url("router"))
    outcome: dict[str, dg.ExecuteInProcessResult] = {}
    thread = threading.Thread(
        target=lambda: outcome.update(
            result=materialize_range(instance, keys, ["druid_datasource"])
        )
    )
    thread.start()
    deadline = time.monotonic() + 120
    # on a worker, not only accepted: a task still PENDING when the worker dies is simply run
    # by the restarted one (the CI run of 301ac33 saw it SUCCEED under its first id)
    while not (on_a_worker := [t["id"] for t in druid_tasks(druid, dataset) if running(t)]):
        assert time.monotonic() < deadline and thread.is_alive(), "the batch's task never ran"
        time.sleep(0.2)
    (lost,) = on_a_worker
    crash(restored.java["middleManager"], stack.stack_dir / "druid")
    restored.up()
    thread.join(timeout=600)
    # the task died with its worker, having published nothing: the same run submitted it again
    assert outcome["result"].success, failure_message(outcome["result"])
    assert druid.task_status(lost)["status"] == "FAILED"
    for key in keys:
        assert metadata_of(outcome["result"], "druid_datasource", key)["druid_task_id"] == (
            f"{lost}_2"
        )
    expected = {k: 2000 + i for i, k in enumerate(keys)}
    assert rows_per_file(druid, dataset, "uploads/") == expected

    rerun = materialize_range(instance, keys)
    assert rerun.success
    assert rows_per_file(druid, dataset, "uploads/") == expected  # each file once
