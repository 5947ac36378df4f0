"""The queue-mode cursor and its reconciliation pass: pages resume, passes recur, keys a page
covers and lacks are gone, a listing cursor carries over."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest_pipeline.records import ObjectInfo
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
)
from ingest_pipeline.sensors import encode_cursor, plan_tick

WHEN = datetime(2026, 12, 5, tzinfo=UTC)


def obj(key: str, etag: str = "e") -> ObjectInfo:
    return ObjectInfo("b", key, 10, etag, WHEN)


def test_the_cursor_round_trips_and_a_listing_cursor_carries_over() -> None:
    state = EventCursor(
        pending={"uploads/a/x.csv": "e"},
        acks=("r1", "r2"),
        sequencers={"uploads/a/x.csv": "0A"},
        reconciliation=Reconciliation("uploads/a/x.csv", True, 12.5, 3),
    )
    assert decode_state(encode_state(state)) == state
    assert decode_state(encode_cursor({"k": "e"})) == EventCursor(pending={"k": "e"})
    assert decode_state(None) == EventCursor()


def test_a_pass_is_due_at_once_then_every_interval_and_never_with_zero() -> None:
    fresh = Reconciliation()
    assert fresh.due(now=100, interval=300)
    done = Reconciliation(finished_at=100)
    assert not done.due(now=399, interval=300) and done.due(now=400, interval=300)
    assert Reconciliation("k", True, 100, 1).due(now=101, interval=300)  # under way
    assert not fresh.due(now=100, interval=0)


def test_any_positive_interval_schedules_passes() -> None:
    assert Reconciliation().due(now=100, interval=1)
    assert Reconciliation(finished_at=100).due(now=101, interval=1)


def test_a_state_encodes_to_the_same_cursor_whatever_order_its_keys_were_added_in() -> None:
    one = EventCursor(pending={"a": "1", "b": "2"}, sequencers={"a": "0A", "b": "0B"})
    other = EventCursor(pending={"b": "2", "a": "1"}, sequencers={"b": "0B", "a": "0A"})
    assert encode_state(one) == encode_state(other)


def test_without_a_listing_no_decided_key_counts_as_deleted() -> None:
    seen = {"uploads/a/1.csv": "e", "uploads/a/2.csv": "e"}
    plan = plan_tick([], seen, lambda k: k[len("uploads/") :], 100, listed=listed_nothing)
    assert plan.next_seen == seen


def test_pages_resume_after_the_last_key_and_the_last_page_ends_the_pass() -> None:
    rec = Reconciliation(finished_at=5)
    first = ListedPage(None, (obj("uploads/a/1"), obj("uploads/a/2")), truncated=True)
    rec = after_page(rec, first, now=10)
    assert (rec.after, rec.running, rec.pages) == ("uploads/a/2", True, 1)
    last = ListedPage(rec.after, (obj("uploads/a/3"),), truncated=False)
    rec = after_page(rec, last, now=20)
    assert rec == Reconciliation(None, False, 20, 2)


def test_a_page_covers_its_key_range_only() -> None:
    middle = ListedPage("uploads/a/2", (obj("uploads/a/3"), obj("uploads/a/5")), truncated=True)
    assert [
        middle.covered("uploads/").holds(k)
        for k in ("uploads/a/2", "uploads/a/4", "uploads/a/5", "uploads/a/6")
    ] == [
        False,
        True,
        True,
        False,
    ]
    last = ListedPage("uploads/a/5", (), truncated=False)
    assert last.covered("uploads/").holds("uploads/z/9")
    assert not last.covered("uploads/").holds("uploads/a/1")
    # keys outside the uploads prefix are never covered (a decided key there is no upload)
    first = ListedPage(None, (), truncated=False)
    assert first.covered("uploads/").holds("uploads/a/1")
    assert not first.covered("uploads/").holds("other/a/1")
    assert not first.covered("uploads/").holds("uploads0")
    assert not first.covered("uploads/").holds("upload")
    assert not ListedPage("uploads/a", (), truncated=True).covered("uploads/").holds("uploads/b")


def test_a_page_in_the_middle_of_a_pass_keeps_when_the_last_complete_pass_ended() -> None:
    keys = ("uploads/a/1", "uploads/a/2", "uploads/a/3")
    page = ListedPage(None, tuple(obj(k) for k in keys), truncated=True)
    assert after_page(Reconciliation(finished_at=5), page, now=10) == Reconciliation(
        "uploads/a/3", True, 5, 1
    )


def test_a_page_of_many_keys_covers_every_key_up_to_its_last() -> None:
    keys = ("uploads/a/1", "uploads/a/2", "uploads/a/3", "uploads/a/4")
    page = ListedPage(None, tuple(obj(k) for k in keys), truncated=True)
    covered = page.covered("uploads/")
    assert covered.holds("uploads/a/3") and covered.holds("uploads/a/4")
    assert not covered.holds("uploads/a/5")


def test_a_decided_key_the_page_covers_and_lacks_leaves_the_cursor_others_stay() -> None:
    seen = {"uploads/a/1.csv": "e", "uploads/a/2.csv": "e", "uploads/a/9.csv": "e"}
    page = ListedPage(None, (obj("uploads/a/1.csv"), obj("uploads/a/3.csv")), truncated=True)
    plan = plan_tick(
        page.objects,
        seen,
        lambda k: k[len("uploads/") :],
        100,
        listed=page.covered("uploads/").holds,
    )
    # a/2 is inside the page's range and absent: deleted; a/9 lies beyond it: not looked at
    assert plan.next_seen == {
        "uploads/a/1.csv": "e",
        "uploads/a/3.csv": "e",
        "uploads/a/9.csv": "e",
    }
    assert [v.partition_key for v in plan.versions] == ["a/3.csv"]


def test_the_listing_wins_over_an_event_of_the_same_key() -> None:
    merged = merge_objects([obj("k", "from-event"), obj("j")], [obj("k", "listed")])
    assert {o.key: o.etag for o in merged} == {"k": "listed", "j": "e"}


def test_removed_keys_leave_the_seen_map() -> None:
    assert forget_removed({"a": "1", "b": "2"}, ["a", "c"]) == {"b": "2"}
