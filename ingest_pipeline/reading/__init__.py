"""Detect and parse an uploaded file (pure: the caller downloads the S3 object to a local file).

CSV and NDJSON go through one streaming Python pass (bounded memory, `normalisation`) before
Polars sees them; it writes a normalised UTF-8 file next to the download, which Polars then
scans lazily. Column types of a CSV are inferred over the whole file (`csv_types`).

Reading order for a newcomer: `frames.read_frame`, then `detection`, `normalisation`,
`csv_types`. Reading never imports validation: both share `vocabulary` and `naming`.
"""

from ingest_pipeline.reading.detection import SAMPLE_BYTES, DetectedFormat, detect_format
from ingest_pipeline.reading.frames import ReadResult, read_frame

__all__ = ["SAMPLE_BYTES", "DetectedFormat", "ReadResult", "detect_format", "read_frame"]
