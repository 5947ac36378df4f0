"""How check verdicts reach each file's partition: `log_checks` records the selected checks on
one partition (a result yielded by a step over many partitions would land on none), and a file
whose rows never reached Druid (refused by the planner, its task failed) fails
`rows_in_druid_match_validated` on its own partition, saying why (`not_in_druid`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from ingest_pipeline import checks
from ingest_pipeline.assets.steps import log_checks
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests.runs import materialize
from ingest_pipeline_tests.unit.assets.helpers import csv, new_world
from ingest_pipeline_tests.unit.assets.test_time_checks import check_evaluations

ROWS_MATCH_KEY = dg.AssetCheckKey(checks.DRUID_DATASOURCE_KEY, checks.ROWS_MATCH)
SEGMENTS_KEY = dg.AssetCheckKey(checks.DRUID_DATASOURCE_KEY, checks.SEGMENTS_LOADED)


@dataclass
class StepContext:
    """What log_checks reads of a step's context: the selected checks; what it logs."""

    selected_asset_check_keys: set[dg.AssetCheckKey]
    logged: list[Any] = field(default_factory=list)

    def log_event(self, event: Any) -> None:
        self.logged.append(event)


def test_not_in_druid_is_a_failed_error_on_rows_match_with_the_file_and_why() -> None:
    extra = {"task_id": dg.MetadataValue.text("index_parallel_s_1")}
    result = checks.not_in_druid("uploads/s/a.csv", "the task failed: boom", extra)
    assert (result.asset_key, result.check_name) == (
        checks.DRUID_DATASOURCE_KEY,
        "rows_in_druid_match_validated",
    )
    assert result.passed is False and result.severity is dg.AssetCheckSeverity.ERROR
    assert result.description == "the task failed: boom"
    assert result.metadata == {
        "file": dg.MetadataValue.text("uploads/s/a.csv"),
        "problem": dg.MetadataValue.text("the task failed: boom"),
        "task_id": dg.MetadataValue.text("index_parallel_s_1"),
    }


def test_log_checks_records_each_selected_result_on_the_partition_only() -> None:
    context = StepContext({ROWS_MATCH_KEY})
    failed = checks.not_in_druid("uploads/s/a.csv", "refused")
    unselected = dg.AssetCheckResult(
        asset_key=checks.DRUID_DATASOURCE_KEY, check_name=checks.SEGMENTS_LOADED, passed=True
    )
    log_checks(context, "s/a.csv", [failed, unselected])  # type: ignore[arg-type]
    (evaluation,) = context.logged
    assert isinstance(evaluation, dg.AssetCheckEvaluation)
    assert evaluation.partition == "s/a.csv"
    assert (evaluation.asset_key, evaluation.check_name) == (
        checks.DRUID_DATASOURCE_KEY,
        checks.ROWS_MATCH,
    )
    assert evaluation.passed is False
    assert evaluation.severity is dg.AssetCheckSeverity.ERROR
    assert evaluation.description == "refused"
    assert evaluation.metadata["file"] == dg.MetadataValue.text("uploads/s/a.csv")
    nothing = StepContext(set())
    log_checks(nothing, "s/a.csv", [failed])  # type: ignore[arg-type]
    assert nothing.logged == []


def test_each_file_of_a_failed_task_fails_rows_match_on_its_own_partition() -> None:
    world = new_world(fail_datasources=["t"])
    world.upload("t/a.csv", csv(3))
    world.upload("t/b.csv", csv(4, day="2024-07-02"))
    result = world.run(["t/a.csv", "t/b.csv"])
    assert not result.success
    for partition in ("t/a.csv", "t/b.csv"):
        evaluation = check_evaluations(world.instance, result.run_id, partition)[checks.ROWS_MATCH]
        assert evaluation.passed is False
        assert evaluation.severity is dg.AssetCheckSeverity.ERROR
        assert evaluation.metadata["file"] == dg.MetadataValue.text(f"uploads/{partition}")
        assert "fake failure" in (evaluation.description or "")
        assert evaluation.metadata["root_cause"] == dg.MetadataValue.text("boom")
        assert world.verdicts(result.run_id)[partition].outcome is Outcome.FAILED


def test_a_refused_file_fails_rows_match_on_its_partition_and_the_next_file_lands(
    tmp_path: Path,
) -> None:
    config = tmp_path / "datasets.yaml"
    config.write_text("c:\n  segment_granularity: DAY\n", encoding="utf-8")
    world = new_world()
    world.upload("c/a.csv", b"ts,v\n1900-01-01T00:00:00Z,1\n2200-12-31T00:00:00Z,2\n")
    world.upload("c/b.csv", csv(3))
    settings = PipelineSettings(datasets_config_path=str(config))
    resources = {**world.resources(), "pipeline_settings": settings}
    result = materialize(world.instance, ["c/a.csv", "c/b.csv"], resources)
    assert not result.success  # one file went no further
    refused = check_evaluations(world.instance, result.run_id, "c/a.csv")[checks.ROWS_MATCH]
    assert refused.passed is False and refused.severity is dg.AssetCheckSeverity.ERROR
    assert "109,938 DAY time chunks" in (refused.description or "")
    landed = check_evaluations(world.instance, result.run_id, "c/b.csv")
    assert landed[checks.ROWS_MATCH].passed is True
    assert landed[checks.ROWS_MATCH].metadata["rows_in_druid"] == dg.MetadataValue.int(3)
    assert world.druid.rows_of("c", "uploads/c/a.csv") == []
    assert len(world.druid.rows_of("c", "uploads/c/b.csv")) == 3
    verdicts = world.verdicts(result.run_id)
    assert verdicts["c/a.csv"].outcome is Outcome.REJECTED
    assert verdicts["c/b.csv"].outcome is Outcome.INGESTED
