"""Knobs a deployment sets, as resources: PipelineSettings (timeouts, per-dataset settings) and
SensorSettings (how much one run may take). Their environment variables: environment.py."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from ingest_pipeline.datasets import DatasetConfig, load_dataset_configs
from ingest_pipeline.records import IngestLimits


class PipelineSettings(dg.ConfigurableResource):
    datasets_config_path: str | None = Field(
        default=None,
        description="YAML file: dataset -> time_column, time_format, dimensions, "
        "segment_granularity, max_rejected_share, null_ratio_warn",
    )
    # whole seconds: Dagster takes a number from the environment only as an int (EnvVar.int)
    ingestion_timeout_seconds: int = Field(
        default=900, description="Druid task run time after which it is shut down"
    )
    segment_load_timeout_seconds: int = Field(
        default=300, description="wait for the new segments to be loaded and queryable"
    )
    max_rows_per_segment: int = Field(
        default=5_000_000, description="auto-compaction target (Druid's guidance: ~5 million)"
    )
    schema_wait_seconds: float = Field(
        default=60.0, description="wait for the broker's schema to show a file's new columns"
    )

    def ingest_limits(self) -> IngestLimits:
        return IngestLimits(
            task_timeout_seconds=self.ingestion_timeout_seconds,
            segment_load_timeout_seconds=self.segment_load_timeout_seconds,
            schema_wait_seconds=self.schema_wait_seconds,
            max_rows_per_segment=self.max_rows_per_segment,
        )

    def dataset_config(self, dataset: str) -> DatasetConfig:
        if not self.datasets_config_path:
            return DatasetConfig()
        path = Path(self.datasets_config_path)
        if not path.exists():
            raise FileNotFoundError(
                f"datasets config {path} does not exist: fix INGEST_DATASETS_CONFIG"
            )
        return load_dataset_configs(path).get(dataset, DatasetConfig())


class SensorSettings(dg.ConfigurableResource):
    """How much one run of upload_sensor may take: new files of one dataset are batched up to
    these (a single file is a run at once)."""

    batch_max_files: int = Field(default=200, description="files in one run, at most")
    batch_max_bytes: int = Field(default=2 * 1024**3, description="bytes in one run, at most")
