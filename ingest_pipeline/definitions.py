"""Wiring only: assets, checks, the sensor, resources from the environment, the Druid pool."""

import dagster as dg

from ingest_pipeline.assets.druid_datasource import druid_datasource
from ingest_pipeline.assets.druid_spec import druid_spec
from ingest_pipeline.assets.raw_file import raw_file
from ingest_pipeline.assets.validated_frame import validated_frame
from ingest_pipeline.resources import build_resources
from ingest_pipeline.sensors import ingest_job, upload_sensor

defs = dg.Definitions(
    assets=[raw_file, validated_frame, druid_spec, druid_datasource],
    jobs=[ingest_job],
    sensors=[upload_sensor],
    resources=build_resources(dg.EnvVar),
)
