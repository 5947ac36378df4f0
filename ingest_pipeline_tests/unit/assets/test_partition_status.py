"""What a person sees of each file in the Dagster UI is its verdict: the real ingest graph,
in-process, against the in-memory store and Druid (ingest_pipeline_tests/fakes.py)."""

from __future__ import annotations

from ingest_pipeline.tick_plan import ETAG_TAG
from ingest_pipeline.verdict import Outcome, Stage
from ingest_pipeline_tests.unit.assets.helpers import ASSETS, World, csv, new_world

GOOD_A, BAD_B, GOOD_C, BAD_D = "s/a.csv", "s/b.csv", "s/c.csv", "s/d.csv"
HEADER_ONLY = b"ts,team,points\n"


def test_a_batch_with_rejected_files_shows_them_failed_and_the_rest_materialized() -> None:
    world = new_world()
    world.upload(GOOD_A, csv(5))
    world.upload(BAD_B, HEADER_ONLY)
    world.upload(GOOD_C, csv(7, offset=100))
    world.upload(BAD_D, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)

    result = world.run([GOOD_A, BAD_B, GOOD_C, BAD_D])

    assert not result.success  # the run says that not every file got in
    for asset in ASSETS[1:]:
        materialized, failed = world.statuses(asset)
        assert materialized == {GOOD_A, GOOD_C}, asset
        assert failed == {BAD_B, BAD_D}, asset
    assert world.statuses("raw_file") == ({GOOD_A, BAD_B, GOOD_C, BAD_D}, set())
    verdicts = world.verdicts(result.run_id)
    assert {p: v.outcome for p, v in verdicts.items()} == {
        GOOD_A: Outcome.INGESTED,
        BAD_B: Outcome.REJECTED,
        GOOD_C: Outcome.INGESTED,
        BAD_D: Outcome.REJECTED,
    }
    assert verdicts[GOOD_A].rows == 5 and verdicts[GOOD_C].rows == 7
    assert verdicts[BAD_B].stage is Stage.VALIDATED_FRAME
    assert verdicts[BAD_B].problem is not None and "no data rows" in verdicts[BAD_B].problem.what
    assert world.druid.row_count("s") == 12
    assert len(world.druid.rows_of("s", "uploads/s/a.csv")) == 5


def test_a_fixed_upload_turns_its_failed_partition_green() -> None:
    world = new_world()
    world.upload(GOOD_A, csv(5))
    world.upload(BAD_B, HEADER_ONLY)
    world.run([GOOD_A, BAD_B])
    assert BAD_B in world.statuses("validated_frame")[1]

    world.upload(BAD_B, csv(3, offset=50))
    fixed = world.run([BAD_B])

    assert fixed.success
    for asset in ASSETS:
        assert world.statuses(asset) == ({GOOD_A, BAD_B}, set()), asset
    assert world.verdicts(fixed.run_id)[BAD_B].outcome is Outcome.INGESTED
    assert world.druid.row_count("s") == 8


def test_a_run_of_good_files_only_succeeds_with_every_partition_green() -> None:
    world = new_world()
    world.upload(GOOD_A, csv(5))
    world.upload(GOOD_C, csv(2))
    result = world.run([GOOD_A, GOOD_C])
    assert result.success
    for asset in ASSETS:
        assert world.statuses(asset) == ({GOOD_A, GOOD_C}, set())


def test_a_failed_druid_task_marks_exactly_its_files_failed() -> None:
    world = new_world(fail_datasources=["t"])
    world.upload("s/a.csv", csv(5))
    world.upload("t/x.csv", csv(4))
    world.upload("t/y.csv", csv(3))
    result = world.run(["s/a.csv", "t/x.csv", "t/y.csv"])

    assert not result.success
    assert world.statuses("druid_datasource") == ({"s/a.csv"}, {"t/x.csv", "t/y.csv"})
    assert world.statuses("druid_spec") == ({"s/a.csv", "t/x.csv", "t/y.csv"}, set())
    verdicts = world.verdicts(result.run_id)
    assert verdicts["t/x.csv"].outcome is Outcome.FAILED
    assert verdicts["t/x.csv"].stage is Stage.DRUID_DATASOURCE
    assert verdicts["t/x.csv"].problem is not None
    assert "fake failure" in verdicts["t/x.csv"].problem.what
    assert verdicts["s/a.csv"].outcome is Outcome.INGESTED


def test_druid_unable_to_say_what_it_holds_fails_the_files_before_any_task() -> None:
    world = new_world(unavailable=["s"])
    world.upload(GOOD_A, csv(5))
    result = world.run([GOOD_A])
    assert not result.success
    assert world.statuses("validated_frame") == ({GOOD_A}, set())
    assert world.statuses("druid_spec") == (set(), {GOOD_A})
    verdict = world.verdicts(result.run_id)[GOOD_A]
    assert (verdict.outcome, verdict.stage) == (Outcome.FAILED, Stage.DRUID_SPEC)
    assert world.druid.task_runs() == {}


def test_an_object_deleted_before_its_run_is_failed_from_raw_file_on() -> None:
    world = new_world()
    world.upload(GOOD_A, csv(5))
    world.upload(BAD_B, csv(5))
    world.store.delete(world.store.uploads_bucket, "uploads/" + BAD_B)
    result = world.run([GOOD_A, BAD_B])
    assert not result.success
    for asset in ASSETS:
        assert world.statuses(asset) == ({GOOD_A}, {BAD_B}), asset
    verdict = world.verdicts(result.run_id)[BAD_B]
    assert (verdict.outcome, verdict.stage) == (Outcome.REJECTED, Stage.RAW_FILE)


def test_a_run_for_a_version_an_earlier_run_ingested_does_nothing_even_once_deleted() -> None:
    # The soak's sequence: a run asked for v1 starts after the overwrite and ingests v2; the
    # run asked for v2 comes next, after the file was deleted (dataset under keep): it must
    # not turn the partition red with "no longer exists" while v2's rows are in Druid.
    world = new_world()
    v1 = world.upload(GOOD_A, csv(5))
    v2 = world.upload(GOOD_A, csv(7, offset=100))
    first = world.run([GOOD_A], tags={ETAG_TAG: v1})
    assert first.success
    assert world.verdicts(first.run_id)[GOOD_A].etag == v2
    world.store.delete(world.store.uploads_bucket, "uploads/" + GOOD_A)
    for _ in range(2):  # the sensor's run for v2, then a retry of it
        again = world.run([GOOD_A], tags={ETAG_TAG: v2})
        assert again.success and world.verdicts(again.run_id) == {}
    for asset in ASSETS:
        assert world.statuses(asset) == ({GOOD_A}, set()), asset
    assert len(world.druid.rows_of("s", "uploads/" + GOOD_A)) == 7


def three_versions_the_first_run_ingesting_the_third() -> tuple[World, str, str]:
    """Three versions uploaded in seconds; the run asked for the first starts after the third
    and ingests it. The world, the second and the third ETag."""
    world = new_world()
    v1 = world.upload(GOOD_A, csv(5))
    v2 = world.upload(GOOD_A, csv(6, offset=50))
    v3 = world.upload(GOOD_A, csv(7, offset=100))
    first = world.run([GOOD_A], tags={ETAG_TAG: v1})
    assert world.verdicts(first.run_id)[GOOD_A].etag == v3
    return world, v2, v3


def test_a_run_for_an_older_version_after_the_newest_was_ingested_and_deleted_does_nothing() -> (
    None
):
    # Three versions in seconds: the first run reads v3; the run asked for v2, queued behind
    # it, starts after the file was deleted (dataset under keep). v3's rows stay in Druid and
    # its verdict stands: no "no longer exists", no red partition.
    world, v2, _ = three_versions_the_first_run_ingesting_the_third()
    world.store.delete(world.store.uploads_bucket, "uploads/" + GOOD_A)
    stale = world.run([GOOD_A], tags={ETAG_TAG: v2})
    assert stale.success and world.verdicts(stale.run_id) == {}
    for asset in ASSETS:
        assert world.statuses(asset) == ({GOOD_A}, set()), asset
    assert len(world.druid.rows_of("s", "uploads/" + GOOD_A)) == 7


def test_a_run_for_an_older_version_finding_the_ingested_newest_submits_no_second_task() -> None:
    world, v2, v3 = three_versions_the_first_run_ingesting_the_third()
    tasks = sum(world.druid.task_runs().values())
    stale = world.run([GOOD_A], tags={ETAG_TAG: v2})
    assert stale.success and world.verdicts(stale.run_id) == {}
    assert sum(world.druid.task_runs().values()) == tasks
    by_hand = world.run([GOOD_A])  # from the UI, no version asked: a person wants it run
    assert world.verdicts(by_hand.run_id)[GOOD_A].etag == v3
    assert sum(world.druid.task_runs().values()) == tasks + 1


def test_a_deleted_file_whose_latest_verdict_is_a_rejection_is_rejected_as_gone() -> None:
    world = new_world()
    world.upload(BAD_B, HEADER_ONLY)
    world.run([BAD_B])
    lost = world.upload(BAD_B, csv(4))
    world.store.delete(world.store.uploads_bucket, "uploads/" + BAD_B)
    by_hand = world.run([BAD_B])  # from the UI: no version asked, none named
    asked = world.run([BAD_B], tags={ETAG_TAG: lost})
    for gone, etag in ((by_hand, None), (asked, lost)):
        verdict = world.verdicts(gone.run_id)[BAD_B]
        assert (verdict.outcome, verdict.stage) == (Outcome.REJECTED, Stage.RAW_FILE)
        assert verdict.problem is not None and "no longer exists" in verdict.problem.what
        assert verdict.etag == etag  # the version the run was asked for is the one lost


def test_a_run_without_a_version_or_for_another_one_runs_as_asked() -> None:
    world = new_world()
    v1 = world.upload(GOOD_A, csv(5))
    assert world.run([GOOD_A], tags={ETAG_TAG: v1}).success
    by_hand = world.run([GOOD_A])  # from the UI: no ETag tag, a person wants it run
    assert world.verdicts(by_hand.run_id)[GOOD_A].outcome is Outcome.INGESTED
    v2 = world.upload(GOOD_A, csv(6, offset=50))
    newer = world.run([GOOD_A], tags={ETAG_TAG: v2})
    assert world.verdicts(newer.run_id)[GOOD_A].etag == v2
    assert len(world.druid.rows_of("s", "uploads/" + GOOD_A)) == 6
