"""`ingest-pipeline upload --wait` and `ingest-pipeline status` as a person runs them: the real
entry point in a subprocess, against the real stack and a real Dagster daemon (its sensor starts
the runs the CLI follows)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from ingest_pipeline.console.ingest_now import upload_sensor_activity
from ingest_pipeline.stack.dagster import DagsterService
from ingest_pipeline.stack.settings import REPO_ROOT, UPLOADS_BUCKET, StackSettings
from ingest_pipeline_tests.integration.automation import (
    Automation,
    assert_no_more_runs,
    csv,
    runs_for,
    source_rows,
)
from ingest_pipeline_tests.integration.oracles import rows_in_druid

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "ingest-pipeline")


def run_cli(auto: Automation, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {
        **auto.env,
        # The code under test, whichever checkout the venv was installed from.
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), auto.env.get("PYTHONPATH", "")]),
        "INGEST_DAGSTER_UI_URL": f"http://127.0.0.1:{auto.web_port}",
        "COLUMNS": "400",  # one table row per line, to read rows back
    }
    result = subprocess.run(
        [CLI, *argv], env=env, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT
    )
    print(result.stdout, result.stderr, sep="\n")
    return result


def table_row(output: str, first_cell: str) -> list[str]:
    """The cells of the rich table row whose first cell is `first_cell`."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│┃").split("│")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row for {first_cell!r} in:\n{output}")


def test_upload_a_folder_and_wait_then_ask_for_the_status(
    automation: Automation, druid, tmp_path: Path
) -> None:
    dataset = f"cli_{uuid.uuid4().hex[:6]}"
    folder = tmp_path / dataset
    folder.mkdir()
    (folder / "good.csv").write_bytes(csv(25))
    (folder / "header_only.csv").write_bytes(b"ts,team,points\n")
    (folder / "empty.csv").write_bytes(b"")
    # Over 1 MiB: its own byte progress bar; an unknown extension: skipped, never waited for.
    (folder / "blob.bin").write_bytes(os.urandom(3 << 19))
    ui = f"http://127.0.0.1:{automation.web_port}"

    result = run_cli(automation, "upload", str(folder), "--wait", "400")

    assert result.returncode == 1, "a rejected file makes the command fail"
    out = result.stdout
    instance = automation.instance()
    (good_run,) = runs_for(instance, f"{dataset}/good.csv")
    (bad_run,) = runs_for(instance, f"{dataset}/header_only.csv")
    # One tick saw both files: one batch run, which ingests the good file and then fails for
    # the rejected one; two ticks: the good file's run succeeds, the bad file's fails.
    batched = bad_run.run_id == good_run.run_id
    assert bad_run.status == dg.DagsterRunStatus.FAILURE
    expected_status = dg.DagsterRunStatus.FAILURE if batched else dg.DagsterRunStatus.SUCCESS
    assert good_run.status == expected_status
    # Uploads, then each run step by step.
    for name in ("good.csv", "header_only.csv", "empty.csv", "blob.bin"):
        assert f"uploaded {folder / name} -> s3://ingest-uploads/{automation.prefix}" in out
    assert "(will be skipped: zero bytes)" in out
    # The byte bar advances only through boto3's upload callback: it reached every byte.
    assert re.search(r"^bytes +━+ 100% 1\.6/1\.6 MB", out, re.MULTILINE), out
    assert re.search(r"^uploading +━+ 100% 4/4 files", out, re.MULTILINE), out
    assert f"{dataset}/good.csv: run {good_run.run_id} ({ui}/runs/{good_run.run_id})" in out
    for step in ("raw_file", "validated_frame", "druid_spec", "druid_datasource"):
        assert f"{dataset}/good.csv: … {step} started" in out
    assert f"{dataset}/good.csv: ✓ validated_frame materialized: 25 rows" in out
    assert f"{dataset}/good.csv: ✓ validated_frame check file_is_ingestible passed" in out
    assert f"{dataset}/good.csv: ✓ druid_datasource materialized: 25 rows" in out
    assert f"{dataset}/good.csv: ✓ verdict ingested: 25 rows; Druid task ingest_" in out
    assert f"{dataset}/header_only.csv: ✗ verdict rejected: {dataset}/header_only.csv: " in out
    assert f"{dataset}/header_only.csv: ✗ validated_frame check file_is_ingestible FAILED" in out
    if not batched:  # in a batch the spec step runs, for the others
        assert f"{dataset}/header_only.csv: … druid_spec started" not in out

    # The verdict table: one row per file.
    good = table_row(out, f"{dataset}/good.csv")
    assert good[1:3] == ["ingested", "25"]
    assert good[3].startswith("Druid task ingest_") and "s after submit" in good[3]
    assert good[4] == good_run.run_id[:8]
    assert f"  {dataset}/good.csv  {ui}/runs/{good_run.run_id}\n" in out
    bad = table_row(out, f"{dataset}/header_only.csv")
    assert bad[1:3] == ["rejected", ""]
    assert "header_only.csv" in bad[3] and "no data rows" in bad[3] and "Fix:" in bad[3]
    assert bad[4] == bad_run.run_id[:8]
    assert f"  {dataset}/header_only.csv  {ui}/runs/{bad_run.run_id}\n" in out
    empty = table_row(out, f"{dataset}/empty.csv")
    assert empty[1:4] == ["skipped", "", "not ingested by the sensor: zero bytes"]
    blob = table_row(out, f"{dataset}/blob.bin")
    assert blob[1] == "skipped" and "unknown extension" in blob[3]
    assert "1 ingested, 1 rejected, 2 skipped" in out
    assert source_rows(druid, dataset, automation, "good.csv") == 25

    status = run_cli(automation, "status", dataset)
    assert status.returncode == 0
    row = table_row(status.stdout, dataset)
    # dataset, files seen, ingested, rejected, failed, skipped, retracted, pending, rows, time
    # range, segments (the zero-byte and .bin uploads are seen, with the sensor's skipped verdict)
    assert row[1:9] == ["4", "1", "1", "0", "2", "0", "0", "25"]
    assert row[9] == "2024-07-01T00:00:00Z .. 2024-07-01T00:24:00Z"
    assert int(row[10]) >= 1
    failure = table_row(status.stdout, f"{dataset}/header_only.csv")
    assert failure[1] == "rejected"
    assert "no data rows" in failure[3] and "Fix:" in failure[3]
    assert failure[4] == bad_run.run_id[:8]
    assert f"  {dataset}/header_only.csv  {ui}/runs/{bad_run.run_id}\n" in status.stdout

    everything = run_cli(automation, "status")
    assert table_row(everything.stdout, dataset)[1:4] == ["4", "1", "1"]
    unknown = run_cli(automation, "status", f"nothing_{uuid.uuid4().hex[:6]}")
    assert unknown.returncode == 1 and "no uploads and not in Druid" in unknown.stderr


def wait_until_sensor(auto: Automation, ticking: bool, timeout: float = 120) -> str:
    """Until `ingest` sees upload_sensor ticking (a daemon that started has ticked) or not (a
    stopped daemon's last tick is old enough); the reason it gives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        activity = upload_sensor_activity(auto.instance())
        if activity.ticking == ticking:
            return activity.reason
        time.sleep(1)
    raise AssertionError(f"upload_sensor ticking is not {ticking} after {timeout}s")


def test_ingest_follows_the_sensor_s_run_or_runs_here_and_never_twice(
    automation: Automation, druid, tmp_path: Path
) -> None:
    dataset = f"now_{uuid.uuid4().hex[:6]}"
    with_daemon, without = tmp_path / "with_daemon.csv", tmp_path / "without.csv"
    with_daemon.write_bytes(csv(25))
    without.write_bytes(csv(30, offset=1000, day="2024-07-02"))
    instance = automation.instance()

    # A daemon ticks the sensor: its run ingests the file, the command follows it.
    wait_until_sensor(automation, ticking=True)
    followed = run_cli(automation, "ingest", str(with_daemon), "--dataset", dataset)
    assert followed.returncode == 0
    assert "upload_sensor ticked" in followed.stdout
    assert "its run ingests the file; following it" in followed.stdout
    (sensor_run,) = runs_for(instance, f"{dataset}/with_daemon.csv")
    assert sensor_run.tags.get("dagster/sensor_name") == "upload_sensor"
    assert "ingest/launched_by" not in sensor_run.tags
    assert table_row(followed.stdout, f"{dataset}/with_daemon.csv")[1:3] == ["ingested", "25"]

    # No daemon: the file runs in the command's process, tagged with its ETag.
    automation.stop_daemon()
    try:
        reason = wait_until_sensor(automation, ticking=False)
        assert "no daemon" in reason
        here = run_cli(automation, "ingest", str(without), "--dataset", dataset)
        assert here.returncode == 0, here.stdout + here.stderr
        assert re.search(
            r"upload_sensor last ticked \d+ s ago: no daemon: running the file here", here.stdout
        )
        # the same verdict table as `upload --wait`, from the run's recorded verdict
        assert table_row(here.stdout, f"{dataset}/without.csv")[1:3] == ["ingested", "30"]
        assert "1 ingested" in here.stdout
        (cli_run,) = runs_for(instance, f"{dataset}/without.csv")
        assert cli_run.status == dg.DagsterRunStatus.SUCCESS
        assert cli_run.tags["ingest/launched_by"] == "ingest-pipeline ingest"
        assert cli_run.tags["ingest/etag"]
        assert f"{dataset}/without.csv  http://127.0.0.1:" in here.stdout  # its run's link
        assert cli_run.run_id in here.stdout
    finally:
        automation.start_daemon()

    # The daemon back: its sensor lists the file as unseen, finds the command's run of this
    # very version and requests nothing; each file's rows are in Druid once.
    assert_no_more_runs(automation, {f"{dataset}/with_daemon.csv": 1, f"{dataset}/without.csv": 1})
    assert source_rows(druid, dataset, automation, "with_daemon.csv") == 25
    assert source_rows(druid, dataset, automation, "without.csv") == 30


def new_shell(cwd: Path) -> Callable[..., subprocess.CompletedProcess]:
    """A person's commands in a new shell after only `source .venv/bin/activate`: the venv's
    bin on PATH and HOME, no INGEST_* variable (PYTHONPATH only when the venv holds another
    checkout, to run the code under test); a traceback on stderr fails the test."""
    bin_dir = Path(sys.executable).parent
    env = {"PATH": str(bin_dir), "HOME": os.environ["HOME"]}
    installed = subprocess.run(
        [str(bin_dir / "python"), "-c", "import ingest_pipeline; print(ingest_pipeline.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    ).stdout
    if not Path(installed.strip()).is_relative_to(REPO_ROOT):
        env["PYTHONPATH"] = str(REPO_ROOT)

    def person(*argv: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(bin_dir / "ingest-pipeline"), *argv],
            env={**env, "COLUMNS": "400"},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
        )
        print(result.stdout, result.stderr, sep="\n")
        assert "Traceback" not in result.stderr
        assert result.returncode != 0 or not result.stderr  # no warnings beside an answer
        return result

    return person


def test_the_demo_s_next_commands_work_in_a_new_shell(
    stack: StackSettings, druid, s3, tmp_path: Path
) -> None:
    """scripts/demo.sh ends by printing what to run next; a person runs it in a new shell after
    only `source .venv/bin/activate`: no INGEST_* variable, only the venv's bin on PATH, another
    working folder. The commands find the stack in the default folder, where the demo (and this
    session) brought it up. (No Dagster is started here: a daemon's sensor on the stack's own
    `uploads/` would ingest other tests' files; `upload --wait` is run when one already runs.)"""
    if (REPO_ROOT / ".stack").resolve() != stack.stack_dir.resolve():
        pytest.skip(f"this session's stack ({stack.stack_dir}) is not the default folder")
    printed = (REPO_ROOT / "scripts" / "demo.sh").read_text().split("In a new shell:")[1]
    for command in (
        "ingest-pipeline upload <files",
        "ingest-pipeline status",
        "ingest-pipeline query",
    ):
        assert command in printed
    person = new_shell(tmp_path)
    dataset = f"demo_next_{uuid.uuid4().hex[:6]}"
    later, now = tmp_path / "later.csv", tmp_path / "now.csv"
    later.write_bytes(csv(20))
    now.write_bytes(csv(30, offset=100, day="2024-07-02"))
    try:
        uploaded = person("upload", str(later), "--dataset", dataset)
        assert uploaded.returncode == 0, uploaded.stderr
        assert "1 file(s) for the sensor to ingest" in uploaded.stdout
        ingested = person("ingest", str(now), "--dataset", dataset)
        assert ingested.returncode == 0, ingested.stderr
        if DagsterService(stack).pid():  # the stack's Dagster, as the demo leaves it
            third = tmp_path / "third.csv"
            third.write_bytes(csv(10, offset=200, day="2024-07-03"))
            waited = person("upload", str(third), "--dataset", dataset, "--wait", "300")
            assert waited.returncode == 0 and "1 ingested" in waited.stdout
        status = person("status", dataset)
        assert status.returncode == 0, status.stderr
        assert int(table_row(status.stdout, dataset)[2]) >= 1  # ingested
        query = person(
            "query",
            f'SELECT COUNT(*) AS n FROM "{dataset}" WHERE "__source_key" = ?',
            "--param",
            f"uploads/{dataset}/now.csv",
        )
        assert query.returncode == 0 and re.search(r"│\s+30\s+│", query.stdout), query.stdout
        assert person("stack", "status").returncode == 0
    finally:
        s3.delete_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{dataset}/later.csv")
    assert rows_in_druid(druid, dataset, f"uploads/{dataset}/now.csv") == 30
