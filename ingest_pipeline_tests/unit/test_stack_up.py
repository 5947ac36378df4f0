"""`stack up` that fails stops what it started in that call and leaves alone what ran before;
where the stack is looked for; a port held by another stack is named with that stack."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from ingest_pipeline.stack import stack as stack_module
from ingest_pipeline.stack.base import Service, StackError, port_taken_error
from ingest_pipeline.stack.druid import DRUID_SERVICES as DRUID
from ingest_pipeline.stack.druid import other_stack_running
from ingest_pipeline.stack.settings import (
    REPO_ROOT,
    StackNotFound,
    StackSettings,
    default_stack_dir,
    use_stack_env,
)
from ingest_pipeline.stack.stack import Stack


class FakeService(Service):
    """A service that records its starts and stops; `running` says whether it runs now."""

    def __init__(
        self, settings: StackSettings, name: str, events: list[str], running: bool = False
    ) -> None:
        super().__init__(settings)
        self.name = name
        self.events = events
        self.running = running
        self.log_file = settings.log_dir / f"{name}.log"
        self.failure: BaseException | None = None

    @property
    def url(self) -> str:
        return f"fake://{self.name}"

    def pid(self) -> int | None:
        return 4242 if self.running else None

    def healthy(self) -> bool:
        return self.running

    def start(self, *args: object) -> None:
        if self.failure is not None:
            raise self.failure
        if not self.running:
            self.events.append(f"start {self.name}")
            self.running = True

    def launch(self) -> bool:
        """The queue's start without its wait."""
        self.start()
        return True

    def wait_healthy(self, timeout: float) -> None:
        pass

    def stop(self) -> bool:
        if not self.running:
            return False
        self.events.append(f"stop {self.name}")
        self.running = False
        return True


class NoArchiveDump:
    """The peons' class archive is not dumped (a JVM of its own for 10 s)."""

    def __init__(self, *args: object) -> None:
        pass

    def finish(self) -> bool:
        return False


def fake_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, running: set[str]
) -> tuple[Stack, dict[str, FakeService], list[str]]:
    """A Stack whose services are fakes (those in `running` already run); Maven, Druid's conf,
    the peons' class archive and Druid's own checks are skipped."""
    settings = StackSettings(stack_dir=tmp_path / "stack", postgres_port=1, s3_port=2)
    stack = Stack(settings)
    events: list[str] = []
    names = ["postgres", "s3", "queue", "zookeeper", *stack.druid, "s3-events", "dagster"]
    fakes = {name: FakeService(settings, name, events, name in running) for name in names}
    stack.postgres, stack.s3, stack.dagster = fakes["postgres"], fakes["s3"], fakes["dagster"]
    stack.queue = fakes["queue"]  # type: ignore[assignment]
    stack.s3_events = fakes["s3-events"]  # type: ignore[assignment]
    stack.zookeeper = fakes["zookeeper"]  # type: ignore[assignment]
    stack.druid = {name: fakes[name] for name in stack.druid}  # type: ignore[misc]
    stack.java = {"zookeeper": stack.zookeeper, **stack.druid}
    monkeypatch.setattr(stack_module, "resolve_druid_jars", lambda log_dir: tmp_path / "lib")
    monkeypatch.setattr(stack_module.druid_conf, "write_local_conf", lambda *args: None)
    monkeypatch.setattr(stack_module.peon_cds, "archive_path", lambda lib, cp: tmp_path / "a.jsa")
    monkeypatch.setattr(stack_module, "ArchiveDump", NoArchiveDump)
    monkeypatch.setattr(stack_module, "check_extensions", lambda coordinator: None)
    monkeypatch.setattr(stack_module, "wait_for_workers", lambda *args: None)
    monkeypatch.setattr(stack_module, "keep_one_replica", lambda coordinator, timeout: False)
    return stack, fakes, events


def test_a_failed_up_stops_the_services_it_started_in_reverse_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, fakes, events = fake_stack(tmp_path, monkeypatch, running=set())
    # Another stack holds Druid's ports: ZooKeeper cannot start after Postgres and S3 did.
    fakes["zookeeper"].failure = port_taken_error("zookeeper", 2181, "http", None)
    with pytest.raises(StackError, match="port 2181"):
        stack.up()
    assert events == [
        "start postgres",
        "start s3",
        "start queue",
        "stop queue",
        "stop s3",
        "stop postgres",
    ]
    assert not any(fake.running for fake in fakes.values())


def test_a_failed_up_leaves_what_ran_before_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, fakes, events = fake_stack(tmp_path, monkeypatch, running={"postgres", "zookeeper"})
    fakes["broker"].failure = StackError("broker: exited while starting")
    with pytest.raises(StackError, match="broker"):
        stack.up()
    # Started in this call: S3, the queue and the Druid services before the broker; stopped
    # again.
    assert events == [
        "start s3",
        "start queue",
        "start coordinator-overlord",
        "start historical",
        "stop historical",
        "stop coordinator-overlord",
        "stop queue",
        "stop s3",
    ]
    assert fakes["postgres"].running and fakes["zookeeper"].running


def test_an_interrupted_up_stops_what_it_started_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, fakes, events = fake_stack(tmp_path, monkeypatch, running={"s3"})
    fakes["dagster"].failure = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        stack.up(with_dagster=True)
    started = [event.removeprefix("start ") for event in events if event.startswith("start ")]
    stopped = [event.removeprefix("stop ") for event in events if event.startswith("stop ")]
    assert stopped == started[::-1] and "s3" not in stopped
    assert fakes["s3"].running


def test_a_successful_up_stops_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack, fakes, events = fake_stack(tmp_path, monkeypatch, running={"postgres"})
    stack.up()
    assert not [event for event in events if event.startswith("stop")]
    assert all(fake.running for name, fake in fakes.items() if name != "dagster")
    assert (tmp_path / "stack" / "stack.env").exists()


def test_a_port_held_by_another_stack_names_that_stack(tmp_path: Path) -> None:
    """A JVM of another stack runs in <its stack>/druid with the service's marker."""
    other = tmp_path / "other-stack"
    (other / "druid").mkdir(parents=True)
    service = f"fake-{uuid.uuid4().hex[:8]}"  # not a service a real stack on this machine runs
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"-Dingest.stack.service={service}"],
        cwd=other / "druid",
    )
    try:
        # until the child has exec'd (its command line is the marker's): under load it can lag
        deadline = time.monotonic() + 10
        while service not in Path(f"/proc/{sleeper.pid}/cmdline").read_text(errors="replace"):
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.01)
        assert other_stack_running(service, tmp_path / "mine") == other
        assert other_stack_running(service, other) is None  # its own: not another
        assert other_stack_running(f"{service}-other", tmp_path / "mine") is None
    finally:
        sleeper.kill()
        sleeper.wait()


# ------------------------------------------------------------------ where the stack is


def test_the_stack_is_the_checkout_s_dot_stack_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """scripts/demo.sh, scripts/test.sh, the tests' `stack` fixture and every command agree."""
    monkeypatch.delenv("INGEST_STACK_DIR", raising=False)
    assert default_stack_dir() == REPO_ROOT / ".stack"
    monkeypatch.setenv("INGEST_STACK_DIR", "/elsewhere")
    assert default_stack_dir() == Path("/elsewhere")
    for script in ("demo.sh", "test.sh"):  # they take the default, not a folder of their own
        text = (REPO_ROOT / "scripts" / script).read_text()
        assert not re.search(r"INGEST_STACK_DIR=\S", text) and "/.stack" not in text


def test_the_stack_env_fills_what_the_environment_does_not_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stack.env").write_text("INGEST_S3_ENDPOINT_URL=http://s3\nAWS_REGION_X=eu\n")
    monkeypatch.setenv("AWS_REGION_X", "mine")
    monkeypatch.delenv("INGEST_S3_ENDPOINT_URL", raising=False)
    assert use_stack_env(tmp_path) == tmp_path / "stack.env"
    assert os.environ["INGEST_S3_ENDPOINT_URL"] == "http://s3"
    assert os.environ["AWS_REGION_X"] == "mine"


def test_no_stack_env_and_no_endpoints_is_stack_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("INGEST_S3_ENDPOINT_URL", "INGEST_DRUID_ROUTER_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(StackNotFound) as caught:
        use_stack_env(tmp_path / "nothing")
    assert caught.value.env_file == tmp_path / "nothing" / "stack.env"
    # A deployment's environment names the endpoints itself: no stack.env needed.
    monkeypatch.setenv("INGEST_DRUID_ROUTER_URL", "http://druid:8888")
    assert use_stack_env(tmp_path / "nothing") is None


def test_up_on_a_port_of_another_stack_says_which_stack_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest_pipeline.stack import druid as druid_module

    settings = StackSettings(stack_dir=tmp_path / "mine", postgres_port=1, s3_port=2)
    with socket.socket() as taken:  # ZooKeeper's port, held by "the other stack"
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.druid_ports["zookeeper"] = taken.getsockname()[1]
        other = tmp_path / "other"
        monkeypatch.setattr(druid_module, "other_stack_running", lambda name, mine: other)
        with pytest.raises(StackError) as caught:
            druid_module.ZooKeeper(settings).start(tmp_path / "lib")
    port = settings.druid_ports["zookeeper"]
    assert str(caught.value) == (
        f"zookeeper: port {port} is taken by the stack in {other}: use that one "
        f"(INGEST_STACK_DIR={other}) or stop it first (INGEST_STACK_DIR={other} "
        "ingest-pipeline stack down)"
    )


class SlowToStop(FakeService):
    """A Druid JVM that takes its time to go: its stop returns only once every Druid service
    is stopping at the same moment (a barrier), so stops one after another fail the test."""

    def __init__(self, fake: FakeService, together: threading.Barrier) -> None:
        super().__init__(fake.settings, fake.name, fake.events, fake.running)
        self.together = together

    def stop(self) -> bool:
        self.together.wait()  # raises BrokenBarrierError after its timeout if alone
        return super().stop()


def test_down_stops_the_druid_services_together_and_zookeeper_after_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = {"postgres", "s3", "queue", "zookeeper", "s3-events", "dagster"}
    stack, fakes, events = fake_stack(tmp_path, monkeypatch, running=everything | set(DRUID))
    together = threading.Barrier(len(DRUID), timeout=10)
    stack.druid = {name: SlowToStop(fakes[name], together) for name in DRUID}  # type: ignore[misc]
    stack.java = {"zookeeper": stack.zookeeper, **stack.druid}

    stopped = stack.down()

    assert set(stopped) == everything | set(DRUID)
    order = [event.removeprefix("stop ") for event in events]
    assert order[:2] == ["dagster", "s3-events"]
    assert set(order[2 : 2 + len(DRUID)]) == set(DRUID)
    assert order[2 + len(DRUID) :] == ["zookeeper", "queue", "s3", "postgres"]
