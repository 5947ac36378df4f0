"""upload_sensor's decisions without servers: skip_reason (every rule), plan_tick (new,
unchanged, overwritten, skipped, the request limit, deleted objects), the cursor, and one tick
of the sensor itself over an in-memory listing.

Expected values are written out by hand here, never computed with the code under test.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg
import pytest

from ingest_pipeline import sensors
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.event_queue import EventQueue
from ingest_pipeline.resources.settings import PipelineSettings, SensorSettings
from ingest_pipeline.sensors import (
    SkippedObject,
    SkipReason,
    TickPlan,
    VersionToIngest,
    decode_cursor,
    encode_cursor,
    plan_tick,
    skip_reason,
)

PREFIX = "uploads/"
WHEN = datetime(2024, 3, 1, 10, tzinfo=UTC)
UNKNOWN = "unknown extension (expected one of"
HIDDEN = "temporary or hidden name"
NOT_IN_FOLDER = "not under a dataset folder (<prefix>/<dataset>/<file>)"
FORBIDDEN = "key contains characters Dagster partition keys cannot hold (control chars, '...')"


def obj(key: str, etag: str = "e1", size: int = 10) -> ObjectInfo:
    return ObjectInfo("ingest-uploads", key, size, etag, WHEN)


def partition_key_of(key: str) -> str:
    """What S3Storage.partition_key does: the key without the uploads prefix."""
    assert key.startswith(PREFIX), key
    return key[len(PREFIX) :]


def reason_for(key: str, size: int = 10) -> str | None:
    """The skip reason's message, as the sensor logs it."""
    reason = skip_reason(obj(key, size=size), partition_key_of(key))
    return None if reason is None else reason.message


# --------------------------------------------------------------------------- skip_reason

DATA_NAMES = [
    "a.csv",
    "a.tsv",
    "a.txt",
    "a.psv",
    "a.tab",
    "a.json",
    "a.ndjson",
    "a.jsonl",
    "a.parquet",
    "a.pq",
]


@pytest.mark.parametrize("name", DATA_NAMES)
@pytest.mark.parametrize("compression", ["", ".gz", ".gzip"])
def test_every_data_extension_plain_or_gzipped_is_ingested(name: str, compression: str) -> None:
    assert reason_for(f"uploads/sales/{name}{compression}") is None


@pytest.mark.parametrize("name", ["A.CSV", "Sales.Parquet", "x.JSONL.GZ", "y.Pq.GzIp"])
def test_extensions_are_compared_without_case(name: str) -> None:
    assert reason_for(f"uploads/sales/{name}") is None


@pytest.mark.parametrize(
    "name",
    ["a.xlsx", "a.csv.zip", "a.bz2", "a", "csv", "a.csvx", "a.parquet.bak", "a.json.gz.tmp2"],
)
def test_unknown_extensions_are_skipped(name: str) -> None:
    reason = reason_for(f"uploads/sales/{name}")
    assert reason is not None and reason.startswith(UNKNOWN), reason
    # the reason lists what would have been accepted, .parquet and .pq included
    for extension in (".csv", ".ndjson", ".jsonl", ".parquet", ".pq"):
        assert extension in reason
    assert reason.endswith("optionally .gz)")


@pytest.mark.parametrize("name", ["a.gz", "a.gzip", "data.GZ"])
def test_a_bare_gzip_is_accepted_and_left_to_validation(name: str) -> None:
    # validation looks inside; the name alone does not say it is not data
    assert reason_for(f"uploads/sales/{name}") is None


@pytest.mark.parametrize("key", ["uploads/sales/", "uploads/sales/sub/", "uploads/"])
def test_folder_markers_are_skipped(key: str) -> None:
    assert skip_reason(obj(key, size=0), key[len(PREFIX) :]) == "folder marker"
    assert skip_reason(obj(key, size=5), key[len(PREFIX) :]) == "folder marker"


def test_zero_byte_objects_are_skipped_and_one_byte_is_enough() -> None:
    assert reason_for("uploads/sales/a.csv", size=0) == "zero bytes"
    assert reason_for("uploads/sales/a.csv", size=1) is None


@pytest.mark.parametrize(
    "name",
    [
        ".a.csv",
        ".hidden",
        "_a.csv",
        "_SUCCESS",
        "~a.csv",
        "~$book.csv",
        "a.csv.tmp",
        "a.csv.TMP",
        "a.csv.part",
        "a.csv.crdownload",
        "a.csv.CRDOWNLOAD",
        "a.csv~",
        "a.tmp",
    ],
)
def test_hidden_and_temporary_names_are_skipped(name: str) -> None:
    assert reason_for(f"uploads/sales/{name}") == HIDDEN


@pytest.mark.parametrize(
    "name",
    ["a_b.csv", "a.b.csv", "a~b.csv", "a.tmp.csv", "a.part.csv", "a-crdownload.csv", "a.csv.gz"],
)
def test_hidden_and_temporary_markers_only_count_at_the_name_s_ends(name: str) -> None:
    assert reason_for(f"uploads/sales/{name}") is None


@pytest.mark.parametrize("folder", ["_staging", ".cache", "~tmp"])
def test_a_hidden_looking_dataset_folder_does_not_hide_the_file(folder: str) -> None:
    # the rule is on the file name; the dataset name is checked by validation
    assert reason_for(f"uploads/{folder}/a.csv") is None


def test_a_file_directly_under_the_prefix_is_not_under_a_dataset_folder() -> None:
    assert reason_for("uploads/a.csv") == NOT_IN_FOLDER


@pytest.mark.parametrize("bad", ["...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0"], ids=repr)
@pytest.mark.parametrize("where", ["dataset", "name"])
def test_each_character_dagster_refuses_in_a_partition_key_is_skipped(bad: str, where: str) -> None:
    key = f"uploads/sa{bad}les/a.csv" if where == "dataset" else f"uploads/sales/a{bad}b.csv"
    assert reason_for(key) == FORBIDDEN


@pytest.mark.parametrize("name", ["a..b.csv", "a . . .csv", "a b.csv", "ä€.csv", "a\u0085.csv"])
def test_characters_dagster_accepts_are_not_refused(name: str) -> None:
    assert reason_for(f"uploads/sales/{name}") is None


@pytest.mark.parametrize(
    ("key", "size", "expected"),
    [
        ("uploads/sales/", 0, "folder marker"),  # a folder marker of zero bytes
        ("uploads/sales/.a.csv", 0, "zero bytes"),  # zero bytes before the hidden name
        ("uploads/sales/a.tmp", 10, HIDDEN),  # hidden before the unknown extension
        ("uploads/a.xlsx", 10, UNKNOWN),  # the extension before the folder
        ("uploads/a\t.csv", 10, NOT_IN_FOLDER),  # the folder before the characters
    ],
)
def test_the_first_rule_that_applies_gives_the_reason(key: str, size: int, expected: str) -> None:
    reason = reason_for(key, size)
    assert reason is not None and reason.startswith(expected), reason


def test_the_rules_look_at_the_partition_key_for_folder_and_characters() -> None:
    # the folder and character rules use the partition key, not the S3 key
    assert skip_reason(obj("uploads/sales/a.csv"), "a.csv") == SkipReason.NOT_IN_DATASET
    assert (
        skip_reason(obj("uploads/sales/a.csv"), "sales/a\n.csv") == SkipReason.FORBIDDEN_CHARACTERS
    )
    assert SkipReason.NOT_IN_DATASET.message == NOT_IN_FOLDER
    assert SkipReason.FORBIDDEN_CHARACTERS.message == FORBIDDEN


# --------------------------------------------------------------------------- plan_tick


def plan(objects: Iterable[ObjectInfo], seen: dict[str, str], limit: int = 500) -> TickPlan:
    return plan_tick(list(objects), seen, partition_key_of, limit)


def test_new_objects_are_requested_once_each_and_enter_the_cursor() -> None:
    result = plan([obj("uploads/s/a.csv", "ea"), obj("uploads/t/b.json", "eb")], {})
    assert tuple(result.versions) == (
        VersionToIngest("s/a.csv", "ea"),
        VersionToIngest("t/b.json", "eb"),
    )
    assert result.next_seen == {"uploads/s/a.csv": "ea", "uploads/t/b.json": "eb"}
    assert result.skipped == ()


def test_unchanged_objects_are_not_requested_again() -> None:
    seen = {"uploads/s/a.csv": "ea", "uploads/s/b.csv": "eb"}
    result = plan([obj("uploads/s/a.csv", "ea"), obj("uploads/s/b.csv", "eb")], seen)
    assert result == TickPlan((), (), seen, ())


def test_an_overwritten_object_is_requested_with_its_new_etag() -> None:
    seen = {"uploads/s/a.csv": "old", "uploads/s/b.csv": "eb"}
    result = plan([obj("uploads/s/a.csv", "new"), obj("uploads/s/b.csv", "eb")], seen)
    assert tuple(result.versions) == (VersionToIngest("s/a.csv", "new"),)
    assert result.next_seen == {"uploads/s/a.csv": "new", "uploads/s/b.csv": "eb"}


def test_the_cursor_passed_in_is_not_changed() -> None:
    seen = {"uploads/s/a.csv": "old", "uploads/s/gone.csv": "eg"}
    plan([obj("uploads/s/a.csv", "new"), obj("uploads/s/c.csv", "ec")], seen)
    assert seen == {"uploads/s/a.csv": "old", "uploads/s/gone.csv": "eg"}


def test_a_skipped_object_is_logged_once_and_not_again_on_a_new_etag() -> None:
    first = plan([obj("uploads/s/a.csv.part", "e1"), obj("uploads/s/b.csv", "eb")], {})
    assert first.skipped == (SkippedObject("uploads/s/a.csv.part", HIDDEN),)
    assert tuple(first.versions) == (VersionToIngest("s/b.csv", "eb"),)
    assert first.next_seen == {"uploads/s/a.csv.part": "e1", "uploads/s/b.csv": "eb"}

    same = plan([obj("uploads/s/a.csv.part", "e1"), obj("uploads/s/b.csv", "eb")], first.next_seen)
    assert same == TickPlan((), (), first.next_seen, ())

    # the partial download grew: a new ETag, still skipped, not logged again, cursor follows
    grown = plan([obj("uploads/s/a.csv.part", "e2"), obj("uploads/s/b.csv", "eb")], same.next_seen)
    assert grown.skipped == () and tuple(grown.versions) == ()
    assert grown.next_seen == {"uploads/s/a.csv.part": "e2", "uploads/s/b.csv": "eb"}


def test_each_skip_reason_reaches_the_plan() -> None:
    objects = [
        obj("uploads/s/", "f", size=0),
        obj("uploads/s/empty.csv", "z", size=0),
        obj("uploads/s/~lock.csv", "h"),
        obj("uploads/s/a.xlsx", "x"),
        obj("uploads/top.csv", "t"),
        obj("uploads/s/a\tb.csv", "c"),
    ]
    result = plan(objects, {})
    assert tuple(result.versions) == ()
    assert [(s.key, s.reason.split(" (")[0]) for s in result.skipped] == [
        ("uploads/s/", "folder marker"),
        ("uploads/s/empty.csv", "zero bytes"),
        ("uploads/s/~lock.csv", HIDDEN),
        ("uploads/s/a.xlsx", "unknown extension"),
        ("uploads/top.csv", "not under a dataset folder"),
        ("uploads/s/a\tb.csv", "key contains characters Dagster partition keys cannot hold"),
    ]
    assert result.next_seen == {o.key: o.etag for o in objects}


def test_a_skipped_object_renamed_to_a_data_file_is_requested() -> None:
    first = plan([obj("uploads/s/a.csv.tmp", "e1")], {})
    assert tuple(first.versions) == ()
    second = plan([obj("uploads/s/a.csv", "e1")], first.next_seen)  # the rename: a new key
    assert tuple(second.versions) == (VersionToIngest("s/a.csv", "e1"),)
    assert second.next_seen == {"uploads/s/a.csv": "e1"}  # the .tmp is gone from the cursor


def test_a_skipped_object_that_became_empty_then_real_data_is_requested() -> None:
    # zero bytes first (skipped), then the real content under the same key: a new ETag
    first = plan([obj("uploads/s/a.csv", "empty", size=0)], {})
    # zero bytes gets a partition of its own, to carry the skipped verdict in the UI
    assert first.skipped == (SkippedObject("uploads/s/a.csv", "zero bytes", "s/a.csv"),)
    assert first.new_partitions == ("s/a.csv",)
    second = plan([obj("uploads/s/a.csv", "full", size=100)], first.next_seen)
    assert tuple(second.versions) == (VersionToIngest("s/a.csv", "full"),)
    assert second.skipped == ()


def test_the_request_limit_leaves_the_rest_for_the_next_tick() -> None:
    objects = [obj(f"uploads/s/f{i}.csv", f"e{i}") for i in range(5)]
    first = plan(objects, {}, limit=2)
    assert tuple(first.versions) == (
        VersionToIngest("s/f0.csv", "e0"),
        VersionToIngest("s/f1.csv", "e1"),
    )
    # the cursor is not advanced for the three left over
    assert first.next_seen == {"uploads/s/f0.csv": "e0", "uploads/s/f1.csv": "e1"}

    second = plan(objects, first.next_seen, limit=2)
    assert tuple(second.versions) == (
        VersionToIngest("s/f2.csv", "e2"),
        VersionToIngest("s/f3.csv", "e3"),
    )
    third = plan(objects, second.next_seen, limit=2)
    assert tuple(third.versions) == (VersionToIngest("s/f4.csv", "e4"),)
    assert third.next_seen == {f"uploads/s/f{i}.csv": f"e{i}" for i in range(5)}
    assert tuple(plan(objects, third.next_seen, limit=2).versions) == ()


def test_the_request_limit_is_exact_and_skips_do_not_count_against_it() -> None:
    objects = [obj("uploads/s/_skip1.csv", "s1")]
    objects += [obj(f"uploads/s/f{i}.csv", f"e{i}") for i in range(3)]
    objects += [obj("uploads/s/skip2.tmp", "s2")]
    exactly = plan(objects, {}, limit=3)
    assert [r.partition_key for r in tuple(exactly.versions)] == [
        "s/f0.csv",
        "s/f1.csv",
        "s/f2.csv",
    ]
    # skipped objects past the limit are still decided (and logged) in this tick
    assert [s.key for s in exactly.skipped] == ["uploads/s/_skip1.csv", "uploads/s/skip2.tmp"]
    assert exactly.next_seen == {o.key: o.etag for o in objects}

    one = plan(objects, {}, limit=1)
    assert tuple(one.versions) == (VersionToIngest("s/f0.csv", "e0"),)
    assert one.next_seen == {
        "uploads/s/_skip1.csv": "s1",
        "uploads/s/f0.csv": "e0",
        "uploads/s/skip2.tmp": "s2",
    }

    none = plan(objects, {}, limit=0)
    assert tuple(none.versions) == ()
    assert set(none.next_seen) == {"uploads/s/_skip1.csv", "uploads/s/skip2.tmp"}


def test_deleted_objects_leave_the_cursor_and_a_later_upload_is_new_again() -> None:
    seen = {"uploads/s/a.csv": "ea", "uploads/s/gone.csv": "eg", "uploads/s/old.tmp": "et"}
    result = plan([obj("uploads/s/a.csv", "ea")], seen)
    assert result == TickPlan(
        (), (), {"uploads/s/a.csv": "ea"}, (), removed=("uploads/s/gone.csv", "uploads/s/old.tmp")
    )
    again = plan([obj("uploads/s/a.csv", "ea"), obj("uploads/s/gone.csv", "eg")], result.next_seen)
    assert tuple(again.versions) == (VersionToIngest("s/gone.csv", "eg"),)


def test_an_empty_listing_empties_the_cursor() -> None:
    assert plan([], {"uploads/s/a.csv": "ea"}) == TickPlan(
        (), (), {}, (), removed=("uploads/s/a.csv",)
    )


# --------------------------------------------------------------------------- cursor


@pytest.mark.parametrize(
    "seen",
    [
        {},
        {"uploads/s/a.csv": "ea"},
        {f"uploads/s/ü{i}.csv": f"{i:032x}-2" for i in range(2000)},
        {"uploads/s/a b.csv": '"quoted"', "uploads/ü/ñ.json": "x"},
    ],
)
def test_the_cursor_round_trips(seen: dict[str, str]) -> None:
    cursor = encode_cursor(seen)
    assert isinstance(cursor, str) and cursor.isascii()
    assert decode_cursor(cursor) == seen


def test_no_cursor_is_an_empty_map() -> None:
    assert decode_cursor(None) == {}
    assert decode_cursor("") == {}


def test_the_cursor_is_compressed_and_independent_of_insertion_order() -> None:
    seen = {f"uploads/s/file{i:05d}.csv": "d41d8cd98f00b204e9800998ecf8427e" for i in range(2000)}
    cursor = encode_cursor(seen)
    assert len(cursor) < len(str(seen)) // 10  # zlib: thousands of keys stay a small cursor
    assert encode_cursor(dict(reversed(list(seen.items())))) == cursor


# --------------------------------------------------------------------------- the sensor


class Listing:
    """An in-memory stand-in for S3Storage: what the sensor calls, nothing more."""

    uploads_bucket = "ingest-uploads"

    def __init__(self, objects: list[ObjectInfo]) -> None:
        self.objects = objects

    def list_uploads(self) -> Iterable[ObjectInfo]:
        return iter(self.objects)

    def partition_key(self, key: str) -> str:
        return partition_key_of(key)


def tick(
    instance: dg.DagsterInstance, objects: list[ObjectInfo], cursor: str | None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "s3": Listing(objects),
            "sensor_settings": SensorSettings(),
            "events": EventQueue(),
            "pipeline_settings": PipelineSettings(),
        },
    )
    result = sensors.upload_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_a_tick_requests_runs_keyed_by_version_and_adds_only_new_partitions() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("uploads", ["s/a.csv"])  # known from an earlier version
        objects = [obj("uploads/s/a.csv", "e2"), obj("uploads/s/b.csv", "eb")]
        objects.append(obj("uploads/s/skip.tmp", "es"))
        result = tick(instance, objects, encode_cursor({"uploads/s/a.csv": "e1"}))

        assert [(r.partition_key, r.run_key, r.tags) for r in result.run_requests] == [
            (
                "s/a.csv",
                "s/a.csv@e2",
                {"ingest/dataset": "s", "ingest/files": "1", "ingest/etag": "e2"},
            ),
            (
                "s/b.csv",
                "s/b.csv@eb",
                {"ingest/dataset": "s", "ingest/files": "1", "ingest/etag": "eb"},
            ),
        ]
        (add,) = result.dynamic_partitions_requests
        assert isinstance(add, dg.AddDynamicPartitionsRequest)
        assert (add.partitions_def_name, list(add.partition_keys)) == ("uploads", ["s/b.csv"])
        assert decode_cursor(result.cursor) == {
            "uploads/s/a.csv": "e2",
            "uploads/s/b.csv": "eb",
            "uploads/s/skip.tmp": "es",
        }

        # the next tick over the same listing requests nothing and adds no partition
        again = tick(instance, objects, result.cursor)
        assert again.run_requests == [] and again.dynamic_partitions_requests == []
        assert decode_cursor(again.cursor) == decode_cursor(result.cursor)


def test_a_tick_whose_partitions_all_exist_sends_no_partition_request() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("uploads", ["s/a.csv", "s/b.csv"])
        result = tick(instance, [obj("uploads/s/a.csv"), obj("uploads/s/b.csv")], None)
        assert [r.run_key for r in result.run_requests] == ["s/a.csv@e1", "s/b.csv@e1"]
        assert result.dynamic_partitions_requests == []


def test_new_partitions_are_added_sorted_and_once() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        objects = [obj("uploads/t/z.csv"), obj("uploads/s/b.csv"), obj("uploads/s/a.csv")]
        result = tick(instance, objects, None)
        (add,) = result.dynamic_partitions_requests
        assert list(add.partition_keys) == ["s/a.csv", "s/b.csv", "t/z.csv"]


def test_the_sensor_honours_the_request_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sensors, "MAX_REQUESTS_PER_TICK", 2)
    with dg.DagsterInstance.ephemeral() as instance:
        objects = [obj(f"uploads/s{i}/f.csv", f"e{i}") for i in range(3)]
        first = tick(instance, objects, None)
        assert [r.run_key for r in first.run_requests] == ["s0/f.csv@e0", "s1/f.csv@e1"]
        second = tick(instance, objects, first.cursor)
        assert [r.run_key for r in second.run_requests] == ["s2/f.csv@e2"]


def cli_run(instance: dg.DagsterInstance, run_id: str, partition: str, etag: str) -> None:
    """A run `ingest-pipeline ingest` executed in its own process, as stored."""
    tags = {
        "dagster/partition": partition,
        "ingest/etag": etag,
        "ingest/launched_by": "ingest-pipeline ingest",
    }
    instance.add_run(dg.DagsterRun(job_name="ingest_upload", run_id=run_id, tags=tags))


def test_a_version_ingest_pipeline_ingest_ran_is_decided_and_not_run_again() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        # `ingest` adds the partition, uploads, runs: the sensor lists the object afterwards.
        instance.add_dynamic_partitions("uploads", ["s/a.csv", "s/b.csv"])
        cli_run(instance, "r1", "s/a.csv", "ea")
        cli_run(instance, "r2", "s/b.csv", "old")  # an earlier version of b.csv
        # A sensor run of c.csv with its ETag is not a CLI run: it does not count.
        instance.add_run(
            dg.DagsterRun(
                job_name="ingest_upload",
                run_id="r3",
                tags={"dagster/partition": "s/c.csv", "ingest/etag": "ec"},
            )
        )
        instance.add_dynamic_partitions("uploads", ["s/c.csv"])
        objects = [
            obj("uploads/s/a.csv", "ea"),
            obj("uploads/s/b.csv", "eb"),
            obj("uploads/s/c.csv", "ec"),
        ]
        result = tick(instance, objects, None)

        assert [r.run_key for r in result.run_requests] == ["s/b.csv@eb", "s/c.csv@ec"]
        assert decode_cursor(result.cursor) == {
            "uploads/s/a.csv": "ea",
            "uploads/s/b.csv": "eb",
            "uploads/s/c.csv": "ec",
        }
        # a later overwrite of a.csv is a new version: requested
        objects[0] = obj("uploads/s/a.csv", "ea2")
        again = tick(instance, objects, result.cursor)
        assert [r.run_key for r in again.run_requests] == ["s/a.csv@ea2"]


def test_plan_tick_reports_the_versions_run_elsewhere() -> None:
    result = plan_tick(
        [obj("uploads/s/a.csv", "ea"), obj("uploads/s/b.csv", "eb")],
        {},
        partition_key_of,
        500,
        existing_partitions=["s/a.csv"],
        ran_elsewhere={("s/a.csv", "ea"), ("s/b.csv", "other")},
    )
    assert result.ran_elsewhere == ("s/a.csv",)
    assert tuple(result.versions) == (VersionToIngest("s/b.csv", "eb"),)
    assert result.next_seen == {"uploads/s/a.csv": "ea", "uploads/s/b.csv": "eb"}


def test_versions_held_back_for_a_queued_run_are_counted_and_their_datasets_named_once() -> None:
    # what the tick says when new versions wait for their dataset's queued run (in the UI's
    # tick log, the one place a person sees why nothing was requested for them yet)
    waiting = (
        obj("uploads/sales/2024/b.csv"),  # a dataset's subfolder is not another dataset
        obj("uploads/returns/x.csv"),
        obj("uploads/sales/a.csv"),
    )
    assert sensors.deferred_note(waiting, partition_key_of) == (
        "3 new versions wait for the next run of their dataset (a run of returns, sales is still "
        "queued; the next tick after it starts requests them)"
    )
