"""Where the local stack lives, which ports it uses, and the environment it hands to clients.

Everything is decided here once and written to ``<stack dir>/stack.env``: the pipeline, the
tests and a person's shell all read that one file instead of guessing endpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import socket
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DRUID_DIR = REPO_ROOT / "druid"
QUEUE_DIR = REPO_ROOT / "queue"

#: Buckets the pipeline uses; created on every `stack up` (idempotent).
UPLOADS_BUCKET = "ingest-uploads"
VALIDATED_BUCKET = "ingest-validated"
DEEP_STORAGE_BUCKET = "druid-deep-storage"
TASK_LOG_BUCKET = "druid-task-logs"
ALL_BUCKETS = (UPLOADS_BUCKET, VALIDATED_BUCKET, DEEP_STORAGE_BUCKET, TASK_LOG_BUCKET)

#: The SQS queue the S3 store's events go to (ElasticMQ's default account id in its URL), and
#: where messages that keep failing end up.
EVENTS_QUEUE = "ingest-events"
EVENTS_DEAD_LETTER_QUEUE = "ingest-events-dead"
ELASTICMQ_ACCOUNT = "000000000000"

#: Databases in the stack's Postgres.
DAGSTER_DB = "dagster"
DRUID_DB = "druid"

#: Druid's standard ports; the stack refuses to start a service whose port is taken.
DEFAULT_DRUID_PORTS = {
    "zookeeper": 2181,
    "coordinator-overlord": 8081,
    "broker": 8082,
    "historical": 8083,
    "middleManager": 8091,
    "router": 8888,
    "peons": 8100,  # first port of the middleManager's peons
}


#: Ports of the S3 store besides its S3 port, by `weed mini` flag (`-<flag>=<port>`). Each is
#: given explicitly: left to itself `weed mini` takes 9333, 8888 (Druid's router), 8333, ...
#: and silently moves to a neighbour when one is taken.
S3_STORE_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
    "webdav.port",
)
#: Below Linux's ephemeral range (32768-60999), so no outgoing connection takes a port of ours
#: between two `up`s, and above the well-known ports Druid, Postgres and Dagster use.
STACK_PORT_RANGE = (20000, 32000)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_stack_ports(count: int, avoid: set[int]) -> list[int]:
    """`count` distinct ports in STACK_PORT_RANGE that are free now and not in `avoid`."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(*STACK_PORT_RANGE)
        if port not in avoid and port not in chosen and port_is_free(port):
            chosen.append(port)
    return chosen


#: The stack folder outside a checkout (a wheel install has no druid/ nor scripts/ beside it).
HOME_STACK_DIR = Path.home() / ".ingest-pipeline" / "stack"
#: Either names the endpoints without a stack.env (a deployment's environment, docker-compose).
ENDPOINT_VARIABLES = ("INGEST_S3_ENDPOINT_URL", "INGEST_DRUID_ROUTER_URL")


class StackNotFound(RuntimeError):
    """No stack.env where the stack is looked for: no stack was brought up there."""

    def __init__(self, env_file: Path) -> None:
        self.env_file = env_file
        super().__init__(f"no stack found: {env_file} does not exist")


def checkout_stack_dir() -> Path:
    """The checkout's `.stack`, where scripts/demo.sh and scripts/test.sh keep theirs and every
    command looks by default; ~/.ingest-pipeline/stack when not run from a checkout."""
    return REPO_ROOT / ".stack" if (REPO_ROOT / "pyproject.toml").exists() else HOME_STACK_DIR


def default_stack_dir() -> Path:
    """$INGEST_STACK_DIR, else the checkout's `.stack`."""
    return Path(os.environ.get("INGEST_STACK_DIR") or checkout_stack_dir())


def use_stack_env(stack_dir: Path | None = None) -> Path | None:
    """Put the stack's endpoints (its stack.env) into os.environ, leaving variables already
    set alone; the file used. Without one the environment must name the endpoints itself
    (ENDPOINT_VARIABLES), else StackNotFound."""
    env_file = (stack_dir or default_stack_dir()) / "stack.env"
    if not env_file.exists():
        if any(name in os.environ for name in ENDPOINT_VARIABLES):
            return None
        raise StackNotFound(env_file)
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        if key and key not in os.environ:
            os.environ[key] = value
    return env_file


def queue_lib_dir() -> Path:
    """ElasticMQ's Maven-resolved jars, keyed by queue/pom.xml's content (like Druid's)."""
    cache = Path(
        os.environ.get("INGEST_QUEUE_CACHE", Path.home() / ".cache" / "ingest-pipeline" / "queue")
    )
    digest = hashlib.sha256((QUEUE_DIR / "pom.xml").read_bytes()).hexdigest()[:12]
    return cache / digest / "lib"


def druid_version() -> str:
    """The Druid release named by druid/pom.xml (the launcher and docker-compose use the same)."""
    text = (DRUID_DIR / "pom.xml").read_text()
    start = text.index("<druid.version>") + len("<druid.version>")
    return text[start : text.index("</druid.version>", start)].strip()


def druid_lib_dir() -> Path:
    """Maven-resolved jars outside the repo, keyed by the pom's content (a change re-resolves)."""
    cache = Path(
        os.environ.get("INGEST_DRUID_CACHE", Path.home() / ".cache" / "ingest-pipeline" / "druid")
    )
    digest = hashlib.sha256((DRUID_DIR / "pom.xml").read_bytes()).hexdigest()[:12]
    return cache / f"{druid_version()}-{digest}" / "lib"


@dataclass
class StackSettings:
    """Ports and credentials of one stack; persisted so `up` twice reuses the same ports."""

    stack_dir: Path
    postgres_port: int
    s3_port: int
    druid_ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DRUID_PORTS))
    postgres_user: str = "ingest"
    # Secrets are made per stack (kept in settings.json, mode 0600), so none is in the repo and
    # the secret-leak tests search for values that appear nowhere else.
    postgres_password: str = field(default_factory=lambda: "pg-" + secrets.token_hex(12))
    s3_access_key: str = field(default_factory=lambda: "ik" + secrets.token_hex(8))
    s3_secret_key: str = field(default_factory=lambda: "s3-" + secrets.token_hex(16))
    s3_region: str = "us-east-1"
    dagster_port: int = 3000
    #: The S3 store's other ports (see S3_STORE_PORT_FLAGS), chosen at the first `up`.
    s3_store_ports: dict[str, int] = field(default_factory=dict)
    #: The SQS-compatible queue (ElasticMQ), chosen at the first `up` (0: not chosen yet).
    queue_port: int = 0
    # An existing Postgres or S3 endpoint given by environment; then the stack does not start one.
    external_postgres_host: str | None = None
    external_s3_endpoint: str | None = None

    @property
    def settings_file(self) -> Path:
        return self.stack_dir / "settings.json"

    @property
    def env_file(self) -> Path:
        return self.stack_dir / "stack.env"

    @property
    def log_dir(self) -> Path:
        return self.stack_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.stack_dir / "run"

    @property
    def postgres_host(self) -> str:
        return self.external_postgres_host or "127.0.0.1"

    @property
    def s3_endpoint(self) -> str:
        """The S3 endpoint as Dagster sees it."""
        return self.external_s3_endpoint or f"http://127.0.0.1:{self.s3_port}"

    @property
    def druid_s3_endpoint(self) -> str:
        """The S3 endpoint as Druid's workers see it: the same host in the local stack (it
        differs in docker-compose, which sets INGEST_DRUID_S3_ENDPOINT_URL itself)."""
        return self.s3_endpoint

    @property
    def s3_data_dir(self) -> Path:
        return self.stack_dir / "s3data"

    @property
    def s3_config_file(self) -> Path:
        return self.stack_dir / "s3.json"

    @property
    def queue_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.queue_port}"

    @property
    def events_queue_url(self) -> str:
        """The queue the relay sends the uploads bucket's S3 events to; the sensor reads it
        when INGEST_EVENTS_QUEUE_URL names it."""
        return f"{self.queue_endpoint}/{ELASTICMQ_ACCOUNT}/{EVENTS_QUEUE}"

    def druid_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.druid_ports[service]}"

    def postgres_url(self, database: str) -> str:
        return (
            f"postgresql://{self.postgres_user}:{self.postgres_password}"
            f"@{self.postgres_host}:{self.postgres_port}/{database}"
        )

    def client_env(self) -> dict[str, str]:
        """What the pipeline, dagster.yaml and the tests read."""
        return {
            "INGEST_S3_ENDPOINT_URL": self.s3_endpoint,
            "INGEST_DRUID_S3_ENDPOINT_URL": self.druid_s3_endpoint,
            "INGEST_S3_REGION": self.s3_region,
            "AWS_ACCESS_KEY_ID": self.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3_secret_key,
            "AWS_DEFAULT_REGION": self.s3_region,
            "INGEST_UPLOADS_BUCKET": UPLOADS_BUCKET,
            "INGEST_UPLOADS_PREFIX": "uploads/",
            "INGEST_DATASETS_CONFIG": str(REPO_ROOT / "datasets.yaml"),
            "INGEST_VALIDATED_BUCKET": VALIDATED_BUCKET,
            "INGEST_DRUID_ROUTER_URL": self.druid_url("router"),
            "INGEST_DRUID_OVERLORD_URL": self.druid_url("coordinator-overlord"),
            "INGEST_DRUID_COORDINATOR_URL": self.druid_url("coordinator-overlord"),
            "INGEST_DRUID_BROKER_URL": self.druid_url("broker"),
            # Read only when INGEST_EVENTS_QUEUE_URL is set (events_queue_url): the sensor
            # still lists the bucket by default.
            "INGEST_SQS_ENDPOINT_URL": self.queue_endpoint,
            "DAGSTER_PG_HOST": self.postgres_host,
            "DAGSTER_PG_PORT": str(self.postgres_port),
            "DAGSTER_PG_USER": self.postgres_user,
            "DAGSTER_PG_PASSWORD": self.postgres_password,
            "DAGSTER_PG_DB": DAGSTER_DB,
            "DAGSTER_HOME": str(self.dagster_home),
        }

    @property
    def dagster_home(self) -> Path:
        return self.stack_dir / "dagster_home"

    def write_dagster_home(self) -> None:
        """DAGSTER_HOME for the CLI and `dagster dev`: the project's dagster.yaml (Postgres)."""
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        config = (REPO_ROOT / "dagster.yaml").read_text()
        replace_file(self.dagster_home / "dagster.yaml", config)

    def write_env_file(self) -> None:
        lines = [f"{key}={value}" for key, value in self.client_env().items()]
        replace_file(self.env_file, "\n".join(lines) + "\n", private=True)

    def save(self) -> None:
        self.stack_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["stack_dir"] = str(self.stack_dir)
        replace_file(self.settings_file, json.dumps(data, indent=2), private=True)


def replace_file(path: Path, text: str, private: bool = False) -> None:
    """Write `path` whole or not at all: the text goes to a file of its own beside it, then
    takes its name. Every `stack up` writes these files, and two pytest-xdist workers both
    bring the stack up at session start: one read the other's settings.json truncated and
    empty (JSONDecodeError at fixture setup). `private`: only the owner may read it (it holds
    the stack's passwords)."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as partial:
        partial.write(text)
    written = Path(partial.name)
    written.chmod(0o600 if private else 0o644)
    written.replace(path)


def load_settings(stack_dir: Path | None = None) -> StackSettings:
    """Settings of the stack in ``stack_dir``: saved ones if any, else fresh free ports.

    Environment overrides (an existing server instead of a local one):
    INGEST_STACK_POSTGRES_HOST/PORT/USER/PASSWORD and
    INGEST_STACK_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY.
    """
    stack_dir = stack_dir or default_stack_dir()
    saved = stack_dir / "settings.json"
    if saved.exists():
        data = json.loads(saved.read_text())
        data["stack_dir"] = Path(data["stack_dir"])
        data["druid_ports"] = {**DEFAULT_DRUID_PORTS, **data.get("druid_ports", {})}
        settings = StackSettings(**data)
    else:
        postgres_port, s3_port = free_stack_ports(2, set())
        settings = StackSettings(stack_dir=stack_dir, postgres_port=postgres_port, s3_port=s3_port)
        # A second stack beside a running one (a CI rehearsal next to a dev stack) shifts ports.
        offset = int(os.environ.get("INGEST_STACK_PORT_OFFSET", "0"))
        settings.druid_ports = {name: port + offset for name, port in DEFAULT_DRUID_PORTS.items()}
        settings.dagster_port += offset
    missing = [flag for flag in S3_STORE_PORT_FLAGS if flag not in settings.s3_store_ports]
    if missing:
        taken = {settings.postgres_port, settings.s3_port, settings.dagster_port}
        taken |= set(settings.druid_ports.values()) | set(settings.s3_store_ports.values())
        ports = free_stack_ports(len(missing), taken)
        settings.s3_store_ports.update(zip(missing, ports, strict=True))
    if not settings.queue_port:
        taken = {settings.postgres_port, settings.s3_port, settings.dagster_port}
        taken |= set(settings.druid_ports.values()) | set(settings.s3_store_ports.values())
        settings.queue_port = free_stack_ports(1, taken)[0]
    env = os.environ
    if env.get("INGEST_STACK_POSTGRES_HOST"):
        settings.external_postgres_host = env["INGEST_STACK_POSTGRES_HOST"]
        settings.postgres_port = int(env.get("INGEST_STACK_POSTGRES_PORT", "5432"))
        settings.postgres_user = env.get("INGEST_STACK_POSTGRES_USER", settings.postgres_user)
        settings.postgres_password = env.get(
            "INGEST_STACK_POSTGRES_PASSWORD", settings.postgres_password
        )
    if env.get("INGEST_STACK_S3_ENDPOINT"):
        settings.external_s3_endpoint = env["INGEST_STACK_S3_ENDPOINT"]
        settings.s3_access_key = env.get("INGEST_STACK_S3_ACCESS_KEY", settings.s3_access_key)
        settings.s3_secret_key = env.get("INGEST_STACK_S3_SECRET_KEY", settings.s3_secret_key)
    return settings
