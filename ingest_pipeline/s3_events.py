"""S3 event notifications as the sensor reads them from the queue: parsing, ordering, dedupe.

A message body is what S3 sends to SQS: `{"Records": [...]}` with one record per object change
(`s3:ObjectCreated:*`, `s3:ObjectRemoved:*`), keys URL-encoded (`+` for a space), an ETag
for a created object and a `sequencer` that orders the events of ONE key (compare only for the
same key: the larger is the later). Delivery is at least once and unordered, so a tick keeps,
per key, only its latest event, and drops an event no later than one it already acted on. Also
understood: the `s3:TestEvent` S3 sends when the notification is configured (ignored) and a
record wrapped in an SNS notification (S3 -> SNS -> SQS). Nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from ingest_pipeline.records import ObjectInfo

#: Sequencers kept in the cursor (the keys of the latest events), so a late duplicate of an
#: event already acted on is dropped; older keys fall back on the cursor's key -> ETag map.
MAX_SEQUENCERS = 5000


class UnreadableMessage(ValueError):
    """A message that is not an S3 event notification."""


@dataclass(frozen=True)
class S3Event:
    bucket: str
    key: str  # decoded
    created: bool  # ObjectCreated:* (else ObjectRemoved:*)
    sequencer: str
    etag: str = ""
    size: int = 0
    time: datetime = datetime(1970, 1, 1, tzinfo=UTC)

    def object_info(self) -> ObjectInfo:
        return ObjectInfo(self.bucket, self.key, self.size, self.etag, self.time)


def _event_time(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    return datetime.fromisoformat(text)  # Python >= 3.11 reads the "Z" S3 writes


def _event(record: Mapping) -> S3Event | None:
    name = str(record.get("eventName", ""))
    kind = name.removeprefix("s3:").split(":", 1)[0]
    if kind not in ("ObjectCreated", "ObjectRemoved"):
        return None  # e.g. ObjectRestore, Replication, LifecycleExpiration
    s3 = record["s3"]
    obj = s3["object"]
    return S3Event(
        bucket=s3["bucket"]["name"],
        key=unquote_plus(obj["key"]),
        created=kind == "ObjectCreated",
        sequencer=str(obj.get("sequencer", "")),
        etag=str(obj.get("eTag", "")).strip('"'),
        size=int(obj.get("size", 0) or 0),
        time=_event_time(record.get("eventTime")),
    )


def parse_message(body: str) -> list[S3Event]:
    """The object events in one queue message ([] for a test event); UnreadableMessage if the
    body is not an S3 notification."""
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
            data = json.loads(data["Message"])  # S3 -> SNS -> SQS
        if not isinstance(data, dict):
            raise UnreadableMessage(body[:200])
        if data.get("Event") == "s3:TestEvent":
            return []
        records = data["Records"]
        return [event for event in map(_event, records) if event is not None]
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, UnreadableMessage):
            raise
        raise UnreadableMessage(f"{type(error).__name__}: {body[:200]}") from None


def sequencer_order(sequencer: str) -> str:
    """A sort key: sequencers of one key compare as hex numbers of any length."""
    return sequencer.upper().rjust(40, "0")


@dataclass(frozen=True)
class EventBatch:
    """What a tick's events say about the uploads: objects to consider ingesting, keys
    removed, how many events were stale or elsewhere, and the sequencers to remember."""

    created: tuple[ObjectInfo, ...]
    removed: tuple[str, ...]
    stale: int
    elsewhere: int
    sequencers: dict[str, str]


def plan_events(
    events: Iterable[S3Event], bucket: str, prefix: str, sequencers: Mapping[str, str]
) -> EventBatch:
    """The latest event of each key under `bucket`/`prefix`, unless an event at least as late
    was acted on before (`sequencers`: key -> the sequencer of that event)."""
    latest: dict[str, S3Event] = {}
    elsewhere = stale = 0
    for event in events:
        if event.bucket != bucket or not event.key.startswith(prefix):
            elsewhere += 1
            continue
        before = latest.get(event.key)
        known = sequencers.get(event.key)
        order = sequencer_order(event.sequencer)
        if known is not None and order <= sequencer_order(known):
            stale += 1
        elif before is None or order > sequencer_order(before.sequencer):
            stale += before is not None
            latest[event.key] = event
        else:
            stale += 1
    remembered = {k: v for k, v in sequencers.items() if k not in latest}
    remembered.update((key, event.sequencer) for key, event in latest.items())
    overflow = len(remembered) - MAX_SEQUENCERS
    if overflow > 0:  # the oldest entries first (insertion order)
        remembered = dict(list(remembered.items())[overflow:])
    return EventBatch(
        created=tuple(e.object_info() for e in latest.values() if e.created),
        removed=tuple(key for key, e in latest.items() if not e.created),
        stale=stale,
        elsewhere=elsewhere,
        sequencers=remembered,
    )
