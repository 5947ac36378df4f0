"""Plain CSVs go to Polars as they are; everything else takes the careful path. Both read the
same: checked against the csv module (an independent parser), not against the code under test."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.reading import frames, read_frame
from ingest_pipeline.vocabulary import LINE_COLUMN, NULL_MARKERS
from ingest_pipeline_tests.unit.reading.helpers import write_upload


@pytest.fixture
def careful_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files that went through the Python normalisation pass."""
    calls: list[Path] = []
    real = frames.normalise_csv

    def spy(path: Path, *args: object) -> object:
        calls.append(path)
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(frames, "normalise_csv", spy)
    return calls


def oracle(text: str, delimiter: str) -> tuple[list[str], list[tuple[int, list[str | None]]]]:
    """Header and (line, values) of each record, by the csv module; null markers as None."""
    source = io.StringIO(text.removeprefix("\ufeff"), newline="")
    reader = csv.reader(source, delimiter=delimiter)
    header = next(reader)
    rows, previous_end = [], reader.line_num
    for record in reader:
        start, previous_end = previous_end + 1, reader.line_num
        rows.append((start, [None if v in NULL_MARKERS else v for v in record]))
    return header, rows


def as_text(frame: pl.DataFrame, columns: list[str]) -> list[tuple[int, list[str | None]]]:
    texts = frame.select(pl.col(LINE_COLUMN), *[pl.col(c).cast(pl.String) for c in columns]).rows()
    return [(row[0], list(row[1:])) for row in texts]


PLAIN = {
    "lf": "id,name,v\n1,alpha,1.5\n2,beta,NA\n3,,2\n",
    "crlf": "id,name,v\r\n1,alpha,1.5\r\n2,beta,NA\r\n",
    "bom": "\ufeffid,name\n1,x\n2,y\n",
    "no_final_newline": "id,name\n1,x\n2,y",
    "quoted": 'id,note\n1,"say ""hi"", ok"\n2,"a,b"\n3,""\n4,"NA"\n',
    "semicolon": "id;note\n1;a,b\n2;c\n",
    "tab": "id\tnote\n1\ta b\n2\tc\n",
    "pipe": "id|note\n1|a\n2|\n",
    "unicode": "id,ville\n1,Zürich\n2,東京\n",
    "spaces": "id,note\n1, padded \n2,x\n",
    "giant": "id,big\n1," + "x" * 300_000 + "\n",
    "one_column": "v\n1\n2\n",
}

CAREFUL = {
    "quoted_newline": 'id,note\n1,"two\nlines"\n2,x\n',
    "ragged": "a,b,c\n1,2,3\n4,5\n",
    "blank_line": "a,b\n1,2\n\n3,4\n",
    "empty_fields_line": "a,b\n1,2\n,\n3,4\n",
    "lone_cr": "a,b\n1,x\ry\n2,z\n",
    "stray_quote": 'a,b\n1,ab"c\n2,d\n',
    "nul_later": "a,b\n" + "1,x\n" * 30_000 + "2,y\x00z\n",  # after detection's sample
    "header_only": "a,b\n",
    "blank_before_header": "\na,b\n1,2\n",
    "unclosed_quote": 'a,b\n1,"x\n2,y\n',
}


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_csv_skips_normalisation_and_reads_as_the_csv_module(
    tmp_path: Path, careful_calls: list[Path], name: str
) -> None:
    text = PLAIN[name]
    delimiter = {"semicolon": ";", "tab": "\t", "pipe": "|"}.get(name, ",")
    key = f"uploads/{name}.{'tsv' if name == 'tab' else 'csv'}"
    result = read_frame(write_upload(tmp_path, key.split("/")[1], text), key)
    assert careful_calls == [], "a plain file should go to Polars as it is"
    header, rows = oracle(text, delimiter)
    frame = result.frame.collect()
    assert frame.columns == [LINE_COLUMN, *header]
    assert result.rejected == [] and result.blank_rows == 0
    got = as_text(frame, header)
    # numbers may be typed: compare as numbers where the oracle's text is numeric
    assert [line for line, _ in got] == [line for line, _ in rows]
    for (_, values), (_, expected) in zip(got, rows, strict=True):
        for value, want in zip(values, expected, strict=True):
            if want is not None and value is not None and value != want:
                assert float(value) == float(want)
            else:
                assert value == want
    # and the careful path reads the very same frame
    careful = frames._read_csv(
        tmp_path / key.split("/")[1], key, result.format, tmp_path, careful=True
    )
    assert careful.frame.collect().equals(frame)


#: What the careful path reads from each: (rows kept, lines rejected, blank lines skipped).
CAREFUL_READS: dict[str, tuple[int, list[int], int]] = {
    "quoted_newline": (2, [], 0),
    "ragged": (1, [3], 0),  # "4,5": 2 fields under a 3-field header
    "blank_line": (2, [], 1),
    "empty_fields_line": (2, [], 1),  # "," is a blank row
    "lone_cr": (2, [3], 0),  # a lone CR ends a record, as in the csv module: "y" is ragged
    "stray_quote": (2, [], 0),
    "nul_later": (30_001, [], 0),
    "header_only": (0, [], 0),
    "blank_before_header": (1, [], 0),
    "unclosed_quote": (1, [], 0),  # the quote runs to the end of the file, as in csv
}


@pytest.mark.parametrize("name", sorted(CAREFUL))
def test_other_csvs_take_the_careful_path(
    tmp_path: Path, careful_calls: list[Path], name: str
) -> None:
    path = write_upload(tmp_path, f"{name}.csv", CAREFUL[name])
    result = read_frame(path, f"uploads/{name}.csv")
    assert careful_calls == [path]
    rows, rejected, blank = CAREFUL_READS[name]
    assert result.frame.collect().height == rows
    assert [r.line for r in result.rejected] == rejected
    assert result.blank_rows == blank


def test_plain_large_file_line_numbers_and_values_match_python(
    tmp_path: Path, careful_calls: list[Path]
) -> None:
    lines = ["ts,n,label"] + [
        f"2024-01-01T00:00:{i % 60:02d}Z,{i},{'NA' if i % 7 == 0 else f'l{i % 13}'}"
        for i in range(30_000)
    ]
    path = write_upload(tmp_path, "big.csv", "\r\n".join(lines) + "\r\n")
    result = read_frame(path, "uploads/big.csv")
    assert careful_calls == []
    frame = result.frame.collect()
    assert frame.schema["n"] == pl.Int64
    assert frame[LINE_COLUMN].to_list() == list(range(2, 30_002))
    assert frame["n"].to_list() == list(range(30_000))
    assert frame["label"].null_count() == len(range(0, 30_000, 7))
    assert result.batches is not None
    assert pl.concat(list(result.batches(4_096))).equals(frame)
