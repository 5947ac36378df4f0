"""DruidService: what the pipeline needs of Druid, as an abstract resource.

DruidResource (druid.py, Druid's HTTP APIs) is the one implementation in production; the unit
tests run the assets against an in-memory one (ingest_pipeline_tests/fakes.py). Errors are the
DruidError hierarchy of druid_wire.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import dagster as dg

from ingest_pipeline.records import (
    DatasourceState,
    IngestedTask,
    IngestionPlan,
    IngestLimits,
    RetractedTask,
)


class DruidService(dg.ConfigurableResource, ABC):
    @abstractmethod
    def datasource_state(
        self, datasource: str, source_keys: Sequence[str], timeout_seconds: float
    ) -> DatasourceState:
        """Columns, granularity and these files' earlier rows, once every segment is served
        (DruidUnavailable otherwise: a partial view would turn a re-run into a duplicate)."""

    @abstractmethod
    def known_columns(self, datasource: str) -> dict[str, str]:
        """The datasource's columns (name -> SQL type) as the broker knows them; {} if none."""

    @abstractmethod
    def ingest(self, plan: IngestionPlan, limits: IngestLimits) -> IngestedTask:
        """Run the plan's task (or follow the task of that id a retried run submitted), wait
        until its files' rows are queryable, and report what Druid holds. DruidTaskFailed
        (with Druid's reason) or DruidUnavailable (segments never served) otherwise."""

    @abstractmethod
    def retract(self, plan: IngestionPlan, source_key: str, limits: IngestLimits) -> RetractedTask:
        """Run a retraction task (a replace with no file: planning.plan_retraction) and wait
        until the broker returns none of `source_key`'s rows (rows_left: what it still
        returns at the timeout). DruidTaskFailed or DruidUnavailable as `ingest`."""
