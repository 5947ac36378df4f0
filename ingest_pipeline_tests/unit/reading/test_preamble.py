"""A title or notes above a CSV's table, as report exports write them: skipped and said, the
rows read from the real header on; anything less clear is read as before (the first record is
the header, other widths rejected by line)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.reading import read_frame
from ingest_pipeline.reading.preamble import table_start
from ingest_pipeline.vocabulary import LINE_COLUMN
from ingest_pipeline_tests.unit.reading.helpers import read_upload, write_upload

REPORT = (
    "Sales report\n"
    "Generated: 2024-03-05,by finance\n"
    "\n"
    "date,store,amount\n"
    "2024-02-01,s1,10\n"
    "\n"
    "2024-02-02,s2,20\n"
    "2024-02-03,s3,30\n"
)


def test_a_title_above_the_header_is_skipped_and_said(tmp_path: Path) -> None:
    result = read_frame(write_upload(tmp_path, "report.csv", REPORT), "k/report.csv")
    frame = result.frame.collect()
    assert frame.columns == [LINE_COLUMN, "date", "store", "amount"]
    assert frame["amount"].to_list() == [10, 20, 30]
    assert frame[LINE_COLUMN].to_list() == [5, 7, 8]  # lines of the file as uploaded
    assert result.rejected == []
    assert result.warnings == [
        "skipped 1 blank rows",
        "skipped lines 1-2 above the header as a title, not rows: "
        "'Sales report'; 'Generated: 2024-03-05 by finance'",
    ]


def test_rows_of_another_width_below_the_real_header_are_still_rejected(tmp_path: Path) -> None:
    lines = ["Export", "a,b,c"] + [f"{i},{i},{i}" for i in range(60)] + ["1,2"]
    frame, rejected = read_upload(tmp_path, "r.csv", "\n".join(lines) + "\n")
    assert frame.height == 60 and [r.line for r in rejected] == [63]


@pytest.mark.parametrize(
    "text",
    [
        # data rows with a trailing delimiter: the first row is no header
        "a,b\n1,2,\n3,4,\n5,6,\n",
        # a ragged first row: text header below, but its candidate holds numbers
        "date,value\n2024-01-01,1,x\n2024-01-02,2,y\n2024-01-03,3,z\n",
        # three filled fields above: a row, not a title
        "x,y,z\nname,kind,size,extra\nn1,k1,1,e\nn2,k2,2,e\n",
        # the rows after the candidate disagree
        "Title\na,b,c\n1,2,3\n4,5\n",
    ],
)
def test_anything_less_clear_keeps_the_first_record_as_the_header(
    tmp_path: Path, text: str
) -> None:
    records = [line.split(",") for line in text.splitlines()]
    assert table_start(records) == 0
    frame, rejected = read_upload(tmp_path, "t.csv", text)
    assert frame.columns[1:] == records[0]
    assert rejected  # the rows of another width, by line, as before


WORLD_BANK = (  # API_NY.GDP.MKTP.CD_DS2_en_csv_v2.csv, shortened: every line ends with a comma
    '"Data Source","World Development Indicators",\n'
    "\n"
    '"Last Updated Date","2024-03-28",\n'
    "\n"
    '"Country Name","Country Code","Indicator Name","Indicator Code","1960","1961","2023",\n'
    '"Aruba","ABW","GDP (current US$)","NY.GDP.MKTP.CD","","","3648573136.8",\n'
    '"Germany","DEU","GDP (current US$)","NY.GDP.MKTP.CD","","72.5","4525703903627.5",\n'
)


def test_a_wide_table_of_years_below_a_title_is_read_whole(tmp_path: Path) -> None:
    """The World Bank's CSVs: two title lines, then a header naming years beside words, every
    line ending with a delimiter (before: the title was the header, every row rejected)."""
    result = read_frame(write_upload(tmp_path, "wb.csv", WORLD_BANK), "k/wb.csv")
    frame = result.frame.collect()
    assert frame.columns[1:6] == ["Country_Name", "Country_Code", "Indicator_Name",
                                  "Indicator_Code", "1960"]  # fmt: skip
    assert frame["Country_Code"].to_list() == ["ABW", "DEU"]
    assert frame["2023"].to_list() == [3648573136.8, 4525703903627.5]
    assert result.rejected == []
    assert any("'Data Source World Development Indicators'" in w for w in result.warnings)


@pytest.mark.parametrize(
    "names",
    [["2019", "2020"], ["Country", "2019", "2019"], ["Country", "2019.5"], ["a", "", "b"]],
    ids=["years alone", "a year twice", "a number", "an empty name inside"],
)
def test_a_header_names_its_columns_with_words(names: list[str]) -> None:
    records = [["Title"], names, ["x"] * len(names), ["y"] * len(names)]
    assert table_start(records) == 0


def test_more_than_ten_title_lines_are_not_a_preamble() -> None:
    records = [["note"]] * 11 + [["a", "b"], ["1", "2"], ["3", "4"]]
    assert table_start(records) == 0
    assert table_start(records[1:]) == 10


def test_the_delimiter_is_sniffed_from_the_header_below_the_title(tmp_path: Path) -> None:
    text = '"Monthly totals"\n\ndate;region;total\n' + "".join(
        f"2024-02-{d:02d};r{d % 3};{d},5\n" for d in range(1, 29)
    )
    result = read_frame(write_upload(tmp_path, "totals.csv", text), "k/totals.csv")
    assert result.format.delimiter == ";"
    frame = result.frame.collect()
    assert frame["total"].to_list() == [d + 0.5 for d in range(1, 29)]
    assert "skipped line 1 above the header as a title, not rows: 'Monthly totals'" in (
        result.warnings
    )


@pytest.mark.parametrize(
    ("directive", "delimiter"), [("sep=;", ";"), ("SEP=,", ","), ("sep=\t", "\t")]
)
def test_excel_s_sep_line_names_the_delimiter_and_is_no_header(
    tmp_path: Path, directive: str, delimiter: str
) -> None:
    rows = [f"2024-01-0{d}{delimiter}{d}" for d in range(1, 8)]
    text = "\n".join([directive, f"date{delimiter}amount", *rows]) + "\n"
    result = read_frame(write_upload(tmp_path, "excel.csv", text), "k/excel.csv")
    assert result.format.delimiter == delimiter
    frame = result.frame.collect()
    assert frame.columns == [LINE_COLUMN, "date", "amount"]
    assert frame["amount"].to_list() == list(range(1, 8))
    assert frame[LINE_COLUMN].to_list() == list(range(3, 10))


@pytest.mark.parametrize(
    "joined",
    [
        "ts,v\n2024-01-01,1\nts,v\n2024-01-02,2\n",  # plain: every line has the header's fields
        "ts,v\n2024-01-01,1\n\n\ufeffts,v\n2024-01-02,2\n",  # careful, the 2nd file's BOM too
    ],
    ids=["plain", "careful"],
)
def test_the_header_repeated_inside_the_table_is_skipped_and_said(
    tmp_path: Path, joined: str
) -> None:
    # `cat a.csv b.csv`: before, the second header was a row ("ts" no time: the file rejected)
    result = read_frame(write_upload(tmp_path, "joined.csv", joined), "k/joined.csv")
    frame = result.frame.collect()
    assert frame["v"].to_list() == [1, 2] and frame["v"].dtype == pl.Int64
    assert result.rejected == []
    line = 3 if "\n\n" not in joined else 4
    assert f"skipped the header repeated on line(s) {line}: files joined together?" in (
        result.warnings
    )
