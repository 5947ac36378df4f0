"""The one line a failed ingest run shows: which of its files went no further and why."""

from __future__ import annotations

from ingest_pipeline.assets.steps import unfinished_summary
from ingest_pipeline.console.runs import failure_message
from ingest_pipeline_tests.unit.assets.helpers import csv, new_world


def test_a_single_file_run_says_the_file_was_not_ingested_without_naming_others() -> None:
    line = unfinished_summary({"s/a.csv": "no data rows"}, total=1)
    assert line == "The file was not ingested. s/a.csv: no data rows"


def test_a_batch_says_how_many_failed_and_that_the_others_are_ingested() -> None:
    line = unfinished_summary({"s/b.csv": "ragged rows", "s/a.csv": "no data rows"}, total=5)
    assert line == (
        "2 of 5 files not ingested; every other file of this run is. "
        "s/a.csv: no data rows | s/b.csv: ragged rows"
    )


def test_a_batch_where_every_file_failed_does_not_claim_others_are_ingested() -> None:
    line = unfinished_summary({"s/a.csv": "x", "s/b.csv": "y"}, total=2)
    assert line.startswith("None of the 2 files was ingested. ") and "every other" not in line


def test_past_five_files_the_rest_are_counted() -> None:
    unfinished = {f"s/{i}.csv": "no data rows" for i in range(8)}
    line = unfinished_summary(unfinished, total=8)
    assert line.count("no data rows") == 5 and line.endswith(" | and 3 more")


def test_the_real_graph_names_a_rejected_file_once_in_what_the_cli_shows() -> None:
    world = new_world()
    world.upload("s/a.csv", csv(3))
    world.upload("s/b.csv", b"ts,team,points\n")
    result = world.run(["s/a.csv", "s/b.csv"])
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    assert failure_message(failure.step_failure_data) == (
        "1 of 2 files not ingested; every other file of this run is. s/b.csv: the file has no "
        "data rows. Fix: upload a file with at least one data row"
    )
