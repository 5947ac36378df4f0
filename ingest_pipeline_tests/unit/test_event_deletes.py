"""Deletes tick by tick. Queue mode (ObjectRemoved events): under `on_delete: retract` exactly
one retract_upload request per delete (a redelivery requests nothing), under keep none, a key
the pipeline never took none; each logged once. A delete whose event was lost: the next
reconciliation pass, once, inside the range its page listed. Listing mode: a key the cursor
knew that the listing lacks, once."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from ingest_pipeline import event_sensor
from ingest_pipeline.datasets import DeleteMode
from ingest_pipeline.event_sensor import plan_queue_tick
from ingest_pipeline.resources.event_queue import EventQueue
from ingest_pipeline.resources.settings import PipelineSettings, SensorSettings
from ingest_pipeline.seen_store import SeenStore
from ingest_pipeline.sensor_state import Reconciliation, decode_state, encode_state
from ingest_pipeline.sensors import delete_note, upload_sensor
from ingest_pipeline.tick_plan import (
    DATASET_TAG,
    RETRACT_JOB,
    BatchCaps,
    DeleteDecision,
    DeletedObject,
    decide_deletes,
)
from ingest_pipeline_tests.fakes import InMemoryEventQueue, InMemoryObjectStore
from ingest_pipeline_tests.unit.test_event_sensor import BODY, put_event, tick


def delete_event(queue: InMemoryEventQueue, key: str, sequencer: str) -> None:
    record = {
        "eventName": "ObjectRemoved:Delete",
        "eventTime": "2026-12-05T18:00:01.000Z",
        "s3": {
            "bucket": {"name": "ingest-uploads"},
            "object": {"key": key, "sequencer": sequencer},
        },
    }
    queue.send(json.dumps({"Records": [record]}))


def settings(tmp_path: Path, on_delete: str) -> PipelineSettings:
    path = tmp_path / "datasets.yaml"
    path.write_text(f"a:\n  on_delete: {on_delete}\n")
    return PipelineSettings(datasets_config_path=str(path))


def test_decide_deletes() -> None:
    def on_delete(dataset: str) -> DeleteMode:
        return DeleteMode.RETRACT if dataset == "r" else DeleteMode.KEEP

    decided = decide_deletes(
        [("uploads/r/x.csv", "0A"), ("uploads/k/x.csv", "0B"), ("uploads/r/new.csv", "0C")],
        lambda key: key.removeprefix("uploads/"),
        on_delete,
        {"r/x.csv", "k/x.csv"},
    )
    assert [d.decision for d in decided] == [
        DeleteDecision.RETRACT,
        DeleteDecision.KEEP,
        DeleteDecision.NEVER_INGESTED,
    ]
    request = decided[0].run_request()
    assert request is not None and request.job_name == RETRACT_JOB
    assert request.partition_key == "r/x.csv" and request.run_key == "r/x.csv@deleted:0A"
    assert request.tags[DATASET_TAG] == "r"  # queued behind the dataset's ingest runs
    assert decided[1].run_request() is None and decided[2].run_request() is None


def test_a_deleted_file_in_a_subfolder_is_retracted_as_its_top_folder_s_dataset() -> None:
    (deleted,) = decide_deletes(
        [("uploads/r/2024/03/x.csv", "0A")],
        lambda key: key.removeprefix("uploads/"),
        lambda dataset: DeleteMode.RETRACT if dataset == "r" else DeleteMode.KEEP,
        {"r/2024/03/x.csv"},
    )
    assert deleted.decision is DeleteDecision.RETRACT
    request = deleted.run_request()
    assert request is not None
    assert request.partition_key == "r/2024/03/x.csv"
    assert request.tags == {"ingest/dataset": "r"}


def test_a_delete_event_is_one_retraction_request_and_a_redelivery_none(tmp_path: Path) -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    etag = store.put_upload("a/one.csv", BODY)
    put_event(queue, "uploads/a/one.csv", etag, "01")
    retract = settings(tmp_path, "retract")
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, store, queue, None, retract)
        assert [r.job_name for r in first.run_requests] == ["ingest_upload"]
        store.delete(store.uploads_bucket, "uploads/a/one.csv")
        delete_event(queue, "uploads/a/one.csv", "02")
        second = tick(instance, store, queue, first.cursor, retract)
        (request,) = second.run_requests
        assert request.job_name == RETRACT_JOB and request.partition_key == "a/one.csv"
        assert request.run_key == "a/one.csv@deleted:02"
        delete_event(queue, "uploads/a/one.csv", "02")  # delivered twice
        third = tick(instance, store, queue, second.cursor, retract)
        assert third.run_requests == []


def notes_of_delete(tmp_path: Path, on_delete: str, known: bool) -> tuple[str, ...]:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    delete_event(queue, "uploads/a/one.csv", "05")
    with dg.DagsterInstance.ephemeral() as instance:
        if known:
            instance.add_dynamic_partitions("uploads", ["a/one.csv"])
        mode = DeleteMode(on_delete)
        done = plan_queue_tick(None, instance, store, queue, BatchCaps(), lambda _: mode)
        again = plan_queue_tick(done.cursor, instance, store, queue, BatchCaps(), lambda _: mode)
        assert again.deletes == ()  # nothing new: the delete is decided once
        return tuple(delete_note(store.uploads_bucket, deleted) for deleted in done.deletes)


def test_keep_and_a_never_ingested_key_request_nothing_and_log_once(tmp_path: Path) -> None:
    assert notes_of_delete(tmp_path, "keep", known=True) == (
        "deleted: s3://ingest-uploads/uploads/a/one.csv: its rows stay in Druid (on_delete: keep)",
    )
    assert notes_of_delete(tmp_path, "retract", known=False) == (
        "deleted: s3://ingest-uploads/uploads/a/one.csv: never ingested (no partition), "
        "nothing to retract",
    )
    assert notes_of_delete(tmp_path, "retract", known=True) == (
        "deleted: s3://ingest-uploads/uploads/a/one.csv: retract_upload requested for "
        "a/one.csv (on_delete: retract)",
    )


def test_the_sensor_under_keep_requests_nothing(tmp_path: Path) -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=0)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("uploads", ["a/one.csv"])
        delete_event(queue, "uploads/a/one.csv", "07")
        assert tick(instance, store, queue, None, settings(tmp_path, "keep")).run_requests == []
    assert DeletedObject("k", "a/k", "07", DeleteDecision.KEEP).run_request() is None


def listing_tick(
    instance: dg.DagsterInstance, store: InMemoryObjectStore, cursor: str | None, path: Path
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "s3": store,
            "sensor_settings": SensorSettings(),
            "events": EventQueue(),  # no queue: listing mode
            "pipeline_settings": PipelineSettings(datasets_config_path=str(path)),
        },
    )
    result = upload_sensor(context)
    assert isinstance(result, dg.SensorResult)
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions("uploads", list(request.partition_keys))
    return result


def test_listing_mode_sees_a_delete_once_when_the_listing_lacks_a_known_key(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    path = settings(tmp_path, "retract").datasets_config_path
    assert path is not None
    store.put_upload("a/one.csv", BODY)
    store.put_upload("a/two.csv", BODY)
    with dg.DagsterInstance.ephemeral() as instance:
        first = listing_tick(instance, store, None, Path(path))
        assert [r.job_name for r in first.run_requests] == ["ingest_upload"]
        store.delete(store.uploads_bucket, "uploads/a/one.csv")
        second = listing_tick(instance, store, first.cursor, Path(path))
        (request,) = second.run_requests
        assert request.job_name == RETRACT_JOB and request.partition_key == "a/one.csv"
        assert request.run_key is not None and request.run_key.startswith("a/one.csv@deleted:")
        assert listing_tick(instance, store, second.cursor, Path(path)).run_requests == []


def pass_due(cursor: str | None) -> str:
    """The cursor with a reconciliation pass due now (its last pass ended long ago)."""
    state = decode_state(cursor)
    return encode_state(replace(state, reconciliation=Reconciliation(finished_at=0)))


def announced(store: InMemoryObjectStore, queue: InMemoryEventQueue, *names: str) -> None:
    for number, name in enumerate(names):
        etag = store.put_upload(f"a/{name}", BODY)
        put_event(queue, f"uploads/a/{name}", etag, f"{number:02d}")


def test_a_delete_whose_event_was_lost_is_retracted_by_the_next_pass_once(
    tmp_path: Path,
) -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=300)
    announced(store, queue, "one.csv", "two.csv", "three.csv")
    retract = settings(tmp_path, "retract")
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, store, queue, None, retract)
        assert [r.job_name for r in first.run_requests] == ["ingest_upload"]
        stored = tick(instance, store, queue, first.cursor, retract)  # decisions to the store
        assert stored.run_requests == []
        store.delete(store.uploads_bucket, "uploads/a/two.csv")  # and its event is lost
        assert tick(instance, store, queue, stored.cursor, retract).run_requests == []  # no pass
        found = tick(instance, store, queue, pass_due(stored.cursor), retract)
        (request,) = found.run_requests
        assert request.job_name == RETRACT_JOB and request.partition_key == "a/two.csv"
        assert request.run_key is not None
        assert request.run_key.startswith("a/two.csv@deleted:listed@")
        # decided once: the next pass finds nothing, the neighbours stay decided
        again = tick(instance, store, queue, pass_due(found.cursor), retract)
        assert again.run_requests == []
        again = tick(instance, store, queue, pass_due(again.cursor), retract)
        assert again.run_requests == []
        # forgotten: the same content uploaded again (its event lost too) is new
        store.put_upload("a/two.csv", BODY)
        (back,) = tick(instance, store, queue, pass_due(again.cursor), retract).run_requests
        assert back.job_name == "ingest_upload" and back.partition_key == "a/two.csv"


def test_a_lost_delete_of_a_key_whose_decision_is_not_yet_stored_is_found_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as while an upgraded cursor's whole map is written, a bounded part a tick
    monkeypatch.setattr(event_sensor, "FLUSH_KEYS_PER_TICK", 0)
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=300)
    announced(store, queue, "one.csv", "two.csv")
    retract = settings(tmp_path, "retract")
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, store, queue, None, retract)
        store.delete(store.uploads_bucket, "uploads/a/one.csv")
        found = tick(instance, store, queue, pass_due(first.cursor), retract)
        assert SeenStore.of(instance).lookup(["uploads/a/one.csv"]) == {}  # pending only
        (request,) = found.run_requests
        assert request.job_name == RETRACT_JOB and request.partition_key == "a/one.csv"


def test_a_lost_delete_under_keep_is_forgotten_and_logged_once(tmp_path: Path) -> None:
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=300)
    announced(store, queue, "one.csv", "two.csv")
    caps, keep = BatchCaps(), (lambda _: DeleteMode.KEEP)
    with dg.DagsterInstance.ephemeral() as instance:
        first = plan_queue_tick(None, instance, store, queue, caps, keep)
        instance.add_dynamic_partitions("uploads", list(first.plan.new_partitions))
        store.delete(store.uploads_bucket, "uploads/a/one.csv")
        found = plan_queue_tick(pass_due(first.cursor), instance, store, queue, caps, keep)
        assert [delete_note(store.uploads_bucket, d) for d in found.deletes] == [
            "deleted: s3://ingest-uploads/uploads/a/one.csv: its rows stay in Druid "
            "(on_delete: keep)"
        ]
        assert any("delete events were lost" in note for note in found.notes)
        again = plan_queue_tick(pass_due(found.cursor), instance, store, queue, caps, keep)
        assert again.deletes == ()


def test_a_page_infers_deletes_inside_its_own_key_range_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_sensor, "RECONCILE_PAGE_KEYS", 2)
    store = InMemoryObjectStore()
    queue = InMemoryEventQueue(reconcile_interval_seconds=300)
    announced(store, queue, "1.csv", "2.csv", "3.csv", "4.csv")
    caps, retract = BatchCaps(), (lambda _: DeleteMode.RETRACT)
    with dg.DagsterInstance.ephemeral() as instance:
        first = plan_queue_tick(None, instance, store, queue, caps, retract)
        instance.add_dynamic_partitions("uploads", list(first.plan.new_partitions))
        # the first tick's page listed 1 and 2; the pass goes on with 3 and 4
        store.delete(store.uploads_bucket, "uploads/a/4.csv")
        cursor = pass_due(first.cursor)
        page_one = plan_queue_tick(cursor, instance, store, queue, caps, retract)
        assert page_one.deletes == ()  # it lists 1 and 2: 4 lies beyond it
        page_two = plan_queue_tick(page_one.cursor, instance, store, queue, caps, retract)
        assert [d.partition_key for d in page_two.deletes] == ["a/4.csv"]
