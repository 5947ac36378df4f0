"""Reading uploaded files: the bad inputs of shared/reference/validation.md, without servers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.reading import SAMPLE_BYTES, DetectedFormat, detect_format, read_frame
from ingest_pipeline.vocabulary import LINE_COLUMN, FileRejected


def _write(tmp_path: Path, name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def _read(tmp_path: Path, name: str, content: bytes | str) -> tuple[pl.DataFrame, list]:
    result = read_frame(_write(tmp_path, name, content), f"uploads/{name}")
    return result.frame.collect(), result.rejected


# --------------------------------------------------------------------------- rejections


def test_empty_file_is_rejected_naming_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "empty.csv", b"")
    with pytest.raises(FileRejected) as caught:
        read_frame(path, "uploads/sales/empty.csv")
    message = str(caught.value)
    assert "uploads/sales/empty.csv" in message
    assert "empty" in message
    assert "Fix:" in message


def test_whitespace_only_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="only whitespace"):
        read_frame(_write(tmp_path, "blank.csv", "\n  \r\n\t\n"), "k/blank.csv")


def test_binary_file_named_csv_is_rejected(tmp_path: Path) -> None:
    garbage = bytes(range(256)) * 40  # NUL bytes and control characters
    with pytest.raises(FileRejected, match="binary") as caught:
        read_frame(_write(tmp_path, "image.csv", garbage), "k/image.csv")
    assert caught.value.key == "k/image.csv"


def test_undecodable_control_heavy_bytes_are_rejected_even_without_nul(tmp_path: Path) -> None:
    garbage = bytes(b for b in range(1, 256) if b not in b"\t\n\r\x0b\x0c") * 50
    with pytest.raises(FileRejected, match="binary"):
        detect_format(_write(tmp_path, "x.csv", garbage), "k/x.csv")


def test_json_array_is_rejected_with_the_fix(tmp_path: Path) -> None:
    path = _write(tmp_path, "rows.json", '[{"a": 1}, {"a": 2}]')
    with pytest.raises(FileRejected) as caught:
        read_frame(path, "k/rows.json")
    assert "convert to newline-delimited JSON (one object per line)" in str(caught.value)


def test_json_array_without_extension_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="JSON array"):
        detect_format(_write(tmp_path, "upload", '\n  [{"a": 1}]'), "k/upload")


def test_zip_or_excel_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="ZIP"):
        detect_format(_write(tmp_path, "book.xlsx", b"PK\x03\x04rest-of-zip"), "k/book.xlsx")


def test_file_named_parquet_without_magic_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="Parquet"):
        detect_format(_write(tmp_path, "data.parquet", "a,b\n1,2\n"), "k/data.parquet")


def test_corrupt_gzip_is_rejected(tmp_path: Path) -> None:
    packed = gzip.compress(b"a,b\n" + b"1,2\n" * 1000)
    with pytest.raises(FileRejected, match="gzip"):
        read_frame(_write(tmp_path, "cut.csv.gz", packed[: len(packed) // 2]), "k/cut.csv.gz")


# --------------------------------------------------------------------------- CSV dialects


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = _write(tmp_path, "bom.csv", "\ufeffid,name\r\n1,alpha\r\n2,beta\r\n")
    assert detect_format(path, "k").encoding == "utf-8-sig"
    frame = read_frame(path, "k").frame.collect()
    assert frame.columns == [LINE_COLUMN, "id", "name"]  # no BOM glued to "id"
    assert frame["name"].to_list() == ["alpha", "beta"]  # no stray \r
    assert frame["id"].to_list() == [1, 2]
    assert frame[LINE_COLUMN].to_list() == [2, 3]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    rows = [["id", "city", "amount"], ["1", "Paris, France", "2,5"], ["2", "Oslo", "3"]]
    # Commas inside fields: quoted where the delimiter is a comma, bare otherwise.
    text = "".join(
        delimiter.join(f'"{v}"' if delimiter == "," and "," in v else v for v in row) + "\n"
        for row in rows
    )
    path = _write(tmp_path, "d.csv", text)
    assert detect_format(path, "k").delimiter == delimiter
    frame = read_frame(path, "k").frame.collect()
    assert frame["city"].to_list() == ["Paris, France", "Oslo"]
    assert frame["amount"].to_list() == ["2,5", "3"]  # decimal comma stays text


def test_tsv_extension_prefers_tab_on_a_tie(tmp_path: Path) -> None:
    path = _write(tmp_path, "t.tsv", "a\tb,c\n1\t2,3\n")
    assert detect_format(path, "k/t.tsv").delimiter == "\t"


def test_quoted_newlines_keep_values_and_line_numbers(tmp_path: Path) -> None:
    text = 'id,note\n1,"line one\nline two\r\nline three"\n2,"say ""hi"", ok"\n3,plain\n'
    frame, rejected = _read(tmp_path, "q.csv", text)
    assert rejected == []
    assert frame["note"].to_list() == ["line one\nline two\r\nline three", 'say "hi", ok', "plain"]
    assert frame[LINE_COLUMN].to_list() == [2, 5, 6]  # source lines, not row indexes


def test_ragged_rows_are_rejected_with_line_numbers(tmp_path: Path) -> None:
    text = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n"
    frame, rejected = _read(tmp_path, "r.csv", text)
    assert frame["a"].to_list() == [1, 10]
    assert [r.line for r in rejected] == [3, 4]
    assert "has 2 fields but the header has 3" in rejected[0].reason
    assert "has 4 fields" in rejected[1].reason


def test_unmatched_quote_is_reported_with_its_span(tmp_path: Path) -> None:
    text = 'a,b,c\n1,2,3\n4,"oops,6\n7,8,9\n10,11,12\n'
    frame, rejected = _read(tmp_path, "u.csv", text)
    assert frame["a"].to_list() == [1]
    assert len(rejected) == 1 and rejected[0].line == 3
    assert "unmatched quote" in rejected[0].reason


def test_duplicate_blank_and_reserved_headers(tmp_path: Path) -> None:
    path = _write(tmp_path, "h.csv", "a,a, ,__time,a_2,Prix (€)\n1,2,3,4,5,6\n")
    result = read_frame(path, "k/h.csv")
    frame = result.frame.collect()
    assert frame.columns == [LINE_COLUMN, "a", "a_3", "column_3", "time_original", "a_2", "Prix"]
    assert frame.row(0) == (2, 1, 2, 3, 4, 5, 6)
    assert result.warnings == [
        "renamed columns for Druid: 'a' -> 'a_3', ' ' -> 'column_3', "
        "'__time' -> 'time_original', 'Prix (€)' -> 'Prix'"
    ]


def test_header_only_gives_zero_rows(tmp_path: Path) -> None:
    frame, rejected = _read(tmp_path, "h.csv", "a,b\n")
    assert frame.height == 0 and rejected == []
    assert frame.columns == [LINE_COLUMN, "a", "b"]


def test_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    result = read_frame(_write(tmp_path, "b.csv", "\na,b\n1,2\n\n,\n3,4\n"), "k")
    assert result.frame.collect()["a"].to_list() == [1, 3]
    assert result.blank_rows == 2
    assert result.warnings == ["skipped 2 blank rows"]


def test_null_markers(tmp_path: Path) -> None:
    frame, _ = _read(tmp_path, "n.csv", 'x,y\nNA,a\nN/A,b\nnull,c\nNULL,d\n,e\n"",f\n5,g\n')
    assert frame["x"].to_list() == [None, None, None, None, None, None, 5]


def test_a_giant_field(tmp_path: Path) -> None:
    big = "x" * 300_000  # over the csv module's default 128 KiB field limit
    frame, _ = _read(tmp_path, "g.csv", f"a,b\n1,{big}\n")
    assert frame["b"].to_list() == [big]


# --------------------------------------------------------------------------- encodings


def test_latin1(tmp_path: Path) -> None:
    path = _write(tmp_path, "l.csv", "name;ville\nRenée;Besançon\n", encoding="latin-1")
    assert detect_format(path, "k").encoding == "latin-1"
    frame = read_frame(path, "k").frame.collect()
    assert frame.row(0) == (2, "Renée", "Besançon")


def test_latin1_after_the_sample_falls_back(tmp_path: Path) -> None:
    text = "a,b\n" + "1,plain\n" * (SAMPLE_BYTES // 8 + 10) + "2,café\n"
    result = read_frame(_write(tmp_path, "late.csv", text, encoding="latin-1"), "k")
    assert result.frame.collect()["b"].to_list()[-1] == "café"
    assert result.format.encoding == "latin-1"
    assert any("latin-1" in w for w in result.warnings)


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = _write(tmp_path, "w.csv", "id\tnom\r\n1\tZoë\r\n2\t東京\r\n", encoding="utf-16")
    fmt = detect_format(path, "k")
    assert (fmt.encoding, fmt.delimiter) == ("utf-16", "\t")
    assert read_frame(path, "k").frame.collect()["nom"].to_list() == ["Zoë", "東京"]


@pytest.mark.parametrize("name", ["data.csv.gz", "data.csv", "data"])
def test_gzip_with_and_without_extension(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name, gzip.compress(b"a;b\n1;x\n2;y\n"))
    fmt = detect_format(path, f"k/{name}")
    assert fmt == DetectedFormat("csv", "gzip", ";", "utf-8")
    assert read_frame(path, f"k/{name}").frame.collect()["b"].to_list() == ["x", "y"]


# --------------------------------------------------------------------------- type inference


def test_types_are_inferred_over_the_whole_file(tmp_path: Path) -> None:
    rows = [f"{i},{i},{i},00{i}" for i in range(150)] + ["NA,1.5,abc,007", "7,2,3,4"]
    frame, _ = _read(tmp_path, "wide.csv", "late_na,late_float,late_text,zeros\n" + "\n".join(rows))
    assert frame.schema["late_na"] == pl.Int64
    assert frame["late_na"].null_count() == 1
    assert frame.schema["late_float"] == pl.Float64
    assert frame["late_float"].to_list()[150] == 1.5
    assert frame.schema["late_text"] == pl.String
    assert frame.schema["zeros"] == pl.String  # leading zeros (zip codes) are kept as written
    assert frame["zeros"].to_list()[-2:] == ["007", "4"]


def test_ints_then_na_then_decimal_becomes_float(tmp_path: Path) -> None:
    rows = [str(i) for i in range(150)] + ["NA", "1.5"]
    frame, _ = _read(tmp_path, "f.csv", "v\n" + "\n".join(rows) + "\n")
    assert frame.schema["v"] == pl.Float64
    assert frame["v"].to_list()[148:] == [148.0, 149.0, None, 1.5]


def test_integers_beyond_int64_stay_text(tmp_path: Path) -> None:
    frame, _ = _read(tmp_path, "big.csv", "id\n1\n99999999999999999999\n")
    assert frame["id"].to_list() == ["1", "99999999999999999999"]


# --------------------------------------------------------------------------- JSON and Parquet


def test_ndjson_nested_bad_lines_and_mixed_types(tmp_path: Path) -> None:
    lines = [
        json.dumps({"id": 1, "user": {"name": "Ann", "tags": ["a", "b"]}, "v": 1}),
        "",
        "{not json",
        "[1, 2]",
        json.dumps({"id": 2, "user": None, "v": "two", "": "blank", "__time": "x"}),
        json.dumps({"id": 3, "v": 3.5, "huge": 2**70}),
    ]
    result = read_frame(_write(tmp_path, "e.ndjson", "\n".join(lines) + "\n"), "k/e.ndjson")
    frame = result.frame.collect()
    assert [r.line for r in result.rejected] == [3, 4]
    assert "invalid JSON" in result.rejected[0].reason
    assert "expected a JSON object" in result.rejected[1].reason
    assert frame[LINE_COLUMN].to_list() == [1, 5, 6]
    assert frame.columns == [LINE_COLUMN, "id", "user", "v", "column_4", "time_original", "huge"]
    assert json.loads(frame["user"][0]) == {"name": "Ann", "tags": ["a", "b"]}
    assert frame["v"].to_list() == ["1", "two", "3.5"]  # mixed types become text
    assert frame["huge"].to_list() == [None, None, str(2**70)]


def test_ndjson_gzip_without_extension(tmp_path: Path) -> None:
    path = _write(tmp_path, "blob", gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    assert detect_format(path, "k/blob") == DetectedFormat("ndjson", "gzip", None, "utf-8")
    assert read_frame(path, "k/blob").frame.collect()["a"].to_list() == [1, 2]


def test_parquet_plain_and_gzipped(tmp_path: Path) -> None:
    source = pl.DataFrame({"a b": [1, 2], "a_b": ["x", None]})
    plain = tmp_path / "p.parquet"
    source.write_parquet(plain)
    packed = _write(tmp_path, "p2.parquet.gz", gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        result = read_frame(path, f"k/{path.name}")
        assert result.format.format == "parquet"
        frame = result.frame.collect()
        assert frame.columns == [LINE_COLUMN, "a_b", "a_b_2"]
        assert frame[LINE_COLUMN].to_list() == [1, 2]
        assert frame["a_b_2"].to_list() == ["x", None]


@pytest.mark.parametrize("rows", [1, 2, 3, 100])
def test_csv_batches_give_the_frame_in_bounded_chunks(tmp_path: Path, rows: int) -> None:
    text = (
        'id,text,amount\n1,"two\nlines",1.5\n2,"say ""hi""",NA\n3,"""\n""",7\n'
        '4,plain,\n5,"a,b",2\n6,"ends with quote""",3\n'
    )
    result = read_frame(_write(tmp_path, "q.csv", text), "uploads/q.csv")
    assert result.batches is not None
    batches = list(result.batches(rows))
    assert [b.height for b in batches[:-1]] == [rows] * (len(batches) - 1)
    whole = result.frame.collect()
    assert pl.concat(batches).equals(whole)
    assert whole[LINE_COLUMN].to_list() == [2, 4, 5, 7, 8, 9]
    assert whole["text"].to_list()[:3] == ["two\nlines", 'say "hi"', '"\n"']
    assert whole.schema["amount"] == pl.Float64
