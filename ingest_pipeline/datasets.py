"""Per-dataset settings: `DatasetConfig` and the YAML file they are read from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path

import yaml

from ingest_pipeline.naming import validate_dataset_name
from ingest_pipeline.vocabulary import SEGMENT_GRANULARITIES


class ColumnsContract(StrEnum):
    """What a file's columns that the datasource does not have yet become."""

    EVOLVE = "evolve"  # added to the datasource
    FREEZE = "freeze"  # the file is rejected
    DISCARD = "discard"  # dropped from the file's rows, the rest ingested


class TypesContract(StrEnum):
    """What a value that contradicts its column's type in the datasource does."""

    EVOLVE = "evolve"  # the file's type is stored as it is (Druid decides what SQL shows)
    FREEZE = "freeze"  # the file is rejected, naming the column, line and value
    DISCARD_ROW = "discard_row"  # the row is left out and reported; the rest ingested


class DeleteMode(StrEnum):
    """What an upload deleted from the bucket does to its rows in Druid."""

    KEEP = "keep"  # they stay; nothing runs (the sensor logs the delete once)
    RETRACT = "retract"  # one replace task rewrites the file's time chunks without them


@dataclass(frozen=True)
class DatasetConfig:
    """Per-dataset settings (from the YAML file read by `load_dataset_configs`)."""

    time_column: str | None = None
    # strftime-style pattern (e.g. "%d/%m/%Y %H:%M"), or "posix" (epoch seconds) / "millis".
    time_format: str | None = None
    dimensions: list[str] | None = None  # keep only these columns (plus __time, __source_key)
    segment_granularity: str | None = None
    max_rejected_share: float = 0.0  # default: any bad row rejects the file, nothing is lost
    null_ratio_warn: float = 0.5
    # Longest text value accepted (UTF-8 bytes). Druid keeps every distinct string of a column
    # in a dictionary loaded into memory for queries; a multi-megabyte value is almost always a
    # mistake (a whole document, a broken quote swallowing the file) and slows every query.
    max_value_bytes: int = 1_048_576
    # Numbers written with a decimal comma and thousands dots (1.639,68) in this dataset's CSVs.
    # Without it, only a ";" file's columns whose every value is like 1639,68 are numbers.
    decimal_comma: bool = False
    # The schema contract against the datasource's current columns (read from Druid): see
    # ColumnsContract and TypesContract. A new datasource has nothing to hold a file to.
    columns: ColumnsContract = ColumnsContract.EVOLVE
    types: TypesContract = TypesContract.EVOLVE
    # A deleted upload's rows: kept (default) or retracted from Druid (see DeleteMode).
    on_delete: DeleteMode = DeleteMode.KEEP

    def __post_init__(self) -> None:
        modes_of: tuple[tuple[str, type[StrEnum]], ...] = (
            ("columns", ColumnsContract),
            ("types", TypesContract),
            ("on_delete", DeleteMode),
        )
        for name, modes in modes_of:
            value = getattr(self, name)
            if value not in {mode.value for mode in modes}:
                raise ValueError(
                    f"{name} must be one of {', '.join(m.value for m in modes)}, got {value!r}"
                )
            object.__setattr__(self, name, modes(value))
        for name in ("max_rejected_share", "null_ratio_warn"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
        if self.segment_granularity is not None:
            upper = self.segment_granularity.upper()
            if upper not in SEGMENT_GRANULARITIES:
                raise ValueError(
                    f"segment_granularity must be one of {', '.join(SEGMENT_GRANULARITIES)}, "
                    f"got {self.segment_granularity!r}"
                )
            object.__setattr__(self, "segment_granularity", upper)
        if not isinstance(self.max_value_bytes, int) or self.max_value_bytes < 1:
            raise ValueError(
                f"max_value_bytes must be a positive integer, got {self.max_value_bytes!r}"
            )
        if not isinstance(self.decimal_comma, bool):
            raise ValueError(f"decimal_comma must be true or false, got {self.decimal_comma!r}")
        if self.dimensions is not None and not all(isinstance(d, str) for d in self.dimensions):
            raise ValueError(f"dimensions must be a list of column names, got {self.dimensions!r}")


def load_dataset_configs(path: str | Path) -> dict[str, DatasetConfig]:
    """Read `{dataset: {setting: value}}` (optionally under a top-level `datasets:` key)."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if isinstance(document, Mapping) and set(document) == {"datasets"}:
        document = document["datasets"] or {}
    if not isinstance(document, Mapping):
        raise ValueError(f"{path}: expected a mapping of dataset name to settings")
    known = {f.name for f in fields(DatasetConfig)}
    configs: dict[str, DatasetConfig] = {}
    for dataset, settings in document.items():
        validate_dataset_name(str(dataset))
        settings = settings or {}
        if not isinstance(settings, Mapping):
            raise ValueError(f"{path}: settings for {dataset!r} must be a mapping")
        unknown = set(settings) - known
        if unknown:
            raise ValueError(
                f"{path}: unknown setting(s) {sorted(unknown)} for {dataset!r}; "
                f"known settings are {sorted(known)}"
            )
        configs[str(dataset)] = DatasetConfig(**settings)
    return configs
