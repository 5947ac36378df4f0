"""The local stack: Postgres, the S3 store, its event queue and relay, ZooKeeper and Apache Druid
(and Dagster), no Docker.

`up` is idempotent: a service whose pid file names a live process of ours that answers its
health check is left alone. Each wait is bounded; a service that does not come up fails `up`
with a StackError naming it and its log. `down` stops only this stack's processes, by pid.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ingest_pipeline.stack import druid_conf, peon_cds
from ingest_pipeline.stack.base import Service, ServiceStatus, log
from ingest_pipeline.stack.dagster import DagsterService
from ingest_pipeline.stack.druid import (
    DRUID_SERVICES,
    DruidService,
    JavaService,
    ZooKeeper,
    check_extensions,
    keep_one_replica,
    resolve_druid_jars,
    stop_orphan_peons,
    wait_for_workers,
)
from ingest_pipeline.stack.event_relay import EventRelay
from ingest_pipeline.stack.peon_cds import ArchiveDump, PeonLaunch
from ingest_pipeline.stack.postgres import Postgres
from ingest_pipeline.stack.queue import QueueServer
from ingest_pipeline.stack.s3_store import S3Store
from ingest_pipeline.stack.settings import StackSettings


class Stack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.postgres = Postgres(settings)
        self.s3 = S3Store(settings)
        self.queue = QueueServer(settings)
        self.s3_events = EventRelay(settings)
        self.zookeeper = ZooKeeper(settings)
        self.druid = {name: DruidService(settings, name) for name in DRUID_SERVICES}
        #: ZooKeeper and Druid's services in start order.
        self.java: dict[str, JavaService] = {"zookeeper": self.zookeeper, **self.druid}
        self.dagster = DagsterService(settings)

    def services(self) -> list[Service]:
        """Every service, in start order."""
        return [
            self.postgres,
            self.s3,
            self.queue,
            *self.java.values(),
            self.s3_events,
            self.dagster,
        ]

    def up(self, service_timeout: float = 300.0, with_dagster: bool = False) -> None:
        """Start what is not running and wait until all is healthy. If that fails (or is
        interrupted), what this call started is stopped again; what ran before is left alone,
        so a failed `up` leaves no half stack behind (e.g. a Postgres and S3 of its own when
        another stack holds Druid's ports)."""
        running_before = {service.name for service in self.services() if service.pid()}
        try:
            self.start_all(service_timeout, with_dagster)
        except BaseException:
            stopped = self.stop_all_but(running_before)
            if stopped:
                log(f"up failed: stopped what it had started: {', '.join(stopped)}")
            raise

    def stop_all_but(self, names: Collection[str]) -> list[str]:
        """Stop every running service not named in `names`, in reverse start order."""
        stopped = []
        for service in reversed(self.services()):
            if service.name not in names and service.stop():
                stopped.append(service.name)
        return stopped

    def start_all(self, service_timeout: float, with_dagster: bool) -> None:
        started_at = time.monotonic()
        for folder in (self.settings.stack_dir, self.settings.log_dir, self.settings.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.settings.save()
        self.postgres.start()
        self.s3.start()
        # Its JVM warms up while Druid's do; waited for (and the relay started) after them.
        self.queue.launch()
        lib = resolve_druid_jars(self.settings.log_dir)
        druid_var = self.settings.stack_dir / "druid" / "var"
        druid_var.mkdir(parents=True, exist_ok=True)
        conf_root = self.settings.stack_dir / "druid" / "conf"
        jars = peon_cds.jar_classpath(lib)
        peons = PeonLaunch(
            peon_cds.peon_classpath(jars, conf_root), peon_cds.archive_path(lib, jars)
        )
        archive_dump = ArchiveDump(peons.archive, jars, self.settings.log_dir / "peon-cds.log")
        druid_conf.write_local_conf(self.settings, conf_root, druid_var, peons)
        # ZooKeeper and the coordinator first (the others register through them); the rest
        # start together to overlap their JVM warm-up on 2 cores.
        self.zookeeper.start(lib)
        self.zookeeper.wait_healthy(60)
        for service in self.druid.values():
            service.start(lib)
        for service in self.druid.values():
            service.wait_healthy(service_timeout)
        self.queue.wait_healthy(service_timeout)
        archive_dump.finish()
        self.s3_events.start()
        check_extensions(self.druid["coordinator-overlord"])
        if keep_one_replica(self.druid["coordinator-overlord"], service_timeout):
            log("Druid's default load rule: one replica (this stack has one historical)")
        wait_for_workers(
            self.druid["coordinator-overlord"], self.druid["middleManager"], service_timeout
        )
        self.settings.write_env_file()
        self.settings.write_dagster_home()
        if with_dagster:
            self.dagster.start(service_timeout)
        log(f"stack is up in {time.monotonic() - started_at:.0f}s")

    def down(self, wipe: bool = False) -> list[str]:
        stopped = ["dagster"] if self.dagster.stop() else []
        if self.s3_events.stop():
            stopped.append("s3-events")
        # Together, not one after another: a Druid JVM can outlast its lifecycle's stop until
        # SIGKILLed at the 30 s grace (CI: stack down took 2.7 min). ZooKeeper last.
        druid = list(reversed(self.druid.items()))
        with ThreadPoolExecutor(max_workers=len(druid)) as pool:
            done = list(pool.map(lambda named: named[1].stop(), druid))
        stopped += [name for (name, _), was in zip(druid, done, strict=True) if was]
        if self.zookeeper.stop():
            stopped.append("zookeeper")
        # Peons are the middleManager's children in their own sessions; stop any left over.
        stopped += stop_orphan_peons(self.settings.stack_dir / "druid")
        if self.queue.stop():
            stopped.append("queue")
        if self.s3.stop():
            stopped.append("s3")
        if self.postgres.stop():
            stopped.append("postgres")
        if wipe:
            self.postgres.wipe()
            shutil.rmtree(self.settings.stack_dir, ignore_errors=True)
        return stopped

    def status(self) -> list[ServiceStatus]:
        statuses = [self.postgres.status(), self.s3.status(), self.queue.status()]
        statuses += [service.status() for service in self.java.values()]
        statuses.append(self.s3_events.status())
        dagster = self.dagster.status()
        return statuses + ([dagster] if dagster.state != "down" else [])

    def service_log(self, name: str) -> Path:
        return self.settings.log_dir / f"{name}.log"
