"""Wiring only: assets, checks, the sensor, resources from the environment, the Druid pool."""

from __future__ import annotations

import dagster as dg

from ingest_pipeline.assets.druid_datasource import druid_datasource
from ingest_pipeline.assets.druid_spec import druid_spec
from ingest_pipeline.assets.raw_file import raw_file
from ingest_pipeline.assets.validated_frame import validated_frame
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.sensors import ingest_job, upload_sensor


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    """Endpoints and secrets come from the environment at run launch (stack.env locally)."""
    return {
        "s3": S3Storage(
            endpoint_url=dg.EnvVar("INGEST_S3_ENDPOINT_URL"),
            druid_endpoint_url=dg.EnvVar("INGEST_DRUID_S3_ENDPOINT_URL"),
            region=dg.EnvVar("INGEST_S3_REGION"),
            access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
            secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
            uploads_bucket=dg.EnvVar("INGEST_UPLOADS_BUCKET"),
            validated_bucket=dg.EnvVar("INGEST_VALIDATED_BUCKET"),
        ),
        "druid": DruidResource(router_url=dg.EnvVar("INGEST_DRUID_ROUTER_URL")),
        "pipeline_settings": PipelineSettings(),
    }


defs = dg.Definitions(
    assets=[raw_file, validated_frame, druid_spec, druid_datasource],
    jobs=[ingest_job],
    sensors=[upload_sensor],
    resources=resources_from_env(),
)
