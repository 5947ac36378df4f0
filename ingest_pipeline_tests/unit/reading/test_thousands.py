"""Numbers with thousands separators in a CSV whose decimal mark is a point ("1,037",
"12,345.50", as spreadsheets export them): read as numbers, not left as text that Druid cannot
sum. Anything that is not exactly 3-digit groups stays text, and a ";" file's 1,037 stays the
decimal comma it is there. Expected values are written out by hand."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.reading import csv_types, frames, read_frame
from ingest_pipeline_tests.unit.validation.helpers import lines_to_text, validate_csv


def _read(tmp_path: Path, text: str) -> pl.DataFrame:
    path = tmp_path / "amounts.csv"
    path.write_text(text, encoding="utf-8")
    return read_frame(path, "uploads/ds/amounts.csv").frame.collect()


def test_grouped_decimals_are_doubles_and_say_so(tmp_path: Path) -> None:
    values = ["1,037", "12,345.50", "999", "-1,000,000", "0.25"]
    lines = ["day,amount"] + [f'2024-01-0{i + 1},"{v}"' for i, v in enumerate(values)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.schema == [("day", "string"), ("amount", "double")]
    assert result.frame["amount"].to_list() == [1037.0, 12345.5, 999.0, -1000000.0, 0.25]
    assert round(result.frame["amount"].sum() * 100) == 103700 + 1234550 + 99900 - 100000000 + 25
    assert any("thousands separators" in w and "amount" in w for w in result.warnings)


def test_grouped_integers_are_longs(tmp_path: Path) -> None:
    frame = _read(tmp_path, 'n,m\n"1,037",a\n999,b\n"-2,000,000",c\n')
    assert frame.schema["n"] == pl.Int64
    assert frame["n"].to_list() == [1037, 999, -2000000]


@pytest.mark.parametrize(
    "values",
    [
        ["1,0374", "999"],  # a group of 4: not a thousands separator
        ["1,03", "999"],  # a group of 2: a decimal comma, or a list
        ["12,345,6", "1"],
        [",123", "1"],
        ["1,037", "n/a-ish"],  # one value no number
        ["01,234", "1"],  # a leading zero keeps text as written
    ],
)
def test_other_commas_stay_text_as_written(tmp_path: Path, values: list[str]) -> None:
    frame = _read(tmp_path, lines_to_text(["v,w"] + [f'"{v}",x' for v in values]))
    assert frame.schema["v"] == pl.String
    assert frame["v"].to_list() == values


def test_a_semicolon_file_s_comma_is_its_decimal_mark(tmp_path: Path) -> None:
    frame = _read(tmp_path, "v;w\n1,037;a\n2,5;b\n")
    assert frame["v"].to_list() == [1.037, 2.5]


def test_grouped_numbers_over_many_blocks_read_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["n,amount"] + [f'{i},"{1000 + i:,}"' for i in range(3000)]
    monkeypatch.setattr(csv_types, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(frames, "BLOCK_BYTES", 4096)
    path = tmp_path / "many.csv"
    path.write_text(lines_to_text(lines), encoding="utf-8")
    many = read_frame(path, "uploads/ds/many.csv", workdir=tmp_path / "many").frame.collect()
    assert many.schema["amount"] == pl.Int64
    assert many["amount"].to_list() == [1000 + i for i in range(3000)]
    path.write_text(lines_to_text([*lines, '3000,"4,0000"']), encoding="utf-8")  # last: text
    mixed = read_frame(path, "uploads/ds/many.csv", workdir=tmp_path / "mixed").frame.collect()
    assert mixed.schema["amount"] == pl.String
    assert mixed["amount"].to_list()[-2:] == ["3,999", "4,0000"]
