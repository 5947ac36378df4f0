"""Resources: the only code that talks to S3 and Druid, configured from the environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.records_io import RecordsIOManager
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings


def build_resources(env: Callable[[str], Any]) -> dict[str, Any]:
    """The pipeline's resources, each setting read through `env(NAME)`.

    Definitions pass `dg.EnvVar` (resolved at run launch, hidden in the UI); the CLI passes
    `resolved_env` to use the resources directly.
    """
    s3 = S3Storage(
        endpoint_url=env("INGEST_S3_ENDPOINT_URL"),
        druid_endpoint_url=env("INGEST_DRUID_S3_ENDPOINT_URL"),
        region=env("INGEST_S3_REGION"),
        access_key_id=env("AWS_ACCESS_KEY_ID"),
        secret_access_key=env("AWS_SECRET_ACCESS_KEY"),
        uploads_bucket=env("INGEST_UPLOADS_BUCKET"),
        uploads_prefix=env("INGEST_UPLOADS_PREFIX"),
        validated_bucket=env("INGEST_VALIDATED_BUCKET"),
    )
    return {
        "s3": s3,
        "records_io": RecordsIOManager(store=s3),
        "druid": DruidResource(router_url=env("INGEST_DRUID_ROUTER_URL")),
        "pipeline_settings": PipelineSettings(datasets_config_path=env("INGEST_DATASETS_CONFIG")),
    }


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
