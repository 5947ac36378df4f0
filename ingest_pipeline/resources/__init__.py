"""Resources: the only code that talks to S3 and Druid, configured from the environment
(every variable: environment.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingest_pipeline.resources.environment import SettingMissing, fields, resolved_env

__all__ = ["SettingMissing", "build_resources", "resolved_env"]


#: Resource field -> environment variable (every one: environment.SETTINGS).
S3_FIELDS = {
    "endpoint_url": "INGEST_S3_ENDPOINT_URL",
    "druid_endpoint_url": "INGEST_DRUID_S3_ENDPOINT_URL",
    "region": "INGEST_S3_REGION",
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "uploads_bucket": "INGEST_UPLOADS_BUCKET",
    "uploads_prefix": "INGEST_UPLOADS_PREFIX",
    "validated_bucket": "INGEST_VALIDATED_BUCKET",
}
DRUID_FIELDS = {
    "router_url": "INGEST_DRUID_ROUTER_URL",
    "overlord_url": "INGEST_DRUID_OVERLORD_URL",
    "coordinator_url": "INGEST_DRUID_COORDINATOR_URL",
    "broker_url": "INGEST_DRUID_BROKER_URL",
    "username": "INGEST_DRUID_USERNAME",
    "password": "INGEST_DRUID_PASSWORD",
}
PIPELINE_FIELDS = {
    "datasets_config_path": "INGEST_DATASETS_CONFIG",
    "ingestion_timeout_seconds": "INGEST_INGESTION_TIMEOUT_SECONDS",
    "segment_load_timeout_seconds": "INGEST_SEGMENT_LOAD_TIMEOUT_SECONDS",
}
SENSOR_FIELDS = {
    "batch_max_files": "INGEST_BATCH_MAX_FILES",
    "batch_max_bytes": "INGEST_BATCH_MAX_BYTES",
}

EVENTS_FIELDS = {
    "queue_url": "INGEST_EVENTS_QUEUE_URL",
    "endpoint_url": "INGEST_SQS_ENDPOINT_URL",
    "region": "INGEST_S3_REGION",
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "wait_seconds": "INGEST_EVENTS_WAIT_SECONDS",
    "gather_milliseconds": "INGEST_EVENTS_GATHER_MS",
    "reconcile_interval_seconds": "INGEST_RECONCILE_INTERVAL_SECONDS",
}


def build_resources(env: Callable[[str], Any]) -> dict[str, Any]:
    """The pipeline's resources, each setting read through `env(NAME)`.

    Definitions pass `dg.EnvVar` (resolved at run launch, hidden in the UI); the CLI passes
    `resolved_env` to use the resources directly. The resource classes (Dagster, boto3) load
    here, not with the package: the CLI reads this package's tables and the environment
    without them.
    """
    from ingest_pipeline.resources.druid import DruidResource
    from ingest_pipeline.resources.event_queue import EventQueue
    from ingest_pipeline.resources.records_io import RecordsIOManager
    from ingest_pipeline.resources.s3 import S3Storage
    from ingest_pipeline.resources.settings import PipelineSettings, SensorSettings

    s3 = S3Storage(**fields(env, S3_FIELDS))
    seconds = ("ingestion_timeout_seconds", "segment_load_timeout_seconds")
    return {
        "s3": s3,
        "records_io": RecordsIOManager(store=s3),
        "druid": DruidResource(**fields(env, DRUID_FIELDS)),
        "pipeline_settings": PipelineSettings(**fields(env, PIPELINE_FIELDS, numbers=seconds)),
        "sensor_settings": SensorSettings(
            **fields(env, SENSOR_FIELDS, numbers=tuple(SENSOR_FIELDS))
        ),
        "events": EventQueue(
            **fields(
                env,
                EVENTS_FIELDS,
                numbers=("wait_seconds", "gather_milliseconds", "reconcile_interval_seconds"),
            )
        ),
    }
