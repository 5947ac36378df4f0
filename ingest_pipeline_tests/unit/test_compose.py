"""docker-compose cannot run here; this proves it configures Druid as the local stack does."""

from __future__ import annotations

from pathlib import Path

import yaml

from ingest_pipeline.stack import druid_conf
from ingest_pipeline.stack.settings import REPO_ROOT, StackSettings, druid_version

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
COMPOSE_SERVICE = {
    "coordinator": "coordinator-overlord",
    "broker": "broker",
    "historical": "historical",
    "middlemanager": "middleManager",
    "router": "router",
}
S3_AND_EXTENSION_KEYS = {
    "druid.storage.type": "s3",
    "druid.indexer.logs.type": "s3",
    "druid.s3.enablePathStyleAccess": "true",
    "druid.s3.disableChunkedEncoding": "true",
    "druid.storage.disableAcl": "true",
    "druid.indexer.logs.disableAcl": "true",
    "druid.metadata.storage.type": "postgresql",
}


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def local_properties(service: str | None) -> dict[str, str]:
    settings = StackSettings(stack_dir=Path("/tmp/x"), postgres_port=5432, s3_port=9000)
    values = druid_conf.local_values(settings, Path("/tmp/x/var"))
    return druid_conf.render(druid_conf.template(service), values)


def compose_properties(service: str | None) -> dict[str, str]:
    env = read_env_file(druid_conf.compose_env_path(service))
    return {druid_conf.env_to_property(k): v for k, v in env.items()}


def test_env_files_are_generated_from_druid_conf() -> None:
    for service in (None, *druid_conf.DRUID_SERVICES):
        committed = druid_conf.compose_env_path(service).read_text()
        assert committed == druid_conf.compose_env_file_text(service), (
            f"{druid_conf.compose_env_path(service)} is stale: run "
            "`ingest-pipeline stack compose-env`"
        )


def test_druid_containers_use_the_pom_release_and_the_generated_env_files() -> None:
    for name, service in COMPOSE_SERVICE.items():
        spec = COMPOSE["services"][name]
        assert spec["image"] == f"apache/druid:{druid_version()}"
        assert spec["env_file"] == ["druid/docker/common.env", f"druid/docker/{service}.env"]
        assert (REPO_ROOT / spec["env_file"][1]).exists()


def test_compose_and_local_stack_agree_on_s3_and_extension_properties() -> None:
    for service in (None, *druid_conf.DRUID_SERVICES):
        local = local_properties(service)
        compose = compose_properties(service)
        assert set(compose) == set(local) - druid_conf.COMPOSE_SKIPPED
        templ = druid_conf.template(service)
        for key, raw in templ.items():
            if "{{" not in raw and key not in druid_conf.COMPOSE_SKIPPED:
                assert compose[key] == local[key] == raw, key
    common_local, common_compose = local_properties(None), compose_properties(None)
    for key, value in S3_AND_EXTENSION_KEYS.items():
        assert common_local[key] == common_compose[key] == value, key
    # Both name an explicit endpoint and region; the protocol matches the endpoint's scheme.
    for props in (common_local, common_compose):
        assert props["druid.s3.endpoint.url"].startswith(props["druid.s3.protocol"] + "://")
        assert props["druid.s3.endpoint.signingRegion"] == "us-east-1"
    # The image loads extensions by name; the local stack puts the same ones on the classpath.
    assert common_compose["druid.extensions.loadList"] == (
        '["druid-s3-extensions", "postgresql-metadata-storage"]'
    )
    assert common_local["druid.extensions.loadList"] == "[]"
    pom = (REPO_ROOT / "druid" / "pom.xml").read_text()
    for extension in druid_conf.EXTENSIONS:
        assert f"<artifactId>{extension}</artifactId>" in pom


def test_peons_get_region_and_credentials_in_both() -> None:
    for props in (local_properties("middleManager"), compose_properties("middleManager")):
        assert "-Daws.region=us-east-1" in props["druid.indexer.runner.javaOptsArray"]
    middlemanager_env = COMPOSE["services"]["middlemanager"]["environment"]
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"} <= set(middlemanager_env)


def test_dagster_services_use_postgres_storage() -> None:
    dagster_yaml = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert "postgres" in dagster_yaml["storage"]
    for name in ("dagster-user-code", "dagster-webserver", "dagster-daemon"):
        env = COMPOSE["services"][name]["environment"]
        assert env["DAGSTER_PG_HOST"] == "postgres"


def test_one_middle_manager_lost_mid_assignment_does_not_stall_every_pending_task() -> None:
    # Druid's defaults (PT5M, 1 thread) held all ingestion for 4 min 40 s after one kill in
    # the soak: the only assigning thread waited out a task the dead worker never took
    overlord = druid_conf.template("coordinator-overlord")
    timeout = overlord["druid.indexer.runner.taskAssignmentTimeout"]
    assert timeout.startswith("PT") and timeout.endswith(("S", "M"))
    seconds = int(timeout[2:-1]) * (60 if timeout.endswith("M") else 1)
    assert 10 <= seconds <= 60  # above a loaded box's assignment (0.1 s idle), far below 5 min
    assert int(overlord["druid.indexer.runner.pendingTasksRunnerNumThreads"]) >= 2
    compose = druid_conf.compose_environment("coordinator-overlord")
    assert compose["druid_indexer_runner_taskAssignmentTimeout"] == timeout
