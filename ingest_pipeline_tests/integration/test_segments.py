"""Segment sizing against the real stack: few well-filled segments, auto-compaction, and a
file whose time span would explode into time chunks refused before Druid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.verdict import Outcome, Stage
from ingest_pipeline_tests.integration.test_pipeline import materialize, unique_dataset, upload
from ingest_pipeline_tests.runs import assert_success, materializations, metadata_of, verdicts

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
    spec = metadata_of(result, "druid_spec", key)
    assert spec["segment_granularity"] == "YEAR"
    ingested = metadata_of(result, "druid_datasource", key)
    assert ingested["segments_in_datasource"] == 1
    assert ingested["median_rows_per_segment"] == hours
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
    settings = PipelineSettings(datasets_config_path=str(config))
    result = materialize(instance, key, pipeline_settings=settings)
    assert not result.success
    verdict = verdicts(instance, result.run_id)[key]
    assert (verdict.outcome, verdict.stage) == (Outcome.REJECTED, Stage.DRUID_SPEC)
    assert verdict.problem is not None  # before any Druid task, saying why and what to do
    assert "1900-01-01 to 2200-12-31" in verdict.problem.what
    assert "109,938 DAY time chunks" in verdict.problem.what
    assert "segment_granularity" in verdict.problem.fix
    assert not materializations(result, "druid_spec")
    assert not druid.has_segments(dataset)


def yearly_csv(rows: int, first_year: int, offset: int = 0) -> bytes:
    """`rows` rows spread over the years from `first_year`: one on 1 March of each year."""
    lines = ["when,symbol,price"]
    lines += [f"{first_year + i}-03-01,s{i % 3},{offset + i}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_small_files_over_many_years_are_one_segment_and_replace_only_their_own_rows(
    instance, druid, s3
) -> None:
    dataset = unique_dataset("yearly")
    first = upload(s3, dataset, "a.csv", yearly_csv(51, 1990))  # 51 rows over 51 years
    assert_success(result := materialize(instance, first))
    assert metadata_of(result, "druid_spec", first)["segment_granularity"] == "ALL"
    neighbour = upload(s3, dataset, "b.csv", yearly_csv(17, 2000, offset=1000))
    assert_success(materialize(instance, neighbour))  # the datasource's ALL, appended
    segments = druid.sql(
        "SELECT COUNT(*) AS n FROM sys.segments WHERE datasource = ? AND is_published = 1 "
        "AND is_overshadowed = 0",
        [dataset],
    )
    assert segments[0]["n"] <= 2  # not 51 + 17 YEAR segments of one row each

    # a.csv again with other content: its old rows go, b.csv's stay, row for row
    upload(s3, dataset, "a.csv", yearly_csv(5, 1995, offset=500))
    rerun = materialize(instance, first)
    assert_success(rerun)
    assert metadata_of(rerun, "druid_spec", first)["mode"].startswith("replace")
    by_file = druid.sql(
        f'SELECT "__source_key" AS k, COUNT(*) AS n, SUM(price) AS p FROM "{dataset}" '
        "GROUP BY 1 ORDER BY 1"
    )
    assert by_file == [
        {"k": f"uploads/{first}", "n": 5, "p": sum(range(500, 505))},
        {"k": f"uploads/{neighbour}", "n": 17, "p": sum(range(1000, 1017))},
    ]
    times = druid.sql(
        f'SELECT MIN(__time) AS t0, MAX(__time) AS t1 FROM "{dataset}" WHERE "__source_key" = ?',
        [f"uploads/{first}"],
    )
    assert times == [{"t0": "1995-03-01T00:00:00.000Z", "t1": "1999-03-01T00:00:00.000Z"}]
