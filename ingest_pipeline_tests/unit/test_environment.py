"""Every setting is in one table, the README's Configuration table is that table, and a
resource field takes its variable only when it is set (else the field's default)."""

from __future__ import annotations

import re

import dagster as dg
import pytest

from ingest_pipeline.resources import (
    DRUID_FIELDS,
    EVENTS_FIELDS,
    PIPELINE_FIELDS,
    S3_FIELDS,
    SENSOR_FIELDS,
    build_resources,
)
from ingest_pipeline.resources.environment import BY_NAME, SETTINGS, SettingMissing, resolved_env
from ingest_pipeline.stack.settings import REPO_ROOT


def test_the_readme_lists_every_setting_with_its_default() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    readme = readme[readme.index("## Configuration") : readme.index("## Layout")]
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| (.+?) \| (.+?) \|$", readme, re.MULTILINE)
    assert rows == [
        (s.name, s.default if s.default is not None else "(required)", s.meaning) for s in SETTINGS
    ]


def test_every_resource_field_is_read_from_a_listed_variable() -> None:
    for by_field in (S3_FIELDS, DRUID_FIELDS, PIPELINE_FIELDS, SENSOR_FIELDS, EVENTS_FIELDS):
        assert set(by_field.values()) <= set(BY_NAME)


def test_unset_variables_keep_the_defaults_and_set_ones_are_used(monkeypatch) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.setenv("INGEST_DRUID_ROUTER_URL", "http://druid:8888")
    monkeypatch.setenv("INGEST_DRUID_BROKER_URL", "http://broker:8082")
    monkeypatch.setenv("INGEST_BATCH_MAX_FILES", "7")
    resources = build_resources(resolved_env)
    druid = resources["druid"]
    assert (druid.router_url, druid.broker_url, druid.overlord_url) == (
        "http://druid:8888",
        "http://broker:8082",
        None,
    )
    assert resources["s3"].uploads_bucket == "ingest-uploads"
    assert resources["sensor_settings"].batch_max_files == 7
    assert resources["sensor_settings"].batch_max_bytes == 2 * 1024**3
    assert resources["pipeline_settings"].ingestion_timeout_seconds == 900


def test_a_required_variable_that_is_not_set_says_which_and_how(monkeypatch) -> None:
    monkeypatch.delenv("INGEST_DRUID_ROUTER_URL", raising=False)
    with pytest.raises(SettingMissing, match="INGEST_DRUID_ROUTER_URL is not set: run"):
        build_resources(resolved_env)


def test_the_definitions_take_numbers_from_the_environment_as_ints(monkeypatch) -> None:
    monkeypatch.setenv("INGEST_DRUID_ROUTER_URL", "http://druid:8888")
    monkeypatch.setenv("INGEST_BATCH_MAX_BYTES", "1000")
    monkeypatch.setenv("INGEST_SEGMENT_LOAD_TIMEOUT_SECONDS", "30")
    resources = build_resources(dg.EnvVar)

    @dg.op
    def read(
        sensor_settings: dg.ConfigurableResource, pipeline_settings: dg.ConfigurableResource
    ) -> tuple:
        return sensor_settings.batch_max_bytes, pipeline_settings.segment_load_timeout_seconds  # type: ignore[attr-defined]

    @dg.job(
        resource_defs={
            "sensor_settings": resources["sensor_settings"],
            "pipeline_settings": resources["pipeline_settings"],
        }
    )
    def job() -> None:
        read()

    result = job.execute_in_process()
    assert result.output_for_node("read") == (1000, 30)
