"""upload_sensor against the real S3 server: every object version is requested exactly once.

Each test lists its own prefix (uploads_prefix=f"sensor-test-<uuid>/"), so it sees neither the
other tests' objects nor the pipeline tests' uploads. `Daemon` plays the sensor daemon: it builds
a context from the stored cursor, applies the tick's dynamic partition requests to the instance
and carries the cursor forward. The batch cap is 1 here, so each request is one version.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest

from ingest_pipeline import sensors
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources.event_queue import EventQueue
from ingest_pipeline.resources.s3 import S3Storage, clean_etag
from ingest_pipeline.resources.settings import PipelineSettings, SensorSettings
from ingest_pipeline.sensors import decode_cursor, upload_sensor
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, StackSettings

pytestmark = pytest.mark.integration


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class Daemon:
    """One sensor's ticks as the daemon runs them: cursor carried, partitions added."""

    def __init__(
        self, storage: S3Storage, instance: dg.DagsterInstance, cursor: str | None = None
    ) -> None:
        self.storage = storage
        self.instance = instance
        self.cursor = cursor
        self.logs: list[list[str]] = []  # the messages of each tick

    def tick(self) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={
                "s3": self.storage,
                "sensor_settings": ONE_FILE_PER_RUN,
                "events": EventQueue(),
                "pipeline_settings": PipelineSettings(),
            },
        )
        captured = Captured()
        context.log.addHandler(captured)
        result = upload_sensor(context)
        assert isinstance(result, dg.SensorResult)
        for request in result.dynamic_partitions_requests or []:
            assert isinstance(request, dg.AddDynamicPartitionsRequest)
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, list(request.partition_keys)
            )
        self.cursor = result.cursor
        self.logs.append(captured.messages)
        requests = list(result.run_requests or [])
        for request in requests:
            assert request.run_key == f"{request.partition_key}@{request.tags['ingest/etag']}"
        return requests

    def partitions(self) -> set[str]:
        return set(self.instance.get_dynamic_partitions(upload_partitions.name))


def run_keys(requests: list[dg.RunRequest]) -> list[str]:
    return [request.run_key for request in requests if request.run_key]


#: These tests follow each version's request (run key <key>@<etag>): batches of one. Batching
#: is tested in unit/test_batching.py and integration/test_batching.py.
ONE_FILE_PER_RUN = SensorSettings(batch_max_files=1)


@pytest.fixture
def prefix(s3) -> Iterator[str]:  # noqa: ANN001 - a boto3 client
    prefix = f"sensor-test-{uuid.uuid4().hex}/"
    yield prefix
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=UPLOADS_BUCKET, Prefix=prefix):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=UPLOADS_BUCKET, Delete={"Objects": keys, "Quiet": True})


@pytest.fixture
def storage(stack: StackSettings, prefix: str) -> S3Storage:
    return S3Storage(
        endpoint_url=stack.s3_endpoint,
        access_key_id=stack.s3_access_key,
        secret_access_key=stack.s3_secret_key,
        region=stack.s3_region,
        uploads_bucket=UPLOADS_BUCKET,
        uploads_prefix=prefix,
    )


@pytest.fixture
def daemon(storage: S3Storage) -> Daemon:
    return Daemon(storage, dg.DagsterInstance.ephemeral())


def put(s3, prefix: str, partition_key: str, body: bytes) -> str:  # noqa: ANN001
    """Upload <prefix><partition_key>; return the object's ETag as the sensor sees it."""
    response = s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"{prefix}{partition_key}", Body=body)
    return clean_etag(response["ETag"])


def put_many(s3, prefix: str, objects: dict[str, bytes]) -> dict[str, str]:  # noqa: ANN001
    """Concurrent uploads; partition key -> ETag."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        etags = pool.map(lambda item: put(s3, prefix, *item), objects.items())
        return dict(zip(objects, etags, strict=True))


def body(n: int) -> bytes:
    return f"time,value\n2024-01-01T00:00:00Z,{n}\n".encode()


def test_2500_objects_over_pages_and_ticks_requested_exactly_once(
    s3, prefix: str, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 350
    monkeypatch.setattr(sensors, "MAX_REQUESTS_PER_TICK", limit)
    objects = {f"ds{n % 5}/file-{n:05d}.csv": body(n) for n in range(2500)}
    keys = list(objects)
    # Shuffled, so later batches hold keys that sort before (and between) keys already seen.
    random.Random(2500).shuffle(keys)
    batches = [keys[:1000], keys[1000:1900], keys[1900:]]
    assert [len(b) for b in batches] == [1000, 900, 600]

    expected: dict[str, str] = {}  # run key -> partition key
    requested: list[dg.RunRequest] = []
    ticks = 0
    for batch in batches:
        etags = put_many(s3, prefix, {key: objects[key] for key in batch})
        expected.update({f"{key}@{etag}": key for key, etag in etags.items()})
        for _ in range(2):  # two ticks between uploads: the backlog grows across batches
            tick = daemon.tick()
            ticks += 1
            assert len(tick) <= limit
            requested += tick
    while tick := daemon.tick():  # drain
        ticks += 1
        assert len(tick) <= limit
        requested += tick

    listed = list(daemon.storage.list_uploads())
    assert len(listed) == 2500  # three list pages of at most 1000 keys
    keys_requested = run_keys(requested)
    assert len(keys_requested) == len(set(keys_requested)) == 2500
    assert set(keys_requested) == set(expected)
    assert {r.partition_key for r in requested} == set(objects)
    assert all(expected[r.run_key] == r.partition_key for r in requested)  # type: ignore[index]
    assert ticks >= 2500 // limit
    assert daemon.partitions() == set(objects)
    assert set(decode_cursor(daemon.cursor)) == {f"{prefix}{key}" for key in objects}
    assert daemon.logs[-1][-1].startswith(
        "listed 2500 objects; requested 0 versions in 0 runs, 0 new"
    )

    # Nothing new: nothing requested, tick after tick.
    assert daemon.tick() == []
    assert daemon.tick() == []


def test_overwrite_requests_the_new_etag_once_and_same_content_nothing(
    s3, prefix: str, daemon: Daemon
) -> None:
    first = put(s3, prefix, "sales/day.csv", body(1))
    other = put(s3, prefix, "sales/other.csv", body(2))
    assert sorted(run_keys(daemon.tick())) == [f"sales/day.csv@{first}", f"sales/other.csv@{other}"]
    assert daemon.tick() == []

    second = put(s3, prefix, "sales/day.csv", body(100))
    assert second != first
    tick = daemon.tick()
    assert run_keys(tick) == [f"sales/day.csv@{second}"]
    assert tick[0].partition_key == "sales/day.csv"
    assert tick[0].tags["ingest/etag"] == second
    assert daemon.partitions() == {"sales/day.csv", "sales/other.csv"}  # no duplicate partition

    # The same bytes again: same ETag, nothing to do.
    assert put(s3, prefix, "sales/day.csv", body(100)) == second
    assert daemon.tick() == []
    assert decode_cursor(daemon.cursor)[f"{prefix}sales/day.csv"] == second


def test_keys_sorting_before_seen_keys_are_requested(s3, prefix: str, daemon: Daemon) -> None:
    zzz = put(s3, prefix, "letters/zzz.csv", body(26))
    assert run_keys(daemon.tick()) == [f"letters/zzz.csv@{zzz}"]
    aaa = put(s3, prefix, "letters/aaa.csv", body(1))
    early = put(s3, prefix, "a-dataset/first.csv", body(0))  # sorts before every seen key
    assert sorted(run_keys(daemon.tick())) == sorted(
        [f"letters/aaa.csv@{aaa}", f"a-dataset/first.csv@{early}"]
    )
    assert daemon.tick() == []


SKIPPED = {
    "x/": "folder marker",
    "ds/empty.csv": "zero bytes",
    "ds/.hidden.csv": "temporary or hidden name",
    "ds/file.tmp": "temporary or hidden name",
    "ds/notes.docx": "unknown extension",
    "toplevel.csv": "not under a dataset folder",
}


def test_skipped_objects_request_nothing_and_are_logged_once(
    s3, prefix: str, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    plans: list[list[tuple[str, str]]] = []
    plan_tick = sensors.plan_tick

    def spy(*args: object, **kwargs: object) -> sensors.TickPlan:
        plan = plan_tick(*args, **kwargs)
        plans.append([(skipped.key, skipped.reason.message) for skipped in plan.skipped])
        return plan

    monkeypatch.setattr(sensors, "plan_tick", spy)
    for key in SKIPPED:
        put(s3, prefix, key, b"" if key in ("x/", "ds/empty.csv") else b"a,b\n1,2\n")
    good = put(s3, prefix, "ds/good.csv", body(1))

    assert run_keys(daemon.tick()) == [f"ds/good.csv@{good}"]
    assert {key.removeprefix(prefix) for key, _ in plans[0]} == set(SKIPPED)
    assert len(plans[0]) == len(SKIPPED)
    for key, reason in plans[0]:
        assert reason.startswith(SKIPPED[key.removeprefix(prefix)]), (key, reason)
    skip_logs = [m for m in daemon.logs[0] if m.startswith("skipped ")]
    assert sorted(skip_logs) == sorted(
        f"skipped s3://{UPLOADS_BUCKET}/{key}: {reason}" for key, reason in plans[0]
    )
    # the skips a person should see get a partition (for their verdict), temporary names not
    visible = {"ds/good.csv", "ds/empty.csv", "ds/notes.docx", "toplevel.csv"}
    assert daemon.partitions() == visible

    for _ in range(3):  # decided once: no request and no log line on later ticks
        assert daemon.tick() == []
        assert plans[-1] == []
        assert not [m for m in daemon.logs[-1] if m.startswith("skipped ")]
    assert daemon.partitions() == visible

    # A zero-byte placeholder that later gets content is a data file after all.
    filled = put(s3, prefix, "ds/empty.csv", body(7))
    assert run_keys(daemon.tick()) == [f"ds/empty.csv@{filled}"]
    assert plans[-1] == []


def test_deleted_object_leaves_the_cursor_and_new_content_is_requested_again(
    s3, prefix: str, daemon: Daemon
) -> None:
    old = put(s3, prefix, "ds/gone.csv", body(1))
    kept = put(s3, prefix, "ds/kept.csv", body(2))
    assert sorted(run_keys(daemon.tick())) == sorted([f"ds/gone.csv@{old}", f"ds/kept.csv@{kept}"])
    assert decode_cursor(daemon.cursor) == {
        f"{prefix}ds/gone.csv": old,
        f"{prefix}ds/kept.csv": kept,
    }

    s3.delete_object(Bucket=UPLOADS_BUCKET, Key=f"{prefix}ds/gone.csv")
    assert daemon.tick() == []
    assert decode_cursor(daemon.cursor) == {f"{prefix}ds/kept.csv": kept}

    new = put(s3, prefix, "ds/gone.csv", body(3))
    assert new != old
    tick = daemon.tick()
    assert run_keys(tick) == [f"ds/gone.csv@{new}"]
    assert tick[0].tags["ingest/etag"] == new
    assert decode_cursor(daemon.cursor) == {
        f"{prefix}ds/gone.csv": new,
        f"{prefix}ds/kept.csv": kept,
    }
    assert daemon.tick() == []


def test_cursor_survives_a_daemon_restart(
    s3, prefix: str, storage: S3Storage, daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sensors, "MAX_REQUESTS_PER_TICK", 10)
    etags = put_many(s3, prefix, {f"ds{n % 3}/f{n:03d}.csv": body(n) for n in range(30)})
    expected = {f"{key}@{etag}" for key, etag in etags.items()}

    before = run_keys(daemon.tick())
    assert len(before) == 10
    stored = daemon.cursor
    assert isinstance(stored, str)

    # A new process: a new resource (new boto3 client) and a context from the stored string.
    restarted = Daemon(storage.model_copy(), daemon.instance, cursor=stored)
    after: list[str] = []
    while tick := restarted.tick():
        after += run_keys(tick)
    assert len(after) == len(set(after)) == 20
    assert not set(after) & set(before)
    assert set(before) | set(after) == expected

    again = Daemon(storage.model_copy(), daemon.instance, cursor=restarted.cursor)
    assert again.tick() == []
    assert restarted.partitions() == set(etags)


def test_lost_cursor_requests_the_same_run_keys(s3, prefix: str, daemon: Daemon) -> None:
    """A cursor lost with a failed tick re-requests only run keys Dagster already launched."""
    etags = put_many(s3, prefix, {f"ds/f{n}.csv": body(n) for n in range(5)})
    first = run_keys(daemon.tick())
    assert set(first) == {f"{key}@{etag}" for key, etag in etags.items()}
    fresh = Daemon(daemon.storage, daemon.instance, cursor=None)
    assert sorted(run_keys(fresh.tick())) == sorted(first)
