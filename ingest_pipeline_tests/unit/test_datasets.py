"""Per-dataset settings read from YAML."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_pipeline.datasets import DatasetConfig, load_dataset_configs


def test_load_dataset_configs(tmp_path: Path) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text(
        "datasets:\n"
        "  sales:\n"
        "    time_column: order_date\n"
        "    time_format: '%d/%m/%Y'\n"
        "    dimensions: [region, amount]\n"
        "    segment_granularity: month\n"
        "    max_rejected_share: 0.01\n"
        "  logs: {}\n"
    )
    configs = load_dataset_configs(path)
    assert configs["sales"] == DatasetConfig(
        "order_date", "%d/%m/%Y", ["region", "amount"], "MONTH", 0.01, 0.5
    )
    assert configs["logs"] == DatasetConfig()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("sales:\n  time_colum: x\n", "unknown setting"),
        ("sales:\n  segment_granularity: fortnight\n", "segment_granularity"),
        ("sales:\n  max_rejected_share: 2\n", "between 0 and 1"),
        ("bad name:\n  time_column: x\n", "not allowed"),
    ],
)
def test_load_dataset_configs_errors(tmp_path: Path, yaml_text: str, message: str) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ValueError, match=message):
        load_dataset_configs(path)
