"""ZooKeeper and Apache Druid: JVMs on the classpath Maven resolves from druid/pom.xml."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import httpx

from ingest_pipeline.stack import druid_conf, maven, processes
from ingest_pipeline.stack.base import (
    PidFileService,
    StackError,
    log,
    port_in_use,
    port_taken_error,
    wait_until,
    where,
)
from ingest_pipeline.stack.settings import DRUID_DIR, StackSettings, druid_lib_dir

S3_EXTENSION_MODULE = "org.apache.druid.storage.s3.S3StorageDruidModule"
POSTGRES_MODULE = "org.apache.druid.metadata.storage.postgresql.PostgreSQLMetadataStorageModule"

#: Druid's services in start order (ZooKeeper comes before all of them).
DRUID_SERVICES = ("coordinator-overlord", "historical", "broker", "middleManager", "router")


def resolve_druid_jars(log_dir: Path) -> Path:
    """`mvn` resolves Druid and its extensions from Maven Central into a cache outside the repo."""
    lib = druid_lib_dir()
    return maven.copy_dependencies(
        f"Druid {lib.parent.name}", DRUID_DIR / "pom.xml", lib, log_dir / "maven.log"
    )


class JavaService(PidFileService):
    """A JVM of the stack, found by a `-Dingest.stack.service=<name>` marker on its command line."""

    def __init__(self, settings: StackSettings, name: str) -> None:
        self.name = name
        super().__init__(settings)
        self.port = settings.druid_ports[name]
        self.marker = f"-Dingest.stack.service={name}"
        self.druid_home = settings.stack_dir / "druid"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, lib: Path) -> list[str]:
        raise NotImplementedError

    def start(self, lib: Path) -> bool:
        """Start unless already running; True if a process was started."""
        pid = self.pid()
        if pid and self.healthy_quietly():
            log(f"{self.name} already running (pid {pid})")
            return False
        if pid:
            log(f"{self.name} (pid {pid}) is running but not healthy yet; waiting for it")
            return False
        if port_in_use(self.port):
            other = other_stack_running(self.name, self.settings.stack_dir)
            if other is not None:
                raise StackError(
                    f"{self.name}: port {self.port} is taken by the stack in {other}: use that "
                    f"one (INGEST_STACK_DIR={other}) or stop it first "
                    f"(INGEST_STACK_DIR={other} ingest-pipeline stack down)"
                )
            raise port_taken_error(self.name, self.port, "http", self.log_file)
        log(f"starting {self.name} on {self.url}")
        processes.spawn(
            self.command(lib),
            pid_file=self.pid_file,
            log_file=self.log_file,
            cwd=self.druid_home,
            env=self.environment(),
        )
        return True

    def environment(self) -> dict[str, str]:
        return dict(os.environ)


class ZooKeeper(JavaService):
    """ZooKeeper from the same jars as Druid (Druid's services find each other through it)."""

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings, "zookeeper")

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self, lib: Path) -> list[str]:
        conf = self.druid_home / "conf"
        zoo_cfg = conf / "zoo.cfg"
        data = self.druid_home / "var" / "zk"
        data.mkdir(parents=True, exist_ok=True)
        zoo_cfg.write_text(
            f"tickTime=2000\ndataDir={data}\nclientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,stat\nmaxClientCnxns=0\n"
        )
        return [
            "java",
            self.marker,
            "-Xms64m",
            "-Xmx128m",
            "-XX:TieredStopAtLevel=1",
            # ZooKeeper's admin server wants a Jetty the Druid jars do not carry.
            "-Dzookeeper.admin.enableServer=false",
            f"-Dlog4j.configurationFile={conf / '_common' / 'log4j2.xml'}",
            "-cp",
            f"{lib}/*",
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(zoo_cfg),
        ]

    def healthy(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"ruok")
            return sock.recv(16) == b"imok"


class DruidService(JavaService):
    """One Druid service (coordinator-overlord, historical, broker, middleManager, router)."""

    def command(self, lib: Path) -> list[str]:
        conf = self.druid_home / "conf"
        tmp = self.druid_home / "var" / "tmp" / self.name
        tmp.mkdir(parents=True, exist_ok=True)
        server = "coordinator" if self.name == "coordinator-overlord" else self.name
        return [
            "java",
            self.marker,
            *druid_conf.jvm_options(self.name, self.settings.s3_region),
            f"-Djava.io.tmpdir={tmp}",
            "-cp",
            f"{conf / '_common'}:{conf / self.name}:{lib}/*",
            "org.apache.druid.cli.Main",
            "server",
            server,
        ]

    def healthy(self) -> bool:
        response = httpx.get(f"{self.url}/status/health", timeout=3)
        return response.status_code == 200 and response.json() is True

    def loaded_modules(self) -> set[str]:
        response = httpx.get(f"{self.url}/status", timeout=5)
        response.raise_for_status()
        return {module.get("name", "") for module in response.json().get("modules", [])}

    def environment(self) -> dict[str, str]:
        """Peons inherit this: ingestion specs name the S3 keys as `environment` password
        providers (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), so no secret sits in a spec."""
        return {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.settings.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": self.settings.s3_secret_key,
            "AWS_REGION": self.settings.s3_region,
        }


def other_stack_running(service: str, stack_dir: Path) -> Path | None:
    """The folder of another stack whose `service` JVM is running (found by the service's
    marker on its command line and its working directory, <stack>/druid), if any."""
    marker = f"-Dingest.stack.service={service}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker not in (proc / "cmdline").read_bytes().split(b"\0"):
                continue
            druid_home = Path(os.readlink(proc / "cwd"))
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if druid_home.parent.resolve() != stack_dir.resolve():
            return druid_home.parent
    return None


def check_extensions(coordinator: DruidService) -> None:
    """Druid starts even without its S3 and Postgres extensions; then nothing would work."""
    modules = coordinator.loaded_modules()
    missing = [m for m in (S3_EXTENSION_MODULE, POSTGRES_MODULE) if m not in modules]
    if missing:
        raise StackError(
            f"{coordinator.name}: started without {', '.join(missing)}; check that "
            f"{druid_lib_dir()} holds the extension jars{where(coordinator.log_file)}"
        )


#: The local stack's load rule: one copy of each segment (it has one historical). Druid's
#: default asks for 2; the coordinator can never place the second, and warns about every
#: segment on every run (each second here: 354 segments wrote 363 lines a second, and the
#: coordinator's log reached 1 GB). A real cluster keeps its own rules: only the stack sets this.
SINGLE_REPLICA_RULES = [{"type": "loadForever", "tieredReplicants": {"_default_tier": 1}}]


def keep_one_replica(coordinator: DruidService, timeout: float) -> bool:
    """Set the cluster-wide default load rule to one replica unless it is; True if it changed.
    Asked until the coordinator answers as leader (a fresh one answers 503 or 307 until then)."""
    rules_url = f"{coordinator.url}/druid/coordinator/v1/rules"
    changed: list[bool] = []

    def rule_is_set() -> bool:
        current = httpx.get(rules_url, timeout=10)
        current.raise_for_status()
        if current.json().get("_default") == SINGLE_REPLICA_RULES:
            return True
        # the headers name who changed the rule in Druid's audit log
        headers = {"X-Druid-Author": "ingest-pipeline stack", "X-Druid-Comment": "one historical"}
        httpx.post(
            f"{rules_url}/_default", json=SINGLE_REPLICA_RULES, headers=headers, timeout=10
        ).raise_for_status()
        changed.append(True)
        return False  # read back on the next try

    wait_until(
        rule_is_set,
        what=f"{coordinator.name} (its default load rule)",
        timeout=timeout,
        log_file=coordinator.log_file,
    )
    return bool(changed)


def wait_for_workers(overlord: DruidService, middle_manager: DruidService, timeout: float) -> None:
    """Tasks need a middleManager registered with the overlord, not merely alive."""

    def has_worker() -> bool:
        response = httpx.get(f"{overlord.url}/druid/indexer/v1/workers", timeout=5)
        return response.status_code == 200 and len(response.json()) > 0

    wait_until(
        has_worker,
        what="middleManager (registration with the overlord)",
        timeout=timeout,
        log_file=middle_manager.log_file,
    )


def stop_orphan_peons(druid_home: Path) -> list[str]:
    """Peon JVMs whose task dir is under this stack's druid folder (ours, by path)."""
    stopped = []
    task_dir = str(druid_home / "var" / "task")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "org.apache.druid.cli.Main internal peon" in cmdline and task_dir in cmdline:
            try:
                os.kill(int(proc.name), 9)
                stopped.append(f"peon {proc.name}")
            except ProcessLookupError:
                pass
    return stopped
