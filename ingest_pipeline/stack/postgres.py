"""The stack's Postgres: Debian's server binaries, `initdb` in the stack's folder, loopback.

It holds Dagster's storage (`dagster`) and Druid's metadata (`druid`). With
INGEST_STACK_POSTGRES_HOST set, an existing server is used instead and only the databases are
created.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg2

from ingest_pipeline.stack import processes
from ingest_pipeline.stack.base import (
    Service,
    StackError,
    log,
    port_in_use,
    port_taken_error,
    wait_until,
    where,
)
from ingest_pipeline.stack.settings import DAGSTER_DB, DRUID_DB, StackSettings


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


#: Where the postgres user's commands run: the caller's folder may be closed to that user
#: (a clone under a `mktemp -d` folder: pg_ctl said 'could not change directory').
AS_USER_CWD = "/"


def runuser() -> str:
    """util-linux's runuser, also when PATH lacks the sbin folders (a login shell of a plain
    user, `env -i`): as root, `stack down` said "runuser: No such file or directory"."""
    return shutil.which("runuser") or next(
        (path for path in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(path)),
        "runuser",
    )


class Postgres(Service):
    name = "postgres"

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings)
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

    @property
    def external(self) -> bool:
        return bool(self.settings.external_postgres_host)

    def _as_user(self, argv: list[str]) -> list[str]:
        return [runuser(), "-u", self.run_as, "--", *argv] if self.run_as else argv

    #: How long a killed postmaster may stay unreaped before its lock file counts as stale.
    zombie_wait_seconds = 30.0

    def pid(self) -> int | None:
        pid = self._pid_in_lock_file()
        return pid if pid is not None and processes.is_alive(pid) else None

    def _pid_in_lock_file(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _clear_killed_postmaster(self) -> None:
        """A SIGKILLed postmaster stays a zombie until its parent (init, after pg_ctl left)
        reaps it, and postgres refuses to start while kill(0) finds the PID its lock file names
        ("lock file postmaster.pid already exists"): the soak restarted it 1 s after a kill and
        the restart failed. Wait for the reaping; a zombie never reaped leaves a stale lock."""
        pid = self._pid_in_lock_file()
        if pid is None or processes.is_alive(pid):
            return  # no lock, or a live server (starting, or stuck: pg_ctl says which)
        deadline = time.monotonic() + self.zombie_wait_seconds
        while processes.exists(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if processes.exists(pid):
            log(f"postgres: pid {pid} of the lock file is a zombie; the lock is stale")
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def healthy(self) -> bool:
        try:
            conn = psycopg2.connect(self.settings.postgres_url("postgres"), connect_timeout=3)
        except psycopg2.Error:
            return False
        conn.close()
        return True

    def start(self) -> None:
        if self.external:
            wait_until(self.healthy, what=f"postgres (external, {self.url})", timeout=30)
            self.create_databases()
            return
        if self.pid() and self.healthy():
            log(f"postgres already running (pid {self.pid()})")
            return
        self._prepare_folders()
        self._drop_stale_cluster()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._clear_killed_postmaster()
        if port_in_use(self.settings.postgres_port):
            raise port_taken_error(self.name, self.settings.postgres_port, "sql", self.log_file)
        self._pg_ctl_start()
        wait_until(self.healthy, what="postgres", timeout=60, log_file=self.log_file)
        self.create_databases()

    def _prepare_folders(self) -> None:
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

    def _initdb(self) -> None:
        log(f"initdb {self.data_dir}")
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.settings.postgres_password + "\n")
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        initdb = subprocess.run(
            self._as_user(
                [
                    postgres_bin("initdb"),
                    *("-D", str(self.data_dir), "-U", self.settings.postgres_user),
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    *("-E", "UTF8", "--no-locale"),
                ]
            ),
            capture_output=True,
            text=True,
            cwd=AS_USER_CWD,
        )
        pwfile.unlink()
        if initdb.returncode != 0:
            initdb_log = self.settings.log_dir / "postgres-initdb.log"
            initdb_log.write_text(initdb.stdout + initdb.stderr)
            raise StackError(f"postgres: initdb failed{where(initdb_log)}")
        self.owner_file.write_text(self._owner())

    def _pg_ctl_start(self) -> None:
        log(f"starting postgres on 127.0.0.1:{self.settings.postgres_port}")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.settings.postgres_port} "
            f"-c unix_socket_directories={self.socket_dir} -c max_connections=200 "
            # fsync=off: a killed server loses nothing the kernel holds (only a crash of the
            # machine would). synchronous_commit stays on: off, a commit is acknowledged before
            # its WAL leaves the server's memory, and a SIGKILL lost it (the soak: a Druid
            # subtask's row, its supervisor then waited 15 min for a task nobody knew).
            "-c shared_buffers=64MB -c fsync=off"
        )
        # pg_ctl writes the server log to a file the postgres user can write.
        server_log = self.base / "server.log"
        subprocess.run(
            self._as_user(
                [
                    postgres_bin("pg_ctl"),
                    *("-D", str(self.data_dir), "-l", str(server_log), "-o", options),
                    *("-w", "-t", "60", "start"),
                ]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
            cwd=AS_USER_CWD,
        )
        self._link_log(server_log)

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

    def create_databases(self, names: Sequence[str] = (DAGSTER_DB, DRUID_DB)) -> None:
        """The databases `names` (the stack's own by default), each created if missing."""
        conn = psycopg2.connect(self.settings.postgres_url("postgres"), connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in names:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{db}"')
        conn.close()

    def stop(self) -> bool:
        if self.external or not self.pid():
            return False
        stopped = subprocess.run(
            self._as_user(
                [postgres_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
            ),
            check=False,
            stdout=subprocess.DEVNULL,
            cwd=AS_USER_CWD,
        )
        return stopped.returncode == 0  # pg_ctl failed: the server may well still be running

    def wipe(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)
