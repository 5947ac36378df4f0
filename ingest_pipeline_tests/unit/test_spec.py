"""Druid index_parallel specs: S3 settings, typed dimensions, safe re-runs, redaction."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest_pipeline.records import Append, Replace
from ingest_pipeline.spec import (
    ETERNITY,
    build_index_spec,
    choose_segment_granularity,
    count_time_chunks,
    granularity_of_interval,
    interval_cover,
    interval_span,
    merge_dimensions,
    merge_intervals,
    redact_spec,
    s3_uri,
)

KEY = "uploads/sales/2024 Q1.csv"
URI = "s3://validated/sales/2024%20Q1.json.gz"
T0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
T1 = datetime(2024, 3, 1, 18, tzinfo=UTC)


def _spec(replace_intervals: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    """A spec for the test file: appended, or replacing over `replace_intervals`."""
    granularity = overrides.pop("segment_granularity", "HOUR")
    arguments: dict[str, Any] = {
        "endpoint_url": "http://s3.local:9000",
        "region": "us-east-1",
        "access_key_id": "AKIDEXAMPLE",
        "secret_access_key": "s3cr3t",
        "time_min": T0,
        "time_max": T1,
        "segment_granularity": granularity,
        "mode": Replace(tuple(replace_intervals), previous_rows=1, source_key=KEY)
        if replace_intervals
        else Append(tuple(interval_cover(T0, T1, granularity.upper()))),
    }
    arguments.update(overrides)
    return build_index_spec(
        "sales", [("region", "string"), ("qty", "long"), ("price", "double")], [URI], **arguments
    )


def test_first_ingestion_appends_with_a_complete_s3_source() -> None:
    spec = _spec()
    assert spec["type"] == "index_parallel"
    schema = spec["spec"]["dataSchema"]
    assert schema["dataSource"] == "sales"
    assert schema["timestampSpec"] == {"column": "__time", "format": "iso"}
    assert schema["dimensionsSpec"]["dimensions"] == [
        {"type": "string", "name": "region"},
        {"type": "long", "name": "qty"},
        {"type": "double", "name": "price"},
        {"type": "string", "name": "__source_key"},
    ]
    assert schema["granularitySpec"] == {
        "type": "uniform",
        "segmentGranularity": "HOUR",
        "queryGranularity": "none",
        "rollup": False,
        # explicit, so the overlord locks the hours before the task starts (and waits for them)
        "intervals": ["2024-03-01T10:00:00.000Z/2024-03-01T19:00:00.000Z"],
    }
    io_config = spec["spec"]["ioConfig"]
    assert io_config["inputFormat"] == {"type": "json"}
    assert io_config["appendToExisting"] is True and io_config["dropExisting"] is False
    assert io_config["inputSource"] == {
        "type": "s3",
        "uris": [URI],
        "endpointConfig": {"url": "http://s3.local:9000", "signingRegion": "us-east-1"},
        "clientConfig": {
            "protocol": "http",
            "enablePathStyleAccess": True,
            "disableChunkedEncoding": True,
        },
        "properties": {  # without these Druid ignores endpointConfig and clientConfig
            "accessKeyId": {"type": "default", "password": "AKIDEXAMPLE"},
            "secretAccessKey": {"type": "default", "password": "s3cr3t"},
        },
    }
    tuning = spec["spec"]["tuningConfig"]
    assert tuning["partitionsSpec"] == {"type": "dynamic"}
    assert tuning["maxNumConcurrentSubTasks"] == 1
    assert (tuning["maxParseExceptions"], tuning["logParseExceptions"]) == (0, True)
    assert tuning["maxSavedParseExceptions"] == 20
    json.dumps(spec)  # the task is posted as JSON


def test_rerun_replaces_only_this_files_rows() -> None:
    old = interval_cover(
        datetime(2024, 2, 28, 23, 30, tzinfo=UTC), datetime(2024, 2, 29, 1, tzinfo=UTC), "HOUR"
    )
    new = interval_cover(T0, T1, "HOUR")
    spec = _spec(replace_intervals=old + new)
    intervals = [
        "2024-02-28T23:00:00.000Z/2024-02-29T02:00:00.000Z",
        "2024-03-01T10:00:00.000Z/2024-03-01T19:00:00.000Z",
    ]
    assert spec["spec"]["dataSchema"]["granularitySpec"]["intervals"] == intervals
    io_config = spec["spec"]["ioConfig"]
    assert io_config["appendToExisting"] is False and io_config["dropExisting"] is True
    source = io_config["inputSource"]
    assert source["type"] == "combining"
    *druid, s3 = source["delegates"]
    assert s3["type"] == "s3" and s3["uris"] == [URI]
    assert druid == [
        {
            "type": "druid",
            "dataSource": "sales",
            "interval": interval,
            "filter": {
                "type": "not",
                "field": {"type": "selector", "dimension": "__source_key", "value": KEY},
            },
        }
        for interval in intervals
    ]


def test_append_intervals_must_cover_the_new_data() -> None:
    with pytest.raises(ValueError, match="do not cover"):
        _spec(mode=Append(("2024-03-01T10:00:00.000Z/2024-03-01T11:00:00.000Z",)))


def test_unaligned_replace_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="not aligned to DAY"):
        _spec(
            segment_granularity="day",
            replace_intervals=["2024-03-01T10:00:00Z/2024-03-02T00:00:00Z"],
        )


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_an_interval_whose_end_is_unaligned_is_refused(mode: str) -> None:
    # the start is a day's, the end is not: Druid would widen it over rows it never reads back
    interval = "2024-03-01T00:00:00.000Z/2024-03-02T10:00:00.000Z"
    message = f"interval {interval} is not aligned to DAY segments"
    arguments: dict[str, Any] = {"segment_granularity": "DAY"}
    if mode == "append":
        arguments["mode"] = Append((interval,))
    else:
        arguments["replace_intervals"] = [interval]
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _spec(**arguments)


def test_replace_intervals_must_cover_the_new_data() -> None:
    with pytest.raises(ValueError, match="do not cover"):
        _spec(replace_intervals=["2024-03-01T10:00:00Z/2024-03-01T11:00:00Z"])


def test_granularity_override_and_all() -> None:
    spec = _spec(segment_granularity="month", replace_intervals=interval_cover(T0, T1, "MONTH"))
    assert spec["spec"]["dataSchema"]["granularitySpec"]["segmentGranularity"] == "MONTH"
    spec = _spec(segment_granularity="ALL", replace_intervals=interval_cover(T0, T1, "ALL"))
    assert spec["spec"]["dataSchema"]["granularitySpec"]["intervals"] == [ETERNITY]
    # a first file appended at ALL (its mode's intervals are a tuple, as planning makes them)
    appended = _spec(segment_granularity="ALL")
    assert appended["spec"]["dataSchema"]["granularitySpec"]["intervals"] == [ETERNITY]
    with pytest.raises(ValueError, match="granularity"):
        _spec(segment_granularity="FORTNIGHT")


def test_existing_columns_survive_and_clashes_become_strings() -> None:
    spec = _spec(
        existing_dimensions=[("qty", "double"), ("legacy", "long"), ("__source_key", "string")]
    )
    names = [
        (d["name"], d["type"]) for d in spec["spec"]["dataSchema"]["dimensionsSpec"]["dimensions"]
    ]
    assert names == [
        ("region", "string"),
        ("qty", "string"),
        ("price", "double"),
        ("legacy", "long"),
        ("__source_key", "string"),
    ]
    assert merge_dimensions([("a", "long")]) == [("a", "long"), ("__source_key", "string")]


def test_https_endpoint_and_environment_credentials() -> None:
    env_id = {"type": "environment", "variable": "S3_ACCESS_KEY"}
    env_secret = {"type": "environment", "variable": "S3_SECRET_KEY"}
    spec = _spec(
        endpoint_url="https://minio.example", access_key_id=env_id, secret_access_key=env_secret
    )
    source = spec["spec"]["ioConfig"]["inputSource"]
    assert source["clientConfig"]["protocol"] == "https"
    assert source["properties"] == {"accessKeyId": env_id, "secretAccessKey": env_secret}


PROVIDERS = "must be a string, {'type': 'default', 'password': ...} or {'type': 'environment', "


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"access_key_id": {"type": "environment"}},
            f"access_key_id {PROVIDERS}'variable': ...}}, got keys ['type']",
        ),
        (
            {"secret_access_key": {"type": "mapString", "password": "x"}},
            f"secret_access_key {PROVIDERS}'variable': ...}}, got keys ['password', 'type']",
        ),
        (
            {"access_key_id": {"type": "default", "password": 5}},
            f"access_key_id {PROVIDERS}'variable': ...}}, got keys ['password', 'type']",
        ),
        (
            {"secret_access_key": {"type": "environment", "variable": None}},
            f"secret_access_key {PROVIDERS}'variable': ...}}, got keys ['type', 'variable']",
        ),
        (
            {"endpoint_url": "s3.local:9000"},
            "endpoint_url must start with http:// or https://, got 's3.local:9000'",
        ),
    ],
)
def test_bad_credentials_or_endpoint_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _spec(**overrides)


def test_password_providers_pass_through_as_given() -> None:
    given = {"type": "default", "password": "p"}
    spec = _spec(access_key_id=given, secret_access_key="s")
    properties = spec["spec"]["ioConfig"]["inputSource"]["properties"]
    assert properties == {
        "accessKeyId": {"type": "default", "password": "p"},
        "secretAccessKey": {"type": "default", "password": "s"},
    }


def test_uris_must_be_s3_and_encoded() -> None:
    with pytest.raises(ValueError, match="s3_uri"):
        build_index_spec(
            "sales",
            [],
            ["s3://b/a key.json.gz"],
            endpoint_url="http://s",
            region="r",
            access_key_id="a",
            secret_access_key="s",
            time_min=T0,
            time_max=T1,
            mode=Append(tuple(interval_cover(T0, T1, "HOUR"))),
            segment_granularity="HOUR",
        )
    assert (
        s3_uri("bucket", "up/my file%20ü..x.json.gz")
        == "s3://bucket/up/my%20file%2520%C3%BC..x.json.gz"
    )


def test_redact_spec_hides_secrets_and_leaves_the_original() -> None:
    spec = _spec(replace_intervals=interval_cover(T0, T1, "HOUR"))
    redacted = redact_spec(spec)
    text = json.dumps(redacted)
    assert "s3cr3t" not in text and "AKIDEXAMPLE" not in text
    s3 = redacted["spec"]["ioConfig"]["inputSource"]["delegates"][-1]
    assert s3["properties"]["secretAccessKey"] == {"type": "default", "password": "***"}
    assert s3["endpointConfig"]["url"] == "http://s3.local:9000"
    original = spec["spec"]["ioConfig"]["inputSource"]["delegates"][-1]
    assert original["properties"]["secretAccessKey"]["password"] == "s3cr3t"
    env = redact_spec(_spec(access_key_id={"type": "environment", "variable": "KEY_ID"}))
    properties = env["spec"]["ioConfig"]["inputSource"]["properties"]
    assert properties["accessKeyId"] == {"type": "environment", "variable": "KEY_ID"}


@pytest.mark.parametrize(
    ("hours", "rows", "expected"),
    [
        (0, 10, "YEAR"),  # tiny data: one coarse chunk that later files fill
        (47, 10, "YEAR"),  # 10 rows over two days: one YEAR chunk, not 48 HOUR ones
        (47, 48_000_000, "HOUR"),  # a million rows an hour
        (24 * 365 - 1, 26_000, "YEAR"),  # a year of hourly rows: not 365 DAY segments
        (24 * 365 - 1, 365_000_000, "DAY"),
        (24 * 365 - 1, 12_000_000, "MONTH"),
        (24 * 366 * 11, 5_000_000, "YEAR"),
        # small data over several years: one ALL chunk, not a YEAR segment of a few rows each
        (24 * 365 * 17, 51, "ALL"),  # 51 rows over 17 years (was 17 segments of 3 rows)
        (24 * 366 * 10 + 24, 120, "ALL"),  # 120 rows over 10 years (was 10 segments)
        (24 * 365 * 2, 1_999, "ALL"),  # just under 1,000 rows per year over two year chunks
        (24 * 365 * 2, 2_000, "YEAR"),  # exactly 1,000 rows per year: YEAR segments
        (24 * 365 * 2, 3_000, "YEAR"),  # 1,000 rows or more per year: YEAR segments
    ],
)
def test_choose_segment_granularity(hours: int, rows: int, expected: str) -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime.fromtimestamp(start.timestamp() + hours * 3600, UTC)
    assert choose_segment_granularity(start, end, rows) == expected


@pytest.mark.parametrize(
    ("start", "end", "granularity", "chunks"),
    [
        (datetime(2024, 1, 1, 0, 30), datetime(2024, 1, 1, 0, 40), "HOUR", 1),
        (datetime(2024, 1, 1, 0, 30), datetime(2024, 1, 1, 2, 0), "HOUR", 3),
        (datetime(2024, 1, 1), datetime(2024, 12, 31, 23), "DAY", 366),
        (datetime(2024, 1, 31), datetime(2024, 3, 1), "MONTH", 3),
        (datetime(2023, 12, 31), datetime(2024, 1, 1), "YEAR", 2),
        (datetime(1900, 1, 1), datetime(2200, 12, 31), "YEAR", 301),
        (datetime(2024, 2, 1), datetime(2024, 6, 30), "QUARTER", 2),
        (datetime(2024, 1, 1), datetime(2024, 1, 15), "WEEK", 3),  # Mondays 2024-01-01, 08, 15
        (datetime(1900, 1, 1), datetime(2200, 12, 31), "ALL", 1),
    ],
)
def test_count_time_chunks(start: datetime, end: datetime, granularity: str, chunks: int) -> None:
    assert count_time_chunks(start, end, granularity) == chunks


@pytest.mark.parametrize(
    ("granularity", "expected"),
    [
        ("HOUR", "2024-02-29T23:00:00.000Z/2024-03-01T01:00:00.000Z"),
        ("DAY", "2024-02-29T00:00:00.000Z/2024-03-02T00:00:00.000Z"),
        ("WEEK", "2024-02-26T00:00:00.000Z/2024-03-04T00:00:00.000Z"),
        ("MONTH", "2024-02-01T00:00:00.000Z/2024-04-01T00:00:00.000Z"),
        ("QUARTER", "2024-01-01T00:00:00.000Z/2024-04-01T00:00:00.000Z"),
        ("YEAR", "2024-01-01T00:00:00.000Z/2025-01-01T00:00:00.000Z"),
    ],
)
def test_interval_cover(granularity: str, expected: str) -> None:
    start = datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)
    end = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert interval_cover(start, end, granularity) == [expected]


def test_interval_cover_at_year_end_and_naive_input() -> None:
    assert interval_cover(datetime(2023, 12, 31, 23), datetime(2023, 12, 31, 23, 1), "MONTH") == [
        "2023-12-01T00:00:00.000Z/2024-01-01T00:00:00.000Z"
    ]


def test_merge_intervals() -> None:
    merged = merge_intervals(
        [
            "2024-03-01T00:00:00.000Z/2024-03-02T00:00:00.000Z",
            "2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z",
            "2024-03-02T00:00:00.000Z/2024-03-03T00:00:00.000Z",  # touches the first
        ]
    )
    assert merged == [
        "2024-01-01T00:00:00.000Z/2024-01-02T00:00:00.000Z",
        "2024-03-01T00:00:00.000Z/2024-03-03T00:00:00.000Z",
    ]
    assert merge_intervals([ETERNITY, "2024-01-01T00:00:00Z/2024-01-02T00:00:00Z"]) == [ETERNITY]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2024, 3, 1, 10), datetime(2024, 3, 1, 11), "HOUR"),
        (datetime(2024, 3, 1), datetime(2024, 3, 2), "DAY"),
        (datetime(2024, 3, 4), datetime(2024, 3, 11), "WEEK"),
        (datetime(2023, 2, 1), datetime(2023, 3, 1), "MONTH"),  # 28 days: the shortest month
        (datetime(2024, 2, 1), datetime(2024, 3, 1), "MONTH"),  # 29 days
        (datetime(2024, 1, 1), datetime(2024, 2, 1), "MONTH"),  # 31 days
        (datetime(2023, 1, 1), datetime(2023, 4, 1), "QUARTER"),  # 90 days
        (datetime(2023, 1, 1), datetime(2024, 1, 1), "YEAR"),  # 365 days
        (datetime(2024, 1, 1), datetime(2025, 1, 1), "YEAR"),  # 366 days
        (datetime(2024, 3, 1), datetime(2024, 3, 3), "ALL"),  # two days is no granularity
    ],
)
def test_granularity_of_an_existing_segment_interval(
    start: datetime, end: datetime, expected: str
) -> None:
    assert granularity_of_interval(start, end) == expected


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2024, 3, 1, 10), datetime(2024, 3, 1, 12)),  # two hours (a PT2H segment)
        (datetime(2024, 3, 1), datetime(2024, 3, 2, 1)),  # a day and an hour
        (datetime(2024, 3, 4), datetime(2024, 3, 11, 1)),  # a week and an hour
        (datetime(2024, 1, 1), datetime(2024, 2, 1, 1)),  # the longest month and an hour
        (datetime(2024, 1, 1), datetime(2024, 2, 2)),  # 32 days
        (datetime(2024, 7, 1), datetime(2024, 10, 1, 1)),  # the longest quarter and an hour
        (datetime(2024, 1, 1), datetime(2025, 1, 1, 1)),  # a leap year and an hour
    ],
)
def test_a_segment_interval_just_longer_than_a_granularity_is_none_of_them(
    start: datetime, end: datetime
) -> None:
    # segments cut some other way are left alone: the datasource is treated as one ALL chunk
    assert granularity_of_interval(start, end) == "ALL"


def test_interval_span_is_the_first_and_the_last_microsecond_of_the_interval() -> None:
    assert interval_span("2024-03-01T00:00:00.000Z/2024-03-02T00:00:00.000Z") == (
        datetime(2024, 3, 1, tzinfo=UTC),
        datetime(2024, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC),
    )
