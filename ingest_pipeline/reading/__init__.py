"""Detect and parse an uploaded file (pure: the caller downloads the S3 object to a local file).

A plain CSV (UTF-8, consistent field count, no quoted line breaks: `layout`, a vectorised
check) goes to Polars as it is; any other CSV, and NDJSON, go through one streaming Python pass
(bounded memory, `normalisation`) that writes a normalised UTF-8 file next to the download.
Either way, one streaming Polars pass writes the CSV as text columns to an Arrow file and infers
the column types over the whole file (`csv_types`); later passes read the Arrow file.

Reading order for a newcomer: `frames.read_frame`, then `detection`, `layout`,
`normalisation`, `csv_types`. Reading never imports validation: both share `vocabulary`
and `naming`.
"""

from ingest_pipeline.reading.detection import SAMPLE_BYTES, DetectedFormat, detect_format
from ingest_pipeline.reading.frames import ReadResult, read_frame

__all__ = ["SAMPLE_BYTES", "DetectedFormat", "ReadResult", "detect_format", "read_frame"]
