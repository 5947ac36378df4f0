"""upload_sensor's tick when the bucket's S3 events come through a queue (EventQueue set).

A tick costs what is new, not what the bucket holds: it deletes the messages the previous tick
read (its run requests and cursor are recorded by then, see sensor_state.py), receives what
came since (a long poll, then until the queue is quiet), keeps each key's latest event, and
plans the created objects exactly as a listing would be planned (tick_plan.plan_tick: the same
batching, skips and run keys). While a reconciliation pass is due it also lists ONE page of
the bucket, resuming where the last page ended, so an object whose event was lost is found
within a pass. A removed object is forgotten; under its dataset's `on_delete: retract` it
becomes a retract_upload run (tick_plan.decide_deletes), else it is logged once.

The decided versions live in Dagster's key-value store (seen_store.py): a tick first writes
the previous tick's decisions (its cursor's `pending`, recorded with its run requests by now;
after an upgrade from a cursor holding every key, a bounded part of them a tick),
then reads the decided ETags of the keys it looks at only (events, deferred objects, the page:
at most MAX_MESSAGES_PER_TICK + RECONCILE_PAGE_KEYS), and its cursor carries its own decisions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import dagster as dg

from ingest_pipeline.datasets import DeleteMode
from ingest_pipeline.partitions import UPLOADS
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.event_queue import EventQueue, QueueMessage
from ingest_pipeline.resources.object_store import ObjectStore
from ingest_pipeline.s3_events import S3Event, UnreadableMessage, parse_message, plan_events
from ingest_pipeline.seen_store import SeenStore
from ingest_pipeline.sensor_state import (
    EventCursor,
    ListedPage,
    Reconciliation,
    after_page,
    decode_state,
    encode_state,
    forget_removed,
    listed_nothing,
    merge_objects,
    overlay,
    seen_changes,
    split_pending,
)
from ingest_pipeline.tick_plan import (
    BatchCaps,
    DeletedObject,
    TickPlan,
    decide_deletes,
    plan_tick,
    versions_run_by_cli,
)

#: Messages one tick takes at most (a 200-file burst lands in one tick, so in one run per
#: dataset); with one reconciliation page a tick plans at most this + RECONCILE_PAGE_KEYS.
MAX_MESSAGES_PER_TICK = 500
#: Keys a reconciliation page lists (one S3 ListObjectsV2 request).
RECONCILE_PAGE_KEYS = 1000
#: Decided keys a page reads at most from the store: its own (up to RECONCILE_PAGE_KEYS) and
#: those deleted between them; more deletes than that in one page's range are found by the
#: next passes.
COVERED_KEYS_LIMIT = 5 * RECONCILE_PAGE_KEYS
#: Pending decisions a tick writes to the store at most: a tick's own are up to
#: MAX_MESSAGES_PER_TICK + RECONCILE_PAGE_KEYS; only the map of an upgraded cursor (every key
#: ever decided) takes several ticks, each well inside Dagster's 60 s sensor timeout.
FLUSH_KEYS_PER_TICK = 50_000
#: Seconds a received message stays invisible: long past the next tick, which deletes it.
VISIBILITY_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class QueueTick:
    plan: TickPlan
    cursor: str
    summary: str
    notes: tuple[str, ...]  # one log line each
    deletes: tuple[DeletedObject, ...] = ()


def read_messages(messages: Sequence[QueueMessage]) -> tuple[list[S3Event], list[str]]:
    """The S3 events in the messages, and a note for each message that holds none readable."""
    events: list[S3Event] = []
    notes: list[str] = []
    for message in messages:
        try:
            events += parse_message(message.body)
        except UnreadableMessage as error:
            notes.append(f"ignored message {message.message_id}: not an S3 event ({error})")
    return events, notes


def existing_partitions(instance: dg.DagsterInstance, keys: Collection[str]) -> set[str]:
    """Which of `keys` are partitions already: a query for these keys (chunked by Dagster),
    never a read of every partition."""
    if not keys:
        return set()
    return set(instance.get_existing_dynamic_partitions(UPLOADS, sorted(set(keys))))


def reconcile_page(
    s3: ObjectStore, rec: Reconciliation, interval: int
) -> tuple[ListedPage | None, Reconciliation]:
    if not rec.due(time.time(), interval):
        return None, rec
    objects, truncated = s3.list_uploads_page(rec.after, RECONCILE_PAGE_KEYS)
    page = ListedPage(rec.after, tuple(objects), truncated)
    return page, after_page(rec, page, time.time())


def decided_versions(
    store: SeenStore,
    pending: dict[str, str],
    keys: list[str],
    page: ListedPage | None,
    prefix: str,
) -> dict[str, str]:
    """key -> decided ETag of `keys` and, with a page, of every decided key the page covers
    (so the plan sees those the page lacks as deleted): the store's, under the cursor's
    pending decisions."""
    # the page's own keys are read by key too: the range read stops at COVERED_KEYS_LIMIT
    stored = store.lookup(keys)
    if page is None:
        return overlay(stored, pending, keys)
    covered = page.covered(prefix)
    stored = {**store.decided_in(covered, COVERED_KEYS_LIMIT), **stored}
    return overlay(stored, pending, [*keys, *(k for k in [*stored, *pending] if covered.holds(k))])


def lost_deletes(removed: Sequence[str]) -> list[tuple[str, str]]:
    """(key, sequencer) of decided keys a page found gone: deletes whose event was lost, each
    with a sequencer of its own, as a listing sensor gives them."""
    listed = f"listed@{int(time.time() * 1000)}"
    return [(key, listed) for key in removed]


def plan_queue_tick(
    cursor: str | None,
    instance: dg.DagsterInstance,
    s3: ObjectStore,
    events: EventQueue,
    caps: BatchCaps,
    on_delete_of: Callable[[str], DeleteMode] = lambda dataset: DeleteMode.KEEP,
    waiting: Collection[str] = (),
) -> QueueTick:
    """One tick: store the last tick's decisions, acknowledge, receive, plan (see the
    module's docstring)."""
    state = decode_state(cursor)
    store = SeenStore.of(instance)
    flushing, pending = split_pending(state.pending, FLUSH_KEYS_PER_TICK)
    store.write(flushing)
    notes: list[str] = []
    if state.acks:
        refused = events.delete(list(state.acks))
        if refused:
            notes.append(f"{len(refused)} messages were received again since: not deleted")
    messages = events.receive(MAX_MESSAGES_PER_TICK, VISIBILITY_TIMEOUT_SECONDS)
    parsed, unreadable = read_messages(messages)
    notes += unreadable
    batch = plan_events(parsed, s3.uploads_bucket, s3.uploads_prefix, state.sequencers)
    page, rec = reconcile_page(s3, state.reconciliation, events.reconcile_interval_seconds)
    # an event received now supersedes an object deferred before (same key, newer version)
    gone = set(batch.removed)
    held = [obj for obj in state.deferred if obj.key not in gone]
    objects = merge_objects([*held, *batch.created], page.objects if page else ())
    keys = [*gone, *(obj.key for obj in objects)]
    decided = decided_versions(store, pending, keys, page, s3.uploads_prefix)
    seen = forget_removed(decided, batch.removed)
    plan = plan_objects(instance, s3, objects, seen, caps, page, waiting)
    removed = [(key, batch.sequencers.get(key, "")) for key in batch.removed]
    deletes = decide_deletes(
        [*removed, *lost_deletes(plan.removed)],
        s3.partition_key,
        on_delete_of,
        existing_partitions(instance, [s3.partition_key(k) for k in [*gone, *plan.removed]]),
    )
    if plan.removed:
        notes.append(
            f"reconciliation: {len(plan.removed)} decided keys are no longer in the bucket "
            "(their delete events were lost)"
        )
    cursor_out = encode_state(
        EventCursor(
            pending={**pending, **seen_changes(decided, plan.next_seen)},
            acks=tuple(m.receipt_handle for m in messages),
            sequencers=batch.sequencers,
            reconciliation=rec,
            deferred=plan.deferred,
        )
    )
    listed = f"; listed page {rec.pages} ({len(page.objects)} keys)" if page else ""
    summary = (
        f"{len(messages)} messages: {len(batch.created)} created, {len(batch.removed)} "
        f"removed, {batch.stale} stale, {batch.elsewhere} elsewhere{listed}"
    )
    return QueueTick(plan, cursor_out, summary, tuple(notes), deletes)


def plan_objects(
    instance: dg.DagsterInstance,
    s3: ObjectStore,
    objects: list[ObjectInfo],
    seen: dict[str, str],
    caps: BatchCaps,
    page: ListedPage | None,
    waiting: Collection[str] = (),
) -> TickPlan:
    """plan_tick over what the events and the page hold, `seen` their decided versions. No
    request cap: a tick's input is bounded (messages + one page)."""
    keys = [s3.partition_key(obj.key) for obj in objects if seen.get(obj.key) != obj.etag]
    existing = existing_partitions(instance, keys)
    return plan_tick(
        objects,
        seen,
        s3.partition_key,
        len(objects),
        existing,
        caps,
        versions_run_by_cli(instance, objects, seen, s3.partition_key, existing),
        listed=page.covered(s3.uploads_prefix).holds if page else listed_nothing,
        waiting=waiting,
    )
