"""Fixtures shared by the integration tests that need a running Dagster daemon."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import psycopg2
import pytest

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.settings import REPO_ROOT, StackSettings
from ingest_pipeline_tests.integration.automation import Automation


@pytest.fixture(scope="module")
def automation(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Automation]:
    home = tmp_path_factory.mktemp("automation_home")
    (home / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    auto = Automation(stack, home)
    conn = psycopg2.connect(stack.postgres_url("postgres"))
    conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{auto.database}"')
    conn.close()
    auto.start_daemon()
    auto.start_webserver()
    yield auto
    auto.stop()


@pytest.fixture(scope="module")
def druid(stack: StackSettings) -> DruidResource:
    return DruidResource(router_url=stack.druid_url("router"))


@pytest.fixture(scope="module")
def instance(dagster_home) -> dg.DagsterInstance:
    """The Dagster instance of DAGSTER_HOME (the project's dagster.yaml: Postgres storage)."""
    return dg.DagsterInstance.get()
