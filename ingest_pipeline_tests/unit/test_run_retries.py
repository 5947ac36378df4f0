"""A run that crashed and was retried by run_retries is one request: followed into its retry."""

from __future__ import annotations

import dagster as dg

from ingest_pipeline.console.runs import (
    RETRY_RUN_TAG,
    ROOT_RUN_TAG,
    WILL_RETRY_TAG,
    FollowedRun,
    latest_attempts,
    read_new_events,
    retry_state,
)
from ingest_pipeline.console.verdicts import RunFacts

RETRIES = {"run_retries": {"enabled": True, "max_retries": 2}}


def stored_run(
    instance: dg.DagsterInstance, run_id: str, status: dg.DagsterRunStatus, **tags: str
) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name="ingest_upload", run_id=run_id, status=status, tags=tags)
    instance.add_run(run)
    return instance.get_run_by_id(run_id)


def test_a_failed_run_is_final_only_once_run_retries_has_decided() -> None:
    failed = dg.DagsterRunStatus.FAILURE
    with dg.instance_for_test(overrides=RETRIES) as instance:
        undecided = stored_run(instance, "r1", failed)
        assert retry_state(instance, undecided) == "pending"
        not_retried = stored_run(instance, "r2", failed, **{WILL_RETRY_TAG: "false"})
        assert retry_state(instance, not_retried) is None
        to_launch = stored_run(instance, "r3", failed, **{WILL_RETRY_TAG: "true"})
        assert retry_state(instance, to_launch) == "pending"
        launched = stored_run(
            instance, "r4", failed, **{WILL_RETRY_TAG: "true", RETRY_RUN_TAG: "r5"}
        )
        assert retry_state(instance, launched) == "r5"
        succeeded = stored_run(instance, "r6", dg.DagsterRunStatus.SUCCESS)
        assert retry_state(instance, succeeded) is None
    with dg.instance_for_test() as instance:  # retries off: a failure is final at once
        assert retry_state(instance, stored_run(instance, "r7", failed)) is None


def test_a_retried_run_counts_once_as_its_newest_attempt() -> None:
    with dg.instance_for_test(overrides=RETRIES) as instance:
        first = stored_run(instance, "a1", dg.DagsterRunStatus.FAILURE)
        retry = stored_run(instance, "a2", dg.DagsterRunStatus.SUCCESS, **{ROOT_RUN_TAG: "a1"})
        other = stored_run(instance, "b1", dg.DagsterRunStatus.SUCCESS)
        newest_first = [other, retry, first]
        assert [r.run_id for r in latest_attempts(newest_first)] == ["b1", "a2"]


def test_following_a_crashed_run_goes_on_into_its_retry() -> None:
    with dg.instance_for_test(overrides=RETRIES) as instance:
        stored_run(
            instance,
            "c1",
            dg.DagsterRunStatus.FAILURE,
            **{WILL_RETRY_TAG: "true", RETRY_RUN_TAG: "c2"},
        )
        stored_run(instance, "c2", dg.DagsterRunStatus.STARTED, **{ROOT_RUN_TAG: "c1"})
        followed = FollowedRun(RunFacts("c1", "STARTED"))
        news = read_new_events(instance, followed)
        assert [n.text for n in news] == ["crashed (the run failed); retried as run c2"]
        assert (followed.facts.run_id, followed.done) == ("c2", False)
        read_new_events(instance, followed)
        assert (followed.facts.status, followed.done) == ("STARTED", False)
