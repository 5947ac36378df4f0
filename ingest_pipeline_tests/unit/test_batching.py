"""The sensor's batching: new files of a dataset in one run over their partition range, the
caps, overwrites alone, partitions added so each batch is contiguous, deterministic run keys,
and skipped uploads given a partition and a visible verdict. Expected values are written out."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import dagster as dg

from ingest_pipeline import sensors
from ingest_pipeline.assets.verdicts import read_verdict
from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.resources.event_queue import EventQueue
from ingest_pipeline.resources.settings import PipelineSettings, SensorSettings
from ingest_pipeline.sensors import BatchCaps, RunToRequest, VersionToIngest, plan_tick
from ingest_pipeline.tick_plan import SkipReason
from ingest_pipeline.verdict import Outcome, Stage
from ingest_pipeline.vocabulary import Problem
from ingest_pipeline_tests.fakes import InMemoryObjectStore

WHEN = datetime(2024, 3, 1, 10, tzinfo=UTC)


def obj(key: str, etag: str = "e1", size: int = 10) -> ObjectInfo:
    return ObjectInfo("ingest-uploads", f"uploads/{key}", size, etag, WHEN)


def of(key: str) -> str:
    return key.removeprefix("uploads/")


def keys(run: RunToRequest) -> list[str]:
    return [v.partition_key for v in run.versions]


def test_new_files_of_each_dataset_become_one_run_each() -> None:
    objects = [obj("b/2.csv"), obj("a/2.csv"), obj("b/1.csv"), obj("a/1.csv"), obj("c/x.csv")]
    result = plan_tick(objects, {}, of, 500)
    assert [keys(run) for run in result.runs] == [
        ["a/1.csv", "a/2.csv"],
        ["b/1.csv", "b/2.csv"],
        ["c/x.csv"],
    ]
    # added in this order, so every batch is a contiguous range of the dynamic partitions
    assert result.new_partitions == ("a/1.csv", "a/2.csv", "b/1.csv", "b/2.csv", "c/x.csv")


def test_files_in_subfolders_of_a_dataset_are_batched_as_that_dataset() -> None:
    objects = [obj("a/2024/1.csv"), obj("a/2025/2.csv"), obj("a/3.csv")]
    result = plan_tick(objects, {}, of, 500)
    assert [keys(run) for run in result.runs] == [["a/2024/1.csv", "a/2025/2.csv", "a/3.csv"]]
    assert result.runs[0].run_request().tags["ingest/dataset"] == "a"


def test_a_batch_run_carries_range_tags_and_a_single_file_a_partition_key() -> None:
    batch = RunToRequest((VersionToIngest("a/1.csv", "e1"), VersionToIngest("a/2.csv", "e2")))
    request = batch.run_request()
    assert request.partition_key is None
    assert request.tags == {
        "ingest/dataset": "a",
        "ingest/files": "2",
        "dagster/asset_partition_range_start": "a/1.csv",
        "dagster/asset_partition_range_end": "a/2.csv",
    }
    # the run key: a digest of every key@etag, so Dagster never runs these versions twice
    digest = hashlib.sha256(b"a/1.csv@e1\na/2.csv@e2").hexdigest()[:20]
    assert request.run_key == f"a/batch of 2@{digest}"
    single = RunToRequest((VersionToIngest("a/1.csv", "e1"),)).run_request()
    assert single.partition_key == "a/1.csv" and single.run_key == "a/1.csv@e1"


def test_a_batch_s_range_ends_at_its_last_partition_not_its_second() -> None:
    batch = RunToRequest(tuple(VersionToIngest(f"a/{i}.csv", f"e{i}") for i in (1, 2, 3)))
    tags = batch.run_request().tags
    assert tags["dagster/asset_partition_range_start"] == "a/1.csv"
    assert tags["dagster/asset_partition_range_end"] == "a/3.csv"
    assert tags["ingest/files"] == "3"


def test_batch_run_keys_depend_on_every_version_and_nothing_else() -> None:
    one = RunToRequest((VersionToIngest("a/1.csv", "e1"), VersionToIngest("a/2.csv", "e2")))
    same = RunToRequest((VersionToIngest("a/1.csv", "e1", 99), VersionToIngest("a/2.csv", "e2")))
    changed = RunToRequest((VersionToIngest("a/1.csv", "e1"), VersionToIngest("a/2.csv", "e3")))
    assert one.run_key == same.run_key
    assert one.run_key != changed.run_key
    assert one.run_key.startswith("a/batch of 2@")


def test_the_file_cap_splits_a_burst_into_runs_of_at_most_that_many() -> None:
    objects = [obj(f"a/{i:02d}.csv") for i in range(7)]
    result = plan_tick(objects, {}, of, 500, caps=BatchCaps(max_files=3))
    assert [len(run.versions) for run in result.runs] == [3, 3, 1]
    assert keys(result.runs[1]) == ["a/03.csv", "a/04.csv", "a/05.csv"]


def test_the_byte_cap_closes_a_batch_before_it_would_overflow() -> None:
    objects = [obj("a/1.csv", size=60), obj("a/2.csv", size=50), obj("a/3.csv", size=40)]
    result = plan_tick(objects, {}, of, 500, caps=BatchCaps(max_bytes=100))
    assert [keys(run) for run in result.runs] == [["a/1.csv"], ["a/2.csv", "a/3.csv"]]
    # a file bigger than the cap still runs, alone
    big = plan_tick([obj("a/big.csv", size=500)], {}, of, 500, caps=BatchCaps(max_bytes=100))
    assert [keys(run) for run in big.runs] == [["a/big.csv"]]


def test_a_batch_may_hold_exactly_the_byte_cap() -> None:
    objects = [obj("a/1.csv", size=60), obj("a/2.csv", size=40)]
    result = plan_tick(objects, {}, of, 500, caps=BatchCaps(max_bytes=100))
    assert [keys(run) for run in result.runs] == [["a/1.csv", "a/2.csv"]]


def test_the_caps_are_the_sensor_settings_and_at_least_one_each() -> None:
    settings = SensorSettings(batch_max_files=7, batch_max_bytes=5000)
    assert BatchCaps.of(settings) == BatchCaps(max_files=7, max_bytes=5000)
    nothing = SensorSettings(batch_max_files=0, batch_max_bytes=-3)
    assert BatchCaps.of(nothing) == BatchCaps(max_files=1, max_bytes=1)


def test_an_overwritten_file_runs_alone_beside_the_batch_of_new_ones() -> None:
    objects = [obj("a/1.csv", "new"), obj("a/2.csv"), obj("a/3.csv")]
    seen = {"uploads/a/1.csv": "old"}
    result = plan_tick(objects, seen, of, 500, existing_partitions={"a/1.csv"})
    assert [keys(run) for run in result.runs] == [["a/1.csv"], ["a/2.csv", "a/3.csv"]]
    assert result.runs[0].run_key == "a/1.csv@new"
    assert result.new_partitions == ("a/2.csv", "a/3.csv")


def test_skipped_uploads_get_a_partition_after_the_batches_but_temporary_ones_do_not() -> None:
    objects = [obj("a/1.csv"), obj("a/empty.csv", size=0), obj("a/notes.xlsx"), obj("a/x.part")]
    result = plan_tick(objects, {}, of, 500)
    assert result.new_partitions == ("a/1.csv", "a/empty.csv", "a/notes.xlsx")
    assert [(s.key, s.partition_key) for s in result.skipped] == [
        ("uploads/a/empty.csv", "a/empty.csv"),
        ("uploads/a/notes.xlsx", "a/notes.xlsx"),
        ("uploads/a/x.part", None),
    ]


def test_a_tick_emits_a_skipped_verdict_on_the_skipped_file_s_partition() -> None:
    store = InMemoryObjectStore()
    for key, body in (("a/1.csv", b"x,y\n1,2\n"), ("a/2.csv", b"x,y\n1,2\n"), ("a/0.csv", b"")):
        store.put_upload(key, body)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            resources={
                "s3": store,
                "sensor_settings": SensorSettings(),
                "events": EventQueue(),
                "pipeline_settings": PipelineSettings(),
            },
        )
        result = sensors.upload_sensor(context)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests
        assert request.tags["dagster/asset_partition_range_start"] == "a/1.csv"
        assert request.tags["dagster/asset_partition_range_end"] == "a/2.csv"
        (add,) = result.dynamic_partitions_requests
        assert list(add.partition_keys) == ["a/1.csv", "a/2.csv", "a/0.csv"]
        (event,) = result.asset_events
        assert isinstance(event, dg.AssetObservation)
        assert (event.asset_key, event.partition) == (dg.AssetKey("druid_datasource"), "a/0.csv")
        assert event.metadata["verdict"] == dg.TextMetadataValue("skipped")
        verdict = read_verdict(event.metadata)
        assert verdict is not None
        assert (verdict.outcome, verdict.stage) == (Outcome.SKIPPED, Stage.SENSOR)
        assert verdict.problem == Problem("zero bytes", "upload the file again with its content")


def test_a_skipped_verdict_names_the_etag_of_the_version_it_judged() -> None:
    result = plan_tick([obj("a/empty.csv", "e-empty", size=0)], {}, of, 500)
    (skipped,) = result.skipped
    verdict = skipped.verdict()
    assert verdict is not None
    assert (verdict.partition, verdict.etag) == ("a/empty.csv", "e-empty")


def test_a_skip_reason_without_a_fix_of_its_own_says_there_is_nothing_to_do() -> None:
    # only logged (no partition, so no verdict), but the Problem is still a whole one
    assert SkipReason.FOLDER_MARKER.problem() == Problem(
        "folder marker", "nothing to do: it is not data"
    )
    assert SkipReason.HIDDEN_NAME.problem() == Problem(
        "temporary or hidden name", "nothing to do: it is not data"
    )
