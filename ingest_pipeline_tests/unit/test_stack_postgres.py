"""The stack's Postgres after a SIGKILL: the old postmaster is a zombie until its parent reaps
it, and postgres will not start while kill(0) finds the PID in postmaster.pid. The soak
(--events, 1416d6e) restarted it 1 s after a kill; the start failed on that lock and the
database stayed down for the rest of the hour."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ingest_pipeline.stack import processes
from ingest_pipeline.stack.postgres import Postgres, runuser
from ingest_pipeline.stack.settings import StackSettings


def postgres_with_lock(tmp_path: Path, pid: int) -> Postgres:
    postgres = Postgres(StackSettings(stack_dir=tmp_path / "stack", postgres_port=1, s3_port=2))
    postgres.data_dir = tmp_path / "data"
    postgres.data_dir.mkdir()
    (postgres.data_dir / "postmaster.pid").write_text(f"{pid}\n{postgres.data_dir}\n")
    postgres.zombie_wait_seconds = 0.5
    return postgres


@pytest.fixture
def zombie() -> subprocess.Popen[bytes]:
    """A child killed and not reaped (no wait() until the test ends)."""
    child = subprocess.Popen(["sleep", "60"])
    child.kill()
    with open(f"/proc/{child.pid}/stat") as stat:
        while stat.read().split(") ", 1)[1][:1] != "Z":
            stat.seek(0)
    yield child
    child.wait()


def test_a_killed_postmaster_never_reaped_leaves_a_lock_that_is_removed(
    tmp_path: Path, zombie: subprocess.Popen[bytes]
) -> None:
    postgres = postgres_with_lock(tmp_path, zombie.pid)
    assert processes.exists(zombie.pid) and postgres.pid() is None
    postgres._clear_killed_postmaster()
    assert not (postgres.data_dir / "postmaster.pid").exists()


def test_the_lock_of_a_running_server_is_left_alone(tmp_path: Path) -> None:
    running = subprocess.Popen(["sleep", "60"])
    try:
        postgres = postgres_with_lock(tmp_path, running.pid)
        postgres._clear_killed_postmaster()
        assert postgres.pid() == running.pid
        assert (postgres.data_dir / "postmaster.pid").exists()
    finally:
        running.kill()
        running.wait()


def test_a_lock_naming_a_reaped_pid_is_left_for_postgres_to_replace(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    postgres = postgres_with_lock(tmp_path, gone.pid)
    postgres._clear_killed_postmaster()
    assert (postgres.data_dir / "postmaster.pid").exists()  # postgres itself sees it stale


def test_postgres_runs_as_its_user_also_when_path_lacks_sbin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As root in a shell whose PATH has no sbin folder (`env -i`, a plain login shell),
    # `stack down` said "runuser: No such file or directory" and left Postgres running.
    monkeypatch.setenv("PATH", str(tmp_path))
    found = runuser()
    assert found in ("/usr/sbin/runuser", "/sbin/runuser")
    assert subprocess.run([found, "--version"], capture_output=True).returncode == 0
