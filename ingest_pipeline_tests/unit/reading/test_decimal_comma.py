"""Numbers written with a decimal comma (issue #23): read as DOUBLE when the dataset says so
(`decimal_comma: true`, thousands dots too) or when nothing else can be meant (a ";" file whose
column holds only values like 1639,68, or integers among them); anything ambiguous stays text,
as written.

Expected values are written out by hand, sums computed in cents with integers."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.datasets import DatasetConfig, load_dataset_configs
from ingest_pipeline.reading import csv_types, frames, read_frame
from ingest_pipeline_tests.unit.validation.helpers import lines_to_text, validate_csv

PRICES = ["1639,68", "0,05", "-12,50", "7,1", "100000,99"]
PRICE_VALUES = [1639.68, 0.05, -12.5, 7.1, 100000.99]
PRICE_CENTS = 163968 + 5 - 1250 + 710 + 10000099


def _read(tmp_path: Path, text: str, decimal_comma: bool = False) -> frames.ReadResult:
    path = tmp_path / "prices.csv"
    path.write_text(text, encoding="utf-8")
    return read_frame(path, "uploads/ds/prices.csv", decimal_comma=decimal_comma)


def test_a_semicolon_file_of_comma_decimals_is_read_as_doubles(tmp_path: Path) -> None:
    lines = ["day;price;qty"] + [f"2024-01-0{i + 1};{p};{i}" for i, p in enumerate(PRICES)]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.schema == [("day", "string"), ("price", "double"), ("qty", "long")]
    assert result.frame["price"].to_list() == PRICE_VALUES
    assert round(result.frame["price"].sum() * 100) == PRICE_CENTS
    assert result.report["price"]["min"] == -12.5 and result.report["price"]["max"] == 100000.99
    assert any("decimal comma" in w and "price" in w for w in result.warnings)


def test_integers_among_a_semicolon_file_s_comma_decimals_are_numbers_too(tmp_path: Path) -> None:
    """Excel writes 2,6 and 2 and -200 in one column (UCI's Air Quality file); a column of
    integers alone stays integers, and 1.639,68 is not taken without the dataset's word."""
    lines = ["Date;CO(GT);count;code", "30/03/2004;2,6;1;1.639,68"]
    lines += ["10/03/2004;2;2;5", "11/03/2004;-200;3;7,5"]
    result = validate_csv(tmp_path, lines_to_text(lines))
    assert result.frame["CO_GT"].to_list() == [2.6, 2.0, -200.0]
    assert result.frame["count"].to_list() == [1, 2, 3]
    assert result.frame["code"].to_list() == ["1.639,68", "5", "7,5"]


def test_the_configured_decimal_comma_reads_thousands_dots_and_integers(tmp_path: Path) -> None:
    values = ["1.639,68", "12,5", "7", "-3.000.000,25", "999,999"]
    lines = ["day,amount"] + [f'2024-01-0{i + 1},"{v}"' for i, v in enumerate(values)]
    config = DatasetConfig(decimal_comma=True)
    result = validate_csv(tmp_path, lines_to_text(lines), config)
    assert result.schema == [("day", "string"), ("amount", "double")]
    assert result.frame["amount"].to_list() == [1639.68, 12.5, 7.0, -3000000.25, 999.999]
    cents = 163968 + 1250 + 700 - 300000025
    assert round((result.frame["amount"].sum() - 999.999) * 100) == cents


@pytest.mark.parametrize(
    ("text", "decimal_comma", "as_written"),
    [
        # comma and point in one column: which is meant?
        ("v;w\n1,5;a\n2.5;b\n", False, ["1,5", "2.5"]),
        # thousands dots are read only when configured
        ("v;w\n1.639,68;a\n2,5;b\n", False, ["1.639,68", "2,5"]),
        # a "," file: "1,5" may be a list as much as a number
        ('v,w\n"1639,68",a\n"2,5",b\n', False, ["1639,68", "2,5"]),
        # 1.639: 1639 or 1.639? left as written
        ("v;w\n1.639;a\n2,5;b\n", True, ["1.639", "2,5"]),
        # no digit before the comma
        ("v;w\n1,5;a\n,5;b\n", True, ["1,5", ",5"]),
        # a leading zero keeps text as written
        ("v;w\n01,5;a\n2,5;b\n", False, ["01,5", "2,5"]),
    ],
)
def test_ambiguous_columns_stay_text(
    tmp_path: Path, text: str, decimal_comma: bool, as_written: list[str]
) -> None:
    frame = _read(tmp_path, text, decimal_comma).frame.collect()
    assert frame.schema["v"] == pl.String
    assert frame["v"].to_list() == as_written


def test_integers_and_point_decimals_are_unchanged_in_a_semicolon_file(tmp_path: Path) -> None:
    frame = _read(tmp_path, "a;b;c\n1;1.5;x\n2;2.25;y\n").frame.collect()
    assert frame.schema["a"] == pl.Int64 and frame.schema["b"] == pl.Float64
    assert frame["b"].to_list() == [1.5, 2.25]


def test_comma_decimals_over_many_blocks_read_as_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["n;price"] + [f"{i};{i},{i % 100:02d}" for i in range(3000)]
    whole = _read(tmp_path, lines_to_text(lines)).frame.collect()
    monkeypatch.setattr(csv_types, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(frames, "BLOCK_BYTES", 4096)
    path = tmp_path / "many.csv"
    path.write_text(lines_to_text(lines + ["3000;3000.5"]), encoding="utf-8")  # the last: text
    many = read_frame(path, "uploads/ds/many.csv", workdir=tmp_path / "many").frame.collect()
    assert whole.schema["price"] == pl.Float64
    assert whole["price"].to_list() == [float(f"{i}.{i % 100:02d}") for i in range(3000)]
    assert many.schema["price"] == pl.String  # one point decimal in the last block
    assert many["price"].to_list()[-2:] == ["2999,99", "3000.5"]


def test_decimal_comma_is_a_dataset_setting(tmp_path: Path) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text("sales:\n  decimal_comma: true\nlogs: {}\n")
    configs = load_dataset_configs(path)
    assert configs["sales"].decimal_comma is True
    assert configs["logs"].decimal_comma is False
    path.write_text("sales:\n  decimal_comma: 1\n")
    with pytest.raises(ValueError, match="decimal_comma must be true or false"):
        load_dataset_configs(path)
