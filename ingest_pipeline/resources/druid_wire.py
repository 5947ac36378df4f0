"""Druid's wire format, without I/O: errors, SQL parameters and identifiers, timestamps, and
what task reports and logs say (pure functions, unit-tested without a server)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import httpx

from ingest_pipeline.records import TaskOutcome
from ingest_pipeline.vocabulary import SOURCE_KEY_COLUMN

#: Statuses worth retrying: queue full, and the server side being briefly unavailable.
RETRYABLE_STATUS = {429, 500, 502, 503, 504}
ALL_TIME = "1000-01-01/3000-01-01"


#: The router's answer while the overlord or coordinator behind it is down (a 400, not a 503).
ROUTER_NO_DESTINATION = "Unable to determine destination"


#: A coordinator or overlord that is not the leader answers 307 with the leader's address;
#: while a leader is being elected (seen after ZooKeeper or the overlord restarted under a
#: soak) it names itself. Druid's clients follow it; an answer naming this server is retried.
LEADER_REDIRECT = frozenset({307, 308})


def retry_delay(attempt: int, base_seconds: float, max_seconds: float) -> float:
    """Seconds before retry `attempt` (0-based): doubling from `base_seconds`, at most
    `max_seconds`. With 1 s and 30 s, 7 retries wait 1+2+4+8+16+30+30 = 91 s: a restarted
    coordinator-overlord is back and leader within that (up to 33 s in the soak, where 5
    retries, 31 s, failed files a few seconds short)."""
    return float(min(base_seconds * 2**attempt, max_seconds))


def leader_url(response: httpx.Response, url: str) -> str | None:
    """Where a redirect from a non-leader sends `url` (its path and query kept), or None when
    there is no other server to ask (no Location, or this one: an election under way)."""
    location = response.headers.get("location")
    if response.status_code not in LEADER_REDIRECT or not location:
        return None
    asked, leader = httpx.URL(url), httpx.URL(location)
    if (leader.scheme, leader.host, leader.port) == (asked.scheme, asked.host, asked.port):
        return None
    return str(asked.copy_with(scheme=leader.scheme, host=leader.host, port=leader.port))


def is_transient(response: httpx.Response) -> bool:
    if response.status_code in RETRYABLE_STATUS or response.status_code in LEADER_REDIRECT:
        return True
    return response.status_code == 400 and ROUTER_NO_DESTINATION in response.text


class DruidError(RuntimeError):
    """Anything Druid did not do for us (pydruid-style root of the hierarchy)."""


class DruidUnavailable(DruidError):
    """Druid did not answer within the retry budget, or its segments are not served: retry later."""


class DruidRefused(DruidError):
    """Druid answered and said no (a bad spec, bad SQL, bad credentials): retrying won't help.
    `status_code` and `reason` (Druid's own error text) when it answered with an HTTP error."""

    def __init__(
        self, message: str, status_code: int | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason


class SchemaBehind(DruidRefused):
    """The broker's schema of a datasource the pipeline wrote does not list the column every
    row of ours carries: it has read the metadata of only some segments (read again)."""


def refusal(response: httpx.Response, method: str, url: str) -> DruidRefused:
    """A non-retryable answer as the error a person reads (bad credentials said so)."""
    if response.status_code in (401, 403):
        return DruidRefused(
            f"Druid refused {method} {url} ({response.status_code}): check the Druid username "
            "and password configured for the pipeline",
            response.status_code,
        )
    return DruidRefused(
        f"Druid answered {response.status_code} to {method} {url}: {response.text[:2000]}",
        response.status_code,
        error_reason(response.text),
    )


def names_schema_lag(error: DruidRefused, datasource: str) -> bool:
    """Whether the broker's SQL planner refused a query for a table or column its schema cache
    does not hold yet: the datasource's table (Druid 25: "Object '<name>' not found") or the
    column every row of the pipeline carries ("Column '__source_key' not found in any table").

    The column case is CI's soak at d41c78b: a historical came back, the broker served every
    segment and knew the table, but had read the metadata of only some segments (a tombstone
    left by an overwrite has no columns), and two files got `failed` with nothing submitted.
    Any other unknown column is a real error. `SchemaBehind` is the pipeline's own finding of
    the same state in the column list."""
    if isinstance(error, SchemaBehind):
        return True
    reason = error.reason or ""
    return (
        f"Object '{datasource}' not found" in reason
        or f"Column '{SOURCE_KEY_COLUMN}' not found" in reason
    )


JAVA_EXCEPTION_PREFIX = re.compile(r"^(?:[a-z_]\w*\.)+\w*(?:Exception|Error): ")


def error_reason(body: str, limit: int = 500) -> str:
    """Druid's error answer in a line: '<error>: <errorMessage>' from its JSON (a query's
    {"error": "Plan validation failed", "errorMessage": "...", "errorClass": ...}), else the
    start of the body."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and (answer.get("error") or answer.get("errorMessage")):
        parts = [str(answer[k]) for k in ("error", "errorMessage") if answer.get(k)]
        # "org.apache.calcite.runtime.CalciteContextException: From line 1, ..." says no more
        # to a person than its text
        text = ": ".join(JAVA_EXCEPTION_PREFIX.sub("", part) for part in parts)
    else:
        text = body
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class DruidTaskFailed(DruidError):
    """The task ran and failed, or ran too long and was shut down; `outcome` says why."""

    def __init__(self, message: str, outcome: TaskOutcome | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome


def sql_parameter(value: object) -> dict[str, Any]:
    """A typed Druid SQL parameter: the only way values reach a query (never interpolation)."""
    if isinstance(value, bool):
        return {"type": "BOOLEAN", "value": value}
    if isinstance(value, int):
        return {"type": "BIGINT", "value": value}
    if isinstance(value, float):
        return {"type": "DOUBLE", "value": value}
    return {"type": "VARCHAR", "value": str(value)}


def quote_identifier(name: str) -> str:
    """Druid SQL identifier quoting: a datasource or column name from a file cannot break out."""
    return '"' + name.replace('"', '""') + '"'


#: The bounds of an ALL-granularity segment in sys.segments (Druid's "eternity").
ETERNITY_START = "-146136543-09-08T08:23:32.096Z"
ETERNITY_END = "146140482-04-24T15:36:27.903Z"


def parse_druid_time(text: str) -> datetime:
    """A timestamp as Druid's SQL answers it (ISO 8601, UTC, ending in Z)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_segment_bound(text: str) -> datetime:
    """A sys.segments start or end; eternity's (an ALL segment) as the earliest or latest
    datetime Python has, so its span reads as ALL."""
    if text == ETERNITY_START:
        return datetime.min.replace(tzinfo=UTC)
    if text == ETERNITY_END:
        return datetime.max.replace(tzinfo=UTC)
    return parse_druid_time(text)


def iso_millis(ts: datetime) -> str:
    """An ISO timestamp Druid SQL compares with sys.segments' start/end strings."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def extract_row_stats(reports: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    """Row counts and saved parse exceptions from a native batch task's report."""
    payload = (reports.get("ingestionStatsAndErrors") or {}).get("payload") or {}
    stats = payload.get("rowStats") or {}
    totals = stats.get("buildSegments") or stats.get("totals", {}).get("buildSegments") or {}
    errors = payload.get("unparseableEvents") or {}
    parse_exceptions = [e for events in errors.values() for e in (events or [])]
    return dict(totals), parse_exceptions


def report_error(reports: Mapping[str, Any]) -> str | None:
    payload = (reports.get("ingestionStatsAndErrors") or {}).get("payload") or {}
    return payload.get("errorMsg")


#: Lines a dying JVM prints: the real cause when the status says only "exited ... code[3]".
FATAL_JVM_MARKERS = ("java.lang.OutOfMemoryError", "java.lang.StackOverflowError")


def root_cause(log_text: str) -> str:
    """Why a task failed, from its log: a fatal JVM error if any (an out-of-memory worker logs
    no stack trace worth reading), else the innermost "Caused by:" of the last stack trace."""
    lines = log_text.splitlines()
    for line in reversed(lines):
        if any(marker in line for marker in FATAL_JVM_MARKERS):
            return line.strip()[:500]
    causes = [line for line in lines if line.startswith("Caused by:")]
    return causes[-1].removeprefix("Caused by:").strip()[:500] if causes else ""


#: Druid's words for a task whose worker died under it (a middleManager or peon killed, a
#: machine lost): not a problem of the data, so the same task may run again.
LOST_TASK_SIGNS = (
    "disappeared on the worker",  # the worker died while the task ran
    "did not start it in timeout",  # assigned to a worker that died before starting it
    "exited unsuccessfully with code[137]",  # the peon was SIGKILLed
    # the S3 store went away under the task (seen in the soak: SIGKILLed and back in seconds,
    # three files failed for good); a misconfigured endpoint fails the same after 3 runs
    "SdkClientException: Unable to execute HTTP request: Connect to",
)


def is_lost_task(outcome: TaskOutcome) -> bool:
    """Whether a failed task failed because its worker, or the S3 store it reads and writes,
    went away (see LOST_TASK_SIGNS)."""
    said = f"{outcome.error_message or ''} {outcome.root_cause or ''}"
    return not outcome.succeeded and any(sign in said for sign in LOST_TASK_SIGNS)


class AfterLostTask(Enum):
    """What follows a failed task: run it again (its worker died, nothing of it landed), take
    it as done (it published every file's rows before its worker died), or fail."""

    RUN_AGAIN = "run again"
    LANDED = "landed"
    FAILED = "failed"


def landed_outcome(lost: TaskOutcome) -> TaskOutcome:
    note = (
        f"{lost.error_message} But it had published: every file's rows are in Druid, "
        "counted by SQL, so it was not run again."
    )
    return replace(lost, status="SUCCESS", error_message=note)
