"""Segment sizing against the real stack: few well-filled segments, auto-compaction, and a
file whose time span would explode into time chunks refused before Druid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from ingest_pipeline.resources import build_resources
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline_tests.integration.test_pipeline import (
    ASSETS,
    assert_success,
    materialize,
    unique_dataset,
    upload,
)

pytestmark = pytest.mark.integration


def test_a_year_of_hourly_rows_lands_in_one_segment_with_auto_compaction(
    instance, druid, s3
) -> None:
    dataset = unique_dataset("hourly")
    start = datetime(2023, 1, 1, tzinfo=UTC)
    hours = 365 * 24
    body = "observed_at,temp_c\n" + "".join(
        f"{(start + timedelta(hours=h)).isoformat().replace('+00:00', 'Z')},{h % 40 - 10}\n"
        for h in range(hours)
    )
    key = upload(s3, dataset, "weather.csv", body.encode())
    result = materialize(instance, key)
    assert_success(result)

    stats = druid.segment_stats(dataset)
    # One YEAR chunk instead of 365 DAY segments of 24 rows.
    assert (stats.count, stats.median_rows) == (1, hours)
    spec = result.asset_materializations_for_node("druid_spec")[0].metadata
    assert spec["segment_granularity"].value == "YEAR"
    ingested = result.asset_materializations_for_node("druid_datasource")[0].metadata
    assert ingested["segments_in_datasource"].value == 1
    assert ingested["median_rows_per_segment"].value == hours
    assert druid.sql(f'SELECT COUNT(*) AS n FROM "{dataset}"') == [{"n": hours}]

    compaction = druid.auto_compaction(dataset)
    assert compaction is not None
    assert compaction["granularitySpec"]["segmentGranularity"] == "YEAR"
    assert compaction["tuningConfig"]["partitionsSpec"]["maxRowsPerSegment"] == 5_000_000


def test_a_span_of_centuries_at_day_granularity_is_refused_before_druid(
    instance, druid, s3, tmp_path
) -> None:
    dataset = unique_dataset("centuries")
    config = tmp_path / "datasets.yaml"
    config.write_text(f"{dataset}:\n  segment_granularity: DAY\n")
    key = upload(s3, dataset, "far.csv", b"ts,v\n1900-01-01,1\n2200-12-31,2\n")
    instance.add_dynamic_partitions("uploads", [key])
    resources = {
        **build_resources(dg.EnvVar),
        "pipeline_settings": PipelineSettings(datasets_config_path=str(config)),
    }
    result = dg.materialize(
        ASSETS, partition_key=key, instance=instance, resources=resources, raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "druid_spec"  # before any Druid task
    message = failure.event_specific_data.error.message  # type: ignore[union-attr]
    assert "not submitted to Druid" in message and "1900-01-01 to 2200-12-31" in message
    assert "109,938 DAY time chunks" in message and "segment_granularity" in message
    assert not druid.has_segments(dataset)
