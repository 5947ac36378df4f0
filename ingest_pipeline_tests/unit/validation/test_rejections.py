"""Rows and files rejected: no rows, ragged rows, the allowed share, oversized values."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.validation import validate
from ingest_pipeline.validation.rejections import too_many_rejected
from ingest_pipeline.vocabulary import FileRejected, Problem
from ingest_pipeline_tests.unit.validation.helpers import (
    KEY,
    assert_streams_the_same,
    lines_to_text,
    read_csv_text,
    validate_csv,
)


def test_header_only_is_rejected_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, "a,b\n")
    assert "uploads/ds/upload.csv" in str(caught.value)
    assert "no data rows" in str(caught.value)


def test_ragged_rows_reject_the_file_by_default(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, "a,b\n1,2\n3\n4,5\n")
    assert caught.value.row == 3
    assert "1 of 3 rows" in str(caught.value)
    assert "max_rejected_share" in str(caught.value)


def test_too_many_rejected_rows_reject_the_file_naming_it_and_its_dataset(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as caught:
        validate_csv(tmp_path, "a,b\n1,2\n3\n4,5\n")
    assert caught.value.key == "uploads/ds/upload.csv"
    assert caught.value.as_problem() == Problem(
        "1 of 3 rows cannot be ingested (allowed share 0): line 3: has 1 fields but the header "
        "has 2",
        "correct those rows and upload the file again, or raise max_rejected_share for dataset "
        "'ds' in the dataset config to skip them",
        line=3,
    )


def test_ragged_rows_are_skipped_and_listed_within_the_allowed_share(tmp_path: Path) -> None:
    result = validate_csv(tmp_path, "a,b\n1,2\n3\n4,5\n", DatasetConfig(max_rejected_share=0.5))
    assert result.row_count == 2
    assert result.frame["a"].to_list() == [1, 4]
    assert [r.line for r in result.rejected] == [3]


def test_all_rows_rejected_is_an_error_even_with_a_generous_share(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="2 of 2 rows"):
        validate_csv(
            tmp_path, "ts,v\nsoon,1\nlater,2\n", DatasetConfig("ts", max_rejected_share=1.0)
        )


def test_a_value_over_max_value_bytes_rejects_the_file_at_its_line(tmp_path: Path) -> None:
    big = "x" * 3_000
    text = lines_to_text(
        ["ts,note,other", "2024-01-01,short,a", f'2024-01-02,"{big}",b', "2024-01-03,ok,c"]
    )
    config = DatasetConfig(max_value_bytes=2_000)
    parsed = read_csv_text(tmp_path, text)
    with pytest.raises(FileRejected) as caught:
        validate(parsed.frame, KEY, "ds", config, rejected=parsed.rejected)
    error = caught.value
    assert (error.row, error.column) == (3, "note")
    assert "3,000 bytes" in str(error) and "max_value_bytes" in str(error) and KEY in str(error)
    assert_streams_the_same(tmp_path, parsed, config, batch_rows=1)  # same error, streamed

    # Leaving the column out with `dimensions` accepts the file; the default limit is 1 MiB.
    assert (
        validate(
            parsed.frame, KEY, "ds", DatasetConfig(max_value_bytes=2_000, dimensions=["other"])
        ).row_count
        == 3
    )
    assert validate(parsed.frame, KEY, "ds").row_count == 3
    with pytest.raises(ValueError, match="max_value_bytes"):
        DatasetConfig(max_value_bytes=0)


@pytest.mark.parametrize(
    ("rejected", "kept", "share", "too_many"),
    [
        (0, 10, 0.0, False),
        (1, 9, 0.0, True),  # the default: any rejected row rejects the file
        (1, 9, 0.1, False),  # exactly the allowed share
        (2, 8, 0.1, True),
        (10, 0, 1.0, True),  # no row left is always an error
    ],
)
def test_too_many_rejected(rejected: int, kept: int, share: float, too_many: bool) -> None:
    config = DatasetConfig(max_rejected_share=share)
    assert too_many_rejected(rejected, kept, rejected + kept, config) is too_many
