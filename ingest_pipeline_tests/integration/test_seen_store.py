"""The decided versions' range read (seen_store.SeenStore.decided_in) on the stack's Postgres:
the reconciliation finds lost deletes by it, so it must order keys as S3 lists them (bytes),
bound them to the uploads prefix and read nothing else of Dagster's key-value table."""

from __future__ import annotations

import uuid

import dagster as dg
import psycopg2
import sqlalchemy as sa
from dagster_postgres import PostgresRunStorage

from ingest_pipeline.seen_store import DagsterKeyValues, SeenStore, _compares_bytes
from ingest_pipeline.sensor_state import prefix_range
from ingest_pipeline.stack.settings import StackSettings


def test_a_range_read_on_postgres_is_in_s3_key_order_and_inside_the_prefix(
    instance: dg.DagsterInstance,
) -> None:
    prefix = f"test-{uuid.uuid4().hex}/"  # this test's own keys in the shared store
    seen = SeenStore.of(instance)
    seen.write(
        {
            f"{prefix}a/b.csv": "e1",
            f"{prefix}a/Z.csv": "e2",  # bytes: 'Z' (0x5A) before 'b' (0x62); en_US: after
            f"{prefix}a/é.csv": "e3",
            f"{prefix}a/gone.csv": "",  # forgotten
            prefix[:-1] + "0": "x",  # just beyond the prefix
        }
    )
    everything = seen.decided_in(prefix_range(prefix, None, None), 100)
    assert list(everything) == [f"{prefix}a/Z.csv", f"{prefix}a/b.csv", f"{prefix}a/é.csv"]
    page = seen.decided_in(prefix_range(prefix, f"{prefix}a/Z.csv", f"{prefix}a/b.csv"), 100)
    assert page == {f"{prefix}a/b.csv": "e1"}
    assert list(seen.decided_in(prefix_range(prefix, None, None), 1)) == [f"{prefix}a/Z.csv"]


def test_on_a_database_that_collates_by_language_the_read_keeps_s3_s_order(
    stack: StackSettings,
) -> None:
    """An existing Postgres whose default collation is linguistic (here ICU's en-US, where
    'b' sorts before 'Z'): the range read compares with COLLATE "C" and still returns S3's
    order (a scan, not the index: correct first)."""
    database = f"seen_icu_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(stack.postgres_url("postgres"))
    conn.autocommit = True  # CREATE DATABASE refuses to run inside a transaction
    with conn.cursor() as cur:
        cur.execute(
            f"CREATE DATABASE {database} TEMPLATE template0 LOCALE_PROVIDER icu "
            "ICU_LOCALE 'en-US' LOCALE 'C'"
        )
    try:
        storage = PostgresRunStorage(stack.postgres_url(database))
        with storage.connect() as db:
            assert db.execute(sa.text("SELECT 'b' < 'Z'")).scalar()  # linguistic indeed
            assert not _compares_bytes(db)
        seen = SeenStore(DagsterKeyValues(storage))
        seen.write({"uploads/a/b.csv": "e1", "uploads/a/Z.csv": "e2", "uploads/a/_x.csv": "e3"})
        assert list(seen.decided_in(prefix_range("uploads/", None, None), 10)) == [
            "uploads/a/Z.csv",
            "uploads/a/_x.csv",
            "uploads/a/b.csv",
        ]
        page = seen.decided_in(prefix_range("uploads/", "uploads/a/Z.csv", "uploads/a/_x.csv"), 9)
        assert page == {"uploads/a/_x.csv": "e3"}
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.close()
