"""The stack's event relay turns the S3 store's filer events into AWS-shaped S3 event records.

The samples in data/filer_events.json are `weed filer.meta.tail` output of the pinned SeaweedFS
(trimmed to the fields the relay reads): folders made by a PUT, a PUT of `a b+c.csv`, its
overwrite, a multipart part and the completed multipart object, the multipart scratch folder's
removal and the delete of `a b+c.csv`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import unquote_plus

from ingest_pipeline.stack.event_relay import Checkpoint, filer_events, s3_records

SAMPLES = json.loads((Path(__file__).parent / "data" / "filer_events.json").read_text())


def records_of(event: dict) -> list[tuple[str, str, str | None]]:
    return [
        (r["eventName"], r["s3"]["object"]["key"], r["s3"]["object"].get("eTag"))
        for r in s3_records(event, "ingest-uploads", "us-east-1")
    ]


def test_folders_and_multipart_scratch_are_no_objects() -> None:
    folder, part, scratch_removed = SAMPLES[0], SAMPLES[3], SAMPLES[5]
    assert records_of(folder) == []
    assert records_of(part) == []
    assert records_of(scratch_removed) == []


def test_a_put_an_overwrite_and_a_delete() -> None:
    put, overwrite, delete = SAMPLES[1], SAMPLES[2], SAMPLES[6]
    key = "uploads/ds/a+b%2Bc.csv"  # URL-encoded as AWS does: space as +, + as %2B
    assert records_of(put) == [("ObjectCreated:Put", key, "344fd2323dd33d5c058b7cf27de029e8")]
    assert records_of(overwrite) == [("ObjectCreated:Put", key, "d3ba148105a17df296602e0d9eb92eef")]
    assert records_of(delete) == [("ObjectRemoved:Delete", key, None)]
    assert unquote_plus(key) == "uploads/ds/a b+c.csv"


def test_a_multipart_object_has_the_etag_s3_gives_it() -> None:
    (record,) = s3_records(SAMPLES[4], "ingest-uploads", "us-east-1")
    assert record["s3"]["object"]["eTag"] == "9f324c05788345ea7a822b241b6766b0-2"
    assert record["s3"]["object"]["size"] == 8388612


def test_the_sequencer_orders_events_of_a_key_and_the_record_is_aws_shaped() -> None:
    put, overwrite = (s3_records(e, "ingest-uploads", "eu-west-1")[0] for e in SAMPLES[1:3])
    assert put["s3"]["object"]["sequencer"] < overwrite["s3"]["object"]["sequencer"]
    assert put["eventSource"] == "aws:s3" and put["awsRegion"] == "eu-west-1"
    assert put["s3"]["bucket"] == {"name": "ingest-uploads", "arn": "arn:aws:s3:::ingest-uploads"}
    assert put["eventTime"].endswith("Z")


def test_a_rename_is_a_delete_and_a_create() -> None:
    event = json.loads(json.dumps(SAMPLES[1]))
    event["eventNotification"]["oldEntry"] = dict(event["eventNotification"]["newEntry"])
    event["eventNotification"]["newEntry"]["name"] = "renamed.csv"
    assert [name for name, _, _ in records_of(event)] == [
        "ObjectRemoved:Delete",
        "ObjectCreated:Put",
    ]


def test_another_bucket_s_events_are_not_sent() -> None:
    assert s3_records(SAMPLES[1], "other-bucket", "us-east-1") == []


def test_the_tail_output_is_read_object_by_object() -> None:
    # meta.tail prints indented JSON; each object ends with a `}` line
    text = "".join(json.dumps(e, indent=2) + "\n" for e in SAMPLES)
    assert list(filer_events(io.StringIO(text))) == SAMPLES


def test_the_checkpoint_survives_and_starts_empty(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path / "cp")
    assert checkpoint.read() is None
    checkpoint.write(1796496801015871394)
    assert Checkpoint(tmp_path / "cp").read() == 1796496801015871394
