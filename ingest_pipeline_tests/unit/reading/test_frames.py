"""read_frame: the bad inputs of shared/reference/validation.md, without servers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.reading import SAMPLE_BYTES, detect_format, read_frame
from ingest_pipeline.vocabulary import LINE_COLUMN, FileRejected
from ingest_pipeline_tests.unit.reading.helpers import read_upload, write_upload


def test_corrupt_gzip_is_rejected(tmp_path: Path) -> None:
    packed = gzip.compress(b"a,b\n" + b"1,2\n" * 1000)
    with pytest.raises(FileRejected, match="gzip"):
        read_frame(write_upload(tmp_path, "cut.csv.gz", packed[: len(packed) // 2]), "k/cut.csv.gz")


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "bom.csv", "\ufeffid,name\r\n1,alpha\r\n2,beta\r\n")
    assert detect_format(path, "k").encoding == "utf-8-sig"
    frame = read_frame(path, "k").frame.collect()
    assert frame.columns == [LINE_COLUMN, "id", "name"]  # no BOM glued to "id"
    assert frame["name"].to_list() == ["alpha", "beta"]  # no stray \r
    assert frame["id"].to_list() == [1, 2]
    assert frame[LINE_COLUMN].to_list() == [2, 3]


def test_quoted_newlines_keep_values_and_line_numbers(tmp_path: Path) -> None:
    text = 'id,note\n1,"line one\nline two\r\nline three"\n2,"say ""hi"", ok"\n3,plain\n'
    frame, rejected = read_upload(tmp_path, "q.csv", text)
    assert rejected == []
    assert frame["note"].to_list() == ["line one\nline two\r\nline three", 'say "hi", ok', "plain"]
    assert frame[LINE_COLUMN].to_list() == [2, 5, 6]  # source lines, not row indexes


def test_ragged_rows_are_rejected_with_line_numbers(tmp_path: Path) -> None:
    text = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n"
    frame, rejected = read_upload(tmp_path, "r.csv", text)
    assert frame["a"].to_list() == [1, 10]
    assert [r.line for r in rejected] == [3, 4]
    assert "has 2 fields but the header has 3" in rejected[0].reason
    assert "has 4 fields" in rejected[1].reason


def test_unmatched_quote_is_reported_with_its_span(tmp_path: Path) -> None:
    text = 'a,b,c\n1,2,3\n4,"oops,6\n7,8,9\n10,11,12\n'
    frame, rejected = read_upload(tmp_path, "u.csv", text)
    assert frame["a"].to_list() == [1]
    assert len(rejected) == 1 and rejected[0].line == 3
    assert "unmatched quote" in rejected[0].reason


def test_duplicate_blank_and_reserved_headers(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "h.csv", "a,a, ,__time,a_2,Prix (€)\n1,2,3,4,5,6\n")
    result = read_frame(path, "k/h.csv")
    frame = result.frame.collect()
    assert frame.columns == [LINE_COLUMN, "a", "a_3", "column_3", "time_original", "a_2", "Prix"]
    assert frame.row(0) == (2, 1, 2, 3, 4, 5, 6)
    assert result.warnings == [
        "renamed columns for Druid: 'a' -> 'a_3', ' ' -> 'column_3', "
        "'__time' -> 'time_original', 'Prix (€)' -> 'Prix'"
    ]


def test_header_only_gives_zero_rows(tmp_path: Path) -> None:
    frame, rejected = read_upload(tmp_path, "h.csv", "a,b\n")
    assert frame.height == 0 and rejected == []
    assert frame.columns == [LINE_COLUMN, "a", "b"]


def test_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    result = read_frame(write_upload(tmp_path, "b.csv", "\na,b\n1,2\n\n,\n3,4\n"), "k")
    assert result.frame.collect()["a"].to_list() == [1, 3]
    assert result.blank_rows == 2
    assert result.warnings == ["skipped 2 blank rows"]


def test_null_markers(tmp_path: Path) -> None:
    frame, _ = read_upload(tmp_path, "n.csv", 'x,y\nNA,a\nN/A,b\nnull,c\nNULL,d\n,e\n"",f\n5,g\n')
    assert frame["x"].to_list() == [None, None, None, None, None, None, 5]


def test_a_giant_field(tmp_path: Path) -> None:
    big = "x" * 300_000  # over the csv module's default 128 KiB field limit
    frame, _ = read_upload(tmp_path, "g.csv", f"a,b\n1,{big}\n")
    assert frame["b"].to_list() == [big]


def test_latin1_after_the_sample_falls_back(tmp_path: Path) -> None:
    text = "a,b\n" + "1,plain\n" * (SAMPLE_BYTES // 8 + 10) + "2,café\n"
    result = read_frame(write_upload(tmp_path, "late.csv", text, encoding="latin-1"), "k")
    assert result.frame.collect()["b"].to_list()[-1] == "café"
    assert result.format.encoding == "latin-1"
    assert any("latin-1" in w for w in result.warnings)


def test_ndjson_nested_bad_lines_and_mixed_types(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 1, "user": {"name": "Ann", "tags": ["a", "b"]}, "v": 1}),
        "",
        "{not json",
        "[1, 2]",
        json.dumps({"id": 2, "user": None, "v": "two", "": "blank", "__time": "x"}),
        json.dumps({"id": 3, "v": 3.5, "huge": 2**70}),
    ]
    result = read_frame(write_upload(tmp_path, "e.ndjson", "\n".join(lines) + "\n"), "k/e.ndjson")
    frame = result.frame.collect()
    assert [r.line for r in result.rejected] == [3, 4]
    assert "invalid JSON" in result.rejected[0].reason
    assert "expected a JSON object" in result.rejected[1].reason
    assert frame[LINE_COLUMN].to_list() == [1, 5, 6]
    assert frame.columns == [LINE_COLUMN, "id", "user", "v", "column_4", "time_original", "huge"]
    assert json.loads(frame["user"][0]) == {"name": "Ann", "tags": ["a", "b"]}
    assert frame["v"].to_list() == ["1", "two", "3.5"]  # mixed types become text
    assert frame["huge"].to_list() == [None, None, str(2**70)]


def test_parquet_plain_and_gzipped(tmp_path: Path) -> None:
    source = pl.DataFrame({"a b": [1, 2], "a_b": ["x", None]})
    plain = tmp_path / "p.parquet"
    source.write_parquet(plain)
    packed = write_upload(tmp_path, "p2.parquet.gz", gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        result = read_frame(path, f"k/{path.name}")
        assert result.format.format == "parquet"
        frame = result.frame.collect()
        assert frame.columns == [LINE_COLUMN, "a_b", "a_b_2"]
        assert frame[LINE_COLUMN].to_list() == [1, 2]
        assert frame["a_b_2"].to_list() == ["x", None]
