"""Naming rules: Druid-safe column names, dataset names, object keys."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest_pipeline.naming import (
    InvalidDatasetName,
    druid_safe_column_names,
    has_dot_segment,
    resolve_column,
    validate_dataset_name,
)
from ingest_pipeline.validation import validate
from ingest_pipeline.vocabulary import LINE_COLUMN, SOURCE_KEY_COLUMN, TIME_COLUMN, FileRejected


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["a", "a", "a"], ["a", "a_2", "a_3"]),
        (["a", "a", "a_2"], ["a", "a_3", "a_2"]),  # no collision with a later original
        ([" id ", "", "  "], ["id", "column_2", "column_3"]),
        (
            ["__time", "__source_key", "__line"],
            ["time_original", "source_key_original", "line_original"],
        ),
        (
            ["Prix (€)", "e-mail", "a.b", "Größe", "日付"],
            ["Prix", "e_mail", "a_b", "Größe", "日付"],
        ),
        (["_id", "x\ny"], ["_id", "x_y"]),
    ],
)
def test_druid_safe_column_names(names: list[str], expected: list[str]) -> None:
    assert druid_safe_column_names(names) == expected


@given(st.lists(st.text(max_size=8), max_size=12))
def test_druid_safe_column_names_are_unique_nonblank_and_idempotent(names: list[str]) -> None:
    safe = druid_safe_column_names(names)
    assert len(safe) == len(names)
    assert len(set(safe)) == len(safe)
    assert all(name and name not in {TIME_COLUMN, SOURCE_KEY_COLUMN, LINE_COLUMN} for name in safe)
    assert druid_safe_column_names(safe) == safe


@pytest.mark.parametrize("name", ["sales", "Sales-2024", "a_b", "x" * 255])
def test_valid_dataset_names(name: str) -> None:
    assert validate_dataset_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "_x", "a/b", "my sales", "tab\there", "x" * 256])
def test_invalid_dataset_names(name: str) -> None:
    with pytest.raises(InvalidDatasetName, match="A-Z"):
        validate_dataset_name(name)


def test_validate_rejects_a_bad_dataset_name_naming_the_file() -> None:
    with pytest.raises(FileRejected, match="uploads/my sales/x.csv"):
        validate(pl.DataFrame({"a": [1]}), "uploads/my sales/x.csv", "my sales")


@pytest.mark.parametrize("key", ["uploads/ds/../x.csv", "uploads/ds/./x.csv", "../ds/x.csv"])
def test_dot_segments_in_the_key_reject_the_file(key: str) -> None:
    frame = pl.DataFrame({"ts": ["2024-01-01"], "v": [1]})
    with pytest.raises(FileRejected, match=r"'\.\.' path segment") as caught:
        validate(frame, key, "ds")
    assert caught.value.key == key


def test_dots_inside_a_name_are_fine() -> None:
    frame = pl.DataFrame({"ts": ["2024-01-01"], "v": [1]})
    assert validate(frame, "uploads/ds/two..dots.csv", "ds").row_count == 1


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("v", "v"),
        ("Order Date", "Order_Date"),  # the name as uploaded finds the renamed column
        ("__time", "time_original"),
        ("missing", None),
    ],
)
def test_resolve_column(wanted: str, expected: str | None) -> None:
    assert resolve_column(wanted, ["Order_Date", "time_original", "v"]) == expected


@pytest.mark.parametrize(
    ("key", "has_one"),
    [
        ("a/../b.csv", True),
        ("./b.csv", True),
        ("a/.", True),
        ("a/two..dots.csv", False),
        ("a/.hidden/b.csv", False),
        ("a//b.csv", False),
    ],
)
def test_has_dot_segment(key: str, has_one: bool) -> None:
    assert has_dot_segment(key) is has_one
