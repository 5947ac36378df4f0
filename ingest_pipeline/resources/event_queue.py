"""EventQueue: the SQS queue the uploads bucket's S3 event notifications go to.

Not configured (no queue URL), the upload sensor lists the bucket every tick as before. In
production the queue is AWS SQS fed by the bucket's notification configuration (README: S3
event notifications); on the local stack it is ElasticMQ fed by the stack's s3-events relay.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import dagster as dg
from botocore.config import Config as BotoConfig
from pydantic import Field

#: SQS limits: messages per receive, seconds a receive may wait.
SQS_MAX_BATCH = 10
SQS_MAX_WAIT_SECONDS = 20
#: Dagster's sensor daemon looks at its sensors every 5 s and skips one whose tick still runs,
#: so a tick that outlasts 5 s leaves the queue unread until the 10 s mark (measured: a 5 s long
#: poll made an upload wait 3.7-5.5 s for its run in 4 of 5 samples, against 1.2 s when it landed
#: during a poll). A 4 s poll ends the tick before the daemon's next look.
DEFAULT_WAIT_SECONDS = 4
#: After the first message, a tick gathers more until none came for this long: a burst of
#: uploads (S3 takes one every few ms) lands in one tick, so in one run per dataset; a lone
#: upload waits only this long for its run. SQS waits in whole seconds, so the gathering polls
#: without waiting, every GATHER_PAUSE_SECONDS (was a 1 s long poll: 0.7 s more per upload).
DEFAULT_GATHER_MILLISECONDS = 300
GATHER_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class QueueMessage:
    receipt_handle: str
    body: str
    message_id: str = ""


class EventQueue(dg.ConfigurableResource):
    queue_url: str | None = Field(default=None, description="SQS queue URL; None: list the bucket")
    endpoint_url: str | None = Field(default=None, description="SQS endpoint; None = AWS")
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    wait_seconds: int = Field(
        default=DEFAULT_WAIT_SECONDS, description="long poll of a tick's first receive"
    )
    gather_milliseconds: int = Field(
        default=DEFAULT_GATHER_MILLISECONDS,
        description="a tick keeps receiving until the queue is quiet this long",
    )
    reconcile_interval_seconds: int = Field(
        default=300, description="seconds between reconciliation listings; 0: never"
    )

    @property
    def configured(self) -> bool:
        return bool(self.queue_url)

    def client(self) -> Any:
        return boto3.client(
            "sqs",
            endpoint_url=self.endpoint_url or None,
            region_name=self.region,
            aws_access_key_id=self.access_key_id or None,
            aws_secret_access_key=self.secret_access_key or None,
            config=BotoConfig(
                retries={"max_attempts": 3},
                connect_timeout=5,
                read_timeout=SQS_MAX_WAIT_SECONDS + 10,
            ),
        )

    def receive(
        self, max_messages: int, visibility_timeout: int, budget_seconds: float = 20.0
    ) -> list[QueueMessage]:
        """Up to `max_messages`: a long poll for the first, then more until the queue stays
        quiet for `gather_milliseconds` or the budget is spent (see `gather`)."""
        client = self.client()

        def receive_batch(limit: int, wait_seconds: int) -> list[QueueMessage]:
            response = client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_MAX_BATCH, limit),
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
            )
            return [
                QueueMessage(m["ReceiptHandle"], m["Body"], m.get("MessageId", ""))
                for m in response.get("Messages", [])
            ]

        return gather(
            receive_batch,
            max_messages,
            first_wait_seconds=min(self.wait_seconds, SQS_MAX_WAIT_SECONDS),
            quiet_seconds=self.gather_milliseconds / 1000,
            budget_seconds=budget_seconds,
        )

    def delete(self, receipt_handles: list[str]) -> list[str]:
        """Delete messages; the receipt handles the queue refused (e.g. expired: the message
        was received again since and will be found decided)."""
        client = self.client()
        refused: list[str] = []
        for start in range(0, len(receipt_handles), SQS_MAX_BATCH):
            chunk = receipt_handles[start : start + SQS_MAX_BATCH]
            response = client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
            )
            refused += [chunk[int(failure["Id"])] for failure in response.get("Failed", [])]
        return refused


def gather(
    receive_batch: Callable[[int, int], list[QueueMessage]],
    max_messages: int,
    first_wait_seconds: int,
    quiet_seconds: float,
    budget_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
) -> list[QueueMessage]:
    """Messages from `receive_batch(limit, wait_seconds)`: one long poll for the first, then
    polls that do not wait, every GATHER_PAUSE_SECONDS, until none came for `quiet_seconds`,
    `max_messages` are in hand or `budget_seconds` are spent. A poll that returns messages is
    followed at once by the next: a queue holding a backlog is read without pauses."""
    deadline = clock() + budget_seconds
    messages = receive_batch(max_messages, first_wait_seconds)
    if not messages:
        return []
    last_arrival = clock()
    while len(messages) < max_messages and clock() < deadline:
        got = receive_batch(max_messages - len(messages), 0)
        if got:
            messages += got
            last_arrival = clock()
        elif clock() - last_arrival >= quiet_seconds:
            break
        else:
            pause(GATHER_PAUSE_SECONDS)
    return messages
