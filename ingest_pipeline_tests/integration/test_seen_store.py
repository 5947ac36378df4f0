"""The decided versions' range read (seen_store.SeenStore.decided_in) on the stack's Postgres:
the reconciliation finds lost deletes by it, so it must order keys as S3 lists them (bytes),
bound them to the uploads prefix and read nothing else of Dagster's key-value table."""

from __future__ import annotations

import uuid

import dagster as dg

from ingest_pipeline.seen_store import SeenStore
from ingest_pipeline.sensor_state import prefix_range


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
