"""The stack's Postgres SIGKILLed and started again at once, on a cluster of its own.

The soak kills the stack's Postgres; the restart must come up and keep every acknowledged
commit. The cluster here is private (its own folder and port, the stack's options): killing the
shared one in the suite left it down for every later module when the restart failed (CI).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from ingest_pipeline.stack.postgres import Postgres
from ingest_pipeline.stack.settings import StackSettings, free_port

pytestmark = pytest.mark.integration
KILLS = 5
COMMITS_PER_ROUND = 300


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[Postgres]:
    settings = StackSettings(stack_dir=tmp_path / "stack", postgres_port=free_port(), s3_port=0)
    postgres = Postgres(settings)
    postgres.start()
    try:
        yield postgres
    finally:
        postgres.stop()
        postgres.wipe()


def commit_rows(postgres: Postgres, table: str, count: int) -> None:
    conn = psycopg2.connect(postgres.settings.postgres_url("postgres"))
    conn.autocommit = True  # each INSERT its own transaction, acknowledged on return
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} (n integer)")
        for n in range(count):
            cur.execute(f"INSERT INTO {table} VALUES (%s)", (n,))
    # Left open on purpose: the stack's clients (Druid, Dagster) hold connections when it dies.


def rows_in(postgres: Postgres, table: str) -> int:
    conn = psycopg2.connect(postgres.settings.postgres_url("postgres"))
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        (count,) = cur.fetchone()
    conn.close()
    return int(count)


@pytest.mark.serial
def test_a_postgres_killed_and_restarted_at_once_comes_up_with_every_commit(
    private_postgres: Postgres,
) -> None:
    """Two defects this guards: synchronous_commit=off lost an acknowledged Druid subtask row on
    a SIGKILL (the soak), and a restart while the killed postmaster was still being torn down
    met its lock file ("another postmaster (PID ...) running") and never came up (CI)."""
    for kill in range(KILLS):
        commit_rows(private_postgres, "durable", COMMITS_PER_ROUND)
        pid = private_postgres.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # at once: the last commits are milliseconds old
        while private_postgres.healthy():
            time.sleep(0.05)
        started = time.monotonic()
        private_postgres.start()  # raises when it does not come up
        assert private_postgres.healthy(), f"kill {kill + 1}: not up again"
        assert rows_in(private_postgres, "durable") == COMMITS_PER_ROUND * (kill + 1)
        print(f"kill {kill + 1}: up again in {time.monotonic() - started:.1f}s")
