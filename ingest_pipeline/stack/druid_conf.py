"""Druid's runtime properties from druid/conf, rendered for the local stack or for docker-compose.

druid/conf is the one source of truth: ``{{name}}`` placeholders take local-stack values here
and docker-compose values in :func:`compose_environment`, which writes druid/docker.env.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ingest_pipeline.stack.peon_cds import PeonLaunch
from ingest_pipeline.stack.settings import (
    DEEP_STORAGE_BUCKET,
    DRUID_DB,
    DRUID_DIR,
    TASK_LOG_BUCKET,
    StackSettings,
)

CONF_DIR = DRUID_DIR / "conf"
DRUID_SERVICES = ("coordinator-overlord", "broker", "historical", "middleManager", "router")
EXTENSIONS = ("druid-s3-extensions", "postgresql-metadata-storage")
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")

#: Peon JVM: small heap for a 2-core box, the AWS region the S3 client needs, Java 17 opens.
PEON_HEAP = ["-server", "-Xms256m", "-Xmx256m", "-XX:MaxDirectMemorySize=256m"]


def jvm_options(service: str, region: str) -> list[str]:
    """JVM flags for a service: druid/conf/jvm.common.config + druid/conf/<service>/jvm.config."""
    lines = (CONF_DIR / "jvm.common.config").read_text().splitlines()
    own = CONF_DIR / service / "jvm.config"
    if own.exists():
        lines += own.read_text().splitlines()
    return [line.strip() for line in lines if line.strip()] + [f"-Daws.region={region}"]


def peon_java_opts(region: str) -> list[str]:
    common = [
        line
        for line in jvm_options("peon", region)
        if not line.startswith("-server") and not line.startswith("-XX:+UseSerialGC")
    ]
    return PEON_HEAP + common


def parse_properties(text: str) -> dict[str, str]:
    """Java .properties (the subset Druid's files use: key=value lines and # comments)."""
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = value.strip()
    return props


def template(service: str | None) -> dict[str, str]:
    """Unrendered properties: common ones, or one service's own."""
    path = (
        CONF_DIR / "common.runtime.properties"
        if service is None
        else CONF_DIR / service / "runtime.properties"
    )
    return parse_properties(path.read_text())


def render(props: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"druid/conf uses {{{{{name}}}}} but no value is defined for it")
        return values[name]

    return {key: PLACEHOLDER.sub(substitute, value) for key, value in props.items()}


def local_values(
    settings: StackSettings, var_dir: Path, peon_archive: Path | None = None
) -> dict[str, str]:
    ports = settings.druid_ports
    peon_opts = peon_java_opts(settings.s3_region)
    if peon_archive is not None:
        peon_opts.append(f"-XX:SharedArchiveFile={peon_archive}")
    endpoint = settings.druid_s3_endpoint
    return {
        "extensions_load_list": "[]",
        "druid_host": "127.0.0.1",
        "zk_host": f"127.0.0.1:{ports['zookeeper']}",
        "metadata_uri": (
            f"jdbc:postgresql://{settings.postgres_host}:{settings.postgres_port}/{DRUID_DB}"
        ),
        "metadata_user": settings.postgres_user,
        "metadata_password": settings.postgres_password,
        "deep_storage_bucket": DEEP_STORAGE_BUCKET,
        "task_log_bucket": TASK_LOG_BUCKET,
        "s3_endpoint": endpoint,
        "s3_region": settings.s3_region,
        "s3_protocol": endpoint.split("://", 1)[0],
        "s3_access_key": settings.s3_access_key,
        "s3_secret_key": settings.s3_secret_key,
        "var_dir": str(var_dir),
        "coordinator_port": str(ports["coordinator-overlord"]),
        "broker_port": str(ports["broker"]),
        "historical_port": str(ports["historical"]),
        "middlemanager_port": str(ports["middleManager"]),
        "router_port": str(ports["router"]),
        "peon_start_port": str(ports["peons"]),
        "peon_java_opts": json.dumps(peon_opts),
    }


#: docker-compose values: service names as hosts, MinIO as S3, credentials from the compose env.
COMPOSE_VALUES = {
    "extensions_load_list": json.dumps(list(EXTENSIONS)),
    "druid_host": "",
    "zk_host": "zookeeper:2181",
    "metadata_uri": f"jdbc:postgresql://postgres:5432/{DRUID_DB}",
    "metadata_user": "${POSTGRES_USER:-ingest}",
    "metadata_password": "${POSTGRES_PASSWORD:-ingest-local}",
    "deep_storage_bucket": DEEP_STORAGE_BUCKET,
    "task_log_bucket": TASK_LOG_BUCKET,
    "s3_endpoint": "http://minio:9000",
    "s3_region": "us-east-1",
    "s3_protocol": "http",
    "s3_access_key": "${MINIO_ROOT_USER:-ingest-local}",
    "s3_secret_key": "${MINIO_ROOT_PASSWORD:-ingest-local-secret}",
    "var_dir": "/opt/druid/var",
    "coordinator_port": "8081",
    "broker_port": "8082",
    "historical_port": "8083",
    "middlemanager_port": "8091",
    "router_port": "8888",
    "peon_start_port": "8100",
    "peon_java_opts": json.dumps(peon_java_opts("us-east-1")),
}
# In the image every container sets druid.host to its own address.
COMPOSE_SKIPPED = {"druid.host"}


def write_local_conf(
    settings: StackSettings, conf_root: Path, var_dir: Path, peons: PeonLaunch | None = None
) -> None:
    """Render conf/_common and conf/<service> under the stack folder (classpath order matters);
    `peons`: the class path and class archive the middleManager starts its peons with."""
    values = local_values(settings, var_dir, peons.archive if peons else None)
    common_dir = conf_root / "_common"
    common_dir.mkdir(parents=True, exist_ok=True)
    write_properties(common_dir / "common.runtime.properties", render(template(None), values))
    (common_dir / "log4j2.xml").write_text((CONF_DIR / "log4j2.xml").read_text())
    for service in DRUID_SERVICES:
        service_dir = conf_root / service
        service_dir.mkdir(parents=True, exist_ok=True)
        props = render(template(service), values)
        if service == "middleManager" and peons is not None:
            props["druid.indexer.runner.classpath"] = peons.classpath
        write_properties(service_dir / "runtime.properties", props)


def write_properties(path: Path, props: dict[str, str]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    path.chmod(0o600)  # holds the S3 secret and the metadata password


def property_to_env(key: str) -> str:
    """druid.s3.accessKey -> druid_s3_accessKey (the image maps `__` to a literal `_`)."""
    return key.replace("_", "__").replace(".", "_")


def env_to_property(name: str) -> str:
    return name.replace("__", "\0").replace("_", ".").replace("\0", "_")


def compose_environment(service: str | None) -> dict[str, str]:
    """The druid_x_y variables docker-compose gives a Druid container (common or one service's)."""
    props = render(template(service), COMPOSE_VALUES)
    return {property_to_env(k): v for k, v in props.items() if k not in COMPOSE_SKIPPED}


def compose_env_file_text(service: str | None) -> str:
    header = (
        "# Generated from druid/conf by `ingest-pipeline stack compose-env`; do not edit.\n"
        "# docker-compose reads it as env_file; a test checks it matches druid/conf.\n"
    )
    body = "".join(f"{k}={v}\n" for k, v in compose_environment(service).items())
    return header + body


def compose_env_path(service: str | None) -> Path:
    return DRUID_DIR / "docker" / f"{service or 'common'}.env"


def write_compose_env_files() -> list[Path]:
    written = []
    for service in (None, *DRUID_SERVICES):
        path = compose_env_path(service)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(compose_env_file_text(service))
        written.append(path)
    return written
