"""The Druid pool's limit after dagster.yaml's `pools.default_limit` changes, on the stack's
Postgres (a private database): Dagster 1.13.27 fails every claim on the stale row
(dagster-io/dagster#33552); repair_stale_pool_defaults clears it and the next claim works."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg2
import pytest
import sqlalchemy.exc

from ingest_pipeline.pools import repair_stale_pool_defaults
from ingest_pipeline.stack.settings import StackSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(stack: StackSettings) -> str:
    name = f"dagster_pools_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(stack.postgres_url("postgres"))
    conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return stack.postgres_url(name)


@contextmanager
def instance_with_default(url: str, default_limit: int) -> Iterator[dg.DagsterInstance]:
    overrides = {
        "storage": {"postgres": {"postgres_url": url}},
        "concurrency": {"pools": {"default_limit": default_limit}},
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance


def limits(instance: dg.DagsterInstance) -> dict[str, tuple[int | None, bool]]:
    return {
        pool.name: (pool.limit, pool.from_default)
        for pool in instance.event_log_storage.get_pool_limits()
    }


def test_a_changed_default_limit_applies_after_the_repair(database_url: str) -> None:
    with instance_with_default(database_url, 2) as before:
        before.event_log_storage.initialize_concurrency_limit_to_default("druid")
        before.event_log_storage.initialize_concurrency_limit_to_default("other")
        assert limits(before) == {"druid": (2, True), "other": (2, True)}
        assert repair_stale_pool_defaults(before) == []  # nothing stale: nothing touched

    with instance_with_default(database_url, 3) as after:
        storage = after.event_log_storage
        # What every run's druid_datasource step met (Dagster's own re-initialization).
        with pytest.raises(sqlalchemy.exc.InternalError, match="InFailedSqlTransaction"):
            storage.initialize_concurrency_limit_to_default("druid")

        assert sorted(repair_stale_pool_defaults(after)) == ["druid", "other"]
        # Our pool is made afresh with the new default (a step's claim finds it as it wants
        # it and initializes nothing); another pool waits for its first claim.
        assert limits(after) == {"druid": (3, True)}
        assert storage.get_concurrency_info("druid").slot_count == 3


def test_a_limit_set_by_a_person_is_left_alone(database_url: str) -> None:
    with instance_with_default(database_url, 3) as instance:
        instance.event_log_storage.set_concurrency_slots("druid", 1)  # UI or `dagster instance`
        assert repair_stale_pool_defaults(instance) == []
        assert limits(instance) == {"druid": (1, False)}
