"""Start, find and stop the stack's own processes by pid file (never by name: only ours)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def exists(pid: int) -> bool:
    """Whether kill(0) finds the PID: a running process or a zombie not yet reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: The kernel's PF_EXITING flag (include/linux/sched.h): the process is being torn down.
PF_EXITING = 0x4


def is_alive(pid: int) -> bool:
    """Whether the process runs: neither a zombie nor being torn down after a kill.

    Both still answer kill(0). A SIGKILLed postmaster has closed its port before its state
    turns Z; restarted in that window, postgres saw the old PID "running" and refused the lock
    file, and the stack waited 60 s for nothing (CI)."""
    if not exists(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return False
    state, flags = fields[0], int(fields[6])
    return state not in ("Z", "X") and not flags & PF_EXITING


def running_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in pid_file if that process is alive and its command line contains marker.

    The marker check stops a recycled pid (another program after a reboot) passing for ours.
    """
    pid = read_pid(pid_file)
    if pid is None or not is_alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    return pid if marker in cmdline else None


def spawn(
    argv: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> int:
    """Start argv detached (own session, so it outlives the CLI), output appended to log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    return proc.pid


def terminate(pid_file: Path, marker: str, timeout: float = 30.0) -> bool:
    """SIGTERM the process group in pid_file, SIGKILL after timeout; True if one was stopped."""
    pid = running_pid(pid_file, marker)
    pid_file.unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.2)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0  # the kill lands asynchronously: stopped means gone
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 64 * 1024))
        text = handle.read().decode(errors="replace")
    return "\n".join(text.splitlines()[-lines:])
