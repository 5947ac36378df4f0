"""Keep Dagster's pool limits loadable on Postgres when `concurrency.pools.default_limit`
changes (dagster.yaml).

Dagster 1.13.27 re-applies a changed default to a pool row it created with INSERT, catches the
duplicate-key error and then UPDATEs in the same transaction, which Postgres has already
aborted (dagster-io/dagster#33552, open): every step in the pool then fails with
`InFailedSqlTransaction` (our `druid_datasource`, after the default went from 2 to 3). Deleting
such a stale row first lets Dagster insert it afresh with the new default at the next claim.

The same INSERT-then-UPDATE races on a fresh database: runs that claim a pool for the first time
at the same moment all INSERT its row, the losers hit the duplicate key and fail with
`InFailedSqlTransaction` (seen in CI: one of a burst's 3 runs failed). So the sensor and
`ingest` create the rows of our pools, one at a time, before any run claims them.
"""

from __future__ import annotations

import dagster as dg

#: The pools our steps declare (druid_datasource and retract_file: `pool="druid"`).
POOLS = ("druid",)


def repair_stale_pool_defaults(instance: dg.DagsterInstance) -> list[str]:
    """Delete the pool rows that still hold an earlier default limit; their names."""
    default = instance.global_op_concurrency_default_limit
    storage = instance.event_log_storage
    if default is None or not storage.supports_global_concurrency_limits:
        return []
    stale = [
        pool.name
        for pool in storage.get_pool_limits()
        if pool.from_default and pool.limit != default
    ]
    for name in stale:
        storage.delete_concurrency_limit(name)
    existing = {pool.name for pool in storage.get_pool_limits()}
    for name in POOLS:
        if name not in existing:  # created here, so concurrent first claims find it
            storage.initialize_concurrency_limit_to_default(name)
    return stale
