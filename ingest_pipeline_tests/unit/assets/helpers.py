"""Running the real ingest graph in-process against the in-memory store and Druid."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources.records_io import RecordsIOManager
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.verdict import FileVerdict
from ingest_pipeline_tests.fakes import FakeDruid, InMemoryObjectStore
from ingest_pipeline_tests.runs import ASSETS, materialize, verdicts

__all__ = ["ASSETS", "World", "csv", "new_world"]


@dataclass
class World:
    """An instance with the fakes behind it: what a test uploads, runs and then reads."""

    instance: dg.DagsterInstance
    store: InMemoryObjectStore
    druid: FakeDruid
    settings: PipelineSettings = field(default_factory=PipelineSettings)

    def upload(self, partition: str, body: bytes) -> str:
        if partition not in self.instance.get_dynamic_partitions(upload_partitions.name):
            self.instance.add_dynamic_partitions(upload_partitions.name, [partition])
        return self.store.put_upload(partition, body)

    def resources(self) -> dict[str, object]:
        return {
            "s3": self.store,
            "druid": self.druid,
            "records_io": RecordsIOManager(store=self.store),
            "pipeline_settings": self.settings,
        }

    def run(
        self,
        partitions: Sequence[str],
        selection: Sequence[str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> dg.ExecuteInProcessResult:
        """One run over `partitions` (in the order they were added: a contiguous range)."""
        return materialize(self.instance, partitions, self.resources(), selection, tags)

    def statuses(self, asset: str) -> tuple[set[str], set[str]]:
        """(materialized, failed) partitions of `asset` as the UI shows them: a failed
        partition is never counted as materialized (dagster-graphql subtracts it too)."""
        value = get_and_update_asset_status_cache_value(
            self.instance, dg.AssetKey(asset), upload_partitions
        )
        if value is None:
            return set(), set()
        done = set(
            value.deserialize_materialized_partition_subsets(upload_partitions).get_partition_keys()
        )
        failed = set(
            value.deserialize_failed_partition_subsets(upload_partitions).get_partition_keys()
        )
        return done - failed, failed

    def verdicts(self, run_id: str) -> dict[str, FileVerdict]:
        return verdicts(self.instance, run_id)


def new_world(**druid_options: object) -> World:
    store = InMemoryObjectStore()
    return World(dg.DagsterInstance.ephemeral(), store, FakeDruid(store=store, **druid_options))


def csv(rows: int, offset: int = 0, day: str = "2024-07-01") -> bytes:
    lines = ["ts,team,points"]
    lines += [
        f"{day}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z,t{i % 4},{i + offset}" for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


class SkippingClock:
    """A clock whose sleep skips ahead instead of sleeping: the one Dagster's step-retry wait
    reads (STEP_RETRIES' first wait is 5 s, the longest single cost of the fast suite), and the
    Druid resource's polling waits."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def time(self) -> float:
        return time.time() + self.skipped

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.skipped += seconds
