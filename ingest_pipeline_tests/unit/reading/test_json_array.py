"""A top-level JSON array of objects (an API dump): read element by element like NDJSON,
each row with the line its element starts on; a broken array is refused with its line."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from ingest_pipeline.reading import read_frame
from ingest_pipeline.reading.json_stream import json_array_elements
from ingest_pipeline.vocabulary import LINE_COLUMN, FileRejected
from ingest_pipeline_tests.unit.reading.helpers import write_upload

KEY = "uploads/d/rows.json"


def elements(text: str, chunk_size: int = 7, max_element: int = 1 << 20) -> list:
    """With a tiny chunk: elements, strings and numbers are cut across chunks all the time."""
    return list(json_array_elements(io.StringIO(text), KEY, chunk_size, max_element))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", []),
        ("  [ ]  \n", []),
        ('[{"a": 1}]', [(1, {"a": 1})]),
        ('[{"a": 1},{"a": 2}]', [(1, {"a": 1}), (1, {"a": 2})]),
        # pretty-printed: each element's first line; a number cut by a chunk is whole
        (
            '[\n  {\n    "n": 1234567890123,\n    "s": "x, y]"\n  },\n  {"n": -0.5e3}\n]\n',
            [(2, {"n": 1234567890123, "s": "x, y]"}), (6, {"n": -500.0})],
        ),
        (
            '[{"t": "a\\nb"},\n{"b": [1, {"c": null}]}]',
            [(1, {"t": "a\nb"}), (2, {"b": [1, {"c": None}]})],
        ),
        ('[1, "x", null]', [(1, 1), (1, "x"), (1, None)]),  # not objects: rejected by rows
    ],
)
def test_elements_and_the_line_each_starts_on(text: str, expected: list) -> None:
    assert elements(text) == expected
    assert elements(text, chunk_size=1 << 20) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[{"a": 1},\n{"a": 2}', "the JSON array is not closed (no ']' at the end) (line 2)"),
        ('[{"a": 1},\n {"a": "x"', "not closed: the file ends inside an element (line 2)"),
        ('[{"a": 1},\n {"a": ', "not closed: the file ends inside an element (line 2)"),
        ('[{"a": 1},\n{"a": 2},]', "invalid JSON: Expecting value (line 2)"),
        (
            '[{"a": 1}\n{"a": 2}]',
            "expected ',' or ']' after an element of the JSON array, found '{' (line 2)",
        ),
        ('[{"a": 1},\n\n{"a": tru}]', "invalid JSON: Expecting value (line 3)"),
        ('[{"a": "unterminated}]', "invalid JSON: Unterminated string starting at"),
        ('[{"a": 1}] [{"b": 2}]', "text after the JSON array's closing ']' (line 1)"),
    ],
)
def test_a_broken_array_is_refused_with_its_line_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(FileRejected) as caught:
        elements(text)
    message = str(caught.value)
    assert KEY in message and problem in message, message
    assert "upload NDJSON" in message


def test_an_element_over_the_bound_is_refused_not_held() -> None:
    text = '[{"a": "' + "x" * 5000 + '"}]'
    with pytest.raises(FileRejected, match="an element over 0 MB or invalid JSON"):
        elements(text, chunk_size=64, max_element=1000)
    assert elements(text, chunk_size=64, max_element=10_000)[0][1]["a"] == "x" * 5000


def test_a_json_array_file_reads_like_ndjson(tmp_path: Path) -> None:
    rows = [
        {"id": 1, "user": {"name": "Ann"}, "when": "2024-01-01T00:00:00+02:00"},
        {},
        [1, 2],
        {"id": 2, "user": None, "when": "2024-01-01T01:00:00+02:00", "extra": True},
    ]
    text = json.dumps(rows, indent=2)
    for name, content in (("a.json", text), ("a.json.gz", gzip.compress(text.encode()))):
        result = read_frame(write_upload(tmp_path, name, content), f"uploads/d/{name}")
        assert result.format.format == "json_array"
        frame = result.frame.collect()
        assert frame.columns == [LINE_COLUMN, "id", "user", "when", "extra"]
        assert frame["id"].to_list() == [1, 2]
        assert json.loads(frame["user"][0]) == {"name": "Ann"}
        # each row's line: where its element starts in the pretty-printed file
        lines = text.splitlines()
        assert [lines[n - 1].strip() for n in frame[LINE_COLUMN].to_list()] == ["{", "{"]
        assert [(r.line, r.reason) for r in result.rejected] == [
            (lines.index("  [") + 1, "expected a JSON object, found a list")
        ]
        assert result.blank_rows == 1
