"""The local stack: Postgres, an S3-API server (moto), ZooKeeper and Apache Druid, no Docker.

`up` is idempotent: a service whose pid file names a live process of ours that answers its
health check is left alone. Each wait is bounded; a service that does not come up fails `up`
with its name and the tail of its log.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import psycopg2
from botocore.config import Config as BotoConfig

from ingest_pipeline.stack import druid_conf, processes
from ingest_pipeline.stack.settings import (
    ALL_BUCKETS,
    DAGSTER_DB,
    DRUID_DB,
    DRUID_DIR,
    REPO_ROOT,
    StackSettings,
    druid_lib_dir,
)

S3_EXTENSION_MODULE = "org.apache.druid.storage.s3.S3StorageDruidModule"
POSTGRES_MODULE = "org.apache.druid.metadata.storage.postgresql.PostgreSQLMetadataStorageModule"


class StackError(RuntimeError):
    """A service did not start or answer; the message names it and carries its log tail."""


@dataclass
class ServiceStatus:
    name: str
    state: str  # "up", "down", "unhealthy", "external"
    pid: int | None
    url: str
    detail: str = ""


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def wait_until(
    check: Callable[[], bool], *, what: str, timeout: float, log_file: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure means "not yet"
            pass
        time.sleep(1.0)
    tail = processes.tail(log_file) if log_file else ""
    raise StackError(f"{what} did not come up within {timeout:.0f}s. Last log lines:\n{tail}")


# --------------------------------------------------------------------------- Postgres


def postgres_bin(name: str) -> str:
    """Debian installs server binaries under /usr/lib/postgresql/<version>/bin, off PATH."""
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    if found:
        return found
    raise StackError(
        f"PostgreSQL server binary '{name}' not found. Install Debian's server "
        "(apt-get install postgresql) or point INGEST_STACK_POSTGRES_HOST at an existing server."
    )


class Postgres:
    name = "postgres"
    marker = "postgres"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        # Postgres refuses to run as root; as root it runs as the `postgres` user, whose data
        # must sit where that user can reach (not under a 0700 home or mktemp folder).
        self.run_as = "postgres" if os.geteuid() == 0 else None
        if self.run_as:
            digest = hashlib.sha256(str(settings.stack_dir).encode()).hexdigest()[:10]
            self.base = Path("/var/lib/ingest-pipeline") / f"postgres-{digest}"
        else:
            self.base = settings.stack_dir / "postgres"
        self.data_dir = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.log_file = settings.log_dir / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{self.settings.postgres_host}:{self.settings.postgres_port}"

    def _as_user(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    def pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if processes.is_alive(pid) else None

    def healthy(self) -> bool:
        try:
            conn = psycopg2.connect(self.settings.postgres_url("postgres"), connect_timeout=3)
        except psycopg2.Error:
            return False
        conn.close()
        return True

    def start(self) -> None:
        if self.settings.external_postgres_host:
            wait_until(self.healthy, what="external Postgres", timeout=30)
            self.create_databases()
            return
        if self.pid() and self.healthy():
            log(f"postgres already running (pid {self.pid()})")
            return
        self.base.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            for path in (self.base, self.socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)
            link = self.settings.stack_dir / "postgres"
            if not link.exists():
                link.symlink_to(self.base)
        self._drop_stale_cluster()
        if not (self.data_dir / "PG_VERSION").exists():
            log(f"initdb {self.data_dir}")
            pwfile = self.base / "pwfile"
            pwfile.write_text(self.settings.postgres_password + "\n")
            if self.run_as:
                user = pwd.getpwnam(self.run_as)
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            subprocess.run(
                self._as_user(
                    [
                        postgres_bin("initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        self.settings.postgres_user,
                        f"--pwfile={pwfile}",
                        "--auth-host=scram-sha-256",
                        "--auth-local=trust",
                        "-E",
                        "UTF8",
                        "--no-locale",
                    ]
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
            pwfile.unlink()
            self.owner_file.write_text(self._owner())
        log(f"starting postgres on 127.0.0.1:{self.settings.postgres_port}")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.settings.postgres_port} "
            f"-c unix_socket_directories={self.socket_dir} -c max_connections=200 "
            "-c shared_buffers=64MB -c fsync=off -c synchronous_commit=off"
        )
        # pg_ctl writes the server log to a file the postgres user can write.
        server_log = self.base / "server.log"
        subprocess.run(
            self._as_user(
                [
                    postgres_bin("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(server_log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        self._link_log(server_log)
        wait_until(self.healthy, what="postgres", timeout=60, log_file=server_log)
        self.create_databases()

    @property
    def owner_file(self) -> Path:
        return self.base / "owner"

    def _owner(self) -> str:
        """Which stack (folder + password) made the cluster; a new stack in a reused folder
        has new random credentials and must not inherit an old cluster it cannot log in to."""
        digest = hashlib.sha256(self.settings.postgres_password.encode()).hexdigest()
        return f"{self.settings.stack_dir}\n{digest}\n"

    def _drop_stale_cluster(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists():
            return
        if self.owner_file.exists() and self.owner_file.read_text() == self._owner():
            return
        log(f"removing a Postgres cluster left by an earlier stack in {self.base}")
        shutil.rmtree(self.data_dir)

    def _link_log(self, server_log: Path) -> None:
        if not self.log_file.exists() and not self.log_file.is_symlink():
            self.log_file.symlink_to(server_log)

    def create_databases(self) -> None:
        conn = psycopg2.connect(self.settings.postgres_url("postgres"), connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in (DAGSTER_DB, DRUID_DB):
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{db}"')
        conn.close()

    def stop(self) -> bool:
        if self.settings.external_postgres_host or not self.pid():
            return False
        stopped = subprocess.run(
            self._as_user(
                [postgres_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
        )
        return stopped.returncode == 0  # pg_ctl failed: the server may well still be running

    def wipe(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def status(self) -> ServiceStatus:
        if self.settings.external_postgres_host:
            state = "external" if self.healthy() else "unhealthy"
            return ServiceStatus(self.name, state, None, self.url)
        pid = self.pid()
        state = "down" if pid is None else ("up" if self.healthy() else "unhealthy")
        return ServiceStatus(self.name, state, pid, self.url)


class PidFileService:
    """A process of ours found by pid file and marker; subclasses say how to check health."""

    name: str
    marker: str
    pid_file: Path
    url: str

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.pid_file = settings.run_dir / f"{self.name}.pid"
        self.log_file = settings.log_dir / f"{self.name}.log"

    def healthy(self) -> bool:
        raise NotImplementedError

    def healthy_quietly(self) -> bool:
        try:
            return self.healthy()
        except Exception:  # noqa: BLE001 - any failure means "not healthy"
            return False

    def pid(self) -> int | None:
        return processes.running_pid(self.pid_file, self.marker)

    def stop(self) -> bool:
        return processes.terminate(self.pid_file, self.marker)

    def status(self) -> ServiceStatus:
        pid = self.pid()
        state = "down" if pid is None else ("up" if self.healthy_quietly() else "unhealthy")
        return ServiceStatus(self.name, state, pid, self.url)


# --------------------------------------------------------------------------- S3 (moto server)


def s3_client(settings: StackSettings, endpoint: str | None = None):  # noqa: ANN201
    return boto3.client(
        "s3",
        endpoint_url=endpoint or settings.s3_endpoint,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        region_name=settings.s3_region,
        config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )


class S3Server(PidFileService):
    name = "s3"
    marker = "moto"

    @property
    def url(self) -> str:
        return self.settings.s3_endpoint

    def healthy(self) -> bool:
        s3_client(self.settings).list_buckets()
        return True

    @property
    def recording(self) -> Path:
        """Every request moto served, appended as it comes: what a restart replays."""
        return self.settings.stack_dir / "s3" / "requests.jsonl"

    def start(self) -> None:
        replay = False
        if not self.settings.external_s3_endpoint:
            pid = self.pid()
            if pid and self.healthy_quietly():
                log(f"s3 already running (pid {pid})")
            else:
                log(f"starting S3 server (moto) on {self.url}")
                self.recording.parent.mkdir(parents=True, exist_ok=True)
                replay = self.recording.exists() and self.recording.stat().st_size > 0
                processes.spawn(
                    [
                        sys.executable,
                        "-m",
                        "moto.server",
                        "-H",
                        "127.0.0.1",
                        "-p",
                        str(self.settings.s3_port),
                    ],
                    pid_file=self.pid_file,
                    log_file=self.log_file,
                    cwd=self.settings.stack_dir,
                    # moto keeps objects in memory only; its recorder is our write-ahead log.
                    env={
                        **os.environ,
                        "MOTO_ENABLE_RECORDING": "true",
                        "MOTO_RECORDER_FILEPATH": str(self.recording),
                    },
                )
        wait_until(self.healthy, what="S3 server", timeout=60, log_file=self.log_file)
        if replay:
            self.replay()
        self.create_buckets()

    def replay(self) -> None:
        """Restore what the previous server held by replaying its recorded requests in order.

        Objects uploaded in several parts (boto3 does so above 8 MB) do not come back: a
        replayed part names an upload id the new server never issued.
        """
        started = time.monotonic()
        size_mb = self.recording.stat().st_size / 1e6
        response = httpx.post(f"{self.url}/moto-api/recorder/replay-recording", timeout=1800)
        response.raise_for_status()
        log(
            f"s3 state restored from {size_mb:.0f} MB of recorded requests in "
            f"{time.monotonic() - started:.0f}s"
        )

    def create_buckets(self) -> None:
        client = s3_client(self.settings)
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in ALL_BUCKETS:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)

    def stop(self) -> bool:
        return False if self.settings.external_s3_endpoint else super().stop()

    def status(self) -> ServiceStatus:
        if self.settings.external_s3_endpoint:
            state = "external" if self.healthy_quietly() else "unhealthy"
            return ServiceStatus(self.name, state, None, self.url)
        return super().status()


# --------------------------------------------------------------------------- Druid


def resolve_druid_jars() -> Path:
    """`mvn` resolves Druid and its extensions from Maven Central into a cache outside the repo."""
    lib = druid_lib_dir()
    marker = lib / ".complete"
    if marker.exists():
        return lib
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is needed to resolve Druid: apt-get install maven")
    log(f"resolving Druid {lib.parent.name} with Maven into {lib} (first run only)")
    lib.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = subprocess.run(
        [
            "mvn",
            "-B",
            "-q",
            "-s",
            str(DRUID_DIR / "settings.xml"),
            "-f",
            str(DRUID_DIR / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={lib}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"Maven could not resolve Druid:\n{result.stdout[-4000:]}")
    marker.write_text(f"resolved in {time.monotonic() - started:.0f}s\n")
    return lib


class JavaService(PidFileService):
    """ZooKeeper or one Druid service: a JVM on the Maven-resolved classpath."""

    def __init__(self, settings: StackSettings, name: str) -> None:
        self.name = name
        super().__init__(settings)
        self.port = settings.druid_ports[name]
        self.marker = f"-Dingest.stack.service={name}"
        self.druid_home = settings.stack_dir / "druid"

    @property
    def url(self) -> str:
        if self.name == "zookeeper":
            return f"127.0.0.1:{self.port}"
        return f"http://127.0.0.1:{self.port}"

    def command(self, lib: Path) -> list[str]:
        conf = self.druid_home / "conf"
        if self.name == "zookeeper":
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
        if self.name == "zookeeper":
            import socket

            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"ruok")
                return sock.recv(16) == b"imok"
        response = httpx.get(f"{self.url}/status/health", timeout=3)
        return response.status_code == 200 and response.json() is True

    def loaded_modules(self) -> set[str]:
        response = httpx.get(f"{self.url}/status", timeout=5)
        response.raise_for_status()
        return {module.get("name", "") for module in response.json().get("modules", [])}

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
            raise StackError(
                f"{self.name}: port {self.port} is taken by a process that is not this stack's. "
                "Stop it, or run `ingest-pipeline stack down` for a stack in another folder."
            )
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
        """Peons inherit this: ingestion specs name the S3 keys as `environment` password
        providers (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), so no secret sits in a spec."""
        return {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.settings.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": self.settings.s3_secret_key,
            "AWS_REGION": self.settings.s3_region,
        }

    def wait_healthy(self, timeout: float) -> None:
        def alive_and_healthy() -> bool:
            if self.pid() is None:
                raise_dead(self)
            return self.healthy()

        wait_until(alive_and_healthy, what=self.name, timeout=timeout, log_file=self.log_file)


def raise_dead(service: JavaService) -> None:
    raise StackError(
        f"{service.name} exited while starting. Last log lines of {service.log_file}:\n"
        f"{processes.tail(service.log_file)}"
    )


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --------------------------------------------------------------------------- Dagster


class DagsterService(PidFileService):
    """`dagster dev`: webserver + daemon (sensor ticks, queued runs) on the stack's Postgres."""

    name = "dagster"
    marker = "dagster dev"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.dagster_port}"

    def healthy(self) -> bool:
        return httpx.get(f"{self.url}/server_info", timeout=3).status_code == 200

    def start(self, timeout: float = 180.0) -> None:
        pid = self.pid()
        if pid and self.healthy_quietly():
            log(f"dagster already running (pid {pid})")
            return
        if not pid:
            log(f"starting dagster (webserver + daemon) on {self.url}")
            processes.spawn(
                [
                    str(Path(sys.executable).parent / "dagster"),
                    "dev",
                    "-w",
                    str(REPO_ROOT / "workspace.yaml"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.settings.dagster_port),
                ],
                pid_file=self.pid_file,
                log_file=self.log_file,
                cwd=REPO_ROOT,
                env={**os.environ, **self.settings.client_env()},
            )
        wait_until(self.healthy, what="dagster", timeout=timeout, log_file=self.log_file)


# --------------------------------------------------------------------------- the whole stack

DRUID_START_ORDER = (
    "zookeeper",
    "coordinator-overlord",
    "historical",
    "broker",
    "middleManager",
    "router",
)


class Stack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.postgres = Postgres(settings)
        self.s3 = S3Server(settings)
        self.java = {name: JavaService(settings, name) for name in DRUID_START_ORDER}
        self.dagster = DagsterService(settings)

    def up(self, service_timeout: float = 300.0, with_dagster: bool = False) -> None:
        started_at = time.monotonic()
        for folder in (self.settings.stack_dir, self.settings.log_dir, self.settings.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.settings.save()
        self.postgres.start()
        self.s3.start()
        lib = resolve_druid_jars()
        druid_conf.write_local_conf(
            self.settings, self.settings.stack_dir / "druid" / "conf", self._druid_var()
        )
        # ZooKeeper and the coordinator first (the others register through them); the rest
        # start together to overlap their JVM warm-up on 2 cores.
        zookeeper = self.java["zookeeper"]
        zookeeper.start(lib)
        zookeeper.wait_healthy(60)
        for name in DRUID_START_ORDER[1:]:
            self.java[name].start(lib)
        for name in DRUID_START_ORDER[1:]:
            self.java[name].wait_healthy(service_timeout)
        self._check_extensions()
        self._wait_for_workers(service_timeout)
        self.settings.write_env_file()
        self.settings.write_dagster_home()
        if with_dagster:
            self.dagster.start(service_timeout)
        log(f"stack is up in {time.monotonic() - started_at:.0f}s")

    def _druid_var(self) -> Path:
        var = self.settings.stack_dir / "druid" / "var"
        var.mkdir(parents=True, exist_ok=True)
        return var

    def _check_extensions(self) -> None:
        coordinator = self.java["coordinator-overlord"]
        modules = coordinator.loaded_modules()
        missing = [m for m in (S3_EXTENSION_MODULE, POSTGRES_MODULE) if m not in modules]
        if missing:
            raise StackError(
                f"Druid started without {missing}; deep storage and metadata would not work. "
                f"Check {druid_lib_dir()} holds the extension jars."
            )

    def _wait_for_workers(self, timeout: float) -> None:
        """Tasks need a middleManager registered with the overlord, not merely alive."""
        overlord = self.java["coordinator-overlord"].url

        def has_worker() -> bool:
            response = httpx.get(f"{overlord}/druid/indexer/v1/workers", timeout=5)
            return response.status_code == 200 and len(response.json()) > 0

        wait_until(
            has_worker,
            what="middleManager registration with the overlord",
            timeout=timeout,
            log_file=self.java["middleManager"].log_file,
        )

    def down(self, wipe: bool = False) -> list[str]:
        stopped = ["dagster"] if self.dagster.stop() else []
        for name in reversed(DRUID_START_ORDER):
            if self.java[name].stop():
                stopped.append(name)
        # Peons are the middleManager's children in their own sessions; stop any left over.
        stopped += stop_orphan_peons(self.settings.stack_dir / "druid")
        if self.s3.stop():
            stopped.append("s3")
        if self.postgres.stop():
            stopped.append("postgres")
        if wipe:
            self.postgres.wipe()
            shutil.rmtree(self.settings.stack_dir, ignore_errors=True)
        return stopped

    def status(self) -> list[ServiceStatus]:
        statuses = [self.postgres.status(), self.s3.status()]
        statuses += [service.status() for service in self.java.values()]
        dagster = self.dagster.status()
        return statuses + ([dagster] if dagster.state != "down" else [])

    def service_log(self, name: str) -> Path:
        return self.settings.log_dir / f"{name}.log"


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
