"""The CLI's pure parts: path expansion, verdicts from run records, the tables they print."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from ingest_pipeline.cli import build_parser, rows_table
from ingest_pipeline.console.paths import PathError, UploadItem, expand_upload_paths
from ingest_pipeline.console.verdicts import (
    FAILED,
    INGESTED,
    PENDING,
    REJECTED,
    SKIPPED,
    TIMED_OUT,
    RunFacts,
    run_links,
    skipped_verdict,
    summary_line,
    timed_out,
    verdict_from_run,
    verdict_table,
)
from ingest_pipeline.records import DatasourceSummary
from ingest_pipeline.verdict import FileVerdict, Outcome, Stage
from ingest_pipeline.vocabulary import Problem

UI = "http://127.0.0.1:3999"


def render(renderable: object) -> str:
    console = Console(record=True, width=250, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


def touch(path: Path, body: bytes = b"a,b\n1,2\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


# ------------------------------------------------------------------ paths


def test_a_file_goes_to_the_given_dataset_under_its_name(tmp_path: Path) -> None:
    path = touch(tmp_path / "x" / "jan.csv")
    assert expand_upload_paths([path], "sales") == [UploadItem(path, "sales", "jan.csv")]
    assert expand_upload_paths([str(path)], "sales", name="renamed.csv")[0].partition == (
        "sales/renamed.csv"
    )


def test_a_file_without_a_dataset_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = touch(tmp_path / "jan.csv")
    with pytest.raises(PathError, match="needs --dataset"):
        expand_upload_paths([path])


def test_a_folder_is_recursive_and_names_the_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "orders"
    a = touch(folder / "a.csv")
    b = touch(folder / "2024" / "jan" / "b.csv.gz")
    items = expand_upload_paths([folder])
    assert items == [
        UploadItem(b, "orders", "2024/jan/b.csv.gz"),
        UploadItem(a, "orders", "a.csv"),
    ]
    assert [i.partition for i in items] == ["orders/2024/jan/b.csv.gz", "orders/a.csv"]
    # --dataset wins over the folder's name; the relative names stay.
    assert [i.partition for i in expand_upload_paths([folder], "sales")] == [
        "sales/2024/jan/b.csv.gz",
        "sales/a.csv",
    ]


def test_globs_expand_files_and_folders(tmp_path: Path) -> None:
    a = touch(tmp_path / "in" / "a.csv")
    touch(tmp_path / "in" / "notes.md")
    c = touch(tmp_path / "in" / "deep" / "c.csv")
    d = touch(tmp_path / "teams" / "d.csv")
    assert expand_upload_paths([f"{tmp_path}/in/*.csv"], "s") == [UploadItem(a, "s", "a.csv")]
    recursive = expand_upload_paths([f"{tmp_path}/in/**/*.csv"], "s")
    assert {(i.local, i.partition) for i in recursive} == {(a, "s/a.csv"), (c, "s/c.csv")}
    # A glob matching a folder uploads the folder, named after itself.
    assert expand_upload_paths([f"{tmp_path}/te*"]) == [UploadItem(d, "teams", "d.csv")]


def test_the_same_file_twice_is_uploaded_once(tmp_path: Path) -> None:
    a = touch(tmp_path / "s" / "a.csv")
    assert expand_upload_paths([tmp_path / "s", f"{tmp_path}/s/*.csv"], "s") == [
        UploadItem(a, "s", "a.csv")
    ]


def test_two_files_for_one_key_are_refused(tmp_path: Path) -> None:
    one, two = touch(tmp_path / "1" / "a.csv"), touch(tmp_path / "2" / "a.csv")
    with pytest.raises(PathError, match="would both be uploaded as s/a.csv"):
        expand_upload_paths([one, two], "s")


def test_bad_paths_and_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="no such file or folder"):
        expand_upload_paths([tmp_path / "missing.csv"], "s")
    with pytest.raises(PathError, match="no file matches"):
        expand_upload_paths([f"{tmp_path}/*.nothing"], "s")
    touch(tmp_path / "f" / "a.csv")
    touch(tmp_path / "f" / "b.csv")
    with pytest.raises(PathError, match="--name renames one file, but 2"):
        expand_upload_paths([tmp_path / "f"], name="x.csv")
    with pytest.raises(PathError, match="cannot be a dataset name"):
        expand_upload_paths([tmp_path / "f"], "a/b")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PathError, match="no files to upload"):
        expand_upload_paths([tmp_path / "empty"])


# ------------------------------------------------------------------ verdicts


def recorded(outcome: Outcome, problem: Problem | None = None, **fields: object) -> FileVerdict:
    return FileVerdict(
        "sales/a.csv", outcome, Stage.DRUID_DATASOURCE, "e1", problem, run_id="r-ok", **fields
    )


INGESTED_RECORD = recorded(
    Outcome.INGESTED,
    rows=1234,
    druid_task_id="index_parallel_sales_abc",
    seconds_to_queryable=17.3,
)


def test_an_ingested_file_shows_rows_task_and_link() -> None:
    facts = RunFacts("r-ok", "SUCCESS", verdict=INGESTED_RECORD)
    verdict = verdict_from_run("sales/a.csv", facts, UI, "/tmp/a.csv")
    assert verdict.outcome == INGESTED and not verdict.bad
    assert verdict.rows == 1234
    assert verdict.detail == "Druid task index_parallel_sales_abc; queryable 17.30s after submit"
    assert verdict.url == f"{UI}/runs/r-ok" and verdict.local == "/tmp/a.csv"


def test_an_ingested_file_in_a_failed_batch_run_is_ingested_with_its_warnings() -> None:
    # a batch run fails when any of its files is rejected; this file's own verdict decides
    record = recorded(Outcome.INGESTED, rows=3, warnings=("no_duplicate_rows: 2 rows repeat",))
    verdict = verdict_from_run("sales/a.csv", RunFacts("r-ok", "FAILURE", verdict=record), UI)
    assert verdict.outcome == INGESTED and not verdict.bad
    assert verdict.detail == "warnings: no_duplicate_rows: 2 rows repeat"


def test_a_failed_check_after_druid_fails_the_file_with_the_checks_why() -> None:
    problem = Problem("rows_in_druid_match_validated failed: Druid holds 3 rows", "re-run it")
    verdict = verdict_from_run(
        "sales/a.csv", RunFacts("r-ok", "FAILURE", verdict=recorded(Outcome.FAILED, problem)), UI
    )
    assert verdict.outcome == FAILED and verdict.bad and verdict.rows is None
    assert verdict.detail == (
        "sales/a.csv: rows_in_druid_match_validated failed: Druid holds 3 rows. Fix: re-run it"
    )


def test_a_rejected_file_shows_its_problem_and_fix() -> None:
    problem = Problem("the file has no data rows", "add rows below the header", line=1)
    record = FileVerdict("s/h.csv", Outcome.REJECTED, Stage.VALIDATED_FRAME, problem=problem)
    verdict = verdict_from_run("s/h.csv", RunFacts("r-bad", "FAILURE", verdict=record), UI)
    assert verdict.outcome == REJECTED and verdict.bad
    assert (
        verdict.detail
        == "s/h.csv: the file has no data rows (at line 1). Fix: add rows below the header"
    )
    assert verdict.rows is None


def test_a_run_that_ended_without_a_verdict_shows_its_failure_message() -> None:
    facts = RunFacts(
        run_id="r-f",
        status="FAILURE",
        failures=["RuntimeError: the run worker was killed"],
    )
    verdict = verdict_from_run("s/a.csv", facts, None)
    assert verdict.outcome == FAILED
    assert verdict.detail == "RuntimeError: the run worker was killed"
    assert verdict.url is None and verdict.run_id == "r-f"
    assert verdict_from_run("s/a.csv", RunFacts("r", "CANCELED"), None).detail == "run canceled"


def test_unfinished_runs_are_pending_then_time_out_with_their_last_step() -> None:
    facts = RunFacts("r-run", "STARTED", steps_started=["raw_file", "validated_frame"])
    pending = verdict_from_run("s/a.csv", facts, UI)
    assert pending.outcome == PENDING and pending.detail == "run started, at validated_frame"
    late = timed_out(pending, "s/a.csv", 60)
    assert late.outcome == TIMED_OUT and late.bad
    assert late.detail == "no finished run within 60s (run started, at validated_frame)"
    assert late.url == f"{UI}/runs/r-run"
    never = timed_out(None, "s/b.csv", 30)
    assert never.outcome == TIMED_OUT and "has not started one" in never.detail


def test_the_verdict_table_has_one_row_per_file() -> None:
    rejected = FileVerdict(
        "s/h.csv",
        Outcome.REJECTED,
        Stage.VALIDATED_FRAME,
        None,
        Problem("no data rows", "add rows"),
    )
    problem = "s/h.csv: no data rows. Fix: add rows"
    verdicts = [
        verdict_from_run("sales/a.csv", RunFacts("r-ok", "SUCCESS", verdict=INGESTED_RECORD), UI),
        verdict_from_run("s/h.csv", RunFacts("r-bad", "FAILURE", verdict=rejected), UI),
        skipped_verdict("s/empty.csv", "zero bytes"),
    ]
    text = render(verdict_table(verdicts))
    lines = text.splitlines()
    (good,) = [line for line in lines if "sales/a.csv" in line]
    assert "ingested" in good and "1,234" in good and good.split("│")[5].strip() == "r-ok"
    (bad,) = [line for line in lines if "s/h.csv" in line]
    assert "rejected" in bad and problem in bad and bad.split("│")[5].strip() == "r-bad"
    (empty,) = [line for line in lines if "s/empty.csv" in line]
    assert "skipped" in empty and "not ingested by the sensor: zero bytes" in empty
    assert summary_line(verdicts) == "1 ingested, 1 rejected, 1 skipped"
    assert run_links((v.partition, v.url) for v in verdicts) == [
        f"sales/a.csv  {UI}/runs/r-ok",
        f"s/h.csv  {UI}/runs/r-bad",
    ]
    assert [v.bad for v in verdicts] == [False, True, False]
    assert verdicts[2].outcome == SKIPPED


# ------------------------------------------------------------------ command line


def test_upload_takes_many_paths_and_a_wait() -> None:
    args = build_parser().parse_args(["upload", "a.csv", "dir", "x/*.csv", "--wait", "30"])
    assert args.paths == ["a.csv", "dir", "x/*.csv"] and args.wait == 30.0
    assert args.dataset is None
    status = build_parser().parse_args(["status", "sales", "--failures", "3"])
    assert status.dataset == "sales" and status.failures == 3


def test_upload_refuses_a_bad_path_before_touching_s3(tmp_path: Path, capsys) -> None:
    from ingest_pipeline.cli import main

    assert main(["upload", str(tmp_path / "missing.csv"), "--dataset", "s"]) == 2
    assert "no such file or folder" in capsys.readouterr().err  # a failure: on stderr


def test_query_rows_become_a_table() -> None:
    text = render(rows_table([{"team": "t1", "n": 3}, {"team": None, "n": 12}]))
    assert [line.split() for line in text.splitlines() if "t1" in line or "12" in line] == [
        ["│", "t1", "│", "3", "│"],
        ["│", "│", "12", "│"],
    ]


def test_step_errors_read_as_one_line_without_the_module_path() -> None:
    from ingest_pipeline.console.runs import one_line_error

    message = (
        "dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking asset check failed "
        "with ERROR severity:\nvalidated_frame: file_is_ingestible\n"
    )
    assert one_line_error(message, "DagsterAssetCheckFailedError") == (
        "DagsterAssetCheckFailedError: 1 blocking asset check failed with ERROR severity: "
        "validated_frame: file_is_ingestible"
    )
    assert one_line_error("Druid said: no\n", "Failure") == "Druid said: no"


def test_the_status_table_counts_files_and_shows_druid() -> None:
    from ingest_pipeline.console.status import DatasetStatus, FileState, status_table

    sales = DatasetStatus(
        "sales",
        files=[
            FileState("sales/a.csv", INGESTED),
            FileState("sales/b.csv", INGESTED),
            FileState("sales/c.csv", REJECTED, detail="no data rows"),
            FileState("sales/d.csv", FAILED),
            FileState("sales/e.csv", PENDING),
        ],
        druid=DatasourceSummary(
            12345, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC), 4, 3
        ),
    )
    down = DatasetStatus("teams", files=[FileState("teams/x.csv", PENDING)], druid_error="no")
    lines = render(status_table([sales, down])).splitlines()
    (row,) = [line for line in lines if "sales" in line]
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [
        "sales",
        "5",
        "2",
        "1",
        "1",
        "0",
        "0",
        "1",
        "12,345",
        "2024-01-01T00:00:00Z .. 2024-02-01T00:00:00Z",
        "3",
    ]
    (row,) = [line for line in lines if "teams" in line]
    assert "Druid unreachable" in row


def test_names_and_messages_with_brackets_are_shown_as_they_are() -> None:
    verdict = verdict_from_run(
        "s/[raw] data.csv",
        RunFacts("r", "FAILURE", failures=["Dependencies failed: ['validated_frame'] [bold]x"]),
        UI,
    )
    text = render(verdict_table([verdict]))
    assert "s/[raw] data.csv" in text
    assert "Dependencies failed: ['validated_frame'] [bold]x" in text
