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
    interval_cover,
    merge_dimensions,
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
    }
    arguments.update(overrides)
    if "mode" not in arguments:
        arguments["mode"] = (
            Replace(tuple(replace_intervals), previous_rows=1, source_key=KEY)
            if replace_intervals
            else Append(tuple(interval_cover(T0, T1, granularity.upper())))
        )
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


def test_every_column_is_a_dimension_and_every_part_is_index_parallel() -> None:
    spec = _spec()
    assert spec["spec"]["dataSchema"]["metricsSpec"] == []  # no metrics: rows kept as they are
    assert spec["spec"]["ioConfig"]["type"] == "index_parallel"
    assert spec["spec"]["tuningConfig"]["type"] == "index_parallel"


def test_a_replace_reads_its_combining_source_in_two_subtasks() -> None:
    # Druid 25's sequential reader cannot read a combining input source
    spec = _spec(replace_intervals=interval_cover(T0, T1, "HOUR"))
    assert spec["spec"]["tuningConfig"]["maxNumConcurrentSubTasks"] == 2


def test_data_at_an_intervals_end_is_outside_it() -> None:
    interval = "2024-03-01T10:00:00.000Z/2024-03-01T18:00:00.000Z"  # T1 is its (exclusive) end
    message = f"intervals [{interval!r}] do not cover the data at 2024-03-01T18:00:00.000Z"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _spec(mode=Append((interval,)))


def test_all_granularity_takes_only_the_eternity_interval() -> None:
    message = f"with ALL granularity the interval must be {ETERNITY}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        _spec(
            segment_granularity="ALL",
            mode=Append(("2024-03-01T00:00:00.000Z/2024-03-02T00:00:00.000Z",)),
        )


def test_an_unknown_segment_granularity_is_refused_naming_the_known_ones() -> None:
    known = "('HOUR', 'DAY', 'WEEK', 'MONTH', 'QUARTER', 'YEAR', 'ALL')"
    with pytest.raises(ValueError, match=re.escape(f"segment granularity must be one of {known}")):
        _spec(segment_granularity="fortnight", mode=Append(tuple(interval_cover(T0, T1, "DAY"))))


def test_naive_data_times_are_taken_as_utc() -> None:
    naive = _spec(time_min=T0.replace(tzinfo=None), time_max=T1.replace(tzinfo=None))
    assert naive == _spec()


def test_time_and_source_key_are_never_ordinary_dimensions() -> None:
    merged = merge_dimensions(
        [("__time", "long"), ("a", "long")], [("__time", "long"), ("__source_key", "long")]
    )
    assert merged == [("a", "long"), ("__source_key", "string")]
