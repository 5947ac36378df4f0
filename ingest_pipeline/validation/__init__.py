"""Validate a parsed upload and shape it for Druid (pure: no Dagster, no network).

`validate` takes the frame produced by `reading.read_frame` (or any Polars frame), renames columns
to Druid-safe names, finds or synthesises the time column, rejects rows Druid could not ingest,
converts every column to one of Druid's three dimension types and measures the data so the
caller can show a report. Errors that make the whole file unusable raise `FileRejected`.

Reading order for a newcomer: `engine` (the two entry points and the batch loop), `planning`
(whole-file decisions, step by step), `time_choice` (the time column: `time_scoring` ranks the
candidates by their `stats`, `time_reasons` says why), then `timing` and `time_text` (how
values become times), `druid_types`, `report`, `outputs`. What validation found is typed in
`ingest_pipeline.findings`.
"""

from ingest_pipeline.validation.druid_types import to_druid_column
from ingest_pipeline.validation.engine import validate, validate_to_files
from ingest_pipeline.validation.outputs import write_druid_ndjson, write_parquet
from ingest_pipeline.validation.report import ValidationResult, ValidationSummary
from ingest_pipeline.validation.timing import parse_time
from ingest_pipeline.vocabulary import FileRejected, RejectedRow

__all__ = [
    "FileRejected",
    "RejectedRow",
    "ValidationResult",
    "ValidationSummary",
    "parse_time",
    "to_druid_column",
    "validate",
    "validate_to_files",
    "write_druid_ndjson",
    "write_parquet",
]
