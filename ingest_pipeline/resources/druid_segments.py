"""The load-status side of DruidResource: whether a datasource's segments are loaded and
served, and reads of the broker taken only while they are.

A mixin so druid.py stays about tasks. Why reads need a guard: a historical that stops or
pauses while the broker is read makes the broker answer from part of the segments (a file
seems to have no rows, a datasource seems smaller) or forget the table at once ("Object
... not found", seen in CI's soak with a historical killed between the wait and the read).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import quote

from ingest_pipeline.resources.druid_queries import DruidQueries
from ingest_pipeline.resources.druid_wire import (
    ALL_TIME,
    DruidRefused,
    DruidUnavailable,
    names_schema_lag,
)

Answer = TypeVar("Answer")


class DruidSegments(DruidQueries):
    """Load status over the broker queries; the resource supplies the coordinator's URL."""

    def coordinator_base_url(self) -> str:
        raise NotImplementedError

    def load_status(self, datasource: str, force_refresh: bool = False) -> float | None:
        """Percent of the datasource's used segments loaded; None when it has none."""
        url = (
            f"{self.coordinator_base_url()}/druid/coordinator/v1/datasources/"
            f"{quote(datasource, safe='')}/loadstatus"
        )
        # Druid 25 looks only at the last two weeks unless given an interval.
        params = {"forceMetadataRefresh": str(force_refresh).lower(), "interval": ALL_TIME}
        response = self.request("GET", url, params=params, ok_status=(200, 204))
        if response.status_code == 204:
            return None
        return float(response.json().get(datasource, 0.0))

    def wait_for_segments(self, datasource: str, timeout_seconds: float) -> float:
        """Wait until every used segment is loaded on a historical AND the broker serves it:
        the broker's view lags the coordinator's load status, and an answer computed from a
        partial view (e.g. "this file has no rows yet") is wrong."""
        started = time.monotonic()
        deadline = started + timeout_seconds
        force = True
        while time.monotonic() < deadline:
            loaded = self.load_status(datasource, force_refresh=force)
            force = False
            if loaded is not None and loaded >= 100.0 and self.broker_serves_everything(datasource):
                return time.monotonic() - started
            time.sleep(1.0)
        raise DruidUnavailable(
            f"segments of datasource '{datasource}' were not all loaded within "
            f"{timeout_seconds:.0f}s: are the historicals up and do they have free space?"
        )

    def broker_serves_everything(self, datasource: str) -> bool:
        # sys.segments can say "served" before the SQL planner's schema cache knows the
        # table ("Object not found"), so both must agree.
        return self.broker_serves_all(datasource) and self.broker_sees(datasource)

    def has_segments(self, datasource: str) -> bool:
        """Whether the datasource has used segments, from the coordinator's metadata (not the
        broker, which forgets a datasource whose historicals are down)."""
        return self.load_status(datasource, force_refresh=True) is not None

    def read_while_served(
        self, datasource: str, read: Callable[[], Answer], timeout_seconds: float
    ) -> Answer:
        """`read()`'s answer, kept only if every segment was served both before and after it;
        read again otherwise (see the module), DruidUnavailable after `timeout_seconds`."""
        deadline = time.monotonic() + timeout_seconds
        self.wait_for_segments(datasource, timeout_seconds)
        behind: str | None = None  # the broker's schema lacked the table or our column
        for reads in itertools.count(1):
            try:
                answer = read()
            except DruidRefused as error:
                if not names_schema_lag(error, datasource):
                    raise
                behind = error.reason
            else:
                if self.broker_serves_everything(datasource):
                    return answer
                behind = None
            time.sleep(1.0)
            try:
                self.wait_for_segments(datasource, max(deadline - time.monotonic(), 0.0))
            except DruidUnavailable:
                raise DruidUnavailable(
                    f"the broker lost segments of datasource '{datasource}' or its schema lagged "
                    f"(last: {behind or 'a segment went unserved during the read'}) each of the "
                    f"{reads} times it was read in {timeout_seconds:.0f}s: are the historicals up?"
                ) from None
        raise AssertionError("unreachable")
