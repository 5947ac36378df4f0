"""Reading runs of uploads from the Dagster instance: find them, follow their events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from ingest_pipeline.assets.verdicts import VERDICT_ASSET, read_verdict
from ingest_pipeline.console.verdicts import CheckFact, RunFacts
from ingest_pipeline.sensors import ETAG_TAG

ROOT_RUN_TAG = "dagster/root_run_id"  # on a retry: the first attempt's run id
WILL_RETRY_TAG = "dagster/will_retry"  # on a failed run: whether run_retries will retry it
RETRY_RUN_TAG = "dagster/auto_retry_run_id"  # on a retried run: its retry's run id

#: Dagster's own metadata key for a materialization's row count.
ROW_COUNT = "dagster/row_count"

FOLLOWED = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_OBSERVATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.RUN_FAILURE,
}


@dataclass(frozen=True)
class StepNews:
    """One thing that happened in a run, as a line to show."""

    step: str
    ok: bool | None  # None: started; True: done/passed; False: failed
    text: str


def event_partition(event: dg.DagsterEvent) -> str | None:
    """The partition a materialization, observation or check evaluation is about (None: the
    whole step)."""
    if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
        return event.step_materialization_data.materialization.partition
    if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION:
        return event.asset_observation_data.asset_observation.partition
    if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        return event.asset_check_evaluation_data.partition
    return None


def apply_event(
    facts: RunFacts, entry: dg.EventLogEntry, partition: str | None = None
) -> StepNews | None:
    """Add one event to the facts; what to tell the person about it (None: nothing). With
    `partition`, a batch run's events about other files are left out."""
    event = entry.dagster_event
    if event is None:
        return None
    if partition is not None and event_partition(event) not in (None, partition):
        return None
    kind = event.event_type
    if kind == dg.DagsterEventType.STEP_START:
        step = (event.step_key or "?").rpartition(".")[2]  # "ingest.raw_file" -> "raw_file"
        facts.steps_started.append(step)
        return StepNews(step, None, "started")
    if kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
        materialization = event.step_materialization_data.materialization
        asset = materialization.asset_key.to_user_string()
        facts.materialized.append(asset)
        rows = materialization.metadata.get(ROW_COUNT)
        text = "materialized" + (f": {rows.value:,} rows" if rows is not None else "")
        return StepNews(asset, True, text)
    if kind == dg.DagsterEventType.ASSET_OBSERVATION:
        observation = event.asset_observation_data.asset_observation
        verdict = read_verdict(observation.metadata)
        if observation.asset_key != VERDICT_ASSET or verdict is None:
            return None
        facts.verdict = verdict
        return StepNews(
            "verdict", not verdict.outcome.bad, f"{verdict.outcome}: {verdict.message()}"
        )
    if kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        data = event.asset_check_evaluation_data
        check = CheckFact(
            name=data.check_name,
            asset=data.asset_key.to_user_string(),
            passed=bool(data.passed),
            severity=data.severity.value if data.severity else "ERROR",
            description=data.description,
        )
        facts.checks.append(check)
        text = f"check {check.name} " + ("passed" if check.passed else f"FAILED ({check.severity})")
        if not check.passed and check.description:
            text += f": {check.description}"
        return StepNews(check.asset, check.passed, text)
    if kind == dg.DagsterEventType.STEP_FAILURE:
        message = failure_message(event.step_failure_data)
        facts.failures.append(message)
        return StepNews((event.step_key or "?").rpartition(".")[2], False, f"failed: {message}")
    if kind == dg.DagsterEventType.RUN_FAILURE:
        message = (entry.message or "").strip()
        if message and not facts.failures:
            facts.failures.append(message)
        return None
    return None


#: How Dagster's step failure begins when a step's retry policy ran out of retries.
RETRIES_EXHAUSTED = "Exceeded max_retries"


def failure_message(data: object) -> str:
    """A step failure's description (dg.Failure) or its error's first line."""
    user = getattr(data, "user_failure_data", None)
    if user is not None and getattr(user, "description", None):
        return str(user.description).strip()
    error = getattr(data, "error", None)
    if error is None:
        return "step failed"
    cause, retried = error, ""
    if error.message.startswith(RETRIES_EXHAUSTED) and getattr(error, "cause", None) is not None:
        # the step's retries (assets/steps.py STEP_RETRIES) ran out: say what kept failing
        retried = f" ({error.message.strip().removeprefix('Exceeded ')})"
        cause = error.cause
    while getattr(cause, "cause", None) is not None and "Error occurred while" in cause.message:
        cause = cause.cause  # Dagster wraps user code errors; the cause says what went wrong
    return one_line_error(cause.message, getattr(cause, "cls_name", None)) + retried


def one_line_error(message: str, cls_name: str | None) -> str:
    """'dagster._core.errors.XError: what\nmore' -> 'XError: what more'."""
    text = " ".join(line.strip() for line in message.strip().splitlines() if line.strip())
    head, sep, rest = text.partition(": ")
    if sep and cls_name and head.endswith(cls_name) and " " not in head:
        return f"{cls_name}: {rest}"
    return text


@dataclass
class FollowedRun:
    """A run being followed: its facts so far and where its event log was last read."""

    facts: RunFacts
    cursor: str | None = None
    done: bool = False
    partition: str | None = None  # in a batch run: the one file followed


def retry_state(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """A finished run's retry: its run id, "pending" while run_retries has yet to decide or to
    launch it, None when the run is final (succeeded, or failed and not retried)."""
    if run.status != dg.DagsterRunStatus.FAILURE or not instance.run_retries_enabled:
        return None
    will_retry = run.tags.get(WILL_RETRY_TAG)
    if will_retry is None:  # the failure is stored a moment before the decision is
        return "pending"
    if will_retry != "true":
        return None
    return run.tags.get(RETRY_RUN_TAG) or "pending"


def read_new_events(instance: dg.DagsterInstance, followed: FollowedRun) -> list[StepNews]:
    """Apply the run's events since the last call; marks it done once finished and read. A run
    that crashed and is retried (run_retries in dagster.yaml) is followed on into its retry."""
    status = instance.get_run_by_id(followed.facts.run_id)
    finished = status is not None and status.is_finished
    news = []
    while True:
        connection = instance.get_records_for_run(
            followed.facts.run_id, cursor=followed.cursor, of_type=FOLLOWED, limit=200
        )
        for record in connection.records:
            item = apply_event(followed.facts, record.event_log_entry, followed.partition)
            if item is not None:
                news.append(item)
        followed.cursor = connection.cursor
        if not connection.has_more:
            break
    if status is not None:
        followed.facts.status = status.status.value
    if status is not None and finished:
        retry = retry_state(instance, status)
        if retry is not None:
            finished = False
        if retry not in (None, "pending"):
            failures = "; ".join(followed.facts.failures) or "the run failed"
            news.append(StepNews("run", False, f"crashed ({failures}); retried as run {retry}"))
            followed.facts = RunFacts(run_id=retry, status=dg.DagsterRunStatus.QUEUED.value)
            followed.cursor = None
    # Events are written before the run is marked finished, so reading after seeing it finished
    # leaves nothing behind.
    followed.done = finished
    return news


def runs_for_versions(
    instance: dg.DagsterInstance, versions: Sequence[tuple[str, str]], since: float = 0.0
) -> dict[tuple[str, str], dg.DagsterRun]:
    """The newest run of each (partition, etag) created after `since` (epoch seconds): a run
    of that partition alone tagged with another ETag ran another version and does not count."""
    found: dict[tuple[str, str], dg.DagsterRun] = {}
    for partition, etag in versions:
        for record in run_records_covering(instance, partition):  # newest first
            if record.create_timestamp.timestamp() < since:
                break
            if record.dagster_run.tags.get(ETAG_TAG, etag) == etag:
                found[(partition, etag)] = record.dagster_run
                break
    return found


#: The events that name a file's partition in a run: planned materializations (written when
#: the run is created; raw_file, or druid_datasource for a run of the Druid step alone), the
#: file's raw_file materialization and its verdict (written while the run goes on).
PARTITION_EVENTS = (
    (dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.AssetKey("raw_file")),
    (dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.AssetKey("druid_datasource")),
    (dg.DagsterEventType.ASSET_MATERIALIZATION, dg.AssetKey("raw_file")),
    (dg.DagsterEventType.ASSET_OBSERVATION, dg.AssetKey("druid_datasource")),
)


def run_records_covering(instance: dg.DagsterInstance, partition: str) -> list[dg.RunRecord]:
    """Every run that planned or worked on `partition`, alone or in a batch, newest first.

    Found by the events Dagster records for the file's partition, not by run tags alone: a
    daemon SIGKILLed while creating a run (test_automation_faults) left one run without its
    tag rows and another without its planned events - Dagster writes the run, its tags and
    its planned events one after another - and the daemon resumed and ran both."""
    run_ids: set[str] = set()
    storage = instance.event_log_storage  # the instance's get_event_records is deprecated
    for event_type, asset_key in PARTITION_EVENTS:
        events = storage.get_event_records(
            dg.EventRecordsFilter(
                event_type=event_type, asset_key=asset_key, asset_partitions=[partition]
            ),
            limit=1000,
        )
        run_ids.update(event.run_id for event in events)
    if not run_ids:
        return []
    runs = instance.get_run_records(filters=dg.RunsFilter(run_ids=sorted(run_ids)))
    return sorted(runs, key=lambda record: record.create_timestamp, reverse=True)


def runs_covering(instance: dg.DagsterInstance, partition: str) -> list[dg.DagsterRun]:
    """Every run of the ingest job that included `partition`, alone or in a batch, newest
    first."""
    return [record.dagster_run for record in run_records_covering(instance, partition)]


def latest_attempts(runs: Sequence[dg.DagsterRun]) -> list[dg.DagsterRun]:
    """Runs (newest first) with each crashed-and-retried run replaced by its newest retry: one
    run per request of the sensor (or of a person)."""
    newest: dict[str, dg.DagsterRun] = {}
    for run in runs:
        newest.setdefault(run.tags.get(ROOT_RUN_TAG, run.run_id), run)
    return list(newest.values())


def run_facts(
    instance: dg.DagsterInstance, run: dg.DagsterRun, partition: str | None = None
) -> RunFacts:
    """Everything a verdict needs about a finished (or current) run (of one file in a batch)."""
    followed = FollowedRun(
        RunFacts(run_id=run.run_id, status=run.status.value), partition=partition
    )
    read_new_events(instance, followed)
    return followed.facts
