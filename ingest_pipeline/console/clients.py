"""The clients a command talks through, with a person's patience: Dagster's instance and Druid
fail within seconds when their server is down, not after the pipeline's retry budgets."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ingest_pipeline.console.failures import CHECK_STACK, CommandError
from ingest_pipeline.resources.environment import dagster_postgres_address

if TYPE_CHECKING:  # dagster loads in a second: only commands that need it import it
    import dagster as dg

    from ingest_pipeline.resources.druid import DruidResource
    from ingest_pipeline.resources.s3 import S3Storage

#: The CLI's Druid: 3 attempts, 1 s then 2 s apart (~3 s), not the pipeline's 8 in ~91 s.
DRUID_PATIENCE: Mapping[str, int | float] = {"max_retries": 2, "retry_base_delay_seconds": 1.0}
#: The CLI's S3: 3 attempts in seconds, not the pipeline's 11 over about a minute.
S3_PATIENCE: Mapping[str, int] = {"max_retries": 2}


def dagster_instance() -> dg.DagsterInstance:
    """Dagster's instance. The stack's Postgres (DAGSTER_PG_HOST/PORT, which dagster.yaml
    reads) is tried first: stopped, it fails in a second, not after Dagster's 12 s of retries."""
    import dagster as dg

    address = dagster_postgres_address()
    if address is not None:
        host, port = address
        try:
            socket.create_connection(address, timeout=5).close()
        except OSError as error:
            raise CommandError(
                f"Postgres (Dagster's storage) at {host}:{port} is unreachable: "
                f"{error.strerror or error}",
                CHECK_STACK,
            ) from None
    return dg.DagsterInstance.get()


def druid_client() -> DruidResource:
    """The pipeline's Druid with a person's patience (DRUID_PATIENCE)."""
    return _with_patience("druid", DRUID_PATIENCE)


def s3_client() -> S3Storage:
    """The pipeline's S3 with a person's patience (S3_PATIENCE): the pipeline's budget rides
    out a store restart; a person wants the error."""
    return _with_patience("s3", S3_PATIENCE)


def _with_patience(name: str, patience: Mapping[str, int | float]) -> Any:
    """The pipeline's resource `name` with its retry settings replaced by `patience`."""
    from ingest_pipeline.resources import build_resources, resolved_env

    return build_resources(resolved_env)[name].model_copy(update=dict(patience))
