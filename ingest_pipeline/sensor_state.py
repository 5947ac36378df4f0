"""The upload sensor's cursor when it reads S3 events from a queue, and its reconciliation pass.

The versions decided (key -> ETag) are not in this cursor but in Dagster's key-value store
(seen_store.py), read for the keys a tick looks at. The cursor holds:
- `pending`: this tick's decisions (key -> ETag; "" = forgotten: deleted, so the same content
  uploaded again is new). Dagster records a tick's run requests and its cursor together, after
  the sensor function returns, so the NEXT tick writes them to the store first: a store ahead
  of the recorded run requests would lose files if the daemon died in between. A cursor of
  version 2 (the whole key -> ETag map) or a listing sensor's (the map alone) decodes with its
  whole map as pending: the next ticks write it, a bounded part a tick (a tick must stay
  inside Dagster's 60 s sensor timeout: event_sensor.FLUSH_KEYS_PER_TICK), their lookups see
  what is still pending (`overlay`), and then the cursor is small.
- `acks`: receipt handles of the messages the tick read. The NEXT tick deletes them too: a tick
  that fails (or a daemon that dies) leaves them in the queue, to be received again after their
  visibility timeout and found decided (key+ETag, run key) then.
- `sequencers`: key -> sequencer of the latest event acted on, for the keys of recent events.
- `deferred`: created objects not yet requested because their dataset's last run is still
  queued (tick_plan.plan_tick's `waiting`).
- the reconciliation: a slow listing pass, one page (up to 1000 keys) per tick, resumed from
  the last key listed (`after`), so no tick lists everything; a pass starts every
  `interval` seconds (and at once on a fresh cursor) and finds what no event announced.
  It reads the decided versions of the keys in the page's range (ListedPage.covered: one
  range read of the store), so a decided key the page lacks was deleted, even when its delete
  event was lost: it is forgotten and, under `on_delete: retract`, retracted, as a listing
  sensor does.
Nothing here does I/O.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ingest_pipeline.records import ObjectInfo

VERSION = 3
#: Cursors of this version held the whole key -> ETag map (`seen`).
WHOLE_MAP_VERSION = 2


@dataclass(frozen=True)
class Reconciliation:
    after: str | None = None  # last key of the previous page; None: no pass under way
    running: bool = False
    finished_at: float | None = None  # when the last complete pass ended (epoch seconds)
    pages: int = 0  # pages of the pass under way

    def due(self, now: float, interval: float) -> bool:
        if interval <= 0:
            return False
        if self.running or self.finished_at is None:
            return True
        return now - self.finished_at >= interval


@dataclass(frozen=True)
class EventCursor:
    pending: dict[str, str] = field(default_factory=dict)  # decisions the store lacks yet
    acks: tuple[str, ...] = ()
    sequencers: dict[str, str] = field(default_factory=dict)
    reconciliation: Reconciliation = Reconciliation()
    # created objects whose dataset had a run queued: planned again next tick (their
    # messages are deleted, so the cursor is what remembers them)
    deferred: tuple[ObjectInfo, ...] = ()


def encode_state(state: EventCursor) -> str:
    rec = state.reconciliation
    data = {
        "v": VERSION,
        "pending": state.pending,
        "acks": list(state.acks),
        "seq": state.sequencers,
        "rec": [rec.after, rec.running, rec.finished_at, rec.pages],
        "deferred": [
            [o.bucket, o.key, o.size, o.etag, o.last_modified.isoformat()] for o in state.deferred
        ],
    }
    return base64.b64encode(zlib.compress(json.dumps(data, sort_keys=True).encode())).decode()


def decode_state(cursor: str | None) -> EventCursor:
    """The cursor of either mode and version: a listing sensor's (the key -> ETag map alone)
    and a version 2 cursor's map carry over as pending decisions."""
    if not cursor:
        return EventCursor()
    data = json.loads(zlib.decompress(base64.b64decode(cursor)))
    if data.get("v") not in (VERSION, WHOLE_MAP_VERSION):
        return EventCursor(pending=dict(data))
    after, running, finished_at, pages = data["rec"]
    return EventCursor(
        pending=dict(data["pending" if data["v"] == VERSION else "seen"]),
        acks=tuple(data["acks"]),
        sequencers=dict(data["seq"]),
        reconciliation=Reconciliation(after, running, finished_at, pages),
        deferred=tuple(
            ObjectInfo(bucket, key, size, etag, datetime.fromisoformat(modified))
            for bucket, key, size, etag, modified in data.get("deferred", [])
        ),
    )


@dataclass(frozen=True)
class KeyRange:
    """Keys from `low` to `high`, each bound included or not (S3's byte order)."""

    low: str
    low_included: bool
    high: str
    high_included: bool

    def holds(self, key: str) -> bool:
        above = key >= self.low if self.low_included else key > self.low
        below = key <= self.high if self.high_included else key < self.high
        return above and below

    def within(self, namespace: str) -> KeyRange:
        return KeyRange(
            namespace + self.low, self.low_included, namespace + self.high, self.high_included
        )


def prefix_range(prefix: str, after: str | None, through: str | None) -> KeyRange:
    """The keys under `prefix` after `after` (None: from the first) up to `through` included
    (None: to the last)."""
    # every key under the prefix sorts below the prefix with its last character incremented
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else chr(0x10FFFF)
    low, low_included = (after, False) if after is not None else (prefix, True)
    high, high_included = (through, True) if through is not None else (end, False)
    return KeyRange(low, low_included, high, high_included)


@dataclass(frozen=True)
class ListedPage:
    """One page of the reconciliation listing: keys after `after`, in key order."""

    after: str | None
    objects: tuple[ObjectInfo, ...]
    truncated: bool  # more keys follow

    def covered(self, prefix: str) -> KeyRange:
        """The keys under `prefix` the page would have listed if they existed (so a decided
        key in this range that the page lacks was deleted)."""
        if self.truncated and not self.objects:
            return KeyRange(prefix, False, prefix, False)  # nothing
        through = self.objects[-1].key if self.truncated else None
        return prefix_range(prefix, self.after, through)


def after_page(rec: Reconciliation, page: ListedPage, now: float) -> Reconciliation:
    """Where the pass stands after a page: the next page starts after its last key; a page
    with nothing after it ends the pass."""
    if page.truncated and page.objects:
        return Reconciliation(page.objects[-1].key, True, rec.finished_at, rec.pages + 1)
    return Reconciliation(None, False, now, rec.pages + 1)


def merge_objects(events: Sequence[ObjectInfo], page: Sequence[ObjectInfo]) -> list[ObjectInfo]:
    """One object per key: the listing's (made after the events were received) wins."""
    by_key = {obj.key: obj for obj in events}
    by_key.update((obj.key, obj) for obj in page)
    return list(by_key.values())


def forget_removed(seen: dict[str, str], removed: Sequence[str]) -> dict[str, str]:
    """Deleted keys leave the map: a later upload of the same content is new again."""
    gone = set(removed)
    return {key: etag for key, etag in seen.items() if key not in gone}


def seen_changes(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    """What a tick changed in the decided versions it looked at (`before`: those of its keys
    decided, `after`: the plan's next_seen from them, deletes forgotten): key -> new ETag,
    "" for a key forgotten."""
    keys = set(before) | set(after)
    return {
        key: after.get(key, "") for key in sorted(keys) if before.get(key, "") != after.get(key, "")
    }


def split_pending(pending: dict[str, str], limit: int) -> tuple[dict[str, str], dict[str, str]]:
    """The pending decisions to write now (the first `limit` keys in key order) and later."""
    keys = sorted(pending)
    now, later = keys[:limit], keys[limit:]
    return {k: pending[k] for k in now}, {k: pending[k] for k in later}


def overlay(stored: dict[str, str], pending: dict[str, str], keys: Iterable[str]) -> dict[str, str]:
    """The decided versions of `keys`: the store's, where the cursor has no pending decision
    ("" = forgotten), else that."""
    decided = dict(stored)
    for key in keys:
        if key in pending:
            if pending[key]:
                decided[key] = pending[key]
            else:
                decided.pop(key, None)
    return decided


def listed_nothing(key: str) -> bool:
    """No listing this tick: no key's absence means it was deleted."""
    return False
