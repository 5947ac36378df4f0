"""DruidResource: the only code that talks to Druid (tasks, SQL, segment load status).
Closes the gaps of Airflow's Druid hook: it fetches errorMsg, reports and the log tail on
failure, retries transient errors, kills a task that runs too long, and waits until the
segments are loaded before calling data queryable."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import Field, PrivateAttr

from ingest_pipeline.records import (
    DatasourceState,
    IngestedTask,
    IngestionPlan,
    IngestLimits,
    Replace,
    TaskOutcome,
)
from ingest_pipeline.resources.druid_retraction import DruidRetraction
from ingest_pipeline.resources.druid_service import DruidService
from ingest_pipeline.resources.druid_wire import (
    AfterLostTask,
    DruidError,
    DruidRefused,
    DruidTaskFailed,
    DruidUnavailable,
    extract_row_stats,
    is_lost_task,
    is_transient,
    landed_outcome,
    leader_url,
    refusal,
    report_error,
    retry_delay,
    root_cause,
)

#: Runs of one task whose worker died under it (the first and the resubmissions).
LOST_TASK_ATTEMPTS = 3

__all__ = ["DruidError", "DruidRefused", "DruidResource", "DruidTaskFailed", "DruidUnavailable"]


class DruidResource(DruidRetraction, DruidService):
    """Druid's HTTP APIs. Every URL may be the router (it proxies the overlord and coordinator)."""

    router_url: str = Field(description="Druid router URL, e.g. http://127.0.0.1:8888")
    overlord_url: str | None = Field(default=None, description="defaults to the router")
    coordinator_url: str | None = Field(default=None, description="defaults to the router")
    broker_url: str | None = Field(default=None, description="defaults to the router")
    username: str | None = Field(default=None, description="basic auth user")
    password: str | None = Field(default=None, description="basic auth password")
    verify_tls: bool = True
    request_timeout_seconds: float = 30.0
    max_retries: int = Field(default=7, description="on errors, 429, 5xx: ~90 s, retry_delay")
    retry_base_delay_seconds: float = 1.0
    retry_max_delay_seconds: float = 30.0

    _client: httpx.Client | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------ plumbing

    def broker_base_url(self) -> str:
        return self._url(self.broker_url)

    def coordinator_base_url(self) -> str:
        return self._url(self.coordinator_url)

    def _http(self) -> httpx.Client:
        if self._client is None:
            auth = (self.username, self.password or "") if self.username else None
            self._client = httpx.Client(
                auth=auth, verify=self.verify_tls, timeout=self.request_timeout_seconds
            )
        return self._client

    def _url(self, which: str | None) -> str:
        return (which or self.router_url).rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        ok_status: Sequence[int] = (200, 202),
    ) -> httpx.Response:
        """One call with retries (exponential backoff + jitter) on transient failures."""
        last_problem = ""
        for attempt in range(self.max_retries + 1):
            try:
                response = self._http().request(method, url, json=json, params=params)
            except httpx.TransportError as error:
                last_problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code in ok_status:
                    return response
                if not is_transient(response):
                    raise refusal(response, method, url)
                last_problem = f"HTTP {response.status_code}: {response.text[:500]}"
                leader = leader_url(response, url)
                if leader is not None:
                    url = leader  # another server leads: ask it at once
                    continue
            if attempt < self.max_retries:
                base, cap = self.retry_base_delay_seconds, self.retry_max_delay_seconds
                time.sleep(retry_delay(attempt, base, cap) * random.uniform(0.8, 1.2))
        raise DruidUnavailable(
            f"Druid did not answer {method} {url} after {self.max_retries + 1} attempts "
            f"({last_problem}). Is Druid running and reachable from this process?"
        )

    # ------------------------------------------------------------------ tasks

    def submit_task(self, spec: Mapping[str, Any]) -> str:
        url = f"{self._url(self.overlord_url)}/druid/indexer/v1/task"
        return str(self.request("POST", url, json=spec).json()["task"])

    def task_status(self, task_id: str) -> dict[str, Any]:
        url = f"{self._url(self.overlord_url)}/druid/indexer/v1/task/{quote(task_id)}/status"
        return dict(self.request("GET", url).json()["status"])

    def task_reports(self, task_id: str) -> dict[str, Any]:
        url = f"{self._url(self.overlord_url)}/druid/indexer/v1/task/{quote(task_id)}/reports"
        try:
            return dict(self.request("GET", url, ok_status=(200,)).json())
        except (DruidError, ValueError):
            return {}

    def task_log(self, task_id: str, max_bytes: int = 256 * 1024) -> str:
        """The end of a task's log (from the peon, or from S3 task logs once it ended)."""
        url = f"{self._url(self.overlord_url)}/druid/indexer/v1/task/{quote(task_id)}/log"
        try:
            return self.request("GET", url, params={"offset": -max_bytes}, ok_status=(200,)).text
        except DruidError:
            return ""

    def shutdown_task(self, task_id: str) -> None:
        url = f"{self._url(self.overlord_url)}/druid/indexer/v1/task/{quote(task_id)}/shutdown"
        self.request("POST", url)

    def run_task(self, spec: Mapping[str, Any], timeout_seconds: float) -> TaskOutcome:
        """Run a task and wait for it; a failure raises DruidTaskFailed with Druid's reason.

        A spec with an "id" that Druid already knows (a retried run) is not submitted again:
        a running or successful task of that id is waited for and its outcome used."""
        task_id = self.find_or_submit(spec)
        outcome = self.wait_for_task(task_id, timeout_seconds)
        if not outcome.succeeded:
            raise DruidTaskFailed(
                f"Druid task {task_id} FAILED: {outcome.error_message}"
                + (f" | root cause: {outcome.root_cause}" if outcome.root_cause else ""),
                outcome,
            )
        return outcome

    def find_or_submit(self, spec: Mapping[str, Any], attempts: int = 5) -> str:
        """The id of this spec's task: a known one that did not fail, else a new submission
        (after failures, as "<id>_2", "<id>_3": Druid refuses to reuse an id)."""
        base = spec.get("id")
        if not base:
            return self.submit_task(spec)
        for attempt in range(1, attempts + 1):
            task_id = base if attempt == 1 else f"{base}_{attempt}"
            state = self.task_state(task_id)
            if state is None:
                return self.submit_task({**spec, "id": task_id})
            if state != "FAILED":
                return task_id
        raise DruidTaskFailed(f"Druid task {base} failed {attempts} times; see its log", None)

    def task_state(self, task_id: str) -> str | None:
        """RUNNING, SUCCESS, FAILED, ... or None for an id Druid does not know."""
        url = f"{self._url(self.overlord_url)}/druid/indexer/v1/task/{quote(task_id)}/status"
        response = self.request("GET", url, ok_status=(200, 404))
        status = response.json().get("status") if response.status_code == 200 else None
        if not status:
            return None
        return str(status.get("statusCode") or status.get("status"))

    def wait_for_task(
        self, task_id: str, timeout_seconds: float, poll_seconds: float = 1.0
    ) -> TaskOutcome:
        """Poll until the task ends; past the timeout shut it down and say so. An overlord not
        answering for a while (restarting, electing) is polled again: the task runs anyway."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                status = self.task_status(task_id)
            except DruidUnavailable:
                if time.monotonic() > deadline:
                    raise
                status = {}
            if status.get("status") in ("SUCCESS", "FAILED"):
                break
            if time.monotonic() > deadline:
                self.shutdown_task(task_id)
                raise DruidTaskFailed(
                    f"Druid task {task_id} ran longer than {timeout_seconds:.0f}s and was shut "
                    "down. Raise the ingestion timeout or check the middleManager's capacity."
                )
            time.sleep(poll_seconds)
        reports = self.task_reports(task_id)
        row_stats, parse_exceptions = extract_row_stats(reports)
        error_message, log_tail, cause = status.get("errorMsg"), "", ""
        if status["status"] != "SUCCESS":
            # The status truncates errorMsg to ~100 characters; the report has it whole.
            full = report_error(reports)
            if full:
                error_message = full.splitlines()[0]
            log_text = self.task_log(task_id)
            log_tail = "\n".join(log_text.splitlines()[-60:])
            cause = root_cause(log_text)
        return TaskOutcome(
            task_id=task_id,
            status=str(status["status"]),
            error_message=error_message,
            row_stats=row_stats,
            parse_exceptions=tuple(parse_exceptions),
            log_tail=log_tail,
            root_cause=cause,
        )

    # ------------------------------------------------------------------ segments and SQL

    def ensure_auto_compaction(
        self, datasource: str, segment_granularity: str, max_rows_per_segment: int
    ) -> None:
        """Coordinator auto-compaction for the datasource, so the small segments that appends
        of many small files leave behind converge to well-filled ones (idempotent)."""
        url = f"{self._url(self.coordinator_url)}/druid/coordinator/v1/config/compaction"
        config = {
            "dataSource": datasource,
            "tuningConfig": {
                "partitionsSpec": {"type": "dynamic", "maxRowsPerSegment": max_rows_per_segment}
            },
            "granularitySpec": {"segmentGranularity": segment_granularity},
        }
        self.request("POST", url, json=config, ok_status=(200, 204))

    def auto_compaction(self, datasource: str) -> dict[str, Any] | None:
        """The datasource's auto-compaction config as the coordinator stores it, if any."""
        url = (
            f"{self._url(self.coordinator_url)}/druid/coordinator/v1/config/compaction/"
            f"{quote(datasource, safe='')}"
        )
        response = self.request("GET", url, ok_status=(200, 404))
        return None if response.status_code == 404 else dict(response.json())

    def datasource_state(
        self, datasource: str, source_keys: Sequence[str], timeout_seconds: float
    ) -> DatasourceState:
        """What the ingestion planner needs: columns, granularity, these files' earlier rows.

        Whether a file has rows already decides append vs replace, so the answer is taken
        only once every segment is served: a historical that is down would otherwise turn a
        re-run into a duplicate (DruidUnavailable instead).
        """
        if not self.has_segments(datasource):
            return DatasourceState.empty()
        return self.read_while_served(
            datasource,
            lambda: DatasourceState(
                exists=True,
                columns=self.pipeline_columns(datasource),
                segment_interval=self.segment_interval(datasource),
                previous=self.rows_by_source(datasource, source_keys),
            ),
            timeout_seconds,
        )

    def known_columns(self, datasource: str) -> dict[str, str]:
        return self.datasource_columns(datasource) if self.broker_sees(datasource) else {}

    def run_plan_task(self, plan: IngestionPlan, limits: IngestLimits) -> TaskOutcome:
        """`run_task`, submitted again (as "<id>_2", ...) when its worker died under it and
        running it again cannot duplicate rows; a lost append that had published counts as
        done (see `after_lost_task`)."""
        for attempt in range(1, LOST_TASK_ATTEMPTS + 1):
            try:
                return self.run_task(plan.spec, limits.task_timeout_seconds)
            except DruidTaskFailed as failure:
                after = self.after_lost_task(plan, failure, limits)
                if after is AfterLostTask.LANDED and failure.outcome is not None:
                    return landed_outcome(failure.outcome)
                if attempt == LOST_TASK_ATTEMPTS or after is not AfterLostTask.RUN_AGAIN:
                    raise
        raise AssertionError("unreachable")

    def after_lost_task(
        self, plan: IngestionPlan, failure: DruidTaskFailed, limits: IngestLimits
    ) -> AfterLostTask:
        if failure.outcome is None or not is_lost_task(failure.outcome):
            return AfterLostTask.FAILED  # a task that failed on its own fails the same way again
        if isinstance(plan.mode, Replace):
            return AfterLostTask.RUN_AGAIN  # it rewrites its chunks whole: same rows again
        # An append runs again only if none of its files has rows, as the coordinator's
        # metadata (refreshed) and the broker show them; it published before its worker died
        # (the soak saw a middleManager killed in between) if each has exactly its rows.
        if not self.has_segments(plan.datasource):
            return AfterLostTask.RUN_AGAIN
        found = self.read_while_served(
            plan.datasource,
            lambda: self.rows_by_source(plan.datasource, [f.source_key for f in plan.files]),
            limits.segment_load_timeout_seconds,
        )
        counts = {key: rows.count for key, rows in found.items()}
        if not counts:
            return AfterLostTask.RUN_AGAIN
        if counts == {f.source_key: f.validated_rows for f in plan.files}:
            return AfterLostTask.LANDED
        return AfterLostTask.FAILED

    def ingest(self, plan: IngestionPlan, limits: IngestLimits) -> IngestedTask:
        submitted = time.monotonic()
        outcome = self.run_plan_task(plan, limits)
        task_seconds = time.monotonic() - submitted
        try:
            load_seconds = self.wait_for_segments(
                plan.datasource, limits.segment_load_timeout_seconds
            )
        except DruidUnavailable as error:
            raise DruidUnavailable(f"Druid task {outcome.task_id} succeeded but {error}") from None
        # Loaded segments are not yet proof: the broker's view can lag (e.g. after a coordinator
        # restart). Queryable means the broker returns each file's rows.
        rows = self.wait_for_source_rows(
            plan.datasource,
            {f.source_key: f.validated_rows for f in plan.files},
            timeout_seconds=limits.segment_load_timeout_seconds,
        )
        queryable_seconds = time.monotonic() - submitted
        start = min(f.validated_interval[0] for f in plan.files)
        end = max(f.validated_interval[1] for f in plan.files)
        served = self.wait_for_segments_served(
            plan.datasource, start, end, limits.segment_load_timeout_seconds
        )
        # The broker refreshes its schema after segments load: a new column can lag behind rows.
        columns = self.wait_for_columns(
            plan.datasource, list(plan.specified_columns), limits.schema_wait_seconds
        )
        # Appends of many small files leave small segments; compaction merges them over time.
        self.ensure_auto_compaction(
            plan.datasource, plan.segment_granularity, limits.max_rows_per_segment
        )
        return IngestedTask(
            outcome=outcome,
            rows=rows,
            served=served,
            columns=columns,
            segments=self.segment_stats(plan.datasource),
            task_seconds=task_seconds,
            segment_load_seconds=load_seconds,
            queryable_seconds=queryable_seconds,
        )
