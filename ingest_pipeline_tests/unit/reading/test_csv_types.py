"""CSV column types inferred over the whole file; the CSV read back in bounded chunks."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.reading import csv_types, frames, read_frame
from ingest_pipeline.vocabulary import LINE_COLUMN
from ingest_pipeline_tests.unit.reading.helpers import read_upload, write_upload


def test_types_are_inferred_over_the_whole_file(tmp_path: Path) -> None:
    rows = [f"{i},{i},{i},00{i}" for i in range(150)] + ["NA,1.5,abc,007", "7,2,3,4"]
    frame, _ = read_upload(
        tmp_path, "wide.csv", "late_na,late_float,late_text,zeros\n" + "\n".join(rows)
    )
    assert frame.schema["late_na"] == pl.Int64
    assert frame["late_na"].null_count() == 1
    assert frame.schema["late_float"] == pl.Float64
    assert frame["late_float"].to_list()[150] == 1.5
    assert frame.schema["late_text"] == pl.String
    assert frame.schema["zeros"] == pl.String  # leading zeros (zip codes) are kept as written
    assert frame["zeros"].to_list()[-2:] == ["007", "4"]


def test_ints_then_na_then_decimal_becomes_float(tmp_path: Path) -> None:
    rows = [str(i) for i in range(150)] + ["NA", "1.5"]
    frame, _ = read_upload(tmp_path, "f.csv", "v\n" + "\n".join(rows) + "\n")
    assert frame.schema["v"] == pl.Float64
    assert frame["v"].to_list()[148:] == [148.0, 149.0, None, 1.5]


def test_integers_beyond_int64_stay_text(tmp_path: Path) -> None:
    frame, _ = read_upload(tmp_path, "big.csv", "id\n1\n99999999999999999999\n")
    assert frame["id"].to_list() == ["1", "99999999999999999999"]


@pytest.mark.parametrize("rows", [1, 2, 3, 100])
def test_csv_batches_give_the_frame_in_bounded_chunks(tmp_path: Path, rows: int) -> None:
    text = (
        'id,text,amount\n1,"two\nlines",1.5\n2,"say ""hi""",NA\n3,"""\n""",7\n'
        '4,plain,\n5,"a,b",2\n6,"ends with quote""",3\n'
    )
    result = read_frame(write_upload(tmp_path, "q.csv", text), "uploads/q.csv")
    assert result.batches is not None
    batches = list(result.batches(rows))
    assert [b.height for b in batches[:-1]] == [rows] * (len(batches) - 1)
    whole = result.frame.collect()
    assert pl.concat(batches).equals(whole)
    assert whole[LINE_COLUMN].to_list() == [2, 4, 5, 7, 8, 9]
    assert whole["text"].to_list()[:3] == ["two\nlines", 'say "hi"', '"\n"']
    assert whole.schema["amount"] == pl.Float64


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (["5", "\u0663"], pl.String),  # an Arabic-Indic digit: integer syntax, no number
        (["99999999999999999999", "1.5"], pl.Float64),  # beyond Int64, then a decimal
        (["99999999999999999999", "7"], pl.String),  # beyond Int64, integers only
        (["+5", "-7", "NA"], pl.Int64),
        (["1.5", "x"], pl.String),
    ],
)
def test_a_column_is_typed_by_all_of_its_values(
    tmp_path: Path, values: list[str], dtype: pl.DataType
) -> None:
    frame, _ = read_upload(tmp_path, "v.csv", "v\n" + "\n".join(values) + "\n")
    assert frame.schema["v"] == dtype


@pytest.mark.parametrize("late", ["", '9,"two\nlines",1.5\n', "9,ragged\n"])
def test_files_of_many_blocks_read_as_files_of_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late: str
) -> None:
    """A file of one block is kept in memory; with 4 KiB blocks the same file is many blocks,
    checked on a thread, written to Arrow files and read back: the very same rows and types
    (also when a late block is not plain and the careful path takes over)."""
    text = "id,text,amount\n" + "".join(f'{i},"say ""{i}""",{i / 4}\n' for i in range(3000))
    path = tmp_path / "many.csv"
    path.write_text(text + late, encoding="utf-8")
    whole = read_frame(path, "uploads/many.csv", workdir=tmp_path / "one")
    expected = whole.frame.collect()
    monkeypatch.setattr(csv_types, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(frames, "BLOCK_BYTES", 4096)
    many = read_frame(path, "uploads/many.csv", workdir=tmp_path / "many")
    assert len(list((tmp_path / "many" / "many.csv.arrow").glob("*.arrow"))) > 10
    assert many.frame.collect().equals(expected)
    assert many.rejected == whole.rejected and many.rows == whole.rows == expected.height
    assert many.batches is not None
    assert pl.concat(list(many.batches(1000))).equals(expected)


def test_excel_s_na_and_uci_s_question_mark_are_no_values(tmp_path: Path) -> None:
    """UCI's household power file writes "?" where a reading is missing, Excel "#N/A": a column
    of numbers holding them stays numbers (before: text, every value a string in Druid)."""
    text = "Date;Time;Global_active_power;Voltage;note\n"
    text += "16/12/2006;17:24:00;4.216;234.84;a\n16/12/2006;17:25:00;?;#N/A;?\n"
    frame, rejected = read_upload(tmp_path, "household.csv", text)
    assert frame["Global_active_power"].to_list() == [4.216, None]
    assert frame["Voltage"].to_list() == [234.84, None]
    assert frame["note"].to_list() == ["a", None]
    assert rejected == []
