"""Fixtures shared by the integration tests that need a running Dagster daemon."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.settings import StackSettings
from ingest_pipeline_tests.integration.automation import Automation


@pytest.fixture(scope="module")
def automation(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Automation]:
    home = tmp_path_factory.mktemp("automation_home")
    auto = Automation.on_a_new_database(stack, home)
    auto.start_daemon()
    auto.start_webserver()
    yield auto
    auto.stop()


@pytest.fixture(scope="module")
def events_automation(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Automation]:
    """A daemon whose sensor reads the stack's events queue, the reconciliation off: whatever
    happens comes from the events (a test turns the reconciliation on where it wants it)."""
    auto = Automation.on_the_events_queue(stack, tmp_path_factory.mktemp("events_home"))
    yield auto
    auto.stop()


@pytest.fixture(scope="module")
def druid(stack: StackSettings) -> DruidResource:
    return DruidResource(router_url=stack.druid_url("router"))


@pytest.fixture(scope="module")
def instance(dagster_home) -> dg.DagsterInstance:
    """The Dagster instance of DAGSTER_HOME (the project's dagster.yaml: Postgres storage)."""
    return dg.DagsterInstance.get()
