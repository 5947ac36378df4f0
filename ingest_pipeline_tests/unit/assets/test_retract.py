"""Deletes under `on_delete: retract`: the plan (one replace over the file's chunks, nothing
read but the other files' rows), the retract_upload job on the fakes (rows gone, neighbours
exact, the verdict, the partition, `status`), an overwrite then a delete, a rejected file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from ingest_pipeline.assets.retract import retract_job
from ingest_pipeline.console.status import collect_status
from ingest_pipeline.datasets import DeleteMode, load_dataset_configs
from ingest_pipeline.planning import plan_retraction
from ingest_pipeline.records import DatasourceState, Replace, SourceRows
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.tick_plan import RETRACT_JOB
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests.fakes import ACCESS, FakeDruid
from ingest_pipeline_tests.runs import materializations
from ingest_pipeline_tests.unit.assets.helpers import World, csv, new_world


def world_with(tmp_path: Path, on_delete: str = "retract") -> World:
    config = tmp_path / "datasets.yaml"
    config.write_text(f"s:\n  segment_granularity: DAY\n  on_delete: {on_delete}\n")
    world = new_world()
    world.settings = PipelineSettings(datasets_config_path=str(config))
    return world


def retract(world: World, partition: str) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions(jobs=[retract_job], resources=world.resources())
    return defs.resolve_job_def(RETRACT_JOB).execute_in_process(
        instance=world.instance, partition_key=partition, raise_on_error=False
    )


def delete(world: World, partition: str) -> None:
    world.store.delete(world.store.uploads_bucket, world.store.upload_key(partition))


def test_on_delete_is_keep_unless_set_and_refuses_other_words(tmp_path: Path) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text("a: {}\nb:\n  on_delete: retract\n")
    configs = load_dataset_configs(path)
    assert configs["a"].on_delete is DeleteMode.KEEP
    assert configs["b"].on_delete is DeleteMode.RETRACT
    path.write_text("a:\n  on_delete: drop\n")
    with pytest.raises(ValueError, match="on_delete must be one of keep, retract"):
        load_dataset_configs(path)


def test_the_plan_rewrites_the_file_chunks_reading_only_the_other_files_rows() -> None:
    rows = SourceRows(30, datetime(2024, 7, 1, 5, tzinfo=UTC), datetime(2024, 7, 2, 1, tzinfo=UTC))
    state = DatasourceState(True, {"team": "VARCHAR", "points": "BIGINT"}, None, {"k": rows})
    plan = plan_retraction("s/a.csv", "k", state, "DAY", ACCESS, "run-1")
    assert plan.rows_in_druid == 30 and plan.task is not None
    task = plan.task
    assert task.mode == Replace(("2024-07-01T00:00:00.000Z/2024-07-03T00:00:00.000Z",), 30, "k")
    assert task.files == ()
    io = task.spec["spec"]["ioConfig"]
    assert io["dropExisting"] is True and io["appendToExisting"] is False
    delegates = io["inputSource"]["delegates"]
    assert [d["type"] for d in delegates] == ["druid"]  # no file: the others' rows only
    assert delegates[0]["filter"]["field"]["value"] == "k"
    assert delegates[0]["filter"]["type"] == "not"
    dims = {d["name"] for d in task.spec["spec"]["dataSchema"]["dimensionsSpec"]["dimensions"]}
    assert dims == {"team", "points", "__source_key"}  # the neighbours keep their columns
    # the same file in the same run: the same task (a retried run follows it)
    again = plan_retraction("s/a.csv", "k", state, "DAY", ACCESS, "run-1").task
    assert again is not None and again.task_id == task.task_id


def test_a_file_druid_holds_no_row_of_plans_no_task() -> None:
    plan = plan_retraction("s/x.csv", "k", DatasourceState.empty(), None, ACCESS)
    assert plan.task is None and plan.rows_in_druid == 0


def test_a_deleted_file_leaves_druid_and_its_neighbour_stays_exact(tmp_path: Path) -> None:
    world = world_with(tmp_path)
    world.upload("s/a.csv", csv(30))
    world.upload("s/b.csv", csv(20, offset=1000))
    world.run(["s/a.csv", "s/b.csv"])
    neighbour = world.druid.rows_of("s", "uploads/s/b.csv")
    delete(world, "s/a.csv")

    result = retract(world, "s/a.csv")

    assert result.success
    assert world.druid.rows_of("s", "uploads/s/a.csv") == []
    assert world.druid.rows_of("s", "uploads/s/b.csv") == neighbour
    verdict = world.verdicts(result.run_id)["s/a.csv"]
    assert verdict.outcome is Outcome.RETRACTED and verdict.rows == 0
    assert verdict.retracted_rows == 30 and verdict.druid_task_id
    assert verdict.message() == (
        f"deleted from the bucket; its 30 rows removed from Druid by task {verdict.druid_task_id}"
    )
    done = materializations(result, "druid_datasource")["s/a.csv"]
    assert done.metadata["dagster/row_count"].value == 0
    assert done.metadata["verdict"].value == "retracted"
    assert "s/a.csv" in world.statuses("druid_datasource")[0]
    (status,) = collect_status(world.instance, None, "s")
    assert status.count("retracted") == 1 and status.count("ingested") == 1


def test_an_overwrite_then_a_delete_removes_the_latest_version(tmp_path: Path) -> None:
    world = world_with(tmp_path)
    world.upload("s/a.csv", csv(5))
    world.upload("s/b.csv", csv(3, offset=1000, day="2024-07-05"))
    world.run(["s/a.csv", "s/b.csv"])
    world.upload("s/a.csv", csv(7, day="2024-07-05"))  # the new version moved to b's day
    world.run(["s/a.csv"])
    assert len(world.druid.rows_of("s", "uploads/s/a.csv")) == 7
    delete(world, "s/a.csv")

    result = retract(world, "s/a.csv")

    assert world.druid.rows_of("s", "uploads/s/a.csv") == []
    assert len(world.druid.rows_of("s", "uploads/s/b.csv")) == 3
    assert world.verdicts(result.run_id)["s/a.csv"].retracted_rows == 7


def test_a_deleted_rejected_file_is_retracted_with_no_druid_task(tmp_path: Path) -> None:
    world = world_with(tmp_path)
    world.upload("s/bad.csv", b"ts,team,points\n")
    world.run(["s/bad.csv"])
    tasks = world.druid.task_runs()
    delete(world, "s/bad.csv")

    result = retract(world, "s/bad.csv")

    assert result.success and world.druid.task_runs() == tasks
    verdict = world.verdicts(result.run_id)["s/bad.csv"]
    assert verdict.outcome is Outcome.RETRACTED and verdict.retracted_rows == 0
    assert verdict.message() == "deleted from the bucket; it had no rows in Druid (no task ran)"
    (status,) = collect_status(world.instance, None, "s")
    assert status.count("retracted") == 1 and status.count("rejected") == 0


def test_a_file_uploaded_again_since_its_delete_is_not_retracted(tmp_path: Path) -> None:
    world = world_with(tmp_path)
    world.upload("s/a.csv", csv(4))
    world.run(["s/a.csv"])

    result = retract(world, "s/a.csv")  # the object is there (uploaded again)

    assert result.success and len(world.druid.rows_of("s", "uploads/s/a.csv")) == 4
    assert world.verdicts(result.run_id) == {}


def test_a_failed_retraction_is_a_failed_run_with_the_reason(tmp_path: Path) -> None:
    world = world_with(tmp_path)
    world.upload("s/a.csv", csv(4))
    world.run(["s/a.csv"])
    delete(world, "s/a.csv")
    world.druid = FakeDruid(store=world.store, name=world.druid.name, fail_datasources=["s"])

    result = retract(world, "s/a.csv")

    assert not result.success
    verdict = world.verdicts(result.run_id)["s/a.csv"]
    assert verdict.outcome is Outcome.FAILED and verdict.problem is not None
    assert "the retraction failed" in verdict.problem.what
