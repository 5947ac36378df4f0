"""The retraction side of DruidResource: a deleted file's rows out of its datasource.

A mixin so druid.py stays about tasks. The task is the planner's (a replace
with no file, planning.plan_retraction). One case is not a task: when every row of the
datasource is the file's, its segments are marked unused instead (one coordinator call). A
replace would leave a datasource of tombstones only, which the planner could not tell from a
datasource whose historicals are down (no table at the broker), refusing the next upload.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from ingest_pipeline.records import (
    NO_ROWS,
    IngestionPlan,
    IngestLimits,
    Replace,
    RetractedTask,
    TaskOutcome,
)
from ingest_pipeline.resources.druid_segments import DruidSegments
from ingest_pipeline.resources.druid_wire import quote_identifier

#: The outcome recorded when a datasource was emptied by marking its segments unused.
MARKED_UNUSED = "segments marked unused"


class DruidRetraction(DruidSegments):
    """`retract` over the broker queries and load status; the resource supplies tasks and the
    coordinator's URL."""

    def run_plan_task(self, plan: IngestionPlan, limits: IngestLimits) -> TaskOutcome:
        raise NotImplementedError

    def retract(self, plan: IngestionPlan, source_key: str, limits: IngestLimits) -> RetractedTask:
        """Run the retraction (or empty the datasource, see the module) and wait until the
        broker returns none of the file's rows."""
        started = time.monotonic()
        timeout = limits.segment_load_timeout_seconds
        # A count from part of the segments would empty a datasource that has other files.
        if (
            isinstance(plan.mode, Replace)
            and self.read_while_served(
                plan.datasource, lambda: self.total_rows(plan.datasource), timeout
            )
            <= plan.mode.previous_rows
        ):
            self.mark_all_unused(plan.datasource)
            outcome = TaskOutcome(MARKED_UNUSED, "SUCCESS", None, {})
        else:
            outcome = self.run_plan_task(plan, limits)
        seconds = time.monotonic() - started
        if not self.has_segments(plan.datasource):  # nothing left in it
            return RetractedTask(outcome, NO_ROWS, seconds)
        self.wait_for_segments(plan.datasource, timeout)
        left = self.wait_for_source_rows(plan.datasource, {source_key: 0}, timeout)
        return RetractedTask(outcome, left[source_key], seconds)

    def total_rows(self, datasource: str) -> int:
        rows = self.sql(f"SELECT COUNT(*) AS n FROM {quote_identifier(datasource)}")
        return int(rows[0]["n"]) if rows else 0

    def mark_all_unused(self, datasource: str) -> None:
        """Every segment of the datasource unused (the coordinator drops them from the
        historicals; nothing is deleted from deep storage)."""
        url = (
            f"{self.coordinator_base_url()}/druid/coordinator/v1/datasources/"
            f"{quote(datasource, safe='')}"
        )
        self.request("DELETE", url, ok_status=(200, 202, 204))
