"""One JSON object wrapping the records (an API's `{"meta": {...}, "data": [...]}`), pretty-
printed or on one line: the records are the rows, streamed like a JSON array's elements, and
what else the object holds is named; two arrays of records, or none, are refused clearly."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ingest_pipeline.reading import normalisation, read_frame
from ingest_pipeline.reading.json_stream import json_wrapped_records
from ingest_pipeline.vocabulary import LINE_COLUMN, FileRejected
from ingest_pipeline_tests.unit.reading.helpers import write_upload

KEY = "uploads/d/api.json"
ROWS = [{"ts": f"2024-03-01T{h:02d}:00:00Z", "v": h, "tags": ["a", "b"]} for h in range(5)]
DOCUMENT = {"meta": {"count": 5, "pages": [1, 2]}, "data": ROWS, "next": None}


def records(text: str, chunk_size: int = 5) -> tuple[list, list[str]]:
    """With a tiny chunk: names, values and elements cut across chunks all the time."""
    notes: list[str] = []
    found = list(json_wrapped_records(io.StringIO(text), KEY, notes, chunk_size, 1 << 20))
    return found, notes


@pytest.mark.parametrize("indent", [None, 2])
def test_the_wrapped_records_are_the_rows_and_the_rest_is_named(indent: int | None) -> None:
    found, notes = records(json.dumps(DOCUMENT, indent=indent))
    assert [value for _, value in found] == ROWS
    assert notes == [
        "rows from the JSON object's 'data' array; its other members are not rows: meta, next"
    ]


def test_each_record_keeps_the_line_it_starts_on() -> None:
    found, _ = records(json.dumps(DOCUMENT, indent=2))
    text_lines = json.dumps(DOCUMENT, indent=2).splitlines()
    assert [text_lines[line - 1].strip() for line, _ in found] == ["{"] * 5
    assert [line for line, _ in found] == sorted({line for line, _ in found})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"a": [{"x": 1}], "b": [{"y": 2}]}', "arrays of records under 'a' and 'b'"),
        ('{"meta": {"count": 0}, "data": []}', "holds no array of records"),
        ('{"data": [{"x": 1}]} {"more": 1}', "text after the JSON object's closing '}'"),
        ('{"data": [{"x": 1}] "next": 2}', "expected ',' or '}'"),
        ('{"data": [{"x": 1}]', "expected ',' or '}'"),
    ],
)
def test_an_unclear_or_broken_object_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(FileRejected, match=problem):
        records(text)


def test_a_pretty_printed_api_dump_reads_as_its_records(tmp_path: Path) -> None:
    path = write_upload(tmp_path, "api.json", json.dumps(DOCUMENT, indent=2))
    result = read_frame(path, KEY)
    assert result.format.format == "json_object"
    frame = result.frame.collect()
    assert frame["v"].to_list() == [0, 1, 2, 3, 4]
    assert frame["tags"].to_list() == ['["a","b"]'] * 5  # nested values as JSON text
    assert frame[LINE_COLUMN].to_list()[0] == 10  # meta takes lines 2-8, "data": [ line 9
    assert result.warnings[0].startswith("rows from the JSON object's 'data' array")


@pytest.mark.parametrize(
    "text",
    [
        # NDJSON whose objects hold an array of objects: each line is a row
        '{"order": 1, "items": [{"sku": "a"}]}\n{"order": 2, "items": [{"sku": "b"}]}\n',
        # one object alone without records: one row
        '{"order": 1, "total": 5}\n',
    ],
)
def test_ndjson_stays_one_row_a_line(tmp_path: Path, text: str) -> None:
    result = read_frame(write_upload(tmp_path, "rows.json", text), KEY)
    assert result.format.format == "ndjson"
    assert result.frame.collect()["order"].to_list() == [1, 2][: text.count("\n")]


def test_a_minified_dump_longer_than_the_probe_is_read_as_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(normalisation, "WRAP_PROBE", 64)
    path = write_upload(tmp_path, "api.json", json.dumps(DOCUMENT) + "\n")
    result = read_frame(path, KEY)
    assert result.format.format == "json_object"
    assert result.frame.collect()["v"].to_list() == [0, 1, 2, 3, 4]


def test_ndjson_with_a_first_line_longer_than_the_probe_stays_ndjson(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(normalisation, "WRAP_PROBE", 64)
    lines = [json.dumps({"order": 1, "note": "x" * 200}), json.dumps({"order": 2})]
    result = read_frame(write_upload(tmp_path, "rows.json", "\n".join(lines) + "\n"), KEY)
    assert result.format.format == "ndjson"
    assert result.frame.collect()["order"].to_list() == [1, 2]
