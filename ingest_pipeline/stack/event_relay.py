"""The local stack's S3 event notifications: the S3 store's filer events -> S3-shaped event
records -> the SQS queue, as AWS S3 sends them to SQS in production.

SeaweedFS's own `aws_sqs` notification cannot be used here (see the README's S3 store section:
it has no endpoint setting, so it only reaches AWS, and `weed mini` exits when it cannot). So
this relay, a process of the stack, follows the filer's metadata log with
`weed filer.meta.tail` (the filer's gRPC SubscribeMetadata; it prints each event as JSON) under
the uploads bucket and sends one S3 event record per object change to the queue. After each
send it writes the event's time (ns) to a checkpoint; a restarted relay resumes from there (the
filer keeps its metadata log on disk), so an event is sent at least once, never lost while the
queue is down: sending is retried until the queue answers.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote_plus

from ingest_pipeline.stack import processes
from ingest_pipeline.stack.base import PidFileService, StackError, log, where
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, StackSettings, load_settings

#: The multipart-upload scratch folder SeaweedFS keeps inside each bucket: not objects.
MULTIPART_FOLDER = ".uploads"
ETAG_ATTRIBUTE = "Seaweed-X-Amz-ETag"
#: Seconds `weed filer.meta.tail` takes to subscribe to the filer.
SUBSCRIBE_SECONDS = 1.5
#: After a queue outage, events from this long before it began are sent again.
REWIND_SECONDS = 10


def _object_key(directory: str, entry: dict[str, Any] | None, bucket: str) -> str | None:
    """The S3 key of a filer entry, or None for a folder, a multipart part or another bucket."""
    if not entry or entry.get("isDirectory"):
        return None
    root = f"/buckets/{bucket}/"
    path = f"{directory.rstrip('/')}/{entry.get('name', '')}"
    if not path.startswith(root):
        return None
    key = path[len(root) :]
    if key.split("/", 1)[0] == MULTIPART_FOLDER:
        return None
    return key


def _etag(entry: dict[str, Any]) -> str:
    """The S3 ETag SeaweedFS stored with the object (multipart: `<md5-of-md5s>-<parts>`)."""
    stored = (entry.get("extended") or {}).get(ETAG_ATTRIBUTE)
    if stored:
        return base64.b64decode(stored).decode().strip('"')
    md5 = (entry.get("attributes") or {}).get("md5")
    return base64.b64decode(md5).hex() if md5 else ""


def _record(
    name: str, bucket: str, key: str, ts_ns: int, region: str, entry: dict[str, Any] | None
) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/"), "sequencer": f"{ts_ns:016X}"}
    if entry is not None:
        obj["size"] = int((entry.get("attributes") or {}).get("fileSize") or 0)
        obj["eTag"] = _etag(entry)
    when = datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="milliseconds")
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": when.replace("+00:00", "Z"),
        "eventName": name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def s3_records(event: dict[str, Any], bucket: str, region: str) -> list[dict[str, Any]]:
    """AWS-shaped S3 event records for one filer event: a new or changed object is
    ObjectCreated:Put, a deleted one ObjectRemoved:Delete, a rename both."""
    notification = event.get("eventNotification") or {}
    old, new = notification.get("oldEntry"), notification.get("newEntry")
    directory = event.get("directory", "")
    ts_ns = int(event.get("tsNs", 0))
    old_key = _object_key(directory, old, bucket)
    new_key = _object_key(notification.get("newParentPath") or directory, new, bucket)
    records = []
    if old_key and old_key != new_key:
        records.append(_record("ObjectRemoved:Delete", bucket, old_key, ts_ns, region, None))
    if new_key:
        records.append(_record("ObjectCreated:Put", bucket, new_key, ts_ns, region, new))
    return records


def filer_events(stream: IO[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects `weed filer.meta.tail` prints (indented; each ends with a `}` line)."""
    lines: list[str] = []
    for line in stream:
        lines.append(line)
        if line.rstrip("\n") == "}":
            text = "".join(lines).strip()
            lines = []
            if text.startswith("{"):
                yield json.loads(text)


class Checkpoint:
    """The time (ns) of the last filer event sent, written atomically after each send."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def write(self, ts_ns: int) -> None:
        partial = self.path.with_suffix(".tmp")
        partial.write_text(str(ts_ns))
        partial.replace(self.path)


class EventRelay(PidFileService):
    """The relay as a stack service (`python -m ingest_pipeline.stack.event_relay <stack>`)."""

    name = "s3-events"

    def __init__(self, settings: StackSettings) -> None:
        super().__init__(settings)
        self.checkpoint = Checkpoint(settings.run_dir / "s3-events.checkpoint")
        self.ready_file = settings.run_dir / "s3-events.ready"
        self.marker = f"ingest_pipeline.stack.event_relay {settings.stack_dir}"

    @property
    def url(self) -> str:
        return f"{UPLOADS_BUCKET} -> {self.settings.events_queue_url}"

    def healthy(self) -> bool:
        """It follows the filer: its ready file names its running pid."""
        pid = self.pid()
        return pid is not None and self.ready_file.read_text().strip() == str(pid)

    def start(self, timeout: float = 60.0) -> None:
        if self.pid():
            log(f"s3-events already running (pid {self.pid()})")
        else:
            log(f"starting s3-events: {self.url}")
            self.ready_file.unlink(missing_ok=True)
            processes.spawn(
                [
                    sys.executable,
                    "-m",
                    "ingest_pipeline.stack.event_relay",
                    str(self.settings.stack_dir),
                ],
                pid_file=self.pid_file,
                log_file=self.log_file,
                cwd=self.settings.stack_dir,
                env=dict(os.environ),
            )
        self.wait_healthy(timeout)


def tail_command(settings: StackSettings, weed: Path, since_ns: int | None) -> list[str]:
    ports = settings.s3_store_ports
    time_ago = max(0, time.time_ns() - since_ns) if since_ns else 0
    return [
        str(weed),
        "filer.meta.tail",
        f"-filer=127.0.0.1:{ports['filer.port']}.{ports['filer.port.grpc']}",
        f"-pathPrefix=/buckets/{UPLOADS_BUCKET}/",
        f"-timeAgo={time_ago}ns",
    ]


def relay_log(message: str) -> None:
    """The relay's log lines carry the time: its log is read to see when an event was sent."""
    log(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + f" {message}")


class Sender:
    """Sends records to the events queue, retrying until the queue answers."""

    def __init__(self, settings: StackSettings) -> None:
        from ingest_pipeline.stack.queue import sqs_client

        self.client: Any = sqs_client(settings, connect_timeout=2, read_timeout=10)
        self.queue_url = settings.events_queue_url

    def ping(self) -> bool:
        try:
            self.client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            return True
        except Exception:
            return False

    def send(self, record: dict[str, Any]) -> None:
        body = json.dumps({"Records": [record]})
        failing_since = None
        while True:
            try:
                self.client.send_message(QueueUrl=self.queue_url, MessageBody=body)
                if failing_since is not None:
                    down = time.monotonic() - failing_since
                    relay_log(f"s3-events: the queue answers again after {down:.0f}s")
                return
            except Exception as error:  # the queue is down or restarting: keep the event
                if failing_since is None:
                    failing_since = time.monotonic()
                    relay_log(f"s3-events: cannot send to the queue ({error}); retrying")
                time.sleep(1)


class Rewind:
    """The queue can lose what it acknowledged just before a crash (measured: ElasticMQ killed
    mid-burst lost the last 3 of its acknowledged sends; it writes them to disk a moment
    later). So a watcher pings the queue every second; when it answers again after an outage,
    the relay goes back REWIND_SECONDS before the outage began and sends those events again
    (the sensor drops what it has seen: same key, same sequencer)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.to_ns: int | None = None
        self.tail: subprocess.Popen[str] | None = None

    def request(self, to_ns: int) -> None:
        with self.lock:
            self.to_ns = to_ns if self.to_ns is None else min(self.to_ns, to_ns)
            tail = self.tail
        if tail is not None and tail.poll() is None:
            tail.terminate()  # `follow` returns; `main` follows again from the rewound point

    def take(self) -> int | None:
        with self.lock:
            to_ns, self.to_ns = self.to_ns, None
            return to_ns

    def pending(self) -> bool:
        with self.lock:
            return self.to_ns is not None


def watch_queue(sender: Sender, rewind: Rewind) -> None:
    down_since: int | None = None
    while True:
        if not sender.ping():
            down_since = down_since or time.time_ns()
        elif down_since is not None:
            relay_log("s3-events: the queue is back: sending again what came just before it")
            rewind.request(down_since - REWIND_SECONDS * 1_000_000_000)
            down_since = None
        time.sleep(1)


def follow(settings: StackSettings, relay: EventRelay, sender: Sender, rewind: Rewind) -> None:
    """Run `weed filer.meta.tail` from the checkpoint and send what it prints until it exits
    (or a rewind stops it)."""
    from ingest_pipeline.stack.s3_store import weed_binary

    since = relay.checkpoint.read()
    rewound = rewind.take()
    if since is None or rewound is not None:
        since = min(since or time.time_ns(), rewound or time.time_ns())
        relay.checkpoint.write(since)
    command = tail_command(settings, weed_binary(), since)
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as tail:
        assert tail.stdout is not None
        rewind.tail = tail
        # Ready once its subscription stands (measured: an event in its first half second
        # can be missed; the reconciliation listing finds such a file later).
        time.sleep(SUBSCRIBE_SECONDS)
        if tail.poll() is None:
            relay.ready_file.write_text(str(os.getpid()))
        relay_log(f"s3-events: following the filer from {since} ns")
        for event in filer_events(tail.stdout):
            ts_ns = int(event.get("tsNs", 0))
            if ts_ns <= since:
                continue  # sent before the restart
            for record in s3_records(event, UPLOADS_BUCKET, settings.s3_region):
                sender.send(record)
                age = (time.time_ns() - ts_ns) / 1e9
                key = record["s3"]["object"]["key"]
                relay_log(f"s3-events: sent {record['eventName']} {key} ({age:.2f}s after it)")
            if rewind.pending():
                break  # keep the checkpoint: the rewind goes back before it anyway
            relay.checkpoint.write(ts_ns)
            since = ts_ns
        tail.terminate()
    relay_log(f"s3-events: filer.meta.tail exited ({tail.returncode}); following again")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise SystemExit("usage: python -m ingest_pipeline.stack.event_relay <stack dir>")
    settings = load_settings(Path(argv[0]))
    relay = EventRelay(settings)
    sender = Sender(settings)
    rewind = Rewind()
    threading.Thread(target=watch_queue, args=(sender, rewind), daemon=True).start()
    while True:
        try:
            follow(settings, relay, sender, rewind)
        except StackError as error:
            relay_log(f"s3-events: {error}{where(relay.log_file)}")
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
