"""Our pools' rows exist before any run claims them: runs claiming a pool for the first time
at once on Postgres race on its INSERT and the losers fail (Dagster 1.13.27)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ingest_pipeline.pools import POOLS, repair_stale_pool_defaults


def pool_rows(instance: dg.DagsterInstance) -> dict[str, tuple[int | None, bool]]:
    return {p.name: (p.limit, p.from_default) for p in instance.event_log_storage.get_pool_limits()}


def test_the_druid_pool_is_created_with_the_default_before_any_claim(tmp_path: Path) -> None:
    overrides = {"concurrency": {"pools": {"default_limit": 3}}}
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides=overrides) as instance:
        assert pool_rows(instance) == {}
        assert repair_stale_pool_defaults(instance) == []  # nothing was stale
        assert pool_rows(instance) == {name: (3, True) for name in POOLS}
        assert repair_stale_pool_defaults(instance) == []  # and a second call changes nothing
        assert pool_rows(instance) == {"druid": (3, True)}


def test_without_a_default_limit_no_pool_row_is_made(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert repair_stale_pool_defaults(instance) == []
        assert pool_rows(instance) == {}
