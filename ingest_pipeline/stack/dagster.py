"""`dagster dev` (webserver + daemon: sensor ticks, queued runs) on the stack's Postgres."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from ingest_pipeline.stack import processes
from ingest_pipeline.stack.base import PidFileService, log, port_in_use, port_taken_error
from ingest_pipeline.stack.settings import REPO_ROOT


class DagsterService(PidFileService):
    name = "dagster"
    marker = "dagster dev"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.dagster_port}"

    def healthy(self) -> bool:
        return httpx.get(f"{self.url}/server_info", timeout=3).status_code == 200

    def start(self, timeout: float = 180.0) -> None:
        pid = self.pid()
        if pid and self.healthy_quietly():
            log(f"dagster already running (pid {pid})")
            return
        if not pid:
            if port_in_use(self.settings.dagster_port):
                raise port_taken_error(self.name, self.settings.dagster_port, "http", self.log_file)
            log(f"starting dagster (webserver + daemon) on {self.url}")
            processes.spawn(
                [
                    str(Path(sys.executable).parent / "dagster"),
                    "dev",
                    "-w",
                    str(REPO_ROOT / "workspace.yaml"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.settings.dagster_port),
                ],
                pid_file=self.pid_file,
                log_file=self.log_file,
                cwd=REPO_ROOT,
                env={**os.environ, **self.settings.client_env()},
            )
        self.wait_healthy(timeout)
