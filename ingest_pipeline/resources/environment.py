"""Every environment variable the pipeline and its CLI read, in one table, and the one place
(besides the local stack's own modules) that reads them.

Resources are built from this table (`build_resources`): the definitions pass `dg.EnvVar`
(resolved at run launch, hidden in the UI), the CLI `resolved_env`. A variable with a default
that is not set leaves the resource field's default; a required one must be set. The README's
"Configuration" table is this table (a unit test keeps them equal).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None  # None: required (the local stack's stack.env sets it)
    meaning: str

    @property
    def required(self) -> bool:
        return self.default is None


SETTINGS = (
    Setting("INGEST_S3_ENDPOINT_URL", "AWS", "S3 endpoint as the pipeline reaches it"),
    Setting(
        "INGEST_DRUID_S3_ENDPOINT_URL", "the same", "the same store as Druid's workers reach it"
    ),
    Setting("INGEST_S3_REGION", "us-east-1", "S3 region (and signing region)"),
    Setting("AWS_ACCESS_KEY_ID", "AWS's chain", "S3 key; Druid's spec names the variable only"),
    Setting("AWS_SECRET_ACCESS_KEY", "AWS's chain", "S3 secret; never written into a spec"),
    Setting("INGEST_UPLOADS_BUCKET", "ingest-uploads", "bucket the sensor watches"),
    Setting("INGEST_UPLOADS_PREFIX", "uploads/", "prefix of uploads: <prefix><dataset>/<file>"),
    Setting("INGEST_VALIDATED_BUCKET", "ingest-validated", "validated data, reports, step records"),
    Setting("INGEST_DRUID_ROUTER_URL", None, "Druid router (proxies everything below)"),
    Setting("INGEST_DRUID_OVERLORD_URL", "the router", "Druid overlord (tasks)"),
    Setting("INGEST_DRUID_COORDINATOR_URL", "the router", "Druid coordinator (load status)"),
    Setting("INGEST_DRUID_BROKER_URL", "the router", "Druid broker (SQL)"),
    Setting("INGEST_DRUID_USERNAME", "none", "Druid basic auth user"),
    Setting("INGEST_DRUID_PASSWORD", "none", "Druid basic auth password"),
    Setting("INGEST_DATASETS_CONFIG", "none", "datasets.yaml: per-dataset settings"),
    Setting("INGEST_INGESTION_TIMEOUT_SECONDS", "900", "a Druid task running longer is shut down"),
    Setting("INGEST_SEGMENT_LOAD_TIMEOUT_SECONDS", "300", "wait for segments to be queryable"),
    Setting(
        "INGEST_SENSOR_INTERVAL_SECONDS",
        "15; 1 with a queue",
        "seconds between upload_sensor ticks",
    ),
    Setting("INGEST_EVENTS_QUEUE_URL", "none: list", "SQS queue of the bucket's S3 events"),
    Setting("INGEST_SQS_ENDPOINT_URL", "AWS", "SQS endpoint (the stack's queue)"),
    Setting(
        "INGEST_EVENTS_WAIT_SECONDS", "4", "long poll of a tick's first receive (< 5: see README)"
    ),
    Setting(
        "INGEST_EVENTS_GATHER_MS",
        "300",
        "then receive until the queue is quiet this long (a burst: one tick)",
    ),
    Setting(
        "INGEST_RECONCILE_INTERVAL_SECONDS",
        "300",
        "with a queue: seconds between listing passes (a page a tick); 0: never",
    ),
    Setting("INGEST_BATCH_MAX_FILES", "200", "new files of a dataset in one run, at most"),
    Setting("INGEST_BATCH_MAX_BYTES", str(2 * 1024**3), "bytes of new files in one run, at most"),
    Setting("INGEST_DAGSTER_UI_URL", "the stack's port", "Dagster UI links the CLI prints"),
    Setting("INGEST_STACK_DIR", "<checkout>/.stack", "the local stack's folder"),
)
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}


class SettingMissing(RuntimeError):
    """A variable the resources are configured from is not set."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"{name} is not set: run `ingest-pipeline stack up` (it writes stack.env) or export it"
        )


def resolved_env(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise SettingMissing(name) from None


def fields(
    env: Callable[[str], Any], by_field: Mapping[str, str], numbers: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Resource field -> env(NAME), for the required variables and those that are set (the
    others keep the field's default). `numbers`: int fields (dg.EnvVar.int for dg.EnvVar; a
    resolved value is a string the resource converts)."""
    chosen = {}
    for field, name in by_field.items():
        if BY_NAME[name].required or name in os.environ:
            as_int = getattr(env, "int", None) if field in numbers else None
            chosen[field] = as_int(name) if as_int else env(name)
    return chosen


def setting(name: str) -> str | None:
    """A setting read where no resource can carry it (when the definitions load; the CLI)."""
    assert name in BY_NAME, name
    return os.environ.get(name)


def sensor_interval_seconds() -> int:
    """Dagster fixes a sensor's interval when the definitions load: read then, not at a tick.
    With a queue a tick costs what is new (a receive), so the default is 1 s."""
    default = "1" if setting("INGEST_EVENTS_QUEUE_URL") else "15"
    return int(setting("INGEST_SENSOR_INTERVAL_SECONDS") or default)


def dagster_postgres_address() -> tuple[str, int] | None:
    """Where Dagster's instance (dagster.yaml: DAGSTER_PG_*) keeps its storage, if set."""
    host, port = os.environ.get("DAGSTER_PG_HOST"), os.environ.get("DAGSTER_PG_PORT")
    if host and port and port.isdigit():
        return host, int(port)
    return None


def terminal_width_given() -> bool:
    """COLUMNS is set: a piped CLI wraps its tables at that width instead of keeping lines whole."""
    return "COLUMNS" in os.environ
