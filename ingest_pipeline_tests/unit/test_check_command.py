"""`ingest-pipeline check FILE`: a good, a bad and an ambiguous real-shaped file, run through
`main` as a person runs it, asserted on the text it prints (no stack: the contract is skipped
and said so). The files are generated here; their shapes are those real exports have."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest_pipeline.cli import main
from ingest_pipeline.console import clients
from ingest_pipeline.console.check import check_file
from ingest_pipeline.console.check_report import check_lines
from ingest_pipeline.datasets import ColumnsContract, DatasetConfig, TypesContract
from ingest_pipeline.stack.settings import free_port

NO_STACK = "contract not checked: no stack reachable (no stack found: "


@pytest.fixture(autouse=True)
def no_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No stack variable of the machine's, and no stack where one is looked for."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("INGEST_", "DAGSTER_", "AWS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("INGEST_STACK_DIR", str(tmp_path / "no-stack"))
    yield
    os.environ.clear()
    os.environ.update(saved)


def check(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def sales_year(folder: Path) -> Path:
    """A year of hourly sales: an ISO timestamp, a date and an epoch column (all time-like),
    amounts that turn to NA after row 100 (past Polars' inference sample), a comment column
    that is empty after row 100."""
    lines = ["event_time,order_date,shipped_epoch,region,amount,units,comment"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(366 * 24):
        t = start + timedelta(hours=i)
        amount = "NA" if i >= 100 and i % 7 == 0 else f"{(i % 97) * 1.25:.2f}"
        shipped = int((t + timedelta(days=2)).timestamp())
        region = ("north", "south", "east")[i % 3]
        comment = "launch week" if i < 100 else ""
        lines.append(
            f"{t:%Y-%m-%dT%H:%M:%SZ},{t:%Y-%m-%d},{shipped},{region},{amount},{i % 5},{comment}"
        )
    path = folder / "sales" / "sales_2024.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def orders_with_bad_times(folder: Path) -> Path:
    """200 orders; three times are broken (a month 13, a word, a 31st of February)."""
    broken = {57: "2024-13-45 10:00:00", 58: "yesterday", 141: "2024-02-31 10:00:00"}
    lines = ["order_id,ordered_at,customer,amount"]
    for i in range(200):
        at = (
            broken.get(i) or f"{datetime(2024, 3, 1) + timedelta(minutes=37 * i):%Y-%m-%d %H:%M:%S}"
        )
        lines.append(f"{1000 + i},{at},c{i % 17},{i * 3.5:.2f}")
    path = folder / "orders" / "orders_march.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def trips_two_times(folder: Path) -> Path:
    """Taxi trips: pickup and dropoff are both full ISO timestamps on every row."""
    lines = ["trip_id,pickup_time,dropoff_time,distance_km"]
    for i in range(300):
        t = datetime(2024, 5, 1) + timedelta(minutes=13 * i)
        off = t + timedelta(minutes=20 + i % 30)
        lines.append(f"T{i},{t:%Y-%m-%dT%H:%M:%S},{off:%Y-%m-%dT%H:%M:%S},{1 + i % 9}.5")
    path = folder / "trips" / "trips_may.csv"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ a good file


def test_a_good_file_prints_time_column_and_why_rows_schema_and_is_ingested(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sales_year(tmp_path)
    code, lines, err = check(str(path), capsys=capsys)
    assert (code, err) == (0, "")
    assert lines[:4] == [
        f"file: {path} (uploaded as uploads/sales/sales_2024.csv)",
        "dataset: sales (the folder's name; --dataset names another); settings: the defaults "
        "(no datasets.yaml: INGEST_DATASETS_CONFIG is unset; --datasets-config names one)",
        "format: CSV, delimiter ',', utf-8, uncompressed",
        "rows: 8784 to ingest, 0 rejected, 0 duplicates of an earlier row",
    ]
    at = lines.index("  candidates (the winner first):")
    assert lines[at - 1 : at + 4] == [
        "time: __time from 'event_time' (timestamps: 8784 of 8784 values parse), "
        "2024-01-01T00:00:00.000Z .. 2024-12-31T23:00:00.000Z",
        "  candidates (the winner first):",
        "    chosen: 'event_time' [ISO 8601 text]: timestamps: 8784 of 8784 values parse",
        "    lost: 'order_date' [ISO 8601 text]: dates only: 8784 of 8784 values parse; dates "
        "only, 'event_time' has full timestamps",
        "    lost: 'shipped_epoch' [epoch numbers]: epoch s (2024-01-03 .. 2025-01-02); epoch "
        "numbers rank below 'event_time''s typed or ISO 8601 times",
    ]
    at = lines.index("schema (column -> Druid type):")
    assert [line.split()[:2] for line in lines[at + 1 : at + 9]] == [
        ["__time:", "timestamp"],
        ["event_time:", "string"],
        ["order_date:", "string"],
        ["shipped_epoch:", "long"],
        ["region:", "string"],
        ["amount:", "double"],  # NA after row 100 is a null, not a text column
        ["units:", "long"],
        ["comment:", "string"],
    ]
    assert "  amount:        double  14% null, 0.0 .. 120.0" in lines
    assert "  FAIL  null_ratios_within_threshold: columns above 50% null: comment (99%)" in lines
    at = lines.index("  FAIL  time_like_columns_used:")
    assert lines[at + 1 : at + 4] == [
        "    - column 'order_date' looks like a time (ISO 8601 text: 8784 of 8784 values parse, "
        "100%) but __time comes from 'event_time' (dates only, 'event_time' has full "
        "timestamps); to use 'order_date' instead, set in datasets.yaml:",
        "      sales:",
        "        time_column: order_date",
    ]
    assert "  ok    rows_have_their_own_time" in lines
    assert not any("schema_matches_datasource" in line for line in lines)
    assert lines[-2].startswith(NO_STACK)
    assert lines[-1] == "would be ingested into datasource 'sales': 8784 rows"


def test_the_datasets_config_decides_as_in_the_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sales_year(tmp_path)
    config = tmp_path / "datasets.yaml"
    config.write_text("daily:\n  time_column: order_date\n  null_ratio_warn: 1.0\n")
    code, lines, _ = check(
        str(path), "--dataset", "daily", "--datasets-config", str(config), capsys=capsys
    )
    assert code == 0
    assert lines[0] == f"file: {path} (uploaded as uploads/daily/sales_2024.csv)"
    assert lines[1] == f"dataset: daily (--dataset); settings: {config} (its entry)"
    assert lines[lines.index("  candidates (the winner first):") + 1] == (
        "    chosen: 'order_date': the configured time_column"
    )
    assert "  ok    null_ratios_within_threshold" in lines
    assert lines[-1] == "would be ingested into datasource 'daily': 8784 rows"


def test_json_holds_the_same_facts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = check(str(sales_year(tmp_path)), "--json", capsys=capsys)
    document = json.loads("\n".join(lines))
    assert code == 0
    assert document["verdict"] == "ingested" and document["rows"] == 8784
    assert document["time_column"] == "event_time"
    assert document["schema"]["amount"] == "double"
    assert [c["column"] for c in document["time_candidates"]] == [
        "event_time",
        "order_date",
        "shipped_epoch",
    ]
    assert {c["check"]: c["passed"] for c in document["checks"]} == {
        "null_ratios_within_threshold": False,
        "no_duplicate_rows": True,
        "time_like_columns_used": False,
        "rows_have_their_own_time": True,
    }
    assert document["contract"][0].startswith(NO_STACK)


def test_with_the_datasources_columns_the_schema_check_and_the_contract_say_the_drift(
    tmp_path: Path,
) -> None:
    """What the command shows when Druid answered (the columns as the broker has them)."""
    druid = {"__time": "TIMESTAMP", "event_time": "VARCHAR", "amount": "BIGINT", "gone": "VARCHAR"}
    checked = check_file(sales_year(tmp_path), "sales_2024.csv", "sales", DatasetConfig(), druid)
    lines = check_lines(checked)
    drift = [line for line in lines if "schema_matches_datasource" in line]
    assert drift == [
        "  FAIL  schema_matches_datasource: new column 'order_date' (string); new column "
        "'shipped_epoch' (long); new column 'region' (string); column 'amount' is double here, "
        "BIGINT in Druid; new column 'units' (long); new column 'comment' (string); columns "
        "missing from this file: gone"
    ]
    at = lines.index(
        "contract: columns: evolve, types: evolve; datasource 'sales' has 3 columns: this "
        "file's drift:"
    )
    assert lines[at + 1 :] == [
        "  - new column 'order_date' (string)",
        "  - new column 'shipped_epoch' (long)",
        "  - new column 'region' (string)",
        "  - new column 'units' (long)",
        "  - new column 'comment' (string)",
        "  - column 'amount' is double here, BIGINT in Druid",
        "  - columns missing from this file: gone",
        "would be ingested into datasource 'sales': 8784 rows",
    ]
    new = check_lines(check_file(sales_year(tmp_path / "b"), "x", "sales", DatasetConfig(), {}))
    assert (
        "  ok    schema_matches_datasource: new datasource: no columns to compare with yet" in new
    )
    assert new[-2] == (
        "contract: columns: evolve, types: evolve; datasource 'sales' is new (no columns in "
        "Druid): this file's columns become its schema"
    )


TRIPS_IN_DRUID = {
    "__time": "TIMESTAMP",
    "trip_id": "VARCHAR",
    "pickup_time": "VARCHAR",
    "distance_km": "DOUBLE",
    "__source_key": "VARCHAR",
}


def test_a_frozen_dataset_rejects_a_new_column_as_the_asset_would(tmp_path: Path) -> None:
    path = trips_two_times(tmp_path)
    frozen = DatasetConfig(columns=ColumnsContract.FREEZE)
    checked = check_file(path, str(path), "trips", frozen, TRIPS_IN_DRUID)
    assert checked.rejected
    assert check_lines(checked)[-2:] == [
        "contract: columns: freeze, types: evolve; datasource 'trips' has 3 columns",
        f"would be REJECTED: {path}: column(s) 'dropoff_time' are not in the datasource of "
        "dataset 'trips', whose columns are frozen (columns: freeze) (at column "
        "'dropoff_time'). Fix: remove the column(s) from the file, or give dataset 'trips' "
        "`columns: evolve` (add them) or `columns: discard` (leave them out) in datasets.yaml",
    ]


def test_discard_row_lists_the_rows_it_would_leave_out(tmp_path: Path) -> None:
    path = trips_two_times(tmp_path)
    lines = path.read_text().splitlines()
    for line in (11, 201):  # a distance that is a word: not a double, as Druid has it
        lines[line - 1] = lines[line - 1].rsplit(",", 1)[0] + ",far"
    path.write_text("\n".join(lines) + "\n")
    config = DatasetConfig(types=TypesContract.DISCARD_ROW)
    shown = check_lines(check_file(path, str(path), "trips", config, TRIPS_IN_DRUID))
    assert "rows: 298 to ingest, 0 rejected, 0 duplicates of an earlier row" in shown
    assert shown[-7:] == [
        "contract: columns: evolve, types: discard_row; datasource 'trips' has 3 columns: "
        "this file's drift:",
        "  - new column 'dropoff_time' (string)",
        "  - 2 row(s) left out (types: discard_row), the first at line 11: column "
        "'distance_km': 'far' is not a double as in Druid",
        "  rows left out (2 of 2 shown):",
        "    line 11: column 'distance_km': 'far' is not a double as in Druid",
        "    line 201: column 'distance_km': 'far' is not a double as in Druid",
        "would be ingested into datasource 'trips': 298 rows",
    ]


# ------------------------------------------------------------------ bad files


def test_rows_whose_times_fail_reject_the_file_with_lines_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = orders_with_bad_times(tmp_path)
    code, lines, err = check(str(path), capsys=capsys)
    assert (code, err) == (1, "")
    assert lines[2] == "format: CSV, delimiter ',', utf-8, uncompressed"
    assert lines[3:7] == [
        "rejected rows (3 of 3 shown):",
        "  line 59: unparseable time '2024-13-45 10:00:00' in column 'ordered_at'",
        "  line 60: unparseable time 'yesterday' in column 'ordered_at'",
        "  line 143: unparseable time '2024-02-31 10:00:00' in column 'ordered_at'",
    ]
    assert lines[-1] == (
        f"would be REJECTED: {path}: 3 of 200 rows cannot be ingested (allowed share 0): "
        "line 59: unparseable time '2024-13-45 10:00:00' in column 'ordered_at'; line 60: "
        "unparseable time 'yesterday' in column 'ordered_at'; line 143: unparseable time "
        "'2024-02-31 10:00:00' in column 'ordered_at' (at line 59). Fix: correct those rows and "
        "upload the file again, or raise max_rejected_share for dataset 'orders' in the "
        "dataset config to skip them"
    )


def test_a_header_only_file_is_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orders" / "header_only.csv"
    path.parent.mkdir()
    path.write_text("order_id,ordered_at,customer,amount\n")
    code, lines, _ = check(str(path), capsys=capsys)
    assert code == 1
    assert lines[-1] == (
        f"would be REJECTED: {path}: the file has no data rows. Fix: upload a file with at "
        "least one data row"
    )


def test_the_allowed_share_of_bad_rows_lets_the_file_through_and_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = orders_with_bad_times(tmp_path)
    config = tmp_path / "datasets.yaml"
    config.write_text("orders:\n  max_rejected_share: 0.05\n")
    code, lines, _ = check(str(path), "--datasets-config", str(config), capsys=capsys)
    assert code == 0
    assert "rows: 197 to ingest, 3 rejected, 0 duplicates of an earlier row" in lines
    assert "  line 143: unparseable time '2024-02-31 10:00:00' in column 'ordered_at'" in lines
    assert lines[-1] == "would be ingested into datasource 'orders': 197 rows"


# ------------------------------------------------------------------ ambiguous files


def test_two_equally_good_time_columns_show_the_choice_and_the_warning_that_it_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = check(str(trips_two_times(tmp_path)), capsys=capsys)
    assert code == 0
    at = lines.index("  candidates (the winner first):")
    assert lines[at - 1].startswith(
        "time: __time from 'pickup_time' (timestamps: 300 of 300 values parse), "
    )
    assert lines[at + 2] == (
        "    lost: 'dropoff_time' [ISO 8601 text]: timestamps: 300 of 300 values parse; as "
        "good, but 'pickup_time' comes first in name order"
    )
    at = lines.index("warnings:")
    assert lines[at + 1 : at + 4] == [
        "  - time column auto-detected: 'pickup_time' (timestamps: 300 of 300 values parse) "
        "over 'dropoff_time': timestamps: 300 of 300 values parse; as good, but 'pickup_time' "
        "comes first in name order. To use another column set in datasets.yaml:",
        "    trips:",
        "      time_column: <name>",
    ]
    assert "  FAIL  time_like_columns_used:" in lines
    assert lines[-1] == "would be ingested into datasource 'trips': 300 rows"


def test_dates_whose_day_month_order_nothing_decides_are_rejected_with_both_patterns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "visits" / "q1.csv"
    path.parent.mkdir()
    path.write_text("visit_date,visitors\n03/01/2024,5\n04/02/2024,7\n05/03/2024,9\n")
    code, lines, _ = check(str(path), capsys=capsys)
    assert code == 1
    assert lines[-4:] == [
        f"would be REJECTED: {path}: column 'visit_date' holds dates whose day and month order "
        "no value decides (no part above 12, e.g. '05/03/2024') (at column 'visit_date'). Fix: "
        'say which in datasets.yaml: time_column: <name> and time_format: "%d/%m/%Y" (day '
        'first) or "%m/%d/%Y" (month first), with the file\'s separator and time part (e.g. '
        '" %H:%M"):',
        "visits:",
        "  time_column: visit_date",
        '  time_format: "%d/%m/%Y"',
    ]


# ------------------------------------------------------------------ usage


def test_a_missing_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = check(str(tmp_path / "nope.csv"), capsys=capsys)
    assert (code, lines) == (2, [])
    assert err == f"error: {tmp_path / 'nope.csv'}: no such file\n"


def test_a_folder_or_a_bad_dataset_name_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = trips_two_times(tmp_path)
    assert check(str(path.parent), capsys=capsys)[0] == 2
    code, _, err = check(str(path), "--dataset", "my trips", capsys=capsys)
    assert code == 2
    assert err.startswith(f"error: {path}: dataset name 'my trips' is not allowed")


def test_a_stack_whose_druid_is_down_is_said_and_the_file_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    closed = f"http://127.0.0.1:{free_port()}"
    (stack / "stack.env").write_text(f"INGEST_DRUID_ROUTER_URL={closed}\n")
    monkeypatch.setenv("INGEST_STACK_DIR", str(stack))
    # its 3 attempts without the 1 s and 2 s between them (what is said is the subject)
    patience = {**clients.DRUID_PATIENCE, "retry_base_delay_seconds": 0.0}
    monkeypatch.setattr(clients, "DRUID_PATIENCE", patience)
    code, lines, err = check(str(trips_two_times(tmp_path)), capsys=capsys)
    assert (code, err) == (0, "")
    assert lines[-2].startswith(
        f"contract not checked: no stack reachable (Druid did not answer POST {closed}/druid/v2/sql"
    )
    assert lines[-1] == "would be ingested into datasource 'trips': 300 rows"
