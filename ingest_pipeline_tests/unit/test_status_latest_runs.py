"""`ingest-pipeline status`: each file's newest run, among runs of it alone and batch runs over
a range of partitions (a local Dagster instance, no servers)."""

from __future__ import annotations

import dagster as dg

from ingest_pipeline.console.status import latest_runs


def stored(instance: dg.DagsterInstance, run_id: str, **tags: str) -> None:
    run = dg.DagsterRun(
        job_name="ingest_upload", run_id=run_id, status=dg.DagsterRunStatus.SUCCESS, tags=tags
    )
    instance.add_run(run)
    instance.handle_run_event(  # a start time, which orders the runs
        run_id,
        dg.DagsterEvent(
            event_type_value=dg.DagsterEventType.RUN_START.value, job_name="ingest_upload"
        ),
    )


def batch(first: str, last: str, dataset: str = "s") -> dict[str, str]:
    return {
        "ingest/dataset": dataset,
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def test_each_file_gets_its_newest_run_alone_or_in_a_batch_covering_it() -> None:
    with dg.instance_for_test() as instance:
        keys = [f"s/{name}.csv" for name in "abcdef"] + ["t/x.csv"]
        instance.add_dynamic_partitions("uploads", keys)
        stored(instance, "b1", **batch("s/a.csv", "s/d.csv"))
        stored(instance, "single_b", **{"dagster/partition": "s/b.csv", "ingest/dataset": "s"})
        stored(instance, "b2", **batch("s/c.csv", "s/e.csv"))
        stored(instance, "t1", **batch("t/x.csv", "t/x.csv", dataset="t"))

        found = latest_runs(instance, ["s/a.csv", "s/b.csv", "s/c.csv", "s/e.csv", "s/f.csv"])

        assert {p: r.run_id for p, r in found.items() if p.startswith("s/")} == {
            "s/a.csv": "b1",
            "s/b.csv": "single_b",  # newer than the batch that covered it first
            "s/c.csv": "b2",
            "s/e.csv": "b2",
        }  # f.csv: no run; t/x.csv: not asked for
        assert found["s/c.csv"].batch and not found["s/b.csv"].batch
