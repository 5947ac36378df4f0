"""The project's dagster.yaml, loaded by Dagster itself (its Postgres storage swapped for a
temporary SQLite one): what it promises about runs survives a config edit."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml
from dagster._core.run_coordinator.queued_run_coordinator import RunQueueConfig

PROJECT_DAGSTER_YAML = Path(__file__).parents[2] / "dagster.yaml"


def project_run_queue(tmp_path: Path) -> RunQueueConfig:
    """The run queue Dagster builds from the project's dagster.yaml."""
    settings = yaml.safe_load(PROJECT_DAGSTER_YAML.read_text())
    del settings["storage"]  # Postgres: the stack's; the rest is what every instance runs with
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides=settings) as instance:
        queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None
    return queue


def test_a_queued_run_outlives_a_code_server_restart(tmp_path: Path) -> None:
    # The 60-minute soak killed the daemon's code server: with Dagster's default of no retry,
    # every run dequeued while it restarted failed ("Could not reach user code server"), and
    # their files never got a verdict. A restart takes up to a minute on a busy 2-core box.
    queue = project_run_queue(tmp_path)
    assert queue.max_user_code_failure_retries * queue.user_code_failure_retry_delay >= 120
    assert queue.user_code_failure_retry_delay <= 15  # back soon after the server is


def test_one_run_at_a_time_per_dataset_and_per_upload(tmp_path: Path) -> None:
    limits = {
        (limit["key"], limit["limit"])
        for limit in project_run_queue(tmp_path).tag_concurrency_limits
    }
    assert limits == {("ingest/dataset", 1), ("dagster/partition", 1)}
