"""Keep Dagster's pool limits loadable on Postgres when `concurrency.pools.default_limit`
changes (dagster.yaml).

Dagster 1.13.27 re-applies a changed default to a pool row it created with INSERT, catches the
duplicate-key error and then UPDATEs in the same transaction, which Postgres has already
aborted (dagster-io/dagster#33552, open): every step in the pool then fails with
`InFailedSqlTransaction` (our `druid_datasource`, after the default went from 2 to 3). Deleting
such a stale row first lets Dagster insert it afresh with the new default at the next claim.
"""

from __future__ import annotations

import dagster as dg


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
    return stale
