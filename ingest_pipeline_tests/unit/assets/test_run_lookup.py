"""Finding the runs of a file by what Dagster planned for it (not by run tags, which a daemon
killed while creating a run can leave out of the tag index): the real graph on the fakes."""

from __future__ import annotations

from ingest_pipeline.console.runs import runs_covering, runs_for_versions
from ingest_pipeline_tests.unit.assets.helpers import csv, new_world


def test_a_file_s_runs_alone_in_a_batch_and_of_the_druid_step_alone_newest_first() -> None:
    world = new_world()
    world.upload("s/a.csv", csv(3))
    world.upload("s/b.csv", csv(4))
    batch = world.run(["s/a.csv", "s/b.csv"])
    etag = world.upload("s/a.csv", csv(5, offset=40))
    alone = world.run(["s/a.csv"], tags={"ingest/etag": etag})
    retry = world.run(["s/a.csv"], selection=["druid_datasource"])

    assert [r.run_id for r in runs_covering(world.instance, "s/a.csv")] == [
        retry.run_id,
        alone.run_id,
        batch.run_id,
    ]
    assert [r.run_id for r in runs_covering(world.instance, "s/b.csv")] == [batch.run_id]
    assert runs_covering(world.instance, "s/never.csv") == []


def test_the_run_of_an_uploaded_version_is_the_newest_that_did_not_run_another_version() -> None:
    world = new_world()
    old = world.upload("s/a.csv", csv(3))
    first = world.run(["s/a.csv"], tags={"ingest/etag": old})
    new = world.upload("s/a.csv", csv(6, offset=9))
    found = runs_for_versions(world.instance, [("s/a.csv", new), ("s/a.csv", old)])
    assert found == {("s/a.csv", old): found[("s/a.csv", old)]}  # the new version: no run yet
    assert found[("s/a.csv", old)].run_id == first.run_id
    second = world.run(["s/a.csv"], tags={"ingest/etag": new})
    found = runs_for_versions(world.instance, [("s/a.csv", new)])
    assert found[("s/a.csv", new)].run_id == second.run_id
    # a run created before the upload was made is not its run
    assert runs_for_versions(world.instance, [("s/a.csv", new)], since=4e9) == {}
