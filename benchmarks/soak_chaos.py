"""The soak's faults: SIGKILL or SIGSTOP/SIGCONT one process of the stack or of Dagster, then
bring it back the way an operator would (`Stack.up` is idempotent; the daemon and webserver
are restarted like `ingest-pipeline stack up` would). Processes are found by the stack's pid
files, the Automation's Popen objects, or (peons, code servers) by command line in /proc."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest_pipeline.stack.base import StackError
from ingest_pipeline.stack.stack import Stack
from ingest_pipeline_tests.integration.automation import Automation

#: Components the chaos loop picks from (a peon only when one runs).
COMPONENTS = (
    "dagster-daemon",
    "webserver",
    "code-server",
    "postgres",
    "s3",
    "zookeeper",
    "coordinator-overlord",
    "broker",
    "historical",
    "middleManager",
    "peon",
    "router",
)
#: Added when the soak's sensor reads S3 events (--events): the queue and the relay feeding it.
EVENT_COMPONENTS = ("queue", "s3-events")
PAUSE_SECONDS = (3.0, 12.0)  # how long a SIGSTOPped process stays stopped


@dataclass(frozen=True)
class Fault:
    at: float  # seconds since the soak started
    component: str
    how: str  # "kill" or "pause"
    pid: int | None  # None: nothing of that kind ran (counted, not injected)
    recovered_seconds: float


def processes_matching(needle: str) -> list[int]:
    """Pids whose command line contains `needle` (not this process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found


#: `stack up` attempts after a fault before the soak gives up (an operator would look).
RECOVERY_ATTEMPTS = 5


class Chaos:
    """Injects one fault at a time into the stack and the soak's Dagster processes."""

    def __init__(
        self, stack: Stack, automation: Automation, rng: random.Random, events: bool = False
    ) -> None:
        self.stack = stack
        self.automation = automation
        self.rng = rng
        self.components = COMPONENTS + (EVENT_COMPONENTS if events else ())

    def pid_of(self, component: str) -> int | None:
        auto = self.automation
        if component == "dagster-daemon":
            return auto.daemon.pid if auto.daemon and auto.daemon.poll() is None else None
        if component == "webserver":
            return auto.webserver.pid if auto.webserver and auto.webserver.poll() is None else None
        if component in ("code-server", "peon"):
            needle = "dagster api grpc" if component == "code-server" else "internal peon"
            pids = processes_matching(needle)
            return self.rng.choice(sorted(pids)) if pids else None
        service = {
            "postgres": self.stack.postgres,
            "s3": self.stack.s3,
            "queue": self.stack.queue,
            "s3-events": self.stack.s3_events,
            **self.stack.java,
        }
        return service[component].pid()

    def inject(self, component: str, started: float) -> Fault:
        """One fault; returns once the component (and what depends on it) is back."""
        how = self.rng.choice(("kill", "kill", "pause"))
        pid = self.pid_of(component)
        at = time.monotonic() - started
        began = time.monotonic()
        if pid is not None:
            if how == "pause":
                os.kill(pid, signal.SIGSTOP)
                time.sleep(self.rng.uniform(*PAUSE_SECONDS))
                os.kill(pid, signal.SIGCONT)
            else:
                os.kill(pid, signal.SIGKILL)
                time.sleep(1.0)
                self.recover()
        return Fault(at, component, how, pid, time.monotonic() - began)

    def recover(self) -> None:
        """What an operator does: `stack up` (starts what is down, waits until healthy; again
        if it fails, a few times), and the daemon and webserver started again if they died."""
        for attempt in range(1, RECOVERY_ATTEMPTS + 1):
            try:
                self.stack.up(service_timeout=300)
                break
            except StackError as error:
                print(f"[soak] stack up failed (attempt {attempt}): {error}", flush=True)
                if attempt == RECOVERY_ATTEMPTS:
                    raise
                time.sleep(5.0)
        auto = self.automation
        if auto.daemon is None or auto.daemon.poll() is not None:
            auto.start_daemon()
        if auto.webserver is None or auto.webserver.poll() is not None:
            auto.start_webserver()


def chaos_loop(
    chaos: Chaos,
    rng: random.Random,
    started: float,
    until: float,
    gap: tuple[float, float],
    record: Callable[[Fault], None],
) -> None:
    """Every `gap` seconds (seeded), one fault on a random component, until `until`. A fault
    the stack does not recover from ends the loop with its error."""
    while True:
        wait = rng.uniform(*gap)
        if time.monotonic() + wait >= until:
            return
        time.sleep(wait)
        record(chaos.inject(rng.choice(chaos.components), started))
