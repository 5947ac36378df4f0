"""What every service of the local stack shares: its error, its status record, its waits.

Each service says how it finds its process (`pid`), whether it answers (`healthy`), where it
is (`url`) and whether it is someone else's server (`external`); `Service.status` turns that
into one `ServiceStatus` the same way for all of them.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest_pipeline.stack import processes
from ingest_pipeline.stack.settings import StackSettings


class StackError(RuntimeError):
    """An expected failure of `stack up`/`down`: one line naming the service, what failed and
    where its log is (the CLI prints it without a traceback)."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # "up", "down", "unhealthy", "external"
    pid: int | None
    url: str


def log(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def where(log_file: Path | None) -> str:
    return f" (log: {log_file})" if log_file else ""


def wait_until(
    check: Callable[[], bool], *, what: str, timeout: float, log_file: Path | None = None
) -> None:
    """Poll `check` until it returns True; StackError after `timeout` seconds.

    `check` may raise StackError to fail at once (a process that died); any other exception
    means "not yet".
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except StackError:
            raise
        except Exception:
            pass
        time.sleep(0.5)
    raise StackError(f"{what}: did not come up within {timeout:.0f}s{where(log_file)}")


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def port_taken_error(service: str, port: int, role: str, log_file: Path | None) -> StackError:
    return StackError(
        f"{service}: port {port} ({role}) is taken by a process that is not this stack's; "
        f"stop it or use another stack dir{where(log_file)}"
    )


class Service:
    """One service of the stack; subclasses say how to find, check and start it."""

    name: str
    log_file: Path

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def external(self) -> bool:
        """An existing server named by the environment: never started or stopped by us."""
        return False

    def pid(self) -> int | None:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def stop(self) -> bool:
        """Stop our process; True if one was stopped."""
        raise NotImplementedError

    def healthy_quietly(self) -> bool:
        try:
            return self.healthy()
        except Exception:
            return False

    def status(self) -> ServiceStatus:
        if self.external:
            state = "external" if self.healthy_quietly() else "unhealthy"
            return ServiceStatus(self.name, state, None, self.url)
        pid = self.pid()
        state = "down" if pid is None else ("up" if self.healthy_quietly() else "unhealthy")
        return ServiceStatus(self.name, state, pid, self.url)

    def exited(self) -> bool:
        """Our process is gone (while starting: no marker check, its command line may be
        unreadable for a moment, e.g. while a launcher re-executes itself)."""
        return self.pid() is None

    def wait_healthy(self, timeout: float) -> None:
        """Wait until healthy; fail soon, naming the log, if our process died meanwhile."""
        gone = 0

        def alive_and_healthy() -> bool:
            nonlocal gone
            gone = gone + 1 if not self.external and self.exited() else 0
            if gone >= 2:  # twice in a row, half a second apart
                raise StackError(f"{self.name}: exited while starting{where(self.log_file)}")
            return self.healthy()

        wait_until(alive_and_healthy, what=self.name, timeout=timeout, log_file=self.log_file)


class PidFileService(Service):
    """A process of ours found by pid file and a marker in its command line."""

    marker: str

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings)
        self.pid_file = settings.run_dir / f"{self.name}.pid"
        self.log_file = settings.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        return processes.running_pid(self.pid_file, self.marker)

    def exited(self) -> bool:
        pid = processes.read_pid(self.pid_file)
        return pid is None or not processes.is_alive(pid)

    def stop(self) -> bool:
        if self.external:
            return False
        return processes.terminate(self.pid_file, self.marker)
