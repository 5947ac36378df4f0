"""`ingest-pipeline upload --wait` and `ingest-pipeline status` as a person runs them: the real
entry point in a subprocess, against the real stack and a real Dagster daemon (its sensor starts
the runs the CLI follows)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest

from ingest_pipeline.stack.settings import REPO_ROOT
from ingest_pipeline_tests.integration.automation import Automation, csv, runs_for, source_rows

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
    assert good_run.status == dg.DagsterRunStatus.SUCCESS
    # One tick saw both files: one batch run, which succeeds with this file rejected in it;
    # two ticks: its own run, which fails (none of its files can be ingested).
    batched = bad_run.run_id == good_run.run_id
    expected_status = dg.DagsterRunStatus.SUCCESS if batched else dg.DagsterRunStatus.FAILURE
    assert bad_run.status == expected_status
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
    assert f"{dataset}/good.csv: ✓ validated_frame materialized: 25 rows validated" in out
    assert f"{dataset}/good.csv: ✓ validated_frame check file_is_ingestible passed" in out
    assert f"{dataset}/good.csv: ✓ druid_datasource materialized: 25 rows in Druid, task " in out
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
    # dataset, files seen, ingested, rejected, failed, skipped, pending, rows, time range,
    # segments (the zero-byte and .bin uploads are seen, with the sensor's skipped verdict)
    assert row[1:8] == ["4", "1", "1", "0", "2", "0", "25"]
    assert row[8] == "2024-07-01T00:00:00Z .. 2024-07-01T00:24:00Z"
    assert int(row[9]) >= 1
    failure = table_row(status.stdout, f"{dataset}/header_only.csv")
    assert failure[1] == "rejected"
    assert "no data rows" in failure[3] and "Fix:" in failure[3]
    assert failure[4] == bad_run.run_id[:8]
    assert f"  {dataset}/header_only.csv  {ui}/runs/{bad_run.run_id}\n" in status.stdout

    everything = run_cli(automation, "status")
    assert table_row(everything.stdout, dataset)[1:4] == ["4", "1", "1"]
    unknown = run_cli(automation, "status", f"nothing_{uuid.uuid4().hex[:6]}")
    assert unknown.returncode == 1 and "no uploads and not in Druid" in unknown.stdout
