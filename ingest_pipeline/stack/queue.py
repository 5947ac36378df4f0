"""The local stack's SQS-compatible queue: ElasticMQ, one JVM resolved from Maven Central.

It holds the `ingest-events` queue (S3 event records of the uploads bucket, sent by the event
relay, see event_relay.py) and its dead-letter queue. Messages are kept in an H2 database under
`<stack>/queue`, so a SIGKILL or `stack down`/`up` loses none, in flight ones included.
"""

from __future__ import annotations

import os
from pathlib import Path

import boto3

from ingest_pipeline.stack import maven, processes
from ingest_pipeline.stack.base import PidFileService, log, port_in_use, port_taken_error
from ingest_pipeline.stack.settings import (
    EVENTS_DEAD_LETTER_QUEUE,
    EVENTS_QUEUE,
    QUEUE_DIR,
    StackSettings,
    queue_lib_dir,
)

MAIN_CLASS = "org.elasticmq.server.Main"
#: Receives after which a message goes to the dead-letter queue (a message the sensor cannot
#: get past: its tick keeps failing).
MAX_RECEIVE_COUNT = 10
#: Seconds a received message stays invisible to other receivers unless the receiver says
#: otherwise (the sensor does: it deletes it on its next tick).
VISIBILITY_TIMEOUT_SECONDS = 60


def resolve_queue_jars(log_dir: Path) -> Path:
    return maven.copy_dependencies(
        "the queue server (ElasticMQ)",
        QUEUE_DIR / "pom.xml",
        queue_lib_dir(),
        log_dir / "maven.log",
    )


def sqs_client(settings: StackSettings, **config: object) -> object:
    """A boto3 SQS client for the stack's queue (ElasticMQ takes any key)."""
    from botocore.config import Config

    return boto3.client(
        "sqs",
        endpoint_url=settings.queue_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key,
        config=Config(**{"retries": {"max_attempts": 2}, **config}),
    )


def elasticmq_conf(settings: StackSettings, data_dir: Path) -> str:
    port = settings.queue_port
    return f"""include classpath("application.conf")
node-address {{ protocol = http, host = "127.0.0.1", port = {port}, context-path = "" }}
rest-sqs {{ enabled = true, bind-port = {port}, bind-hostname = "127.0.0.1", sqs-limits = strict }}
rest-stats {{ enabled = false }}
generate-node-address = false
queues {{
  {EVENTS_QUEUE} {{
    defaultVisibilityTimeout = {VISIBILITY_TIMEOUT_SECONDS} seconds
    receiveMessageWait = 0 seconds
    deadLettersQueue {{
      name = "{EVENTS_DEAD_LETTER_QUEUE}"
      maxReceiveCount = {MAX_RECEIVE_COUNT}
    }}
  }}
  {EVENTS_DEAD_LETTER_QUEUE} {{ }}
}}
messages-storage {{ enabled = true, uri = "jdbc:h2:{data_dir / "messages"}" }}
"""


class QueueServer(PidFileService):
    name = "queue"

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings)
        self.data_dir = settings.stack_dir / "queue"
        self.conf_file = self.data_dir / "elasticmq.conf"
        # Unique per stack (its config file's path is on its command line).
        self.marker = f"-Dconfig.file={self.conf_file}"

    @property
    def url(self) -> str:
        return self.settings.queue_endpoint

    def healthy(self) -> bool:
        """The events queue exists and answers."""
        client = sqs_client(self.settings, connect_timeout=2, read_timeout=5)
        client.get_queue_url(QueueName=EVENTS_QUEUE)  # type: ignore[attr-defined]
        return True

    def command(self, lib: Path) -> list[str]:
        return [
            "java",
            "-Xmx128m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            self.marker,
            f"-Dlogback.configurationFile={QUEUE_DIR / 'logback.xml'}",
            "-cp",
            f"{lib}/*",
            MAIN_CLASS,
        ]

    def launch(self) -> bool:
        """Start unless running (no wait: `wait_healthy`); True if a process was started."""
        pid = self.pid()
        if pid:
            log(f"queue already running (pid {pid})")
            return False
        if port_in_use(self.settings.queue_port):
            raise port_taken_error(self.name, self.settings.queue_port, "sqs", self.log_file)
        lib = resolve_queue_jars(self.settings.log_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf_file.write_text(elasticmq_conf(self.settings, self.data_dir))
        log(f"starting queue (ElasticMQ) on {self.url}")
        processes.spawn(
            self.command(lib),
            pid_file=self.pid_file,
            log_file=self.log_file,
            cwd=self.data_dir,
            env=dict(os.environ),
        )
        return True

    def start(self, timeout: float = 120.0) -> None:
        self.launch()
        self.wait_healthy(timeout)
