"""The ingestion plan carries what the file and its datasource say, field by field (the spec's
datasource, the file's key, the S3 region, the granularity, the validated interval)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest_pipeline.planning import choose_mode, plan_ingestion
from ingest_pipeline.records import DruidS3Access, SourceRows
from ingest_pipeline_tests.unit.records_factory import T0, T1, state, upload, validated

ACCESS = DruidS3Access(
    "http://s3.local:9000",
    "eu-west-3",
    {"type": "environment", "variable": "AWS_ACCESS_KEY_ID"},
    {"type": "environment", "variable": "AWS_SECRET_ACCESS_KEY"},
)


def test_a_new_file_s_plan_names_its_datasource_key_region_and_interval() -> None:
    file = validated(upload=upload(dataset="orders", name="jan.csv", etag="e9"))
    (plan,) = plan_ingestion([file], state(), "DAY", ACCESS).plans
    (planned,) = plan.files
    assert (plan.datasource, planned.source_key, planned.etag, planned.partition_key) == (
        "orders",
        "uploads/orders/jan.csv",
        "e9",
        "orders/jan.csv",
    )
    assert plan.segment_granularity == "DAY"
    assert planned.validated_interval == (T0, T1)
    assert planned.validated_rows == 3 and plan.validated_rows == 3
    schema = plan.spec["spec"]["dataSchema"]
    assert schema["dataSource"] == "orders"
    s3 = plan.spec["spec"]["ioConfig"]["inputSource"]
    assert s3["type"] == "s3" and s3["uris"] == ["s3://v/a.ndjson.gz"]
    assert s3["endpointConfig"] == {"url": "http://s3.local:9000", "signingRegion": "eu-west-3"}


def test_a_replace_reads_back_everything_but_this_file_s_old_rows() -> None:
    file = validated(upload=upload(dataset="orders", name="jan.csv"))
    previous = SourceRows(
        2, datetime(2024, 2, 3, 5, tzinfo=UTC), datetime(2024, 2, 3, 6, tzinfo=UTC)
    )
    known = state(previous=previous, columns={"qty": "BIGINT"}, key="uploads/orders/jan.csv")
    (plan,) = plan_ingestion([file], known, None, ACCESS).plans
    granularity = "YEAR"  # none configured, no segments yet: 3 rows fill no finer chunk
    assert plan.segment_granularity == granularity
    assert plan.spec["spec"]["dataSchema"]["granularitySpec"]["segmentGranularity"] == granularity
    druid_input = plan.spec["spec"]["ioConfig"]["inputSource"]["delegates"][0]
    assert druid_input["dataSource"] == "orders"
    assert druid_input["filter"] == {
        "type": "not",
        "field": {
            "type": "selector",
            "dimension": "__source_key",
            "value": "uploads/orders/jan.csv",
        },
    }


@pytest.mark.parametrize(
    "previous", [SourceRows(3, T0, None), SourceRows(3, None, T1), SourceRows(3, None, None)]
)
def test_earlier_rows_with_half_a_time_range_are_refused(previous: SourceRows) -> None:
    with pytest.raises(ValueError, match="3 earlier rows of the file but no time range"):
        choose_mode(validated(), state(previous=previous), "HOUR")
