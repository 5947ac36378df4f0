"""DruidResource: the only code that talks to Druid (tasks, SQL, segment load status).

Closes the gaps of Airflow's Druid hook: it fetches errorMsg, reports and the log tail on
failure, retries transient errors, kills a task that runs too long, and waits until the
segments are loaded before calling data queryable.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import dagster as dg
import httpx
from pydantic import Field, PrivateAttr

from ingest_pipeline.records import (
    DatasourceState,
    SegmentsServed,
    SegmentStats,
    SourceRows,
    TaskOutcome,
)
from ingest_pipeline.resources.druid_wire import (
    ALL_TIME,
    DruidError,
    DruidRefused,
    DruidTaskFailed,
    DruidUnavailable,
    extract_row_stats,
    is_transient,
    iso_millis,
    parse_druid_time,
    quote_identifier,
    report_error,
    root_cause,
    sql_parameter,
)

__all__ = ["DruidError", "DruidRefused", "DruidResource", "DruidTaskFailed", "DruidUnavailable"]


class DruidResource(dg.ConfigurableResource):
    """Druid's HTTP APIs. Every URL may be the router (it proxies the overlord and coordinator)."""

    router_url: str = Field(description="Druid router URL, e.g. http://127.0.0.1:8888")
    overlord_url: str | None = Field(default=None, description="defaults to the router")
    coordinator_url: str | None = Field(default=None, description="defaults to the router")
    broker_url: str | None = Field(default=None, description="defaults to the router")
    username: str | None = Field(default=None, description="basic auth user")
    password: str | None = Field(default=None, description="basic auth password")
    verify_tls: bool = True
    request_timeout_seconds: float = 30.0
    max_retries: int = Field(default=5, description="retries on connection errors, 429 and 5xx")
    retry_base_delay_seconds: float = 1.0

    _client: httpx.Client | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------ plumbing

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
                if response.status_code == 401 or response.status_code == 403:
                    raise DruidRefused(
                        f"Druid refused {method} {url} ({response.status_code}): check the "
                        "Druid username and password configured for the pipeline"
                    )
                if not is_transient(response):
                    raise DruidRefused(
                        f"Druid answered {response.status_code} to {method} {url}: "
                        f"{response.text[:2000]}"
                    )
                last_problem = f"HTTP {response.status_code}: {response.text[:500]}"
            if attempt < self.max_retries:
                delay = self.retry_base_delay_seconds * 2**attempt
                time.sleep(delay * random.uniform(0.8, 1.2))
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
        """Submit a task and wait for it; a failure raises DruidTaskFailed with Druid's reason."""
        task_id = self.submit_task(spec)
        outcome = self.wait_for_task(task_id, timeout_seconds)
        if not outcome.succeeded:
            raise DruidTaskFailed(
                f"Druid task {task_id} FAILED: {outcome.error_message}"
                + (f" | root cause: {outcome.root_cause}" if outcome.root_cause else ""),
                outcome,
            )
        return outcome

    def wait_for_task(
        self, task_id: str, timeout_seconds: float, poll_seconds: float = 1.0
    ) -> TaskOutcome:
        """Poll until the task ends; past the timeout shut it down and say so."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            status = self.task_status(task_id)
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

    def load_status(self, datasource: str, force_refresh: bool = False) -> float | None:
        """Percent of the datasource's used segments loaded; None when it has none."""
        url = (
            f"{self._url(self.coordinator_url)}/druid/coordinator/v1/datasources/"
            f"{quote(datasource, safe='')}/loadstatus"
        )
        # Druid 25 looks only at the last two weeks unless given an interval.
        params = {"forceMetadataRefresh": str(force_refresh).lower(), "interval": ALL_TIME}
        response = self.request("GET", url, params=params, ok_status=(200, 204))
        if response.status_code == 204:
            return None
        return float(response.json().get(datasource, 0.0))

    def wait_for_segments(self, datasource: str, timeout_seconds: float) -> float:
        """Wait until every used segment is loaded on a historical AND the broker serves it.

        The coordinator's load status alone is not enough: the broker's view lags, and an
        answer computed from a partial view (e.g. "this file has no rows yet") is wrong.
        """
        started = time.monotonic()
        deadline = started + timeout_seconds
        force = True
        while time.monotonic() < deadline:
            loaded = self.load_status(datasource, force_refresh=force)
            force = False
            # sys.segments can say "served" before the SQL planner's schema cache knows the
            # table ("Object not found"), so both must agree.
            if (
                loaded is not None
                and loaded >= 100.0
                and self.broker_serves_all(datasource)
                and self.broker_sees(datasource)
            ):
                return time.monotonic() - started
            time.sleep(1.0)
        raise DruidUnavailable(
            f"segments of datasource '{datasource}' were not all loaded within "
            f"{timeout_seconds:.0f}s: are the historicals up and do they have free space?"
        )

    def broker_serves_all(self, datasource: str) -> bool:
        """Every live segment of the datasource is available to queries, as the broker sees it."""
        row = self.sql(
            "SELECT COUNT(*) AS live, COUNT(*) FILTER (WHERE is_available = 1) AS available "
            "FROM sys.segments WHERE datasource = ? AND is_published = 1 "
            "AND is_overshadowed = 0",
            [datasource],
        )[0]
        return bool(row["live"]) and row["live"] == row["available"]

    def has_segments(self, datasource: str) -> bool:
        """Whether the datasource has used segments, from the coordinator's metadata (not the
        broker, which forgets a datasource whose historicals are down)."""
        return self.load_status(datasource, force_refresh=True) is not None

    def broker_sees(self, datasource: str) -> bool:
        rows = self.sql(
            "SELECT COUNT(*) AS n FROM INFORMATION_SCHEMA.TABLES "
            "WHERE TABLE_SCHEMA = 'druid' AND TABLE_NAME = ?",
            [datasource],
        )
        return bool(rows and rows[0]["n"] > 0)

    def sql(
        self,
        query: str,
        parameters: Sequence[object] = (),
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        url = f"{self._url(self.broker_url)}/druid/v2/sql"
        body = {
            "query": query,
            "parameters": [sql_parameter(p) for p in parameters],
            "resultFormat": "object",
            "context": dict(context or {}),
        }
        return list(self.request("POST", url, json=body, ok_status=(200,)).json())

    def source_rows(self, datasource: str, source_key: str) -> SourceRows:
        """How many rows of one uploaded file the datasource holds, and their span."""
        row = self.sql(
            f"SELECT COUNT(*) AS n, MIN(__time) AS t0, MAX(__time) AS t1 "
            f'FROM {quote_identifier(datasource)} WHERE "__source_key" = ?',
            [source_key],
        )[0]
        count = int(row["n"])
        if not count:
            return SourceRows(0, None, None)
        return SourceRows(count, parse_druid_time(row["t0"]), parse_druid_time(row["t1"]))

    def datasource_summary(self, datasource: str) -> dict[str, Any] | None:
        """{rows, t0, t1, source_files, segments} of a datasource; None if the broker has no
        such table (never ingested, or every segment dropped)."""
        if not self.broker_sees(datasource):
            return None
        summary = self.sql(
            'SELECT COUNT(*) AS "rows", MIN(__time) AS t0, MAX(__time) AS t1, '
            f'COUNT(DISTINCT "__source_key") AS source_files FROM {quote_identifier(datasource)}',
            context={"useApproximateCountDistinct": False},
        )[0]
        segments = self.sql(
            "SELECT COUNT(*) AS n FROM sys.segments WHERE datasource = ? AND is_published = 1 "
            "AND is_overshadowed = 0",
            [datasource],
        )[0]["n"]
        return {**summary, "segments": int(segments)}

    def wait_for_source_rows(
        self, datasource: str, source_key: str, expected: int, timeout_seconds: float
    ) -> SourceRows:
        """Poll until the broker returns `expected` rows of the file; the last answer if not."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            rows = self.source_rows(datasource, source_key)
            if rows.count == expected or time.monotonic() > deadline:
                return rows
            time.sleep(1.0)

    def segment_interval(self, datasource: str) -> tuple[datetime, datetime] | None:
        """(start, end) of one live segment of the datasource, or None if it has none."""
        rows = self.sql(
            'SELECT "start", "end" FROM sys.segments WHERE datasource = ? '
            "AND is_published = 1 AND is_overshadowed = 0 LIMIT 1",
            [datasource],
        )
        if not rows:
            return None
        return parse_druid_time(rows[0]["start"]), parse_druid_time(rows[0]["end"])

    def wait_for_segments_served(
        self, datasource: str, start: datetime, end: datetime, timeout_seconds: float
    ) -> SegmentsServed:
        """Poll `segments_served` until every live segment over [start, end] is queryable; the
        last answer if not. A neighbour's append can publish a segment in the same time chunk a
        moment before the historical loads it: that is a wait, not a failure."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            served = self.segments_served(datasource, start, end)
            if served.all_available or time.monotonic() > deadline:
                return served
            time.sleep(1.0)

    def segments_served(self, datasource: str, start: datetime, end: datetime) -> SegmentsServed:
        """Live segments overlapping [start, end] and how many of them queries can reach now."""
        row = self.sql(
            "SELECT COUNT(*) AS live, COUNT(*) FILTER (WHERE is_available = 1) AS available "
            "FROM sys.segments WHERE datasource = ? AND is_published = 1 "
            'AND is_overshadowed = 0 AND "start" <= ? AND "end" > ?',
            [datasource, iso_millis(end), iso_millis(start)],
        )[0]
        return SegmentsServed(published=int(row["live"]), available=int(row["available"]))

    def segment_stats(self, datasource: str) -> SegmentStats:
        """How many live segments the datasource has and how full they are (rows each)."""
        rows = self.sql(
            "SELECT num_rows FROM sys.segments WHERE datasource = ? "
            "AND is_published = 1 AND is_overshadowed = 0 LIMIT 100000",
            [datasource],
        )
        counts = sorted(int(row["num_rows"] or 0) for row in rows)
        median = statistics.median(counts) if counts else 0
        return SegmentStats(count=len(counts), median_rows=int(median))

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
        self, datasource: str, source_key: str, timeout_seconds: float
    ) -> DatasourceState:
        """What the ingestion planner needs: columns, granularity, this file's earlier rows.

        Whether the file has rows already decides append vs replace, so the answer is taken
        only once every segment is served: a historical that is down would otherwise turn a
        re-run into a duplicate (DruidUnavailable instead).
        """
        if not self.has_segments(datasource):
            return DatasourceState.empty()
        self.wait_for_segments(datasource, timeout_seconds)
        return DatasourceState(
            exists=True,
            columns=self.datasource_columns(datasource),
            segment_interval=self.segment_interval(datasource),
            previous=self.source_rows(datasource, source_key),
        )

    def datasource_columns(self, datasource: str) -> dict[str, str]:
        rows = self.sql(
            "SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS "
            "WHERE TABLE_SCHEMA = 'druid' AND TABLE_NAME = ?",
            [datasource],
        )
        return {row["COLUMN_NAME"]: row["DATA_TYPE"] for row in rows}

    def wait_for_columns(
        self, datasource: str, names: Sequence[str], timeout_seconds: float
    ) -> dict[str, str]:
        """The datasource's columns once the broker's schema has all of `names` (it refreshes
        its schema after segments load, so a just-ingested column can lag); the last answer."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            columns = self.datasource_columns(datasource)
            if set(names) <= set(columns) or time.monotonic() > deadline:
                return columns
            time.sleep(1.0)
