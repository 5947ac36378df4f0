"""Wiring only: the ingest assets and their checks, the sensor, resources from the environment."""

import dagster as dg

from ingest_pipeline.assets.ingest import ingest
from ingest_pipeline.assets.retract import retract_job
from ingest_pipeline.resources import build_resources
from ingest_pipeline.sensors import ingest_job, upload_sensor

defs = dg.Definitions(
    assets=[ingest],
    jobs=[ingest_job, retract_job],
    sensors=[upload_sensor],
    resources=build_resources(dg.EnvVar),
)
