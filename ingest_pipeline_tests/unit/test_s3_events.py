"""Reading S3 event notifications from the queue: AWS-shaped bodies, test events, order, dedupe."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ingest_pipeline.s3_events import (
    MAX_SEQUENCERS,
    S3Event,
    UnreadableMessage,
    parse_message,
    plan_events,
    sequencer_order,
)

BUCKET, PREFIX = "ingest-uploads", "uploads/"


def record(name: str, key: str, sequencer: str, etag: str | None = "abc", size: int = 10) -> dict:
    obj: dict = {"key": key, "sequencer": sequencer}
    if etag is not None:
        obj |= {"eTag": etag, "size": size}
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-12-05T18:57:09.396Z",
        "eventName": name,
        "s3": {"bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"}, "object": obj},
    }


def body(*records: dict) -> str:
    return json.dumps({"Records": list(records)})


def event(key: str, sequencer: str, created: bool = True, etag: str = "e1") -> S3Event:
    return S3Event(BUCKET, key, created, sequencer, etag if created else "", 10)


def test_a_put_record_is_read_with_its_key_decoded() -> None:
    (read,) = parse_message(
        body(record("ObjectCreated:Put", "uploads/sales/q1+report%2B%C3%A9.csv", "0A1B", '"ab"'))
    )
    assert read.key == "uploads/sales/q1 report+é.csv"
    assert (read.created, read.etag, read.size, read.sequencer) == (True, "ab", 10, "0A1B")
    assert read.time.isoformat() == "2026-12-05T18:57:09.396000+00:00"
    info = read.object_info()
    assert (info.bucket, info.key, info.etag) == (BUCKET, read.key, "ab")
    assert (info.size, info.last_modified) == (10, read.time)


def test_an_event_without_a_time_is_timed_now_in_utc() -> None:
    timeless = record("ObjectCreated:Put", "uploads/a/b.csv", "1")
    del timeless["eventTime"]
    before = datetime.now(UTC)
    (read,) = parse_message(body(timeless))
    assert read.time.tzinfo == UTC and before <= read.time <= datetime.now(UTC)


def test_a_removed_object_s_record_without_etag_or_size_reads_as_empty_etag_and_size_0() -> None:
    (read,) = parse_message(body(record("ObjectRemoved:Delete", "uploads/a/b.csv", "2", None)))
    assert (read.created, read.etag, read.size) == (False, "", 0)


def test_a_record_without_a_sequencer_reads_as_the_earliest_of_its_key() -> None:
    unordered = record("ObjectCreated:Put", "uploads/a/b.csv", "1")
    del unordered["s3"]["object"]["sequencer"]
    (read,) = parse_message(body(unordered))
    assert read.sequencer == ""
    batch = plan_events([event("uploads/a/b.csv", "0"), read], BUCKET, PREFIX, {})
    assert batch.sequencers == {"uploads/a/b.csv": "0"} and batch.stale == 1


def test_every_created_and_removed_kind_counts_and_others_do_not() -> None:
    events = parse_message(
        body(
            record("ObjectCreated:CompleteMultipartUpload", "uploads/a/x.csv", "01"),
            record("ObjectCreated:Copy", "uploads/a/y.csv", "02"),
            record("ObjectRemoved:DeleteMarkerCreated", "uploads/a/z.csv", "03", etag=None),
            record("s3:ObjectRemoved:Delete", "uploads/a/w.csv", "04", etag=None),
            record("ObjectRestore:Completed", "uploads/a/v.csv", "05"),
        )
    )
    assert [(e.key[-5:], e.created) for e in events] == [
        ("x.csv", True),
        ("y.csv", True),
        ("z.csv", False),
        ("w.csv", False),
    ]


def test_the_test_event_s3_sends_first_is_ignored() -> None:
    test_event = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-12-05T18:00:00.000Z",
        "Bucket": BUCKET,
        "RequestId": "1",
        "HostId": "2",
    }
    assert parse_message(json.dumps(test_event)) == []


def test_a_record_sent_through_sns_is_read() -> None:
    wrapped = {
        "Type": "Notification",
        "Message": body(record("ObjectCreated:Put", "uploads/a/b.csv", "1")),
    }
    assert [e.key for e in parse_message(json.dumps(wrapped))] == ["uploads/a/b.csv"]


def test_only_an_sns_notification_is_unwrapped() -> None:
    other = {
        "Type": "SubscriptionConfirmation",
        "Message": body(record("ObjectCreated:Put", "k", "1")),
    }
    with pytest.raises(UnreadableMessage):
        parse_message(json.dumps(other))


@pytest.mark.parametrize(
    "text", ["not json", "[1, 2]", '{"Records": [{"eventName": "ObjectCreated:Put"}]}', "{}"]
)
def test_a_body_that_is_no_s3_event_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableMessage):
        parse_message(text)


def test_an_unreadable_body_is_quoted_to_200_characters_after_what_was_wrong_with_it() -> None:
    with pytest.raises(UnreadableMessage) as not_json:
        parse_message("x" * 300)
    assert str(not_json.value) == "JSONDecodeError: " + "x" * 200
    not_an_object = json.dumps(list(range(100)))
    with pytest.raises(UnreadableMessage) as a_list:
        parse_message(not_an_object)
    assert str(a_list.value) == not_an_object[:200]


def test_sequencers_compare_as_hex_of_any_length() -> None:
    assert sequencer_order("0055AEC6C9") > sequencer_order("55AEC6C8")
    assert sequencer_order("ff") > sequencer_order("0F")
    assert sequencer_order("0001") < sequencer_order("2")


def test_the_latest_event_of_a_key_wins_whatever_the_delivery_order() -> None:
    put_1 = event("uploads/a/f.csv", "0001", etag="v1")
    put_2 = event("uploads/a/f.csv", "0002", etag="v2")
    delete = event("uploads/a/f.csv", "0003", created=False)
    batch = plan_events([delete, put_1, put_2], BUCKET, PREFIX, {})
    assert batch.created == () and batch.removed == ("uploads/a/f.csv",)
    assert batch.stale == 2
    batch = plan_events([put_2, put_1], BUCKET, PREFIX, {})
    assert [o.etag for o in batch.created] == ["v2"]
    assert batch.sequencers == {"uploads/a/f.csv": "0002"}


def test_each_event_a_later_one_of_its_key_replaces_in_the_batch_counts_as_stale() -> None:
    puts = [event("uploads/a/f.csv", f"000{n}", etag=f"v{n}") for n in (1, 2, 3)]
    batch = plan_events(puts, BUCKET, PREFIX, {})
    assert ([o.etag for o in batch.created], batch.stale) == (["v3"], 2)


def test_an_event_no_later_than_one_acted_on_is_stale() -> None:
    """A duplicate delivered again, or a put delivered after the delete that followed it."""
    known = {"uploads/a/f.csv": "0003"}
    late_put = event("uploads/a/f.csv", "0002")
    duplicate = event("uploads/a/f.csv", "0003", created=False)
    batch = plan_events([late_put, duplicate], BUCKET, PREFIX, known)
    assert (batch.created, batch.removed, batch.stale) == ((), (), 2)
    newer = plan_events([event("uploads/a/f.csv", "0004")], BUCKET, PREFIX, known)
    assert len(newer.created) == 1


def test_other_buckets_and_prefixes_are_elsewhere() -> None:
    other_bucket = S3Event("other", "uploads/a/f.csv", True, "1")
    batch = plan_events([other_bucket, event("archive/a/f.csv", "1")], BUCKET, PREFIX, {})
    assert (batch.created, batch.elsewhere) == ((), 2)


def test_the_remembered_sequencers_are_bounded_oldest_first() -> None:
    known = {f"uploads/a/{i}.csv": "1" for i in range(MAX_SEQUENCERS)}
    batch = plan_events([event("uploads/a/new.csv", "1")], BUCKET, PREFIX, known)
    assert len(batch.sequencers) == MAX_SEQUENCERS
    assert "uploads/a/0.csv" not in batch.sequencers and "uploads/a/new.csv" in batch.sequencers
