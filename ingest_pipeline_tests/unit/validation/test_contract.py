"""The dataset's schema contract (`columns:` / `types:`) against the datasource's columns:
what each mode writes, leaves out, refuses, and records as the file's drift."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ingest_pipeline.datasets import ColumnsContract, DatasetConfig, TypesContract
from ingest_pipeline.findings import SchemaDrift, TypeChange
from ingest_pipeline.reading import read_frame
from ingest_pipeline.validation import validate_to_files
from ingest_pipeline.validation.contract import dataset_schema_of
from ingest_pipeline.vocabulary import DruidType, FileRejected, RejectedRow

KEY = "uploads/scores/march.csv"
#: What Druid has for the dataset: the columns of earlier files.
DATASOURCE: dict[str, DruidType] = {"ts": "string", "team": "string", "points": "long"}


def scores_csv(rows: int, bad_points: dict[int, str], extra: bool = False) -> str:
    """`rows` rows, a minute apart; row i (0-based) has points `bad_points[i]` if given. Lines
    are i + 2 (after the header)."""
    header = "ts,team,points" + (",referee" if extra else "")
    lines = [header]
    for i in range(rows):
        points = bad_points.get(i, str(i))
        line = f"2024-03-01T{i // 60 % 24:02d}:{i % 60:02d}:00Z,t{i % 4},{points}"
        lines.append(line + (f",r{i % 3}" if extra else ""))
    return "\n".join(lines) + "\n"


def run(
    tmp_path: Path,
    text: str,
    columns: str = "evolve",
    types: str = "evolve",
    schema: dict[str, DruidType] | None = DATASOURCE,
    batch_rows: int = 50,
) -> tuple[list[dict], SchemaDrift, list[tuple[str, str]]]:
    """Validate in small batches (the contract is applied batch by batch): the rows written
    for Druid, the drift, and the schema."""
    path = tmp_path / "march.csv"
    path.write_text(text, encoding="utf-8")
    config = DatasetConfig(columns=ColumnsContract(columns), types=TypesContract(types))
    summary = validate_to_files(
        read_frame(path, KEY),
        KEY,
        "scores",
        config,
        ndjson_path=tmp_path / "rows.ndjson.gz",
        parquet_path=tmp_path / "rows.parquet",
        batch_rows=batch_rows,
        dataset_schema=schema,
    )
    with gzip.open(tmp_path / "rows.ndjson.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    assert summary.row_count == len(rows)
    return rows, summary.schema_drift, summary.schema


def test_evolve_keeps_everything_and_records_the_drift(tmp_path: Path) -> None:
    text = scores_csv(300, {150: "tbd"}, extra=True)
    rows, drift, schema = run(tmp_path, text)
    assert len(rows) == 300
    assert dict(schema)["points"] == "string"  # one text value: the file's column is text
    assert drift == SchemaDrift(
        compared=True,
        added=(("referee", "string"),),
        changed=(TypeChange("points", "string", "long"),),
    )
    assert drift.sentences() == [
        "new column 'referee' (string)",
        "column 'points' is string here, BIGINT in Druid",
    ]


def test_a_new_datasource_holds_a_file_to_nothing(tmp_path: Path) -> None:
    text = scores_csv(120, {7: "tbd"}, extra=True)
    rows, drift, _ = run(tmp_path, text, "freeze", "freeze", schema=None)
    assert len(rows) == 120 and drift == SchemaDrift(compared=False)
    rows, drift, _ = run(tmp_path, text, "freeze", "freeze", schema={})
    assert len(rows) == 120 and drift == SchemaDrift(compared=False)


def test_frozen_columns_reject_a_file_with_a_new_column(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as rejected:
        run(tmp_path, scores_csv(120, {}, extra=True), columns="freeze")
    assert str(rejected.value).startswith(f"{KEY}: column(s) 'referee'")  # names the file
    problem = rejected.value.as_problem()
    assert problem.column == "referee"
    assert "'referee' are not in the datasource of dataset 'scores'" in problem.what
    assert "columns: freeze" in problem.what and "columns: evolve" in problem.fix
    # the same file without the new column is fine, and a missing column is only drift
    rows, drift, _ = run(tmp_path, scores_csv(120, {}, extra=False), columns="freeze")
    assert len(rows) == 120 and drift.drifted is False


def test_discarded_columns_leave_the_file_and_the_rest_lands(tmp_path: Path) -> None:
    rows, drift, schema = run(tmp_path, scores_csv(130, {}, extra=True), columns="discard")
    assert [name for name, _ in schema] == ["ts", "team", "points"]
    assert all("referee" not in row for row in rows) and len(rows) == 130
    assert drift.dropped == ("referee",) and drift.added == ()
    assert drift.sentences() == ["new column(s) left out (columns: discard): 'referee'"]


def test_frozen_types_reject_the_first_contradicting_value_with_its_line(tmp_path: Path) -> None:
    # row 173 is in the fourth batch of 50: the rejection still names its line
    with pytest.raises(FileRejected) as rejected:
        run(tmp_path, scores_csv(300, {173: "12.5", 250: "lots"}), types="freeze")
    assert str(rejected.value).startswith(f"{KEY}: column 'points'")  # names the file
    problem = rejected.value.as_problem()
    assert (problem.line, problem.column) == (175, "points")
    assert "'12.5' is not a long" in problem.what and "types: discard_row" in problem.fix


def test_discard_row_leaves_out_exactly_the_contradicting_rows(tmp_path: Path) -> None:
    bad = {3: "tbd", 99: "12.5", 100: "", 240: "lots", 299: "7e3"}  # "" is a null: it fits
    rows, drift, schema = run(tmp_path, scores_csv(300, bad), types="discard_row")
    left_out = {3, 99, 240, 299}
    assert len(rows) == 300 - len(left_out)
    assert dict(schema)["points"] == "long"
    expected_points = {i: (None if i == 100 else i) for i in range(300) if i not in left_out}
    assert sorted((row["points"] for row in rows), key=lambda p: -1 if p is None else p) == sorted(
        expected_points.values(), key=lambda p: -1 if p is None else p
    )
    assert drift.discarded_rows == 4
    assert drift.discarded_sample == (
        RejectedRow(5, "column 'points': 'tbd' is not a long as in Druid"),
        RejectedRow(101, "column 'points': '12.5' is not a long as in Druid"),
        RejectedRow(242, "column 'points': 'lots' is not a long as in Druid"),
        RejectedRow(301, "column 'points': '7e3' is not a long as in Druid"),
    )
    assert drift.converted == (TypeChange("points", "string", "long"),)
    assert drift.changed == ()  # stored as the datasource's type


def test_compatible_values_take_the_datasource_type_under_freeze(tmp_path: Path) -> None:
    # a long column where the datasource has double, and numbers where it has text
    schema: dict[str, DruidType] = {"ts": "string", "team": "string", "points": "double"}
    rows, drift, written = run(tmp_path, scores_csv(60, {}), types="freeze", schema=schema)
    assert dict(written)["points"] == "double" and rows[5]["points"] == 5.0
    assert drift.converted == (TypeChange("points", "long", "double"),)
    assert drift.drifted is False
    as_text: dict[str, DruidType] = {"ts": "string", "team": "long", "points": "string"}
    with pytest.raises(FileRejected, match="'t0' is not a long"):
        run(tmp_path, scores_csv(60, {}), types="freeze", schema=as_text)


def test_every_row_left_out_rejects_the_file(tmp_path: Path) -> None:
    bad = {i: f"x{i}" for i in range(80)}
    with pytest.raises(FileRejected) as rejected:
        run(tmp_path, scores_csv(80, bad), types="discard_row")
    assert str(rejected.value).startswith(
        f"{KEY}: every one of its 80 rows has a value of the wrong type for dataset 'scores' "
        "(types: discard_row)"
    )


def test_the_datasource_schema_from_druid_sql_types() -> None:
    sql = {"__time": "TIMESTAMP", "__source_key": "VARCHAR", "a": "BIGINT", "b": "FLOAT"}
    sql |= {"c": "varchar", "d": "COMPLEX<json>"}
    assert dataset_schema_of(sql) == {"a": "long", "b": "double", "c": "string"}


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"columns": "lock"}, "columns must be one of evolve, freeze, discard, got 'lock'"),
        ({"types": "drop"}, "types must be one of evolve, freeze, discard_row, got 'drop'"),
    ],
)
def test_an_unknown_contract_mode_is_refused(settings: dict[str, str], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        DatasetConfig(**settings)  # type: ignore[arg-type]
